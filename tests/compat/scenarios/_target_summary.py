"""A Qiskit ``Target`` as plain JSON, for comparing two targets across environments.

Imported by ``runtime_sdk_pieces.py`` (in qiskit-ibm-runtime's environment) and by
``tests/compat/test_runtime_sdk_pieces.py`` (in the project's), so both sides summarise a
target the same way. Needs nothing but the target itself.
"""

from __future__ import annotations

from typing import Any


def target_summary(target: Any) -> dict[str, Any]:
    """Each instruction with its qubits and their ``[error, duration]`` (``None`` for an
    instruction on any qubits), the qubit properties, ``num_qubits``, ``dt`` and the
    timing granularity."""
    operations: dict[str, Any] = {}
    for name in sorted(target.operation_names):
        qargs = target[name]
        operations[name] = (
            None
            if qargs is None
            else {
                ",".join(map(str, key)) if key else "": (
                    None if value is None else [value.error, value.duration]
                )
                for key, value in qargs.items()
            }
        )
    qubits = target.qubit_properties
    return {
        "operations": operations,
        "num_qubits": target.num_qubits,
        "dt": target.dt,
        "granularity": target.granularity,
        "qubit_properties": None
        if qubits is None
        else [[qubit.t1, qubit.t2, qubit.frequency] for qubit in qubits],
    }
