"""The job manager on the platform channel, against the local service over real HTTP with
its limits on: the creation rate (5 jobs per 2 s here, IBM's 5 per minute on a shorter
clock), the instance's usage, resume after a SIGKILL, failures and retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ibmq_async import (
    IBMQFactory,
    IBMQJobFailureError,
    IBMQJobManager,
    JobStatus,
    ManagedJobSet,
    PlatformBackend,
    PlatformJob,
    PlatformProvider,
)
from ibmq_async.api import SUBMISSION_TAG_PREFIX
from ibmq_async.exceptions import (
    IBMQJobManagerInvalidStateError,
    IBMQJobManagerUsageLimitError,
    IBMQManagedResultDataNotAvailable,
)
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig

sys.path.insert(0, str(Path(__file__).parent))
from jobmanager_circuits import expected_counts, numbered_circuits

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).parent / "platform_jobmanager_child.py"
API_KEY = "jobsets-api-key-5e0c1b"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/sets0acct:sets0inst::"
METERED_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/sets0acct:sets0meter::"
"""An instance with an allocation of :data:`ALLOCATION` quantum seconds."""
SIMULATOR = "ibmq_qasm_simulator"
VIGO = "ibmq_vigo"
METERED = "ibm_metered"
"""A simulator whose shots are charged 10 ms each: a job of 10 circuits of 10 shots costs
1 quantum second."""
ALLOCATION = 3.5
RATE = 5
WINDOW = 2.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _config(*, window: float = WINDOW, allocation: float = ALLOCATION) -> LocalServiceConfig:
    return LocalServiceConfig(
        users=[
            UserConfig(
                token="jobsets-classic-token",
                id="jobsets-user",
                api_key=API_KEY,
                instances=[INSTANCE, METERED_INSTANCE],
                jobs_per_minute=RATE,
            )
        ],
        instances=[
            InstanceConfig(crn=INSTANCE, name="sets"),
            InstanceConfig(crn=METERED_INSTANCE, name="metered", allocation_seconds=allocation),
        ],
        backends=[
            BackendConfig(name=SIMULATOR, device="simulator", workers=2),
            BackendConfig(name=VIGO, device="vigo"),
            BackendConfig(name=METERED, device="simulator", workers=2, seconds_per_shot=0.01),
        ],
        rate_window_seconds=window,
    )


@pytest.fixture
def service() -> Iterator[LocalService]:
    with LocalService(_config()) as running:
        yield running


@asynccontextmanager
async def _provider(
    service: LocalService, *, instance: str = INSTANCE, **kwargs: Any
) -> AsyncIterator[PlatformProvider]:
    provider = await IBMQFactory().enable_account(
        API_KEY,
        channel="ibm_quantum_platform",
        instance=instance,
        url=service.url,
        iam_url=service.root,
        **kwargs,
    )
    assert isinstance(provider, PlatformProvider)
    async with provider:
        yield provider


def _made(service: LocalService) -> list[Any]:
    """Every platform job the service made (none is ever deleted by these tests)."""
    return list(service.engine.platform.jobs.values())


def _rejections(service: LocalService) -> int:
    """How many job creations the service refused for the rate (429)."""
    return int(service.engine.platform.rate.rejections)


def _chunk_index(job: PlatformJob) -> int:
    name = job.name()
    assert name is not None
    return int(name.rsplit("_", 2)[1])


async def test_300_circuits_under_a_5_per_2s_limit_make_30_jobs_without_a_429(
    service: LocalService,
) -> None:
    started = time.monotonic()
    async with _provider(service, job_rate=(RATE, WINDOW)) as provider:
        backend = provider.get_backend(SIMULATOR)
        progress: list[dict[str, int]] = []
        job_set = await IBMQJobManager().run(
            numbered_circuits(300),
            backend,
            name="paced",
            max_experiments_per_job=10,
            job_tags=["survey"],
            shots=4,
            on_progress=lambda counts: progress.append(dict(counts)),
        )
        # run() submitted one window's worth of the rate and returned.
        assert len(job_set.managed_jobs()) == 30
        assert sum(job is not None for job in job_set.jobs()) == RATE
        results = await job_set.results(timeout=240)
        assert results.success
        for index in range(300):
            assert results.get_counts(index) == expected_counts(index, 4)
        assert results.get_counts("n217") == expected_counts(217, 4)
        combined = results.combine_results()
        assert len(combined.results) == 300
        assert progress[-1] == {"DONE": 30}
        assert all(sum(counts.values()) == 30 for counts in progress)

        listed = await provider.jobs(limit=None, job_tags=[job_set.set_tag])
        assert sorted(_chunk_index(job) for job in listed) == list(range(30))
        assert all("survey" in job.tags() and job_set.layout_tag in job.tags() for job in listed)
        assert provider.api.pacer.refusals == 0
    # Exactly 30 jobs, none refused for the rate: the pacer kept to it.
    assert len(_made(service)) == 30
    assert _rejections(service) == 0
    # 30 creations at 5 per 2 s take at least 5 windows.
    assert time.monotonic() - started >= 5 * WINDOW


async def test_without_a_known_rate_few_429s_are_met_each_honoured_and_no_job_is_lost(
    service: LocalService,
) -> None:
    async with _provider(service) as provider:
        backend = provider.get_backend(SIMULATOR)
        job_set = await IBMQJobManager().run(
            numbered_circuits(150), backend, max_experiments_per_job=10, shots=3
        )
        results = await job_set.results(timeout=240)
        assert [results.get_counts(i) for i in range(150)] == [
            expected_counts(i, 3) for i in range(150)
        ]
        assert job_set.error_messages() is None
        assert provider.api.pacer.refusals >= 1  # it learnt the rate from a 429
    # The set sent one window's worth at once until the pacer knew better: the first 429s
    # came in one burst, then at most one per window (not one per chunk).
    assert 1 <= _rejections(service) <= RATE + 15 // RATE
    assert len(_made(service)) == 15


def _start_set_and_kill_it(service: LocalService, circuits: int, per_job: int, kill_at: int) -> str:
    """Run the child's job set, SIGKILL it once the service made ``kill_at`` jobs; return
    the set's id."""
    child = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            service.url,
            service.root,
            API_KEY,
            INSTANCE,
            str(circuits),
            str(per_job),
            f"{RATE},{1.0}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline().split()
        assert first[:1] == ["JOB_SET_ID"], child.stderr.read() if child.stderr else first
        deadline = time.monotonic() + 60
        while len(_made(service)) < kill_at:
            assert time.monotonic() < deadline, "the child did not make progress"
            assert child.poll() is None, "the child ended before it was killed"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return first[1]


