"""The backend properties document (``backend_properties_schema.json``, docs/protocol.md §7.3).

Every measured property is an :class:`Nduv` (name, date, unit, value), kept as it is on the
wire: T1/T2 in µs, frequencies in GHz, lengths in ns. The accessors of
:class:`BackendProperties` (:meth:`~BackendProperties.t1`,
:meth:`~BackendProperties.frequency`, :meth:`~BackendProperties.gate_length`, ...) return
SI values instead (seconds, Hz), converted with the SI prefix of each property's ``unit``,
as qiskit-terra's ``BackendProperties`` did. A property that is not there raises
:class:`BackendPropertyError`, which names the qubit or gate and the property.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from typing import NamedTuple, overload

from pydantic import Field

from ibmq_async.models._base import UtcDatetime, WireModel, format_utc

__all__ = [
    "BackendProperties",
    "BackendPropertyError",
    "GateProperties",
    "Nduv",
    "PropertyValue",
    "apply_si_prefix",
]

_SI_PREFIX_EXPONENTS = {
    "f": -15,
    "p": -12,
    "n": -9,
    "u": -6,
    "µ": -6,  # MICRO SIGN, as units are usually written
    "μ": -6,  # GREEK SMALL LETTER MU, the other way to write it
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
}


class BackendPropertyError(LookupError, ValueError):
    """A property asked of :class:`BackendProperties` is not there (or has a unit not understood).

    It is a :class:`LookupError` (the property is missing) and a :class:`ValueError` (what
    qiskit-terra raised in the same case), so code written for either catches it.
    """


def apply_si_prefix(value: float, unit: str) -> float:
    """Convert ``value`` in ``unit`` to the SI base unit by applying the unit's SI prefix.

    Follows qiskit-terra's ``apply_prefix``: an empty or one-letter unit (``""``, ``"s"``,
    ``"K"``) is taken as a base unit; otherwise the first letter is the prefix
    (``"us"`` -> 1e-6, ``"ns"`` -> 1e-9, ``"GHz"`` -> 1e9, ``"mK"`` -> 1e-3).

    Args:
        value: The number as it is on the wire.
        unit: Its unit as it is on the wire.

    Raises:
        ValueError: The first letter of a unit longer than one letter is not an SI prefix.
    """
    if len(unit) <= 1:
        return value
    try:
        exponent = _SI_PREFIX_EXPONENTS[unit[0]]
    except KeyError:
        raise ValueError(f"unit {unit!r} does not start with an SI prefix") from None
    # Divide for negative exponents: 60 / 1e6 is exactly 6e-05, 60 * 1e-6 is not.
    factor = 10.0 ** abs(exponent)
    return value / factor if exponent < 0 else value * factor


class PropertyValue(NamedTuple):
    """A property in SI units and when it was measured (what terra's tuples held)."""

    value: float
    date: datetime


class Nduv(WireModel):
    """A measured property: name, date (UTC), unit and value, as on the wire."""

    name: str
    date: UtcDatetime
    unit: str
    value: float

    @property
    def si_value(self) -> float:
        """The value in SI base units (seconds, Hz, ...), see :func:`apply_si_prefix`.

        Raises:
            ValueError: The unit has no SI prefix that is understood.
        """
        return apply_si_prefix(self.value, self.unit)


class GateProperties(WireModel):
    """The measured properties of a gate on given qubits (``gate_error``, ``gate_length``)."""

    qubits: list[int] = Field(min_length=1)
    gate: str
    parameters: list[Nduv]
    name: str | None = None

    def parameter(self, name: str) -> Nduv | None:
        """The parameter called ``name``, or ``None`` when the gate does not have it."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        return None


def _qubit_key(qubits: int | Iterable[int]) -> tuple[int, ...]:
    return (qubits,) if isinstance(qubits, int) else tuple(qubits)


class BackendProperties(WireModel):
    """The calibration of a backend: per-qubit, per-gate and general properties.

    The wire document is kept unchanged (units as sent, dates in UTC). The accessor
    methods look properties up by qubit or gate and return SI values; the lookup tables
    are built on first use, so treat a parsed document as read-only. Its ``repr`` is one
    line (name, version, last update, counts); the document is in the fields and in
    :meth:`to_wire`.
    """

    backend_name: str
    backend_version: str
    last_update_date: UtcDatetime
    qubits: list[list[Nduv]]
    gates: list[GateProperties]
    general: list[Nduv]

    def __repr__(self) -> str:
        # The whole document runs to tens of thousands of characters: the repr names the
        # backend, its calibration date and counts; the fields hold the data.
        return (
            f"<BackendProperties {self.backend_name!r} v{self.backend_version}, "
            f"last update {format_utc(self.last_update_date)}: {len(self.qubits)} qubits, "
            f"{len(self.gates)} gate entries ({len(self._gate_table)} gates), "
            f"{len(self.general)} general>"
        )

    __str__ = __repr__

    @cached_property
    def _qubit_table(self) -> list[dict[str, Nduv]]:
        return [{nduv.name: nduv for nduv in qubit} for qubit in self.qubits]

    @cached_property
    def _gate_table(self) -> dict[str, dict[tuple[int, ...], GateProperties]]:
        table: dict[str, dict[tuple[int, ...], GateProperties]] = {}
        for gate in self.gates:
            table.setdefault(gate.gate, {})[tuple(gate.qubits)] = gate
        return table

    @property
    def num_qubits(self) -> int:
        """How many qubits the document describes."""
        return len(self.qubits)

    def _qubit_nduvs(self, qubit: int) -> dict[str, Nduv]:
        if not 0 <= qubit < len(self.qubits):
            raise BackendPropertyError(
                f"backend {self.backend_name} has no properties for qubit {qubit} "
                f"(it has {len(self.qubits)} qubits)"
            )
        return self._qubit_table[qubit]

    def qubit_nduv(self, qubit: int, name: str) -> Nduv:
        """The property ``name`` of ``qubit`` as it is on the wire (units as sent).

        Raises:
            BackendPropertyError: The qubit or the property is not there.
        """
        nduvs = self._qubit_nduvs(qubit)
        try:
            return nduvs[name]
        except KeyError:
            raise BackendPropertyError(
                f"backend {self.backend_name} has no property {name!r} for qubit {qubit}"
            ) from None

    @overload
    def qubit_property(self, qubit: int) -> dict[str, PropertyValue]: ...

    @overload
    def qubit_property(self, qubit: int, name: str) -> PropertyValue: ...

    def qubit_property(
        self, qubit: int, name: str | None = None
    ) -> PropertyValue | dict[str, PropertyValue]:
        """A property of a qubit in SI units, with the date it was measured.

        Args:
            qubit: The qubit index.
            name: The property (``"T1"``, ``"frequency"``, ``"readout_error"``, ...). When
                not given, every property of the qubit, by name.

        Returns:
            ``(value, date)`` with the value in SI units (seconds, Hz; unitless values as
            they are), or a dict of them by name.

        Raises:
            BackendPropertyError: The qubit or the property is not there, or its unit has no
                SI prefix that is understood.
        """
        if name is None:
            return {
                nduv.name: self._to_property_value(nduv, f"qubit {qubit}")
                for nduv in self._qubit_nduvs(qubit).values()
            }
        return self._to_property_value(self.qubit_nduv(qubit, name), f"qubit {qubit}")

    def _to_property_value(self, nduv: Nduv, owner: str) -> PropertyValue:
        try:
            return PropertyValue(nduv.si_value, nduv.date)
        except ValueError as exc:
            raise BackendPropertyError(
                f"backend {self.backend_name}: property {nduv.name!r} of {owner}: {exc}"
            ) from None

    def t1(self, qubit: int) -> float:
        """The T1 relaxation time of ``qubit`` in seconds (µs on the wire).

        Raises:
            BackendPropertyError: The qubit has no ``T1``.
        """
        return self.qubit_property(qubit, "T1").value

    def t2(self, qubit: int) -> float:
        """The T2 dephasing time of ``qubit`` in seconds (µs on the wire).

        Raises:
            BackendPropertyError: The qubit has no ``T2``.
        """
        return self.qubit_property(qubit, "T2").value

    def frequency(self, qubit: int) -> float:
        """The frequency of ``qubit`` in Hz (GHz on the wire).

        Raises:
            BackendPropertyError: The qubit has no ``frequency``.
        """
        return self.qubit_property(qubit, "frequency").value

    def readout_error(self, qubit: int) -> float:
        """The readout error of ``qubit`` (a probability, unitless).

        Raises:
            BackendPropertyError: The qubit has no ``readout_error``.
        """
        return self.qubit_property(qubit, "readout_error").value

    def readout_length(self, qubit: int) -> float:
        """The readout length of ``qubit`` in seconds (ns on the wire).

        Raises:
            BackendPropertyError: The qubit has no ``readout_length``.
        """
        return self.qubit_property(qubit, "readout_length").value

    def gate_properties(self, gate: str, qubits: int | Iterable[int]) -> GateProperties:
        """The entry of ``gates`` for ``gate`` on ``qubits`` (a qubit or a sequence of them).

        Raises:
            BackendPropertyError: There is no such gate, or not on those qubits.
        """
        key = _qubit_key(qubits)
        by_qubits = self._gate_table.get(gate)
        if by_qubits is None:
            raise BackendPropertyError(f"backend {self.backend_name} has no gate {gate!r}")
        try:
            return by_qubits[key]
        except KeyError:
            raise BackendPropertyError(
                f"backend {self.backend_name} has no gate {gate!r} on qubits {list(key)}"
            ) from None

    @overload
    def gate_property(self, gate: str, qubits: int | Iterable[int]) -> dict[str, PropertyValue]: ...

    @overload
    def gate_property(self, gate: str, qubits: int | Iterable[int], name: str) -> PropertyValue: ...

    def gate_property(
        self, gate: str, qubits: int | Iterable[int], name: str | None = None
    ) -> PropertyValue | dict[str, PropertyValue]:
        """A property of a gate on given qubits in SI units, with the date it was measured.

        Args:
            gate: The gate name (``"cx"``, ``"sx"``, ...).
            qubits: The qubit, or the qubits in order (``[0, 1]`` is not ``[1, 0]``).
            name: The property (``"gate_error"``, ``"gate_length"``, ...). When not given,
                every property of the gate on those qubits, by name.

        Raises:
            BackendPropertyError: The gate, the qubits or the property is not there.
        """
        entry = self.gate_properties(gate, qubits)
        owner = f"gate {gate!r} on qubits {list(_qubit_key(qubits))}"
        if name is None:
            return {nduv.name: self._to_property_value(nduv, owner) for nduv in entry.parameters}
        nduv = entry.parameter(name)
        if nduv is None:
            raise BackendPropertyError(f"backend {self.backend_name} has no {name!r} for {owner}")
        return self._to_property_value(nduv, owner)

    def gate_error(self, gate: str, qubits: int | Iterable[int]) -> float:
        """The error rate of ``gate`` on ``qubits`` (a probability, unitless).

        Raises:
            BackendPropertyError: There is no ``gate_error`` for that gate on those qubits.
        """
        return self.gate_property(gate, qubits, "gate_error").value

    def gate_length(self, gate: str, qubits: int | Iterable[int]) -> float:
        """The duration of ``gate`` on ``qubits`` in seconds (ns on the wire).

        Raises:
            BackendPropertyError: There is no ``gate_length`` for that gate on those qubits.
        """
        return self.gate_property(gate, qubits, "gate_length").value

    def general_property(self, name: str) -> PropertyValue:
        """A property of ``general`` in SI units, with the date it was measured.

        Raises:
            BackendPropertyError: There is no general property of that name.
        """
        for nduv in self.general:
            if nduv.name == name:
                return self._to_property_value(nduv, "general")
        raise BackendPropertyError(f"backend {self.backend_name} has no general property {name!r}")

    def is_qubit_operational(self, qubit: int) -> bool:
        """Whether ``qubit`` is operational: its ``operational`` property, true if absent.

        Raises:
            BackendPropertyError: The document has no such qubit.
        """
        operational = self._qubit_nduvs(qubit).get("operational")
        return True if operational is None else bool(operational.value)

    def faulty_qubits(self) -> list[int]:
        """The qubits whose ``operational`` property is false."""
        return [qubit for qubit in range(len(self.qubits)) if not self.is_qubit_operational(qubit)]

    def is_gate_operational(self, gate: str, qubits: int | Iterable[int]) -> bool:
        """Whether ``gate`` on ``qubits`` is operational: its ``operational``, true if absent.

        Raises:
            BackendPropertyError: There is no such gate on those qubits.
        """
        operational = self.gate_properties(gate, qubits).parameter("operational")
        return True if operational is None else bool(operational.value)

    def faulty_gates(self) -> list[GateProperties]:
        """The gates whose ``operational`` property is false."""
        return [
            entry
            for entry in self.gates
            if (operational := entry.parameter("operational")) is not None and not operational.value
        ]
