"""One job on ibmq_vigo, from circuit to result: transpile + assemble + run of a random
5-qubit depth-4 circuit, wait_for_final_state through the websocket, the counts,
retrieve_job, update_name, update_tags, and a job the service fails."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from _harness import Scenario, connect, expect, expect_equal

SHOTS = 4096
SEED_CIRCUIT = 30  # 32 outcomes of non-zero probability: a demanding distribution
SEED_SIMULATOR = 42
WEBSOCKET_WAIT_LIMIT = 5.0  # the client's polling interval: a wait that polled takes longer

scenario = Scenario()
ctx = scenario.context
run_id = uuid.uuid4().hex[:8]
state: dict = {}


def _instrument_waits() -> dict:
    """Record how the client waits: websocket sessions, their pushes, and any polling."""
    from qiskit.providers.ibmq.api.clients.account import AccountClient

    record: dict = {"websocket": [], "pushed": [], "polling": 0}
    websocket = AccountClient._job_final_status_websocket
    polling = AccountClient._job_final_status_polling

    def websocket_wait(self, job_id, timeout=None, status_queue=None):  # type: ignore[no-untyped-def]
        if status_queue is not None:
            put = status_queue.put

            def recording_put(item, *args, **kwargs):  # type: ignore[no-untyped-def]
                record["pushed"].append(item.get("status"))
                return put(item, *args, **kwargs)

            status_queue.put = recording_put
        try:
            response = websocket(self, job_id, timeout=timeout, status_queue=status_queue)
        except Exception as error:
            record["websocket"].append(f"raised {type(error).__name__}: {error}")
            raise
        record["websocket"].append(response)
        return response

    def polling_wait(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        record["polling"] += 1
        return polling(self, *args, **kwargs)

    AccountClient._job_final_status_websocket = websocket_wait
    AccountClient._job_final_status_polling = polling_wait
    return record


@scenario.check("enable_account")
def _() -> str:
    state["provider"] = provider = connect(scenario)
    state["vigo"] = provider.get_backend("ibmq_vigo")
    state["waits"] = _instrument_waits()
    return str(provider)


@scenario.check("transpile_assemble", needs=("enable_account",))
def _() -> dict:
    from qiskit import assemble, transpile
    from qiskit.circuit.random import random_circuit
    from qiskit.qobj import QasmQobj
    from qiskit.quantum_info import Statevector

    vigo = state["vigo"]
    circuit = random_circuit(5, 4, measure=True, seed=SEED_CIRCUIT)
    expect_equal(circuit.num_qubits, 5, "qubits of the random circuit")
    expect_equal(circuit.remove_final_measurements(inplace=False).depth(), 4, "circuit depth")
    transpiled = transpile(circuit, vigo, seed_transpiler=7, optimization_level=1)
    config = vigo.configuration()
    coupling = {tuple(pair) for pair in config.coupling_map}
    for instruction in transpiled.data:
        name = instruction.operation.name
        expect(
            name in config.basis_gates or name in ("measure", "barrier"),
            f"{name} is not a basis gate of ibmq_vigo",
        )
        if instruction.operation.num_qubits == 2:
            pair = tuple(transpiled.find_bit(q).index for q in instruction.qubits)
            expect(pair in coupling, f"{name} on uncoupled qubits {pair}")
    qobj = assemble(transpiled, vigo, shots=SHOTS, seed_simulator=SEED_SIMULATOR)
    expect(isinstance(qobj, QasmQobj), f"assemble gave {type(qobj)}")
    expect_equal(qobj.config.shots, SHOTS, "qobj shots")
    ideal = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities_dict()
    state.update(circuit=circuit, transpiled=transpiled, qobj=qobj, ideal=ideal)
    return {"depth": transpiled.depth(), "ops": dict(transpiled.count_ops())}


@scenario.check("run", needs=("transpile_assemble",))
def _() -> dict:
    from qiskit.providers.ibmq.job import IBMQJob
    from qiskit.providers.jobstatus import JOB_FINAL_STATES

    vigo = state["vigo"]
    name = f"compat-run-{run_id}"
    tags = [f"compat-{run_id}", "compat-run"]
    before = datetime.now(timezone.utc)
    job = vigo.run(state["qobj"], job_name=name, job_tags=tags)
    state["submitted"] = time.monotonic()
    expect(isinstance(job, IBMQJob), f"run() gave {job!r}")
    expect(job.job_id(), "the job has no id")
    expect_equal(job.backend().name(), "ibmq_vigo", "job.backend()")
    expect_equal(job.name(), name, "job.name()")
    expect_equal(sorted(job.tags()), sorted(tags), "job.tags()")
    created = job.creation_date()
    expect(
        before - timedelta(minutes=1) < created < datetime.now(timezone.utc) + timedelta(minutes=1),
        f"creation_date {created} is not now",
    )
    status = job._status  # what jobDataUploaded said, without another request
    expect(status not in JOB_FINAL_STATES, f"the job was final ({status}) at submission")
    state.update(job=job, name=name, tags=tags)
    return {"job_id": job.job_id(), "status": status.name, "created": created.isoformat()}


@scenario.check("wait_for_final_state_websocket", needs=("run",))
def _() -> dict:
    from qiskit.providers.jobstatus import JobStatus

    job, waits = state["job"], state["waits"]
    seen: list = []

    def callback(job_id, status, job, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(status.name)

    started = time.monotonic()
    job.wait_for_final_state(timeout=60, callback=callback)
    elapsed = time.monotonic() - started
    expect_equal(job.status(), JobStatus.DONE, "status after wait_for_final_state")
    expect_equal(waits["polling"], 0, "HTTP polling waits (the websocket should have served)")
    expect_equal(len(waits["websocket"]), 1, f"websocket waits: {waits['websocket']}")
    final = waits["websocket"][0]
    expect(isinstance(final, dict), f"the websocket wait ended with {final!r}")
    expect_equal(final.get("status"), "COMPLETED", "final status pushed on the websocket")
    expect(
        "RUNNING" in waits["pushed"],
        f"the websocket pushed no RUNNING before the end: {waits['pushed']}",
    )
    expect(
        elapsed < WEBSOCKET_WAIT_LIMIT,
        f"the wait took {elapsed:.2f} s, as long as the client's polling interval",
    )
    return {"seconds": round(elapsed, 3), "pushed": waits["pushed"], "callback": seen}


@scenario.check("result_counts", needs=("wait_for_final_state_websocket",))
def _() -> dict:
    job = state["job"]
    result = job.result()
    expect(result.success, "result().success is false")
    expect_equal(result.backend_name, "ibmq_vigo", "result().backend_name")
    expect_equal(result.job_id, job.job_id(), "result().job_id")
    counts = result.get_counts()
    expect_equal(sum(counts.values()), SHOTS, "sum of the counts")
    expect(all(len(key) == 5 and set(key) <= {"0", "1"} for key in counts), list(counts))
    # The service simulates without noise: the counts follow the ideal distribution.
    ideal = state["ideal"]
    keys = set(ideal) | set(counts)
    distance = 0.5 * sum(abs(counts.get(k, 0) / SHOTS - ideal.get(k, 0.0)) for k in keys)
    expect(distance < 0.06, f"total variation distance to the ideal distribution {distance}")
    # Seeded: the same Qobj gives the same counts (checked again on the retrieved job).
    state["counts"] = counts
    return {"outcomes": len(counts), "tvd": round(distance, 4)}


@scenario.check("retrieve_job", needs=("result_counts",))
def _() -> dict:
    from qiskit.providers.ibmq.exceptions import IBMQBackendApiError
    from qiskit.providers.jobstatus import JobStatus
    from qiskit.providers.models import BackendProperties

    provider, job = state["provider"], state["job"]
    again = provider.backend.retrieve_job(job.job_id())
    expect_equal(again.job_id(), job.job_id(), "retrieved job_id")
    expect_equal(again.status(), JobStatus.DONE, "retrieved status")
    expect_equal(again.name(), state["name"], "retrieved name")
    expect_equal(sorted(again.tags()), sorted(state["tags"]), "retrieved tags")
    expect_equal(again.backend().name(), "ibmq_vigo", "retrieved backend")
    expect_equal(again.creation_date(), job.creation_date(), "retrieved creation_date")
    expect_equal(again.result().get_counts(), state["counts"], "retrieved counts")
    qobj = again.qobj()
    expect_equal(qobj.to_dict(), state["qobj"].to_dict(), "the Qobj downloaded back")
    expect_equal(len(again.circuits()), 1, "circuits() of the retrieved job")
    expect(isinstance(again.properties(), BackendProperties), "job.properties()")
    expect_equal(
        again.client_version,
        {"qiskit-ibmq-provider": "0.20.2", "qiskit-terra": "0.46.3"},
        "client_version (from the X-Qx-Client-Application header)",
    )
    expect(again.scheduling_mode() in ("fairshare", "dedicated"), again.scheduling_mode())
    steps = again.time_per_step()
    expect("COMPLETED" in steps, f"time_per_step has no COMPLETED: {steps}")
    try:
        provider.backend.retrieve_job("0" * 24)
    except IBMQBackendApiError as error:
        missing = str(error)
    else:
        raise AssertionError("retrieve_job of an unknown id did not raise")
    return {"time_per_step": sorted(steps), "unknown_job": missing[:160]}


@scenario.check("update_name", needs=("run",))
def _() -> dict:
    job, provider = state["job"], state["provider"]
    new_name = f"compat-renamed-{run_id}"
    echoed = job.update_name(new_name)
    expect_equal(echoed, new_name, "update_name() return value")
    expect_equal(job.name(), new_name, "job.name() after update_name")
    expect_equal(
        provider.backend.retrieve_job(job.job_id()).name(), new_name, "name on the service"
    )
    listed = provider.backend.jobs(job_name=f"^{new_name}$", limit=5)
    expect_equal([j.job_id() for j in listed], [job.job_id()], "jobs(job_name=new name)")
    return new_name


@scenario.check("update_tags", needs=("run",))
def _() -> dict:
    job, provider = state["job"], state["provider"]
    base = f"compat-{run_id}"
    added = job.update_tags(additional_tags=[f"{base}-a", f"{base}-b"], removal_tags=["compat-run"])
    expect_equal(sorted(added), sorted([base, f"{base}-a", f"{base}-b"]), "tags after add/remove")
    expect_equal(sorted(job.tags()), sorted(added), "job.tags() after update_tags")
    replaced = job.update_tags(replacement_tags=[f"{base}-only"])
    expect_equal(replaced, [f"{base}-only"], "tags after replacement")
    on_service = provider.backend.retrieve_job(job.job_id()).tags()
    expect_equal(on_service, [f"{base}-only"], "tags on the service")
    listed = provider.backend.jobs(job_tags=[f"{base}-only"], limit=5)
    expect_equal([j.job_id() for j in listed], [job.job_id()], "jobs(job_tags=new tag)")
    expect_equal(provider.backend.jobs(job_tags=[f"{base}-a"], limit=5), [], "removed tag")
    return {"added": sorted(added), "replaced": replaced}


@scenario.check("wait_by_polling", needs=("result_counts",))
def _() -> dict:
    from qiskit.providers.ibmq.api.clients.account import AccountClient
    from qiskit.providers.ibmq.api.exceptions import WebsocketError
    from qiskit.providers.jobstatus import JobStatus

    # A client whose websocket fails falls back to GET .../status/v/1 every `wait` s.
    waits, websocket = state["waits"], AccountClient._job_final_status_websocket

    def failing_websocket(self, job_id, timeout=None, status_queue=None):  # type: ignore[no-untyped-def]
        raise WebsocketError("websocket disabled by the scenario")

    polled_before = waits["polling"]
    AccountClient._job_final_status_websocket = failing_websocket
    try:
        job = state["vigo"].run(state["qobj"], job_tags=[f"compat-{run_id}-polling"])
        result = job.result(timeout=60, wait=0.2)
    finally:
        AccountClient._job_final_status_websocket = websocket
    expect_equal(waits["polling"] - polled_before, 1, "polling waits")
    expect_equal(job.status(), JobStatus.DONE, "status after polling")
    expect_equal(result.get_counts(), state["counts"], "counts of the same seeded Qobj")
    return {"job_id": job.job_id()}


@scenario.check("experiment_id", needs=("enable_account",))
def _() -> dict:
    from qiskit import QuantumCircuit

    provider = state["provider"]
    experiment = f"compat-experiment-{run_id}"
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    simulator = provider.get_backend(ctx["simulator"])
    job = simulator.run(circuit, shots=4, experiment_id=experiment)
    other = simulator.run(circuit, shots=4, job_tags=[f"compat-{run_id}-no-experiment"])
    for each in (job, other):
        each.wait_for_final_state(timeout=60)
    expect_equal(job.experiment_id, experiment, "job.experiment_id")
    retrieved = provider.backend.retrieve_job(job.job_id())
    expect_equal(retrieved.experiment_id, experiment, "experiment_id of the retrieved job")
    listed = provider.backend.jobs(experiment_id=experiment, limit=10)
    expect_equal([j.job_id() for j in listed], [job.job_id()], "jobs(experiment_id=...)")
    return experiment


@scenario.check("memory_and_experiments", needs=("enable_account",))
def _() -> dict:
    from qiskit import QuantumCircuit

    simulator = state["provider"].get_backend(ctx["simulator"])
    bell = QuantumCircuit(2, 2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    flip = QuantumCircuit(3, 3, name="flip")
    flip.x(2)
    flip.measure([0, 1, 2], [0, 1, 2])
    job = simulator.run([bell, flip], shots=100, memory=True, seed_simulator=5)
    result = job.result(timeout=60)
    memory = result.get_memory("bell")
    expect_equal(len(memory), 100, "shots in get_memory()")
    expect(set(memory) <= {"00", "11"}, f"a Bell pair measured {set(memory)}")
    bell_counts = result.get_counts("bell")
    expect_equal(sum(bell_counts.values()), 100, "sum of the Bell counts")
    expect_equal(result.get_counts("flip"), {"100": 100}, "counts of the flip circuit")
    expect_equal(result.get_memory("flip"), ["100"] * 100, "memory of the flip circuit")
    return {"bell": bell_counts}


@scenario.check("failed_job", needs=("enable_account",))
def _() -> dict:
    from qiskit import QuantumCircuit, assemble
    from qiskit.providers.ibmq.job.exceptions import IBMQJobFailureError
    from qiskit.providers.jobstatus import JobStatus

    # Seven qubits on a five-qubit device, not transpiled: the service must fail the job.
    circuit = QuantumCircuit(7, 7)
    circuit.h(6)
    circuit.measure(range(7), range(7))
    job = state["vigo"].run(assemble(circuit, shots=16), job_tags=[f"compat-{run_id}-fail"])
    job.wait_for_final_state(timeout=60)
    expect_equal(job.status(), JobStatus.ERROR, "status of a job with too many qubits")
    message = job.error_message()
    expect(message and "Error code:" in message, f"error_message() {message!r}")
    try:
        job.result()
    except IBMQJobFailureError as error:
        failure = str(error)
    else:
        raise AssertionError("result() of a failed job did not raise IBMQJobFailureError")
    return {"error_message": message, "result": failure[:200]}


scenario.finish()
