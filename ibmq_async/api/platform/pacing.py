"""Pacing job creation: every ``POST /v1/jobs`` of a client takes a slot of one shared
:class:`Pacer`.

The platform limits how many jobs a user creates per window (IBM documents 5 a minute; the
local service's ``jobs_per_minute`` per ``rate_window_seconds``) and refuses one more with
429, error code 1302, and a ``Retry-After``. A pacer makes a client's creations keep to
that limit, whichever of its callers makes them:

* with a ``rate`` (``count`` creations per ``seconds``, ``job_rate=`` of
  :meth:`~ibmq_async.api.platform.client.PlatformClient.connect`), a creation waits until
  fewer than ``count`` of the client's creations ended within the last ``seconds`` (those
  in flight count too), so the service never has a reason to refuse;
* without one it sends at once, until a 429: then no creation is sent before the
  ``Retry-After`` has passed, and for a while after (``caution``) creations go one at a
  time, so that each window costs at most one more refusal.

A creation counts from when its answer arrived: the service received it earlier, so the
client never counts a window shorter than the service's. Callers get their turns in the
order they asked.
"""

from __future__ import annotations

from collections import deque

import anyio

from ibmq_async.exceptions import IBMQInputValueError

__all__ = ["DEFAULT_BLOCK", "Pacer", "PacerSlot"]

DEFAULT_BLOCK = 1.0
"""Seconds no creation is sent after a 429 that gave no ``Retry-After``."""

DEFAULT_CAUTION = 60.0
"""Seconds after a 429's ``Retry-After`` during which creations go one at a time."""


class PacerSlot:
    """The turn of one creation: held while its request is in flight.

    Release it once the answer is in (:meth:`release`), saying whether the service refused
    it for the rate (a 429) and the ``Retry-After`` it gave.
    """

    __slots__ = ("_pacer", "released")

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.released = False

    def release(
        self, *, refused: bool = False, retry_after: float | None = None, sent: bool = True
    ) -> None:
        """End the turn (again: nothing).

        Args:
            refused: The service answered 429: later creations wait ``retry_after``.
            retry_after: The ``Retry-After`` of the 429, in seconds.
            sent: Whether the request was sent at all (an unused turn takes no place).
        """
        if self.released:
            return
        self.released = True
        self._pacer._release(refused=refused, retry_after=retry_after, sent=sent)


class Pacer:
    """The job-creation turns of one client.

    Args:
        rate: ``(count, seconds)``: at most ``count`` creations per ``seconds``; ``None``
            for no limit until the service refuses one.
        caution: Seconds after a refusal's ``Retry-After`` during which creations go one
            at a time.

    Attributes:
        refusals: How many creations the service refused for the rate (429s).
        waits: How many creations had to wait for their turn.

    Raises:
        IBMQInputValueError: A rate that is not a positive count and a positive number of
            seconds.
    """

    def __init__(
        self, rate: tuple[int, float] | None = None, *, caution: float = DEFAULT_CAUTION
    ) -> None:
        if rate is not None:
            count, seconds = rate
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise IBMQInputValueError(f"job_rate's count must be a positive int, got {count!r}")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise IBMQInputValueError(
                    f"job_rate's seconds must be a positive number, got {seconds!r}"
                )
            rate = (count, float(seconds))
        self._rate = rate
        self._caution = caution
        self._turn = anyio.Lock()
        self._changed = anyio.Event()
        self._ended: deque[float] = deque(maxlen=rate[0] if rate else 1)
        self._in_flight = 0
        self._blocked_until = -float("inf")
        self._cautious_until = -float("inf")
        self.refusals = 0
        self.waits = 0

    def __repr__(self) -> str:
        rate = "unlimited" if self._rate is None else f"{self._rate[0]} per {self._rate[1]:g} s"
        return f"{type(self).__name__}({rate}, refusals={self.refusals})"

    @property
    def rate(self) -> tuple[int, float] | None:
        """The configured rate, ``(count, seconds)``, if any."""
        return self._rate

    @property
    def in_flight(self) -> int:
        """How many creations hold a turn right now."""
        return self._in_flight

    def blocked_for(self) -> float:
        """Seconds until a refusal's ``Retry-After`` has passed (0 if none is pending)."""
        return max(self._blocked_until - anyio.current_time(), 0.0)

    async def acquire(self) -> PacerSlot:
        """Wait for this creation's turn; the caller must :meth:`PacerSlot.release` it.

        Waits as long as the pace says (cancel it, or bound it with a timeout, to give
        up); nothing is sent while waiting.
        """
        waited = self._turn.locked()  # behind another caller that waits for its turn
        async with self._turn:
            while True:
                changed = self._changed
                wait = self._wait(anyio.current_time())
                if wait == 0.0:
                    break
                waited = True
                with anyio.move_on_after(wait if wait is not None else float("inf")):
                    await changed.wait()
            if waited:
                self.waits += 1
            self._in_flight += 1
        return PacerSlot(self)

    def _wait(self, now: float) -> float | None:
        """0 to go now, else seconds to wait (``None``: until a creation in flight ends)."""
        if now < self._blocked_until:
            return self._blocked_until - now
        wait: float | None = 0.0
        if self._rate is not None:
            count, seconds = self._rate
            recent = [ended for ended in self._ended if ended > now - seconds]
            excess = len(recent) + self._in_flight - count + 1
            if excess > 0:
                # The oldest recent creations leave the window first; one in flight stays
                # in it once it ends, so with too many in flight, wait for them first.
                wait = recent[excess - 1] + seconds - now if excess <= len(recent) else None
        if wait == 0.0 and now < self._cautious_until and self._in_flight > 0:
            wait = None
        return wait

    def _release(self, *, refused: bool, retry_after: float | None, sent: bool) -> None:
        now = anyio.current_time()
        self._in_flight -= 1
        if refused:
            self.refusals += 1
            block = DEFAULT_BLOCK if retry_after is None else max(retry_after, 0.0)
            self._blocked_until = max(self._blocked_until, now + block)
            self._cautious_until = max(self._cautious_until, self._blocked_until + self._caution)
        elif sent:
            self._ended.append(now)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
