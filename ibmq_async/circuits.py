"""Qiskit 2 ``QuantumCircuit`` -> Qobj, the document IBM Quantum backends take, and back.

Qiskit 2 removed ``qiskit.assemble`` and the Qobj classes, so this module does the
conversion itself. Its output is the dict that qiskit-terra 0.46's
``assemble(circuits, shots=..., memory=...)`` produced and qiskit-ibmq-provider 0.20.2
uploaded (``docs/protocol.md`` §7.5): the same top-level keys, the same run configuration, the
same experiment headers (which make counts come back keyed by classical register the way
Qiskit users expect) and the same instruction encoding. The dict is ready for
``json.dumps``: complex numbers are ``[re, im]`` lists and numpy scalars are Python numbers.

What is converted:

* gates, with every parameter bound (bound ``ParameterExpression``\\ s become numbers);
* ``measure`` into any classical bit of any classical register, ``reset`` and ``barrier``;
* ``delay``: the duration goes out in ``dt`` (the unit the Qobj and the backend use); a
  delay given in seconds (``s``, ``ms``, ``us``, ``ns``, ``ps``) is converted with the
  backend's ``dt``, as Qiskit's transpiler does;
* ``if_test`` blocks (``IfElseOp``) whose condition is a classical bit or a classical
  register compared for equality with a value, and whose branches hold none of the above
  plus no further control flow. They are encoded as the Qobj ``bfunc`` + ``conditional``
  pair, which is how terra encoded the ``c_if`` conditions of Qiskit before 1.0 (an
  OpenQASM 2 ``if (c==1) x q[0];`` gives the same Qobj here as in terra).

What is refused, with :class:`~ibmq_async.exceptions.CircuitConversionError` naming the
circuit (by name and index) before any request is made: unbound parameters, instructions
outside the backend's supported instructions, more qubits than the backend has, other
control flow (``for_loop``, ``while_loop``, ``switch_case``, ``box``, nested blocks),
conditions on classical expressions, and instructions a Qobj cannot carry (``unitary``,
``initialize``, ``state_preparation`` and other matrix or state payloads, ``store``, and
any non-gate instruction other than the ones above). Transpile such circuits for the
backend first.

The other way, :func:`experiment_to_circuit` is the one converter of Qobj experiments
into circuits, in a :class:`Layout`: the registers of the experiment header for
:func:`qobj_to_circuits` (``IBMQJob.circuits()``), or the used qubits renumbered from 0
for the local service's executor, which also has it convert ``bfunc`` and ``conditional``.

Qiskit is optional: importing this module does not import it, and
:func:`is_quantum_circuit` never imports it either.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import sys
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ibmq_async.exceptions import CircuitConversionError, IBMQInputValueError

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit

    from ibmq_async.models import QasmQobj

__all__ = [
    "ALWAYS_SUPPORTED_INSTRUCTIONS",
    "QOBJ_SCHEMA_VERSION",
    "Layout",
    "QobjConversionError",
    "circuits_to_qasm_qobj",
    "circuits_to_qobj",
    "experiment_to_circuit",
    "is_quantum_circuit",
    "qobj_to_circuits",
]

QOBJ_SCHEMA_VERSION = "1.3.0"
"""The ``schema_version`` of the Qobj documents this module writes (as terra 0.46 did)."""

ALWAYS_SUPPORTED_INSTRUCTIONS: frozenset[str] = frozenset({"barrier"})
"""Instructions accepted whatever ``supported_instructions`` says.

