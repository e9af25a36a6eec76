"""The Result document (``result_schema.json``, docs/protocol.md §7.6): what a backend returns.

A :class:`Result` holds one :class:`ExperimentResult` per experiment of the Qobj, each with
its :class:`ExperimentResultData`: ``counts`` (hex outcome -> shots), ``memory`` (one hex
outcome per shot at measurement level 2, ``[re, im]`` values at levels 0 and 1),
``statevector``, ``unitary`` and ``snapshots``.

:meth:`Result.get_counts` and :meth:`Result.get_memory` turn hex outcomes into bitstrings
exactly as Qiskit's ``Result`` does (``qiskit.result.postprocess``): ``memory_slots`` of the
experiment header sets the width, and ``creg_sizes`` splits the bits into space-separated
registers, the last register first (``creg_sizes=[["c0", 1], ["c1", 2]]`` and ``0x5``
give ``"10 1"``).

Memory is kept as the list of strings it is on the wire, which validates quickly even for
hundreds of experiments of thousands of shots; its outcomes are checked when formatted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeAlias, cast, overload

from pydantic import (
    JsonValue,
    NonNegativeInt,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
)

from ibmq_async.models._base import (
    ComplexMatrix,
    ComplexVector,
    UtcDatetime,
    WireModel,
    complex_from_wire,
)
from ibmq_async.models.qobj import QobjExperimentHeader, QobjHeader

__all__ = [
    "ComplexMemory",
    "ExperimentFailedError",
    "ExperimentResult",
    "ExperimentResultData",
    "HexOutcome",
    "Result",
    "ResultDataError",
    "format_outcome",
    "outcome_formatter",
]

HexOutcome = Annotated[str, StringConstraints(pattern=r"^0x[0-9A-Fa-f]+$")]
"""An outcome as the wire writes it: the memory slots as a hex number (``"0x5"``)."""

ComplexMemory: TypeAlias = list[complex] | list[list[complex]] | list[list[list[complex]]]
"""Level 0 or 1 memory as complex numbers: ``[slot]`` or ``[shot][slot]`` at level 1,
``[slot][sample]`` or ``[shot][slot][sample]`` at level 0."""


class ResultDataError(LookupError):
    """The data asked of a :class:`Result` is not there (no such experiment, no counts...)."""


class ExperimentFailedError(ResultDataError):
    """The data of an experiment was asked for, but the experiment did not succeed.

    Attributes:
        result_status: The ``status`` of the whole result, if any.
        experiment_status: The ``status`` of the experiment, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        result_status: str | None = None,
        experiment_status: str | None = None,
    ) -> None:
        super().__init__(message)
        self.result_status = result_status
        self.experiment_status = experiment_status


_OUTCOME_LIST = TypeAdapter(list[str])


def _memory_from_wire(value: object) -> list[str] | list[list[Any]]:
    # One validator for both shapes, dispatching on the first item: a pydantic union of
    # the two shapes would buffer every outcome of a JSON document before choosing.
    if isinstance(value, list) and value and isinstance(value[0], str):
        return _OUTCOME_LIST.validate_python(value)  # level 2: checked in pydantic-core
    # Levels 0 and 1 can be millions of numbers: check the shape along the first path only
    # (a list of lists ending in [re, im] pairs); get_memory() converts and checks all.
    if not isinstance(value, list) or not all(isinstance(item, list) for item in value):
        raise ValueError("memory is a list of hex strings (level 2) or of [re, im] lists")
    probe: object = value
    while isinstance(probe, list) and probe and isinstance(probe[0], list):
        probe = probe[0]
    if isinstance(probe, list) and probe:
        complex_from_wire(probe)
    return value


def _memory_to_wire(value: list[str] | list[list[Any]]) -> Any:
    # Already the wire shape: returned as is, it skips the per-item checks of a union.
    return value


