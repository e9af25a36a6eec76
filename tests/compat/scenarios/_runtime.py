"""What the qiskit-ibm-runtime scenarios share. Runs inside the runtime environment.

The scenarios connect the way docs/platform.md tells users to: ``IAM_URL``,
``GLOBAL_SEARCH_URL`` and ``GLOBAL_CATALOG_URL`` in the environment (set by the test), and
``QiskitRuntimeService(channel="ibm_quantum_platform", token=API_KEY, instance=CRN,
url=ROOT, url_resolver=lambda *args, **kwargs: f"{ROOT}/api/v1")``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

warnings.filterwarnings("ignore")
logging.getLogger("qiskit_ibm_runtime").setLevel(logging.ERROR)


def connect(ctx: dict[str, Any], api_key: str | None = None, instance: str | None = None) -> Any:
    """A ``QiskitRuntimeService`` on the local service."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    root = ctx["root"]
    return QiskitRuntimeService(
        channel="ibm_quantum_platform",
        token=api_key or ctx["api_key"],
        instance=instance or ctx["instance"],
        url=root,
        url_resolver=lambda *args, **kwargs: f"{root}/api/v1",
    )


def bell(measure: bool = True) -> Any:
    """A Bell pair, measured into ``meas`` unless asked otherwise."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def isa(circuit: Any, backend: Any) -> Any:
    """The circuit transpiled for the backend (an ISA circuit)."""
    from qiskit.transpiler import generate_preset_pass_manager

    return generate_preset_pass_manager(
        backend=backend, optimization_level=1, seed_transpiler=7
    ).run(circuit)
