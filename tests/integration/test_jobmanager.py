"""The job manager against the local service: pacing, resume after SIGKILL, partial failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import pytest_asyncio

from ibmq_async import (
    AccountProvider,
    IBMQBackend,
    IBMQFactory,
    IBMQJobFailureError,
    IBMQJobManager,
    JobStatus,
    ManagedJobSet,
)
from ibmq_async.exceptions import (
    IBMQJobManagerInvalidStateError,
    IBMQJobManagerJobNotFound,
    IBMQJobManagerUnknownJobSet,
    IBMQManagedResultDataNotAvailable,
)
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

sys.path.insert(0, str(Path(__file__).parent))
from jobmanager_circuits import expected_counts, numbered_circuit, numbered_circuits

CHILD = Path(__file__).parent / "jobmanager_child.py"
LIMIT = 5


def _config(token: str) -> LocalServiceConfig:
    return LocalServiceConfig(
        users=[UserConfig(token=token, projects=["ibm-q/open/main"])],
        backends=[
            BackendConfig(
                name="ibmq_qasm_simulator", device="simulator", max_jobs=LIMIT, workers=2
            ),
        ],
    )


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[LocalService]:
    with LocalService(_config(f"jobmanager-{request.node.name}")) as running:
        yield running


@pytest_asyncio.fixture
async def provider(service: LocalService) -> AsyncIterator[AccountProvider]:
    provider = await IBMQFactory().enable_account(service.token, url=service.url)
    assert provider is not None
    async with provider:
        yield provider


@pytest.fixture
def simulator(provider: AccountProvider) -> IBMQBackend:
    return provider.get_backend("ibmq_qasm_simulator")


def _start_batch_and_kill_it(
    service: LocalService, experiments: int, per_job: int, kill_after_jobs: int
) -> str:
    """Run the batch script, SIGKILL it once it made some jobs; return its job set id."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), service.url, service.token, str(experiments), str(per_job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline().split()
        assert first[:1] == ["JOB_SET_ID"], child.stderr.read() if child.stderr else first
        deadline = time.monotonic() + 60
        while service.stats.created(service.token) < kill_after_jobs:
            assert time.monotonic() < deadline, "the batch script did not make progress"
            assert child.poll() is None, "the batch script ended before it was killed"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return first[1]


async def _set_jobs(provider: AccountProvider, job_set: ManagedJobSet) -> list[Any]:
    return await provider.jobs(limit=None, job_tags=[job_set.set_tag])


@pytest.mark.asyncio
async def test_300_experiments_never_exceed_the_job_limit_and_land_in_place(
    service: LocalService, provider: AccountProvider, simulator: IBMQBackend
) -> None:
    # Jobs that last a little let the set reach its limit, so reaching it is deterministic.
    service.set_delays("ibmq_qasm_simulator", run_delay=0.05)
    progress: list[dict[str, int]] = []
    job_set = await IBMQJobManager().run(
        numbered_circuits(300),
        simulator,
        name="pacing",
        max_experiments_per_job=10,
        shots=4,
        on_progress=lambda counts: progress.append(dict(counts)),
    )
    assert len(job_set.managed_jobs()) == 30
    results = await job_set.results(timeout=240)
    assert results.success
    for index in range(300):
        assert results.get_counts(index) == expected_counts(index, 4)
    assert results.get_counts("n123") == expected_counts(123, 4)
    assert service.stats.max_active(service.token, "ibmq_qasm_simulator") <= LIMIT
    assert service.stats.max_active(service.token, "ibmq_qasm_simulator") == LIMIT
    assert service.stats.limit_rejections == 0
    jobs = await _set_jobs(provider, job_set)
    assert len(jobs) == 30
    assert sorted(job.name() for job in jobs) == sorted(f"pacing_{i}_" for i in range(30))
    assert service.stats.created(service.token) == 30
    assert progress[-1] == {"DONE": 30}
    assert all(sum(counts.values()) == 30 for counts in progress)
    combined = results.combine_results()
    assert len(combined.results) == 300
    assert combined.get_counts(299) == expected_counts(299, 4)


