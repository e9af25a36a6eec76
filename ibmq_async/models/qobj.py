"""The Qobj document (``qobj_schema.json``, docs/protocol.md §7.5): what a client uploads.

A QASM Qobj (``"type": "QASM"``) holds circuits as lists of :class:`QasmQobjInstruction`; a
pulse Qobj (``"type": "PULSE"``) holds schedules as lists of :class:`PulseQobjInstruction`
and carries its pulse library. :func:`parse_qobj` picks the model by ``type``.

The pieces shared with other documents live here too: :class:`QobjHeader` and
:class:`QobjExperimentHeader` come back in the Result, and :class:`PulseLibraryItem` and
:class:`PulseQobjInstruction` make up the pulse defaults' library and command definitions.

Instructions are permissive, like the wire: gate names are open-ended, parameters are any
JSON value (numbers for most gates, nested lists for ``unitary``), and fields not named
here are kept. What each kind of instruction needs is checked: ``measure`` needs
``qubits`` and ``memory``, ``bfunc`` needs ``mask``, ``relation`` and ``val``,
``snapshot`` needs ``label`` and ``snapshot_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    Field,
    JsonValue,
    NonNegativeInt,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from ibmq_async.models._base import (
    ComplexNumber,
    ComplexVector,
    WireModel,
    complex_from_wire,
)

__all__ = [
    "ParametricPulseParameters",
    "PulseAmplitude",
    "PulseLibraryItem",
    "PulseQobj",
    "PulseQobjConfig",
    "PulseQobjExperiment",
    "PulseQobjExperimentConfig",
    "PulseQobjInstruction",
    "QasmQobj",
    "QasmQobjConfig",
    "QasmQobjExperiment",
    "QasmQobjExperimentConfig",
    "QasmQobjInstruction",
    "Qobj",
    "QobjExperimentHeader",
    "QobjHeader",
    "QobjMeasurementOption",
    "RegisterSize",
    "parse_qobj",
]

QOBJ_SCHEMA_VERSION = "1.3.0"
"""The ``schema_version`` qiskit-terra 0.46 put in the Qobj it assembled."""

RegisterSize: TypeAlias = tuple[str, int]
"""A register as ``[name, size]`` (or a bit as ``[register name, index]``) on the wire."""


def _amplitude_from_wire(value: object) -> complex | float | str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return complex_from_wire(value)


def _amplitude_to_wire(value: complex | float | str) -> list[float] | float | str:
    if isinstance(value, complex):
        return [value.real, value.imag]
    return value


PulseAmplitude = Annotated[
    complex | float | str,
    PlainValidator(_amplitude_from_wire),
    PlainSerializer(_amplitude_to_wire),
]
"""A pulse amplitude: complex (``[re, im]``), real (newer pulses pair it with ``angle``), or
the name of a parameter (a string)."""


class QobjMeasurementOption(WireModel):
    """A measurement kernel or discriminator: its name and parameters."""

    name: str
    params: dict[str, JsonValue] = Field(default_factory=dict)


class PulseLibraryItem(WireModel):
    """A sampled pulse: a name and its complex samples (``[[re, im], ...]`` on the wire)."""

    name: str
    samples: ComplexVector


class ParametricPulseParameters(WireModel):
    """The parameters of a ``parametric_pulse`` instruction (``drag``, ``gaussian_square``...).

    ``duration`` is in samples (``dt``); the others are in the units of the pulse shape.
    Parameters of other shapes are kept as extras.
    """

    amp: PulseAmplitude | None = None
    duration: int | str | None = None
    sigma: float | str | None = None
    beta: float | str | None = None
    width: float | str | None = None
    angle: float | str | None = None


class PulseQobjInstruction(WireModel):
    """One instruction of a pulse schedule (a Qobj experiment or a command definition).

    ``name`` is a pulse of the library or one of ``fc``/``setp``/``shiftp`` (``phase``),
    ``setf``/``shiftf`` (``frequency``, GHz), ``pv`` (``val``), ``delay`` (``duration``),
    ``acquire`` (``duration``, ``qubits``, ``memory_slot``), ``parametric_pulse``
    (``pulse_shape``, ``parameters``), ``snapshot``. ``t0`` and ``duration`` are in samples
    (``dt``); ``ch`` names the channel (``d0``, ``u3``, ``m0``...). A phase, frequency or
    value may also be a parameter name (a string).
    """

    name: str
    t0: int | None = None
    ch: str | None = None
    conditional: NonNegativeInt | None = None
    val: ComplexNumber | str | None = None
    phase: float | str | None = None
    frequency: float | str | None = None
    duration: int | None = None
    qubits: list[int] | None = None
    memory_slot: list[int] | None = None
    register_slot: list[int] | None = None
    kernels: list[QobjMeasurementOption] | None = None
    discriminators: list[QobjMeasurementOption] | None = None
    label: str | None = None
    type: str | None = None
    pulse_shape: str | None = None
    parameters: ParametricPulseParameters | None = None


class QobjHeader(WireModel):
    """The Qobj header: the backend it was built for plus any user keys (kept as extras).

    The Result carries it back unchanged.
    """

    backend_name: str | None = None
    backend_version: str | None = None


class QobjExperimentHeader(WireModel):
    """An experiment's header, which the Result carries back unchanged.

    ``name`` selects the experiment in :meth:`Result.get_counts`; ``memory_slots`` and
    ``creg_sizes`` turn hex outcomes into bitstrings with a space between registers.
    """

    qubit_labels: list[RegisterSize | None] | None = None
    n_qubits: int | None = None
    qreg_sizes: list[RegisterSize] | None = None
    clbit_labels: list[RegisterSize] | None = None
    memory_slots: int | None = None
    creg_sizes: list[RegisterSize] | None = None
    name: str | None = None
    global_phase: float | None = None
    metadata: dict[str, JsonValue] | None = None


_REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "measure": ("qubits", "memory"),
    "bfunc": ("mask", "relation", "val"),
    "snapshot": ("label", "snapshot_type"),
}


class QasmQobjInstruction(WireModel):
    """One instruction of a QASM experiment.

    Gates carry ``qubits`` and ``params`` (``{"name": "rz", "qubits": [0], "params":
    [1.57]}``); ``measure`` carries ``qubits`` and ``memory`` (and optionally
    ``register``); ``conditional`` is the index of the register a ``bfunc`` wrote;
    ``bfunc`` carries ``mask``, ``relation``, ``val`` (hex strings, ``"=="``) and the
    ``register`` (and optionally ``memory``) slot to write; ``barrier`` and ``reset``
    carry ``qubits``; ``delay`` carries ``qubits`` and ``params: [duration]``;
    ``snapshot`` carries ``label`` and ``snapshot_type``.

    The wire's ``register`` is ``register_slots`` in Python (``register`` is taken by
    pydantic's model class).
    """

    name: str
    qubits: list[int] | None = None
    params: list[JsonValue] | None = None
    memory: list[int] | NonNegativeInt | None = None
    register_slots: list[int] | NonNegativeInt | None = Field(default=None, alias="register")
    conditional: NonNegativeInt | None = None
    mask: str | None = None
    relation: str | None = None
    val: str | None = None
    label: str | None = None
    snapshot_type: str | None = None

    @model_validator(mode="after")
    def _has_what_its_kind_needs(self) -> QasmQobjInstruction:
        required = _REQUIRED_BY_KIND.get(self.name)
        if required is not None:
            missing = [field for field in required if getattr(self, field) is None]
            if missing:
                raise ValueError(
                    f"a {self.name!r} instruction needs {', '.join(map(repr, missing))}"
                )
        return self


class QasmQobjExperimentConfig(WireModel):
    """Configuration of one QASM experiment; overrides the Qobj configuration."""

    n_qubits: int | None = None
    memory_slots: int | None = None
    init_qubits: bool | None = None
    calibrations: dict[str, JsonValue] | None = None
    qubit_lo_freq: list[float] | None = None
    meas_lo_freq: list[float] | None = None


class QasmQobjExperiment(WireModel):
    """One circuit of a QASM Qobj: its instructions, header and configuration."""

    instructions: list[QasmQobjInstruction]
    header: QobjExperimentHeader | None = None
    config: QasmQobjExperimentConfig | None = None


class QasmQobjConfig(WireModel):
    """Configuration of a QASM Qobj (shots, memory, ``rep_delay`` in µs, ...).

    Every field is optional; options a client did not give are not on the wire.
    """

    shots: int | None = Field(default=None, ge=1)
    memory: bool | None = None
    memory_slots: int | None = Field(default=None, ge=0)
    n_qubits: int | None = Field(default=None, ge=1)
    seed: int | None = None
    seed_simulator: int | None = None
    max_credits: int | None = None
    parameter_binds: list[dict[str, JsonValue]] | None = None
    meas_level: int | None = None
    meas_return: str | None = None
    memory_slot_size: int | None = None
    rep_delay: float | None = Field(default=None, ge=0)
    rep_time: int | None = None
    init_qubits: bool | None = None
    use_measure_esp: bool | None = None
    parametric_pulses: list[str] | None = None
    qubit_lo_freq: list[float] | None = None
    meas_lo_freq: list[float] | None = None
    pulse_library: list[PulseLibraryItem] | None = None
    calibrations: dict[str, JsonValue] | None = None


class QasmQobj(WireModel):
    """A QASM Qobj: circuits to run (``"type": "QASM"``).

    ``type`` and ``schema_version`` (default ``"1.3.0"``) are always dumped.
    """

    qobj_id: str
    schema_version: str = QOBJ_SCHEMA_VERSION
    type: Literal["QASM"] = "QASM"
    experiments: list[QasmQobjExperiment] = Field(min_length=1)
    config: QasmQobjConfig
    header: QobjHeader

    @model_validator(mode="after")
    def _type_and_version_are_always_on_the_wire(self) -> QasmQobj:
        self.__pydantic_fields_set__.update(("type", "schema_version"))
        return self


class PulseQobjExperimentConfig(WireModel):
    """Configuration of one pulse experiment (LO frequencies in GHz); overrides the Qobj's."""

    qubit_lo_freq: list[float] | None = None
    meas_lo_freq: list[float] | None = None
    calibrations: dict[str, JsonValue] | None = None


