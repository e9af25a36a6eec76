"""Qobj → Qiskit circuits → Qiskit Aer → the Result document of docs/protocol.md §7.6.

:func:`prepare` checks a Qobj against a device and converts every experiment to a
``QuantumCircuit``; a Qobj that cannot run raises :class:`QobjError` with the IBM error
code and a message that says what is wrong (the job ends in ERROR_VALIDATING_JOB).
:func:`execute` runs prepared experiments on Aer (ideal, or with the device's noise model
of :mod:`ibmq_async.local.noise`) and builds the result:
hex counts over the memory slots, ``memory`` when asked (an experiment that measures
nothing has neither), the Qobj and experiment headers copied, the seed used.

Conversion (:func:`ibmq_async.circuits.experiment_to_circuit`, the converter the client
uses too, in its compact layout): qubits are renumbered to those the experiment uses (a
2-qubit circuit on a 127-qubit device simulates 2 qubits); memory slots become one
classical register ``c``; register slots (``register`` of ``measure``, ``bfunc``) become a
second register ``reg`` that is not reported; ``conditional`` (a register slot, or the
old mask/val form on the memory) becomes an ``if_test``.

Failing a run on purpose, for tests: ``"simulate_failure": "<message>"`` in the Qobj
``config`` makes the whole job end in ERROR_RUNNING_JOB (nothing runs; the result carries
only the error, code 5203); in an experiment's ``config``, ``header`` or
``header.metadata`` it fails that experiment only (the job ends in ERROR_RUNNING_JOB with a
partial result).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ibmq_async.circuits import GateCheck, Layout, QobjConversionError, experiment_to_circuit
from ibmq_async.local.devices import Device
from ibmq_async.local.errors import ErrorCode
from ibmq_async.local.noise import DeviceNoise
from ibmq_async.models._base import format_utc

__all__ = [
    "ExecutionOutcome",
    "PreparedExperiment",
    "PreparedJob",
    "QobjError",
    "execute",
    "prepare",
]

_MAX_SEED = 2**63 - 1
MAX_CLASSICAL_SLOTS = 1024
"""The most memory slots, and register slots, an experiment may use: each is a classical
bit of the simulated circuit, so an unbounded index would be an unbounded allocation."""
_PARALLEL_QUBITS = 14
"""Circuits narrower than this run on one thread: OpenMP start-up and spinning cost more
than they save on small circuits, and slow down everything else in the process."""


class QobjError(Exception):
    """A Qobj that cannot run: the job ends in ERROR_VALIDATING_JOB.

    Args:
        code: The IBM error code.
        message: What is wrong, naming the experiment and instruction.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class PreparedExperiment:
    """One experiment, ready for Aer."""

    circuit: Any
    shots: int
    memory: bool
    seed: int | None
    memory_slots: int
    report_mask: int | None
    header: dict[str, Any]
    failure: str | None = None
    qubits: tuple[int, ...] = ()
    """The device qubits the circuit's qubits stand for, in order (for noise models)."""


@dataclass
class PreparedJob:
    """A checked Qobj: its experiments as circuits plus what the result copies."""

    qobj_id: str
    header: dict[str, Any]
    experiments: list[PreparedExperiment]
    failure: str | None = None

    @property
    def shots(self) -> int:
        """The shots of the first experiment (what the job record reports)."""
        return self.experiments[0].shots if self.experiments else 0


@dataclass
class ExecutionOutcome:
    """What a run gives: the result document and, if it failed, the error."""

    result: dict[str, Any]
    error_code: int | None = None
    error_message: str | None = None
    time_taken: float = 0.0
    experiment_errors: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """Whether every experiment ran."""
        return self.error_code is None

    @classmethod
    def failure(
        cls, job_id: str, backend_name: str, backend_version: str, reason: str
    ) -> ExecutionOutcome:
        """The outcome of a run that could not produce a result (code 5203)."""
        message = f"Failed to run job: {reason}"
        error = {"code": ErrorCode.RUN_FAILED, "message": message}
        return cls(
            result={
                "backend_name": backend_name,
                "backend_version": backend_version,
                "qobj_id": "",
                "job_id": job_id,
                "success": False,
                "status": "ERROR",
                "results": [],
                "error": error,
            },
            error_code=ErrorCode.RUN_FAILED,
            error_message=message,
        )


def _int_value(value: Any, what: str, where: str) -> int:
    if isinstance(value, bool):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: {what} must be an integer")
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise QobjError(
                ErrorCode.QOBJ_SCHEMA, f"{where}: {what} {value!r} is not an integer"
            ) from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: {what} must be an integer")
    return value


