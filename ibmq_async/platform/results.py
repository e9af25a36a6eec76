"""Sampler results as the classic :class:`~ibmq_async.models.Result`.

``backend.run`` on the platform channel submits a sampler job; its result, a
``PrimitiveResult`` decoded by ``ibmq_async.runtime_json.loads`` from
``GET /v1/jobs/{id}/results`` (docs/platform.md §6), holds one ``BitArray`` per classical
register of each circuit. :func:`sampler_result_to_result` turns it into the ``Result``
the classic channel returns for the same circuits, so code written for it runs unchanged:

* one experiment per circuit (per parameter set, named ``"<name>-<k>"`` as the classic
  channel names bound circuits, for a PUB that has several);
* counts and per-shot memory as hex outcomes of the memory slots, the circuit's classical
  registers laid out in order from the lowest slot, so ``get_counts()`` and
  ``get_memory()`` give Qiskit's keys (registers split by spaces, the last register
  first), exactly as the classic service's results do; a circuit that measured nothing
  has no counts (``get_counts()`` says so), as on the classic channel;
* the experiment header the classic channel sends and gets back (``name``,
  ``creg_sizes``, ``memory_slots``, ``clbit_labels``, ``qreg_sizes``, ``qubit_labels``,
  ``n_qubits``, ``global_phase``, ``metadata``), shots, ``success``, the job id and the
  backend's name and version.

The circuits that were sent give the registers' order, the names and the headers. Without
them (a job retrieved in another process, whose params are private), the registers are
taken in the order the result lists them (the order of the circuit's registers, as the
service writes them), and names and quantum registers are unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ibmq_async.models.qobj import QobjExperimentHeader, QobjHeader
from ibmq_async.models.result import ExperimentResult, ExperimentResultData, Result
from ibmq_async.platform.errors import PlatformResultError

__all__ = ["sampler_result_to_result"]


def _registers(circuit: Any | None, data: Any, index: int) -> list[tuple[str, int]]:
    """The classical registers of a PUB, as ``(name, size)`` in the circuit's order."""
    from qiskit.primitives.containers import BitArray

    fields = dict(data.items())
    if circuit is not None:
        registers = [(str(register.name), int(register.size)) for register in circuit.cregs]
    else:
        registers = [
            (str(name), int(value.num_bits))
            for name, value in fields.items()
            if isinstance(value, BitArray)
        ]
    for name, size in registers:
        value = fields.get(name)
        if not isinstance(value, BitArray):
            found = "nothing" if value is None else type(value).__name__
            raise PlatformResultError(
                f"the result of PUB {index} has {found} for classical register {name!r}, "
                "not a BitArray of its measurements (was the job run with meas_type "
                "'classified'?)"
            )
        if value.num_bits != size:
            raise PlatformResultError(
                f"the result of PUB {index} has {value.num_bits} bits for classical register "
                f"{name!r} of {size}"
            )
    return registers


def _header(
    circuit: Any | None, registers: list[tuple[str, int]], name: str | None, metadata: Any
) -> QobjExperimentHeader:
    header: dict[str, Any] = {
        "clbit_labels": [[register, bit] for register, size in registers for bit in range(size)],
        "memory_slots": sum(size for _, size in registers),
        "creg_sizes": [[register, size] for register, size in registers],
        "name": name,
        "metadata": metadata if isinstance(metadata, dict) else {},
    }
    if circuit is not None:
        header.update(
            qubit_labels=[[reg.name, i] for reg in circuit.qregs for i in range(reg.size)],
            n_qubits=sum(register.size for register in circuit.qregs),
            qreg_sizes=[[register.name, register.size] for register in circuit.qregs],
            global_phase=float(circuit.global_phase) if not _is_symbolic(circuit) else 0.0,
        )
    return QobjExperimentHeader.model_validate(header)


def _is_symbolic(circuit: Any) -> bool:
    from qiskit.circuit import ParameterExpression

    return isinstance(circuit.global_phase, ParameterExpression)


