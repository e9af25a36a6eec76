"""The backend configuration document (docs/protocol.md §7.1, ``backend_configuration_schema``).

A backend without OpenPulse is described by :class:`QasmBackendConfiguration`; one with
OpenPulse (``"open_pulse": true``) by :class:`PulseBackendConfiguration`, which adds the
pulse-level fields. :func:`parse_backend_configuration` picks the right one.

Units are kept as they are on the wire, so a configuration dumps back to what was received:
``dt``/``dtm`` in nanoseconds, ``rep_times``, ``rep_delay_range`` and ``default_rep_delay``
in microseconds, ``qubit_lo_range``/``meas_lo_range`` in GHz. Properties ending in
``_seconds`` or ``_hz`` give the SI values, as qiskit-terra's configuration objects did.

Real configurations served by IBM Quantum differ from the schema in a few places, and the
models accept what the devices really send: ``rep_delay_range`` is a flat ``[min, max]``
(the schema wants a list of pairs; both are accepted), ``processor_type.revision`` is a
number (an integer, or a float such as ``1.2``), the ``reset`` gate has ``null``
``parameters`` and ``qasm_def``, and ``quantum_volume`` may be ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from pydantic import Field, model_validator

from ibmq_async.models._base import ComplexNumber, UtcDatetime, WireModel

__all__ = [
    "BackendConfiguration",
    "ChannelConfig",
    "GateConfig",
    "Hamiltonian",
    "ProcessorType",
    "PulseBackendConfiguration",
    "QasmBackendConfiguration",
    "TimingConstraints",
    "UchannelLO",
    "parse_backend_configuration",
]

_NS = 1e-9
_US = 1e-6
_GHZ = 1e9


class GateConfig(WireModel):
    """A gate the backend runs: its name, parameter names, QASM definition and qubits.

    ``parameters`` and ``qasm_def`` are required keys but may be ``null`` (real devices send
    ``null`` for ``reset``).
    """

    name: str
    parameters: list[str] | None
    qasm_def: str | None
    coupling_map: list[list[int]] | None = None
    latency_map: list[list[int]] | None = None
    conditional: bool | None = None
    description: str | None = None


class ProcessorType(WireModel):
    """The processor family (``Falcon``, ``Eagle``, ``Heron``, ...), revision and segment.

    The schema has ``revision`` as a string; real devices send a number too, an integer
    (``4``) or a float (``1.2``, armonk; ``5.11``, kolkata), kept as sent.
    """

    family: str
    revision: str | int | float
    segment: str | None = None


class TimingConstraints(WireModel):
    """Alignment rules of pulse instructions, in units of ``dt``."""

    granularity: int | None = None
    min_length: int | None = None
    pulse_alignment: int | None = None
    acquire_alignment: int | None = None


class UchannelLO(WireModel):
    """One term of a U channel's LO frequency: ``scale`` times the LO of qubit ``q``."""

    q: int
    scale: ComplexNumber


class Hamiltonian(WireModel):
    """The system Hamiltonian, as LaTeX and in the machine-readable form of the simulators."""

    h_latex: str
    h_str: list[str] | None = None
    vars: dict[str, float] | None = None
    osc: dict[str, int] | None = None
    qub: dict[str, int] | None = None
    description: str | None = None


class ChannelConfig(WireModel):
    """One pulse channel of ``channels``: its type, purpose and the qubits it operates on."""

    type: str | None = None
    purpose: str | None = None
    operates: dict[str, list[int]] | None = None