def _index_list(value: Any, what: str, where: str) -> list[int]:
    if not isinstance(value, list):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: {what} must be a list of indices")
    indices = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: {what} must be non-negative integers")
        indices.append(item)
    return indices


def _failure(*sources: Any) -> str | None:
    for source in sources:
        if isinstance(source, dict):
            flag = source.get("simulate_failure")
            if flag:
                return flag if isinstance(flag, str) else "Simulated failure"
    return None


def _positive_shots(value: Any, where: str, device: Device) -> int:
    shots = _int_value(value, "shots", where)
    if shots < 1:
        raise QobjError(ErrorCode.TOO_MANY_SHOTS, f"{where}: shots must be at least 1")
    if shots > device.max_shots:
        raise QobjError(
            ErrorCode.TOO_MANY_SHOTS,
            f"{where}: {shots} shots is more than the {device.max_shots} of {device.name}",
        )
    return shots


def _seed(value: Any, where: str) -> int | None:
    if value is None:
        return None
    seed = _int_value(value, "seed_simulator", where)
    if not 0 <= seed <= _MAX_SEED:
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: seed_simulator must be in [0, 2**63)")
    return seed


def prepare(qobj: Any, device: Device, *, strict: bool = False) -> PreparedJob:
    """Check a Qobj against a device and convert its experiments to circuits.

    Args:
        qobj: The uploaded Qobj document.
        device: The device the job runs on.
        strict: Also reject gates outside the basis gates and two-qubit gates on
            uncoupled qubits (real-device rules).

    Raises:
        QobjError: If the Qobj cannot run on the device; ``message`` says why.
    """
    if not isinstance(qobj, dict):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, "The Qobj must be a JSON object.")
    for key in ("qobj_id", "type", "experiments", "config"):
        if key not in qobj:
            raise QobjError(ErrorCode.QOBJ_SCHEMA, f"The Qobj has no '{key}'.")
    kind = qobj["type"]
    if kind == "PULSE":
        if not device.open_pulse:
            raise QobjError(
                ErrorCode.PULSE_NOT_SUPPORTED, f"The backend {device.name} does not support pulse."
            )
        raise QobjError(
            ErrorCode.PULSE_NOT_SIMULATED,
            "Pulse experiments cannot run on the local service (Qiskit Aer has no pulse "
            "simulator).",
        )
    if kind != "QASM":
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"Unknown Qobj type {kind!r} (QASM or PULSE).")
    _check_schema(qobj)
    config = qobj["config"]
    experiments = qobj["experiments"]
    header = qobj.get("header", {})
    if not isinstance(config, dict):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, "The Qobj 'config' must be an object.")
    if not isinstance(header, dict):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, "The Qobj 'header' must be an object.")
    if not isinstance(experiments, list) or not experiments:
        raise QobjError(ErrorCode.QOBJ_SCHEMA, "The Qobj 'experiments' must be a non-empty list.")
    limit = device.max_experiments
    if limit is not None and len(experiments) > limit:
        raise QobjError(
            ErrorCode.TOO_MANY_EXPERIMENTS,
            f"The Qobj has {len(experiments)} experiments, more than the {limit} of {device.name}.",
        )
    meas_level = config.get("meas_level", 2)
    if meas_level != 2:
        raise QobjError(
            ErrorCode.MEAS_LEVEL_NOT_SUPPORTED,
            f"Measurement level {meas_level!r} is not supported (only 2, classified).",
        )
    memory = config.get("memory", False)
    if not isinstance(memory, bool):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, "config.memory must be true or false.")
    if memory and not device.supports_memory:
        raise QobjError(
            ErrorCode.MEMORY_NOT_SUPPORTED, f"The backend {device.name} does not support memory."
        )
    shots = _positive_shots(config.get("shots", 1024), "config", device)
    seed = _seed(config.get("seed_simulator", config.get("seed")), "config")
    prepared = [
        _prepare_experiment(
            experiment,
            index,
            config=config,
            device=device,
            strict=strict,
            shots=shots,
            memory=memory,
            seed=seed,
        )
        for index, experiment in enumerate(experiments)
    ]
    return PreparedJob(
        qobj_id=str(qobj["qobj_id"]),
        header=header,
        experiments=prepared,
        failure=_failure(config),
    )