@pytest.mark.asyncio
async def test_a_set_killed_half_way_is_completed_by_a_new_process_without_duplicates(
    service: LocalService, provider: AccountProvider, simulator: IBMQBackend
) -> None:
    experiments, per_job = 80, 2
    chunks = experiments // per_job
    service.set_delays("ibmq_qasm_simulator", run_delay=0.05)
    job_set_id = await anyio.to_thread.run_sync(
        _start_batch_and_kill_it, service, experiments, per_job, chunks // 3
    )
    made_before_resume = service.stats.created(service.token)
    assert 0 < made_before_resume < chunks

    resumed = await IBMQJobManager().run(
        numbered_circuits(experiments),
        simulator,
        max_experiments_per_job=per_job,
        job_set_id=job_set_id,
        shots=4,
    )
    assert resumed.job_set_id() == job_set_id
    results = await resumed.results(timeout=240)
    for index in range(experiments):
        assert results.get_counts(index) == expected_counts(index, 4)
    jobs = await _set_jobs(provider, resumed)
    indices = sorted(int(job.name().rsplit("_", 2)[1]) for job in jobs)
    assert indices == list(range(chunks))
    assert service.stats.created(service.token) == chunks
    assert service.stats.max_active(service.token, "ibmq_qasm_simulator") <= LIMIT

    retrieved = await ManagedJobSet.retrieve(job_set_id, provider)
    assert all(job is not None for job in retrieved.jobs())
    again = await retrieved.results(timeout=60)
    assert again.get_counts(experiments - 1) == expected_counts(experiments - 1, 4)


@pytest.mark.asyncio
async def test_a_failed_chunk_leaves_the_rest_reachable_and_a_cancelled_one_is_retried(
    service: LocalService, simulator: IBMQBackend
) -> None:
    circuits = numbered_circuits(6)
    circuits[2].metadata = {"simulate_failure": "calibration drifted"}
    job_set = await IBMQJobManager().run(circuits, simulator, max_experiments_per_job=2, shots=4)
    with pytest.raises(IBMQJobFailureError, match="experiment 2"):
        await job_set.results(timeout=120)
    results = await job_set.results(partial=True)
    assert not results.success
    assert results.get_counts(0) == expected_counts(0, 4)
    assert results.get_counts(3) == expected_counts(3, 4)
    assert results.get_counts(5) == expected_counts(5, 4)
    with pytest.raises(IBMQManagedResultDataNotAvailable, match="calibration drifted"):
        results.get_counts(2)
    messages = job_set.error_messages()
    assert messages is not None
    assert "experiment 2" in messages
    assert (await job_set.statuses())[1] is JobStatus.ERROR

    service.pause_backend("ibmq_qasm_simulator")
    try:
        second = await IBMQJobManager().run(
            numbered_circuits(6), simulator, max_experiments_per_job=2, shots=4
        )
        victim = second.jobs()[1]
        assert victim is not None
        assert await victim.cancel(timeout=30)
    finally:
        service.resume_backend("ibmq_qasm_simulator")
    partial = await second.results(timeout=120, partial=True)
    assert partial.get_counts(4) == expected_counts(4, 4)
    with pytest.raises(IBMQManagedResultDataNotAvailable, match="CANCELLED"):
        partial.get_counts(2)
    await second.retry_failed(timeout=120)
    complete = await second.results()
    assert complete.success
    assert [complete.get_counts(i) for i in range(6)] == [expected_counts(i, 4) for i in range(6)]
    retried = second.jobs()[1]
    assert retried is not None
    assert retried.job_id() != victim.job_id()


def _count_submission_lookups(provider: AccountProvider) -> list[str]:
    """Record the job listings filtered on a submission tag that the provider sends."""
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        if "/Jobs/status" in request.url.path and "ibmq_async_submission_" in str(request.url):
            seen.append(str(request.url))

    provider._connection.session.client.event_hooks["request"].append(record)
    return seen


@pytest.mark.asyncio
async def test_a_new_set_creates_without_lookups_and_retries_look_first(
    provider: AccountProvider, simulator: IBMQBackend
) -> None:
    lookups = _count_submission_lookups(provider)
    circuits = numbered_circuits(6)
    circuits[0].metadata = {"simulate_failure": "always"}
    first = await IBMQJobManager().run(circuits, simulator, max_experiments_per_job=2, shots=2)
    await first.results(timeout=120, partial=True)
    assert lookups == []  # a new set's keys are new: no lookup before creating

    # Resuming a set whose jobs all exist submits nothing and looks nothing up.
    progress: list[dict[str, int]] = []
    again = await IBMQJobManager().run(
        circuits,
        simulator,
        max_experiments_per_job=2,
        shots=2,
        job_set_id=first.job_set_id(),
        on_progress=lambda counts: progress.append(dict(counts)),
    )
    assert [job.job_id() for job in again.jobs() if job] == [
        job.job_id() for job in first.jobs() if job
    ]
    assert lookups == []

    # A retry looks first, and every retry is a new job, in this process or a later one.
    failed = again.jobs()[0]
    assert failed is not None
    await again.retry_failed(timeout=120)
    assert len(lookups) == 1
    retried = again.jobs()[0]
    assert retried is not None
    assert retried.job_id() != failed.job_id()
    # The counts reported as chunks change state match a recount at the end.
    assert progress[-1] == dict(Counter(chunk.state for chunk in again.managed_jobs()))
    assert progress[-1] == {"ERROR": 1, "DONE": 2}
    assert any(counts.get("PENDING") == 1 for counts in progress)  # the retry, before submitting
    later = await ManagedJobSet.retrieve(first.job_set_id(), provider)
    await later.resume(circuits, shots=2)
    await later.wait(timeout=120)
    await later.retry_failed(timeout=120)
    newest = later.jobs()[0]
    assert newest is not None
    assert newest.job_id() not in (failed.job_id(), retried.job_id())
    assert len(await _set_jobs(provider, later)) == 5  # 3 chunks, the first tried 3 times


