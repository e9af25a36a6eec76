"""Shared building blocks of the wire models.

All wire models derive from :class:`WireModel`: camelCase wire names stay on the wire
through aliases, Python code uses snake_case names, and fields the server adds that the
model does not know are kept (``extra="allow"``) rather than rejected, so a newer server
never breaks an older client and a model dumped by alias gives back what was received.

Complex numbers are ``[re, im]`` on the wire and :class:`complex` in Python. Long vectors
and matrices of them (pulse samples, statevectors, unitaries) are validated by one function
call per list rather than one per number, which keeps large documents fast to parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, TypeGuard

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
)

__all__ = [
    "ComplexMatrix",
    "ComplexNumber",
    "ComplexVector",
    "UtcDatetime",
    "WireModel",
    "complex_from_wire",
    "complex_to_wire",
    "format_utc",
    "to_utc",
]


class WireModel(BaseModel):
    """Base of every wire model: aliases on the wire, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        arbitrary_types_allowed=False,
        ser_json_inf_nan="constants",
    )

    def to_wire(self, **kwargs: Any) -> dict[str, Any]:
        """Dump the model as the JSON-compatible dict that goes on the wire (by alias).

        Fields that were never set (neither received nor given) are left out, so a
        document dumps back to what was received.

        Args:
            **kwargs: Passed on to :meth:`pydantic.BaseModel.model_dump`.
        """
        kwargs.setdefault("exclude_unset", True)
        return self.model_dump(mode="json", by_alias=True, **kwargs)

    def to_wire_json(self, **kwargs: Any) -> str:
        """Dump the model as the JSON text that goes on the wire (by alias, set fields only).

        The same document as :meth:`to_wire`, serialised by pydantic-core directly, which is
        faster than ``json.dumps(model.to_wire())`` for large documents.

        Args:
            **kwargs: Passed on to :meth:`pydantic.BaseModel.model_dump_json`.
        """
        kwargs.setdefault("exclude_unset", True)
        return self.model_dump_json(by_alias=True, **kwargs)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as a timezone-aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the range of UTC datetimes") from None


def format_utc(value: datetime) -> str:
    """Format a datetime as the ISO 8601 UTC string the protocol uses (``...Z``)."""
    text = to_utc(value).isoformat()
    return text.replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""A datetime that is always timezone-aware UTC in Python and ``...Z`` ISO 8601 on the wire.

A datetime received with an offset (``-05:00``) is converted to the same instant in UTC.
"""


def _is_real(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a JSON number (``bool`` is an ``int`` to Python, not a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def complex_from_wire(value: object) -> complex:
    """Read one complex number: ``[re, im]``, a real number, or a :class:`complex`.

    Raises:
        ValueError: ``value`` is none of these (a string, a list of another length, ...).
    """
    if isinstance(value, complex):
        return value
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and _is_real(value[0]) and _is_real(value[1]):
            return complex(value[0], value[1])
        raise ValueError(f"a complex number is [re, im] of two numbers, got {value!r}")
    if _is_real(value):
        return complex(value)
    raise ValueError(f"a complex number is [re, im], got {type(value).__name__} {value!r}")


def complex_to_wire(value: complex) -> list[float]:
    """Write one complex number as ``[re, im]``."""
    return [value.real, value.imag]


def _complex_vector_from_wire(value: object) -> list[complex]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"a complex vector is a list of [re, im], got {type(value).__name__}")
    try:
        # The fast path, taken by every wire document: each item is a pair of numbers.
        return [complex(real, imag) for real, imag in value]
    except (TypeError, ValueError):
        pass
    # The slow path accepts complex and real items and names the first item that is neither.
    vector = []
    for index, item in enumerate(value):
        try:
            vector.append(complex_from_wire(item))
        except ValueError as exc:
            raise ValueError(f"item {index}: {exc}") from None
    return vector


def _complex_vector_to_wire(value: Sequence[complex]) -> list[list[float]]:
    return [[item.real, item.imag] for item in value]


def _complex_matrix_from_wire(value: object) -> list[list[complex]]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"a complex matrix is a list of rows, got {type(value).__name__}")
    rows = []
    for index, row in enumerate(value):
        try:
            rows.append(_complex_vector_from_wire(row))
        except ValueError as exc:
            raise ValueError(f"row {index}: {exc}") from None
    return rows


def _complex_matrix_to_wire(value: Sequence[Sequence[complex]]) -> list[list[list[float]]]:
    return [[[item.real, item.imag] for item in row] for row in value]


ComplexNumber = Annotated[
    complex,
    PlainValidator(complex_from_wire),
    PlainSerializer(complex_to_wire, return_type=list[float]),
]
"""A complex number: ``[re, im]`` on the wire, ``complex`` in Python.

A real number is also accepted (as ``complex(x)``); a string is not (``"P0"`` is a parameter
name, never a number).
"""

ComplexVector = Annotated[
    list[complex],
    PlainValidator(_complex_vector_from_wire),
    PlainSerializer(_complex_vector_to_wire, return_type=list[list[float]]),
]
"""A list of complex numbers (``[[re, im], ...]`` on the wire), validated in one pass."""

ComplexMatrix = Annotated[
    list[list[complex]],
    PlainValidator(_complex_matrix_from_wire),
    PlainSerializer(_complex_matrix_to_wire, return_type=list[list[list[float]]]),
]
"""A matrix of complex numbers (``[[[re, im], ...], ...]`` on the wire), row by row."""
