"""qiskit-ibm-runtime 0.51: SamplerV2 and EstimatorV2 jobs, retrieval, listing, tags,
metrics, usage, logs, sessions and batches, cancellation, and the errors the client turns
into its own exceptions. Runs in a time zone far from UTC (the date filters convert)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from _harness import Scenario, expect, expect_equal
from _runtime import bell, connect, isa

scenario = Scenario()
ctx = scenario.context
state: dict = {}
TAG = "compat-runtime-tag"


def _service():
    if "service" not in state:
        state["service"] = connect(ctx)
        state["device"] = state["service"].backend(ctx["device"])
    return state["service"]


@scenario.check("sampler_bell")
def _() -> dict:
    from qiskit_ibm_runtime import SamplerV2

    _service()
    circuit = isa(bell(), state["device"])
    sampler = SamplerV2(mode=state["device"])
    sampler.options.environment.job_tags = [TAG]
    job = sampler.run([circuit], shots=1000)
    state["sampler_job"] = job
    result = job.result()
    counts = result[0].data.meas.get_counts()
    expect_equal(sum(counts.values()), 1000, "shots")
    expect(set(counts) <= {"00", "11"}, f"a Bell pair gave {counts}")
    expect(min(counts.get("00", 0), counts.get("11", 0)) > 400, f"unbalanced {counts}")
    spans = result.metadata["execution"]["execution_spans"]
    expect_equal(len(spans), 1, "execution spans")
    expect_equal(spans[0].size, 1000, "execution span size")
    expect_equal(job.status(), "DONE", "status")
    return counts


@scenario.check("sampler_parameters_broadcast")
def _() -> list:
    import numpy as np
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit_ibm_runtime import SamplerV2

    _service()
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, 1)
    circuit.ry(theta, 0)
    circuit.measure(0, 0)
    values = np.array([[0.0], [np.pi], [np.pi / 2]])
    job = SamplerV2(mode=state["device"]).run([(isa(circuit, state["device"]), values, 400)])
    data = job.result()[0].data.c
    expect_equal(data.shape, (3,), "BitArray shape")
    first, second, third = (data[index].get_counts() for index in range(3))
    expect_equal(first, {"0": 400}, "theta = 0")
    expect_equal(second, {"1": 400}, "theta = pi")
    expect(100 < third.get("1", 0) < 300, f"theta = pi/2 gave {third}")
    return [first, second, third]


@scenario.check("estimator_bell")
def _() -> dict:
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_ibm_runtime import EstimatorV2

    _service()
    circuit = isa(bell(measure=False), state["device"])
    observables = [
        SparsePauliOp(label).apply_layout(circuit.layout) for label in ("ZZ", "XX", "ZI")
    ]
    job = EstimatorV2(mode=state["device"]).run([(circuit, observables)], precision=0.02)
    state["estimator_job"] = job
    result = job.result()[0]
    evs, stds = result.data.evs, result.data.stds
    expect_equal(evs.shape, (3,), "evs shape")
    expect(abs(evs[0] - 1) < 0.1 and abs(evs[1] - 1) < 0.1, f"<ZZ>, <XX> = {evs[:2]}")
    expect(abs(evs[2]) < 0.1, f"<ZI> = {evs[2]}")
    expect(all(0 <= value <= 0.03 for value in stds), f"stds {stds}")
    expect_equal(result.metadata["target_precision"], 0.02, "target_precision")
    expect_equal(result.metadata["shots"], 2500, "shots for precision 0.02")
    return {"evs": evs.tolist(), "stds": stds.tolist()}


@scenario.check("job_retrieve", needs=("sampler_bell",))
def _() -> dict:
    service = _service()
    original = state["sampler_job"]
    job = service.job(original.job_id())
    expect_equal(job.status(), "DONE", "status of the retrieved job")
    expect_equal(job.primitive_id, "sampler", "primitive_id")
    expect(job.creation_date is not None, "no creation date")
    expect_equal(sorted(job.tags), [TAG], "tags")
    counts = job.result()[0].data.meas.get_counts()
    expect_equal(counts, original.result()[0].data.meas.get_counts(), "the same result")
    inputs = job.inputs
    expect_equal(len(inputs["pubs"]), 1, "inputs' pubs")
    expect_equal(inputs["pubs"][0][2], 1000, "inputs' shots")
    return {"id": job.job_id(), "backend": job.backend().name}


@scenario.check("jobs_filters", needs=("sampler_bell", "estimator_bell"))
def _() -> dict:
    service = _service()
    sampler_id = state["sampler_job"].job_id()
    estimator_id = state["estimator_job"].job_id()
    everything = [job.job_id() for job in service.jobs(limit=None)]
    expect(sampler_id in everything and estimator_id in everything, "jobs() misses a job")
    estimators = [job.job_id() for job in service.jobs(limit=None, program_id="estimator")]
    expect(estimator_id in estimators and sampler_id not in estimators, "program_id filter")
    tagged = [job.job_id() for job in service.jobs(job_tags=[TAG])]
    expect_equal(tagged, [sampler_id], "job_tags filter")
    on_device = service.jobs(limit=None, backend_name=ctx["device"])
    expect(all(job.backend().name == ctx["device"] for job in on_device), "backend filter")
    expect_equal(service.jobs(pending=True, backend_name=ctx["device"]), [], "pending=True")
    created = state["sampler_job"].creation_date
    after = [job.job_id() for job in service.jobs(limit=None, created_after=created)]
    expect(sampler_id in after, "created_after the job's own creation date")
    before = service.jobs(limit=None, created_before=created - timedelta(seconds=1))
    expect(sampler_id not in [job.job_id() for job in before], "created_before")
    ascending = [job.job_id() for job in service.jobs(limit=None, descending=False)]
    expect_equal(ascending, list(reversed(everything)), "descending=False")
    page = [job.job_id() for job in service.jobs(limit=1, skip=1)]
    expect_equal(page, everything[1:2], "limit=1, skip=1")
    return {"jobs": len(everything), "local time of creation": datetime.now().isoformat()}


@scenario.check("update_tags", needs=("estimator_bell",))
def _() -> list:
    job = state["estimator_job"]
    tags = job.update_tags(["first", "second"])
    expect_equal(sorted(tags), ["first", "second"], "tags after update_tags")
    expect_equal(sorted(_service().job(job.job_id()).tags), ["first", "second"], "re-read")
    return tags


@scenario.check("metrics_usage_logs", needs=("sampler_bell",))
def _() -> dict:
    job = state["sampler_job"]
    metrics = job.metrics()
    for key in ("created", "running", "finished"):
        expect(metrics["timestamps"].get(key), f"no {key} timestamp: {metrics}")
    expect_equal(metrics["usage"]["status"], "final", "usage status")
    usage = job.usage()
    expect(abs(usage - 1000 * 250e-6) < 1e-6, f"job.usage() = {usage}")
    expect(job.properties() is not None, "job.properties()")
    logs = job.logs()
    expect(job.job_id() in logs and "Completed" in logs, f"logs {logs!r}")
    consumed = _service().usage()["usage_consumed_seconds"]
    expect(consumed >= usage, f"instance usage {consumed} < job usage {usage}")
    return {"usage": usage, "consumed": consumed}


@scenario.check("session")
def _() -> dict:
    from qiskit_ibm_runtime import SamplerV2, Session

    service = _service()
    circuit = isa(bell(), state["device"])
    with Session(backend=state["device"], max_time=600) as session:
        details = session.details()
        expect_equal((details["state"], details["mode"]), ("open", "dedicated"), "new session")
        expect_equal(session.status(), "Pending", "status() of a new session")
        job = SamplerV2(mode=session).run([circuit], shots=100)
        expect_equal(sum(job.result()[0].data.meas.get_counts().values()), 100, "shots")
        expect_equal(job.session_id, session.session_id, "the job's session_id")
        expect_equal(session.status(), "In progress, accepting new jobs", "status() after a job")
        expect_equal(session.details()["max_time"], 600, "max_time")
        session_id = session.session_id
    closed = service._get_api_client().session_details(session_id)
    expect_equal((closed["state"], closed["accepting_jobs"]), ("closed", False), "after close")
    listed = [j.job_id() for j in service.jobs(session_id=session_id)]
    expect_equal(listed, [job.job_id()], "jobs(session_id=...)")
    expect(session.usage() is not None and session.usage() >= 0, "session.usage()")
    return {"session": session_id, "usage": session.usage()}


@scenario.check("batch")
def _() -> dict:
    from qiskit_ibm_runtime import Batch, SamplerV2

    _service()
    circuit = isa(bell(), state["device"])
    with Batch(backend=state["device"]) as batch:
        sampler = SamplerV2(mode=batch)
        jobs = [sampler.run([circuit], shots=200) for _ in range(2)]
        results = [job.result()[0].data.meas.get_counts() for job in jobs]
        details = batch.details()
        expect_equal(details["mode"], "batch", "mode")
        expect_equal(details["usage_time"], round(2 * 200 * 250e-6, 6), "batch usage")
    for counts in results:
        expect_equal(sum(counts.values()), 200, "shots of a batch job")
    return {"batch": batch.session_id, "results": results}


@scenario.check("cancel")
def _() -> str:
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

    service = _service()
    paused = service.backend(ctx["paused"])
    job = SamplerV2(mode=paused).run([isa(bell(), paused)], shots=10)
    expect_equal(job.status(), "QUEUED", "a job on a paused backend")
    expect(job.metrics()["position_in_queue"] == 1, f"metrics {job.metrics()}")
    job.cancel()
    expect_equal(service.job(job.job_id()).status(), "CANCELLED", "status after cancel")
    try:
        job.cancel()
    except RuntimeInvalidStateError as error:
        return str(error)[:200]
    raise AssertionError("cancelling a cancelled job did not raise RuntimeInvalidStateError")


@scenario.check("session_cancel")
def _() -> dict:
    from qiskit_ibm_runtime import SamplerV2, Session

    service = _service()
    paused = service.backend(ctx["paused"])
    session = Session(backend=paused)
    job = SamplerV2(mode=session).run([isa(bell(), paused)], shots=10)
    expect_equal(job.status(), "QUEUED", "a queued session job")
    session.cancel()
    expect_equal(service.job(job.job_id()).status(), "CANCELLED", "the queued job")
    details = service._get_api_client().session_details(session.session_id)
    expect_equal(details["state"], "closed", "session state after cancel")
    return details


@scenario.check("job_failure")
def _() -> str:
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError

    _service()
    sampler = SamplerV2(mode=state["device"])
    sampler.options.experimental = {"simulate_failure": "the compat scenario asked for it"}
    job = sampler.run([isa(bell(), state["device"])], shots=10)
    try:
        job.result()
    except RuntimeJobFailureError as error:
        expect("the compat scenario asked for it" in str(error), f"message {error}")
        expect_equal(job.status(), "ERROR", "status of a failed job")
        return str(error)[:300]
    raise AssertionError("a failed job did not raise RuntimeJobFailureError")


@scenario.check("server_refuses_a_circuit_that_is_not_isa")
def _() -> str:
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    service = _service()
    try:
        service._run(
            program_id="sampler",
            inputs={"pubs": [(bell(), None, 10)], "version": 2},
            options={"backend": state["device"]},
        )
    except IBMRuntimeError as error:
        expect("400" in str(error) and "ISA" in str(error), f"message {error}")
        return str(error)[:300]
    raise AssertionError("a circuit that is not ISA was accepted")


@scenario.check("job_not_found_and_delete", needs=("estimator_bell",))
def _() -> str:
    from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

    service = _service()
    job_id = state["estimator_job"].job_id()
    other = connect(ctx, api_key=ctx["other_api_key"], instance=ctx["other_instance"])
    try:
        other.job(job_id)
    except RuntimeJobNotFound:
        pass
    else:
        raise AssertionError("another account's service saw the job")
    service.delete_job(job_id)
    try:
        service.job(job_id)
    except RuntimeJobNotFound as error:
        return str(error)[:200]
    raise AssertionError("a deleted job was found")


@scenario.check("usage_limit")
def _() -> dict:
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    service = connect(ctx, instance=ctx["small_instance"])
    backend = service.backend(ctx["small_device"])
    circuit = isa(bell(), backend)
    job = SamplerV2(mode=backend).run([circuit], shots=4096)
    job.result()
    usage = service.usage()
    expect(usage["usage_limit_reached"], f"usage {usage}")
    expect_equal(usage["usage_remaining_seconds"], 0, "usage_remaining_seconds")
    try:
        SamplerV2(mode=backend).run([circuit], shots=10)
    except IBMRuntimeError as error:
        expect("409" in str(error), f"message {error}")
        return {"usage": usage, "error": str(error)[:200]}
    raise AssertionError("a job past the instance's allocation was created")


@scenario.check("rate_limit")
def _() -> dict:
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    service = connect(ctx, api_key=ctx["limited_api_key"])
    backend = service.backend(ctx["simulator"])
    sampler = SamplerV2(mode=backend)
    circuit = bell()
    started = time.monotonic()
    for _ in range(ctx["rate_limit"]):
        sampler.run([circuit], shots=10)
    try:
        sampler.run([circuit], shots=10)
    except IBMRuntimeError as error:
        expect("429" in str(error), f"message {error}")
    else:
        raise AssertionError(f"job {ctx['rate_limit'] + 1} in the window was created")
    time.sleep(max(ctx["rate_window"] - (time.monotonic() - started), 0) + 0.3)
    job = sampler.run([circuit], shots=10)
    expect_equal(sum(job.result()[0].data.meas.get_counts().values()), 10, "after the window")
    return {"limit": ctx["rate_limit"], "window": ctx["rate_window"]}


@scenario.check("results_decoded_by_the_client_decoder", needs=("sampler_bell",))
def _() -> dict:
    from qiskit.primitives.containers import PrimitiveResult, SamplerPubResult
    from qiskit_ibm_runtime import RuntimeDecoder
    from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans

    raw = _service()._active_api_client.job_results(state["sampler_job"].job_id())
    result = json.loads(raw, cls=RuntimeDecoder)
    expect(isinstance(result, PrimitiveResult), f"decoded {type(result)}")
    expect(isinstance(result[0], SamplerPubResult), f"pub result {type(result[0])}")
    spans = result.metadata["execution"]["execution_spans"]
    expect(isinstance(spans, ExecutionSpans), f"spans {type(spans)}")
    expect(isinstance(spans[0], DoubleSliceSpan), f"span {type(spans[0])}")
    expect_equal(spans[0].pub_idxs, [0], "span PUBs")
    document = json.loads(raw)
    data_bin = document["__value__"]["pub_results"][0]["__value__"]["data"]["__value__"]
    expect_equal(data_bin["field_names"], ["meas"], "field_names")
    return {"types": [type(result).__name__, type(spans[0]).__name__]}


scenario.finish()