async def test_a_set_killed_after_a_third_is_finished_by_a_new_process_without_duplicates() -> None:
    circuits, per_job = 60, 2
    chunks = circuits // per_job
    with LocalService(_config(window=1.0)) as service:
        job_set_id = await anyio.to_thread.run_sync(
            _start_set_and_kill_it, service, circuits, per_job, chunks // 3
        )
        made_before = len(_made(service))
        assert chunks // 3 <= made_before < chunks

        async with _provider(service, job_rate=(RATE, 1.0)) as provider:
            backend = provider.get_backend(SIMULATOR)
            resumed = await IBMQJobManager().run(
                numbered_circuits(circuits),
                backend,
                max_experiments_per_job=per_job,
                job_set_id=job_set_id,
                shots=4,
            )
            assert resumed.job_set_id() == job_set_id
            assert resumed.name() == "killed"
            results = await resumed.results(timeout=240)
            for index in range(circuits):
                assert results.get_counts(index) == expected_counts(index, 4)

            listed = await provider.jobs(limit=None, job_tags=[resumed.set_tag])
            assert sorted(_chunk_index(job) for job in listed) == list(range(chunks))
            keys = Counter(
                tag
                for job in listed
                for tag in job.record.tags
                if tag.startswith(SUBMISSION_TAG_PREFIX)
            )
            assert len(keys) == chunks
            assert set(keys.values()) == {1}

            again = await ManagedJobSet.retrieve(job_set_id, provider)
            assert [job.job_id() for job in again.jobs() if job] == [
                job.job_id() for job in resumed.jobs() if job
            ]
            assert (await again.results(timeout=60)).get_counts(59) == expected_counts(59, 4)
        # One job per chunk in all, across both processes.
        assert len(_made(service)) == chunks


