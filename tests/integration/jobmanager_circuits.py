"""Circuits whose counts name them: circuit ``i`` measures the binary digits of ``i``."""

from __future__ import annotations

from qiskit import QuantumCircuit

WIDTH = 9


def numbered_circuit(index: int) -> QuantumCircuit:
    """A circuit that always measures ``index`` in binary, over ``WIDTH`` bits."""
    circuit = QuantumCircuit(WIDTH, WIDTH, name=f"n{index}")
    for bit in range(WIDTH):
        if index >> bit & 1:
            circuit.x(bit)
    circuit.measure(range(WIDTH), range(WIDTH))
    return circuit


def numbered_circuits(count: int) -> list[QuantumCircuit]:
    """Circuits ``0 .. count-1``."""
    return [numbered_circuit(index) for index in range(count)]


def expected_counts(index: int, shots: int) -> dict[str, int]:
    """The counts circuit ``index`` gives on an ideal simulator."""
    return {format(index, f"0{WIDTH}b"): shots}