class PulseQobjExperiment(WireModel):
    """One schedule of a pulse Qobj: its instructions, header and configuration."""

    instructions: list[PulseQobjInstruction]
    header: QobjExperimentHeader | None = None
    config: PulseQobjExperimentConfig | None = None


class PulseQobjConfig(WireModel):
    """Configuration of a pulse Qobj.

    ``meas_level``, ``meas_return``, ``pulse_library``, ``qubit_lo_freq`` and
    ``meas_lo_freq`` (GHz) are required; ``rep_time`` and ``rep_delay`` are in µs.
    """

    meas_level: int | list[int]
    meas_return: Literal["single", "avg"]
    pulse_library: list[PulseLibraryItem]
    qubit_lo_freq: list[float]
    meas_lo_freq: list[float]
    memory_slot_size: int | None = Field(default=None, ge=0)
    rep_time: int | None = None
    rep_delay: float | None = Field(default=None, ge=0)
    shots: int | None = Field(default=None, ge=1)
    memory: bool | None = None
    memory_slots: int | None = Field(default=None, ge=0)
    n_qubits: int | None = None
    seed: int | None = None
    seed_simulator: int | None = None
    max_credits: int | None = None
    init_qubits: bool | None = None
    parametric_pulses: list[str] | None = None
    qubit_lo_range: list[list[float]] | None = None
    meas_lo_range: list[list[float]] | None = None


