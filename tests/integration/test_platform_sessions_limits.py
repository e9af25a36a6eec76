"""Sessions and batches, usage and rate limits, token expiry, ``cost``, persistence across a
restart, one queue for both APIs, and the noise seam of the platform API, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_client import PlatformClient, assert_platform_error, bell

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig
from ibmq_async.models.platform import Session

A = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct0a:inst0a::"
SMALL = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct0a:inst0small::"
B = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct0b:inst0b::"
SIM = "ibmq_qasm_simulator"
SLOW = "slow_simulator"
PAUSED = "paused_simulator"
FLIP_QOBJ: dict[str, Any] = {
    "qobj_id": "flip",
    "schema_version": "1.3.0",
    "type": "QASM",
    "header": {},
    "config": {"shots": 4, "memory_slots": 1, "n_qubits": 1},
    "experiments": [
        {
            "header": {"name": "flip", "memory_slots": 1, "n_qubits": 1},
            "config": {"n_qubits": 1, "memory_slots": 1},
            "instructions": [
                {"name": "x", "qubits": [0]},
                {"name": "measure", "qubits": [0], "memory": [0]},
            ],
        }
    ],
}


def _config(db: Path | None = None, **settings: Any) -> LocalServiceConfig:
    return LocalServiceConfig(
        users=[
            UserConfig(
                token="ca", id="alice", api_key="key-a", instances=[A, SMALL], jobs_per_minute=0
            ),
            UserConfig(token="cb", id="bob", api_key="key-b", instances=[B], jobs_per_minute=0),
            UserConfig(token="cc", id="carol", api_key="key-c", instances=[A], jobs_per_minute=3),
        ],
        instances=[InstanceConfig(crn=SMALL, plan="premium", allocation_seconds=0.1)],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=SLOW, device="simulator", run_delay=0.6),
            BackendConfig(name=PAUSED, device="simulator", paused=True),
        ],
        rate_window_seconds=1.5,
        session_interactive_ttl=1.0,
        db=db,
        **settings,
    )


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(_config()) as running:
        yield running


@pytest.fixture
def alice(service: LocalService) -> Iterator[PlatformClient]:
    with PlatformClient(service.root, "key-a", A) as client:
        yield client


def _session(client: PlatformClient, **body: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.ok("POST", "/sessions", json=body)
    Session.model_validate(document)
    return document


def _session_state(client: PlatformClient, session_id: str) -> dict[str, Any]:
    document: dict[str, Any] = client.ok("GET", f"/sessions/{session_id}")
    return document


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- sessions -------------------------------------------------------------------------------


def test_a_session_opens_becomes_active_then_inactive(alice: PlatformClient) -> None:
    session = _session(alice, mode="dedicated", backend=SIM, max_ttl=600)
    assert (session["state"], session["mode"], session["accepting_jobs"]) == (
        "open",
        "dedicated",
        True,
    )
    assert (session["max_ttl"], session["interactive_ttl"]) == (600, 1)
    job_id = alice.run("sampler", SIM, [[bell(), None, 10]], session_id=session["id"])
    assert alice.job(job_id)["session_id"] == session["id"]
    assert alice.wait(job_id) == "Completed"
    active = _session_state(alice, session["id"])
    assert active["state"] == "active"
    assert active["activated_at"] is not None
    assert active["last_job_completed"] is not None
    _until(lambda: _session_state(alice, session["id"])["state"] == "inactive", 5)
    again = alice.run("sampler", SIM, [[bell(), None, 10]], session_id=session["id"])
    alice.wait(again)
    document = _session_state(alice, session["id"])
    assert document["state"] == "active"
    assert [entry["status"] for entry in document["timestamps"]] == [
        "open",
        "active",
        "inactive",
        "active",
    ]
    assert document["elapsed_time"] > 0
    listed = alice.ok("GET", "/jobs", params={"session_id": session["id"], "sort": "ASC"})
    assert [job["id"] for job in listed["jobs"]] == [job_id, again]


def test_closing_a_session_lets_its_jobs_finish(alice: PlatformClient) -> None:
    session = _session(alice, mode="batch", backend=SLOW)
    job_id = alice.run("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    response = alice.request("PATCH", f"/sessions/{session['id']}", json={"accepting_jobs": False})
    assert response.status_code == 204
    during = _session_state(alice, session["id"])
    assert during["accepting_jobs"] is False
    assert during["state"] != "closed"
    refused = alice.submit("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    assert_platform_error(refused, 409, "does not accept jobs")
    assert alice.wait(job_id) == "Completed"
    closed = _session_state(alice, session["id"])
    assert (closed["state"], closed["state_reason"]) == ("closed", "closed")
    assert closed["closed_at"] is not None
    assert closed["elapsed_time"] == pytest.approx(10 * 250e-6)
    reopen = alice.request("PATCH", f"/sessions/{session['id']}", json={"accepting_jobs": True})
    assert_platform_error(reopen, 409, "closed")


def test_cancelling_a_session_cancels_its_queued_jobs(alice: PlatformClient) -> None:
    session = _session(alice, backend=PAUSED)
    queued = [
        alice.run("sampler", PAUSED, [[bell(), None, 10]], session_id=session["id"])
        for _ in range(2)
    ]
    outside = alice.run("sampler", PAUSED, [[bell(), None, 10]])
    assert alice.request("DELETE", f"/sessions/{session['id']}/close").status_code == 204
    assert [alice.job(job_id)["state"]["status"] for job_id in queued] == ["Cancelled"] * 2
    assert alice.job(outside)["state"]["status"] == "Queued"
    document = _session_state(alice, session["id"])
    assert (document["state"], document["state_reason"], document["accepting_jobs"]) == (
        "closed",
        "cancelled",
        False,
    )
    refused = alice.submit("sampler", PAUSED, [[bell(), None, 10]], session_id=session["id"])
    assert_platform_error(refused, 409, "closed")
    alice.request("POST", f"/jobs/{outside}/cancel")


def test_max_ttl_closes_a_session_and_cancels_its_queued_jobs(alice: PlatformClient) -> None:
    session = _session(alice, backend=SLOW, max_ttl=1)
    first = alice.run("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    second = alice.run("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    third = alice.run("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    assert alice.wait(first) == "Completed"
    _until(lambda: _session_state(alice, session["id"])["state"] == "closed", 10)
    document = _session_state(alice, session["id"])
    assert document["state_reason"] == "max_ttl exceeded"
    states = [alice.wait(job_id) for job_id in (second, third)]
    assert states[-1] == "Cancelled"
    assert "Cancelled" in states


def test_a_session_takes_jobs_of_its_backend_only(alice: PlatformClient) -> None:
    session = _session(alice, backend=SIM)
    response = alice.submit("sampler", SLOW, [[bell(), None, 10]], session_id=session["id"])
    assert_platform_error(response, 400, f"runs on {SIM}")
    unknown = alice.submit("sampler", SIM, [[bell(), None, 10]], session_id="nope")
    assert_platform_error(unknown, 400, "session not found")


def test_a_session_created_without_a_backend_takes_its_first_jobs(alice: PlatformClient) -> None:
    session = _session(alice)
    assert session["backend_name"] == ""
    job_id = alice.run("sampler", SIM, [[bell(), None, 10]], session_id=session["id"])
    alice.wait(job_id)
    assert _session_state(alice, session["id"])["backend_name"] == SIM


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"mode": "exclusive"}, "mode"),
        ({"max_ttl": 0}, "max_ttl"),
        ({"max_ttl": 10**9}, "max_ttl"),
        ({"max_ttl": "60"}, "max_ttl"),
        ({"backend": "ibm_nowhere"}, "backend not found"),
        ({"instance": B}, "not the instance"),
        ([], "JSON object"),
    ],
)
def test_bad_session_requests_are_400(alice: PlatformClient, body: object, fragment: str) -> None:
    assert_platform_error(alice.request("POST", "/sessions", json=body), 400, fragment)


def test_bad_session_updates_are_400(alice: PlatformClient) -> None:
    session = _session(alice)
    for body in [{}, {"accepting_jobs": "no"}, {"accepting_jobs": False, "x": 1}, []]:
        response = alice.request("PATCH", f"/sessions/{session['id']}", json=body)
        assert_platform_error(response, 400)


def test_another_instance_sees_no_session_of_this_one(
    service: LocalService, alice: PlatformClient
) -> None:
    session = _session(alice, backend=SIM)
    with PlatformClient(service.root, "key-b", B) as bob:
        for method, path in [
            ("GET", f"/sessions/{session['id']}"),
            ("DELETE", f"/sessions/{session['id']}/close"),
        ]:
            assert_platform_error(bob.request(method, path), 404, "session not found")
        patch = bob.request("PATCH", f"/sessions/{session['id']}", json={"accepting_jobs": False})
        assert_platform_error(patch, 404)
        refused = bob.submit("sampler", SIM, [[bell(), None, 10]], session_id=session["id"])
        assert_platform_error(refused, 400, "session not found")
    assert _session_state(alice, session["id"])["accepting_jobs"] is True


# --- usage, rates, cost ---------------------------------------------------------------------


def test_an_instance_at_its_allocation_gets_409(service: LocalService) -> None:
    with PlatformClient(service.root, "key-a", SMALL) as client:
        job_id = client.run("sampler", SIM, [[bell(), None, 1000]])
        assert client.wait(job_id) == "Completed"
        usage = client.ok("GET", "/instances/usage")
        assert usage["usage_consumed_seconds"] == pytest.approx(0.25)
        assert usage["usage_allocation_seconds"] == 0.1
        assert usage["usage_limit_reached"] is True
        refused = client.submit("sampler", SIM, [[bell(), None, 10]])
        assert_platform_error(refused, 409, "usage exceeds instance limit")
    with PlatformClient(service.root, "key-a", A) as other:
        assert other.ok("GET", "/instances/usage")["usage_limit_reached"] is False


def test_job_creation_is_rate_limited_per_user(service: LocalService) -> None:
    with (
        PlatformClient(service.root, "key-c", A) as carol,
        PlatformClient(service.root, "key-a", A) as alice,
    ):
        time.sleep(1.6)
        started = time.monotonic()
        for _ in range(3):
            carol.run("sampler", SIM, [[bell(), None, 5]])
        refused = carol.submit("sampler", SIM, [[bell(), None, 5]])
        assert_platform_error(refused, 429, "3 jobs per 1.5 seconds")
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        for _ in range(5):  # jobs_per_minute = 0: no limit for alice, in the same instance
            alice.run("sampler", SIM, [[bell(), None, 5]])
        bad = carol.submit("sampler", SIM, [["not a circuit"]])
        assert bad.status_code == 429
        time.sleep(max(1.6 - (time.monotonic() - started), 0))
        invalid = carol.submit("sampler", SIM, [["not a circuit"]])
        assert_platform_error(invalid, 400)
        carol.run("sampler", SIM, [[bell(), None, 5]])  # the refused one took no place


def test_a_job_past_its_cost_ends_cancelled_ran_too_long(alice: PlatformClient) -> None:
    job_id = alice.run("sampler", SIM, [[bell(), None, 8000]], cost=1)
    assert alice.wait(job_id) == "Cancelled - Ran too long"
    state = alice.job(job_id)["state"]
    assert state["reason_code"] == 1305
    assert "max_execution_time" in state["reason"]
    metrics = alice.ok("GET", f"/jobs/{job_id}/metrics")
    assert metrics["usage"]["quantum_seconds"] == 1
    assert "Cancelled - Ran too long" in alice.request("GET", f"/jobs/{job_id}/results").text


def test_an_expired_token_is_401(tmp_path: Path) -> None:
    with (
        LocalService(_config(token_ttl=1.0)) as running,
        PlatformClient(running.root, "key-a", A) as client,
    ):
        token = client.token()
        assert client.request("GET", "/backends").status_code == 200
        time.sleep(2.1)
        expired = client.request("GET", "/backends", headers={"Authorization": f"Bearer {token}"})
        assert_platform_error(expired, 401, "expired")
        client.token(refresh=True)
        assert client.request("GET", "/backends").status_code == 200


# --- both APIs, persistence, noise ----------------------------------------------------------


def test_one_queue_holds_jobs_of_both_apis(service: LocalService, alice: PlatformClient) -> None:
    engine = service.engine
    platform_job = alice.run("sampler", PAUSED, [[bell(), None, 10]])
    login = httpx.post(f"{service.url}/users/loginWithToken", json={"apiToken": "ca"}).json()
    headers = {"X-Access-Token": login["id"]}
    hgp = f"{service.url}/Network/ibm-q/Groups/open/Projects/main"
    created = httpx.post(f"{hgp}/Jobs", json={"backend": {"name": PAUSED}}, headers=headers).json()
    httpx.put(created["objectStorageInfo"]["uploadUrl"], content=json.dumps(FLIP_QOBJ))
    httpx.post(f"{hgp}/Jobs/{created['id']}/jobDataUploaded", headers=headers)
    _until(lambda: len(engine.backends[PAUSED].queue) == 2)
    assert alice.ok("GET", f"/backends/{PAUSED}/status")["length_queue"] == 2
    queue_status = httpx.get(f"{hgp}/devices/{PAUSED}/queue/status", headers=headers).json()
    assert queue_status["lengthQueue"] == 2
    service.resume_backend(PAUSED)
    try:
        assert alice.wait(platform_job) == "Completed"
        _until(lambda: service.job_status(created["id"]) == "COMPLETED")
    finally:
        service.pause_backend(PAUSED)


def test_jobs_sessions_usage_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    running = LocalService(_config(db=tmp_path / "service.db")).start()
    try:
        with PlatformClient(running.root, "key-a", A) as client:
            session = _session(client, backend=SIM)
            done = client.run(
                "sampler", SIM, [[bell(), None, 100]], session_id=session["id"], tags=["kept"]
            )
            client.wait(done)
            counts = client.result(done)[0].data.meas.get_counts()
            queued = client.run("sampler", PAUSED, [[bell(), None, 10]])
            consumed = client.ok("GET", "/instances/usage")["usage_consumed_seconds"]
            token = client.token()
        running.restart()
        with PlatformClient(running.root, "key-a", A) as client:
            client._token = token  # the token of before the restart
            assert client.job(done)["tags"] == ["kept"]
            assert client.result(done)[0].data.meas.get_counts() == counts
            assert client.job(queued)["state"]["status"] == "Queued"
            assert _session_state(client, session["id"])["state"] == "active"
            assert client.ok("GET", "/instances/usage")["usage_consumed_seconds"] == consumed
            client.request("POST", f"/jobs/{queued}/cancel")
    finally:
        running.close()
