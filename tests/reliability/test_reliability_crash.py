"""Crash recovery: the service is killed with SIGKILL and restarted on the same database.

The service runs as ``ibmq-async serve`` in its own process, with one worker and a run
delay so that, when it is killed, some jobs are running, some are queued and (for the job
manager) some are not submitted yet. It comes back on the same port and database. Every
accepted job must complete, with its own result, and the waits the client started before
the crash must end normally: the SDK's default retry and polling policies carry them
across the restart (the websocket drops, the watch falls back to polling, the polls are
retried while nothing listens on the port).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest
from reliability_helpers import (
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    write_config,
)

from ibmq_async import IBMQFactory, IBMQJob, IBMQJobManager, ManagedResults
from ibmq_async.models import JobStatus, Result

TOKEN = "crash-user-token"
USER_ID = "crash-user"
SHOTS = 7
RUN_DELAY = 0.5
DOWNTIME = 1.0
"""How long the service stays dead before it is restarted (seconds)."""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    config = write_config(
        tmp_path / "service.toml",
        users=[{"token": TOKEN, "id": USER_ID}],
        backends=[
            {
                "name": SIMULATOR,
                "device": "simulator",
                "workers": 1,
                "run_delay": RUN_DELAY,
                "max_jobs": -1,
            }
        ],
    )
    process = ServiceProcess(tmp_path, config)
    try:
        yield process.start()
    finally:
        process.kill()


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll an async predicate every 50 ms until it holds (30 s at most)."""
    with anyio.fail_after(30):
        while True:
            if await condition():
                return
            await anyio.sleep(0.05)


def _crash_and_restart(service: ServiceProcess) -> None:
    service.kill()
    assert service.process is not None
    assert service.process.returncode == -9
    # Nothing listens on the port while it is down.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", service.port), timeout=1).close()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_waits_started_before_a_sigkill_end_with_the_results_after_the_restart(
    service: ServiceProcess,
) -> None:
    count = 8
    provider = await IBMQFactory().enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        backend = provider.get_backend(SIMULATOR)
        jobs: list[IBMQJob] = [
            await backend.run(encoded_circuit(index), shots=SHOTS) for index in range(count)
        ]
        results: dict[int, Result] = {}

        async def wait(index: int) -> None:
            results[index] = await jobs[index].result(timeout=120)

        async def some_done_some_running() -> bool:
            statuses = [await job.status() for job in jobs]
            return JobStatus.DONE in statuses and JobStatus.RUNNING in statuses

        with anyio.fail_after(150):
            async with anyio.create_task_group() as group:
                for index in range(count):
                    group.start_soon(wait, index)
                await _until(some_done_some_running)
                before = {job.job_id(): job.api_status for job in jobs}
                _crash_and_restart(service)
                await anyio.sleep(DOWNTIME)
                await anyio.to_thread.run_sync(service.start)
                assert len(results) < count, "every wait ended before the crash: weak test"
        # The service keeps access tokens across a restart: the client did not log in again.
        connection = provider._connection
        assert connection.session.auth is not None
        assert connection.session.auth.renewals == 1  # type: ignore[union-attr]

    # The crash hit jobs that were running and queued, and each of them completed.
    interrupted = [status.value for status in before.values() if not status.is_final]
    assert "RUNNING" in interrupted
    assert "QUEUED" in interrupted
    for index, job in enumerate(jobs):
        assert results[index].job_id == job.job_id()
        assert results[index].get_counts(0) == {expected_bits(index): SHOTS}
        assert await job.status() is JobStatus.DONE
    rows = service.job_rows()
    assert sorted(row[0] for row in rows) == sorted(job.job_id() for job in jobs)
    assert {row[3] for row in rows} == {"COMPLETED"}
    assert service.starts == 2


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_job_set_carries_on_across_a_sigkill_and_makes_each_job_once(
    service: ServiceProcess,
) -> None:
    count = 14
    circuits = [encoded_circuit(index) for index in range(count)]
    provider = await IBMQFactory().enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        backend = provider.get_backend(SIMULATOR)
        job_set = await IBMQJobManager().run(
            circuits,
            backend,
            name="crash",
            max_experiments_per_job=1,
            max_concurrent_jobs=4,
            shots=SHOTS,
        )
        outcome: dict[str, ManagedResults] = {}

        async def collect() -> None:
            outcome["results"] = await job_set.results(timeout=120)

        async def midway() -> bool:
            states = [chunk.state for chunk in job_set.managed_jobs()]
            return states.count("DONE") >= 3 and "PENDING" in states

        with anyio.fail_after(150):
            async with anyio.create_task_group() as group:
                group.start_soon(collect)
                await _until(midway)
                states = [chunk.state for chunk in job_set.managed_jobs()]
                _crash_and_restart(service)
                await anyio.sleep(DOWNTIME)
                await anyio.to_thread.run_sync(service.start)

    assert "PENDING" in states
    assert any(state in ("QUEUED", "RUNNING", "VALIDATING") for state in states), states
    results = outcome["results"]
    assert results.success
    for index in range(count):
        assert results.get_counts(index) == {expected_bits(index): SHOTS}
    job_ids = [job.job_id() for job in job_set.jobs() if job is not None]
    assert len(set(job_ids)) == count
    # Each chunk made exactly one job, across the crash: rows 1..count, all completed.
    rows = service.job_rows()
    assert [row[1] for row in rows] == list(range(1, count + 1))
    assert sorted(row[0] for row in rows) == sorted(job_ids)
    assert {row[3] for row in rows} == {"COMPLETED"}