async def test_a_set_that_would_exceed_the_usage_stops_and_collects_what_it_submitted(
    service: LocalService,
) -> None:
    async with _provider(service, instance=METERED_INSTANCE, job_rate=(RATE, WINDOW)) as provider:
        backend = provider.get_backend(METERED)
        job_set = await IBMQJobManager().run(
            numbered_circuits(100), backend, name="metered", max_experiments_per_job=10, shots=10
        )
        with pytest.raises(IBMQJobManagerUsageLimitError) as stopped:
            await job_set.results(timeout=120)
        error = stopped.value
        # Each job costs 1 s: 3 fit in 3.5 s, a 4th would not; 0.5 s are left.
        assert "stopped submitting after 3 of 10 jobs" in str(error)
        assert "0.5 s of its 3.5 s left" in str(error)
        assert "needs about 1 s" in str(error)
        assert error.remaining_seconds == pytest.approx(0.5)
        assert isinstance(error, IBMQJobFailureError)
        assert [chunk.state for chunk in job_set.managed_jobs()] == ["DONE"] * 3 + [
            "FAILED_SUBMISSION"
        ] * 7
        partial = await job_set.results(partial=True)
        for index in range(30):
            assert partial.get_counts(index) == expected_counts(index, 10)
        with pytest.raises(IBMQManagedResultDataNotAvailable, match="usage limit"):
            partial.get_counts(30)
        messages = job_set.error_messages()
        assert messages is not None
        assert messages.count("not submitted: the next job would exceed") == 7
        assert job_set.usage_stop() is not None
        usage = await provider.usage()
        assert usage.usage_consumed_seconds == pytest.approx(3.0)
    # The platform never had to refuse a job: the set stopped before.
    assert len(_made(service)) == 3


