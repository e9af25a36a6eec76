"""qiskit-ibm-runtime 0.51: SamplerV2 and EstimatorV2 with the options and PUBs of
``_primitive_cases.py``, in job mode, in a ``Session`` and in a ``Batch``, on the account
of another instance (so its jobs are in no listing of the other scenarios).

Each check runs the cases of one primitive, waits for every job's result, and writes
``runtime_primitives.<check>.json``: each case's job id and session id, for
``tests/compat/test_platform_primitives_compat.py`` to compare with the jobs the SDK's
primitives make from the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _harness import Scenario, expect, expect_equal
from _primitive_cases import CASES
from _runtime import bell, connect, isa

scenario = Scenario()
ctx = scenario.context
state: dict[str, Any] = {}


def _write(check: str, value: object) -> str:
    name = f"runtime_primitives.{check}.json"
    Path(name).write_text(json.dumps(value), encoding="utf-8")
    return name


def _device() -> Any:
    if "device" not in state:
        service = connect(ctx, api_key=ctx["other_api_key"], instance=ctx["other_instance"])
        state["device"] = service.backend(ctx["device"])
    return state["device"]


def _circuits() -> dict[str, Any]:
    if "circuits" not in state:
        from qiskit import QuantumCircuit
        from qiskit.circuit import Parameter

        theta = Parameter("theta")
        ry = QuantumCircuit(1, 1, name="ry")
        ry.ry(theta, 0)
        ry.measure(0, 0)
        device = _device()
        state["circuits"] = {
            "bell": isa(bell(), device),
            "bell_unmeasured": isa(bell(measure=False), device),
            "ry": isa(ry, device),
        }
    return state["circuits"]


def _pub(kind: str, spec: list[Any]) -> tuple[Any, ...]:
    import numpy as np
    from qiskit.quantum_info import SparsePauliOp

    circuit = _circuits()[spec[0]]
    rest = list(spec[1:])
    if kind == "estimator":
        rest[0] = [SparsePauliOp(label).apply_layout(circuit.layout) for label in rest[0]]
        if len(rest) > 1 and rest[1] is not None:
            rest[1] = np.array(rest[1])
    elif rest and rest[0] is not None:
        rest[0] = np.array(rest[0])
    return (circuit, *rest)


def _run(kind: str, case: dict[str, Any]) -> dict[str, Any]:
    from qiskit_ibm_runtime import Batch, EstimatorV2, SamplerV2, Session

    primitive = SamplerV2 if kind == "sampler" else EstimatorV2
    pubs = [_pub(kind, spec) for spec in case["pubs"]]
    if case["mode"] == "job":
        job = primitive(mode=_device(), options=case["options"]).run(pubs, **case["run"])
        session_id = None
    else:
        kind_of_session = Session if case["mode"] == "session" else Batch
        with kind_of_session(backend=_device(), max_time=case["max_time"]) as session:
            job = primitive(mode=session, options=case["options"]).run(pubs, **case["run"])
            session_id = session.session_id
        expect_equal(job.session_id, session_id, f"{case['name']}: the job's session_id")
    result = job.result()
    expect_equal(len(result), len(pubs), f"{case['name']}: PUB results")
    expect(job.status() == "DONE", f"{case['name']}: {job.status()}")
    return {"name": case["name"], "job": job.job_id(), "session": session_id}


def _check(kind: str) -> None:
    @scenario.check(kind)
    def _() -> dict[str, Any]:
        jobs = [_run(kind, case) for case in CASES[kind]]
        return {"file": _write(kind, jobs), "jobs": len(jobs)}


for _kind in CASES:
    _check(_kind)


scenario.finish()
