"""Persistence: every accepted job survives a restart and the interrupted ones run again."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

SIM = "ibmq_qasm_simulator"


def config(db: Path, run_delay: float = 0.0) -> LocalServiceConfig:
    return LocalServiceConfig(
        users=[UserConfig(token="persistent-token")],
        backends=[BackendConfig(name=SIM, device="simulator", workers=1, run_delay=run_delay)],
        db=db,
    )


def test_a_restart_mid_queue_completes_every_job(
    tmp_path: Path, service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    db = tmp_path / "service.db"
    first = service_factory(config(db))
    api = service_api(first)
    done = api.submit(api_qobj := _flip(), name="done-before")
    api.wait(done["id"])
    first.set_delays(SIM, run_delay=30.0)
    result_before = api.result(done["id"])
    queued = [api.submit(api_qobj, name=f"job-{i}", tags=["restart"]) for i in range(5)]
    api.wait(queued[0]["id"], until=lambda status: status == "RUNNING")
    for job in queued[1:]:
        api.wait(job["id"], until=lambda status: status == "QUEUED")
    creating = api.create(SIM, headers={"Idempotency-Key": "kept"}).json()
    first.stop()

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        statuses = dict(connection.execute("SELECT id, status FROM jobs").fetchall())
    assert statuses[queued[0]["id"]] == "RUNNING"
    assert {statuses[job["id"]] for job in queued[1:]} == {"QUEUED"}

    second = service_factory(config(db))
    api.service = second
    api.http = httpx.Client(base_url=second.url, timeout=30)
    # The access token of the first run still works after the restart.
    assert api.get("/Network").status_code == 200
    for job in queued:
        assert api.wait(job["id"]) == "COMPLETED"
        counts = api.result(job["id"])["results"][0]["data"]["counts"]
        assert counts == {"0x1": 10}
    history = api.job(queued[0]["id"])["timePerStep"]
    assert list(history)[-3:] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert api.result(done["id"]) == result_before
    listed = api.list_jobs({"where": {"tags": "restart"}, "order": "creationDate ASC"}).json()
    assert [job["id"] for job in listed] == [job["id"] for job in queued]
    assert [job["name"] for job in listed] == [f"job-{i}" for i in range(5)]
    # A job created before the restart can still be uploaded and run.
    replay = api.create(SIM, headers={"Idempotency-Key": "kept"}).json()
    assert replay["id"] == creating["id"]
    assert replay["status"] == "CREATING"
    assert api.upload(replay, _flip()).status_code == 200
    assert api.uploaded(creating["id"]).status_code == 200
    assert api.wait(creating["id"]) == "COMPLETED"
    api.http.close()


def test_restart_keeps_the_port_and_the_temporary_database(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    service = service_factory(
        LocalServiceConfig(
            users=[UserConfig(token="t")], backends=[BackendConfig(name=SIM, device="simulator")]
        )
    )
    api = service_api(service)
    job = api.submit(_flip())
    api.wait(job["id"])
    url = service.url
    service.restart()
    assert service.url == url
    assert api.job(job["id"])["status"] == "COMPLETED"
    path = service.db_path
    service.close()
    assert not path.exists()


def test_jobs_left_in_validation_are_validated_again(
    tmp_path: Path, service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    db = tmp_path / "validation.db"
    first = service_factory(config(db))
    api = service_api(first)
    job = api.submit(_flip())
    api.wait(job["id"])
    first.stop()
    with sqlite3.connect(db) as connection:  # as if the service stopped mid-validation
        connection.execute("UPDATE jobs SET status = 'VALIDATING' WHERE id = ?", (job["id"],))
    second = service_factory(config(db))
    api.http = httpx.Client(base_url=second.url, timeout=30)
    assert api.wait(job["id"]) == "COMPLETED"
    api.http.close()


def test_the_default_user_gets_a_new_token_each_start_and_keeps_its_jobs(
    tmp_path: Path, service_api: Callable[..., Any]
) -> None:
    db = tmp_path / "default.db"
    settings = LocalServiceConfig(db=db, backends=[BackendConfig(name=SIM, device="simulator")])
    with LocalService(settings) as first:
        token = first.token
        assert first.user_id(token) == "local-user"
        api = service_api(first)
        job = api.submit(_flip(), name="kept")
        api.wait(job["id"])
        api.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert token.encode() not in db.read_bytes()
    with LocalService(settings) as second:
        assert second.token != token
        assert second.user_id(second.token) == "local-user"
        api = service_api(second)
        assert api.get(api.path(f"/Jobs/{job['id']}/v/1")).json()["name"] == "kept"
        assert api.http.post("/users/loginWithToken", json={"apiToken": token}).status_code == 401


def _flip() -> dict[str, Any]:
    return {
        "qobj_id": "flip",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {},
        "config": {"shots": 10, "memory_slots": 1},
        "experiments": [
            {
                "header": {"name": "flip", "memory_slots": 1},
                "config": {},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }
