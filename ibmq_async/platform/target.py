"""A backend's Qiskit ``Target``, and the check that circuits are ISA circuits of it.

:func:`backend_target` builds the ``Target`` of a backend from its configuration and, when
given, its properties: the documents of ``GET /v1/backends/{name}/configuration`` and
``/properties`` (the same JSON as the classic API's, parsed by
:class:`~ibmq_async.models.QasmBackendConfiguration` and
:class:`~ibmq_async.models.BackendProperties`). It follows qiskit-ibm-runtime's
``convert_to_target`` (``utils/backend_converter.py``) on Qiskit's own pieces (``Target``,
``InstructionProperties``, ``QubitProperties``, the standard gate and control-flow
classes), so ``transpile(circuit, target=backend_target(...))`` gives the circuits the
platform runs:

* instructions: the basis gates (without the fractional ones, ``rx``, ``rzz``..., unless
  asked for, as qiskit-ibm-runtime's backends), the control flow and
  ``measure``/``reset``/``delay`` the configuration lists in ``supported_instructions``
  (``measure``, ``reset`` and ``delay`` when it lists nothing);
* where each acts: the qubits of the gate's ``coupling_map`` in ``gates``; a gate without
  one acts on every qubit (one-qubit gates) or every pair of ``coupling_map`` (two-qubit
  gates; qiskit-ibm-runtime leaves such a gate free on any pair, the platform does not);
* with properties: gate errors and durations, readout errors and lengths, T1, T2 and
  frequencies, and, by default, no faulty qubit or gate.

Qiskit's ``Target.from_configuration`` is not used: it takes one coupling map for every
two-qubit gate and no calibration, so it would lose the per-gate qubits and the errors
that noise-aware layout needs.

:func:`check_circuits` refuses a circuit that is not an ISA circuit of a target before any
request: more qubits than the backend, an unbound parameter (for ``backend.run``), an
instruction the target does not have, or has not on those qubits (two-qubit gates on
uncoupled pairs), an ``rzz`` angle outside ``[0, pi/2]``. The error names the circuit (its
position and name) and the first offending instruction. It checks what
qiskit-ibm-runtime's ``is_isa_circuit`` checks; the local service's own check
(``ibmq_async.local.platform.primitives``) agrees on the bundled devices but for the
differences listed in ``docs/platform.md`` (dynamic-circuit instructions a device does not
list, ``store``, calibration).

Needs Qiskit (the ``qiskit`` extra), imported when a target is built or a circuit checked.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ibmq_async.models.configuration import (
    BackendConfiguration,
    QasmBackendConfiguration,
    parse_backend_configuration,
)
from ibmq_async.models.properties import BackendProperties, BackendPropertyError
from ibmq_async.platform.errors import NotISACircuitError

__all__ = [
    "NON_UNITARY_INSTRUCTIONS",
    "backend_target",
    "check_circuit",
    "check_circuits",
]

NON_UNITARY_INSTRUCTIONS = frozenset({"measure", "delay", "reset"})
"""The non-unitary instructions a target has when the configuration supports them."""

_ALWAYS_ACCEPTED = frozenset({"barrier", "store"})
"""Instructions accepted on any qubits (qiskit-ibm-runtime's ``is_isa_circuit``)."""

_DEFAULT_SUPPORTED = ("measure", "reset", "delay")
_RZZ_MAX_ANGLE = math.pi / 2 + 1e-10


def _configuration(value: BackendConfiguration | Mapping[str, Any]) -> BackendConfiguration:
    if isinstance(value, QasmBackendConfiguration):
        return value
    return parse_backend_configuration(value)


def _properties(value: BackendProperties | Mapping[str, Any] | None) -> BackendProperties | None:
    if value is None or isinstance(value, BackendProperties):
        return value
    if not value:  # the platform answers {} for a backend without calibration
        return None
    return BackendProperties.model_validate(value)


def backend_target(
    configuration: BackendConfiguration | Mapping[str, Any],
    properties: BackendProperties | Mapping[str, Any] | None = None,
    *,
    include_control_flow: bool = True,
    include_fractional_gates: bool | None = None,
    filter_faulty: bool = True,
    custom_name_mapping: Mapping[str, Any] | None = None,
) -> Any:
    """The Qiskit ``Target`` of a backend.

    Args:
        configuration: The backend's configuration (the model or its JSON).
        properties: The backend's properties (the model or its JSON; ``{}`` or ``None``
            when it has none).
        include_control_flow: Include the control-flow instructions the backend lists.
        include_fractional_gates: Include gates with continuous angles the hardware must
            calibrate (``rx``, ``rzz``...). By default a device's target has none, as
            qiskit-ibm-runtime's backends have none unless ``use_fractional_gates`` is set,
            and a simulator's has them all. With them, ``rzz`` angles must be in
            ``[0, pi/2]`` (:func:`check_circuit` refuses others; the transpiler does not
            fold them, qiskit-ibm-runtime's own pass that does is not used here).
        filter_faulty: Leave out the qubits and gates the properties mark not operational.
        custom_name_mapping: Instructions for names that are not Qiskit standard gates.

    Returns:
        A ``qiskit.transpiler.Target`` whose ``description`` is the backend's name.

    Raises:
        pydantic.ValidationError: A document is not a valid configuration or properties.
    """
    from qiskit.circuit import Gate, Instruction, Parameter
    from qiskit.circuit.controlflow import (
        CONTROL_FLOW_OP_NAMES,
        ForLoopOp,
        IfElseOp,
        SwitchCaseOp,
        WhileLoopOp,
    )
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.providers import QubitProperties
    from qiskit.transpiler import InstructionProperties, Target

    config = _configuration(configuration)
    props = _properties(properties)
    if include_fractional_gates is None:
        include_fractional_gates = bool(config.simulator)
    n_qubits = config.n_qubits
    standard = get_standard_gate_name_mapping()
    if custom_name_mapping:
        standard.update(custom_name_mapping)
    control_flow: dict[str, Any] = {
        "if_else": IfElseOp,
        "while_loop": WhileLoopOp,
        "for_loop": ForLoopOp,
        "switch_case": SwitchCaseOp,
    }
    supported = set(
        config.supported_instructions
        if config.supported_instructions is not None
        else _DEFAULT_SUPPORTED
    )
    gate_configs = {gate.name: gate for gate in config.gates}
    names = (
        set(config.basis_gates)
        | (supported & NON_UNITARY_INSTRUCTIONS)
        | (supported & set(CONTROL_FLOW_OP_NAMES) & set(control_flow))
    )
    if not include_control_flow:
        names -= set(control_flow)

    operations: dict[str, Any] = {}
    for name in sorted(names):
        if name in control_flow:
            continue
        if name in standard:
            operation = standard[name]
            if not include_fractional_gates and _is_fractional(operation):
                continue
            operations[name] = operation
        elif name in gate_configs:
            gate_config = gate_configs[name]
            coupling = gate_config.coupling_map or []
            operations[name] = Gate(
                name=name,
                num_qubits=len(coupling[0]) if coupling else 0,
                params=[Parameter(parameter) for parameter in gate_config.parameters or []],
            )
        else:
            warnings.warn(
                f"backend {config.backend_name}: no definition of instruction {name!r}; it "
                "is left out of the target (give one in custom_name_mapping)",
                RuntimeWarning,
                stacklevel=2,
            )
    for signature in getattr(config, "instruction_signatures", None) or []:
        operations[signature["name"]] = Instruction(
            name=signature["name"],
            num_qubits=signature["num_qubits"],
            num_clbits=signature["num_clbits"],
            params=[Parameter(parameter) for parameter in signature.get("parameters") or []],
        )

    edges = [tuple(edge) for edge in config.coupling_map or [] if len(edge) == 2]
    qargs_of: dict[str, dict[tuple[int, ...], Any] | None] = {}
    for name, operation in operations.items():
        listed = gate_configs.get(name)
        if listed is not None and listed.coupling_map:
            qargs_of[name] = dict.fromkeys(tuple(qargs) for qargs in listed.coupling_map)
        elif name in NON_UNITARY_INSTRUCTIONS or operation.num_qubits == 1:
            qargs_of[name] = {(qubit,): None for qubit in range(n_qubits)}
        elif operation.num_qubits == 2 and edges:
            qargs_of[name] = dict.fromkeys(edges)
        else:
            qargs_of[name] = None  # on any qubits

    target_data: dict[str, Any] = {"num_qubits": n_qubits, "description": config.backend_name}
    if config.dt is not None:
        target_data["dt"] = config.dt_seconds
    if config.timing_constraints is not None:
        target_data.update(config.timing_constraints.model_dump(exclude_none=True))

    if props is not None:
        faulty_qubits = {
            qubit
            for qubit in range(min(n_qubits, props.num_qubits))
            if filter_faulty and not props.is_qubit_operational(qubit)
        }
        calibrated = [
            {nduv.name: nduv for nduv in props.qubits[qubit]} if qubit < props.num_qubits else {}
            for qubit in range(n_qubits)
        ]
        target_data["qubit_properties"] = [
            QubitProperties(
                t1=_si(nduvs.get("T1")),
                t2=_si(nduvs.get("T2")),
                frequency=_si(nduvs.get("frequency")),
            )
            for nduvs in calibrated
        ]
        for entry in props.gates:
            if entry.gate not in operations or entry.gate == "measure":
                continue
            qargs = tuple(entry.qubits)
            faulty = filter_faulty and (
                faulty_qubits.intersection(qargs)
                or not props.is_gate_operational(entry.gate, qargs)
            )
            table = qargs_of.get(entry.gate)
            if faulty:
                if table is not None:
                    table.pop(qargs, None)
                continue
            if table is None:
                table = qargs_of[entry.gate] = {}
            values = {nduv.name: nduv for nduv in entry.parameters}
            table[qargs] = InstructionProperties(
                error=_si(values.get("gate_error")), duration=_si(values.get("gate_length"))
            )
        if "measure" in operations:
            measure: dict[tuple[int, ...], Any] = {}
            for qubit in range(n_qubits):
                if qubit in faulty_qubits:
                    continue
                measure[(qubit,)] = InstructionProperties(
                    error=_si(calibrated[qubit].get("readout_error")),
                    duration=_si(calibrated[qubit].get("readout_length")),
                )
            qargs_of["measure"] = measure
        for name in NON_UNITARY_INSTRUCTIONS - {"measure"}:
            table = qargs_of.get(name)
            if table is not None:
                for qubit in faulty_qubits:
                    table.pop((qubit,), None)

    target = Target(**target_data)
    for name, operation in operations.items():
        target.add_instruction(operation, qargs_of[name], name=name)
    for name in sorted(names & set(control_flow)):
        target.add_instruction(control_flow[name], name=name)
    return target


def _si(nduv: Any) -> float | None:
    if nduv is None:
        return None
    try:
        return float(nduv.si_value)
    except (BackendPropertyError, ValueError):
        return None


def _is_fractional(operation: Any) -> bool:
    """Whether a gate takes a continuous angle the hardware must calibrate (qiskit-ibm-runtime's
    ``is_fractional_gate``: any parameterised gate but ``rz``, ``p``, ``u1`` and ``delay``)."""
    return bool(operation.params) and operation.name not in {"rz", "p", "u1", "delay"}


# --- ISA checks -----------------------------------------------------------------------------


def _describe_circuit(circuit: Any, index: int, what: str) -> str:
    return f"{what} {index} ({circuit.name!r})"


def _backend_name(target: Any) -> str:
    return str(getattr(target, "description", None) or "the backend")


def _refuse(
    circuit: Any,
    index: int,
    what: str,
    problem: str,
    *,
    instruction: str | None = None,
    qubits: tuple[int, ...] = (),
) -> NotISACircuitError:
    return NotISACircuitError(
        f"{_describe_circuit(circuit, index, what)}: {problem}",
        index=index,
        circuit_name=str(circuit.name),
        instruction=instruction,
        qubits=qubits,
    )


def _why_not(target: Any, name: str, qargs: tuple[int, ...]) -> str:
    backend = _backend_name(target)
    if name not in target.operation_names:
        return (
            f"{backend} has no {name} (its instructions: "
            f"{', '.join(sorted(target.operation_names))})"
        )
    if len(qargs) == 2:
        return f"qubits {qargs[0]} and {qargs[1]} are not coupled for {name} on {backend}"
    return f"{backend} has no {name} on qubits {list(qargs)}"


def _walk(
    block: Any,
    target: Any,
    qubit_map: Mapping[Any, int],
    circuit: Any,
    index: int,
    what: str,
    where: str,
) -> None:
    from qiskit.circuit import ControlFlowOp, ParameterExpression

    for position, item in enumerate(block.data):
        operation = item.operation
        name = operation.name
        qargs = tuple(qubit_map[qubit] for qubit in item.qubits)
        at = f"{where}instruction {position} ({name} on qubits {list(qargs)})"
        if name not in _ALWAYS_ACCEPTED and not target.instruction_supported(name, qargs):
            raise _refuse(
                circuit,
                index,
                what,
                f"not an ISA circuit: {at}: {_why_not(target, name, qargs)}; transpile it "
                "for the backend first: transpile(circuit, target=backend.target)",
                instruction=name,
                qubits=qargs,
            )
        if name == "rzz" and operation.params:
            angle = operation.params[0]
            if not isinstance(angle, ParameterExpression) and not (
                0.0 <= float(angle) <= _RZZ_MAX_ANGLE
            ):
                raise _refuse(
                    circuit,
                    index,
                    what,
                    f"not an ISA circuit: {at}: rzz takes angles from 0 to pi/2, "
                    f"got {float(angle)}",
                    instruction=name,
                    qubits=qargs,
                )
        if isinstance(operation, ControlFlowOp):
            for inner in operation.blocks:
                inner_map = dict(zip(inner.qubits, qargs, strict=False))
                _walk(inner, target, inner_map, circuit, index, what, f"{at}, in its body: ")


def check_circuit(
    circuit: Any,
    target: Any,
    *,
    index: int = 0,
    what: str = "circuit",
    isa: bool = True,
    require_bound: bool = False,
) -> None:
    """Refuse a circuit the backend of ``target`` cannot run as it is.

    Args:
        circuit: A ``QuantumCircuit``; its qubit ``i`` is the backend's qubit ``i``.
        target: The backend's ``Target`` (:func:`backend_target`).
        index: The circuit's position, for the message.
        what: What the circuit is called in the message (``"circuit"``, ``"PUB"``).
        isa: Check the instructions (simulators take any circuit: pass ``False``).
        require_bound: Refuse unbound parameters (``backend.run``; the primitives take
            parameter values).

    Raises:
        NotISACircuitError: The circuit has more qubits than the backend, an unbound
            parameter (with ``require_bound``), or an instruction the target does not
            have on those qubits; the message names the circuit and the first offending
            instruction.
    """
    if circuit.num_qubits > target.num_qubits:
        raise _refuse(
            circuit,
            index,
            what,
            f"it has {circuit.num_qubits} qubits, more than the {target.num_qubits} of "
            f"{_backend_name(target)}",
        )
    if require_bound and circuit.parameters:
        unbound = ", ".join(sorted(parameter.name for parameter in circuit.parameters))
        raise _refuse(
            circuit,
            index,
            what,
            f"it has unbound parameters ({unbound}); bind them first "
            "(circuit.assign_parameters(...)), or give their values to the Sampler",
        )
    if isa:
        qubit_map = {qubit: position for position, qubit in enumerate(circuit.qubits)}
        _walk(circuit, target, qubit_map, circuit, index, what, "")


def check_circuits(
    circuits: Iterable[Any],
    target: Any,
    *,
    what: str = "circuit",
    isa: bool = True,
    require_bound: bool = False,
) -> None:
    """:func:`check_circuit` on each circuit, numbered from 0 in the order given.

    Raises:
        NotISACircuitError: As for :func:`check_circuit`, for the first circuit refused.
    """
    for index, circuit in enumerate(circuits):
        check_circuit(circuit, target, index=index, what=what, isa=isa, require_bound=require_bound)
