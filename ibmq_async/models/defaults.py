"""The pulse defaults document (``default_pulse_configuration_schema.json``, docs/protocol.md §7.4).

The calibrated pulse-level definition of a backend: estimated qubit and measurement
frequencies (GHz on the wire), the sampled pulse library and, in ``cmd_def``, how each gate
on each qubit tuple is played as a schedule of :class:`PulseQobjInstruction`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from pydantic import Field

from ibmq_async.models._base import WireModel
from ibmq_async.models.qobj import PulseLibraryItem, PulseQobjInstruction, QobjMeasurementOption

__all__ = ["Command", "PulseDefaults"]

_GHZ = 1e9


class Command(WireModel):
    """A calibrated gate: its name, the qubits it acts on and the pulse schedule playing it."""

    name: str
    qubits: list[int] | None = None
    sequence: list[PulseQobjInstruction] | None = None


class PulseDefaults(WireModel):
    """The pulse defaults of an OpenPulse backend.

    ``qubit_freq_est`` and ``meas_freq_est`` are in GHz on the wire; the ``_hz`` properties
    give them in Hz. ``buffer`` is in samples (``dt``). ``cmd_def`` is required by
    qiskit-terra (not by the schema) and is empty when absent. Its ``repr`` is one line
    (counts of qubits, commands and pulses); the document is in the fields and in
    :meth:`to_wire`.
    """

    qubit_freq_est: list[float] = Field(min_length=1)
    meas_freq_est: list[float] = Field(min_length=1)
    buffer: int = Field(ge=0)
    pulse_library: list[PulseLibraryItem]
    cmd_def: list[Command] = Field(default_factory=list)
    meas_kernel: QobjMeasurementOption | None = None
    discriminator: QobjMeasurementOption | None = None

    def __repr__(self) -> str:
        # The whole document (sampled pulses) runs to about a hundred thousand characters.
        return (
            f"<PulseDefaults: {len(self.qubit_freq_est)} qubits, {len(self.cmd_def)} commands "
            f"({len({command.name for command in self.cmd_def})} gates), "
            f"{len(self.pulse_library)} pulses in the library, buffer {self.buffer}>"
        )

    __str__ = __repr__

    @property
    def qubit_freq_est_hz(self) -> list[float]:
        """The estimated qubit frequencies in Hz (GHz on the wire)."""
        return [frequency * _GHZ for frequency in self.qubit_freq_est]

    @property
    def meas_freq_est_hz(self) -> list[float]:
        """The estimated measurement frequencies in Hz (GHz on the wire)."""
        return [frequency * _GHZ for frequency in self.meas_freq_est]

    @cached_property
    def _commands(self) -> dict[tuple[str, tuple[int, ...]], Command]:
        return {(command.name, tuple(command.qubits or ())): command for command in self.cmd_def}

    @cached_property
    def _pulses(self) -> dict[str, PulseLibraryItem]:
        return {pulse.name: pulse for pulse in self.pulse_library}

    def command(self, name: str, qubits: int | Iterable[int]) -> Command:
        """The command definition of gate ``name`` on ``qubits`` (a qubit or a sequence).

        Raises:
            KeyError: There is no definition of that gate on those qubits.
        """
        key = (qubits,) if isinstance(qubits, int) else tuple(qubits)
        try:
            return self._commands[(name, key)]
        except KeyError:
            raise KeyError(f"no command definition of {name!r} on qubits {list(key)}") from None

    def has_command(self, name: str, qubits: int | Iterable[int]) -> bool:
        """Whether ``cmd_def`` defines gate ``name`` on ``qubits``."""
        key = (qubits,) if isinstance(qubits, int) else tuple(qubits)
        return (name, key) in self._commands

    def pulse(self, name: str) -> PulseLibraryItem:
        """The pulse ``name`` of the pulse library.

        Raises:
            KeyError: The library has no pulse of that name.
        """
        try:
            return self._pulses[name]
        except KeyError:
            raise KeyError(f"the pulse library has no pulse {name!r}") from None