class QasmBackendConfiguration(WireModel):
    """The configuration of a backend that runs QASM Qobj (docs/protocol.md §7.1).

    Required fields are those of the schema's ``coreconfig``. ``open_pulse`` is always
    dumped, since the schema requires it; ``coupling_map`` is ``None`` for simulators
    (all-to-all). The original client needs the ``coupling_map`` key even when it is
    ``null``: set it explicitly (``coupling_map=None``) when building a configuration to
    serve, so that the dump has it. Fields not named here are kept as extras.

    Its ``repr`` is one line (name, version, qubits, basis, counts); the document is in
    the fields and in :meth:`to_wire`.
    """

    backend_name: str
    backend_version: str
    n_qubits: int = Field(ge=1)
    basis_gates: list[str]
    gates: list[GateConfig]
    local: bool
    simulator: bool
    conditional: bool
    memory: bool
    max_shots: int = Field(ge=1)
    open_pulse: bool = False
    coupling_map: list[list[int]] | None = None
    max_experiments: int | None = None
    sample_name: str | None = None
    n_registers: int | None = None
    register_map: list[list[int]] | None = None
    configurable: bool | None = None
    credits_required: bool | None = None
    online_date: UtcDatetime | None = None
    display_name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    dt: float | None = None
    dtm: float | None = None
    processor_type: ProcessorType | None = None
    qubit_lo_range: list[list[float]] | None = None
    meas_lo_range: list[list[float]] | None = None
    timing_constraints: TimingConstraints | None = None
    supported_instructions: list[str] | None = None
    supported_features: list[str] | None = None
    dynamic_reprate_enabled: bool | None = None
    rep_delay_range: list[float] | list[list[float]] | None = None
    default_rep_delay: float | None = None
    measure_esp_enabled: bool | None = None
    meas_map: list[list[int]] | None = None
    parametric_pulses: list[str] | None = None
    quantum_volume: int | None = None
    simulation_method: str | None = None
    input_allowed: list[str] | None = None
    url: str | None = None
    allow_q_object: bool | None = None
    allow_object_storage: bool | None = None
    multi_meas_enabled: bool | None = None
    qubit_channel_mapping: list[list[str]] | None = None

    @model_validator(mode="after")
    def _open_pulse_is_always_on_the_wire(self) -> QasmBackendConfiguration:
        self.__pydantic_fields_set__.add("open_pulse")
        return self

    def __repr__(self) -> str:
        # The whole document runs to thousands of characters: the repr names the backend
        # and counts; the fields (and ``to_wire()``) hold the data.
        coupling = (
            "all-to-all" if self.coupling_map is None else f"{len(self.coupling_map)} couplings"
        )
        basis = self.basis_gates
        shown = f"basis {basis}" if len(basis) <= 8 else f"{len(basis)} basis gates"
        return (
            f"<{type(self).__name__} {self.backend_name!r} v{self.backend_version}: "
            f"{self.n_qubits} qubits, {shown}, {len(self.gates)} gates, "
            f"{coupling}, max_shots={self.max_shots}"
            f"{', simulator' if self.simulator else ''}>"
        )

    __str__ = __repr__

    @property
    def num_qubits(self) -> int:
        """The number of qubits of the backend (``n_qubits``)."""
        return self.n_qubits

    @property
    def coupling_edges(self) -> list[tuple[int, int]] | None:
        """The directed couplings ``(control, target)``, or ``None`` for all-to-all.

        Entries of ``coupling_map`` that are not pairs are left out.
        """
        if self.coupling_map is None:
            return None
        return [(edge[0], edge[1]) for edge in self.coupling_map if len(edge) == 2]

    def is_coupled(self, control: int, target: int) -> bool:
        """Whether a two-qubit gate can act from ``control`` to ``target``.

        Always true for a backend without a coupling map (a simulator).
        """
        if self.coupling_map is None:
            return True
        return [control, target] in self.coupling_map

    def qubit_neighbors(self, qubit: int) -> list[int]:
        """The qubits coupled to ``qubit`` in either direction, in ascending order.

        For a backend without a coupling map, every other qubit.
        """
        if self.coupling_map is None:
            return [other for other in range(self.n_qubits) if other != qubit]
        neighbors: set[int] = set()
        for edge in self.coupling_map:
            if qubit in edge:
                neighbors.update(other for other in edge if other != qubit)
        return sorted(neighbors)

    @property
    def dt_seconds(self) -> float | None:
        """The drive-channel sample time in seconds (``dt`` is in ns on the wire)."""
        return None if self.dt is None else self.dt * _NS

    @property
    def dtm_seconds(self) -> float | None:
        """The measurement-channel sample time in seconds (``dtm`` is in ns on the wire)."""
        return None if self.dtm is None else self.dtm * _NS

    @property
    def default_rep_delay_seconds(self) -> float | None:
        """The default delay between shots in seconds (µs on the wire)."""
        return None if self.default_rep_delay is None else self.default_rep_delay * _US

    @property
    def rep_delay_range_seconds(self) -> tuple[float, float] | None:
        """The allowed ``(min, max)`` delay between shots in seconds (µs on the wire).

        Accepts both the flat ``[min, max]`` that devices send and the schema's list of
        ``[min, max]`` pairs (the widest range of the pairs).
        """
        delays = self.rep_delay_range
        if not delays:
            return None
        if isinstance(delays[0], list):
            pairs = [pair for pair in delays if isinstance(pair, list)]
            return (min(pair[0] for pair in pairs) * _US, max(pair[1] for pair in pairs) * _US)
        flat = [value for value in delays if isinstance(value, (int, float))]
        return (flat[0] * _US, flat[-1] * _US)

    @property
    def qubit_lo_range_hz(self) -> list[tuple[float, float]] | None:
        """The qubit LO frequency range of each qubit in Hz (GHz on the wire)."""
        return _ranges_in_hz(self.qubit_lo_range)

    @property
    def meas_lo_range_hz(self) -> list[tuple[float, float]] | None:
        """The measurement LO frequency range of each qubit in Hz (GHz on the wire)."""
        return _ranges_in_hz(self.meas_lo_range)

    def gate_config(self, name: str) -> GateConfig:
        """The :class:`GateConfig` of gate ``name``.

        Raises:
            KeyError: The backend has no gate of that name.
        """
        for gate in self.gates:
            if gate.name == name:
                return gate
        raise KeyError(f"backend {self.backend_name} has no gate {name!r}")


