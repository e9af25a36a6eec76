"""The platform channel's surface against the local service over real HTTP, on asyncio and
trio: the provider (backends, filters, least busy, jobs, usage), the backend (state, target,
``run`` and its checks, listings, limits) and the job (status, waits, results, cancel,
metrics, logs, tags, errors, handles)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import anyio
import pytest
from platform_channel import (
    INSTANCE,
    LIMA,
    PAUSED,
    SIMULATOR,
    SLOW,
    SPENT_INSTANCE,
    VIGO,
    CountingTransport,
    channel_config,
    flip,
    native_bell,
    platform_provider,
    registers_circuit,
)

from ibmq_async import (
    IBMQBackendApiError,
    IBMQBackendError,
    IBMQBackendValueError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobTimeoutError,
    JobStatus,
    PlatformBackend,
    PlatformJob,
    PlatformProvider,
    least_busy,
)
from ibmq_async.api import SUBMISSION_TAG_PREFIX
from ibmq_async.exceptions import IBMQInputValueError, UsageLimitError
from ibmq_async.local import LocalService
from ibmq_async.models import BackendProperties, BackendStatus, PulseDefaults, Result
from ibmq_async.models.platform import InstanceUsage, JobMetrics
from ibmq_async.models.platform_job_limit import PlatformJobLimit
from ibmq_async.platform import NotISACircuitError, sampler_request
from ibmq_async.platform.job import BACKEND_RUN_TAG

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(channel_config()) as running:
        yield running


# --- the provider -----------------------------------------------------------------------------


async def test_the_provider_has_the_instances_backends_and_filters_them(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        assert isinstance(provider, PlatformProvider)
        assert provider.instance == INSTANCE
        assert provider.channel == "ibm_quantum_platform"
        assert INSTANCE in repr(provider)
        names = {backend.name() for backend in provider.backends}
        assert names == {SIMULATOR, VIGO, LIMA, PAUSED, SLOW}
        vigo = provider.get_backend(VIGO)
        assert isinstance(vigo, PlatformBackend)
        assert provider.backends.ibmq_vigo is vigo
        assert vigo.provider() is provider
        assert vigo.configuration().n_qubits == 5
        assert provider.get_backend(simulator=False, n_qubits=5, name=LIMA).name() == LIMA
        with pytest.raises(IBMQBackendValueError, match="no backend matches"):
            provider.get_backend("ibm_nowhere")
        with pytest.raises(IBMQBackendValueError, match="more than one"):
            provider.get_backend(simulator=True)

        assert {b.name() for b in await provider.backends(simulator=True)} == {SIMULATOR, SLOW}
        assert {b.name() for b in await provider.backends(min_num_qubits=6)} == {SIMULATOR, SLOW}
        # A status filter: every status fetched concurrently.
        operational = await provider.backends(status_msg="active", simulator=False)
        assert {b.name() for b in operational} == {VIGO, LIMA}
        assert [b.name() for b in await provider.backends(filters=lambda b: "lim" in b.name())] == [
            LIMA
        ]

        busiest = provider.get_backend(PAUSED)
        assert (await busiest.status()).status_msg == "paused"
        best = await provider.least_busy()
        assert best.name() in {VIGO, LIMA}
        assert (await least_busy([provider.get_backend(SIMULATOR), busiest])).name() == SIMULATOR
        usage = await provider.usage()
        assert isinstance(usage, InstanceUsage)
        assert usage.usage_limit_reached is False


# --- backend state ---------------------------------------------------------------------------


async def test_status_properties_defaults_and_target(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        vigo, lima, simulator = (provider.get_backend(n) for n in (VIGO, LIMA, SIMULATOR))
        status = await vigo.status()
        assert isinstance(status, BackendStatus)
        assert (status.backend_name, status.operational, status.status_msg) == (
            VIGO,
            True,
            "active",
        )
        assert status.pending_jobs >= 0

        target_before = vigo.target
        assert target_before.num_qubits == 5
        assert {"sx", "rz", "cx", "measure"} <= set(target_before.operation_names)
        assert target_before.instruction_supported("cx", (0, 1))
        assert not target_before.instruction_supported("cx", (0, 2))
        properties = await vigo.properties()
        assert isinstance(properties, BackendProperties)
        assert properties.backend_name == VIGO
        assert await vigo.properties() is properties  # cached
        assert vigo.target is not target_before  # rebuilt with the calibration
        assert vigo.target.qubit_properties[0].t1 is not None
        historical = await vigo.properties(datetime=datetime.now() - timedelta(days=1))
        assert historical is None or isinstance(historical, BackendProperties)
        with pytest.raises(TypeError):
            await vigo.properties(datetime="yesterday")  # type: ignore[arg-type]
        assert await simulator.properties() is None

        defaults = await lima.defaults()
        assert isinstance(defaults, PulseDefaults)
        assert await vigo.defaults() is None
        assert await vigo.reservations() == []


async def test_job_limit_remaining_jobs_and_usage(service: LocalService) -> None:
    async with platform_provider(service, job_rate=(50, 60.0)) as provider:
        paused = provider.get_backend(PAUSED)
        job = await paused.run(flip(), shots=3)
        try:
            limit = await paused.job_limit()
            assert isinstance(limit, PlatformJobLimit)
            assert limit.maximum_jobs is None
            assert limit.pending_jobs >= 1
            assert limit.active_jobs == limit.running_jobs == limit.pending_jobs
            assert limit.job_rate is not None
            assert (limit.job_rate.jobs, limit.job_rate.window_seconds) == (50, 60.0)
            assert isinstance(limit.usage, InstanceUsage)
            assert limit.remaining_jobs is None
            assert await paused.remaining_jobs_count() is None
        finally:
            assert await job.cancel(timeout=30)


async def test_an_instance_that_used_its_allocation_refuses_jobs_with_the_usage(
    service: LocalService,
) -> None:
    async with platform_provider(service, instance=SPENT_INSTANCE) as provider:
        simulator = provider.get_backend(SIMULATOR)
        assert await simulator.remaining_jobs_count() == 0
        assert (await simulator.job_limit()).remaining_jobs == 0
        with pytest.raises(UsageLimitError) as refused:
            await simulator.run(flip(), shots=2)
        assert refused.value.usage is not None
        assert refused.value.usage.usage_limit_reached is True
        assert await provider.jobs(limit=None) == []  # no job was made


# --- run and results -------------------------------------------------------------------------


async def test_run_gives_the_classic_result_one_experiment_per_circuit(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        vigo = provider.get_backend(VIGO)
        circuits = [registers_circuit("regs"), native_bell("bell")]
        job = await vigo.run(circuits, shots=64, job_name="surface-run", job_tags=["surface"])
        assert isinstance(job, PlatformJob)
        assert job.backend() is vigo
        assert job.program_id == "sampler"
        assert job.is_backend_run
        assert job.name() == "surface-run"
        assert job.tags() == ["surface"]
        assert BACKEND_RUN_TAG in job.record.tags
        assert any(tag.startswith(SUBMISSION_TAG_PREFIX) for tag in job.record.tags)
        assert job.creation_date().tzinfo is not None

        result = await job.result(timeout=60)
        assert isinstance(result, Result)
        assert result.job_id == job.job_id()
        assert result.backend_name == VIGO
        assert len(result.results) == 2
        assert result.get_counts(0) == {"1 01": 64}
        assert result.get_counts("regs") == {"1 01": 64}
        assert result.get_memory(0) == ["1 01"] * 64
        bell = result.get_counts("bell")
        assert sum(bell.values()) == 64
        assert set(bell) <= {"00", "11"}
        assert await job.status() is JobStatus.DONE
        assert await job.result() is result  # cached
        assert await job.done()
        assert not await job.running()

        primitive = await job.primitive_result()
        assert type(primitive).__name__ == "PrimitiveResult"
        assert primitive[0].data.a.get_counts() == {"01": 64}

        # Retrieved by id (the provider's and the backend's), the result is the same.
        for retrieved in (
            await provider.retrieve_job(job.job_id()),
            await vigo.retrieve_job(job.job_id()),
        ):
            again = await retrieved.result(timeout=60)
            assert again.get_counts("regs") == {"1 01": 64}
            assert again.get_counts(1) == bell
            assert retrieved.name() == "surface-run"
            assert retrieved.tags() == ["surface"]
        with pytest.raises(IBMQBackendError, match="belongs to backend"):
            await provider.get_backend(LIMA).retrieve_job(job.job_id())
        with pytest.raises(IBMQBackendApiError, match="not found"):
            await provider.retrieve_job("no-such-job")
        with pytest.raises(IBMQBackendValueError):
            await provider.retrieve_job("")

        # A handle finds it again.
        handle = job.to_json()
        assert INSTANCE in handle
        found = await PlatformJob.from_handle(handle, provider)
        assert (await found.result()).get_counts(0) == {"1 01": 64}
        with pytest.raises(IBMQBackendValueError, match="not of a platform job"):
            await PlatformJob.from_handle({"job_id": job.job_id(), "version": 1}, provider)


async def test_await_job_watch_and_wait_callbacks(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        paused = provider.get_backend(PAUSED)
        seen: list[tuple[str, JobStatus]] = []

        async def callback(job_id: str, status: JobStatus, job: PlatformJob, info: object) -> None:
            assert info is None
            seen.append((job_id, status))

        job = await paused.run(native_bell(), shots=10)
        watched = await paused.run(native_bell(), shots=5)
        statuses: list[JobStatus] = []

        async def watch() -> None:
            statuses.extend([status async for status in watched.watch()])

        final: list[JobStatus] = []

        async def wait() -> None:
            final.append(await job.wait_for_final_state(timeout=60, callback=callback))

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                group.start_soon(watch)
                await anyio.sleep(0.6)  # the waits poll once: QUEUED
                service.resume_backend(PAUSED)
        finally:
            service.pause_backend(PAUSED)
        assert final == [JobStatus.DONE]
        assert seen[0] == (job.job_id(), JobStatus.QUEUED)
        assert seen[-1] == (job.job_id(), JobStatus.DONE)
        assert await job.wait_for_final_state() is JobStatus.DONE  # final: no request
        assert statuses[0] is JobStatus.QUEUED
        assert statuses[-1] is JobStatus.DONE
        assert sum((await watched).get_counts().values()) == 5
        assert await watched.in_final_state()


async def test_run_without_shots_uses_the_classic_default_and_memory_is_there(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        assert simulator.options["shots"] == 4000
        simulator.set_options(shots=12)
        with pytest.raises(IBMQBackendValueError, match="not a run option"):
            simulator.set_options(meas_level=1)
        result = await (await simulator.run(flip(), seed_simulator=3)).result(timeout=60)
        assert result.get_counts() == {"1": 12}
        assert result.get_memory() == ["1"] * 12


async def test_bad_circuits_are_refused_with_their_name_before_any_request(
    service: LocalService,
) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    transport = CountingTransport()
    async with platform_provider(service, transport=transport) as provider:
        vigo = provider.get_backend(VIGO)
        before = len(transport.requests)

        not_isa = QuantumCircuit(2, 2, name="uses_h")
        not_isa.h(0)
        not_isa.measure_all(add_bits=False)
        with pytest.raises(NotISACircuitError, match=r"circuit 1 \('uses_h'\).*not an ISA") as bad:
            await vigo.run([native_bell(), not_isa])
        assert bad.value.circuit_name == "uses_h"
        assert bad.value.instruction == "h"

        uncoupled = QuantumCircuit(3, 3, name="far_apart")
        uncoupled.cx(0, 2)
        uncoupled.measure(range(3), range(3))
        with pytest.raises(NotISACircuitError, match=r"far_apart.*not coupled"):
            await vigo.run(uncoupled)

        wide = QuantumCircuit(6, 6, name="six_qubits")
        wide.x(5)
        wide.measure(range(6), range(6))
        with pytest.raises(NotISACircuitError, match=r"six_qubits.*6 qubits, more than the 5"):
            await vigo.run(wide)
        simulator_wide = QuantumCircuit(40, 40, name="forty")
        simulator_wide.measure(range(40), range(40))
        with pytest.raises(NotISACircuitError, match=r"forty.*40 qubits"):
            await provider.get_backend(SIMULATOR).run(simulator_wide)

        theta = Parameter("theta")
        unbound = QuantumCircuit(1, 1, name="unbound")
        unbound.rz(theta, 0)
        unbound.measure(0, 0)
        with pytest.raises(NotISACircuitError, match=r"unbound.*unbound parameters \(theta\)"):
            await vigo.run(unbound)

        with pytest.raises(IBMQBackendValueError, match="takes Qiskit QuantumCircuits"):
            await vigo.run({"qobj_id": "x"})
        with pytest.raises(IBMQBackendValueError, match="at least one circuit"):
            await vigo.run([])
        with pytest.raises(IBMQBackendValueError, match="shots must be a positive"):
            await vigo.run(native_bell(), shots=0)
        with pytest.raises(IBMQBackendValueError, match="more than ibmq_vigo allows"):
            await vigo.run(native_bell(), shots=10**6)
        with pytest.raises(IBMQBackendValueError, match=r"meas_level=1.*classified"):
            await vigo.run(native_bell(), meas_level=1)
        with pytest.raises(IBMQBackendValueError, match="job_tags"):
            await vigo.run(native_bell(), job_tags="one-tag")  # type: ignore[arg-type]
        with pytest.raises(IBMQBackendValueError, match="twirling"):
            await vigo.run(native_bell(), options={"twirling": {"no_such_option": True}})
        assert len(transport.requests) == before  # nothing was sent


async def test_a_circuit_without_measurements_is_sent_with_a_warning(
    service: LocalService,
) -> None:
    from qiskit import QuantumCircuit

    async with platform_provider(service) as provider:
        circuit = QuantumCircuit(1, name="silent")
        circuit.x(0)
        with pytest.warns(UserWarning, match="'silent' has no measurements") as caught:
            job = await provider.get_backend(SIMULATOR).run(circuit, shots=5)
        # One warning of the SDK (the service's simulator may warn too, in its thread).
        assert len([w for w in caught if "silent" in str(w.message)]) == 1
        result = await job.result(timeout=60)
        assert len(result.results) == 1
        assert result.results[0].data.counts is None


# --- listings --------------------------------------------------------------------------------


async def test_job_listings_filter_as_on_the_classic_channel(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        marker = f"listing-{anyio.current_time():.6f}"
        started = datetime.now(timezone.utc) - timedelta(seconds=1)
        made = [
            await simulator.run(flip(), shots=2, job_tags=[marker, "first"], job_name="alpha"),
            await simulator.run(flip(), shots=2, job_tags=[marker, "second"], job_name="beta"),
            await simulator.run(flip(), shots=2, job_tags=[marker], job_name="alpha-2"),
        ]
        for job in made:
            await job.wait_for_final_state(timeout=60)
        ids = [job.job_id() for job in made]

        listed = await simulator.jobs(limit=None, job_tags=[marker])
        assert [job.job_id() for job in listed] == ids[::-1]  # newest first
        oldest_first = await simulator.jobs(limit=2, job_tags=[marker], descending=False)
        assert [job.job_id() for job in oldest_first] == ids[:2]
        skipped = await simulator.jobs(limit=5, skip=1, job_tags=[marker])
        assert [job.job_id() for job in skipped] == ids[::-1][1:]
        either = await simulator.jobs(limit=None, job_tags=["first", "second"])
        assert {job.job_id() for job in either} >= set(ids[:2])
        both = await simulator.jobs(limit=None, job_tags=[marker, "first"], job_tags_operator="AND")
        assert [job.job_id() for job in both] == ids[:1]
        named = await simulator.jobs(limit=None, job_tags=[marker], job_name="^alpha")
        assert {job.job_id() for job in named} == {ids[0], ids[2]}
        done = await simulator.jobs(limit=None, job_tags=[marker], status=JobStatus.DONE)
        assert len(done) == 3
        assert await simulator.jobs(limit=None, job_tags=[marker], status="CANCELLED") == []
        assert await simulator.jobs(limit=None, job_tags=[marker], status=["RUNNING"]) == []
        windowed = await simulator.jobs(
            limit=None,
            job_tags=[marker],
            start_datetime=started,
            end_datetime=datetime.now(timezone.utc) + timedelta(seconds=5),
        )
        assert len(windowed) == 3
        assert await simulator.jobs(limit=None, job_tags=[marker], end_datetime=started) == []
        iterated = [job.job_id() async for job in simulator.iter_jobs(job_tags=[marker])]
        assert iterated == ids[::-1]

        everywhere = await provider.jobs(limit=None, job_tags=[marker])
        assert {job.job_id() for job in everywhere} == set(ids)
        assert all(job.backend() is simulator for job in everywhere)
        on_vigo = await provider.jobs(backend_name=VIGO, job_tags=[marker])
        assert on_vigo == []
        sampler_jobs = await provider.jobs(limit=None, job_tags=[marker], program_id="sampler")
        assert len(sampler_jobs) == 3
        # A listed job has its result too (its circuits read from its params).
        assert (await listed[0].result(timeout=60)).get_counts() == {"1": 2}

        for bad in ({"limit": 0}, {"limit": -1}, {"skip": -1}, {"status": "NOPE"}):
            with pytest.raises(IBMQBackendValueError):
                await simulator.jobs(**bad)  # type: ignore[arg-type]


# --- job lifecycle ---------------------------------------------------------------------------


async def test_a_queued_job_times_out_waiting_then_is_cancelled_and_confirmed(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        paused = provider.get_backend(PAUSED)
        job = await paused.run(native_bell(), shots=4)
        assert await job.status() is JobStatus.QUEUED
        assert isinstance(await job.queue_position(), int)
        active = await paused.active_jobs()
        assert job.job_id() in [item.job_id() for item in active]
        with pytest.raises(IBMQJobTimeoutError, match="last status QUEUED"):
            await job.wait_for_final_state(timeout=0.3)
        with pytest.raises(IBMQJobInvalidStateError, match="no logs yet"):
            await job.logs()
        metrics = await job.metrics()
        assert isinstance(metrics, JobMetrics)
        assert metrics.usage.status == "pending"
        assert await job.usage() == 0.0

        assert await job.cancel(timeout=30) is True
        assert await job.status() is JobStatus.CANCELLED
        assert await job.cancelled()
        assert await job.cancel() is True  # already cancelled: confirmed at once
        with pytest.raises(IBMQJobInvalidStateError, match="cancelled"):
            await job.result()
        message = await job.error_message()
        assert message is not None
        assert message.startswith("Cancelled")
        assert "created" in (await job.logs()).lower()
        assert job.job_id() not in [item.job_id() for item in await paused.active_jobs()]

        done = await provider.get_backend(SIMULATOR).run(flip(), shots=3)
        await done.wait_for_final_state(timeout=60)
        with pytest.raises(IBMQJobInvalidStateError, match="it ended Completed"):
            await done.cancel()
        assert await done.error_message() is None
        assert await done.usage() > 0


async def test_failed_and_too_long_jobs_end_in_error_with_reason_and_code(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        failing = await provider.get_backend(SIMULATOR).run(
            flip(), shots=2, options={"experimental": {"simulate_failure": "the dilution fridge"}}
        )
        assert await failing.wait_for_final_state(timeout=60) is JobStatus.ERROR
        message = await failing.error_message()
        assert message is not None
        assert "the dilution fridge" in message
        assert "Error code: 1517" in message
        with pytest.raises(IBMQJobFailureError, match=r"the job failed.*the dilution fridge"):
            await failing.result()

        too_long = await provider.get_backend(SLOW).run(
            flip(), shots=200, options={"max_execution_time": 1}
        )
        # Cancelled - Ran too long is an error state: the wait ends.
        assert await too_long.wait_for_final_state(timeout=60) is JobStatus.ERROR
        assert too_long.record.state.status == "Cancelled - Ran too long"
        message = await too_long.error_message()
        assert message is not None
        assert message.startswith("Cancelled - Ran too long")
        assert "1305" in message
        with pytest.raises(IBMQJobFailureError, match="1305"):
            await too_long.result()


async def test_tags_are_updated_and_the_hidden_tags_are_kept(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        key = f"tags-key-{anyio.current_time():.6f}"
        job = await simulator.run(
            flip(), shots=2, job_tags=["one"], job_name="tagged", submission_key=key
        )
        assert await job.update_tags(additional_tags=["two"]) == ["one", "two"]
        assert await job.update_tags(removal_tags=["one"]) == ["two"]
        assert await job.update_tags(replacement_tags=["three", "three"]) == ["three"]
        hidden = [tag for tag in job.record.tags if tag != "three"]
        assert BACKEND_RUN_TAG in hidden
        assert any(tag.startswith(SUBMISSION_TAG_PREFIX) for tag in hidden)
        assert job.name() == "tagged"
        for bad in (
            {},
            {"additional_tags": [f"{SUBMISSION_TAG_PREFIX}forged"]},
            {"additional_tags": [BACKEND_RUN_TAG]},
            {"additional_tags": "not-a-list"},
        ):
            with pytest.raises(IBMQInputValueError):
                await job.update_tags(**bad)  # type: ignore[arg-type]
        # The submission key still finds the job: a repeat makes no second job.
        again = await simulator.run(flip(), shots=2, submission_key=key)
        assert again.job_id() == job.job_id()
        assert again.tags() == ["three"]
        retrieved = await provider.retrieve_job(job.job_id())
        assert (await retrieved.result(timeout=60)).get_counts() == {"1": 2}


async def test_a_primitive_job_of_submit_answers_its_primitive_result(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        request = sampler_request([(flip(), None, 7)])
        job = await simulator._submit(request, tags=["primitive"])
        assert not job.is_backend_run
        assert job.tags() == ["primitive"]
        result = await job.result(timeout=60)
        assert type(result).__name__ == "PrimitiveResult"
        assert result[0].data.c.get_counts() == {"1": 7}
        retrieved = await provider.retrieve_job(job.job_id())
        assert (await retrieved.result())[0].data.c.get_counts() == {"1": 7}
        assert re.fullmatch(
            r"<PlatformJob '.+' backend='ibmq_qasm_simulator' status=DONE>", repr(retrieved)
        )
