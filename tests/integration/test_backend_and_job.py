"""IBMQBackend and IBMQJob against the local service: every coroutine of the surface."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

import anyio
import anyio.lowlevel
import pytest
import pytest_asyncio
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter

from ibmq_async import (
    AccountProvider,
    IBMQBackend,
    IBMQBackendError,
    IBMQBackendJobLimitError,
    IBMQBackendValueError,
    IBMQFactory,
    IBMQJob,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobTimeoutError,
    JobStatus,
    QueueInfo,
)
from ibmq_async.exceptions import CircuitConversionError, IBMQInputValueError
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.models import BackendJobLimit, PulseDefaults, QasmQobj, Result

TOKEN = "surface-test-token"
OTHER_TOKEN = "surface-other-token"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(token=TOKEN, projects=["ibm-q/open/main"]),
            UserConfig(token=OTHER_TOKEN, projects=["other/group/project"]),
        ],
        backends=[
            BackendConfig(name="ibmq_vigo", device="vigo", max_jobs=50, workers=2),
            BackendConfig(name="ibmq_lima", device="lima", max_jobs=2, workers=1),
            BackendConfig(name="ibmq_qasm_simulator", device="simulator", max_jobs=-1, workers=2),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest_asyncio.fixture
async def provider(service: LocalService) -> AsyncIterator[AccountProvider]:
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        yield provider


@pytest.fixture
def vigo(provider: AccountProvider) -> IBMQBackend:
    return provider.get_backend("ibmq_vigo")


def bell(name: str = "bell") -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name=name)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def native_bell(name: str = "bell") -> QuantumCircuit:
    """A Bell circuit in vigo's basis gates (rz, sx, x, cx)."""
    circuit = QuantumCircuit(2, 2, name=name)
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


# --- backend state ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_status_limit_and_remaining_jobs(vigo: IBMQBackend) -> None:
    status = await vigo.status()
    assert status.backend_name == "ibmq_vigo"
    assert status.operational is True
    assert status.status_msg == "active"
    limit = await vigo.job_limit()
    assert isinstance(limit, BackendJobLimit)
    assert limit.maximum_jobs == 50
    assert await vigo.remaining_jobs_count() == 50 - limit.active_jobs
    simulator = vigo.provider().get_backend("ibmq_qasm_simulator")
    assert (await simulator.job_limit()).maximum_jobs is None
    assert await simulator.remaining_jobs_count() is None


@pytest.mark.asyncio
async def test_properties_are_cached_and_history_is_not(
    service: LocalService, vigo: IBMQBackend
) -> None:
    first = await vigo.properties()
    assert first is not None
    assert first.backend_name == "ibmq_vigo"
    assert 0 < first.t1(0) < 1e-2
    assert await vigo.properties() is first
    before = first.last_update_date
    service.recalibrate("ibmq_vigo", at=before + timedelta(days=1))
    assert await vigo.properties() is first
    refreshed = await vigo.properties(refresh=True)
    assert refreshed is not None
    assert refreshed.last_update_date > before
    old = await vigo.properties(datetime=before + timedelta(hours=1))
    assert old is not None
    assert old.last_update_date == before
    assert await vigo.properties() is refreshed
    with pytest.raises(TypeError, match="datetime"):
        await vigo.properties(datetime="yesterday")  # type: ignore[arg-type]
    assert await vigo.provider().get_backend("ibmq_qasm_simulator").properties() is None


@pytest.mark.asyncio
async def test_defaults_for_pulse_and_non_pulse_backends(provider: AccountProvider) -> None:
    defaults = await provider.get_backend("ibmq_lima").defaults()
    assert isinstance(defaults, PulseDefaults)
    assert len(defaults.qubit_freq_est) == 5
    assert await provider.get_backend("ibmq_vigo").defaults() is None


