"""A paused backend that allows two unfinished jobs per user: queued jobs and their queue
information, the job limit, error 3458 raised as IBMQBackendJobLimitError, and cancel
of a queued job."""

from __future__ import annotations

import uuid

from _harness import Scenario, connect, expect, expect_equal, wait_until

scenario = Scenario()
ctx = scenario.context
tag = f"compat-queue-{uuid.uuid4().hex[:8]}"
state: dict = {}


def _circuit():  # type: ignore[no-untyped-def]
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


@scenario.check("idle_backend")
def _() -> dict:
    provider = state["provider"] = connect(scenario)
    backend = state["backend"] = provider.get_backend(ctx["limited_backend"])
    limit = backend.job_limit()
    expect_equal(limit.maximum_jobs, ctx["limited_max_jobs"], "job_limit().maximum_jobs")
    expect_equal(limit.active_jobs, 0, "job_limit().active_jobs before the scenario")
    expect_equal(backend.status().pending_jobs, 0, "status().pending_jobs before the scenario")
    return {"backend": backend.name(), "maximum_jobs": limit.maximum_jobs}


@scenario.check("queued_jobs", needs=("idle_backend",))
def _() -> dict:
    from qiskit import transpile
    from qiskit.providers.ibmq.job.queueinfo import QueueInfo
    from qiskit.providers.jobstatus import JobStatus

    backend = state["backend"]
    circuit = transpile(_circuit(), backend, seed_transpiler=1)
    jobs = [backend.run(circuit, shots=64, job_tags=[tag]) for _ in range(2)]
    for job in jobs:
        wait_until(lambda job=job: job.status() is JobStatus.QUEUED, 10, f"{job.job_id()} QUEUED")
    positions = [job.queue_position(refresh=True) for job in jobs]
    expect_equal(positions, [1, 2], "queue positions of the two queued jobs")
    info = jobs[1].queue_info()
    expect(isinstance(info, QueueInfo), f"queue_info() gave {info!r}")
    expect_equal(info.position, 2, "queue_info().position")
    expect_equal(info.job_id, jobs[1].job_id(), "queue_info().job_id")
    expect(info.estimated_start_time is not None, "queue_info() has no estimated start time")
    expect_equal(backend.status().pending_jobs, 2, "status().pending_jobs")
    queued = state["provider"].backend.jobs(status=JobStatus.QUEUED, job_tags=[tag])
    expect_equal(
        sorted(job.job_id() for job in queued), sorted(job.job_id() for job in jobs), "QUEUED"
    )
    active = sorted(job.job_id() for job in backend.active_jobs())
    expect_equal(active, sorted(job.job_id() for job in jobs), "backend.active_jobs()")
    state["queued"] = jobs
    return {"positions": positions, "estimated_start": str(info.estimated_start_time)}


@scenario.check("job_limit_reached", needs=("queued_jobs",))
def _() -> dict:
    backend = state["backend"]
    limit = backend.job_limit()
    expect_equal(limit.active_jobs, ctx["limited_max_jobs"], "job_limit().active_jobs")
    expect_equal(backend.remaining_jobs_count(), 0, "remaining_jobs_count()")
    return {"maximum_jobs": limit.maximum_jobs, "active_jobs": limit.active_jobs}


@scenario.check("error_3458_job_limit", needs=("queued_jobs",))
def _() -> dict:
    from qiskit.providers.ibmq.exceptions import IBMQBackendJobLimitError

    backend = state["backend"]
    try:
        job = backend.run(_circuit(), shots=64, job_tags=[tag])
    except IBMQBackendJobLimitError as error:
        message = str(error)
    else:
        job.cancel()
        raise AssertionError(f"a third job was accepted ({job.job_id()}), no 3458")
    expect("3458" in message, f"the error does not carry code 3458: {message}")
    listed = state["provider"].backend.jobs(job_tags=[tag], limit=10)
    expect_equal(len(listed), 2, "jobs of the scenario after the refused creation")
    return message[:240]


@scenario.check("cancel_queued_job", needs=("queued_jobs",))
def _() -> dict:
    from qiskit.providers.ibmq.job.exceptions import IBMQJobInvalidStateError
    from qiskit.providers.jobstatus import JobStatus

    first, second = state["queued"]
    expect_equal(first.status(), JobStatus.QUEUED, "status before cancel()")
    expect_equal(first.cancel(), True, "cancel() of a queued job")
    expect_equal(first.status(), JobStatus.CANCELLED, "status after cancel()")
    retrieved = state["provider"].backend.retrieve_job(first.job_id())
    expect_equal(retrieved.status(), JobStatus.CANCELLED, "status of the retrieved job")
    first.wait_for_final_state(timeout=10)
    try:
        first.result()
    except IBMQJobInvalidStateError as error:
        refused = str(error)
    else:
        raise AssertionError("result() of a cancelled job did not raise")
    expect_equal(second.queue_position(refresh=True), 1, "position of the next job")
    expect_equal(state["backend"].job_limit().active_jobs, 1, "active jobs after the cancel")
    expect("CANCELLED" in retrieved.time_per_step(), f"steps {retrieved.time_per_step()}")
    return {"result": refused[:160]}


@scenario.check("limit_freed", needs=("cancel_queued_job",))
def _() -> dict:
    from qiskit.providers.jobstatus import JobStatus

    backend = state["backend"]
    _, second = state["queued"]
    third = backend.run(_circuit(), shots=64, job_tags=[tag])
    wait_until(lambda: third.status() is JobStatus.QUEUED, 10, "the new job QUEUED")
    for job in (second, third):
        expect_equal(job.cancel(), True, f"cancel() of {job.job_id()}")
    expect_equal(backend.job_limit().active_jobs, 0, "active jobs after cancelling all")
    cancelled = state["provider"].backend.jobs(status="CANCELLED", job_tags=[tag])
    expect_equal(len(cancelled), 3, "cancelled jobs of the scenario")
    return {"accepted_after_cancel": third.job_id()}


scenario.finish()
