"""Regenerate the reference Qobj files of this directory with the original stack.

The ``*.qobj.json`` files here are what qiskit-terra 0.46.3's ``qiskit.assemble`` produced
for the circuits described in ``cases.json`` (OpenQASM 2 sources in ``*.qasm``; the
parameterized circuit is built by :func:`build_parameterized`, which the unit tests repeat
with Qiskit 2). They are serialized with qiskit-ibmq-provider 0.20.2's ``IQXJsonEncoder``,
that is, exactly as the original client uploaded them.

Run it with an interpreter that has qiskit-terra 0.46.3 and qiskit-ibmq-provider 0.20.2::

    python tests/data/circuits/generate_reference.py

The test suite does not run this script; it only reads its output.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore")

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, assemble, qasm2  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.circuit.library import RZGate  # noqa: E402
from qiskit.providers.ibmq.utils.json_encoder import IQXJsonEncoder  # noqa: E402

HERE = Path(__file__).parent


def build_parameterized(name: str) -> QuantumCircuit:
    """The parameterized circuit of the ``builder: parameterized`` cases."""
    theta = Parameter("theta")
    phi = Parameter("phi")
    qc = QuantumCircuit(
        QuantumRegister(2, "q"), ClassicalRegister(2, "c"), name=name, global_phase=theta / 2
    )
    qc.rx(theta, 0)
    qc.ry(2 * theta + phi, 1)
    qc.append(RZGate(phi, label="phase"), [1])
    qc.cx(0, 1)
    qc.p(theta * phi, 0)
    qc.measure([0, 1], [0, 1])
    return qc


def load_circuit(spec: dict[str, Any]) -> QuantumCircuit:
    if "qasm" in spec:
        text = (HERE / spec["qasm"]).read_text()
        qc = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    else:
        qc = build_parameterized(spec["name"])
    qc.name = spec["name"]
    if "global_phase" in spec:
        qc.global_phase = spec["global_phase"]
    if "metadata" in spec:
        qc.metadata = spec["metadata"]
    if "bind" in spec:
        by_name = {p.name: p for p in qc.parameters}
        qc.assign_parameters({by_name[k]: v for k, v in spec["bind"].items()}, inplace=True)
    return qc


def main() -> None:
    manifest = json.loads((HERE / "cases.json").read_text())
    backend = manifest["backend"]
    for case, spec in manifest["cases"].items():
        circuits = [load_circuit(c) for c in spec["circuits"]]
        options = dict(spec["options"])
        header = {**backend, **options.pop("header", {})}
        run_config = options.pop("run_config", {})
        binds = options.pop("parameter_binds", None)
        if binds is not None:
            by_name = {p.name: p for p in circuits[0].parameters}
            binds = [{by_name[k]: v for k, v in bind.items()} for bind in binds]
        qobj = assemble(
            circuits, qobj_header=header, parameter_binds=binds, **options, **run_config
        )
        text = json.dumps(qobj.to_dict(), cls=IQXJsonEncoder, indent=1)
        (HERE / f"{case}.qobj.json").write_text(text + "\n")
        print(case, len(text))


if __name__ == "__main__":
    main()
