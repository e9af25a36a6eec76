"""The programs ``sampler`` and ``estimator`` (params version 2) on Qiskit Aer.

:func:`prepare` checks the ``params`` of a job against its backend the way the platform
does when the job is created: the PUBs (circuits as QPY or OpenQASM 3, parameter values
as arrays, shots or precision), the options, ISA circuits (every instruction in the
backend's target, two-qubit gates on coupled pairs), at most 10 million executions. A
problem raises :class:`PrimitiveError`, which names the PUB and what is wrong.

:func:`run` simulates a prepared job and returns its ``PrimitiveResult``:

* sampler: one ``BitArray`` per classical register, of the PUB's shape, for its shots;
  execution spans in the metadata;
* estimator: ``evs``, ``stds`` and ``ensemble_standard_error`` of the PUB's broadcast
  shape, estimated from shots (``ceil(1 / precision**2)`` of them, the precision of the
  PUB, of ``default_precision``, or ``1 / sqrt(default_shots)``), measuring each group of
  qubit-wise commuting Paulis in its basis.

Parameter values broadcast against the observables as the primitives define. Only the
qubits a circuit uses (and, for the estimator, those its observables act on) are
simulated, so an ISA circuit of a 156-qubit backend runs on as many qubits as it touches.
Noise, when a model is given (``noise_for``), is built for those physical qubits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ibmq_async.local.devices import Device
from ibmq_async.local.platform.errors import ErrorCodes
from ibmq_async.runtime_json import (
    MAX_INFLATED_BYTES,
    DoubleSliceSpan,
    ExecutionSpans,
    RuntimeJSONError,
    decode,
)

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_SHOTS",
    "MAX_EXECUTIONS",
    "PROGRAMS",
    "PreparedPrimitive",
    "PrimitiveError",
    "prepare",
    "run",
    "seconds_per_shot",
]

PROGRAMS = ("sampler", "estimator")
"""The programs the service runs."""

DEFAULT_SHOTS = 4096
"""The sampler's ``default_shots`` when the options give none."""

DEFAULT_PRECISION = 0.015625
"""The estimator's ``default_precision`` when the options give none (4096 shots)."""

MAX_EXECUTIONS = 10_000_000
"""The most executions (circuits times shots) one job may ask for."""

DEFAULT_REP_DELAY = 250e-6
"""Seconds one shot costs on a backend whose configuration gives no repetition delay."""

_PARAMS_KEYS = {
    "sampler": frozenset({"pubs", "options", "version", "support_qiskit"}),
    "estimator": frozenset({"pubs", "options", "version", "support_qiskit", "resilience_level"}),
}
_OPTION_KEYS = {
    "sampler": frozenset(
        {"default_shots", "dynamical_decoupling", "execution", "twirling", "simulator",
         "experimental", "environment", "max_execution_time"}
    ),
    "estimator": frozenset(
        {"default_precision", "default_shots", "seed_estimator", "dynamical_decoupling",
         "resilience", "execution", "twirling", "simulator", "experimental", "environment",
         "max_execution_time", "resilience_level"}
    ),
}  # fmt: skip
_ALWAYS_ALLOWED = frozenset({"measure", "barrier", "delay", "reset"})
_CONTROL_FLOW = frozenset({"if_else", "while_loop", "for_loop", "switch_case", "box"})
_DROPPED = frozenset({"barrier", "delay"})
_PARALLEL_QUBITS = 14


class PrimitiveError(Exception):
    """A job the platform refuses at creation (400); the message says what is wrong.

    Args:
        message: What is wrong, naming the PUB.
        code: The error code.
    """

    def __init__(self, message: str, code: int = ErrorCodes.INVALID_PARAMS) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class PreparedPub:
    """One PUB, checked, with its circuit reduced to the qubits it needs."""

    pub: Any
    qubits: list[int]
    shots: int
    circuit_metadata: dict[str, Any]
    precision: float | None = None