@pytest.mark.asyncio
async def test_reservations_in_a_window(service: LocalService, provider: AccountProvider) -> None:
    lima = provider.get_backend("ibmq_lima")
    start = datetime.now(timezone.utc) + timedelta(days=3)
    service.add_reservation("ibmq_lima", start, start + timedelta(hours=2))
    inside = await lima.reservations(start - timedelta(hours=1), start + timedelta(hours=1))
    assert [r.duration for r in inside] == [120]
    assert inside[0].backend_name == "ibmq_lima"
    outside = await lima.reservations(start + timedelta(days=1), start + timedelta(days=2))
    assert outside == []
    mine = await provider.my_reservations()
    assert any(
        r.start_datetime == start.replace(microsecond=0) or r.start_datetime == start for r in mine
    )


# --- running and results --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_run_a_circuit_and_get_counts(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=256, seed_simulator=7, job_name="bell")
    assert isinstance(job, IBMQJob)
    assert job.name() == "bell"
    assert job.backend() is vigo
    result = await job.result(timeout=60)
    counts = result.get_counts()
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 256
    assert await job.status() is JobStatus.DONE
    assert await job.done()
    assert await job.in_final_state()
    assert not await job.running()
    assert not await job.cancelled()
    assert job.scheduling_mode() == "fairshare"
    assert await job.result() is result


@pytest.mark.asyncio
async def test_awaiting_the_job_returns_its_result(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=64)
    result = await job
    assert isinstance(result, Result)
    assert sum(result.get_counts().values()) == 64


@pytest.mark.asyncio
async def test_several_circuits_and_registers_come_back_keyed_like_qiskit(
    provider: AccountProvider,
) -> None:
    simulator = provider.get_backend("ibmq_qasm_simulator")
    first = QuantumRegister(2, "q")
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    circuit = QuantumCircuit(first, low, high, name="two_registers")
    circuit.x(0)
    circuit.measure(0, low[0])
    circuit.measure(0, high[1])
    circuit.measure(1, high[0])
    job = await simulator.run([bell("first"), circuit], shots=100, memory=True)
    result = await job.result()
    assert result.get_counts("two_registers") == {"10 1": 100}
    assert result.get_counts(1) == {"10 1": 100}
    assert set(result.get_counts("first")) <= {"00", "11"}
    assert result.get_memory("two_registers") == ["10 1"] * 100


@pytest.mark.asyncio
async def test_qobj_dicts_and_models_are_accepted(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=32)
    qobj = await job.qobj()
    assert isinstance(qobj, QasmQobj)
    assert (await job.header())["backend_name"] == "ibmq_vigo"
    as_dict = qobj.to_wire()
    again = await vigo.run(as_dict, shots=48)
    assert sum((await again.result()).get_counts().values()) == 48
    model_job = await vigo.run(qobj)
    assert sum((await model_job.result()).get_counts().values()) == 32
    circuits = await job.circuits()
    assert len(circuits) == 1
    assert circuits[0].num_qubits >= 2


@pytest.mark.asyncio
async def test_options_given_with_a_qobj_model_apply_to_a_copy(vigo: IBMQBackend) -> None:
    model = (await (await vigo.run(native_bell(), shots=32)).qobj()).model_copy()
    before = model.to_wire()
    job = await vigo.run(model, shots=48, header={"note": "kept"}, memory=True)
    assert model.to_wire() == before  # the caller's model is untouched
    submitted = await job.qobj()  # the model kept on the job: no download
    assert submitted.config.shots == 48
    assert submitted.config.memory is True
    assert submitted.header.model_dump()["note"] == "kept"
    assert submitted.experiments is model.experiments
    result = await job.result(timeout=60)
    assert sum(result.get_counts().values()) == 48
    assert len(result.get_memory()) == 48
    with pytest.raises(IBMQBackendValueError, match=r"(?s)do not fit the Qobj.*rep_delay"):
        await vigo.run(model, rep_delay="soon")


