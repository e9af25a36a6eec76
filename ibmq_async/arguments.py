"""Checks of public arguments, made before any request.

The job listings and look-ups refuse what would send a request that cannot mean what the
caller meant (``limit=0``, an empty job id); :meth:`IBMQBackend.run` warns about what it
sends as given but is probably a mistake: a keyword it does not know (the original client
put unknown keywords into the Qobj config, and so does this one), a circuit that measures
nothing.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from ibmq_async.exceptions import IBMQBackendValueError
from ibmq_async.models import PulseQobjConfig, QasmQobjConfig

__all__ = [
    "QOBJ_CONFIG_KEYS",
    "check_job_id",
    "check_limit",
    "check_skip",
    "unmeasured_experiments",
    "warn_unknown_run_options",
    "warn_unmeasured",
]


def _wire_names(model: Any) -> set[str]:
    names = set(model.model_fields)
    names.update(field.alias for field in model.model_fields.values() if field.alias)
    return names


QOBJ_CONFIG_KEYS: frozenset[str] = frozenset(
    _wire_names(QasmQobjConfig) | _wire_names(PulseQobjConfig) | {"simulate_failure"}
)
"""The Qobj ``config`` keys the wire models name (QASM and pulse), and the local service's
``simulate_failure``."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_limit(limit: object) -> None:
    """``limit`` is ``None`` (every job) or a positive integer.

    Raises:
        IBMQBackendValueError: It is neither (``0``, a negative number, a float, ...).
    """
    if limit is not None and not (_is_int(limit) and limit >= 1):  # type: ignore[operator]
        raise IBMQBackendValueError(
            f"limit must be a positive integer, or None for every job; got {limit!r}"
        )


def check_skip(skip: object) -> None:
    """``skip`` is an integer of at least zero.

    Raises:
        IBMQBackendValueError: It is not.
    """
    if not (_is_int(skip) and skip >= 0):  # type: ignore[operator]
        raise IBMQBackendValueError(f"skip must be an integer of at least 0; got {skip!r}")


def check_job_id(job_id: object) -> None:
    """A job id is a non-empty string without surrounding blanks.

    Raises:
        IBMQBackendValueError: It is not.
    """
    if not isinstance(job_id, str) or not job_id.strip() or job_id != job_id.strip():
        raise IBMQBackendValueError(f"a job id is a non-empty string; got {job_id!r}")


def warn_unknown_run_options(
    options: Mapping[str, Any], known: Iterable[str], *, stacklevel: int = 3
) -> None:
    """Warn about each run option that no Qobj model or backend option names.

    The option still goes into the Qobj config as given; the warning names it and the
    closest known option, if one is close.
    """
    names = sorted(set(known) | QOBJ_CONFIG_KEYS)
    for key in options:
        if key in names:
            continue
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        warnings.warn(
            f"run() got the unknown option {key!r}: it goes into the Qobj config as given{hint}",
            UserWarning,
            stacklevel=stacklevel,
        )


def _circuit_measures(circuit: Any) -> bool:
    for item in circuit.data:
        operation = item.operation
        if operation.name == "measure":
            return True
        if any(_circuit_measures(block) for block in getattr(operation, "blocks", ())):
            return True
    return False


def _instruction_name(instruction: Any) -> Any:
    if isinstance(instruction, Mapping):
        return instruction.get("name")
    return getattr(instruction, "name", None)


def _experiment_name(experiment: Any, index: int) -> str:
    header = (
        experiment.get("header")
        if isinstance(experiment, Mapping)
        else getattr(experiment, "header", None)
    )
    name = header.get("name") if isinstance(header, Mapping) else getattr(header, "name", None)
    return repr(name) if isinstance(name, str) else f"#{index}"


def unmeasured_experiments(items: Collection[Any]) -> list[str]:
    """The names of the circuits (or QASM Qobj experiments) that measure nothing.

    Args:
        items: What ``run()`` was given: ``QuantumCircuit`` objects, or one Qobj (a
            ``QasmQobj`` model or a dict). Pulse Qobjs are not checked.
    """
    missing: list[str] = []
    for item in items:
        if hasattr(item, "data") and hasattr(item, "num_qubits"):  # a QuantumCircuit
            if not _circuit_measures(item):
                missing.append(repr(item.name))
            continue
        kind = item.get("type") if isinstance(item, Mapping) else getattr(item, "type", None)
        if kind != "QASM":
            continue
        experiments = (
            item.get("experiments") if isinstance(item, Mapping) else item.experiments
        ) or []
        for index, experiment in enumerate(experiments):
            instructions = (
                experiment.get("instructions")
                if isinstance(experiment, Mapping)
                else getattr(experiment, "instructions", None)
            )
            if not isinstance(instructions, list):
                continue  # malformed: validation says what is wrong
            if not any(_instruction_name(i) == "measure" for i in instructions):
                missing.append(_experiment_name(experiment, index))
    return missing


def warn_unmeasured(names: list[str], *, stacklevel: int = 3) -> None:
    """Warn that these circuits measure nothing: their results will have no counts."""
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        one = len(names) == 1
        warnings.warn(
            f"{'circuit' if one else 'circuits'} {shown} {'has' if one else 'have'} no "
            f"measurements: the result will have no counts for {'it' if one else 'them'}",
            UserWarning,
            stacklevel=stacklevel,
        )
