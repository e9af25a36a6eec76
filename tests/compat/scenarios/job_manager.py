"""IBMQJobManager: 7 circuits split into jobs of at most 2 experiments on ibmq_vigo, the
results of every circuit, the job set's tags and names, and retrieve_job_set; then 7
one-circuit jobs on a backend that allows 5, which the manager gets through by waiting
on error 3458 for the oldest unfinished job."""

from __future__ import annotations

import uuid

from _harness import Scenario, connect, expect, expect_equal

N_CIRCUITS = 7
SHOTS = 256

scenario = Scenario()
ctx = scenario.context
run_id = uuid.uuid4().hex[:8]
state: dict = {}


def _bits(index: int) -> str:
    return format(index, "05b")


def _basis_circuits():  # type: ignore[no-untyped-def]
    from qiskit import QuantumCircuit

    circuits = []
    for index in range(N_CIRCUITS):
        # Circuit i prepares the basis state |i>: its counts are exactly {bits(i): shots},
        # so a result given to the wrong circuit cannot go unnoticed.
        circuit = QuantumCircuit(5, 5, name=f"basis-{index}")
        for qubit in range(5):
            if index >> qubit & 1:
                circuit.x(qubit)
        circuit.measure(range(5), range(5))
        circuits.append(circuit)
    return circuits


@scenario.check("manager_run")
def _() -> dict:
    from qiskit import transpile
    from qiskit.providers.ibmq.managed import IBMQJobManager, ManagedJobSet

    provider = state["provider"] = connect(scenario)
    vigo = state["vigo"] = provider.get_backend("ibmq_vigo")
    transpiled = transpile(_basis_circuits(), vigo, seed_transpiler=3)
    manager = IBMQJobManager()
    job_set = manager.run(
        transpiled,
        backend=vigo,
        name=f"compat-set-{run_id}",
        max_experiments_per_job=2,
        job_tags=[f"compat-{run_id}"],
        shots=SHOTS,
    )
    expect(isinstance(job_set, ManagedJobSet), f"run() gave {job_set!r}")
    managed = job_set.managed_jobs()
    expect_equal(len(managed), 4, "jobs for 7 circuits, at most 2 per job")
    expect_equal(
        [(m.start_index, m.end_index) for m in managed],
        [(0, 1), (2, 3), (4, 5), (6, 6)],
        "experiment ranges of the jobs",
    )
    state.update(manager=manager, job_set=job_set, transpiled=transpiled)
    return {"job_set_id": job_set.job_set_id(), "jobs": len(managed)}


@scenario.check("manager_results", needs=("manager_run",))
def _() -> dict:
    from qiskit.providers.jobstatus import JobStatus

    job_set = state["job_set"]
    results = job_set.results(timeout=120)
    expect_equal(job_set.statuses(), [JobStatus.DONE] * 4, "statuses of the jobs")
    for index in range(N_CIRCUITS):
        counts = results.get_counts(index)
        expect_equal(counts, {_bits(index): SHOTS}, f"counts of circuit {index}")
        by_circuit = results.get_counts(state["transpiled"][index])
        expect_equal(by_circuit, counts, f"counts of circuit {index} looked up by circuit")
    combined = results.combine_results()
    expect_equal(len(combined.results), N_CIRCUITS, "experiments in combine_results()")
    expect(combined.success, "combine_results().success")
    report = job_set.report()
    for line in ("Total jobs: 4", "Successful jobs: 4"):
        expect(line in report, f"report() lacks {line!r}:\n{report}")
    return {"counts_0": results.get_counts(0), "counts_6": results.get_counts(6)}


@scenario.check("manager_job_attributes", needs=("manager_run",))
def _() -> dict:
    job_set = state["job_set"]
    jobs = job_set.jobs()
    expect_equal(len(jobs), 4, "jobs() of the set")
    names = [job.name() for job in jobs]
    expect_equal(names, [f"compat-set-{run_id}_{i}_" for i in range(4)], "job names")
    set_tag = f"ibmq_jobset_{job_set.job_set_id()}_"  # what retrieve_job_set looks for
    for job in jobs:
        expect(f"compat-{run_id}" in job.tags(), f"{job.job_id()} tags {job.tags()}")
        expect(set_tag in job.tags(), f"{job.job_id()} lacks {set_tag}: {job.tags()}")
        expect_equal(job.backend().name(), "ibmq_vigo", "backend of a managed job")
    experiments = [len(job.qobj().experiments) for job in jobs]
    expect_equal(experiments, [2, 2, 2, 1], "experiments per uploaded Qobj")
    return {"names": names, "experiments": experiments}


@scenario.check("retrieve_job_set", needs=("manager_results",))
def _() -> dict:
    from qiskit.providers.ibmq.managed import IBMQJobManager

    job_set = state["job_set"]
    retrieved = IBMQJobManager().retrieve_job_set(job_set.job_set_id(), state["provider"])
    expect_equal(retrieved.name(), job_set.name(), "name of the retrieved set")
    expect_equal(
        [job.job_id() for job in retrieved.jobs()],
        [job.job_id() for job in job_set.jobs()],
        "jobs of the retrieved set",
    )
    results = retrieved.results(timeout=60)
    for index in range(N_CIRCUITS):
        expect_equal(
            results.get_counts(index), {_bits(index): SHOTS}, f"retrieved counts of {index}"
        )
    return {"job_set_id": retrieved.job_set_id()}


@scenario.check("manager_waits_on_job_limit", needs=("manager_results",))
def _() -> dict:
    from qiskit.providers.ibmq import IBMQBackend
    from qiskit.providers.ibmq.exceptions import IBMQBackendJobLimitError
    from qiskit.providers.ibmq.managed import IBMQJobManager
    from qiskit.providers.jobstatus import JobStatus

    vigo = state["vigo"]
    expect_equal(vigo.job_limit().maximum_jobs, ctx["vigo"]["max_jobs"], "ibmq_vigo limit")
    refusals: list = []
    submit = IBMQBackend._submit_job

    def recording_submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return submit(self, *args, **kwargs)
        except IBMQBackendJobLimitError as error:
            refusals.append(str(error))
            raise

    IBMQBackend._submit_job = recording_submit
    try:
        job_set = IBMQJobManager().run(
            state["transpiled"],
            backend=vigo,
            name=f"compat-limit-{run_id}",
            max_experiments_per_job=1,
            shots=SHOTS,
        )
        results = job_set.results(timeout=120)
    finally:
        IBMQBackend._submit_job = submit
    expect_equal(len(job_set.jobs()), N_CIRCUITS, "one job per circuit")
    expect(all(m.submit_error is None for m in job_set.managed_jobs()), "a submit failed")
    expect_equal(job_set.statuses(), [JobStatus.DONE] * N_CIRCUITS, "statuses")
    for index in range(N_CIRCUITS):
        expect_equal(results.get_counts(index), {_bits(index): SHOTS}, f"counts of {index}")
    expect(refusals, "the service never refused a job with 3458: the limit was not exercised")
    expect(all("3458" in message for message in refusals), refusals)
    return {"refusals_3458": len(refusals)}


scenario.finish()
