"""PUBs and the ``params`` of sampler and estimator jobs (``POST /v1/jobs``, docs/platform.md §5).

What users pass to the primitives is coerced as Qiskit's primitives define PUBs
(``SamplerPub.coerce``, ``EstimatorPub.coerce``):

* sampler: a circuit, ``(circuit,)``, ``(circuit, parameter_values)`` or
  ``(circuit, parameter_values, shots)``;
* estimator: ``(circuit, observables)``, ``(circuit, observables, parameter_values)`` or
  ``(circuit, observables, parameter_values, precision)``.

Each PUB is then checked for what the platform would refuse, so bad input fails here with
a :class:`~ibmq_async.platform.errors.PubError` naming the PUB and the problem, before any
request: classical registers the sampler cannot return (empty, or named other than by a
Python identifier), parameter values that are not finite, observables that are empty,
outside the ``I``, ``X``, ``Y``, ``Z`` alphabet or with coefficients that are not finite,
a precision that is not positive. A job is also refused when it would run more than
:data:`MAX_EXECUTIONS` executions (the PUBs' shots times their parameter sets), counted as
the platform counts them (:class:`~ibmq_async.platform.errors.ExecutionLimitError`).

:func:`sampler_request` and :func:`estimator_request` do all of it and give the job's
``params`` in the wire form the runtime JSON codec writes (``ibmq_async.runtime_json``):
a sampler PUB ``[circuit, parameter_values, shots]``, an estimator PUB
``[circuit, observables, parameter_values, precision]``, beside the options'
``options``, ``version`` 2 and ``support_qiskit``. Circuits must also be ISA circuits of
the backend: that check needs the backend's target (``ibmq_async.platform.target``).

Needs Qiskit (the ``qiskit`` extra), imported when a PUB is coerced.
"""

from __future__ import annotations

import keyword
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibmq_async.platform.errors import ExecutionLimitError, PubError
from ibmq_async.platform.options import EstimatorOptions, PrimitiveOptions, SamplerOptions

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_SHOTS",
    "MAX_EXECUTIONS",
    "PrimitiveRequest",
    "check_execution_limit",
    "coerce_estimator_pubs",
    "coerce_sampler_pubs",
    "estimator_executions",
    "estimator_pub_wire",
    "estimator_request",
    "sampler_executions",
    "sampler_pub_wire",
    "sampler_request",
]

MAX_EXECUTIONS = 10_000_000
"""The most executions (shots x circuits x parameter sets) one job may have."""

DEFAULT_SHOTS = 4096
"""The shots of a sampler PUB when neither it, ``run`` nor the options give any."""

DEFAULT_PRECISION = 0.015625
"""The precision of an estimator PUB when neither it, ``run`` nor the options give one."""

_PAULIS = frozenset("IXYZ")


@dataclass(frozen=True)
class PrimitiveRequest:
    """A checked sampler or estimator job, ready for ``POST /v1/jobs``.

    Attributes:
        program_id: ``"sampler"`` or ``"estimator"``.
        pubs: The coerced PUBs (``SamplerPub`` or ``EstimatorPub``), in order.
        params: The job's ``params``; encode it with ``ibmq_async.runtime_json.dumps``.
        fields: The other fields of the request body the options set (``log_level``,
            ``cost``, ``tags``, ``private``, ``runtime``).
        executions: Shots x parameter sets over all PUBs, as the platform counts them.
    """

    program_id: str
    pubs: list[Any]
    params: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    executions: int = 0

    def job_body(
        self,
        backend: str,
        *,
        session_id: str | None = None,
        tags: Sequence[str] = (),
        calibration_id: str | None = None,
    ) -> dict[str, Any]:
        """The body of ``POST /v1/jobs`` for this job on ``backend``.

        Args:
            backend: The backend's name.
            session_id: The session or batch the job joins, if any.
            tags: Tags added after those of the options (``environment.job_tags``).
            calibration_id: The calibration to use, if any.

        Returns:
            A JSON-able mapping once encoded with ``ibmq_async.runtime_json.dumps``.
        """
        body: dict[str, Any] = {
            "program_id": self.program_id,
            "backend": backend,
            "params": self.params,
            **{key: value for key, value in self.fields.items() if key != "tags"},
        }
        all_tags = [*self.fields.get("tags", ()), *tags]
        if all_tags:
            body["tags"] = list(dict.fromkeys(all_tags))
        if session_id is not None:
            body["session_id"] = session_id
        if calibration_id is not None:
            body["calibration_id"] = calibration_id
        return body


# --- coercion -------------------------------------------------------------------------------


def _pub_list(pubs: Iterable[Any], primitive: str) -> list[Any]:
    from qiskit import QuantumCircuit

    if isinstance(pubs, (QuantumCircuit, str, bytes)) or not isinstance(pubs, Iterable):
        raise PubError(
            None,
            f"the {primitive} takes a list of PUBs, got a single {type(pubs).__name__}; "
            f"wrap it in a list: run([pub])",
        )
    items = list(pubs)
    if not items:
        raise PubError(None, f"no PUBs were given: the {primitive} needs at least one")
    return items


def _check_not_text(item: Any, index: int) -> None:
    circuit = item[0] if isinstance(item, (tuple, list)) and item else item
    if isinstance(circuit, (str, bytes)):
        raise PubError(
            index,
            "the circuit must be a QuantumCircuit, got text; read an OpenQASM 3 program with "
            "qiskit.qasm3.loads first",
        )


def _check_positive_int(value: Any, what: str) -> None:
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise PubError(None, f"{what} must be a positive integer, got {value!r}")


def _check_classical_registers(circuit: Any, index: int) -> None:
    if not circuit.cregs:
        warnings.warn(
            f"PUB {index}: circuit {circuit.name!r} has no classical register, so its result "
            "will be empty; add measurements (circuit.measure_all())",
            UserWarning,
            stacklevel=4,
        )
    for register in circuit.cregs:
        if register.size == 0:
            raise PubError(index, f"classical register {register.name!r} has no bits; remove it")
        if not register.name.isidentifier() or keyword.iskeyword(register.name):
            raise PubError(
                index,
                f"classical register {register.name!r} cannot name a field of the result: "
                "register names must be Python identifiers that are not keywords "
                "(letters, digits and underscores, not starting with a digit)",
            )


def _check_parameter_values(pub: Any, index: int) -> None:
    import numpy as np

    values = pub.parameter_values.as_array(pub.circuit.parameters)
    if values.size and not np.all(np.isfinite(values)):
        raise PubError(index, "parameter values must be finite (no NaN or infinity)")


def coerce_sampler_pubs(pubs: Iterable[Any], *, shots: int | None = None) -> list[Any]:
    """The ``SamplerPub`` of each sampler PUB-like, checked.

    Args:
        pubs: Circuits, ``(circuit, parameter_values[, shots])`` tuples or ``SamplerPub``.
        shots: The shots of PUBs that give none (``run(..., shots=)``).

    Returns:
        The coerced PUBs, in order.

    Raises:
        PubError: A PUB cannot be coerced or would be refused; the message names it.
    """
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    if shots is not None:
        _check_positive_int(shots, "shots")
    coerced = []
    for index, item in enumerate(_pub_list(pubs, "sampler")):
        _check_not_text(item, index)
        try:
            pub = SamplerPub.coerce(item, shots)
        except (TypeError, ValueError) as error:
            raise PubError(index, str(error)) from None
        _check_classical_registers(pub.circuit, index)
        _check_parameter_values(pub, index)
        coerced.append(pub)
    return coerced


def _check_observables(pub: Any, index: int) -> None:
    observables = pub.observables
    if observables.size == 0:
        raise PubError(index, "the observables are empty")
    for entry in observables.ravel().tolist():
        for label, coefficient in entry.items():
            if not set(label) <= _PAULIS:
                raise PubError(
                    index,
                    f"observable term {label!r} is not a Pauli string: the estimator takes "
                    "only I, X, Y and Z",
                )
            if not math.isfinite(float(coefficient)):
                raise PubError(index, f"observable term {label!r} has coefficient {coefficient}")


def coerce_estimator_pubs(pubs: Iterable[Any], *, precision: float | None = None) -> list[Any]:
    """The ``EstimatorPub`` of each estimator PUB-like, checked.

    Args:
        pubs: ``(circuit, observables[, parameter_values[, precision]])`` tuples or
            ``EstimatorPub``.
        precision: The precision of PUBs that give none (``run(..., precision=)``).

    Returns:
        The coerced PUBs, in order.

    Raises:
        PubError: A PUB cannot be coerced or would be refused; the message names it.
    """
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    if precision is not None and not (_is_number(precision) and precision > 0):
        raise PubError(None, f"precision must be a positive number, got {precision!r}")
    coerced = []
    for index, item in enumerate(_pub_list(pubs, "estimator")):
        _check_not_text(item, index)
        try:
            pub = EstimatorPub.coerce(item, precision)
        except (TypeError, ValueError) as error:
            raise PubError(index, str(error)) from None
        if pub.precision is not None and not pub.precision > 0:
            raise PubError(index, f"precision must be positive, got {pub.precision!r}")
        _check_observables(pub, index)
        _check_parameter_values(pub, index)
        coerced.append(pub)
    return coerced


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


# --- wire form ------------------------------------------------------------------------------


def sampler_pub_wire(pub: Any) -> list[Any]:
    """A ``SamplerPub`` as the platform takes it: ``[circuit, parameter_values, shots]``
    (the values an array of shape ``(*pub.shape, num_parameters)``; shots may be ``None``)."""
    shots = None if pub.shots is None else int(pub.shots)
    return [pub.circuit, pub.parameter_values.as_array(pub.circuit.parameters), shots]


