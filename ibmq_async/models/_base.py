"""Shared building blocks of the wire models.

All wire models derive from :class:`WireModel`: camelCase wire names stay on the wire
through aliases, Python code uses snake_case names, and fields the server adds that the
model does not know are kept (``extra="allow"``) rather than rejected, so a newer server
never breaks an older client and a model dumped by alias gives back what was received.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)

__all__ = ["ComplexNumber", "UtcDatetime", "WireModel", "format_utc", "to_utc"]


class WireModel(BaseModel):
    """Base of every wire model: aliases on the wire, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        arbitrary_types_allowed=False,
        ser_json_inf_nan="constants",
    )

    def to_wire(self, **kwargs: Any) -> dict[str, Any]:
        """Dump the model as the JSON-compatible dict that goes on the wire (by alias)."""
        kwargs.setdefault("exclude_unset", True)
        return self.model_dump(mode="json", by_alias=True, **kwargs)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as a timezone-aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_utc(value: datetime) -> str:
    """Format a datetime as the ISO 8601 UTC string the protocol uses (``...Z``)."""
    text = to_utc(value).isoformat()
    return text.replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""A datetime that is always timezone-aware UTC in Python and ``...Z`` ISO 8601 on the wire."""


def _complex_from_wire(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"a complex number is [re, im], got a list of {len(value)} items")
        real, imag = value
        if isinstance(real, bool) or isinstance(imag, bool):
            raise TypeError("a complex number is [re, im] of numbers, got a boolean")
        return complex(float(real), float(imag))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return complex(value)
    return value


def _complex_to_wire(value: complex) -> list[float]:
    return [value.real, value.imag]


ComplexNumber = Annotated[
    complex,
    BeforeValidator(_complex_from_wire),
    PlainSerializer(_complex_to_wire, return_type=list[float]),
]
"""A complex number: ``[re, im]`` on the wire, ``complex`` in Python."""