MemoryData = Annotated[
    list[str] | list[list[Any]],
    PlainValidator(_memory_from_wire),
    PlainSerializer(_memory_to_wire, return_type=Any),
]
"""Memory as on the wire: hex outcomes per shot (level 2), or nested lists ending in
``[re, im]`` pairs (levels 0 and 1)."""


class ExperimentResultData(WireModel):
    """What an experiment measured.

    ``counts`` keys must be hex (``^0x[0-9A-Fa-f]+$``) and values non-negative;
    ``memory`` is a list of hex strings (level 2) or nested ``[re, im]`` lists (levels 0
    and 1); ``statevector`` and ``unitary`` are complex. Other data keys are kept.
    """

    counts: dict[HexOutcome, NonNegativeInt] | None = None
    memory: MemoryData | None = None
    snapshots: dict[str, JsonValue] | None = None
    statevector: ComplexVector | None = None
    unitary: ComplexMatrix | None = None


def outcome_formatter(
    memory_slots: int | None = None,
    creg_sizes: Sequence[tuple[str, int]] | None = None,
) -> Callable[[str], str]:
    """A function turning outcomes into the bitstrings Qiskit shows, for one experiment.

    The same as :func:`format_outcome` with these arguments, with the width and the
    register boundaries worked out once for all the outcomes of an experiment.

    Args:
        memory_slots: The number of memory slots of the experiment.
        creg_sizes: The classical registers of the experiment, in order.
    """
    if not memory_slots:
        # Qiskit neither pads nor splits without a width: hex becomes bare binary.
        return lambda outcome: bin(int(outcome, 16))[2:] if outcome.startswith("0x") else outcome
    width = f"0{memory_slots}b"
    if not creg_sizes:
        return lambda outcome: format(int(outcome, 16 if outcome.startswith("0x") else 2), width)
    # Qiskit cuts the padded bits from the left, the last register first.
    bounds = []
    start = 0
    for _, size in reversed(creg_sizes):
        bounds.append((start, start + size))
        start += size

    def split(outcome: str) -> str:
        bits = format(int(outcome, 16 if outcome.startswith("0x") else 2), width)
        return " ".join([bits[low:high] for low, high in bounds])

    return split


def format_outcome(
    outcome: str,
    memory_slots: int | None = None,
    creg_sizes: Sequence[tuple[str, int]] | None = None,
) -> str:
    """Turn one outcome into the bitstring Qiskit shows (``format_counts_memory``).

    A hex outcome (``0x...``) becomes binary; with ``memory_slots`` it is zero-padded to
    that width; with ``memory_slots`` and ``creg_sizes`` (``[[name, size], ...]``) it is
    split into registers separated by a space, the last register first.

    Args:
        outcome: A hex outcome (``"0x5"``) or a bitstring.
        memory_slots: The number of memory slots of the experiment.
        creg_sizes: The classical registers of the experiment, in order.

    Raises:
        ValueError: The outcome is neither hex nor binary.
    """
    return outcome_formatter(memory_slots, creg_sizes)(outcome)


def _complex_memory(memory: list[list[Any]]) -> list[Any]:
    def convert(node: list[Any]) -> Any:
        if node and not isinstance(node[0], list):
            return complex_from_wire(node)
        return [convert(child) for child in node]

    return [convert(item) for item in memory]


def _depth(value: object) -> int:
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth


class ExperimentResult(WireModel):
    """The result of one experiment.

    ``shots`` is a count or ``[first, last]``; ``meas_level`` defaults to 2 (classified);
    ``header`` is the experiment header of the Qobj, carried back.
    """

    shots: int | tuple[int, int]
    success: bool
    data: ExperimentResultData
    meas_level: Literal[0, 1, 2] = 2
    meas_return: Literal["single", "avg"] | None = None
    status: str | None = None
    seed: int | None = None
    header: QobjExperimentHeader | None = None

    @property
    def name(self) -> str | None:
        """The experiment's name (``header.name``), if any."""
        return self.header.name if self.header is not None else None

    def _formatter(self) -> Callable[[str], str]:
        header = self.header
        if header is None:
            return outcome_formatter()
        return outcome_formatter(header.memory_slots, header.creg_sizes)

    def get_counts(self) -> dict[str, int]:
        """The counts of the experiment with bitstring keys, as Qiskit formats them.

        Raises:
            ResultDataError: The experiment has no counts (at measurement level 2, it
                measured nothing: the message says so).
        """
        counts = self.data.counts
        if counts is None:
            if self.meas_level == 2 and self.data.memory is None:
                raise ResultDataError(
                    f"experiment {self._label()} measured nothing, so it has no counts: "
                    "add measurements to the circuit"
                )
            raise ResultDataError(f"no counts for experiment {self._label()}")
        formatter = self._formatter()
        try:
            return {formatter(outcome): value for outcome, value in counts.items()}
        except ValueError as exc:  # only for counts built in Python: the wire's are hex
            raise ResultDataError(f"counts of experiment {self._label()}: {exc}") from None

    def get_memory(self) -> list[str] | ComplexMemory:
        """The per-shot memory of the experiment, as Qiskit formats it.

        Returns:
            At measurement level 2, a bitstring per shot (formatted like counts keys). At
            levels 1 and 0, the ``[re, im]`` values as complex numbers, nested as on the
            wire (see :data:`ComplexMemory`).

        Raises:
            ResultDataError: The experiment has no memory, or its memory does not have the
                shape of its measurement level.
        """
        memory = self.data.memory
        if memory is None:
            raise ResultDataError(
                f"no memory for experiment {self._label()}: run at measurement level 2 with "
                "memory=True, or at measurement level 0 or 1"
            )
        # Validation made memory all strings or all lists; the first item tells which.
        is_outcomes = not memory or isinstance(memory[0], str)
        if self.meas_level == 2:
            if not is_outcomes:
                raise ResultDataError(
                    f"level 2 memory of experiment {self._label()} is not a list of outcomes"
                )
            outcomes = cast("list[str]", memory)
            try:
                # Shots repeat a few outcomes: format each distinct outcome once.
                formatter = self._formatter()
                formatted = {outcome: formatter(outcome) for outcome in set(outcomes)}
            except ValueError as exc:
                raise ResultDataError(
                    f"memory of experiment {self._label()} has an outcome that is neither "
                    f"hex nor binary: {exc}"
                ) from None
            return list(map(formatted.__getitem__, outcomes))
        if is_outcomes:
            raise ResultDataError(
                f"level {self.meas_level} memory of experiment {self._label()} is not "
                "a list of [re, im] values"
            )
        levels = cast("list[list[Any]]", memory)
        # [re, im] adds one level of nesting to what Qiskit's array shapes count.
        dimensions = _depth(levels) - 1
        allowed = (1, 2) if self.meas_level == 1 else (2, 3)
        if dimensions not in allowed:
            raise ResultDataError(
                f"level {self.meas_level} memory of experiment {self._label()} has "
                f"{dimensions} dimensions, expected {' or '.join(map(str, allowed))}"
            )
        try:
            return _complex_memory(levels)
        except (ValueError, TypeError) as exc:
            raise ResultDataError(
                f"memory of experiment {self._label()} is not made of [re, im] values: {exc}"
            ) from None

    def _label(self) -> str:
        return repr(self.name) if self.name is not None else "(unnamed)"


