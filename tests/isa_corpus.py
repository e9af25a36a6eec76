"""Circuits on which the SDK's ISA check and the local service's must agree, per device.

:func:`isa_corpus` gives, for one backend configuration, circuits that both accept
(transpiled random circuits, every basis gate on every qubit, every two-qubit gate on every
coupled pair, measure/reset/delay/barrier, the control flow the device lists), circuits
that both refuse (a gate outside the basis, an uncoupled pair, too many qubits, control
flow the device does not have, a bad gate inside a control-flow body), and the circuits on
which they are known to differ, each with who accepts it and why (docs/platform.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["both", "neither", "client only", "service only"]
"""Who accepts a circuit: the SDK's check (``client``) and the local service."""

CONTROL_FLOW = ("if_else", "for_loop", "switch_case", "while_loop")


@dataclass(frozen=True)
class Case:
    """One circuit of the corpus and who accepts it."""

    label: str
    circuit: Any
    verdict: Verdict
    why: str = ""


def _edges(configuration: dict[str, Any]) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in configuration.get("coupling_map") or []]


def _two_qubit_gate(configuration: dict[str, Any]) -> str:
    for gate in configuration["basis_gates"]:
        if gate in ("cx", "cz", "ecr"):
            return str(gate)
    raise AssertionError("no two-qubit basis gate")


def isa_corpus(configuration: dict[str, Any], target: Any, seed: int = 11) -> list[Case]:
    """The corpus of one device (``target`` is the SDK's target of it, for transpiling)."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.classical import expr, types
    from qiskit.circuit.random import random_circuit

    n_qubits = int(configuration["n_qubits"])
    basis = [str(gate) for gate in configuration["basis_gates"]]
    listed = set(configuration.get("supported_instructions") or ())
    edges = _edges(configuration)
    two = _two_qubit_gate(configuration)
    cases: list[Case] = []

    for number in range(4):
        width = min(5, n_qubits)
        raw = random_circuit(width, 4, max_operands=2, measure=True, seed=seed + number)
        raw.name = f"random-{number}"
        isa = transpile(raw, target=target, seed_transpiler=seed + number)
        cases.append(Case(f"transpiled random circuit {number}", isa, "both"))

    singles = QuantumCircuit(n_qubits, name="every basis gate")
    for qubit in range(n_qubits):
        for gate in basis:
            if gate == "rz":
                singles.rz(0.3, qubit)
            elif gate in ("x", "sx", "id"):
                getattr(singles, gate)(qubit)
    cases.append(Case("every one-qubit basis gate on every qubit", singles, "both"))

    pairs = QuantumCircuit(n_qubits, name="every coupling")
    for a, b in edges:
        getattr(pairs, two)(a, b)
    cases.append(Case(f"{two} on every coupled pair", pairs, "both"))

    plumbing = QuantumCircuit(n_qubits, n_qubits, name="plumbing")
    plumbing.reset(range(n_qubits))
    plumbing.delay(100, 0, unit="dt")
    plumbing.barrier()
    plumbing.measure(range(n_qubits), range(n_qubits))
    cases.append(Case("reset, delay, barrier and measure on every qubit", plumbing, "both"))

    outside = QuantumCircuit(2, name="hadamard")
    outside.h(0)
    cases.append(Case("a gate outside the basis", outside, "neither"))

    uncoupled = next(
        (a, b) for a in range(n_qubits) for b in range(n_qubits) if a != b and (a, b) not in edges
    )
    apart = QuantumCircuit(n_qubits, name="uncoupled")
    getattr(apart, two)(*uncoupled)
    cases.append(Case(f"{two} on the uncoupled pair {uncoupled}", apart, "neither"))

    other = "cz" if two != "cz" else "cx"
    foreign = QuantumCircuit(2, name="foreign two-qubit gate")
    getattr(foreign, other)(*edges[0])
    cases.append(Case(f"{other}, not in the basis, on a coupled pair", foreign, "neither"))

    wide = QuantumCircuit(n_qubits + 1, name="too wide")
    wide.x(n_qubits)
    cases.append(Case("more qubits than the device", wide, "neither"))

    dynamic = bool(listed & set(CONTROL_FLOW))
    branch = QuantumCircuit(2, 1, name="if_else")
    branch.measure(0, 0)
    with branch.if_test((branch.clbits[0], True)):
        branch.x(1)
    loop = QuantumCircuit(2, 1, name="for_loop")
    with loop.for_loop(range(2)):
        loop.x(0)
    switch = QuantumCircuit(2, 1, name="switch_case")
    switch.measure(0, 0)
    with switch.switch(switch.clbits[0]) as case:
        with case(0):
            switch.x(1)
        with case(1):
            switch.sx(1)
    repeat = QuantumCircuit(2, 1, name="while_loop")
    repeat.measure(0, 0)
    with repeat.while_loop((repeat.clbits[0], True)):
        repeat.x(0)
        repeat.measure(0, 0)
    for name, circuit in (
        ("if_else", branch),
        ("for_loop", loop),
        ("switch_case", switch),
        ("while_loop", repeat),
    ):
        if name in listed:
            cases.append(Case(f"{name}, which the device lists", circuit, "both"))
        elif dynamic:
            cases.append(
                Case(
                    f"{name}, which the device does not list among its control flow",
                    circuit,
                    "service only",
                    "the service takes any control flow once a device lists one; the target "
                    "has only the control flow the device lists (as qiskit-ibm-runtime builds it)",
                )
            )
        else:
            cases.append(Case(f"{name} on a device without dynamic circuits", circuit, "neither"))

    if dynamic:
        bad_body = QuantumCircuit(2, 1, name="bad body")
        bad_body.measure(0, 0)
        with bad_body.if_test((bad_body.clbits[0], True)):
            bad_body.h(1)
        cases.append(Case("a gate outside the basis inside an if_else body", bad_body, "neither"))

    stored = QuantumCircuit(1, 1, name="store")
    flag = stored.add_var("flag", expr.lift(False, types.Bool()))
    stored.measure(0, 0)
    stored.store(flag, expr.lift(stored.clbits[0]))
    cases.append(
        Case(
            "a store of a classical variable",
            stored,
            "client only",
            "qiskit-ibm-runtime's is_isa_circuit takes store on any backend (it acts on no "
            "qubit); the service does not know the instruction",
        )
    )
    return cases
