"""Every document the service answers parses as the SDK's wire model of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from ibmq_async.local import LocalService
from ibmq_async.models import (
    BackendJobLimit,
    BackendProperties,
    BackendReservation,
    JobIdRecord,
    JobRecord,
    JobStatusResponse,
    LoginResponse,
    NetworkHubs,
    PulseBackendConfiguration,
    PulseDefaults,
    QueueStatusResponse,
    Result,
    UserInfo,
    VersionInfo,
    parse_backend_configuration,
)

SIM = "ibmq_qasm_simulator"


@pytest.fixture(scope="module")
def api(local_service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(local_service)


def test_account_documents(local_service: LocalService, api: Any) -> None:
    VersionInfo.model_validate(httpx.get(local_service.url + "/version").json())
    login = httpx.post(
        local_service.url + "/users/loginWithToken", json={"apiToken": local_service.token}
    )
    assert LoginResponse.model_validate(login.json()).user_id == "local-user"
    info = UserInfo.model_validate(api.get("/users/me").json())
    assert info.urls.http == local_service.url
    hubs = NetworkHubs.model_validate(api.get("/Network").json())
    assert [hgp for hub in hubs.root for hgp in hub.hgps()] == [("ibm-q", "open", "main", True)]


def test_backend_documents(api: Any) -> None:
    configurations = api.get(api.path("/devices/v/1")).json()
    parsed = {c["backend_name"]: parse_backend_configuration(c) for c in configurations}
    assert isinstance(parsed["ibmq_lima"], PulseBackendConfiguration)
    assert parsed["ibm_washington"].n_qubits == 127
    for name, configuration in parsed.items():
        status = api.get(api.path(f"/devices/{name}/queue/status")).json()
        QueueStatusResponse.model_validate(status)
        BackendJobLimit.model_validate(api.get(api.path(f"/devices/{name}/jobsLimit")).json())
        properties = api.get(api.path(f"/devices/{name}/properties")).json()
        if configuration.simulator:
            assert properties == {}
        else:
            assert BackendProperties.model_validate(properties).backend_name == name
    PulseDefaults.model_validate(api.get(api.path("/devices/ibmq_lima/defaults")).json())


def test_job_documents(local_service: LocalService, api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.bell(shots=40, memory=True), name="models", tags=["m"])
    JobRecord.model_validate(job)
    api.wait(job["id"])
    record = JobRecord.model_validate(api.job(job["id"]))
    assert record.backend_name == SIM
    assert record.name == "models"
    JobStatusResponse.model_validate(api.status(job["id"]))
    listed = api.list_jobs({"where": {"tags": "m"}}).json()
    assert [JobRecord.model_validate(item).job_id for item in listed] == [job["id"]]
    ids = api.list_jobs(
        {"where": {"tags": "m"}, "fields": {"id": True, "creationDate": True}}, ids_only=True
    ).json()
    assert [JobIdRecord.model_validate(item).job_id for item in ids] == [job["id"]]
    result = Result.model_validate(api.result(job["id"]))
    counts = result.get_counts(0)
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 40
    assert len(result.get_memory(0)) == 40


def test_reservation_documents(local_service: LocalService, api: Any) -> None:
    start = datetime.now(timezone.utc) + timedelta(days=30)
    local_service.add_reservation("ibmq_vigo", start, start + timedelta(minutes=30))
    reservations = api.get("/Network/devices/ibmq_vigo/bookings/v2").json()
    parsed = [BackendReservation.model_validate(item) for item in reservations]
    assert parsed[-1].duration == 30
    assert parsed[-1].project == "main"