class Result(WireModel):
    """The result of a job: one :class:`ExperimentResult` per experiment of the Qobj.

    ``date`` is UTC. ``header`` is the Qobj header, carried back. Other top-level keys
    (``client_version``, ``execution_id``, ...) are kept as extras.
    """

    backend_name: str
    backend_version: str
    qobj_id: str
    job_id: str
    success: bool
    results: list[ExperimentResult]
    date: UtcDatetime | None = None
    status: str | None = None
    header: QobjHeader | None = None

    def experiment(self, experiment: int | str | None = None) -> ExperimentResult:
        """The result of one experiment, by index or by name, if it succeeded.

        Args:
            experiment: The position of the experiment, or its name (``header.name``), or
                ``None`` when the result has exactly one experiment. When several
                experiments have the name, the first is returned with a warning.

        Raises:
            ResultDataError: No experiment matches, or ``None`` was given and there is not
                exactly one experiment.
            ExperimentFailedError: The experiment did not succeed.
        """
        if experiment is None:
            if len(self.results) != 1:
                raise ResultDataError(
                    f"the result has {len(self.results)} experiments: "
                    "select one by index or by name"
                )
            found = self.results[0]
        elif isinstance(experiment, int):
            try:
                found = self.results[experiment]
            except IndexError:
                raise ResultDataError(
                    f"no experiment {experiment}: the result has {len(self.results)}"
                ) from None
        else:
            matches = [result for result in self.results if result.name == experiment]
            if not matches:
                raise ResultDataError(f"no experiment named {experiment!r}")
            if len(matches) > 1:
                warnings.warn(
                    f"the result has {len(matches)} experiments named {experiment!r}; "
                    "returning the first (select by index to get the others)",
                    UserWarning,
                    stacklevel=2,
                )
            found = matches[0]
        if not found.success:
            raise ExperimentFailedError(
                f"experiment {found._label()} did not succeed: "
                f"{found.status or 'no status given'} "
                f"(result status: {self.status or 'none given'})",
                result_status=self.status,
                experiment_status=found.status,
            )
        return found

    def data(self, experiment: int | str | None = None) -> ExperimentResultData:
        """The raw data of one experiment (``.to_wire()`` gives Qiskit's ``data()`` dict).

        Args:
            experiment: As for :meth:`experiment`.

        Raises:
            ResultDataError: As for :meth:`experiment`.
        """
        return self.experiment(experiment).data

    @overload
    def get_counts(self, experiment: int | str) -> dict[str, int]: ...

    @overload
    def get_counts(self, experiment: None = None) -> dict[str, int] | list[dict[str, int]]: ...

    def get_counts(
        self, experiment: int | str | None = None
    ) -> dict[str, int] | list[dict[str, int]]:
        """The counts of an experiment with bitstring keys, as Qiskit's ``get_counts``.

        Keys are bitstrings ``memory_slots`` wide, split by classical register (last
        register first) when the header has ``creg_sizes``.

        Args:
            experiment: The position or name of the experiment. ``None`` gives the counts
                of the only experiment, or, when there are several, a list of the counts of
                every experiment (as Qiskit does).

        Raises:
            ResultDataError: No such experiment, or it has no counts.
            ExperimentFailedError: The experiment did not succeed.
        """
        if experiment is None and len(self.results) != 1:
            return [self.experiment(index).get_counts() for index in range(len(self.results))]
        return self.experiment(experiment).get_counts()

    def get_memory(self, experiment: int | str | None = None) -> list[str] | ComplexMemory:
        """The per-shot memory of an experiment, as Qiskit's ``get_memory``.

        Args:
            experiment: The position or name of the experiment, or ``None`` when there is
                exactly one.

        Returns:
            Bitstrings (level 2) or complex values (levels 0 and 1); see
            :meth:`ExperimentResult.get_memory`.

        Raises:
            ResultDataError: No such experiment, or it has no memory.
            ExperimentFailedError: The experiment did not succeed.
        """
        return self.experiment(experiment).get_memory()

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON-compatible dict of the wire (Qiskit's ``to_dict`` name)."""
        return self.to_wire()

    @property
    def experiment_names(self) -> list[str | None]:
        """The name of each experiment, in order (``None`` for an unnamed one)."""
        return [result.name for result in self.results]
