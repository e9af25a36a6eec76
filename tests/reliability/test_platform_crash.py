"""Crash recovery of the platform API: ``ibmq-async serve`` is killed with SIGKILL while
platform jobs are queued and running, and restarted on the same database and port. Every
accepted job completes once, with its own result; the session, the usage charged and the
access tokens of before the crash are still there."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_client import PlatformClient
from reliability_helpers import (
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    write_config,
)

API_KEY = "crash-platform-key"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/crash0acct:crash0inst::"
JOBS = 5
SHOTS = 20


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    config = write_config(
        tmp_path / "service.toml",
        users=[
            {
                "token": "crash-classic",
                "id": "crash-user",
                "api_key": API_KEY,
                "instances": [INSTANCE],
                "jobs_per_minute": 0,
            }
        ],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 1, "run_delay": 0.5}],
    )
    process = ServiceProcess(tmp_path, config)
    try:
        yield process.start()
    finally:
        process.kill()


def _statuses(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        rows = connection.execute("SELECT id, status FROM platform_jobs").fetchall()
    return {str(job_id): str(status) for job_id, status in rows}


@pytest.mark.slow
def test_platform_jobs_survive_a_sigkill_while_queued_and_running(service: ServiceProcess) -> None:
    root = f"http://127.0.0.1:{service.port}"
    with PlatformClient(root, API_KEY, INSTANCE) as client:
        session = client.ok("POST", "/sessions", json={"backend": SIMULATOR, "mode": "batch"})
        jobs = {
            client.run(
                "sampler",
                SIMULATOR,
                [[encoded_circuit(index), None, SHOTS]],
                session_id=session["id"],
            ): index
            for index in range(JOBS)
        }
        first = next(iter(jobs))
        client.wait(first, states=frozenset({"Running"}))
        token = client.token()
    before = _statuses(service.db)
    assert "Running" in before.values()
    assert "Queued" in before.values()
    service.kill()
    time.sleep(0.5)
    service.start()
    with PlatformClient(root, API_KEY, INSTANCE) as client:
        client._token = token  # issued before the crash
        for job_id, index in jobs.items():
            assert client.wait(job_id) == "Completed"
            counts = client.result(job_id)[0].data.c.get_counts()
            assert counts == {expected_bits(index): SHOTS}, (index, counts)
        listed = client.ok("GET", "/jobs", params={"session_id": session["id"]})
        assert listed["count"] == JOBS
        batch = client.ok("GET", f"/sessions/{session['id']}")
        assert batch["mode"] == "batch"
        assert batch["elapsed_time"] == pytest.approx(JOBS * SHOTS * 250e-6)
        usage = client.ok("GET", "/instances/usage")
        assert usage["usage_consumed_seconds"] == pytest.approx(JOBS * SHOTS * 250e-6)