def estimator_pub_wire(pub: Any) -> list[Any]:
    """An ``EstimatorPub`` as the platform takes it: ``[circuit, observables,
    parameter_values, precision]`` (observables as nested lists of ``{pauli: coefficient}``)."""
    precision = None if pub.precision is None else float(pub.precision)
    return [
        pub.circuit,
        pub.observables.tolist(),
        pub.parameter_values.as_array(pub.circuit.parameters),
        precision,
    ]


# --- the execution limit --------------------------------------------------------------------


def sampler_executions(pubs: Sequence[Any], options: SamplerOptions | None = None) -> list[int]:
    """The executions of each sampler PUB: its parameter sets times its shots (the PUB's,
    else ``options.default_shots``, else :data:`DEFAULT_SHOTS`)."""
    default = (options.default_shots if options is not None else None) or DEFAULT_SHOTS
    return [max(int(pub.size), 1) * int(pub.shots or default) for pub in pubs]


def estimator_executions(pubs: Sequence[Any], options: EstimatorOptions | None = None) -> list[int]:
    """The executions of each estimator PUB: its parameter sets (broadcast with its
    observables) times ``ceil(1 / precision**2)``, the precision being the PUB's, else
    ``1 / sqrt(options.default_shots)``, else ``options.default_precision``, else
    :data:`DEFAULT_PRECISION` (as the service counts them)."""
    default = DEFAULT_PRECISION
    if options is not None:
        if options.default_shots:
            default = 1.0 / math.sqrt(options.default_shots)
        elif options.default_precision is not None:
            default = options.default_precision
    counts = []
    for pub in pubs:
        precision = float(pub.precision) if pub.precision is not None else default
        counts.append(max(int(pub.size), 1) * math.ceil(1.0 / precision**2))
    return counts


def check_execution_limit(per_pub: Sequence[int], limit: int = MAX_EXECUTIONS) -> int:
    """The total of ``per_pub``, if it is within ``limit``.

    Raises:
        ExecutionLimitError: The total is over ``limit``; the message names the largest PUB.
    """
    total = sum(per_pub)
    if total > limit:
        largest = max(range(len(per_pub)), key=per_pub.__getitem__)
        raise ExecutionLimitError(
            f"the job would run {total:,} executions (shots x circuits x parameter sets), more "
            f"than the {limit:,} a job may have (PUB {largest} alone has "
            f"{per_pub[largest]:,}); send fewer shots or parameter sets, or split the PUBs "
            "into several jobs (a Batch runs them together)",
            executions=total,
            limit=limit,
        )
    return total


# --- requests -------------------------------------------------------------------------------


def _request(
    program_id: str,
    coerced: list[Any],
    wire: list[list[Any]],
    per_pub: Sequence[int],
    options: PrimitiveOptions,
    max_executions: int,
) -> PrimitiveRequest:
    return PrimitiveRequest(
        program_id=program_id,
        pubs=coerced,
        params={"pubs": wire, **options.program_inputs()},
        fields=options.job_fields(),
        executions=check_execution_limit(per_pub, max_executions),
    )


def sampler_request(
    pubs: Iterable[Any],
    *,
    shots: int | None = None,
    options: SamplerOptions | Mapping[str, Any] | None = None,
    max_executions: int = MAX_EXECUTIONS,
) -> PrimitiveRequest:
    """A checked sampler job: coerced PUBs, its ``params`` and the fields its options set.

    Args:
        pubs: Sampler PUB-likes (see :func:`coerce_sampler_pubs`).
        shots: The shots of PUBs that give none.
        options: Sampler options, or a mapping of the same shape.
        max_executions: The execution limit to check against.

    Raises:
        PubError: A PUB cannot be sent; the message names it and why.
        OptionsError: The options are not valid.
        ExecutionLimitError: The job would run more than ``max_executions`` executions.
    """
    checked = SamplerOptions.coerce(options)
    coerced = coerce_sampler_pubs(pubs, shots=shots)
    wire = [sampler_pub_wire(pub) for pub in coerced]
    per_pub = sampler_executions(coerced, checked)
    return _request("sampler", coerced, wire, per_pub, checked, max_executions)


def estimator_request(
    pubs: Iterable[Any],
    *,
    precision: float | None = None,
    options: EstimatorOptions | Mapping[str, Any] | None = None,
    max_executions: int = MAX_EXECUTIONS,
) -> PrimitiveRequest:
    """A checked estimator job: coerced PUBs, its ``params`` and the fields its options set.

    Args:
        pubs: Estimator PUB-likes (see :func:`coerce_estimator_pubs`).
        precision: The precision of PUBs that give none.
        options: Estimator options, or a mapping of the same shape.
        max_executions: The execution limit to check against.

    Raises:
        PubError: A PUB cannot be sent; the message names it and why.
        OptionsError: The options are not valid.
        ExecutionLimitError: The job would run more than ``max_executions`` executions.
    """
    checked = EstimatorOptions.coerce(options)
    coerced = coerce_estimator_pubs(pubs, precision=precision)
    wire = [estimator_pub_wire(pub) for pub in coerced]
    per_pub = estimator_executions(coerced, checked)
    return _request("estimator", coerced, wire, per_pub, checked, max_executions)