def _check_schema(qobj: dict[str, Any]) -> None:
    """Check the Qobj against the wire model of a QASM Qobj (the IBM Qobj schema)."""
    from pydantic import ValidationError

    from ibmq_async.models import parse_qobj

    try:
        parse_qobj(qobj)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or 'qobj'}: {item['msg']}"
            for item in error.errors(include_url=False)[:3]
        ]
        more = error.error_count() - len(problems)
        if more > 0:
            problems.append(f"and {more} more")
        raise QobjError(
            ErrorCode.QOBJ_SCHEMA,
            "The Qobj does not conform to the schema: " + "; ".join(problems),
        ) from None


_CONVERSION_CODES = {
    "schema": ErrorCode.QOBJ_SCHEMA,
    "invalid": ErrorCode.INVALID_INSTRUCTION,
    "unsupported": ErrorCode.INSTRUCTION_NOT_SUPPORTED,
    "not-mapped": ErrorCode.MEASUREMENT_NOT_MAPPED,
}
"""The IBM error code of each way an experiment can fail to become a circuit."""


def _gate_check(device: Device, strict: bool) -> GateCheck | None:
    """The real-device rules of ``strict``: basis gates only, two-qubit gates on coupled
    qubits only."""
    if not strict or device.simulator:
        return None

    def check(name: str, qubits: Sequence[int], where: str) -> None:
        if name not in device.basis_gates:
            raise QobjError(
                ErrorCode.NOT_IN_BASIS,
                f"{where}: {name} is not among the basis gates of {device.name} "
                f"({', '.join(sorted(device.basis_gates))}).",
            )
        coupling = device.coupling
        if len(qubits) == 2 and coupling is not None and (qubits[0], qubits[1]) not in coupling:
            raise QobjError(
                ErrorCode.NOT_IN_COUPLING_MAP,
                f"{where}: qubits {list(qubits)} are not coupled on {device.name}.",
            )

    return check


def _scan(instructions: list[Any], where: str, device: Device) -> tuple[list[int], int, int, bool]:
    """Check the instruction shapes; find the qubits, memory and register slots used."""
    used: list[int] = []
    max_memory = -1
    max_register = -1
    conditional = False
    for position, instruction in enumerate(instructions):
        here = f"{where}, instruction {position}"
        if not isinstance(instruction, dict) or not isinstance(instruction.get("name"), str):
            raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{here}: an instruction needs a 'name'.")
        qubits = _index_list(instruction.get("qubits", []), "qubits", here)
        for qubit in qubits:
            if qubit >= device.n_qubits:
                raise QobjError(
                    ErrorCode.TOO_MANY_QUBITS,
                    f"{here} ({instruction['name']}): qubit {qubit} does not exist on "
                    f"{device.name}, which has {device.n_qubits} qubits.",
                )
        if len(set(qubits)) != len(qubits):
            raise QobjError(
                ErrorCode.INVALID_INSTRUCTION,
                f"{here} ({instruction['name']}): a qubit is used twice: {qubits}.",
            )
        used.extend(qubits)
        if instruction["name"] != "bfunc":
            for slot in _index_list(instruction.get("memory", []), "memory", here):
                max_memory = max(max_memory, slot)
            for slot in _index_list(instruction.get("register", []), "register", here):
                max_register = max(max_register, slot)
        else:
            conditional = True
            register = _int_value(instruction.get("register"), "register", here)
            if register < 0:
                raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{here}: register must be >= 0")
            if instruction.get("memory") is not None:
                memory = _int_value(instruction["memory"], "memory", here)
                if memory < 0:
                    raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{here}: memory must be >= 0")
                max_memory = max(max_memory, memory)
            mask = _int_value(instruction.get("mask", 0), "mask", here)
            value = _int_value(instruction.get("val", 0), "val", here)
            if mask < 0 or value < 0:
                raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{here}: mask and val must be >= 0")
            width = max(mask.bit_length(), value.bit_length())
            max_register = max(max_register, register, width - 1)
        condition = instruction.get("conditional")
        if condition is not None:
            conditional = True
            if isinstance(condition, int) and not isinstance(condition, bool) and condition >= 0:
                max_register = max(max_register, condition)
            elif not isinstance(condition, dict):
                raise QobjError(
                    ErrorCode.QOBJ_SCHEMA,
                    f"{here}: conditional must be a register slot or a mask/val object",
                )
    for what, needed in (("memory", max_memory + 1), ("register", max_register + 1)):
        if needed > MAX_CLASSICAL_SLOTS:
            raise QobjError(
                ErrorCode.QOBJ_SCHEMA,
                f"{where}: {what} slot {needed - 1} is out of range: at most "
                f"{MAX_CLASSICAL_SLOTS} {what} slots.",
            )
    return used, max_memory + 1, max_register + 1, conditional