def _ranges_in_hz(ranges: list[list[float]] | None) -> list[tuple[float, float]] | None:
    if ranges is None:
        return None
    return [(low * _GHZ, high * _GHZ) for low, high in ranges]


class PulseBackendConfiguration(QasmBackendConfiguration):
    """The configuration of a backend with OpenPulse (``"open_pulse": true``).

    Adds the fields the schema's ``openpulse_config`` requires (``n_uchannels``,
    ``hamiltonian``, ``u_channel_lo``, ``meas_levels``, ``qubit_lo_range``,
    ``meas_lo_range``, ``dt``, ``dtm``, ``rep_times``, ``meas_kernels``,
    ``discriminators``) and the optional ones (``channels``, latencies, bandwidths).
    """

    open_pulse: Literal[True] = True
    n_uchannels: int = Field(ge=0)
    hamiltonian: Hamiltonian
    u_channel_lo: list[list[UchannelLO]]
    meas_levels: list[int]
    qubit_lo_range: list[list[float]]
    meas_lo_range: list[list[float]]
    dt: float
    dtm: float
    rep_times: list[float]
    meas_kernels: list[str]
    discriminators: list[str]
    channel_bandwidth: list[list[float]] | None = None
    acquisition_latency: list[list[int]] | None = None
    conditional_latency: list[list[float]] | None = None
    channels: dict[str, ChannelConfig] | None = None

    @property
    def rep_times_seconds(self) -> list[float]:
        """The supported repetition times in seconds (µs on the wire)."""
        return [rep_time * _US for rep_time in self.rep_times]

    def control_channel_lo(self, channel: int) -> list[UchannelLO]:
        """How the LO frequency of U channel ``channel`` is built from qubit LOs.

        Raises:
            IndexError: There is no U channel of that index.
        """
        if not 0 <= channel < len(self.u_channel_lo):
            raise IndexError(
                f"backend {self.backend_name} has no U channel {channel} "
                f"(it has {len(self.u_channel_lo)})"
            )
        return self.u_channel_lo[channel]


BackendConfiguration: TypeAlias = QasmBackendConfiguration | PulseBackendConfiguration
"""Either kind of backend configuration."""


def parse_backend_configuration(payload: Mapping[str, Any]) -> BackendConfiguration:
    """Parse a backend configuration, picking the model by its ``open_pulse`` flag.

    Args:
        payload: The configuration as received (a JSON object).

    Returns:
        A :class:`PulseBackendConfiguration` when ``open_pulse`` is true, else a
        :class:`QasmBackendConfiguration`.

    Raises:
        pydantic.ValidationError: The document is not a valid configuration of that kind;
            the error names the model and the field.
    """
    if payload.get("open_pulse") is True:
        return PulseBackendConfiguration.model_validate(payload)
    return QasmBackendConfiguration.model_validate(payload)
