"""What the classic API carried and the local service now serves as IBM did: ``input_allowed``
in configurations, ``summaryData.summary`` on job records (reachable by filters), listings
without ``timePerStep``, and no counts for an experiment that measured nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

SIM = "ibmq_qasm_simulator"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token="fidelity-token")],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name="ibmq_vigo", device="vigo"),
            BackendConfig(name="ibm_washington", device="washington"),
            BackendConfig(name="jobs_only", device="lima", input_allowed=["job"]),
        ],
        db=tmp_path_factory.mktemp("fidelity") / "service.db",
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(service)


def _three_qubit_qobj(qobjs: Any, name: str) -> dict[str, Any]:
    experiment = qobjs.experiment(
        [
            {"name": "h", "qubits": [0]},
            {"name": "measure", "qubits": [0], "memory": [0]},
            {"name": "measure", "qubits": [1], "memory": [1]},
            {"name": "measure", "qubits": [2], "memory": [2]},
        ],
        name=name,
        n_qubits=3,
    )
    qobj: dict[str, Any] = qobjs.qobj([experiment, experiment], shots=64, n_qubits=3)
    qobj["config"]["memory_slots"] = 3
    return qobj


def test_every_backend_configuration_says_what_input_it_allows(api: Any) -> None:
    listed = api.get(api.path("/devices/v/1")).json()
    allowed = {item["backend_name"]: item.get("input_allowed") for item in listed}
    assert allowed == {
        SIM: ["job", "runtime"],
        "ibmq_vigo": ["job", "runtime"],  # the snapshot has none: IBM's default
        "ibm_washington": ["job"],  # the snapshot's own
        "jobs_only": ["job"],  # configured
    }


def test_a_job_record_carries_the_summary_of_its_qobj(api: Any, qobjs: Any) -> None:
    job = api.submit(_three_qubit_qobj(qobjs, "three"))
    api.wait(job["id"])
    record = api.job(job["id"])
    summary = record["summaryData"]["summary"]
    assert summary["qobj_config"] == {
        "shots": 64,
        "memory": False,
        "n_qubits": 3,
        "memory_slots": 3,
        "type": "QASM",
    }
    assert summary["num_circuits"] == 2
    assert summary["instructions_per_circuit"] == [4, 4]
    assert summary["gates_executed"] == 2  # the two h gates; measurements are not gates
    assert summary["partial_validation"] is False
    assert record["summaryData"]["size"]["input"] > 0


def test_a_filter_reaches_the_summary_and_a_listing_leaves_it_out(api: Any, qobjs: Any) -> None:
    three = api.submit(_three_qubit_qobj(qobjs, "three"))
    two = api.submit(qobjs.bell(shots=8))
    api.wait(three["id"])
    api.wait(two["id"])
    where = {"summaryData.summary.qobj_config.n_qubits": 3, "id": {"inq": [three["id"], two["id"]]}}
    for ids_only in (False, True):
        listed = api.list_jobs({"where": where}, ids_only=ids_only).json()
        assert [job["id"] for job in listed] == [three["id"]]
        (job,) = listed
        assert "timePerStep" not in job  # IBM's listings had none: clients refresh
        assert "summary" not in job.get("summaryData", {})
        assert job["summaryData"]["size"]["input"] > 0
        assert job["status"] == "COMPLETED"
    record = api.job(three["id"])
    assert "COMPLETED" in record["timePerStep"]
    assert record["summaryData"]["summary"]["num_circuits"] == 2


def test_the_summary_survives_a_restart(service: LocalService, api: Any, qobjs: Any) -> None:
    job = api.submit(_three_qubit_qobj(qobjs, "kept"))
    api.wait(job["id"])
    before = api.job(job["id"])["summaryData"]
    service.restart()
    api.access_token = api.login()
    assert api.job(job["id"])["summaryData"] == before


def test_an_experiment_that_measures_nothing_has_no_counts(api: Any, qobjs: Any) -> None:
    unmeasured = qobjs.experiment([{"name": "h", "qubits": [0]}], name="nothing", n_qubits=2)
    no_measure_with_slots = qobjs.experiment(
        [{"name": "x", "qubits": [0]}], name="slots", n_qubits=1, memory_slots=1
    )
    measured = qobjs.experiment(
        [{"name": "x", "qubits": [0]}, {"name": "measure", "qubits": [0], "memory": [0]}],
        name="measured",
        n_qubits=1,
    )
    for memory in (False, True):
        qobj = qobjs.qobj([unmeasured, no_measure_with_slots, measured], shots=20, memory=memory)
        result = api.run(qobj)
        assert result["success"] is True
        nothing, slots, counted = result["results"]
        assert nothing["success"] is True
        assert nothing["data"] == {}  # not {"counts": {"0x0": 20}}: nothing was measured
        assert slots["data"] == {}
        assert counted["data"]["counts"] == {"0x1": 20}
        assert ("memory" in counted["data"]) is memory


def test_a_refused_token_says_so(service: LocalService, tmp_path: Path) -> None:
    import httpx

    answer = httpx.post(service.url + "/users/loginWithToken", json={"apiToken": "wrong"})
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == 3446
    assert "no user of this service has this API token" in error["message"]
    with LocalService(LocalServiceConfig(db=tmp_path / "default.db")) as default:
        answer = httpx.post(default.url + "/users/loginWithToken", json={"apiToken": "wrong"})
    assert answer.status_code == 401
    assert "changes at every start" in answer.json()["error"]["message"]
