"""Crash recovery on the platform channel: the service is killed with SIGKILL while the SDK
waits on platform jobs (some running, some queued), and restarted on the same database and
port. The waits started before the crash end normally with each job's own classic result:
the waits' polls are retried while nothing listens on the port, and the bearer token issued
before the crash is still good after it (the service keeps its signing key).

As ``test_reliability_crash.py`` proves it of the classic channel.
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

from ibmq_async import IBMQFactory, JobStatus, PlatformJob, PlatformProvider
from ibmq_async.models import Result

API_KEY = "crash-channel-key"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/crash1acct:crash1inst::"
SHOTS = 7
RUN_DELAY = 0.5
DOWNTIME = 1.0
"""How long the service stays dead before it is restarted (seconds)."""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    config = write_config(
        tmp_path / "service.toml",
        users=[
            {
                "token": "crash-channel-classic",
                "id": "crash-user",
                "api_key": API_KEY,
                "instances": [INSTANCE],
                "jobs_per_minute": 0,
            }
        ],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 1, "run_delay": RUN_DELAY}],
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


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_waits_started_before_a_sigkill_end_with_the_results_after_the_restart(
    service: ServiceProcess,
) -> None:
    count = 6
    root = f"http://127.0.0.1:{service.port}"
    provider = await IBMQFactory().enable_account(
        API_KEY, channel="ibm_quantum_platform", instance=INSTANCE, url=service.url, iam_url=root
    )
    assert isinstance(provider, PlatformProvider)
    async with provider:
        backend = provider.get_backend(SIMULATOR)
        jobs: list[PlatformJob] = [
            await backend.run(encoded_circuit(index), shots=SHOTS) for index in range(count)
        ]
        results: dict[int, Result] = {}

        async def wait(index: int) -> None:
            results[index] = await jobs[index].result(timeout=120)

        seen: dict[str, JobStatus] = {}

        async def some_done_some_running() -> bool:
            listed = {job.job_id(): job for job in await backend.jobs(limit=None)}
            seen.update({job.job_id(): await listed[job.job_id()].status() for job in jobs})
            statuses = set(seen.values())
            return JobStatus.DONE in statuses and JobStatus.RUNNING in statuses

        with anyio.fail_after(150):
            async with anyio.create_task_group() as group:
                for index in range(count):
                    group.start_soon(wait, index)
                await _until(some_done_some_running)
                before = set(seen.values())
                service.kill()
                assert service.process is not None
                assert service.process.returncode == -9
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
                await anyio.sleep(DOWNTIME)
                await anyio.to_thread.run_sync(service.start)
                assert len(results) < count, "every wait ended before the crash: weak test"
        # The bearer token of before the crash was still good: IAM was asked once.
        assert provider.api.auth.renewals == 1

    # The crash hit jobs that were running and queued, and each of them completed.
    assert {JobStatus.RUNNING, JobStatus.QUEUED} <= before
    for index, job in enumerate(jobs):
        assert results[index].job_id == job.job_id()
        assert results[index].get_counts(0) == {expected_bits(index): SHOTS}
        assert job.record.state.status == "Completed"
    assert service.starts == 2