A barrier is a compiler directive: backend configurations do not list it, and every backend
accepts it.
"""

_MEASURE_LEVEL_CLASSIFIED = 2
_SI_TIME_UNITS = frozenset({"s", "ms", "us", "ns", "ps"})
_QISKIT_INSTALL_HINT = (
    "converting QuantumCircuits needs Qiskit: install it with "
    "`pip install 'ibmq-async[qiskit]'` (Qobj dicts and models can be sent without it)"
)
# Gates whose parameters are a matrix, a state or an operator rather than angles: a Qobj
# instruction has no way to carry them, so they must be decomposed before conversion.
_PAYLOAD_GATES = frozenset(
    {
        "diagonal",
        "hamiltonian",
        "initialize",
        "isometry",
        "kraus",
        "multiplexer",
        "state_preparation",
        "superop",
        "unitary",
    }
)
# Run options that terra's assemble dropped from the Qobj config of a circuit job.
_DROPPED_RUN_OPTIONS = frozenset({"qubit_lo_range", "meas_lo_range"})
# Run options terra's assemble converted from Hz (the argument) to GHz (the wire).
_HZ_TO_GHZ_RUN_OPTIONS = frozenset({"qubit_lo_freq", "meas_lo_freq"})
# Config keys computed from the experiments; a given value would be overwritten, as in terra.
_COMPUTED_CONFIG_KEYS = frozenset({"memory_slots", "n_qubits"})


def is_quantum_circuit(obj: object) -> bool:
    """Tell whether ``obj`` is a Qiskit ``QuantumCircuit``, without importing Qiskit.

    If Qiskit has not been imported, no ``QuantumCircuit`` can exist, so the answer is
    ``False`` and nothing is imported. This keeps dispatching between circuits and Qobj
    documents cheap for users who never use Qiskit.

    Args:
        obj: Any object.

    Returns:
        ``True`` if ``obj`` is a ``qiskit.QuantumCircuit`` (or a subclass).
    """
    module = sys.modules.get("qiskit.circuit.quantumcircuit")
    if module is None:
        return False
    circuit_class = getattr(module, "QuantumCircuit", None)
    return isinstance(circuit_class, type) and isinstance(obj, circuit_class)


def circuits_to_qobj(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    *,
    backend_name: str,
    backend_version: str,
    n_qubits: int | None = None,
    supported_instructions: Collection[str] | None = None,
    shots: int = 4000,
    memory: bool = False,
    seed_simulator: int | None = None,
    qobj_id: str | None = None,
    header: Mapping[str, Any] | None = None,
    parameter_binds: Sequence[Mapping[Any, Any]] | None = None,
    init_qubits: bool = True,
    meas_level: int = _MEASURE_LEVEL_CLASSIFIED,
    meas_return: str = "avg",
    parametric_pulses: Sequence[str] | None = None,
    dt: float | None = None,
    **run_config: Any,
) -> dict[str, Any]:
    """Convert Qiskit circuits into a QASM Qobj dict, as terra 0.46's ``assemble`` did.

    The result has the top-level keys ``qobj_id``, ``header``, ``config``,
    ``schema_version`` (``"1.3.0"``), ``type`` (``"QASM"``) and ``experiments``; one
    experiment per circuit (per circuit and binding with ``parameter_binds``), each with a
    ``header`` (``qubit_labels``, ``n_qubits``, ``qreg_sizes``, ``clbit_labels``,
    ``memory_slots``, ``creg_sizes``, ``name``, ``global_phase``, ``metadata``), a
    ``config`` (``n_qubits``, ``memory_slots``) and its ``instructions``. The Qobj config's
    ``n_qubits`` and ``memory_slots`` are the largest over the experiments, as in terra.

    Args:
        circuits: One circuit or a sequence of circuits, usually transpiled for the backend.
        backend_name: Name of the target backend; goes into the Qobj header.
        backend_version: Version of the target backend; goes into the Qobj header.
        n_qubits: Number of qubits of the backend. A circuit with more qubits is refused.
            ``None`` skips the check.
        supported_instructions: Instruction names the backend accepts (its basis gates
            plus its supported instructions). Any other instruction is refused, except
            ``barrier``. A circuit with ``if_test`` blocks needs ``"if_else"`` in it.
            ``None`` skips the check.
        shots: Number of repetitions of each circuit.
        memory: Whether the backend should return the per-shot results.
        seed_simulator: Seed of a simulator backend; omitted when ``None``.
        qobj_id: Identifier of the Qobj; a random UUID4 by default.
        header: Extra keys of the Qobj header (they are copied into the result's header).
            Keys whose value is ``None`` are left out.
        parameter_binds: Values for the parameters of the circuits, one mapping (from
            ``Parameter``, ``ParameterVector`` or parameter name to value) per run: each
            circuit becomes one experiment per mapping, circuit by circuit, as in terra.
            Every parameter must be bound. The experiment of binding ``k`` is named
            ``"<circuit name>-<k>"``.
        init_qubits: Whether the backend resets the qubits before each shot.
        meas_level: Measurement level (2: classified bits).
        meas_return: ``"avg"`` or ``"single"``; sent only when ``meas_level`` is not 2.
        parametric_pulses: Parametric pulse shapes the backend accepts (from its
            configuration); an empty list by default, as terra sent without a backend.
        dt: The backend's sample time in seconds (Qiskit's unit; the wire configuration
            carries it in ns). Needed only to convert delays given in seconds or a prefix
            of seconds to ``dt``; it does not go into the Qobj.
        **run_config: Further run options (``rep_delay`` in µs, ``use_measure_esp``,
            ``method``, ...). They go into the Qobj config as given, except that options
            whose value is ``None`` are left out, ``qubit_lo_freq``/``meas_lo_freq`` are
            converted from Hz to GHz and ``qubit_lo_range``/``meas_lo_range`` are dropped,
            as terra did. ``memory_slots`` and ``n_qubits`` are always computed from the
            circuits.

    Returns:
        The Qobj as a JSON-compatible dict.

    Raises:
        ImportError: Qiskit is not installed.
        CircuitConversionError: An input is not a circuit, a circuit cannot be run on the
            backend as it is (unbound parameters, unsupported instructions, too many
            qubits) or holds something a Qobj cannot express. The message names the
            circuit by name and index and the offending instruction or parameters.
        IBMQInputValueError: A run option, the header or ``shots`` is invalid.
    """
    qiskit = _qiskit()
    circuit_list = _as_circuit_list(circuits, qiskit)
    _check_shots(shots)
    if "schedule_los" in run_config and run_config["schedule_los"] is not None:
        raise IBMQInputValueError(
            "schedule_los is a pulse option and cannot be used with circuits; "
            "use qubit_lo_freq/meas_lo_freq"
        )
    supported = (
        None
        if supported_instructions is None
        else frozenset(supported_instructions) | ALWAYS_SUPPORTED_INSTRUCTIONS
    )

    experiments: list[dict[str, Any]] = []
    for index, circuit in enumerate(circuit_list):
        for where, bound in _bound_circuits(circuit, index, parameter_binds, qiskit):
            _check_circuit(bound, where, qiskit, n_qubits=n_qubits, supported=supported)
            experiments.append(_Experiment(bound, where, qiskit, dt=dt).to_dict())

    config: dict[str, Any] = {"shots": int(shots), "memory": memory}
    if seed_simulator is not None:
        config["seed_simulator"] = seed_simulator
    config["parameter_binds"] = []
    config["meas_level"] = meas_level
    if meas_level != _MEASURE_LEVEL_CLASSIFIED:
        config["meas_return"] = meas_return
    config["init_qubits"] = init_qubits
    for key, value in run_config.items():
        if value is None or key in _DROPPED_RUN_OPTIONS or key in _COMPUTED_CONFIG_KEYS:
            continue
        config[key] = value
        if key in _HZ_TO_GHZ_RUN_OPTIONS:
            config[key] = _hz_to_ghz(value, key)
    config["parametric_pulses"] = list(parametric_pulses or [])
    config = {key: _jsonable(value, f"run option {key!r}") for key, value in config.items()}
    config["memory_slots"] = max(e["config"]["memory_slots"] for e in experiments)
    config["n_qubits"] = max(e["config"]["n_qubits"] for e in experiments)

    qobj_header: dict[str, Any] = {"backend_name": backend_name, "backend_version": backend_version}
    qobj_header.update(header or {})
    qobj_header = {
        key: _jsonable(value, f"Qobj header key {key!r}")
        for key, value in qobj_header.items()
        if value is not None
    }

    return {
        "qobj_id": qobj_id if qobj_id is not None else str(uuid.uuid4()),
        "header": qobj_header,
        "config": config,
        "schema_version": QOBJ_SCHEMA_VERSION,
        "type": "QASM",
        "experiments": experiments,
    }


def circuits_to_qasm_qobj(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    *,
    backend_name: str,
    backend_version: str,
    **options: Any,
) -> QasmQobj:
    """Convert Qiskit circuits into a validated :class:`~ibmq_async.models.QasmQobj`.

    The same conversion as :func:`circuits_to_qobj`, whose dict is then validated by the
    wire model; ``QasmQobj.to_wire()`` gives that dict back.

    Args:
        circuits: One circuit or a sequence of circuits.
        backend_name: Name of the target backend.
        backend_version: Version of the target backend.
        **options: The keyword arguments of :func:`circuits_to_qobj` (``n_qubits``,
            ``supported_instructions``, ``shots``, ``memory``, run options, ...).

    Returns:
        The Qobj model.

    Raises:
        ImportError: Qiskit is not installed.
        CircuitConversionError: As for :func:`circuits_to_qobj`.
        IBMQInputValueError: As for :func:`circuits_to_qobj`, or a run option or header
            value is out of the range the Qobj model accepts (the model's validation
            error is chained).
    """
    from pydantic import ValidationError

    from ibmq_async.models import QasmQobj

    document = circuits_to_qobj(
        circuits, backend_name=backend_name, backend_version=backend_version, **options
    )
    try:
        return QasmQobj.model_validate(document)
    except ValidationError as exc:
        raise IBMQInputValueError(f"the converted Qobj is not valid: {exc}") from exc


# --- Qiskit, imported lazily ------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _qiskit() -> SimpleNamespace:
    """Import the parts of Qiskit the conversion needs, or explain how to install it."""
    try:
        from qiskit.circuit import (
            Barrier,
            ClassicalRegister,
            Clbit,
            ControlFlowOp,
            Delay,
            Gate,
            IfElseOp,
            Measure,
            ParameterExpression,
            QuantumCircuit,
            Reset,
        )
        from qiskit.circuit.classical import expr
        from qiskit.circuit.duration import duration_in_dt
        from qiskit.exceptions import QiskitError
        from qiskit.utils.units import apply_prefix
    except ImportError as exc:
        raise ImportError(_QISKIT_INSTALL_HINT, name="qiskit") from exc
    return SimpleNamespace(
        Barrier=Barrier,
        ClassicalRegister=ClassicalRegister,
        Clbit=Clbit,
        ControlFlowOp=ControlFlowOp,
        Delay=Delay,
        Expr=expr.Expr,
        Gate=Gate,
        IfElseOp=IfElseOp,
        Measure=Measure,
        ParameterExpression=ParameterExpression,
        QiskitError=QiskitError,
        QuantumCircuit=QuantumCircuit,
        Reset=Reset,
        apply_prefix=apply_prefix,
        duration_in_dt=duration_in_dt,
    )


# --- input checks -----------------------------------------------------------------------------


def _describe(circuit: Any, index: int, bind_index: int | None = None) -> str:
    """How error messages name a circuit: by name and position in the input."""
    position = f"index {index}"
    if bind_index is not None:
        position += f", parameter_binds[{bind_index}]"
    return f"circuit {circuit.name!r} ({position})"


def _as_circuit_list(circuits: Any, qiskit: SimpleNamespace) -> list[Any]:
    if isinstance(circuits, qiskit.QuantumCircuit):
        return [circuits]
    if isinstance(circuits, (str, bytes, Mapping)) or not isinstance(circuits, Iterable):
        raise CircuitConversionError(
            f"expected a QuantumCircuit or a sequence of QuantumCircuits, "
            f"got {type(circuits).__name__}"
        )
    circuit_list = list(circuits)
    if not circuit_list:
        raise CircuitConversionError("no circuits to convert: the sequence is empty")
    for index, item in enumerate(circuit_list):
        if not isinstance(item, qiskit.QuantumCircuit):
            raise CircuitConversionError(
                f"item {index} is a {type(item).__name__}, not a QuantumCircuit; "
                "circuits and Qobj documents cannot be mixed in one job"
            )
    return circuit_list


def _check_shots(shots: Any) -> None:
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1:
        raise IBMQInputValueError(f"shots must be a positive integer, got {shots!r}")


def _bound_circuits(
    circuit: Any,
    index: int,
    parameter_binds: Sequence[Mapping[Any, Any]] | None,
    qiskit: SimpleNamespace,
) -> list[tuple[str, Any]]:
    """The circuit, or one bound copy per mapping of ``parameter_binds``, each described."""
    if not parameter_binds or not any(parameter_binds):
        return [(_describe(circuit, index), circuit)]
    bound = []
    for bind_index, bind in enumerate(parameter_binds):
        where = _describe(circuit, index, bind_index)
        try:
            bound_circuit = circuit.assign_parameters(bind, inplace=False, strict=True)
        except (KeyError, ValueError, TypeError, qiskit.QiskitError) as exc:
            raise CircuitConversionError(f"{where}: cannot bind the parameters: {exc}") from exc
        # Binding copies the circuit; terra (and Qiskit's assign_parameters) then named the
        # copy "<name>-<process-wide instance counter>". The binding's index keeps that shape
        # and makes the names predictable.
        bound_circuit.name = f"{circuit.name}-{bind_index}"
        bound.append((where, bound_circuit))
    return bound


def _check_circuit(
    circuit: Any,
    where: str,
    qiskit: SimpleNamespace,
    *,
    n_qubits: int | None,
    supported: frozenset[str] | None,
) -> None:
    """Refuse what the backend cannot run, before anything is encoded."""
    for kind, bits, registers in (
        ("qubit", circuit.qubits, circuit.qregs),
        ("classical bit", circuit.clbits, circuit.cregs),
    ):
        in_registers = [bit for register in registers for bit in register]
        if len(in_registers) != len(bits) or len(set(in_registers)) != len(in_registers):
            raise CircuitConversionError(
                f"{where}: every {kind} must belong to exactly one register, because the "
                f"Qobj header describes bits by register; build the circuit from registers "
                f"(QuantumCircuit(n, m) does)"
            )
    if n_qubits is not None and circuit.num_qubits > n_qubits:
        raise CircuitConversionError(
            f"{where} has {circuit.num_qubits} qubits, more than the {n_qubits} of the backend"
        )
    unbound = sorted(parameter.name for parameter in circuit.parameters)
    if unbound:
        raise CircuitConversionError(
            f"{where} has unbound parameters: {', '.join(unbound)}; bind them with "
            "circuit.assign_parameters(...) or pass parameter_binds"
        )
    if supported is not None:
        used = _instruction_names(circuit.data, qiskit)
        missing = sorted(used - supported)
        if missing:
            names = ", ".join(repr(name) for name in missing)
            plural = "s" if len(missing) > 1 else ""
            raise CircuitConversionError(
                f"{where} uses instruction{plural} {names} that the backend does not "
                f"support; supported: {', '.join(sorted(supported))}. Transpile the circuit "
                "for the backend first (qiskit.transpile(circuit, backend=...))"
            )


def _instruction_names(data: Iterable[Any], qiskit: SimpleNamespace) -> set[str]:
    names: set[str] = set()
    for instruction in data:
        operation = instruction.operation
        names.add(operation.name)
        if isinstance(operation, qiskit.ControlFlowOp):
            for block in operation.blocks:
                names |= _instruction_names(block.data, qiskit)
    return names


# --- encoding ---------------------------------------------------------------------------------


class _Experiment:
    """One circuit being encoded as a Qobj experiment."""

    def __init__(self, circuit: Any, where: str, qiskit: SimpleNamespace, *, dt: float | None):
        self.circuit = circuit
        self.where = where
        self.qiskit = qiskit
        self.dt = dt
        self.qubit_indices = {bit: index for index, bit in enumerate(circuit.qubits)}
        self.clbit_indices = {bit: index for index, bit in enumerate(circuit.clbits)}
        self.memory_slots = sum(register.size for register in circuit.cregs)
        # As in terra: when any instruction is conditional, every measurement also writes
        # the register slot of its bit, and each condition gets a fresh register slot
        # after the memory slots.
        self.conditional = any(
            isinstance(instruction.operation, qiskit.IfElseOp) for instruction in circuit.data
        )
        self.next_condition_register = self.memory_slots

    def to_dict(self) -> dict[str, Any]:
        circuit = self.circuit
        num_qubits = sum(register.size for register in circuit.qregs)
        header = {
            "qubit_labels": [[reg.name, i] for reg in circuit.qregs for i in range(reg.size)],
            "n_qubits": num_qubits,
            "qreg_sizes": [[register.name, register.size] for register in circuit.qregs],
            "clbit_labels": [[reg.name, i] for reg in circuit.cregs for i in range(reg.size)],
            "memory_slots": self.memory_slots,
            "creg_sizes": [[register.name, register.size] for register in circuit.cregs],
            "name": circuit.name,
            "global_phase": _real(circuit.global_phase, f"{self.where}: global phase"),
            "metadata": _jsonable(
                circuit.metadata if circuit.metadata is not None else {},
                f"{self.where}: metadata",
                error=CircuitConversionError,
            ),
        }
        instructions: list[dict[str, Any]] = []
        for instruction in circuit.data:
            operation = instruction.operation
            if isinstance(operation, self.qiskit.IfElseOp):
                instructions.extend(self._if_else(instruction))
            else:
                qubits = [self.qubit_indices[bit] for bit in instruction.qubits]
                clbits = [self.clbit_indices[bit] for bit in instruction.clbits]
                instructions.append(self._instruction(operation, qubits, clbits))
        return {
            "config": {"n_qubits": num_qubits, "memory_slots": self.memory_slots},
            "header": header,
            "instructions": instructions,
        }

    def _instruction(
        self,
        operation: Any,
        qubits: list[int],
        clbits: list[int],
        conditional: int | None = None,
    ) -> dict[str, Any]:
        """Encode one gate, measure, reset, barrier or delay on the given bit indices."""
        qiskit = self.qiskit
        name = operation.name
        what = f"{self.where}: instruction {name!r}"
        if isinstance(operation, qiskit.ControlFlowOp):
            detail = (
                "nested control flow"
                if conditional is not None or isinstance(operation, qiskit.IfElseOp)
                else "this control flow"
            )
            raise CircuitConversionError(
                f"{what}: a Qobj cannot express {detail}; only if_test blocks on a "
                "classical bit or register equality, holding gates, measure, reset, "
                "barrier and delay, can be converted"
            )
        if isinstance(operation, qiskit.Delay):
            params: list[Any] = [self._delay_duration(operation, what)]
        elif isinstance(operation, (qiskit.Gate, qiskit.Measure, qiskit.Reset, qiskit.Barrier)):
            if name in _PAYLOAD_GATES:
                raise CircuitConversionError(
                    f"{what}: a Qobj instruction cannot carry a {name} payload; decompose "
                    "it into the backend's basis gates (qiskit.transpile)"
                )
            params = [
                _parameter(value, f"{what}, parameter {i}", qiskit)
                for i, value in enumerate(operation.params)
            ]
        else:
            raise CircuitConversionError(
                f"{what} ({type(operation).__name__}) is not a gate, measure, reset, barrier, "
                "delay or if_test and cannot be put in a Qobj; decompose it "
                "(qiskit.transpile) or remove it"
            )

        entry: dict[str, Any] = {"name": name}
        if params:
            entry["params"] = params
        if qubits:
            entry["qubits"] = qubits
        if clbits and name == "measure" and self.conditional:
            entry["register"] = list(clbits)
        if clbits:
            entry["memory"] = clbits
        if conditional is not None and not isinstance(operation, qiskit.Barrier):
            entry["conditional"] = conditional
        if operation.label:
            entry["label"] = operation.label
        return entry

    def _delay_duration(self, operation: Any, what: str) -> int:
        """The delay's duration in dt, converting SI units with the backend's dt."""
        unit = operation.unit
        duration = operation.params[0] if operation.params else operation.duration
        if isinstance(duration, self.qiskit.Expr) or unit not in _SI_TIME_UNITS | {"dt"}:
            raise CircuitConversionError(
                f"{what}: a delay whose duration is an expression (unit {unit!r}) cannot be "
                "put in a Qobj; give it a duration in dt or in seconds"
            )
        value = _real(_parameter(duration, f"{what} duration", self.qiskit), f"{what} duration")
        if unit == "dt":
            if not float(value).is_integer():
                raise CircuitConversionError(
                    f"{what}: a duration in dt must be a whole number, got {value!r}"
                )
            return int(value)
        if self.dt is None:
            raise CircuitConversionError(
                f"{what}: the duration is in {unit!r} but a Qobj delay is in dt and the "
                "backend's dt is not known; transpile the circuit for the backend "
                "(which converts delays to dt) or give the duration in dt"
            )
        seconds = self.qiskit.apply_prefix(value, unit) if unit != "s" else value
        return int(self.qiskit.duration_in_dt(seconds, self.dt))

    def _if_else(self, instruction: Any) -> list[dict[str, Any]]:
        """Encode an if_test (with optional else) as bfunc + conditional instructions."""
        operation = instruction.operation
        where = f"{self.where}: instruction 'if_else'"
        mask, value = self._condition_mask(operation.condition, where)
        outer_qubits = [self.qubit_indices[bit] for bit in instruction.qubits]
        outer_clbits = [self.clbit_indices[bit] for bit in instruction.clbits]

        bfuncs: list[dict[str, Any]] = []
        bodies: list[dict[str, Any]] = []
        blocks = operation.blocks  # (true_body,) or (true_body, false_body)
        for relation, block in zip(("==", "!=")[: len(blocks)], blocks, strict=True):
            if block is None or not block.data:
                continue
            register = self.next_condition_register
            self.next_condition_register += 1
            bfuncs.append(
                {
                    "name": "bfunc",
                    "register": register,
                    "mask": f"0x{mask:X}",
                    "relation": relation,
                    "val": f"0x{value:X}",
                }
            )
            block_qubits = {bit: outer_qubits[i] for i, bit in enumerate(block.qubits)}
            block_clbits = {bit: outer_clbits[i] for i, bit in enumerate(block.clbits)}
            for inner in block.data:
                bodies.append(
                    self._instruction(
                        inner.operation,
                        [block_qubits[bit] for bit in inner.qubits],
                        [block_clbits[bit] for bit in inner.clbits],
                        conditional=register,
                    )
                )
        # Both conditions are evaluated before either branch runs, so that a measurement in
        # the true branch cannot change which branch the else part sees.
        return bfuncs + bodies

    def _condition_mask(self, condition: Any, where: str) -> tuple[int, int]:
        """Mask and value over the memory slots for a (bit | register, value) condition."""
        qiskit = self.qiskit
        if isinstance(condition, tuple) and len(condition) == 2:
            target, expected = condition
            if isinstance(target, qiskit.Clbit) and target in self.clbit_indices:
                slot = self.clbit_indices[target]
                return 1 << slot, (int(expected) & 1) << slot
            if isinstance(target, qiskit.ClassicalRegister) and all(
                bit in self.clbit_indices for bit in target
            ):
                mask = value = 0
                for position, bit in enumerate(target):
                    slot = self.clbit_indices[bit]
                    mask |= 1 << slot
                    value |= ((int(expected) >> position) & 1) << slot
                return mask, value
        raise CircuitConversionError(
            f"{where}: only conditions comparing one classical bit or one classical register "
            "of the circuit with a value can be put in a Qobj, not a classical expression"
        )


# --- values -----------------------------------------------------------------------------------


def _parameter(value: Any, what: str, qiskit: SimpleNamespace) -> Any:
    """A gate parameter as a JSON number (a complex one as ``[re, im]``)."""
    if isinstance(value, qiskit.ParameterExpression):
        if value.parameters:
            names = ", ".join(sorted(parameter.name for parameter in value.parameters))
            raise CircuitConversionError(f"{what} has unbound parameters: {names}")
        value = value.numeric() if hasattr(value, "numeric") else complex(value)
    if hasattr(value, "item") and not isinstance(value, (int, float, complex)):
        value = value.item()  # a numpy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise CircuitConversionError(
            f"{what} is a {type(value).__name__}, but a Qobj instruction carries numbers only; "
            "decompose the instruction into the backend's basis gates (qiskit.transpile)"
        )
    return _number(value)


def _number(value: numbers.Number) -> int | float | list[float]:
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    assert isinstance(value, numbers.Complex)
    return [float(value.real), float(value.imag)]


def _hz_to_ghz(frequencies: Any, key: str) -> list[float]:
    values = _jsonable(frequencies, f"run option {key!r}")
    if not isinstance(values, list) or not all(
        isinstance(value, (int, float)) and not isinstance(value, bool) for value in values
    ):
        raise IBMQInputValueError(f"run option {key!r} must be a list of frequencies in Hz")
    return [value / 1e9 for value in values]


def _real(value: Any, what: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise CircuitConversionError(f"{what} is not a real number: {value!r}") from exc
    if math.isnan(result):
        raise CircuitConversionError(f"{what} is not a number")
    return result


def _jsonable(value: Any, what: str, error: type[IBMQInputValueError] = IBMQInputValueError) -> Any:
    """``value`` with numpy values, tuples and complex numbers made JSON-compatible."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Number):
        return _number(value)
    if isinstance(value, Mapping):
        return {
            _json_key(key): _jsonable(item, f"{what}[{key!r}]", error)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{what}[{i}]", error) for i, item in enumerate(value)]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist(), what, error)  # numpy arrays and scalars
    raise error(f"{what} is a {type(value).__name__}, which cannot be written as JSON")


def _json_key(key: Any) -> str:
    """The string a JSON object key becomes (``json.dumps`` semantics; else ``str``)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return str(key)


# --- Qobj -> circuits ---------------------------------------------------------------------------
#
# The one converter of Qobj experiments into circuits, for the client (IBMQJob.circuits(),
# the registers of the experiment header) and for the local service's executor (qubits
# renumbered to those used, memory slots as one register, conditionals).


class QobjConversionError(CircuitConversionError):
    """An experiment that cannot become a circuit.

    Attributes:
        kind: Why, for a caller that maps it onto its own codes: ``"schema"`` (a value of
            the wrong type), ``"invalid"`` (an instruction that makes no sense as given),
            ``"unsupported"`` (an instruction the converter does not know) or
            ``"not-mapped"`` (a measurement without memory slots).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Layout:
    """How an experiment's qubits and memory slots map onto the circuit's registers.

    Attributes:
        qubits: The Qobj qubits the circuit has, in order (qubit ``qubits[i]`` of the
            Qobj is qubit ``i`` of the circuit).
        qregs: The quantum registers as ``(name, size)``, summing to ``len(qubits)``.
        cregs: The classical registers of the memory slots, as ``(name, size)``, in
            slot order.
        register_slots: How many register slots (``register`` of ``measure``, ``bfunc``)
            the experiment uses; they become a register ``reg`` that nothing reports.
    """

    qubits: tuple[int, ...]
    qregs: tuple[tuple[str, int], ...]
    cregs: tuple[tuple[str, int], ...]
    register_slots: int = 0

    @classmethod
    def compact(cls, used: Iterable[int], memory_slots: int, register_slots: int) -> Layout:
        """The qubits the experiment uses, renumbered from 0 (a 2-qubit experiment on a
        127-qubit device becomes a 2-qubit circuit); memory slots as one register ``c``."""
        qubits = tuple(sorted(set(used)))
        return cls(
            qubits=qubits,
            qregs=(("q", max(len(qubits), 1)),),
            cregs=(("c", memory_slots),) if memory_slots else (),
            register_slots=register_slots,
        )

    @classmethod
    def from_header(
        cls, header: Mapping[str, Any], config: Mapping[str, Any], top_config: Mapping[str, Any]
    ) -> Layout:
        """The registers the experiment header describes (``qreg_sizes``, ``creg_sizes``),
        else one register ``q`` of ``n_qubits`` and one ``c`` of ``memory_slots``."""
        qregs = tuple((str(name), int(size)) for name, size in header.get("qreg_sizes") or [])
        if not qregs:
            n_qubits = (
                header.get("n_qubits") or config.get("n_qubits") or top_config.get("n_qubits")
            )
            qregs = (("q", int(n_qubits)),) if n_qubits else ()
        cregs = tuple((str(name), int(size)) for name, size in header.get("creg_sizes") or [])
        if not cregs:
            slots = header.get("memory_slots") or config.get("memory_slots")
            cregs = (("c", int(slots)),) if slots else ()
        total = sum(size for _, size in qregs)
        return cls(qubits=tuple(range(total)), qregs=qregs, cregs=cregs)


def _int_value(value: Any, what: str, where: str) -> int:
    if isinstance(value, bool):
        raise QobjConversionError("schema", f"{where}: {what} must be an integer")
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise QobjConversionError(
                "schema", f"{where}: {what} {value!r} is not an integer"
            ) from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise QobjConversionError("schema", f"{where}: {what} must be an integer")
    return value


def _qobj_real(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QobjConversionError("invalid", f"{where}: parameter {value!r} is not a number")
    return float(value)


def _qobj_complex(value: Any, where: str) -> complex:
    if isinstance(value, list) and len(value) == 2:
        return complex(_qobj_real(value[0], where), _qobj_real(value[1], where))
    return complex(_qobj_real(value, where))


@functools.lru_cache(maxsize=1)
def _gate_table() -> dict[str, Any]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    skipped = {"measure", "barrier", "reset", "delay", "global_phase"}
    return {
        name: gate for name, gate in get_standard_gate_name_mapping().items() if name not in skipped
    }


GateCheck = Callable[[str, Sequence[int], str], None]
"""``check(name, qubits, where)``: refuse a gate (raise) that the caller does not allow."""


class _Builder:
    """Builds the circuit of one experiment in a :class:`Layout`."""

    def __init__(self, layout: Layout, *, name: str | None, conditionals: bool) -> None:
        from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

        self.layout = layout
        self.conditionals = conditionals
        self.qubit_map = {qubit: index for index, qubit in enumerate(layout.qubits)}
        qregs = [QuantumRegister(size, reg_name) for reg_name, size in layout.qregs]
        cregs = [ClassicalRegister(size, reg_name) for reg_name, size in layout.cregs]
        self.register = (
            ClassicalRegister(layout.register_slots, "reg") if layout.register_slots else None
        )
        extra = [self.register] if self.register is not None else []
        self.circuit = QuantumCircuit(*qregs, *cregs, *extra, name=name)
        self.clbits = [bit for register in cregs for bit in register]
        self.memory = cregs[0] if len(cregs) == 1 else None

    def qubits(self, indices: Sequence[int], where: str) -> list[Any]:
        try:
            return [self.circuit.qubits[self.qubit_map[index]] for index in indices]
        except (KeyError, IndexError):
            raise QobjConversionError(
                "invalid", f"{where}: qubits {list(indices)} are outside the experiment"
            ) from None

    def clbit(self, slot: int, where: str) -> Any:
        if not 0 <= slot < len(self.clbits):
            raise QobjConversionError(
                "invalid", f"{where}: memory slot {slot} is outside the experiment"
            )
        return self.clbits[slot]


def experiment_to_circuit(
    instructions: Sequence[Mapping[str, Any]],
    layout: Layout,
    *,
    where: str,
    name: str | None = None,
    conditionals: bool = True,
    delays: bool = True,
    check_gate: GateCheck | None = None,
) -> QuantumCircuit:
    """The circuit of one Qobj experiment's instructions, in ``layout``.

    Args:
        instructions: The experiment's instructions.
        layout: Which circuit qubits and bits the Qobj's qubits and slots are.
        where: The experiment, for error messages (``"experiment 0 ('bell')"``).
        name: The circuit's name.
        conditionals: Convert ``bfunc`` and ``conditional`` (into ``store`` and
            ``if_test`` on the ``reg`` register); otherwise they are refused.
        delays: Keep ``delay`` instructions (as ``Delay`` in ``dt``); otherwise drop them.
        check_gate: Called before a gate is added; raises to refuse it.

    Raises:
        QobjConversionError: An instruction cannot be converted; the message names it.
        ImportError: Qiskit is not installed.
    """
    builder = _Builder(layout, name=name, conditionals=conditionals)
    for position, instruction in enumerate(instructions):
        here = f"{where}, instruction {position} ({instruction.get('name')!r})"
        _add_instruction(builder, instruction, here, delays, check_gate)
    return builder.circuit


def _add_instruction(
    builder: _Builder,
    instruction: Mapping[str, Any],
    where: str,
    delays: bool,
    check_gate: GateCheck | None,
) -> None:
    name = instruction["name"]
    condition = instruction.get("conditional")
    if (name == "bfunc" or condition is not None) and not builder.conditionals:
        raise QobjConversionError(
            "unsupported", f"{where}: conditional instructions are not rebuilt"
        )
    if name == "bfunc":
        _add_bfunc(builder, instruction, where)
        return
    if condition is None:
        _emit(builder, instruction, name, where, delays, check_gate)
        return
    with builder.circuit.if_test(_condition(builder, condition, where)):
        _emit(builder, instruction, name, where, delays, check_gate)


def _condition(builder: _Builder, condition: Any, where: str) -> Any:
    from qiskit.circuit.classical import expr, types

    if isinstance(condition, dict):
        memory = builder.memory
        if memory is None:
            raise QobjConversionError(
                "schema", f"{where}: a mask/val condition needs the memory slots in one register"
            )
        width = memory.size
        mask = _int_value(condition.get("mask", 0), "mask", where) & ((1 << width) - 1)
        value = _int_value(condition.get("val", 0), "val", where)
        if value >> width:
            return expr.lift(False)
        masked = expr.bit_and(memory, expr.lift(mask, types.Uint(width)))
        return expr.equal(masked, expr.lift(value, types.Uint(width)))
    register = builder.register
    slot = _int_value(condition, "conditional", where)
    if register is None or not 0 <= slot < register.size:
        raise QobjConversionError("schema", f"{where}: register slot {slot} is not set by a bfunc")
    return expr.lift(register[slot])


def _add_bfunc(builder: _Builder, instruction: Mapping[str, Any], where: str) -> None:
    from qiskit.circuit.classical import expr, types

    register = builder.register
    if register is None:
        raise QobjConversionError("schema", f"{where}: a bfunc needs register slots")
    width = register.size
    mask = _int_value(instruction.get("mask", 0), "mask", where)
    value = _int_value(instruction.get("val", 0), "val", where)
    relation = instruction.get("relation", "==")
    if relation not in ("==", "!="):
        raise QobjConversionError(
            "invalid", f"{where}: relation must be '==' or '!=', not {relation!r}"
        )
    masked = expr.bit_and(register, expr.lift(mask, types.Uint(width)))
    operand = expr.lift(value, types.Uint(width))
    test = expr.equal(masked, operand) if relation == "==" else expr.not_equal(masked, operand)
    target = _int_value(instruction.get("register"), "register", where)
    builder.circuit.store(register[target], test)
    memory = instruction.get("memory")
    if memory is not None and builder.clbits:
        builder.circuit.store(builder.clbit(_int_value(memory, "memory", where), where), test)


def _emit(
    builder: _Builder,
    instruction: Mapping[str, Any],
    name: str,
    where: str,
    delays: bool,
    check_gate: GateCheck | None,
) -> None:
    circuit = builder.circuit
    qubits = list(instruction.get("qubits") or [])
    if name == "measure":
        memory = instruction.get("memory")
        if memory is None or not builder.clbits:
            raise QobjConversionError("not-mapped", f"{where}: qubits {qubits} are not mapped.")
        if len(memory) != len(qubits):
            raise QobjConversionError(
                "invalid",
                f"{where}: qubits {qubits} and memory slots {memory} differ in length.",
            )
        registers = instruction.get("register")
        targets = builder.qubits(qubits, where)
        for position, (qubit, slot) in enumerate(zip(targets, memory, strict=True)):
            bit = builder.clbit(slot, where)
            circuit.measure(qubit, bit)
            if registers is not None and builder.register is not None and position < len(registers):
                circuit.store(builder.register[registers[position]], bit)
        return
    if name == "reset":
        for qubit in builder.qubits(qubits, where):
            circuit.reset(qubit)
        return
    if name == "barrier":
        circuit.barrier(*builder.qubits(qubits, where))
        return
    if name == "snapshot":
        return
    params = instruction.get("params", [])
    if not isinstance(params, list):
        raise QobjConversionError("invalid", f"{where}: params must be a list.")
    if name == "delay":
        if delays:
            from qiskit.circuit import Delay

            duration = _int_value(params[0] if params else None, "delay duration", where)
            circuit.append(Delay(duration, unit="dt"), builder.qubits(qubits, where))
        return
    if check_gate is not None:
        check_gate(name, qubits, where)
    if name == "unitary":
        _emit_unitary(builder, params, qubits, where)
        return
    if name == "initialize":
        amplitudes = [_qobj_complex(value, where) for value in params]
        try:
            circuit.initialize(amplitudes, builder.qubits(qubits, where))
        except Exception as error:
            raise QobjConversionError("invalid", f"{where}: {error}") from None
        return
    gate = _gate_table().get(name)
    if gate is None:
        raise QobjConversionError("unsupported", f"{where}: {name} is not a standard gate.")
    if len(qubits) != gate.num_qubits:
        raise QobjConversionError(
            "invalid", f"{where}: {name} acts on {gate.num_qubits} qubit(s), got {len(qubits)}."
        )
    if len(params) != len(gate.params):
        raise QobjConversionError(
            "invalid", f"{where}: {name} takes {len(gate.params)} parameter(s), got {len(params)}."
        )
    operation = gate if not params else gate.base_class(*(_qobj_real(p, where) for p in params))
    if instruction.get("label"):
        if operation is gate:
            operation = gate.base_class()
        operation.label = str(instruction["label"])
    circuit.append(operation, builder.qubits(qubits, where))


def _emit_unitary(builder: _Builder, params: list[Any], qubits: list[int], where: str) -> None:
    import numpy as np
    from qiskit.circuit.library import UnitaryGate

    if len(params) != 1 or not isinstance(params[0], list):
        raise QobjConversionError("invalid", f"{where}: params must hold one matrix.")
    try:
        rows = [[_qobj_complex(value, where) for value in row] for row in params[0]]
        gate = UnitaryGate(np.array(rows, dtype=complex))
    except QobjConversionError:
        raise
    except Exception as error:
        raise QobjConversionError("invalid", f"{where}: {error}") from None
    if gate.num_qubits != len(qubits):
        raise QobjConversionError(
            "invalid", f"{where}: a {gate.num_qubits}-qubit unitary on {len(qubits)} qubit(s)."
        )
    builder.circuit.append(gate, builder.qubits(qubits, where))


def qobj_to_circuits(qobj: Mapping[str, Any]) -> list[QuantumCircuit]:
    """Rebuild the circuits of a QASM Qobj (the inverse of :func:`circuits_to_qobj`).

    Registers come back from the experiment headers (``qreg_sizes``, ``creg_sizes``), as
    do the names, global phases and metadata; qubit ``i`` and memory slot ``j`` of an
    instruction are the ``i``-th qubit and ``j``-th classical bit over the registers in
    order. Gates are matched by name against Qiskit's standard gates.

    Args:
        qobj: A QASM Qobj as a JSON-compatible dict (``QasmQobj.to_wire()``).

    Returns:
        One ``QuantumCircuit`` per experiment.

    Raises:
        CircuitConversionError: An instruction is not a standard gate, ``measure``,
            ``reset``, ``barrier``, ``delay``, ``unitary`` or ``initialize`` (conditional
            instructions are not rebuilt), or the Qobj is not a QASM Qobj.
        ImportError: Qiskit is not installed.
    """
    if qobj.get("type", "QASM") != "QASM":
        raise CircuitConversionError(f"only QASM Qobjs hold circuits, not {qobj.get('type')!r}")
    _qiskit()
    top_config = qobj.get("config") or {}
    circuits: list[QuantumCircuit] = []
    for index, experiment in enumerate(qobj.get("experiments") or []):
        header = experiment.get("header") or {}
        config = experiment.get("config") or {}
        name = header.get("name") or f"experiment-{index}"
        circuit = experiment_to_circuit(
            experiment.get("instructions") or [],
            Layout.from_header(header, config, top_config),
            where=f"experiment {index} ({name!r})",
            name=name,
            conditionals=False,
        )
        circuit.global_phase = float(header.get("global_phase") or 0.0)
        if isinstance(header.get("metadata"), dict):
            circuit.metadata = dict(header["metadata"])
        circuits.append(circuit)
    return circuits