def _prepare_experiment(
    experiment: Any,
    index: int,
    *,
    config: dict[str, Any],
    device: Device,
    strict: bool,
    shots: int,
    memory: bool,
    seed: int | None,
) -> PreparedExperiment:
    where = f"Experiment {index}"
    if not isinstance(experiment, dict):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: an experiment must be an object.")
    header = experiment.get("header", {})
    exp_config = experiment.get("config", {})
    instructions = experiment.get("instructions")
    if not isinstance(header, dict) or not isinstance(exp_config, dict):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: header and config must be objects.")
    if isinstance(header.get("name"), str):
        where = f"Experiment {index} ({header['name']})"
    if not isinstance(instructions, list):
        raise QobjError(ErrorCode.QOBJ_SCHEMA, f"{where}: 'instructions' must be a list.")
    if "shots" in exp_config:
        shots = _positive_shots(exp_config["shots"], where, device)
    if "seed_simulator" in exp_config:
        seed = _seed(exp_config["seed_simulator"], where)
    if "memory" in exp_config and isinstance(exp_config["memory"], bool):
        memory = exp_config["memory"]
    used, memory_needed, register_slots, conditional = _scan(instructions, where, device)
    if conditional and strict and not device.conditional:
        raise QobjError(
            ErrorCode.INSTRUCTION_NOT_SUPPORTED,
            f"{where}: {device.name} does not support conditional operations.",
        )
    declared = exp_config.get("memory_slots", header.get("memory_slots"))
    if declared is None:
        declared = config.get("memory_slots", memory_needed)
    memory_slots = _int_value(declared, "memory_slots", where)
    if not 0 <= memory_slots <= MAX_CLASSICAL_SLOTS:
        raise QobjError(
            ErrorCode.QOBJ_SCHEMA,
            f"{where}: memory_slots must be from 0 to {MAX_CLASSICAL_SLOTS}, got {memory_slots}.",
        )
    if memory_slots < memory_needed:
        raise QobjError(
            ErrorCode.QOBJ_SCHEMA,
            f"{where}: memory slot {memory_needed - 1} is used but memory_slots is {memory_slots}.",
        )
    layout = Layout.compact(used, memory_slots, register_slots)
    try:
        circuit = experiment_to_circuit(
            instructions, layout, where=where, delays=False, check_gate=_gate_check(device, strict)
        )
    except QobjConversionError as error:
        raise QobjError(_CONVERSION_CODES[error.kind], str(error)) from None
    report_mask = (1 << memory_slots) - 1 if layout.register_slots else None
    return PreparedExperiment(
        circuit=circuit,
        shots=shots,
        memory=memory,
        seed=seed,
        memory_slots=memory_slots,
        report_mask=report_mask,
        header=header,
        failure=_failure(exp_config, header, header.get("metadata")),
        qubits=layout.qubits,
    )


_local = threading.local()


def _simulator() -> Any:
    simulator = getattr(_local, "simulator", None)
    if simulator is None:
        from qiskit_aer import AerSimulator

        simulator = AerSimulator()
        _local.simulator = simulator
    return simulator


def _mask_counts(counts: dict[str, int], mask: int | None) -> dict[str, int]:
    if mask is None:
        return dict(counts)
    masked: dict[str, int] = {}
    for key, count in counts.items():
        folded = hex(int(key, 16) & mask)
        masked[folded] = masked.get(folded, 0) + count
    return masked


def _run_group(
    experiments: list[PreparedExperiment], noise: DeviceNoise | None = None
) -> list[dict[str, Any]]:
    """Run experiments that share shots, memory, seed (and qubits, with noise) in one Aer
    call."""
    first = experiments[0]
    options: dict[str, Any] = {"shots": first.shots, "memory": first.memory}
    if noise is not None and first.qubits:
        try:
            options["noise_model"] = noise.model(first.qubits)
        except Exception as error:
            message = f"ERROR: no noise model for qubits {list(first.qubits)}: {error}"
            return [{"success": False, "status": message} for _ in experiments]
    if max(e.circuit.num_qubits for e in experiments) < _PARALLEL_QUBITS:
        options["max_parallel_threads"] = 1
    if first.seed is not None:
        options["seed_simulator"] = first.seed
    try:
        result = _simulator().run([e.circuit for e in experiments], **options).result()
        entries = list(result.to_dict().get("results", []))
    except Exception as error:
        message = f"ERROR: {error}"
        return [{"success": False, "status": message} for _ in experiments]
    if len(entries) != len(experiments):
        return [{"success": False, "status": "ERROR: the simulator lost experiments"}] * len(
            experiments
        )
    return entries