def _outcomes(fields: Mapping[str, Any], registers: list[tuple[str, int]], loc: Any) -> list[str]:
    """The hex outcome of each shot: register ``r``'s bits at the slots after those of the
    registers before it (the classic Qobj's memory slots)."""
    per_register = [fields[name].get_bitstrings(loc) for name, _ in registers]
    shots = len(per_register[0])
    # A bitstring lists its highest bit first, so the last register goes leftmost.
    return [
        hex(int("".join(bits[shot] for bits in reversed(per_register)), 2)) for shot in range(shots)
    ]


def sampler_result_to_result(
    primitive_result: Any,
    *,
    job_id: str,
    backend_name: str,
    backend_version: str = "0.0.0",
    circuits: Sequence[Any] | None = None,
    date: datetime | None = None,
    memory: bool = True,
    qobj_id: str | None = None,
) -> Result:
    """The classic ``Result`` of a sampler job's ``PrimitiveResult``.

    Args:
        primitive_result: The decoded result (``runtime_json.loads`` of the job's results).
        job_id: The job's id.
        backend_name: The backend's name.
        backend_version: The backend's version (its configuration's ``backend_version``).
        circuits: The circuits of the PUBs, in order, as they were sent; they give the
            registers' order, the experiments' names and headers.
        date: When the job ended.
        memory: Keep the per-shot memory (``get_memory()``); counts are always there.
        qobj_id: The ``qobj_id`` of the result (the job id when not given: the platform
            has no Qobj).

    Returns:
        One experiment per circuit (per parameter set when a PUB has several).

    Raises:
        PlatformResultError: The result is not a sampler result of those circuits (not a
            ``PrimitiveResult``, another number of PUBs, a register missing or of another
            size, data that are not bit arrays).
    """
    from qiskit.primitives.containers import PrimitiveResult

    if not isinstance(primitive_result, PrimitiveResult):
        raise PlatformResultError(
            f"expected the PrimitiveResult of a sampler job, got {type(primitive_result).__name__}"
        )
    pub_results = list(primitive_result)
    if circuits is not None and len(circuits) != len(pub_results):
        raise PlatformResultError(
            f"the result has {len(pub_results)} PUB results for {len(circuits)} circuits"
        )
    experiments: list[ExperimentResult] = []
    for index, pub_result in enumerate(pub_results):
        circuit = circuits[index] if circuits is not None else None
        data = pub_result.data
        registers = _registers(circuit, data, index)
        fields = dict(data.items())
        metadata = (pub_result.metadata or {}).get("circuit_metadata")
        name = str(circuit.name) if circuit is not None else None
        shape = tuple(data.shape)
        locations: list[Any] = [()] if not shape else list(_indices(shape))
        for position, loc in enumerate(locations):
            experiment_name = name if not shape or name is None else f"{name}-{position}"
            if registers:
                outcomes = _outcomes(fields, registers, loc)
                shots = len(outcomes)
                data = ExperimentResultData(
                    counts=dict(Counter(outcomes)), memory=outcomes if memory else None
                )
            else:  # measured nothing: no counts, as the classic service answers
                shots = _spans_shots(primitive_result, index)
                data = ExperimentResultData()
            experiments.append(
                ExperimentResult(
                    shots=shots,
                    success=True,
                    meas_level=2,
                    status="DONE",
                    data=data,
                    header=_header(circuit, registers, experiment_name, metadata),
                )
            )
    return Result(
        backend_name=backend_name,
        backend_version=backend_version,
        qobj_id=qobj_id or job_id,
        job_id=job_id,
        success=True,
        results=experiments,
        date=date,
        status="COMPLETED",
        header=QobjHeader(backend_name=backend_name, backend_version=backend_version),
    )


def _indices(shape: tuple[int, ...]) -> Any:
    import numpy as np

    return np.ndindex(*shape)


def _spans_shots(primitive_result: Any, index: int) -> int:
    """The shots of a PUB without classical registers: the last axis of its data slices in
    the execution spans (0 when the result has none)."""
    execution = (primitive_result.metadata or {}).get("execution") or {}
    for span in execution.get("execution_spans") or ():
        data_slices = getattr(span, "data_slices", {})
        if index in data_slices:
            shape = data_slices[index][0]
            return int(shape[-1]) if shape else 0
    return 0