@pytest.mark.asyncio
async def test_bad_input_is_refused_before_any_request(
    service: LocalService, vigo: IBMQBackend
) -> None:
    before = service.stats.create_requests
    theta = Parameter("theta")
    unbound = QuantumCircuit(1, 1, name="unbound")
    unbound.rz(theta, 0)
    unbound.measure(0, 0)
    with pytest.raises(CircuitConversionError, match="theta"):
        await vigo.run(unbound)
    unsupported = QuantumCircuit(1, 1, name="hadamard")
    unsupported.h(0)
    with pytest.raises(CircuitConversionError, match="'h'"):
        await vigo.run(unsupported)
    with pytest.raises(IBMQBackendValueError, match="8192"):
        await vigo.run(native_bell(), shots=100_000)
    with pytest.raises(IBMQBackendValueError, match="job_tags"):
        await vigo.run(native_bell(), job_tags="one-tag")  # type: ignore[arg-type]
    with pytest.raises(IBMQBackendValueError, match="Qobj"):
        await vigo.run({"qobj_id": "x", "experiments": "nope"})
    with pytest.raises(IBMQBackendValueError):
        await vigo.run(42)
    assert service.stats.create_requests == before


@pytest.mark.asyncio
async def test_retrieve_job_by_id_and_refuse_another_backends_job(
    provider: AccountProvider, vigo: IBMQBackend
) -> None:
    job = await vigo.run(native_bell(), shots=16)
    again = await vigo.retrieve_job(job.job_id())
    assert again.job_id() == job.job_id()
    assert again.creation_date() == job.creation_date()
    assert sum((await again.result()).get_counts().values()) == 16
    with pytest.raises(IBMQBackendError, match="ibmq_vigo"):
        await provider.get_backend("ibmq_lima").retrieve_job(job.job_id())
    from_provider = await provider.retrieve_job(job.job_id())
    assert from_provider.backend() is vigo


@pytest.mark.asyncio
async def test_another_users_job_is_not_found(service: LocalService, vigo: IBMQBackend) -> None:
    factory = IBMQFactory()
    other = await factory.enable_account(OTHER_TOKEN, url=service.url)
    assert other is not None
    async with other:
        job = await other.get_backend("ibmq_vigo").run(native_bell(), shots=8)
        await job.wait_for_final_state(timeout=60)
    from ibmq_async import IBMQBackendApiError

    with pytest.raises(IBMQBackendApiError):
        await vigo.retrieve_job(job.job_id())


# --- waiting, watching, cancelling -------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_for_final_state_calls_sync_and_async_callbacks_with_queue_info(
    service: LocalService, provider: AccountProvider
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    try:
        job = await lima.run(native_bell(), shots=8)
        seen: list[tuple[JobStatus, QueueInfo | None]] = []
        seen_async: list[JobStatus] = []

        def sync_callback(
            job_id: str, status: JobStatus, job: IBMQJob, info: QueueInfo | None
        ) -> None:
            assert job_id == job.job_id()
            seen.append((status, info))

        async def async_callback(
            job_id: str, status: JobStatus, job: IBMQJob, info: QueueInfo | None
        ) -> None:
            await anyio.lowlevel.checkpoint()
            seen_async.append(status)

        async with anyio.create_task_group() as group:
            group.start_soon(lambda: job.wait_for_final_state(timeout=60, callback=sync_callback))
            group.start_soon(lambda: job.wait_for_final_state(timeout=60, callback=async_callback))
            for _ in range(200):
                if await job.status() is JobStatus.QUEUED:
                    break
                await anyio.sleep(0.05)
            assert await job.queue_position(refresh=True) == 1
            info = await job.queue_info()
            assert info is not None
            assert info.position == 1
            service.resume_backend("ibmq_lima")
    finally:
        service.resume_backend("ibmq_lima")
    statuses = [status for status, _ in seen]
    assert statuses[-1] is JobStatus.DONE
    assert seen_async[-1] is JobStatus.DONE
    queued = [info for status, info in seen if status is JobStatus.QUEUED]
    if queued:
        assert queued[0] is not None
        assert queued[0].position == 1
    assert await job.queue_position() is None


