"""The platform's limits: the per-user job creation rate and the per-instance usage.

* :class:`RateLimiter`: a user may create ``jobs_per_minute`` jobs per window
  (``rate_window_seconds``, a minute by default; IBM documents 5 jobs per minute). One
  more is refused with 429 and ``Retry-After``, the seconds until the oldest creation of
  the window leaves it. A creation reserves its place first and gives it back if the job
  is refused for another reason, so two requests at once never both take the last place.
* :class:`UsageLedger`: every finished job charges its instance the quantum seconds it
  used; an instance whose charges within the usage period reach its allocation is at its
  limit, and job creation then answers 409.

Neither class locks: the platform calls them under the engine's lock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "Reservation", "UsageLedger"]


@dataclass
class Reservation:
    """A place taken in a user's rate window; :meth:`RateLimiter.release` gives it back."""

    user_id: str
    at: float


class RateLimiter:
    """Job creations per user per window.

    Args:
        window: The window in seconds.
        clock: A monotonic clock.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self.rejections = 0

    def reserve(self, user_id: str, limit: int) -> Reservation | float:
        """Take a place in the user's window, or the seconds until one is free.

        Args:
            user_id: The user.
            limit: Creations allowed per window; ``0`` for no limit.
        """
        now = self._clock()
        if limit <= 0:
            return Reservation(user_id, now)
        events = self._events.setdefault(user_id, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= limit:
            self.rejections += 1
            return max(events[0] + self.window - now, 0.0)
        events.append(now)
        return Reservation(user_id, now)

    def release(self, reservation: Reservation) -> None:
        """Give back a place whose job was not created."""
        events = self._events.get(reservation.user_id)
        if events is not None and reservation.at in events:
            events.remove(reservation.at)

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The ``Retry-After`` header for a wait (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds)))


class UsageLedger:
    """Quantum seconds charged per instance, over a rolling period.

    Args:
        period: The period in seconds.
        clock: The wall clock.
    """

    def __init__(self, period: float, clock: Callable[[], float] = time.time) -> None:
        self.period = period
        self._clock = clock
        self._charges: dict[str, list[tuple[float, float]]] = {}
        self._jobs: set[str] = set()

    def add(self, job_id: str, instance: str, seconds: float, at: float | None = None) -> bool:
        """Charge a job's seconds to its instance (once per job); whether it was new."""
        if job_id in self._jobs:
            return False
        self._jobs.add(job_id)
        self._charges.setdefault(instance, []).append(
            (self._clock() if at is None else at, seconds)
        )
        return True

    def consumed(self, instance: str) -> float:
        """The seconds charged to the instance within the period."""
        since = self._clock() - self.period
        return sum(seconds for at, seconds in self._charges.get(instance, ()) if at > since)

    def reached(self, instance: str, allocation: float | None) -> bool:
        """Whether the instance has used its allocation (never without one)."""
        return allocation is not None and self.consumed(instance) >= allocation