class PulseQobj(WireModel):
    """A pulse Qobj: schedules to run (``"type": "PULSE"``).

    ``type`` and ``schema_version`` (default ``"1.3.0"``) are always dumped.
    """

    qobj_id: str
    schema_version: str = QOBJ_SCHEMA_VERSION
    type: Literal["PULSE"] = "PULSE"
    experiments: list[PulseQobjExperiment] = Field(min_length=1)
    config: PulseQobjConfig
    header: QobjHeader

    @model_validator(mode="after")
    def _type_and_version_are_always_on_the_wire(self) -> PulseQobj:
        self.__pydantic_fields_set__.update(("type", "schema_version"))
        return self


Qobj: TypeAlias = QasmQobj | PulseQobj
"""Either kind of Qobj."""


def parse_qobj(payload: Mapping[str, Any]) -> Qobj:
    """Parse a Qobj, picking the model by its ``type``.

    Args:
        payload: The Qobj as uploaded (a JSON object).

    Returns:
        A :class:`PulseQobj` when ``type`` is ``"PULSE"``, else a :class:`QasmQobj` (which
        rejects a ``type`` other than ``"QASM"``).

    Raises:
        pydantic.ValidationError: The document is not a valid Qobj; the error names the
            model and the field.
    """
    if payload.get("type") == "PULSE":
        return PulseQobj.model_validate(payload)
    return QasmQobj.model_validate(payload)