async def test_a_set_the_platform_refuses_for_usage_stops_with_the_usage_left(
    service: LocalService,
) -> None:
    async with _provider(service, instance=METERED_INSTANCE, job_rate=(RATE, WINDOW)) as provider:
        backend = provider.get_backend(SIMULATOR)  # 250 us a shot: the set's jobs cost ~0
        service.pause_backend(SIMULATOR)
        try:
            job_set = await IBMQJobManager().run(
                numbered_circuits(8), backend, max_experiments_per_job=2, max_concurrent_jobs=1,
                shots=4,
            )  # fmt: skip
            assert [chunk.state for chunk in job_set.managed_jobs()] == ["QUEUED"] + ["PENDING"] * 3
            # Another job of the instance uses the whole allocation meanwhile.
            hog = await provider.get_backend(METERED).run(numbered_circuits(4), shots=100)
            assert await hog.wait_for_final_state(timeout=60) is JobStatus.DONE
            assert (await provider.usage()).usage_limit_reached
        finally:
            service.resume_backend(SIMULATOR)
        with pytest.raises(IBMQJobManagerUsageLimitError) as stopped:
            await job_set.results(timeout=120)
        error = stopped.value
        assert "stopped submitting after 1 of 4 jobs" in str(error)
        assert "the platform refused new jobs" in str(error)
        assert "4 s used, 0 s of its 3.5 s left" in str(error)
        assert error.remaining_seconds == 0.0
        assert error.usage is not None
        assert error.usage.usage_limit_reached
        partial = await job_set.results(partial=True)
        assert [partial.get_counts(i) for i in (0, 1)] == [expected_counts(i, 4) for i in (0, 1)]
        assert [chunk.state for chunk in job_set.managed_jobs()] == ["DONE"] + [
            "FAILED_SUBMISSION"
        ] * 3
    assert len(_made(service)) == 2  # the hog and the first chunk


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_cancelled_job_is_reported_and_retried_into_a_new_job(
    service: LocalService, anyio_backend: str
) -> None:
    async with _provider(service, job_rate=(RATE, WINDOW)) as provider:
        backend = provider.get_backend(SIMULATOR)
        service.pause_backend(SIMULATOR)
        try:
            job_set = await IBMQJobManager().run(
                numbered_circuits(6), backend, max_experiments_per_job=2, shots=4
            )
            victim = job_set.jobs()[1]
            assert isinstance(victim, PlatformJob)
            assert await victim.cancel(timeout=30)
        finally:
            service.resume_backend(SIMULATOR)
        seen: list[str] = []
        async for job, result in job_set.as_completed(timeout=120):
            assert job is not None
            seen.append(job.job_id())
            assert (result is None) == (job is victim)
        assert len(set(seen)) == 3
        partial = await job_set.results(partial=True)
        assert partial.get_counts(5) == expected_counts(5, 4)
        with pytest.raises(IBMQManagedResultDataNotAvailable, match="CANCELLED"):
            partial.get_counts(2)
        messages = job_set.error_messages()
        assert messages is not None
        assert "Cancelled by the user" in messages
        with pytest.raises(IBMQJobFailureError, match="did not fully succeed"):
            await job_set.results()

        await job_set.retry_failed(timeout=120)
        complete = await job_set.results()
        assert [complete.get_counts(i) for i in range(6)] == [
            expected_counts(i, 4) for i in range(6)
        ]
        retried = job_set.jobs()[1]
        assert retried is not None
        assert retried.job_id() != victim.job_id()
        # The set found again has both jobs of chunk 1 and prefers the one that succeeded.
        again = await ManagedJobSet.retrieve(job_set.job_set_id(), provider)
        found = again.jobs()[1]
        assert found is not None
        assert found.job_id() == retried.job_id()
        assert len(await provider.jobs(limit=None, job_tags=[job_set.set_tag])) == 4


async def test_a_new_set_creates_without_lookups_and_a_resumed_one_submits_nothing_twice(
    service: LocalService, capsys: pytest.CaptureFixture[str]
) -> None:
    lookups: list[str] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/v1/jobs") and SUBMISSION_TAG_PREFIX in str(request.url):
            lookups.append(str(request.url))

    async with _provider(service, job_rate=(RATE, WINDOW)) as provider:
        provider.api.session.client.event_hooks["request"].append(record)
        backend = provider.get_backend(SIMULATOR)
        first = await IBMQJobManager().run(
            numbered_circuits(6), backend, max_experiments_per_job=2, shots=2, progress=True
        )
        await first.results(timeout=120)
        assert "3/3" in capsys.readouterr().err  # the progress bar
        assert lookups == []
        again = await IBMQJobManager().run(
            numbered_circuits(6),
            backend,
            max_experiments_per_job=2,
            shots=2,
            job_set_id=first.job_set_id(),
        )
        assert [job.job_id() for job in again.jobs() if job] == [
            job.job_id() for job in first.jobs() if job
        ]
        assert lookups == []
        assert (await again.results(timeout=60)).get_counts(4) == expected_counts(4, 2)
        with pytest.raises(IBMQJobManagerInvalidStateError, match="splits 6 experiments 2 per job"):
            await IBMQJobManager().run(
                numbered_circuits(6), backend, max_experiments_per_job=3,
                job_set_id=first.job_set_id(),
            )  # fmt: skip
    assert len(_made(service)) == 3


