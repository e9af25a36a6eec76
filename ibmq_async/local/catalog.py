"""What the service knows about its backends besides jobs: devices, calibrations, bookings.

The calibration history of a backend is the bundled snapshots of its device plus every
calibration added while the service runs (:meth:`Catalog.recalibrate`, stored in the
database). ``properties`` with a ``where`` on ``last_update_date`` answers the newest
calibration that matches, i.e. the one in force at that time.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ibmq_async.local.config import LocalServiceConfig, parse_project
from ibmq_async.local.devices import (
    Device,
    dumps,
    load_device,
    normalise_dates,
    parse_datetime,
    vary_calibration,
)
from ibmq_async.local.filters import Predicate
from ibmq_async.local.store import Store
from ibmq_async.models._base import format_utc, to_utc

__all__ = ["Catalog", "Reservation"]


@dataclass(frozen=True)
class Reservation:
    """A booking of a backend by a project."""

    id: str
    backend: str
    hub: str
    group: str
    project: str
    start: datetime
    end: datetime
    mode: str
    created: datetime

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """Whether the booking overlaps ``[start, end]`` (open ends allowed)."""
        if start is not None and self.end <= start:
            return False
        return not (end is not None and self.start >= end)

    def document(self) -> dict[str, Any]:
        """The reservation object of the wire (docs/protocol.md §2.4)."""
        return {
            "id": self.id,
            "backendName": self.backend,
            "initialDate": format_utc(self.start),
            "endDate": format_utc(self.end),
            "mode": self.mode,
            "creationDate": format_utc(self.created),
            "hubInfo": {
                "hub": {"name": self.hub},
                "group": {"name": self.group},
                "project": {"name": self.project},
            },
        }


class Catalog:
    """Devices, calibration histories and reservations of the configured backends.

    Args:
        config: The service configuration.
        store: The database (for calibrations added at run time).
    """

    def __init__(self, config: LocalServiceConfig, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.devices: dict[str, Device] = {
            backend.name: load_device(backend, config.properties_history)
            for backend in config.backends
        }
        self._calibrations: dict[str, list[tuple[datetime, Callable[[], bytes]]]] = {
            name: device.history() for name, device in self.devices.items()
        }
        for backend, last_update, document in store.load_properties():
            if backend in self._calibrations:
                self._insert(backend, parse_datetime(last_update), _constant(document))
        now = datetime.now(timezone.utc)
        self._reservations: list[Reservation] = []
        for item in config.reservations:
            hub, group, project = parse_project(item.project)
            self._reservations.append(
                Reservation(
                    id=item.id or _reservation_id(item.backend, item.start, item.project),
                    backend=item.backend,
                    hub=hub,
                    group=group,
                    project=project,
                    start=to_utc(item.start),
                    end=to_utc(item.end),
                    mode=item.mode,
                    created=now,
                )
            )

    def _insert(self, backend: str, date: datetime, getter: Callable[[], bytes]) -> None:
        history = [entry for entry in self._calibrations[backend] if entry[0] != date]
        history.append((date, getter))
        history.sort(key=lambda entry: entry[0], reverse=True)
        self._calibrations[backend] = history

    # --- calibrations -------------------------------------------------------------------

    def properties(self, backend: str, where: Predicate | None = None) -> bytes:
        """The newest calibration of ``backend`` matching ``where``, or ``{}`` if none."""
        device = self.devices[backend]
        with self._lock:
            history = list(self._calibrations[backend])
        for date, getter in history:
            if where is None or where(
                {
                    "last_update_date": format_utc(date),
                    "backend_name": backend,
                    "backend_version": device.backend_version,
                }
            ):
                return getter()
        return b"{}"

    def properties_at(self, backend: str, when: datetime) -> bytes:
        """The calibration of ``backend`` in force at ``when``, or ``{}`` if none."""
        with self._lock:
            history = list(self._calibrations[backend])
        for date, getter in history:
            if date <= when:
                return getter()
        return b"{}"

    def recalibrate(
        self,
        backend: str,
        at: datetime | None = None,
        document: dict[str, Any] | None = None,
    ) -> str:
        """Add a calibration to a device's history and return its ``last_update_date``.

        Args:
            backend: The backend name.
            at: When the calibration happened (now by default).
            document: The properties; by default the newest ones with error rates and
                coherence times varied by a few percent, dated ``at``.

        Raises:
            KeyError: If the backend is unknown.
            ValueError: If the backend is the simulator (it has no properties).
        """
        device = self.devices[backend]
        if device.simulator:
            raise ValueError(f"{backend} is a simulator: it has no properties")
        when = to_utc(at) if at is not None else datetime.now(timezone.utc)
        stamp = format_utc(when)
        if document is None:
            latest = json.loads(self.properties(backend))
            document = _stamp_dates(latest, stamp)
            seed = hashlib.sha256(f"{backend}:{stamp}".encode()).digest()
            vary_calibration(document, random.Random(seed))
        else:
            document = normalise_dates(document)
        document = dict(document)
        document["backend_name"] = backend
        document["last_update_date"] = stamp
        encoded = dumps(document)
        self._store.add_properties(backend, stamp, encoded)
        with self._lock:
            self._insert(backend, when, _constant(encoded))
        return stamp

    # --- reservations -------------------------------------------------------------------

    def reservations(
        self,
        projects: set[tuple[str, str, str]],
        backend: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Reservations held by ``projects``, optionally of one backend and in a window."""
        with self._lock:
            items = list(self._reservations)
        return [
            item.document()
            for item in sorted(items, key=lambda item: item.start)
            if (item.hub, item.group, item.project) in projects
            and (backend is None or item.backend == backend)
            and item.overlaps(start, end)
        ]

    def add_reservation(
        self,
        backend: str,
        start: datetime,
        end: datetime,
        project: str,
        mode: str = "dedicated",
    ) -> dict[str, Any]:
        """Book a backend for a project; returns the reservation document.

        Raises:
            KeyError: If the backend is unknown.
            ValueError: If the window is empty or the project malformed.
        """
        if backend not in self.devices:
            raise KeyError(backend)
        hub, group, name = parse_project(project)
        start, end = to_utc(start), to_utc(end)
        if end <= start:
            raise ValueError("a reservation must end after it starts")
        reservation = Reservation(
            id=secrets.token_hex(12),
            backend=backend,
            hub=hub,
            group=group,
            project=name,
            start=start,
            end=end,
            mode=mode,
            created=datetime.now(timezone.utc),
        )
        with self._lock:
            self._reservations.append(reservation)
        return reservation.document()


def _constant(document: bytes) -> Callable[[], bytes]:
    return lambda: document


def _stamp_dates(value: Any, stamp: str) -> Any:
    if isinstance(value, dict):
        return {
            key: stamp if key == "date" and isinstance(item, str) else _stamp_dates(item, stamp)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_stamp_dates(item, stamp) for item in value]
    return value


def _reservation_id(backend: str, start: datetime, project: str) -> str:
    return hashlib.sha256(f"{backend}|{start.isoformat()}|{project}".encode()).hexdigest()[:24]