@dataclass
class PreparedPrimitive:
    """A checked job: its PUBs ready for Aer and what it costs.

    Attributes:
        program: ``sampler`` or ``estimator``.
        pubs: The PUBs.
        seed: The simulator seed, if the options give one.
        executions: Circuits times shots over all PUBs.
        failure: The ``simulate_failure`` of the experimental options: the job fails with it.
    """

    program: str
    pubs: list[PreparedPub]
    seed: int | None
    executions: int
    failure: str | None = None
    num_circuits: int = field(default=0)


def seconds_per_shot(device: Device, configured: float | None) -> float:
    """The quantum seconds one shot of one circuit costs on a backend."""
    if configured is not None:
        return configured
    delay = device.configuration.get("default_rep_delay")
    if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
        return float(delay) * 1e-6
    return DEFAULT_REP_DELAY


# --- checking -------------------------------------------------------------------------------


def _int_option(options: dict[str, Any], key: str, where: str, minimum: int) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PrimitiveError(f"{where}.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _options(program: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PrimitiveError("params.options must be an object")
    unknown = sorted(set(value) - _OPTION_KEYS[program])
    if unknown:
        raise PrimitiveError(f"params.options: unknown option(s) for the {program}: {unknown}")
    for key in ("dynamical_decoupling", "execution", "twirling", "simulator", "resilience"):
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise PrimitiveError(f"params.options.{key} must be an object")
    execution = value.get("execution") or {}
    meas_type = execution.get("meas_type", "classified")
    if meas_type != "classified":
        raise PrimitiveError(
            f"params.options.execution.meas_type {meas_type!r} is not supported by the local "
            "service (only 'classified': Aer gives no IQ data)",
            ErrorCodes.UNSUPPORTED,
        )
    experimental = value.get("experimental")
    if experimental is not None and not isinstance(experimental, dict):
        raise PrimitiveError("params.options.experimental must be an object")
    return value


def _seed(options: dict[str, Any]) -> int | None:
    simulator = options.get("simulator") or {}
    seed = _int_option(simulator, "seed_simulator", "params.options.simulator", 0)
    if seed is None:
        seed = _int_option(options, "seed_estimator", "params.options", 0)
    return seed


def _circuit(value: Any, where: str) -> Any:
    from qiskit import QuantumCircuit

    if isinstance(value, QuantumCircuit):
        return value
    if isinstance(value, str):
        from qiskit import qasm3

        try:
            return qasm3.loads(value)
        except Exception as error:  # the importer raises several kinds on bad programs
            detail = str(error) or type(error).__name__
            raise PrimitiveError(
                f"{where}: the OpenQASM 3 program cannot be read: {detail}"
            ) from None
    raise PrimitiveError(
        f"{where}: the circuit must be a QuantumCircuit (QPY) or an OpenQASM 3 string, "
        f"got {type(value).__name__}"
    )


def _parameter_values(value: Any, where: str) -> Any:
    import numpy as np

    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise PrimitiveError(f"{where}: parameter values must be an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise PrimitiveError(f"{where}: parameter values must be finite")
    return array


def _gate_qargs(device: Device) -> dict[str, frozenset[tuple[int, ...]] | None]:
    allowed: dict[str, frozenset[tuple[int, ...]] | None] = {}
    for gate in device.configuration.get("gates") or ():
        name = gate.get("name")
        coupling = gate.get("coupling_map")
        if not isinstance(name, str):
            continue
        if coupling:
            allowed[name] = frozenset(tuple(int(q) for q in qargs) for qargs in coupling)
        else:
            allowed.setdefault(name, None)
    for name in device.basis_gates:
        allowed.setdefault(name, None)
    return allowed


def _check_isa(circuit: Any, device: Device, where: str) -> None:
    """Refuse a circuit that is not an ISA circuit of the device."""
    if circuit.num_qubits > device.n_qubits:
        raise PrimitiveError(
            f"{where}: the circuit has {circuit.num_qubits} qubits, more than the "
            f"{device.n_qubits} of {device.name}",
            ErrorCodes.NOT_ISA,
        )
    allowed = _gate_qargs(device)
    instructions = set(device.supported_instructions)
    dynamic = bool(instructions & _CONTROL_FLOW)
    coupling = device.coupling

    def visit(block: Any, qubit_index: Callable[[Any], int]) -> None:
        for item in block.data:
            operation = item.operation
            name = operation.name
            qargs = tuple(qubit_index(qubit) for qubit in item.qubits)
            if name in _CONTROL_FLOW:
                if not dynamic:
                    raise PrimitiveError(
                        f"{where}: {name} is not supported by {device.name} (no dynamic circuits)",
                        ErrorCodes.NOT_ISA,
                    )
                for inner in operation.blocks:
                    mapping = dict(zip(inner.qubits, qargs, strict=False))
                    visit(inner, mapping.__getitem__)
                continue
            if name in _ALWAYS_ALLOWED:
                continue
            if name not in allowed:
                raise PrimitiveError(
                    f"{where}: the circuit is not an ISA circuit of {device.name}: {name} on "
                    f"qubits {list(qargs)} is not in its target (basis gates "
                    f"{sorted(device.basis_gates)}); transpile it for the backend first",
                    ErrorCodes.NOT_ISA,
                )
            qubit_sets = allowed[name]
            if qubit_sets is not None:
                if qargs not in qubit_sets:
                    raise PrimitiveError(
                        f"{where}: the circuit is not an ISA circuit of {device.name}: {name} "
                        f"is not available on qubits {list(qargs)}",
                        ErrorCodes.NOT_ISA,
                    )
            elif len(qargs) == 2 and coupling is not None and qargs not in coupling:
                raise PrimitiveError(
                    f"{where}: the circuit is not an ISA circuit of {device.name}: qubits "
                    f"{list(qargs)} of {name} are not coupled",
                    ErrorCodes.NOT_ISA,
                )

    visit(circuit, lambda qubit: int(circuit.find_bit(qubit).index))


def _used_qubits(circuit: Any) -> set[int]:
    used: set[int] = set()
    for item in circuit.data:
        if item.operation.name in _DROPPED and not item.operation.params:
            continue
        for qubit in item.qubits:
            used.add(int(circuit.find_bit(qubit).index))
    return used


def _compact(circuit: Any, keep: set[int]) -> tuple[Any, list[int]]:
    """The circuit without barriers, delays and the qubits outside ``keep``; and the
    original indices of the qubits it keeps, in order."""
    from qiskit.converters import circuit_to_dag, dag_to_circuit

    dag = circuit_to_dag(circuit)
    for node in list(dag.op_nodes()):
        if node.op.name in _DROPPED and not node.op.params:
            dag.remove_op_node(node)
    drop = [
        qubit
        for index, qubit in enumerate(circuit.qubits)
        if index not in keep and qubit in set(dag.idle_wires())
    ]
    kept = [index for index, qubit in enumerate(circuit.qubits) if qubit not in set(drop)]
    if drop:
        dag.remove_qubits(*drop)
    compacted = dag_to_circuit(dag)
    compacted.metadata = dict(circuit.metadata or {})
    compacted.name = circuit.name
    return compacted, kept


def _reduce_observable(entry: Any, kept: list[int], width: int) -> Any:
    if isinstance(entry, dict):
        reduced: dict[str, float] = {}
        for pauli, coefficient in entry.items():
            # A label's last character acts on qubit 0.
            label = "".join(pauli[width - 1 - index] for index in reversed(kept))
            reduced[label] = reduced.get(label, 0.0) + float(coefficient)
        return reduced
    return [_reduce_observable(item, kept, width) for item in entry]


def _observable_support(entry: Any, width: int) -> set[int]:
    if isinstance(entry, dict):
        support: set[int] = set()
        for pauli in entry:
            support.update(
                width - 1 - position for position, char in enumerate(pauli) if char != "I"
            )
        return support
    out: set[int] = set()
    for item in entry:
        out |= _observable_support(item, width)
    return out


def _observables(value: Any, circuit: Any, where: str) -> Any:
    """The observables of an estimator PUB as nested lists of ``{pauli: coefficient}``."""
    from qiskit.primitives.containers.observables_array import ObservablesArray

    if isinstance(value, ObservablesArray):
        value = value.tolist()
    try:
        observables = ObservablesArray.coerce(value)
    except (TypeError, ValueError) as error:
        raise PrimitiveError(f"{where}: the observables are not valid: {error}") from None
    if observables.num_qubits != circuit.num_qubits:
        raise PrimitiveError(
            f"{where}: the observables act on {observables.num_qubits} qubits, the circuit "
            f"has {circuit.num_qubits}"
        )
    listed = observables.tolist()
    for coefficient in _coefficients(listed):
        if not math.isfinite(coefficient):
            raise PrimitiveError(f"{where}: observable coefficients must be finite")
    return listed


def _coefficients(entry: Any) -> list[float]:
    if isinstance(entry, dict):
        values = []
        for coefficient in entry.values():
            if isinstance(coefficient, complex):
                if coefficient.imag:
                    raise PrimitiveError("observable coefficients must be real")
                coefficient = coefficient.real
            values.append(float(coefficient))
        return values
    return [value for item in entry for value in _coefficients(item)]


def _sampler_pub(
    raw: Any, index: int, device: Device, default_shots: int, isa: bool
) -> PreparedPub:
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    where = f"pub {index}"
    if not isinstance(raw, (list, tuple)) or not 1 <= len(raw) <= 3:
        raise PrimitiveError(f"{where}: a sampler PUB is [circuit, parameter_values?, shots?]")
    circuit = _circuit(raw[0], where)
    values = _parameter_values(raw[1] if len(raw) > 1 else None, where)
    shots = raw[2] if len(raw) > 2 else None
    if shots is None:
        shots = default_shots
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise PrimitiveError(f"{where}: shots must be a positive integer, got {shots!r}")
    if isa and not device.simulator:
        _check_isa(circuit, device, where)
    if values is not None and values.size == 0 and circuit.num_parameters == 0:
        values = None
    compacted, kept = _compact(circuit, _used_qubits(circuit))
    try:
        pub = SamplerPub.coerce((compacted, values, shots))
    except (TypeError, ValueError) as error:
        raise PrimitiveError(f"{where}: {error}") from None
    return PreparedPub(pub, kept, shots, dict(circuit.metadata or {}))


def _estimator_pub(
    raw: Any, index: int, device: Device, default_precision: float, isa: bool
) -> PreparedPub:
    from qiskit.primitives.containers.estimator_pub import EstimatorPub

    where = f"pub {index}"
    if not isinstance(raw, (list, tuple)) or not 2 <= len(raw) <= 4:
        raise PrimitiveError(
            f"{where}: an estimator PUB is [circuit, observables, parameter_values?, precision?]"
        )
    circuit = _circuit(raw[0], where)
    observables = _observables(raw[1], circuit, where)
    values = _parameter_values(raw[2] if len(raw) > 2 else None, where)
    precision = raw[3] if len(raw) > 3 else None
    if precision is None:
        precision = default_precision
    if (
        isinstance(precision, bool)
        or not isinstance(precision, (int, float))
        or not math.isfinite(precision)
        or precision <= 0
    ):
        raise PrimitiveError(f"{where}: precision must be a positive number, got {precision!r}")
    if isa and not device.simulator:
        _check_isa(circuit, device, where)
    if values is not None and values.size == 0 and circuit.num_parameters == 0:
        values = None
    keep = _used_qubits(circuit) | _observable_support(observables, circuit.num_qubits)
    compacted, kept = _compact(circuit, keep)
    reduced = _reduce_observable(observables, kept, circuit.num_qubits)
    try:
        pub = EstimatorPub.coerce((compacted, reduced, values, float(precision)))
    except (TypeError, ValueError) as error:
        raise PrimitiveError(f"{where}: {error}") from None
    shots = math.ceil(1.0 / float(precision) ** 2)
    return PreparedPub(pub, kept, shots, dict(circuit.metadata or {}), float(precision))


def prepare(
    program: str,
    params: Any,
    device: Device,
    *,
    isa: bool = True,
    max_inflated: int = MAX_INFLATED_BYTES,
) -> PreparedPrimitive:
    """Check the ``params`` of a job for a backend and get its PUBs ready.

    Args:
        program: ``sampler`` or ``estimator``.
        params: The ``params`` of ``POST /v1/jobs`` (plain JSON; typed values are decoded
            here).
        device: The backend's device.
        isa: Require ISA circuits (the simulator backend never does).
        max_inflated: The most bytes one compressed value (circuit, array) may inflate to.

    Raises:
        PrimitiveError: If the params cannot run; the message says why.
    """
    if program not in PROGRAMS:
        raise PrimitiveError(f"program {program!r} is not served (sampler, estimator)")
    if not isinstance(params, dict):
        raise PrimitiveError("params must be an object")
    unknown = sorted(set(params) - _PARAMS_KEYS[program])
    if unknown:
        raise PrimitiveError(f"params: unknown field(s) for the {program}: {unknown}")
    try:
        decoded = decode(params, max_bytes=max_inflated)
    except RuntimeJSONError as error:
        raise PrimitiveError(f"params: {error}") from None
    version = decoded.get("version", 2)
    if version != 2:
        raise PrimitiveError(f"params.version must be 2 (the V2 primitives), got {version!r}")
    level = decoded.get("resilience_level")
    if level is not None and (isinstance(level, bool) or level not in (0, 1, 2)):
        raise PrimitiveError(f"params.resilience_level must be 0, 1 or 2, got {level!r}")
    options = _options(program, decoded.get("options"))
    pubs = decoded.get("pubs")
    if not isinstance(pubs, list) or not pubs:
        raise PrimitiveError("params.pubs must be a non-empty list of PUBs")
    failure = (options.get("experimental") or {}).get("simulate_failure")
    if failure is not None and not isinstance(failure, str):
        failure = "Simulated failure"
    prepared: list[PreparedPub] = []
    if program == "sampler":
        shots = _int_option(options, "default_shots", "params.options", 1) or DEFAULT_SHOTS
        for index, raw in enumerate(pubs):
            prepared.append(_sampler_pub(raw, index, device, shots, isa))
    else:
        precision = options.get("default_precision")
        if precision is not None and (
            isinstance(precision, bool) or not isinstance(precision, (int, float)) or precision <= 0
        ):
            raise PrimitiveError("params.options.default_precision must be a positive number")
        default_shots = _int_option(options, "default_shots", "params.options", 1)
        if default_shots is not None:
            precision = 1.0 / math.sqrt(default_shots)
        for index, raw in enumerate(pubs):
            prepared.append(
                _estimator_pub(raw, index, device, float(precision or DEFAULT_PRECISION), isa)
            )
    executions = sum(max(item.pub.size, 1) * item.shots for item in prepared)
    if executions > MAX_EXECUTIONS:
        raise PrimitiveError(
            f"the job asks for {executions} executions (circuits x shots), more than the "
            f"{MAX_EXECUTIONS} a job may have",
            ErrorCodes.TOO_MANY_EXECUTIONS,
        )
    return PreparedPrimitive(
        program=program,
        pubs=prepared,
        seed=_seed(options),
        executions=executions,
        failure=failure,
        num_circuits=sum(max(item.pub.size, 1) for item in prepared),
    )


# --- running --------------------------------------------------------------------------------

NoiseFactory = Callable[[Sequence[int]], Any]
"""Builds an Aer noise model for the given physical qubits (in the order simulated)."""

_local = threading.local()


def _backend_options(qubits: int, noise: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if qubits < _PARALLEL_QUBITS:
        options["max_parallel_threads"] = 1
    if noise is not None:
        options["noise_model"] = noise
    return options


def _run_sampler(prepared: PreparedPrimitive, noise_for: NoiseFactory | None) -> Any:
    from qiskit.primitives.containers import DataBin, PrimitiveResult, SamplerPubResult
    from qiskit_aer.primitives import SamplerV2

    results = []
    slices: dict[int, tuple[tuple[int, ...], slice, slice]] = {}
    started = datetime.now(timezone.utc)
    for index, item in enumerate(prepared.pubs):
        noise = noise_for(item.qubits) if noise_for is not None else None
        run_options: dict[str, Any] = {}
        if prepared.seed is not None:
            run_options["seed_simulator"] = prepared.seed
        sampler = SamplerV2(
            options={
                "backend_options": _backend_options(item.pub.circuit.num_qubits, noise),
                "run_options": run_options,
            }
        )
        pub_result = sampler.run([item.pub]).result()[0]
        fields = {name: pub_result.data[name] for name in pub_result.data}
        data = DataBin(shape=item.pub.shape, **fields)
        results.append(SamplerPubResult(data, {"circuit_metadata": item.circuit_metadata}))
        size = max(item.pub.size, 1)
        slices[index] = ((*item.pub.shape, item.shots), slice(0, size), slice(0, item.shots))
    stopped = datetime.now(timezone.utc)
    spans = ExecutionSpans([DoubleSliceSpan(start=started, stop=stopped, data_slices=slices)])
    return PrimitiveResult(results, {"execution": {"execution_spans": spans}, "version": 2})


def _run_estimator(prepared: PreparedPrimitive, noise_for: NoiseFactory | None) -> Any:
    from qiskit.primitives import BackendEstimatorV2
    from qiskit.primitives.containers import DataBin, PrimitiveResult, PubResult
    from qiskit_aer import AerSimulator

    results = []
    for item in prepared.pubs:
        noise = noise_for(item.qubits) if noise_for is not None else None
        backend = AerSimulator(**_backend_options(item.pub.circuit.num_qubits, noise))
        options: dict[str, Any] = {"default_precision": item.precision}
        if prepared.seed is not None:
            options["seed_simulator"] = prepared.seed
        estimator = BackendEstimatorV2(backend=backend, options=options)
        pub_result = estimator.run([item.pub]).result()[0]
        evs = pub_result.data.evs
        stds = pub_result.data.stds
        data = DataBin(shape=item.pub.shape, evs=evs, stds=stds, ensemble_standard_error=stds)
        metadata = {
            "target_precision": item.precision,
            "shots": item.shots,
            "circuit_metadata": item.circuit_metadata,
            "num_randomizations": 1,
        }
        results.append(PubResult(data, metadata))
    return PrimitiveResult(results, {"version": 2})


def run(prepared: PreparedPrimitive, *, noise_for: NoiseFactory | None = None) -> Any:
    """Simulate a prepared job; the ``PrimitiveResult`` (blocks: run it off the event loop).

    Args:
        prepared: The job.
        noise_for: Builds the noise model of the qubits a PUB uses; ideal without it.

    Raises:
        RuntimeError: If the job asked to fail (``simulate_failure``).
        Exception: Whatever Aer raises when a simulation fails.
    """
    if prepared.failure is not None:
        raise RuntimeError(prepared.failure)
    if prepared.program == "sampler":
        return _run_sampler(prepared, noise_for)
    return _run_estimator(prepared, noise_for)


def timed_run(
    prepared: PreparedPrimitive, *, noise_for: NoiseFactory | None = None
) -> tuple[Any, float]:
    """:func:`run`, and the seconds it took."""
    started = time.perf_counter()
    result = run(prepared, noise_for=noise_for)
    return result, time.perf_counter() - started
