"""Backends: configurations, properties and their history, defaults, status, reservations."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ibmq_async.local import LocalService

UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
DEVICES = ["ibmq_vigo", "ibmq_lima", "ibmq_montreal", "ibm_washington", "ibm_fez"]
SIM = "ibmq_qasm_simulator"


@pytest.fixture(scope="module")
def api(local_service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(local_service)


def all_dates(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("date", "last_update_date")]
        return found + [d for v in value.values() for d in all_dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in all_dates(v)]
    return []


def test_the_default_service_lists_every_bundled_device_and_the_simulator(api: Any) -> None:
    configurations = api.get(api.path("/devices/v/1")).json()
    assert [c["backend_name"] for c in configurations] == [*DEVICES, SIM]
    by_name = {c["backend_name"]: c for c in configurations}
    assert by_name["ibm_washington"]["n_qubits"] == 127
    for configuration in configurations:
        assert UTC_Z.match(configuration["online_date"]), configuration["backend_name"]
        assert "open_pulse" in configuration
        assert "coupling_map" in configuration
        assert configuration["basis_gates"]
    simulator = by_name[SIM]
    assert simulator["simulator"] is True
    assert simulator["coupling_map"] is None
    assert by_name["ibmq_vigo"]["simulator"] is False


def test_properties_are_in_utc_z(api: Any) -> None:
    for name in DEVICES:
        response = api.get(api.path(f"/devices/{name}/properties"), params={"version": 1})
        properties = response.json()
        assert properties["backend_name"] == name
        dates = all_dates(properties)
        assert dates
        assert all(UTC_Z.match(date) for date in dates), name
    # vigo's snapshot says 2021-01-20T03:30:10-05:00
    vigo = api.get(api.path("/devices/ibmq_vigo/properties")).json()
    assert vigo["last_update_date"] == "2021-01-20T08:30:10Z"


def test_the_simulator_has_no_properties(api: Any) -> None:
    assert api.get(api.path(f"/devices/{SIM}/properties")).json() == {}


def properties_before(api: Any, name: str, when: str) -> Any:
    query = json.dumps({"where": {"last_update_date": {"lt": when}}})
    response = api.get(
        api.path(f"/devices/{name}/properties"), params={"version": 1, "filter": query}
    )
    assert response.status_code == 200
    return response.json()


def test_the_properties_history_answers_the_calibration_in_force(api: Any) -> None:
    latest = api.get(api.path("/devices/ibmq_vigo/properties")).json()
    assert properties_before(api, "ibmq_vigo", "2030-01-01T00:00:00+00:00") == latest
    day_before = properties_before(api, "ibmq_vigo", "2021-01-20T08:30:10+00:00")
    assert day_before["last_update_date"] == "2021-01-19T08:30:10Z"
    assert day_before["backend_name"] == "ibmq_vigo"
    assert day_before["qubits"][0][0]["value"] != latest["qubits"][0][0]["value"]
    assert all(date < "2021-01-20" for date in all_dates(day_before))
    older = properties_before(api, "ibmq_vigo", "2021-01-16T12:00:00Z")
    assert older["last_update_date"] == "2021-01-16T08:30:10Z"
    assert properties_before(api, "ibmq_vigo", "2000-01-01T00:00:00Z") == {}


def test_recalibrations_join_the_history(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    service = service_factory()
    api = service_api(service)
    when = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    stamp = service.recalibrate("ibmq_lima", at=when)
    assert stamp == "2024-05-01T12:00:00Z"
    latest = api.get(api.path("/devices/ibmq_lima/properties")).json()
    assert latest["last_update_date"] == stamp
    assert set(all_dates(latest)) == {stamp}
    before = properties_before(api, "ibmq_lima", "2024-05-01T11:00:00Z")
    assert before["last_update_date"] < stamp
    with pytest.raises(ValueError, match="simulator"):
        service.recalibrate(SIM)


def test_pulse_defaults_or_an_empty_object(api: Any) -> None:
    lima = api.get(api.path("/devices/ibmq_lima/defaults"))
    assert lima.status_code == 200
    assert {"qubit_freq_est", "meas_freq_est", "pulse_library", "cmd_def"} <= set(lima.json())
    for name in ("ibmq_vigo", "ibm_fez", SIM):
        response = api.get(api.path(f"/devices/{name}/defaults"))
        assert (response.status_code, response.json()) == (200, {})


def test_queue_status_and_job_limit(api: Any) -> None:
    status = api.get(api.path("/devices/ibmq_vigo/queue/status")).json()
    assert status == {
        "state": True,
        "status": "active",
        "lengthQueue": 0,
        "backend_version": "1.3.6",
    }
    assert api.get(api.path("/devices/ibmq_vigo/jobsLimit")).json()["maximumJobs"] == 5
    assert api.get(api.path(f"/devices/{SIM}/jobsLimit")).json() == {
        "maximumJobs": -1,
        "runningJobs": 0,
    }


@pytest.mark.parametrize(
    "suffix", ["properties", "defaults", "queue/status", "jobsLimit", "bookings/v2"]
)
def test_an_unknown_backend_is_a_404(api: Any, suffix: str) -> None:
    if suffix == "bookings/v2":
        response = api.get(f"/Network/devices/ibmq_nowhere/{suffix}")
    else:
        response = api.get(api.path(f"/devices/ibmq_nowhere/{suffix}"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 2000


def test_reservations_in_a_window(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    service = service_factory()
    api = service_api(service)
    start = datetime(2031, 3, 1, 10, tzinfo=timezone.utc)
    made = service.add_reservation("ibmq_vigo", start, start + timedelta(hours=2))
    service.add_reservation("ibmq_lima", start, start + timedelta(hours=1), mode="fairshare")
    service.add_reservation(
        "ibmq_vigo", start, start + timedelta(hours=1), project="other/hub/project"
    )

    def window(**params: str) -> list[Any]:
        response = api.get("/Network/devices/ibmq_vigo/bookings/v2", params=params)
        assert response.status_code == 200
        reservations: list[Any] = response.json()
        return reservations

    everything = window()
    assert [r["id"] for r in everything] == [made["id"]]
    reservation = everything[0]
    assert reservation["backendName"] == "ibmq_vigo"
    assert reservation["initialDate"] == "2031-03-01T10:00:00Z"
    assert reservation["endDate"] == "2031-03-01T12:00:00Z"
    assert reservation["mode"] == "dedicated"
    assert reservation["hubInfo"]["project"] == {"name": "main"}
    inside = window(initialDate="2031-03-01T11:00:00+00:00", endDate="2031-03-01T11:30:00+00:00")
    assert [r["id"] for r in inside] == [made["id"]]
    assert window(initialDate="2031-03-01T12:00:00+00:00") == []
    assert window(endDate="2031-03-01T10:00:00+00:00") == []
    assert window(initialDate="2031-02-01T00:00:00Z", endDate="2031-03-01T10:30:00Z") != []
    mine = api.get("/Network/bookings/v2").json()
    assert {r["backendName"] for r in mine} == {"ibmq_vigo", "ibmq_lima"}
    bad = api.get("/Network/devices/ibmq_vigo/bookings/v2", params={"initialDate": "soon"})
    assert bad.status_code == 400


def test_configured_reservations(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], tmp_path: Any
) -> None:
    path = tmp_path / "service.toml"
    path.write_text(
        "\n".join(
            [
                "[[users]]",
                'token = "toml-token"',
                "[[backends]]",
                'name = "ibmq_vigo"',
                'device = "vigo"',
                "[[reservations]]",
                'backend = "ibmq_vigo"',
                "start = 2032-01-01T00:00:00Z",
                'end = "2032-01-01T01:30:00+00:00"',
                'mode = "fairshare"',
            ]
        )
    )
    service = service_factory(str(path))
    api = service_api(service, "toml-token")
    [reservation] = api.get("/Network/devices/ibmq_vigo/bookings/v2").json()
    assert reservation["initialDate"] == "2032-01-01T00:00:00Z"
    assert reservation["endDate"] == "2032-01-01T01:30:00Z"
    assert reservation["mode"] == "fairshare"
