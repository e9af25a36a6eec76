"""Reservations of backends (``bookings/v2``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ibmq_async.models._base import UtcDatetime, WireModel
from ibmq_async.models.job import HubInfo

__all__ = ["BackendReservation"]


class BackendReservation(WireModel):
    """A window during which a backend is reserved (docs/protocol.md §2.4, §6.6)."""

    backend_name: str | None = Field(default=None, alias="backendName")
    start_datetime: UtcDatetime = Field(alias="initialDate")
    end_datetime: UtcDatetime = Field(alias="endDate")
    creation_datetime: UtcDatetime | None = Field(default=None, alias="creationDate")
    mode: str | None = None
    reservation_id: str | None = Field(default=None, alias="id")
    hub_info: HubInfo | None = Field(default=None, alias="hubInfo")

    @property
    def duration(self) -> float:
        """Length of the reservation in minutes (not wrapped at 24 hours)."""
        return (self.end_datetime - self.start_datetime).total_seconds() / 60

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the reservation overlaps the window ``[start, end)`` (aware datetimes)."""
        return self.start_datetime < end and start < self.end_datetime

    @property
    def hub(self) -> str | None:
        """The hub holding the reservation."""
        return self.hub_info.hub.name if self.hub_info and self.hub_info.hub else None

    @property
    def group(self) -> str | None:
        """The group holding the reservation."""
        return self.hub_info.group.name if self.hub_info and self.hub_info.group else None

    @property
    def project(self) -> str | None:
        """The project holding the reservation."""
        return self.hub_info.project.name if self.hub_info and self.hub_info.project else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackendReservation):
            return NotImplemented
        if self.backend_name != other.backend_name:
            return False
        if self.reservation_id is not None and self.reservation_id == other.reservation_id:
            return True
        return (self.start_datetime, self.end_datetime) == (
            other.start_datetime,
            other.end_datetime,
        )

    __hash__ = None  # type: ignore[assignment]