async def test_use_batch_puts_every_job_of_a_set_in_one_batch_even_when_resumed(
    service: LocalService,
) -> None:
    async with _provider(service, job_rate=(RATE, WINDOW)) as provider:
        backend = provider.get_backend(SIMULATOR)
        first = await IBMQJobManager().run(
            numbered_circuits(40),
            backend,
            name="batched",
            max_experiments_per_job=4,
            shots=2,
            use_batch=True,
        )
        assert sum(job is not None for job in first.jobs()) == RATE
        batch_id = first.batch_id
        assert batch_id is not None
        # The set taken up elsewhere (another process would do the same): the jobs it
        # still submits join the set's batch, which is closed once every job is in it.
        later = await IBMQJobManager().run(
            numbered_circuits(40),
            backend,
            max_experiments_per_job=4,
            shots=2,
            job_set_id=first.job_set_id(),
        )
        assert later.uses_batch
        assert later.batch_id == batch_id
        results = await later.results(timeout=120)
        assert [results.get_counts(i) for i in range(40)] == [
            expected_counts(i, 2) for i in range(40)
        ]
        listed = await provider.jobs(limit=None, job_tags=[later.set_tag])
        assert sorted(_chunk_index(job) for job in listed) == list(range(10))
        assert {job.session_id for job in listed} == {batch_id}
        document = await provider.api.sessions.get(batch_id)
        assert document.mode == "batch"
        assert document.accepting_jobs is False
    assert len(_made(service)) == 10


async def test_bad_input_is_refused_before_any_job_is_made(service: LocalService) -> None:
    from qiskit import QuantumCircuit

    from ibmq_async.platform import NotISACircuitError

    async with _provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        vigo = provider.get_backend(VIGO)
        manager = IBMQJobManager()
        with pytest.raises(IBMQJobManagerInvalidStateError, match="at least one"):
            await manager.run([], simulator)
        with pytest.raises(IBMQJobManagerInvalidStateError, match="QuantumCircuits; got dict"):
            await manager.run([{"instructions": []}], simulator)
        with pytest.raises(IBMQJobManagerInvalidStateError, match="job_tags"):
            await manager.run(numbered_circuits(2), simulator, job_tags="tag")  # type: ignore[arg-type]
        with pytest.raises(IBMQJobManagerInvalidStateError, match="max_experiments_per_job"):
            await manager.run(numbered_circuits(2), simulator, max_experiments_per_job=0)
        # A circuit vigo cannot run as it is, named by its place among the experiments.
        not_isa = QuantumCircuit(2, 2, name="uses_h")
        not_isa.h(0)
        not_isa.measure([0, 1], [0, 1])
        native = QuantumCircuit(2, 2, name="native")
        native.x(0)
        native.measure([0, 1], [0, 1])
        circuits = [native, native.copy(), native.copy(), not_isa]
        with pytest.raises(NotISACircuitError, match="uses_h") as refused:
            await manager.run(circuits, vigo, max_experiments_per_job=1)
        assert refused.value.index == 3
        assert manager.job_sets() == []
    assert _made(service) == []


async def test_use_batch_on_the_classic_channel_is_refused(service: LocalService) -> None:
    provider = await IBMQFactory().enable_account("jobsets-classic-token", url=service.url)
    assert provider is not None
    async with provider:
        with pytest.raises(IBMQJobManagerInvalidStateError, match="platform channel"):
            await IBMQJobManager().run(
                numbered_circuits(2), provider.get_backend(SIMULATOR), use_batch=True
            )


def test_a_platform_job_holds_at_most_ten_million_executions() -> None:
    from ibmq_async.jobmanager import _most_circuits_per_platform_job
    from ibmq_async.models import parse_backend_configuration

    config = parse_backend_configuration(
        {
            "backend_name": "ibm_sized",
            "backend_version": "1.0.0",
            "n_qubits": 5,
            "basis_gates": ["x"],
            "gates": [],
            "local": False,
            "simulator": True,
            "conditional": False,
            "open_pulse": False,
            "memory": True,
            "max_shots": 100_000,
            "coupling_map": None,
        }
    )
    backend = PlatformBackend(config, provider=None, client=None)  # type: ignore[arg-type]
    assert _most_circuits_per_platform_job(backend, {}) == 2_500  # 4000 shots by default
    assert _most_circuits_per_platform_job(backend, {"shots": 100_000}) == 100
    assert _most_circuits_per_platform_job(backend, {"shots": 3}) == 3_333_333
    backend.set_options(shots=20_000_000)
    assert _most_circuits_per_platform_job(backend, {}) == 1
