"""The job life cycle of the local service, over plain HTTP: submit → run on Aer → result."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

SIM = "ibmq_qasm_simulator"
VIGO = "ibmq_vigo"
STRICT = "ibmq_lima"
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token="jobs-token")],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=VIGO, device="vigo", max_jobs=2, paused=True),
            BackendConfig(name=STRICT, device="lima", strict=True),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture
def api(service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(service)


def test_a_bell_pair_gives_only_00_and_11(api: Any, qobjs: Any) -> None:
    result = api.run(qobjs.bell(shots=200))
    assert result["success"] is True
    assert result["status"] == "COMPLETED"
    [experiment] = result["results"]
    counts = experiment["data"]["counts"]
    assert set(counts) <= {"0x0", "0x3"}
    assert sum(counts.values()) == 200
    assert experiment["shots"] == 200
    assert experiment["success"] is True
    assert experiment["meas_level"] == 2
    assert "memory" not in experiment["data"]


def test_the_result_copies_the_headers_and_names_the_job(api: Any, qobjs: Any) -> None:
    qobj = qobjs.bell(shots=10)
    qobj["header"]["custom"] = {"anything": [1, 2]}
    job = api.submit(qobj)
    api.wait(job["id"])
    result = api.result(job["id"])
    assert result["header"] == qobj["header"]
    assert result["results"][0]["header"] == qobj["experiments"][0]["header"]
    assert result["job_id"] == job["id"]
    assert result["qobj_id"] == qobj["qobj_id"]
    assert result["backend_name"] == SIM
    assert UTC_Z.match(result["date"])


def test_a_seed_gives_reproducible_counts_and_memory(api: Any, qobjs: Any) -> None:
    first = api.run(qobjs.bell(shots=300, seed_simulator=1234, memory=True))
    second = api.run(qobjs.bell(shots=300, seed_simulator=1234, memory=True))
    other = api.run(qobjs.bell(shots=300, seed_simulator=99, memory=True))
    data = first["results"][0]["data"]
    assert data == second["results"][0]["data"]
    assert data["memory"] != other["results"][0]["data"]["memory"]
    assert first["results"][0]["seed_simulator"] == 1234


def test_memory_is_returned_when_asked(api: Any, qobjs: Any) -> None:
    result = api.run(qobjs.bell(shots=50, memory=True))
    data = result["results"][0]["data"]
    assert len(data["memory"]) == 50
    assert set(data["memory"]) <= {"0x0", "0x3"}
    for key, count in data["counts"].items():
        assert data["memory"].count(key) == count


def test_two_classical_registers(api: Any, qobjs: Any) -> None:
    # q0 -> c0[0], q1 (flipped) -> c1[0], q2 (flipped) -> c1[1]
    experiment = qobjs.experiment(
        [
            {"name": "x", "qubits": [1]},
            {"name": "x", "qubits": [2]},
            {"name": "measure", "qubits": [0], "memory": [0]},
            {"name": "measure", "qubits": [1], "memory": [1]},
            {"name": "measure", "qubits": [2], "memory": [2]},
        ],
        n_qubits=3,
        memory_slots=3,
        creg_sizes=[["c0", 1], ["c1", 2]],
    )
    result = api.run(qobjs.qobj([experiment], shots=20))
    entry = result["results"][0]
    assert entry["data"]["counts"] == {"0x6": 20}
    assert entry["header"]["creg_sizes"] == [["c0", 1], ["c1", 2]]


def test_several_experiments_and_per_experiment_config(api: Any, qobjs: Any) -> None:
    zero = qobjs.experiment(
        [{"name": "measure", "qubits": [0], "memory": [0]}], name="zero", n_qubits=1
    )
    one = qobjs.experiment(
        [{"name": "x", "qubits": [0]}, {"name": "measure", "qubits": [0], "memory": [0]}],
        name="one",
        n_qubits=1,
        config={"shots": 7},
    )
    result = api.run(qobjs.qobj([zero, one], shots=30))
    first, second = result["results"]
    assert (first["header"]["name"], first["data"]["counts"]) == ("zero", {"0x0": 30})
    assert (second["header"]["name"], second["data"]["counts"]) == ("one", {"0x1": 7})


def test_conditionals_with_bfunc_and_registers(api: Any, qobjs: Any) -> None:
    # Measure q0=1 into memory 0 and register 0, then flip q1 if register 0 is set.
    experiment = qobjs.experiment(
        [
            {"name": "x", "qubits": [0]},
            {"name": "measure", "qubits": [0], "memory": [0], "register": [0]},
            {"name": "bfunc", "mask": "0x1", "relation": "==", "val": "0x1", "register": 2},
            {"name": "x", "qubits": [1], "conditional": 2},
            {"name": "measure", "qubits": [1], "memory": [1], "register": [1]},
        ],
        memory_slots=2,
    )
    result = api.run(qobjs.qobj([experiment], shots=16))
    assert result["results"][0]["data"]["counts"] == {"0x3": 16}


def test_a_small_circuit_on_the_127_qubit_device(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="t")],
        backends=[BackendConfig(name="ibm_washington", device="washington")],
    )
    api = service_api(service_factory(config))
    experiment = qobjs.experiment(
        [
            {"name": "x", "qubits": [126]},
            {"name": "measure", "qubits": [126], "memory": [0]},
            {"name": "measure", "qubits": [3], "memory": [1]},
        ],
        n_qubits=127,
    )
    result = api.run(qobjs.qobj([experiment], shots=5), backend="ibm_washington")
    assert result["results"][0]["data"]["counts"] == {"0x1": 5}


def test_the_job_object_follows_the_protocol(api: Any, qobjs: Any) -> None:
    created = api.create(SIM, name="named", tags=["a", "b"], experimentTag="exp-1").json()
    assert created["status"] == "CREATING"
    assert created["objectStorageInfo"]["uploadUrl"].startswith(api.service.url)
    assert api.upload(created, qobjs.flip()).status_code == 200
    confirmed = api.uploaded(created["id"]).json()["job"]
    assert confirmed["status"] in {"VALIDATING", "VALIDATED", "QUEUED", "RUNNING", "COMPLETED"}
    assert api.wait(created["id"]) == "COMPLETED"
    job = api.job(created["id"])
    assert job["id"] == created["id"]
    assert job["kind"] == "q-object-external-storage"
    assert job["backend"] == {"name": SIM}
    assert (job["name"], job["tags"], job["experimentTag"]) == ("named", ["a", "b"], "exp-1")
    assert job["hubInfo"] == {
        "hub": {"name": "ibm-q"},
        "group": {"name": "open"},
        "project": {"name": "main"},
    }
    assert UTC_Z.match(job["creationDate"])
    steps = job["timePerStep"]
    expected = ["CREATING", "CREATED", "VALIDATING", "VALIDATED", "QUEUED", "RUNNING", "COMPLETED"]
    assert list(steps) == expected
    assert all(UTC_Z.match(stamp) for stamp in steps.values())
    assert sorted(steps.values()) == list(steps.values())
    assert job["shots"] == 10
    assert job["runMode"] == "fairshare"
    assert "error" not in job
    status = api.status(created["id"])
    assert status["status"] == "COMPLETED"
    assert "infoQueue" not in status


def test_client_info_comes_from_the_client_application_header(api: Any, qobjs: Any) -> None:
    header = {"X-Qx-Client-Application": "qiskit-ibmq-provider,qiskit-terra/0.20.2,0.46.3"}
    job = api.create(SIM, headers=header).json()
    assert job["client_info"] == {
        "name": "qiskit-ibmq-provider,qiskit-terra",
        "version": "0.20.2,0.46.3",
    }


def test_name_and_tags_are_updated_and_echoed(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(), name="before", tags=["x"])
    path = api.path(f"/Jobs/{job['id']}")
    renamed = api.put(path, json={"name": "after"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "after"
    retagged = api.put(path, json={"tags": ["y", "z", "y"]})
    assert retagged.json()["tags"] == ["y", "z"]
    assert api.job(job["id"])["name"] == "after"
    assert api.put(path, json={"tags": "not-a-list"}).status_code == 400
    assert api.put(path, json={}).status_code == 400


def test_the_qobj_can_be_downloaded_back(api: Any, qobjs: Any) -> None:
    qobj = qobjs.bell(shots=3)
    job = api.submit(qobj)
    url = api.get(api.path(f"/Jobs/{job['id']}/jobDownloadUrl")).json()["url"]
    assert httpx.get(url).json() == qobj


def test_download_urls_carry_a_signature_not_a_token(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip())
    api.wait(job["id"])
    url = api.get(api.path(f"/Jobs/{job['id']}/resultDownloadUrl")).json()["url"]
    assert api.access_token not in url
    assert api.api_token not in url
    tampered = re.sub(r"signature=[0-9a-f]+", "signature=" + "0" * 40, url)
    assert httpx.get(tampered).status_code == 401
    # The original client also sends its access token there: that works too.
    assert httpx.get(tampered, headers=api.headers).status_code == 200


def test_result_downloaded_is_acknowledged(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip())
    api.wait(job["id"])
    api.result(job["id"])
    response = api.post(api.path(f"/Jobs/{job['id']}/resultDownloaded"))
    assert response.status_code == 200
    assert api.result(job["id"])["success"] is True  # results stay available


def test_job_properties_are_the_calibration_of_the_run(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(), backend=STRICT)
    api.wait(job["id"])
    properties = api.get(api.path(f"/Jobs/{job['id']}/properties")).json()
    assert properties["backend_name"] == STRICT
    assert UTC_Z.match(properties["last_update_date"])
    simulated = api.submit(qobjs.flip())
    assert api.get(api.path(f"/Jobs/{simulated['id']}/properties")).json() == {}


def test_delete_removes_the_job(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip())
    api.wait(job["id"])
    response = api.delete(api.path(f"/Jobs/{job['id']}"))
    assert response.status_code == 204
    assert api.get(api.path(f"/Jobs/{job['id']}/v/1")).status_code == 404


def test_an_unknown_job_is_3250(api: Any) -> None:
    for suffix in ("/v/1", "/status/v/1", "/resultDownloadUrl", "/properties"):
        response = api.get(api.path(f"/Jobs/000000000000000000000000{suffix}"))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == 3250
    response = api.post(api.path("/Jobs/000000000000000000000000/cancel"))
    assert response.json()["error"]["code"] == 3250


def test_idempotency_key_returns_the_same_job(api: Any, qobjs: Any) -> None:
    before = api.service.stats.jobs_created[api.service.user_id(api.api_token)]
    key = {"Idempotency-Key": "submission-42"}
    first = api.create(SIM, headers=key).json()
    second = api.create(SIM, headers=key).json()
    third = api.create(SIM, headers={"Idempotency-Key": "submission-43"}).json()
    assert first["id"] == second["id"] != third["id"]
    assert (
        first["objectStorageInfo"]["uploadUrl"].split("?")[0]
        == (second["objectStorageInfo"]["uploadUrl"].split("?")[0])
    )
    assert api.service.stats.jobs_created[api.service.user_id(api.api_token)] == before + 2
    assert api.service.stats.idempotent_replays >= 1
    # The replay still works after the job has run.
    api.upload(first, qobjs.flip())
    api.uploaded(first["id"])
    api.wait(first["id"])
    again = api.create(SIM, headers=key).json()
    assert again["id"] == first["id"]
    assert again["status"] == "COMPLETED"


def test_upload_and_confirmation_are_idempotent(api: Any, qobjs: Any) -> None:
    job = api.create(SIM).json()
    qobj = qobjs.flip()
    assert api.upload(job, qobj).status_code == 200
    assert api.upload(job, qobj).status_code == 200
    assert api.uploaded(job["id"]).status_code == 200
    assert api.uploaded(job["id"]).status_code == 200
    assert api.wait(job["id"]) == "COMPLETED"
    assert api.upload(job, qobj).status_code == 200  # the same body again: fine
    changed = api.upload(job, qobjs.bell())
    assert changed.status_code == 400
    assert changed.json()["error"]["code"] == 3301


def test_confirming_without_upload_is_refused(api: Any) -> None:
    job = api.create(SIM).json()
    response = api.uploaded(job["id"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 3251


def test_the_job_limit_answers_3458(service: LocalService, api: Any, qobjs: Any) -> None:
    # VIGO is paused with max_jobs=2: two unfinished jobs and the third is refused.
    jobs = [api.submit(qobjs.flip(), backend=VIGO) for _ in range(2)]
    limit = api.get(api.path(f"/devices/{VIGO}/jobsLimit")).json()
    assert limit == {"maximumJobs": 2, "runningJobs": 2}
    refused = api.create(VIGO)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == 3458
    assert "maximum" in error["message"]
    before = service.stats.limit_rejections
    assert api.create(VIGO).status_code == 400
    assert service.stats.limit_rejections == before + 1
    # Cancelling one frees a place.
    cancelled = api.post(api.path(f"/Jobs/{jobs[0]['id']}/cancel")).json()
    assert cancelled["cancelled"] is True
    replacement = api.create(VIGO)
    assert replacement.status_code == 200
    for job_id in (jobs[1]["id"], replacement.json()["id"]):
        api.post(api.path(f"/Jobs/{job_id}/cancel"))
    assert api.get(api.path(f"/devices/{VIGO}/jobsLimit")).json()["runningJobs"] == 0
    assert service.stats.max_active(api.api_token, VIGO) == 2


def test_cancel_a_queued_job(service: LocalService, api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(), backend=VIGO)
    api.wait(job["id"], until=lambda status: status == "QUEUED")
    info = api.status(job["id"])["infoQueue"]
    assert info["status"] == "PENDING_IN_QUEUE"
    assert info["position"] >= 1
    assert UTC_Z.match(info["estimatedStartTime"])
    response = api.post(api.path(f"/Jobs/{job['id']}/cancel"))
    assert response.json() == {"cancelled": True, "status": "CANCELLED"}
    document = api.job(job["id"])
    assert document["status"] == "CANCELLED"
    assert "CANCELLED" in document["timePerStep"]
    again = api.post(api.path(f"/Jobs/{job['id']}/cancel")).json()
    assert again["cancelled"] is False
    no_result = api.get(api.path(f"/Jobs/{job['id']}/resultDownloadUrl"))
    assert no_result.status_code == 400
    assert no_result.json()["error"]["code"] == 3253


def test_cancel_a_running_job(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="t")],
        backends=[BackendConfig(name=SIM, device="simulator", run_delay=30.0)],
    )
    api = service_api(service_factory(config))
    job = api.submit(qobjs.flip())
    api.wait(job["id"], until=lambda status: status == "RUNNING")
    assert api.post(api.path(f"/Jobs/{job['id']}/cancel")).json()["cancelled"] is True
    assert api.wait(job["id"]) == "CANCELLED"
    assert api.job(job["id"])["status"] == "CANCELLED"


def test_queue_positions_count_down(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="t")],
        backends=[BackendConfig(name=SIM, device="simulator", paused=True)],
    )
    service = service_factory(config)
    api = service_api(service)
    jobs = [api.submit(qobjs.flip()) for _ in range(3)]
    for job in jobs:
        api.wait(job["id"], until=lambda status: status == "QUEUED")
    positions = [api.status(job["id"])["infoQueue"]["position"] for job in jobs]
    assert positions == [1, 2, 3]
    queue = api.get(api.path(f"/devices/{SIM}/queue/status")).json()
    assert queue["lengthQueue"] == 3
    listed = api.list_jobs({"where": {"status": "QUEUED"}}).json()
    assert [job["infoQueue"]["position"] for job in listed] == [3, 2, 1]
    api.post(api.path(f"/Jobs/{jobs[0]['id']}/cancel"))
    assert api.status(jobs[2]["id"])["infoQueue"]["position"] == 2
    service.resume_backend(SIM)
    assert [api.wait(job["id"]) for job in jobs[1:]] == ["COMPLETED", "COMPLETED"]


def test_an_invalid_qobj_ends_in_error_validating_job(api: Any, qobjs: Any) -> None:
    cases: list[tuple[Any, int, str]] = [
        ({"type": "QASM"}, 1101, "qobj_id"),
        ({**qobjs.bell(), "header": None}, 1101, "header"),
        (qobjs.bell(shots=0), 1101, "config.shots"),
        (qobjs.bell(shots=10**9), 1103, "100000"),
        (
            qobjs.qobj([qobjs.experiment([{"name": "frobnicate", "qubits": [0]}])]),
            7001,
            "frobnicate",
        ),
        (
            qobjs.qobj([qobjs.experiment([{"name": "cx", "qubits": [0]}])]),
            7005,
            "acts on 2 qubit",
        ),
        (
            qobjs.qobj([qobjs.experiment([{"name": "rz", "qubits": [0], "params": ["x"]}])]),
            7005,
            "not a number",
        ),
        (
            qobjs.qobj([qobjs.experiment([{"name": "x", "qubits": [40]}])]),
            1109,
            "qubit 40",
        ),
        (
            qobjs.qobj([qobjs.experiment([{"name": "measure", "qubits": [0]}])]),
            1101,
            "'memory'",
        ),
        (qobjs.bell(meas_level=1), 8009, "Measurement level"),
        ({**qobjs.bell(), "type": "PULSE"}, 1108, "pulse"),
    ]
    for qobj, code, text in cases:
        job = api.submit(qobj)
        assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB", qobj
        error = api.job(job["id"])["error"]
        assert error["code"] == code, error
        assert text in error["message"], error
        no_result = api.get(api.path(f"/Jobs/{job['id']}/resultDownloadUrl"))
        assert no_result.status_code == 400


def test_strict_devices_check_basis_gates_and_coupling(api: Any, qobjs: Any) -> None:
    outside = qobjs.qobj([qobjs.experiment([{"name": "h", "qubits": [0]}])])
    job = api.submit(outside, backend=STRICT)
    assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB"
    assert api.job(job["id"])["error"]["code"] == 1106
    uncoupled = qobjs.qobj([qobjs.experiment([{"name": "cx", "qubits": [0, 4]}], n_qubits=5)])
    job = api.submit(uncoupled, backend=STRICT)
    assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB"
    assert api.job(job["id"])["error"]["code"] == 1107
    fine = qobjs.qobj(
        [
            qobjs.experiment(
                [
                    {"name": "sx", "qubits": [0]},
                    {"name": "cx", "qubits": [0, 1]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ]
            )
        ]
    )
    assert api.run(fine, backend=STRICT)["success"] is True


def test_a_run_failure_ends_in_error_running_job(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(simulate_failure="the fridge warmed up"))
    assert api.wait(job["id"]) == "ERROR_RUNNING_JOB"
    error = api.job(job["id"])["error"]
    assert error == {"code": 5203, "message": "Failed to run job: the fridge warmed up"}
    result = api.result(job["id"])
    assert result["success"] is False
    assert result["results"] == []
    assert result["error"]["code"] == 5203


def test_one_failing_experiment_gives_a_partial_result(api: Any, qobjs: Any) -> None:
    good = qobjs.experiment(
        [{"name": "x", "qubits": [0]}, {"name": "measure", "qubits": [0], "memory": [0]}],
        name="good",
        n_qubits=1,
    )
    bad = qobjs.experiment(
        [{"name": "measure", "qubits": [0], "memory": [0]}],
        name="bad",
        n_qubits=1,
        header={"metadata": {"simulate_failure": "boom"}},
    )
    job = api.submit(qobjs.qobj([good, bad], shots=4))
    assert api.wait(job["id"]) == "ERROR_RUNNING_JOB"
    result = api.result(job["id"])
    first, second = result["results"]
    assert first["success"] is True
    assert first["data"]["counts"] == {"0x1": 4}
    assert second["success"] is False
    assert "boom" in second["status"]


def test_a_simulator_failure_is_reported(api: Any, qobjs: Any) -> None:
    # 32 entangled qubits of non-Clifford gates: a 64 GiB statevector, which Aer refuses.
    instructions: list[dict[str, Any]] = []
    for qubit in range(32):
        instructions += [{"name": "h", "qubits": [qubit]}, {"name": "t", "qubits": [qubit]}]
    for qubit in range(31):
        instructions.append({"name": "cx", "qubits": [qubit, qubit + 1]})
    for qubit in range(32):
        instructions.append({"name": "measure", "qubits": [qubit], "memory": [qubit]})
    experiment = qobjs.experiment(instructions, n_qubits=32)
    job = api.submit(qobjs.qobj([experiment], shots=1))
    status = api.wait(job["id"])
    if status == "COMPLETED":  # pragma: no cover - a machine with 64 GiB free
        pytest.skip("enough memory to simulate 32 qubits")
    assert status == "ERROR_RUNNING_JOB"
    assert api.job(job["id"])["error"]["code"] == 5204


def test_jobs_listing_with_fields(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(), tags=["fields-test"])
    query = {
        "where": {"tags": {"inq": ["fields-test"]}},
        "fields": {"id": True, "liveDataEnabled": True, "creationDate": True},
    }
    listed = api.list_jobs(query, ids_only=True).json()
    assert listed == [
        {"id": job["id"], "creationDate": job["creationDate"], "liveDataEnabled": None}
    ]


def test_the_upload_url_refuses_other_jobs(api: Any, qobjs: Any) -> None:
    first = api.create(SIM).json()
    second = api.create(SIM).json()
    stolen = first["objectStorageInfo"]["uploadUrl"].replace(first["id"], second["id"])
    response = httpx.put(stolen, content=json.dumps(qobjs.flip()))
    assert response.status_code == 401


def test_abandoned_creations_stop_blocking_the_limit(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="t")],
        backends=[BackendConfig(name=SIM, device="simulator", max_jobs=1)],
        upload_timeout=0.2,
    )
    api = service_api(service_factory(config))
    abandoned = api.create(SIM).json()
    assert api.create(SIM).json()["error"]["code"] == 3458
    time.sleep(0.3)
    assert api.create(SIM).status_code == 200
    job = api.job(abandoned["id"])
    assert job["status"] == "ERROR_CREATING_JOB"
    assert job["error"]["code"] == 3251