@pytest.mark.asyncio
async def test_as_completed_yields_every_job_once_with_its_result(simulator: IBMQBackend) -> None:
    job_set = await IBMQJobManager().run(
        numbered_circuits(12), simulator, max_experiments_per_job=2, shots=2
    )
    seen: list[str] = []
    async for job, result in job_set.as_completed(timeout=120):
        assert job is not None
        assert result is not None
        assert result.success
        seen.append(job.job_id())
    assert len(seen) == len(set(seen)) == 6
    assert {job.job_id() for job in job_set.jobs() if job} == set(seen)


@pytest.mark.asyncio
async def test_lookups_report_memory_and_cancel(
    service: LocalService, simulator: IBMQBackend
) -> None:
    job_set = await IBMQJobManager().run(
        numbered_circuits(5),
        simulator,
        name="lookups",
        max_experiments_per_job=2,
        job_tags=["mine"],
        shots=3,
        memory=True,
    )
    job, index_in_job = job_set.job(3)
    assert job is not None
    assert index_in_job == 1
    assert job_set.job("n4")[1] == 0
    with pytest.raises(IBMQJobManagerJobNotFound):
        job_set.job(5)
    with pytest.raises(IBMQJobManagerJobNotFound):
        job_set.job("nope")
    results = await job_set.results(timeout=120)
    assert results.get_memory(3) == [format(3, "09b")] * 3
    assert results.data(0)["counts"] == {"0x0": 3}
    report = job_set.report()
    assert "lookups" in report
    assert "DONE: 3" in report.replace("  ", "").replace(" :", ":")
    assert job_set.tags() == ["mine"]
    assert "mine" in job.tags()

    service.pause_backend("ibmq_qasm_simulator")
    try:
        doomed = await IBMQJobManager().run(
            numbered_circuits(4), simulator, max_experiments_per_job=1, shots=1
        )
        await doomed.cancel()
        assert set(await doomed.statuses()) == {JobStatus.CANCELLED}
    finally:
        service.resume_backend("ibmq_qasm_simulator")


@pytest.mark.asyncio
async def test_bad_input_and_unknown_sets_are_clear_errors(
    provider: AccountProvider, simulator: IBMQBackend
) -> None:
    manager = IBMQJobManager()
    with pytest.raises(IBMQJobManagerInvalidStateError, match="at least one"):
        await manager.run([], simulator)
    with pytest.raises(IBMQJobManagerInvalidStateError, match="job_tags"):
        await manager.run([numbered_circuit(0)], simulator, job_tags="tag")  # type: ignore[arg-type]
    with pytest.raises(IBMQJobManagerInvalidStateError, match="QuantumCircuits; got dict"):
        await manager.run([{"instructions": []}], simulator)
    with pytest.raises(IBMQJobManagerInvalidStateError, match="max_experiments_per_job"):
        await manager.run([numbered_circuit(0)], simulator, max_experiments_per_job=0)
    with pytest.raises(IBMQJobManagerUnknownJobSet):
        await ManagedJobSet.retrieve("no-such-set", provider)


@pytest.mark.asyncio
async def test_a_progress_bar_counts_finished_jobs(
    simulator: IBMQBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    job_set = await IBMQJobManager().run(
        numbered_circuits(4), simulator, max_experiments_per_job=1, shots=1, progress=True
    )
    await job_set.results(timeout=120)
    err = capsys.readouterr().err
    assert "4/4" in err


def test_the_manager_is_importable_without_a_running_loop() -> None:
    assert IBMQJobManager() is not None
    assert anyio is not None
