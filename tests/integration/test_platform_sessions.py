"""Sessions and batches of the SDK against the local platform service over real HTTP, on
asyncio and on trio: their jobs carry their id, leaving the block closes them (even when
it is cancelled), ``cancel()`` cancels their queued jobs, ``from_id`` attaches again, and a
closed session refuses jobs with a clear error, before any request when the SDK knows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from primitives_support import (
    DEVICE,
    OTHER_API_KEY,
    OTHER_INSTANCE,
    PAUSED,
    SIMULATOR,
    bell,
    isa,
    platform_provider,
    recorded_requests,
)
from primitives_support import service_config as _config

from ibmq_async import JobStatus
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.local import LocalService
from ibmq_async.platform import (
    Batch,
    Estimator,
    Sampler,
    Session,
    SessionClosedError,
    SessionError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(_config()) as running:
        yield running


async def test_a_session_from_entry_to_exit(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(), backend)
        with recorded_requests(provider) as log:
            async with Session(backend, max_time="10m") as session:
                assert log.matching("POST", "/v1/sessions") == ["POST /api/v1/sessions"]
                session_id = session.session_id
                assert session_id is not None
                details = await session.details()
                assert details is not None
                assert (details["id"], details["mode"], details["state"]) == (
                    session_id,
                    "dedicated",
                    "open",
                )
                assert (details["max_time"], details["backend_name"]) == (600, DEVICE)
                assert details["accepting_jobs"] is True
                assert await session.status() == "Pending"
                job = await Sampler(mode=session).run([circuit], shots=100)
                assert job.session_id == session_id
                assert (await provider.api.jobs.get(job.job_id())).session_id == session_id
                counts = (await job.result())[0].data.meas.get_counts()
                assert sum(counts.values()) == 100
                assert await session.status() == "In progress, accepting new jobs"
            assert log.matching("PATCH", f"/v1/sessions/{session_id}") != []
        assert session.closed
        document = await provider.api.sessions.get(session_id)
        assert document.accepting_jobs is False
        assert document.state == "closed"  # nothing left to run: it closed at once
        assert await session.status() == "Closed"
        usage = await session.usage()
        assert usage is not None
        assert usage >= 0


async def test_a_batch_runs_independent_jobs(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(), backend)
        async with Batch(backend) as batch:
            sampler = Sampler(mode=batch)
            jobs: list[Any] = []

            async def run(shots: int) -> None:
                jobs.append(await sampler.run([circuit], shots=shots))

            async with anyio.create_task_group() as group:
                for shots in (50, 60, 70):
                    group.start_soon(run, shots)
            for job in jobs:
                assert job.session_id == batch.session_id
                await job.result()
            details = await batch.details()
            assert details is not None
            assert details["mode"] == "batch"
            assert details["usage_time"] == pytest.approx(180 * 250e-6, abs=1e-6)
        listed = await provider.api.jobs.list(_session_query(batch.session_id))
        assert sorted(job.id for job in listed) == sorted(job.job_id() for job in jobs)


def _session_query(session_id: str | None) -> Any:
    from ibmq_async.api.platform.jobs import PlatformJobQuery

    return PlatformJobQuery(session_id=session_id, limit=100)


async def test_an_estimator_in_a_session(service: LocalService) -> None:
    from qiskit.quantum_info import SparsePauliOp

    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(measure=False), backend)
        observable = SparsePauliOp("ZZ").apply_layout(circuit.layout)
        async with Session(backend) as session:
            estimator = Estimator(mode=session)
            jobs = [await estimator.run([(circuit, observable)], precision=0.1) for _ in range(2)]
            for job in jobs:
                assert job.session_id == session.session_id
                assert abs((await job.result())[0].data.evs - 1) < 0.5


async def test_cancel_cancels_the_queued_jobs_and_closes_it(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        paused = provider.get_backend(PAUSED)
        circuit = isa(bell(), paused)
        async with Session(paused) as session:
            sampler = Sampler(mode=session)
            jobs = [await sampler.run([circuit], shots=10) for _ in range(2)]
            for job in jobs:
                assert await job.status() is JobStatus.QUEUED
            await session.cancel()
            assert session.closed
            for job in jobs:
                await job.wait_for_final_state(timeout=20)
                assert await job.status() is JobStatus.CANCELLED
            details = await session.details()
            assert details is not None
            assert details["state"] == "closed"
            with pytest.raises(SessionClosedError, match="closed"):
                await sampler.run([circuit])
        # Leaving the block after cancel() sends nothing more.


async def test_leaving_a_cancelled_block_still_closes_the_session(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(SIMULATOR)
        session = Session(backend)
        with anyio.CancelScope() as scope:
            async with session:
                scope.cancel()
                await anyio.sleep(5)
        assert scope.cancelled_caught
        assert session.session_id is not None
        document = await provider.api.sessions.get(session.session_id)
        assert document.accepting_jobs is False


async def test_leaving_a_block_on_an_error_closes_the_session(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(SIMULATOR)
        with pytest.raises(ZeroDivisionError):
            async with Batch(backend) as batch:
                1 / 0  # noqa: B018
        assert batch.session_id is not None
        assert (await provider.api.sessions.get(batch.session_id)).accepting_jobs is False


async def test_from_id_attaches_to_a_session(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(), backend)
        first = await Session(backend, max_time=300).open()
        assert first.session_id is not None
        attached = await Session.from_id(first.session_id, backend)
        assert (attached.session_id, attached.max_time, attached.closed) == (
            first.session_id,
            300,
            False,
        )
        job = await Sampler(mode=attached).run([circuit], shots=20)
        assert job.session_id == first.session_id
        await job.result()
        # Once a job ran in it the session knows its backend: the provider finds it.
        async with await Session.from_id(first.session_id, provider) as again:
            assert again.backend() == DEVICE
            job = await Sampler(mode=again).run([circuit], shots=20)
            assert job.session_id == first.session_id
        assert (await provider.api.sessions.get(first.session_id)).accepting_jobs is False
        closed = await Session.from_id(first.session_id, backend)
        assert closed.closed
        with recorded_requests(provider) as log:
            with pytest.raises(SessionClosedError, match=first.session_id):
                await Sampler(mode=closed).run([circuit])
            assert len(log) == 0


async def test_from_id_refuses_what_it_cannot_attach_to(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        async with Batch(backend) as batch:
            assert batch.session_id is not None
            with pytest.raises(IBMQInputValueError, match=r"Batch\.from_id, not Session\.from_id"):
                await Session.from_id(batch.session_id, backend)
            with pytest.raises(IBMQInputValueError, match=f"runs on {DEVICE}, not {SIMULATOR}"):
                await Batch.from_id(batch.session_id, provider.get_backend(SIMULATOR))
        with pytest.raises(IBMQInputValueError, match="no session nosuchsession"):
            await Session.from_id("nosuchsession", backend)
        # A session of another instance is not found from this one.
        async with platform_provider(service, OTHER_API_KEY, OTHER_INSTANCE) as other:
            theirs = await Session(other.get_backend(DEVICE)).open()
            assert theirs.session_id is not None
            with pytest.raises(IBMQInputValueError, match="no session"):
                await Session.from_id(theirs.session_id, backend)
            await theirs.close()
        # A session made without a backend, found through the provider: which backend?
        document = await provider.api.sessions.create("dedicated", None)
        with pytest.raises(SessionError, match="has no backend yet"):
            await Session.from_id(document.id, provider)
        await provider.api.sessions.close(document.id)


async def test_a_closed_session_refuses_jobs_with_a_clear_error(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(), backend)
        async with Session(backend) as session:
            sampler = Sampler(mode=session)
        # Closed by this client: refused before any request.
        with recorded_requests(provider) as log:
            with pytest.raises(SessionClosedError, match="closed and takes no more jobs"):
                await sampler.run([circuit])
            with pytest.raises(SessionClosedError, match="is closed; make a new one"):
                await session.open()
            assert len(log) == 0
        # Closed elsewhere (another process): the platform refuses the job (409, 1222).
        async with Session(backend) as unaware:
            assert unaware.session_id is not None
            elsewhere = await Session.from_id(unaware.session_id, backend)
            await elsewhere.cancel()
            with pytest.raises(SessionClosedError, match="the platform refused the job") as caught:
                await Sampler(mode=unaware).run([circuit])
            assert caught.value.session_id == unaware.session_id
            assert unaware.closed
            listed = await provider.api.jobs.list(_session_query(unaware.session_id))
            assert list(listed) == []


async def test_a_session_must_be_open_to_run_jobs(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        session = Session(backend)
        assert await session.details() is None
        assert await session.status() is None
        with recorded_requests(provider) as log:
            with pytest.raises(SessionError, match="never opened: use 'async with Session"):
                await Sampler(mode=session).run([isa(bell(), backend)])
            with pytest.raises(SessionError, match="cannot cancel a Session that was never"):
                await session.cancel()
            assert len(log) == 0
        await session.close()  # nothing to close: no request, and it is closed now
        assert session.closed


async def test_concurrent_opens_make_one_session(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        session = Session(provider.get_backend(SIMULATOR))
        with recorded_requests(provider) as log:
            async with anyio.create_task_group() as group:
                for _ in range(5):
                    group.start_soon(session.open)
            assert log.matching("POST", "/v1/sessions") == ["POST /api/v1/sessions"]
        await session.close()


async def test_a_session_on_an_unknown_max_time_is_refused_by_the_platform(
    service: LocalService,
) -> None:
    from ibmq_async.exceptions import ApiStatusError

    async with platform_provider(service) as provider:
        session = Session(provider.get_backend(DEVICE), max_time="30d")
        with pytest.raises(ApiStatusError, match="max_ttl must be 1 to 28800"):
            await session.open()
        assert session.session_id is None