def _experiment_result(
    prepared: PreparedExperiment, raw: dict[str, Any] | None, failure: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "shots": prepared.shots,
        "success": False,
        "meas_level": 2,
        "header": prepared.header,
        "data": {},
    }
    if failure is not None:
        entry["status"] = f"ERROR: {failure}"
        return entry
    assert raw is not None
    if not raw.get("success", False):
        entry["status"] = str(raw.get("status") or "ERROR: the simulation failed")
        return entry
    data = raw.get("data") or {}
    counts = data.get("counts")
    result_data: dict[str, Any] = {}
    # An experiment that measures nothing has no counts and no memory, as on Aer: zeros
    # for the memory slots would be data that nothing measured.
    if counts is not None and prepared.memory_slots:
        result_data["counts"] = _mask_counts(counts, prepared.report_mask)
        if prepared.memory:
            memory = data.get("memory") or []
            if prepared.report_mask is not None:
                memory = [hex(int(item, 16) & prepared.report_mask) for item in memory]
            result_data["memory"] = memory
    entry.update(
        success=True,
        status="DONE",
        data=result_data,
        seed_simulator=raw.get("seed_simulator"),
        time_taken=raw.get("time_taken", 0.0),
    )
    return entry


def execute(
    job: PreparedJob,
    *,
    job_id: str,
    backend_name: str,
    backend_version: str,
    now: Callable[[], datetime] | None = None,
    noise: DeviceNoise | None = None,
) -> ExecutionOutcome:
    """Run a prepared job on Aer and build its result document.

    The call blocks (run it off the event loop); Aer releases the GIL while simulating.

    Args:
        job: The prepared job.
        job_id: The job id the result names.
        backend_name: The backend name the result names.
        backend_version: The backend version the result names.
        now: The clock for the result ``date`` (UTC now by default).
        noise: The device's noise (:mod:`ibmq_async.local.noise`); ``None`` simulates
            ideally.
    """
    started = time.perf_counter()
    raws: list[dict[str, Any] | None] = [None] * len(job.experiments)
    if job.failure is None:
        groups: dict[tuple[int, bool, int | None, tuple[int, ...]], list[int]] = {}
        for index, experiment in enumerate(job.experiments):
            if experiment.failure is None:
                qubits = experiment.qubits if noise is not None else ()
                key = (experiment.shots, experiment.memory, experiment.seed, qubits)
                groups.setdefault(key, []).append(index)
        for indices in groups.values():
            for index, raw in zip(
                indices, _run_group([job.experiments[i] for i in indices], noise), strict=True
            ):
                raws[index] = raw
    entries = (
        []
        if job.failure is not None
        else [
            _experiment_result(experiment, raws[index], experiment.failure)
            for index, experiment in enumerate(job.experiments)
        ]
    )
    success = job.failure is None and all(entry["success"] for entry in entries)
    elapsed = time.perf_counter() - started
    stamp = (now or (lambda: datetime.now(timezone.utc)))()
    result: dict[str, Any] = {
        "backend_name": backend_name,
        "backend_version": backend_version,
        "qobj_id": job.qobj_id,
        "job_id": job_id,
        "date": format_utc(stamp),
        "status": "COMPLETED" if success else "ERROR",
        "success": success,
        "header": job.header,
        "time_taken": elapsed,
        "results": entries,
    }
    if success:
        return ExecutionOutcome(result=result, time_taken=elapsed)
    failures = [
        f"Experiment {index}: {entry.get('status')}"
        for index, entry in enumerate(entries)
        if not entry["success"]
    ]
    if job.failure is not None:
        code, message = ErrorCode.RUN_FAILED, f"Failed to run job: {job.failure}"
    elif any(experiment.failure for experiment in job.experiments):
        code, message = ErrorCode.RUN_FAILED, "Failed to run job: " + "; ".join(failures)
    else:
        code = ErrorCode.SIMULATOR_FAILED
        message = "Error raised when execution on Aer failed: " + "; ".join(failures)
    result["error"] = {"code": code, "message": message}
    return ExecutionOutcome(
        result=result,
        error_code=code,
        error_message=message,
        time_taken=elapsed,
        experiment_errors=failures,
    )
