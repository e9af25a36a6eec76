"""The experiment headers of the converted Qobj format Aer's outcomes as Aer itself does.

A Qobj result carries outcomes as hex strings (``"0x5"``) and the client turns them into
the bitstrings Qiskit users know (``"10 1"``: registers separated by spaces, last register
first) with the experiment header's ``creg_sizes`` and ``memory_slots``. Running the
original circuits on AerSimulator gives both the hex outcomes and Qiskit's own formatting;
formatting the hex outcomes with the converted headers must give the same keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.result.postprocess import format_counts, format_level_2_memory
from qiskit_aer import AerSimulator

from ibmq_async.circuits import circuits_to_qobj

DATA = Path(__file__).parent.parent / "data" / "circuits"
SHOTS = 300
SEED = 1234


def load(name: str) -> QuantumCircuit:
    text = (DATA / f"{name}.qasm").read_text()
    circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    circuit.name = name
    return circuit


def header_of(circuit: QuantumCircuit) -> dict[str, Any]:
    qobj = circuits_to_qobj(circuit, backend_name="aer_simulator", backend_version="0.18")
    header: dict[str, Any] = qobj["experiments"][0]["header"]
    return header


@pytest.fixture(scope="module")
def simulator() -> AerSimulator:
    return AerSimulator(method="statevector")


@pytest.mark.parametrize(
    "name",
    ["bell", "multi_creg", "two_qregs", "conditionals", "ghz", "standard_gates"],
)
def test_headers_reproduce_aer_count_and_memory_keys(simulator: AerSimulator, name: str) -> None:
    # Transpiled as a user would (Aer has no 'ch' instruction); registers are kept.
    circuit = transpile(load(name), simulator, seed_transpiler=SEED)
    result = simulator.run(circuit, shots=SHOTS, seed_simulator=SEED, memory=True).result()
    data = result.data(0)
    header = header_of(circuit)

    assert format_counts(data["counts"], header) == result.get_counts(0)
    assert format_level_2_memory(data["memory"], header) == result.get_memory(0)
    assert sum(result.get_counts(0).values()) == SHOTS


def test_registers_are_separated_last_register_first(simulator: AerSimulator) -> None:
    # multi_creg: a = q0 after H, b = (q2 = 1, q1 = q0): "b1 b0 a0".
    circuit = load("multi_creg")
    result = simulator.run(circuit, shots=SHOTS, seed_simulator=SEED).result()
    counts = format_counts(result.data(0)["counts"], header_of(circuit))
    assert set(counts) <= {"01 0", "11 1"}
    assert set(counts) == set(result.get_counts(0))


def test_circuit_without_classical_bits_gives_no_outcomes(simulator: AerSimulator) -> None:
    circuit = load("no_clbits")
    header = header_of(circuit)
    assert header["memory_slots"] == 0
    result = simulator.run(circuit, shots=SHOTS, seed_simulator=SEED).result()
    assert "counts" not in result.data(0)  # as with terra's Qobj: nothing was measured
