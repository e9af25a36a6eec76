"""Bad inputs get a 4xx with the error body of docs/protocol.md §5.2, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

SIM = "ibmq_qasm_simulator"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token="bad-inputs")],
        backends=[BackendConfig(name=SIM, device="simulator", workers=2)],
        max_upload_bytes=64 * 1024,
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(service)


def assert_error(response: httpx.Response, status: int, code: int | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["statusCode"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert "uber-trace-id" in response.headers


def test_malformed_json_bodies(api: Any) -> None:
    for url in (api.path("/Jobs"), "/users/loginWithToken"):
        assert_error(api.post(url, content=b"{not json"), 400, 3220)
        assert_error(api.post(url, content=b""), 400, 3220)
        assert_error(api.post(url, content=b"[" * 30000), 400, 3220)
    job = api.create(SIM).json()
    assert_error(api.put(api.path(f"/Jobs/{job['id']}"), content=b"nope"), 400, 3220)
    assert_error(api.upload(job, b"{not json"), 400, 3220)
    assert_error(api.upload(job, b"[1, 2, 3]"), 400, 3220)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"backend": "ibmq_nowhere"},
        {"backend": {"name": "ibmq_nowhere"}},
        {"backend": {"name": 5}},
        {"backend": None},
        {"backend": {"name": SIM}, "tags": "one"},
        {"backend": {"name": SIM}, "tags": [1]},
        {"backend": {"name": SIM}, "name": 7},
        {"backend": {"name": SIM}, "experimentTag": []},
        {"backend": {"name": SIM}, "liveDataEnabled": "yes"},
        [],
        "ibmq_qasm_simulator",
    ],
)
def test_invalid_job_creations(api: Any, body: Any) -> None:
    response = api.post(api.path("/Jobs"), json=body)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


def test_an_unknown_backend_on_creation_is_1007(api: Any) -> None:
    assert_error(api.create("ibmq_nowhere"), 400, 1007)


def test_an_oversized_upload_is_413(api: Any, qobjs: Any) -> None:
    job = api.create(SIM).json()
    big = qobjs.flip()
    big["header"]["padding"] = "x" * (65 * 1024)
    assert_error(api.upload(job, big), 413, 1001)
    chunks = (b"x" * 4096 for _ in range(20))  # no Content-Length: streamed
    url = job["objectStorageInfo"]["uploadUrl"]
    assert_error(httpx.put(url, content=chunks), 413, 1001)
    assert_error(api.post(api.path("/Jobs"), content=b" " * (70 * 1024)), 413, 1001)
    # The job is still usable with a Qobj of a normal size.
    assert api.upload(job, qobjs.flip()).status_code == 200


def test_unknown_routes_and_methods(api: Any, service: LocalService) -> None:
    assert_error(httpx.get(service.url + "/nowhere"), 404, 3811)
    assert_error(httpx.get(service.url.replace("/api", "/")), 404)
    assert_error(api.delete("/users/me"), 405)
    assert_error(api.get(api.path("/Jobs")), 405)


def test_object_storage_of_an_unknown_job(service: LocalService) -> None:
    url = service.url + "/objectstorage/jobs/" + "0" * 24 + "/result"
    assert_error(httpx.get(url), 401)
    assert_error(httpx.get(url + "?expires=1&signature=00"), 401)
    assert_error(httpx.get(url + "?expires=soon&signature=zz"), 401)


def test_results_before_a_job_ran(api: Any) -> None:
    job = api.create(SIM).json()
    assert_error(api.get(api.path(f"/Jobs/{job['id']}/resultDownloadUrl")), 400, 3253)
    assert_error(api.get(api.path(f"/Jobs/{job['id']}/jobDownloadUrl")), 400, 3251)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

operators = st.sampled_from(
    ["eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin", "like", "regexp", "exists"]
)
fields = st.sampled_from(["status", "name", "tags", "creationDate", "backend.name", "id", "x"])
conditions = st.one_of(json_values, st.dictionaries(operators, json_values, max_size=2))
wheres = st.recursive(
    st.dictionaries(fields, conditions, max_size=3),
    lambda children: st.dictionaries(
        st.sampled_from(["and", "or"]), st.lists(children, max_size=3), max_size=1
    ),
    max_leaves=6,
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "where": wheres,
        "order": st.one_of(st.text(max_size=20), st.just("creationDate DESC"), json_values),
        "limit": json_values,
        "skip": json_values,
        "fields": json_values,
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=filters)
def test_any_filter_is_answered_without_a_500(api: Any, query: dict[str, Any]) -> None:
    response = api.get(api.path("/Jobs/status/v/1"), params={"filter": json.dumps(query)})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == 3216


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values)
def test_any_json_body_is_answered_without_a_500(api: Any, body: Any) -> None:
    for method, url in (
        ("POST", api.path("/Jobs")),
        ("POST", "/users/loginWithToken"),
        ("PUT", api.path("/Jobs/" + "0" * 24)),
    ):
        response = api.request(method, url, json=body)
        assert response.status_code < 500, (method, url, response.text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qobj=json_values)
def test_any_uploaded_document_is_validated_without_crashing(
    api: Any, qobjs: Any, qobj: Any
) -> None:
    job = api.create(SIM).json()
    upload = api.upload(job, qobj)
    if not isinstance(qobj, dict):
        assert upload.status_code == 400
        return
    assert upload.status_code == 200
    api.uploaded(job["id"])
    assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB"
    error = api.job(job["id"])["error"]
    assert error["code"] != 1002, error  # a checked refusal, not a converter crash


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instruction=st.fixed_dictionaries(
        {"name": st.sampled_from(["x", "cx", "rz", "u3", "measure", "bfunc", "unitary", "h"])},
        optional={
            "qubits": json_values,
            "params": json_values,
            "memory": json_values,
            "register": json_values,
            "conditional": json_values,
            "mask": json_values,
            "val": json_values,
            "relation": json_values,
        },
    )
)
def test_any_instruction_is_validated_without_crashing(
    api: Any, qobjs: Any, instruction: dict[str, Any]
) -> None:
    experiment = qobjs.experiment([instruction], memory_slots=2)
    job = api.submit(qobjs.qobj([experiment], shots=1))
    status = api.wait(job["id"])
    if status == "ERROR_VALIDATING_JOB":
        assert api.job(job["id"])["error"]["code"] != 1002
    else:
        assert status == "COMPLETED"


@pytest.mark.parametrize(
    "instruction",
    [
        {"name": "measure", "qubits": [0], "memory": [0], "register": [10**12]},
        {"name": "x", "qubits": [0], "conditional": 10**12},
        {"name": "bfunc", "register": 0, "mask": hex(2**2000), "val": "0x1", "relation": "=="},
        {"name": "measure", "qubits": [0], "memory": [10**12]},
    ],
)
def test_a_classical_slot_far_out_of_range_is_refused_not_allocated(
    api: Any, qobjs: Any, instruction: dict[str, Any]
) -> None:
    experiment = qobjs.experiment([instruction], memory_slots=2)
    job = api.submit(qobjs.qobj([experiment], shots=1))
    assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB"
    assert "slot" in api.job(job["id"])["error"]["message"]


def test_memory_slots_far_out_of_range_are_refused_not_allocated(api: Any, qobjs: Any) -> None:
    experiment = qobjs.experiment(
        [{"name": "measure", "qubits": [0], "memory": [0]}], memory_slots=10**9
    )
    job = api.submit(qobjs.qobj([experiment], shots=1))
    assert api.wait(job["id"]) == "ERROR_VALIDATING_JOB"
    assert "memory_slots must be from 0 to 1024" in api.job(job["id"])["error"]["message"]