@pytest.mark.asyncio
async def test_watch_yields_each_status_until_final(
    service: LocalService, provider: AccountProvider
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    try:
        job = await lima.run(native_bell(), shots=8)
        statuses: list[JobStatus] = []
        async for status in job.watch():
            statuses.append(status)
            if status is JobStatus.QUEUED:
                service.resume_backend("ibmq_lima")
    finally:
        service.resume_backend("ibmq_lima")
    assert statuses[-1] is JobStatus.DONE
    assert JobStatus.QUEUED in statuses
    assert len(statuses) == len(set(statuses))


@pytest.mark.asyncio
async def test_a_wait_that_times_out_raises_and_leaves_the_job(
    service: LocalService, provider: AccountProvider
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    try:
        job = await lima.run(native_bell(), shots=8)
        with pytest.raises(IBMQJobTimeoutError, match=job.job_id()):
            await job.result(timeout=0.5)
        assert not (await job.status()).is_final
    finally:
        service.resume_backend("ibmq_lima")
    assert sum((await job.result(timeout=60)).get_counts().values()) == 8


@pytest.mark.asyncio
async def test_cancel_a_queued_job_and_refuse_to_cancel_a_finished_one(
    service: LocalService, provider: AccountProvider, vigo: IBMQBackend
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    try:
        job = await lima.run(native_bell(), shots=8)
        assert await job.cancel(timeout=30) is True
        assert await job.cancelled()
        with pytest.raises(IBMQJobInvalidStateError, match="cancelled"):
            await job.result()
    finally:
        service.resume_backend("ibmq_lima")
    done = await vigo.run(native_bell(), shots=8)
    await done.wait_for_final_state(timeout=60)
    with pytest.raises(IBMQJobInvalidStateError, match="ended in DONE"):
        await done.cancel()


@pytest.mark.asyncio
async def test_cancelling_a_result_wait_stops_at_once_and_leaves_the_remote_job(
    service: LocalService, provider: AccountProvider
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    try:
        job = await lima.run(native_bell(), shots=8)
        with anyio.move_on_after(0.3) as scope:
            await job.result()
        assert scope.cancelled_caught
        assert service.job_status(job.job_id()) == "QUEUED"
    finally:
        service.resume_backend("ibmq_lima")
    assert sum((await job.result(timeout=60)).get_counts().values()) == 8


@pytest.mark.asyncio
async def test_job_limit_error_is_raised_as_backend_job_limit_error(
    service: LocalService, provider: AccountProvider
) -> None:
    lima = provider.get_backend("ibmq_lima")
    service.pause_backend("ibmq_lima")
    jobs: list[IBMQJob] = []
    try:
        for _ in range(2):
            jobs.append(await lima.run(native_bell(), shots=8))
        assert await lima.remaining_jobs_count() == 0
        assert {j.job_id() for j in await lima.active_jobs()} == {j.job_id() for j in jobs}
        with pytest.raises(IBMQBackendJobLimitError, match="3458"):
            await lima.run(native_bell(), shots=8)
    finally:
        service.resume_backend("ibmq_lima")
    for job in jobs:
        await job.wait_for_final_state(timeout=60)


# --- failures ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_failed_experiment_gives_a_partial_result_and_an_error_message(
    vigo: IBMQBackend,
) -> None:
    failing = native_bell("failing")
    failing.metadata = {"simulate_failure": "the cryostat warmed up"}
    job = await vigo.run([native_bell("fine"), failing], shots=32)
    with pytest.raises(IBMQJobFailureError, match="failed"):
        await job.result(timeout=60)
    partial = await job.result(partial=True)
    assert sum(partial.get_counts("fine").values()) == 32
    assert not partial.results[1].success
    message = await job.error_message()
    assert message is not None
    assert "Experiment 1" in message
    assert await job.status() is JobStatus.ERROR


@pytest.mark.asyncio
async def test_a_job_that_fails_validation_says_why(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=8, simulate_failure="the fridge is off")
    with pytest.raises(IBMQJobFailureError, match="fridge"):
        await job.result(timeout=60)
    assert "fridge" in (await job.error_message() or "")


# --- details ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_name_tags_time_per_step_and_properties(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=8, job_name="first", job_tags=["a", "b"])
    await job.wait_for_final_state(timeout=60)
    assert await job.update_name("second") == "second"
    assert job.name() == "second"
    assert sorted(await job.update_tags(additional_tags=["c"])) == ["a", "b", "c"]
    assert sorted(await job.update_tags(removal_tags=["a"])) == ["b", "c"]
    assert await job.update_tags(replacement_tags=["z"]) == ["z"]
    assert job.tags() == ["z"]  # the submission tag is hidden...
    stored = (await vigo.retrieve_job(job.job_id())).record.tags
    assert [t for t in stored if t.startswith("ibmq_async_submission_")]  # ...and kept
    assert (await vigo.retrieve_job(job.job_id())).tags() == ["z"]
    with pytest.raises(IBMQInputValueError, match="reserved"):
        await job.update_tags(additional_tags=["ibmq_jobset_x_"])
    with pytest.raises(IBMQInputValueError):
        await job.update_tags()
    steps = await job.time_per_step()
    assert steps is not None
    assert list(steps)[-1] == "COMPLETED"
    assert steps["CREATING"] <= steps["COMPLETED"]
    properties = await job.properties()
    assert properties is not None
    assert properties.backend_name == "ibmq_vigo"
    refetched = await vigo.retrieve_job(job.job_id())
    assert refetched.name() == "second"


@pytest.mark.asyncio
async def test_the_final_record_is_fetched_only_when_needed(vigo: IBMQBackend) -> None:
    job = await vigo.run(native_bell(), shots=8)
    submitted_status = job.record.status
    await job.result(timeout=60)
    # The wait and the download did not fetch the record again...
    assert job.record.status is submitted_status
    assert await job.status() is JobStatus.DONE
    # ...the first call that needs it does, once.
    steps = await job.time_per_step()
    assert steps is not None
    assert list(steps)[-1] == "COMPLETED"
    assert job.record.status.value == "COMPLETED"
    record = job.record
    assert await job.time_per_step() == steps
    assert job.record is record


@pytest.mark.asyncio
async def test_jobs_listing_filters_and_lazy_iteration(vigo: IBMQBackend) -> None:
    tag = f"listing-{datetime.now().timestamp()}"
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    submitted = [
        await vigo.run(native_bell(), shots=8, job_name=f"list-{i}", job_tags=[tag])
        for i in range(7)
    ]
    for job in submitted:
        await job.wait_for_final_state(timeout=60)
    ids = [job.job_id() for job in submitted]
    listed = await vigo.jobs(limit=None, job_tags=[tag])
    assert [j.job_id() for j in listed] == ids[::-1]
    oldest_first = await vigo.jobs(limit=3, job_tags=[tag], descending=False)
    assert [j.job_id() for j in oldest_first] == ids[:3]
    assert [j.job_id() for j in await vigo.jobs(limit=2, skip=2, job_tags=[tag])] == ids[::-1][2:4]
    assert len(await vigo.jobs(limit=None, job_tags=[tag], job_name="list-[0-2]$")) == 3
    assert len(await vigo.jobs(limit=None, job_tags=[tag], status=JobStatus.DONE)) == 7
    assert await vigo.jobs(limit=None, job_tags=[tag], status="QUEUED") == []
    assert len(await vigo.jobs(limit=None, job_tags=[tag], start_datetime=start)) == 7
    assert await vigo.jobs(limit=None, job_tags=[tag], end_datetime=start) == []
    iterated = [job.job_id() async for job in vigo.iter_jobs(job_tags=[tag], page_size=2)]
    assert iterated == ids[::-1]
    with pytest.raises(IBMQBackendValueError):
        await vigo.jobs(status="SLEEPING")


@pytest.mark.asyncio
async def test_a_job_handle_survives_a_round_trip(
    provider: AccountProvider, vigo: IBMQBackend
) -> None:
    job = await vigo.run(native_bell(), shots=8)
    handle = job.to_json()
    assert json.loads(handle)["job_id"] == job.job_id()
    again = await IBMQJob.from_handle(handle, provider)
    assert again.job_id() == job.job_id()
    assert sum((await again.result(timeout=60)).get_counts().values()) == 8
    with pytest.raises(IBMQBackendValueError):
        await IBMQJob.from_handle({"nope": 1}, provider)
