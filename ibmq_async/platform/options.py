"""The options of the sampler and estimator programs, as qiskit-ibm-runtime 0.51 sends them.

:class:`SamplerOptions` and :class:`EstimatorOptions` have the fields, nesting and value
checks of qiskit-ibm-runtime's classes of the same names (``options/*.py``): dynamical
decoupling, twirling, execution, resilience (measurement mitigation, ZNE, PEC, layer noise
learning), simulator, environment, ``max_execution_time`` and ``experimental``. A field
that is not set is not sent, as qiskit-ibm-runtime leaves out its ``Unset`` values; a
field set explicitly to ``None`` is sent as ``null``, as it does. Either class also
accepts a plain mapping of the same shape (``{"twirling": {"enable_gates": True}}``).

Each options object splits into what the program reads and what the job carries
(docs/platform.md §5):

* :meth:`PrimitiveOptions.program_inputs`: the ``options`` of the ``params`` (plus
  ``resilience_level`` beside them for the estimator), as ``_get_program_inputs`` builds
  them: experimental keys that name a known option are merged into it, the others stay
  under ``experimental``, and empty sections are dropped;
* :meth:`PrimitiveOptions.job_fields`: the fields of ``POST /v1/jobs`` that come from the
  options: ``cost`` (``max_execution_time``), ``log_level``, ``tags``, ``private``, and
  ``runtime`` (an ``image`` among the experimental options).

Bad options raise :class:`~ibmq_async.platform.errors.OptionsError` naming each bad field
by its path (``twirling.num_randomizations``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ibmq_async.platform.errors import OptionsError

__all__ = [
    "DynamicalDecouplingOptions",
    "EnvironmentOptions",
    "EstimatorExecutionOptions",
    "EstimatorOptions",
    "LayerNoiseLearningOptions",
    "MeasureNoiseLearningOptions",
    "PecOptions",
    "PrimitiveOptions",
    "ResilienceOptions",
    "SamplerExecutionOptions",
    "SamplerOptions",
    "SimulatorOptions",
    "TwirlingOptions",
    "ZneOptions",
]

OPTIONS_VERSION = 2
"""The ``version`` of the params of the V2 primitives."""

MAX_RESILIENCE_LEVEL = 2


def _at_least_one(value: int | str | None) -> int | str | None:
    if isinstance(value, int) and value < 1:
        raise ValueError("must be at least 1 (or 'auto')")
    return value


CountOrAuto = Annotated[
    int | Literal["auto"] | None,
    Field(union_mode="left_to_right"),
    AfterValidator(_at_least_one),
]
"""A number of randomizations or shots (at least 1), or ``"auto"``."""
Extrapolator = Literal[
    "linear",
    "exponential",
    "double_exponential",
    "polynomial_degree_1",
    "polynomial_degree_2",
    "polynomial_degree_3",
    "polynomial_degree_4",
    "polynomial_degree_5",
    "polynomial_degree_6",
    "polynomial_degree_7",
    "fallback",
]
_EXTRAPOLATOR_NEEDS = {
    "linear": 2,
    "exponential": 2,
    "double_exponential": 4,
    "fallback": 2,
    **{f"polynomial_degree_{degree}": degree + 1 for degree in range(1, 8)},
}


class _Section(BaseModel):
    """A group of options: unknown names refused, values checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)

    def wire(self) -> dict[str, Any]:
        """The options that were set, as qiskit-ibm-runtime writes them: a field is left
        out when it was never set and is ``None``; sections without anything set vanish."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, _Section):
                inner = value.wire()
                if inner:
                    out[name] = inner
            elif value is not None or name in self.model_fields_set:
                out[name] = copy.deepcopy(value)
        return out


class DynamicalDecouplingOptions(_Section):
    """Dynamical decoupling: whether and how idle qubits get decoupling sequences."""

    enable: bool | None = None
    sequence_type: Literal["XX", "XpXm", "XY4"] | None = None
    extra_slack_distribution: Literal["middle", "edges"] | None = None
    scheduling_method: Literal["alap", "asap"] | None = None
    skip_reset_qubits: bool | None = None


class TwirlingOptions(_Section):
    """Pauli twirling of gates and measurements."""

    enable_gates: bool | None = None
    enable_measure: bool | None = None
    num_randomizations: CountOrAuto = None
    shots_per_randomization: CountOrAuto = None
    strategy: Literal["active", "active-accum", "active-circuit", "all"] | None = None


class EstimatorExecutionOptions(_Section):
    """Execution options of the estimator (``ExecutionOptionsV2``)."""

    init_qubits: bool | None = None
    rep_delay: float | None = None


class SamplerExecutionOptions(EstimatorExecutionOptions):
    """Execution options of the sampler: also how measurements are returned."""

    meas_type: Literal["classified", "kerneled", "avg_kerneled"] | None = None


class SimulatorOptions(_Section):
    """Options for simulator backends."""

    noise_model: dict[str, Any] | None = None
    seed_simulator: int | None = None
    coupling_map: list[list[int]] | None = None
    basis_gates: list[str] | None = None


class EnvironmentOptions(_Section):
    """The job's execution environment: its log level, tags and privacy."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    job_tags: list[str] | None = None
    private: bool | None = False


class ZneOptions(_Section):
    """Zero-noise extrapolation."""

    amplifier: Literal["gate_folding", "gate_folding_front", "gate_folding_back", "pea"] | None = (
        None
    )
    noise_factors: list[float] | None = None
    extrapolator: Extrapolator | list[Extrapolator] | None = None
    extrapolated_noise_factors: list[float] | None = None

    @field_validator("noise_factors")
    @classmethod
    def _factors_at_least_one(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(factor < 1 for factor in value):
            raise ValueError("every noise factor must be >= 1")
        return value

    @model_validator(mode="after")
    def _enough_factors(self) -> ZneOptions:
        factors = self.noise_factors if self.noise_factors is not None else [1, 3, 5]
        extrapolators = self.extrapolator or ["exponential", "linear"]
        for name in [extrapolators] if isinstance(extrapolators, str) else extrapolators:
            needed = _EXTRAPOLATOR_NEEDS[name]
            if len(factors) < needed:
                raise ValueError(f"the extrapolator {name} needs at least {needed} noise factors")
        return self


class PecOptions(_Section):
    """Probabilistic error cancellation."""

    max_overhead: float | None = Field(default=None, gt=0)
    noise_gain: float | Literal["auto"] | None = Field(default=None, union_mode="left_to_right")

    @field_validator("noise_gain")
    @classmethod
    def _gain_not_negative(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, (int, float)) and value < 0:
            raise ValueError("must be >= 0 (or 'auto')")
        return value


class LayerNoiseLearningOptions(_Section):
    """Learning the noise of layers of two-qubit gates (for PEC and PEA)."""

    max_layers_to_learn: int | None = Field(default=None, ge=0)
    shots_per_randomization: int | None = Field(default=None, ge=1)
    num_randomizations: int | None = Field(default=None, ge=1)
    layer_pair_depths: list[int] | None = None

    @field_validator("layer_pair_depths")
    @classmethod
    def _depths_not_negative(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(depth < 0 for depth in value):
            raise ValueError("every depth must be >= 0")
        return value


class MeasureNoiseLearningOptions(_Section):
    """Learning the noise of measurements (for measurement mitigation)."""

    num_randomizations: int | None = Field(default=None, ge=1)
    shots_per_randomization: CountOrAuto = None


class ResilienceOptions(_Section):
    """Error mitigation of the estimator (``ResilienceOptionsV2``)."""

    measure_mitigation: bool | None = None
    measure_noise_learning: MeasureNoiseLearningOptions = Field(
        default_factory=MeasureNoiseLearningOptions
    )
    zne_mitigation: bool | None = None
    zne: ZneOptions = Field(default_factory=ZneOptions)
    pec_mitigation: bool | None = None
    pec: PecOptions = Field(default_factory=PecOptions)
    layer_noise_learning: LayerNoiseLearningOptions = Field(
        default_factory=LayerNoiseLearningOptions
    )

    @model_validator(mode="after")
    def _consistent(self) -> ResilienceOptions:
        if not self.measure_mitigation and self.measure_noise_learning.wire():
            raise ValueError(
                "measure_noise_learning options are set, but measure_mitigation is not True"
            )
        if self.pec_mitigation is True and self.zne_mitigation is True:
            raise ValueError("pec_mitigation and zne_mitigation cannot both be enabled")
        return self


_Options = TypeVar("_Options", bound="PrimitiveOptions")


class PrimitiveOptions(_Section):
    """What both primitives' options have (qiskit-ibm-runtime's ``OptionsV2``)."""

    _PROGRAM_FIELDS: ClassVar[tuple[str, ...]] = ()

    max_execution_time: int | None = Field(default=None, ge=1)
    environment: EnvironmentOptions = Field(default_factory=EnvironmentOptions)
    simulator: SimulatorOptions = Field(default_factory=SimulatorOptions)
    experimental: dict[str, Any] | None = None

    def program_inputs(self) -> dict[str, Any]:
        """The options' part of the job's ``params``: ``{"options": {...}, "version": 2,
        "support_qiskit": true}``, plus ``resilience_level`` for the estimator."""
        options: dict[str, Any] = {}
        for name in self._PROGRAM_FIELDS:
            value = getattr(self, name)
            if isinstance(value, _Section):
                value = value.wire()
                if value:
                    options[name] = value
            elif value is not None or name in self.model_fields_set:
                options[name] = copy.deepcopy(value)
        experimental = copy.deepcopy(self.experimental or {})
        experimental.pop("image", None)
        kept: dict[str, Any] = {}
        for key, value in experimental.items():
            if key in self._PROGRAM_FIELDS:
                options[key] = _merged(options.get(key), value)
            else:
                kept[key] = value
        if kept:
            options["experimental"] = kept
        inputs: dict[str, Any] = {
            "options": _without_empty(options),
            "version": OPTIONS_VERSION,
            "support_qiskit": True,
        }
        level = getattr(self, "resilience_level", None)
        if level is not None:
            inputs["resilience_level"] = level
        return inputs

    def job_fields(self) -> dict[str, Any]:
        """The fields of ``POST /v1/jobs`` the options set, as qiskit-ibm-runtime sends them:
        ``log_level`` always, ``cost``, ``tags``, ``private`` and ``runtime`` when set."""
        fields: dict[str, Any] = {"log_level": self.environment.log_level}
        if self.max_execution_time:
            fields["cost"] = self.max_execution_time
        if self.environment.job_tags:
            fields["tags"] = list(self.environment.job_tags)
        if self.environment.private:
            fields["private"] = True
        image = (self.experimental or {}).get("image")
        if image:
            fields["runtime"] = image
        return fields

    @classmethod
    def coerce(cls: type[_Options], options: _Options | Mapping[str, Any] | None) -> _Options:
        """Options of this class from an instance, a mapping of the same shape, or ``None``.

        Raises:
            OptionsError: A name is unknown or a value is not valid; the message names
                every bad option by its path.
        """
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options.model_copy(deep=True)
        if isinstance(options, PrimitiveOptions):
            raise OptionsError(
                f"{type(options).__name__} given where {cls.__name__} is needed "
                "(sampler and estimator options differ)"
            )
        if not isinstance(options, Mapping):
            raise OptionsError(
                f"options must be {cls.__name__} or a mapping, got {type(options).__name__}"
            )
        try:
            return cls.model_validate(dict(options))
        except ValidationError as error:
            raise OptionsError(_describe(cls, error)) from None


class SamplerOptions(PrimitiveOptions):
    """Options of the sampler (qiskit-ibm-runtime's ``SamplerOptions``).

    ``default_shots`` is the shots of PUBs that give none (4096 when not set).
    """

    _PROGRAM_FIELDS: ClassVar[tuple[str, ...]] = (
        "default_shots",
        "dynamical_decoupling",
        "twirling",
        "simulator",
        "execution",
    )

    default_shots: int | None = Field(default=None, ge=1)
    dynamical_decoupling: DynamicalDecouplingOptions = Field(
        default_factory=DynamicalDecouplingOptions
    )
    execution: SamplerExecutionOptions = Field(default_factory=SamplerExecutionOptions)
    twirling: TwirlingOptions = Field(default_factory=TwirlingOptions)


class EstimatorOptions(PrimitiveOptions):
    """Options of the estimator (qiskit-ibm-runtime's ``EstimatorOptions``).

    ``default_precision`` is the precision of PUBs that give none (0.015625 when not set);
    ``default_shots``, when set, overrides it; ``resilience_level`` is 0, 1 or 2.
    """

    _PROGRAM_FIELDS: ClassVar[tuple[str, ...]] = (
        "default_precision",
        "default_shots",
        "seed_estimator",
        "dynamical_decoupling",
        "resilience",
        "twirling",
        "simulator",
        "execution",
    )

    default_precision: float | None = Field(default=None, gt=0)
    default_shots: int | None = Field(default=None, ge=1)
    resilience_level: int | None = Field(default=None, ge=0, le=MAX_RESILIENCE_LEVEL)
    seed_estimator: int | None = None
    dynamical_decoupling: DynamicalDecouplingOptions = Field(
        default_factory=DynamicalDecouplingOptions
    )
    resilience: ResilienceOptions = Field(default_factory=ResilienceOptions)
    execution: EstimatorExecutionOptions = Field(default_factory=EstimatorExecutionOptions)
    twirling: TwirlingOptions = Field(default_factory=TwirlingOptions)


def _merged(base: Any, update: Any) -> Any:
    """``update`` laid over ``base``, section by section (qiskit-ibm-runtime's
    ``merge_options_v2``)."""
    if not isinstance(base, dict) or not isinstance(update, Mapping):
        return copy.deepcopy(update)
    out = dict(base)
    for key, value in update.items():
        out[key] = _merged(out.get(key), value)
    return out


def _without_empty(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            value = _without_empty(value)
            if not value:
                continue
        out[key] = value
    return out


_TYPE_TAGS = frozenset({"int", "float", "str", "bool", "dict", "list", "none"})


def _describe(kind: type[BaseModel], error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        # Members of a union ("int", "literal['auto']") are not option names.
        path = ".".join(
            str(part)
            for part in item["loc"]
            if str(part) not in _TYPE_TAGS and "[" not in str(part)
        )
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown option"
        problems.append(f"{path or '(options)'}: {message}")
    return f"invalid {kind.__name__}: " + "; ".join(dict.fromkeys(problems))
