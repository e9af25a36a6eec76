"""Waiting for jobs: the status websocket of docs/protocol.md §4, with a polling fallback.

One :class:`JobStatusWatcher` serves an account client. For each job being waited on it
keeps one shared *watch*: the statuses seen so far and who is fetching them. Exactly one
waiter at a time drives the watch (holds the websocket, or polls); every other waiter on
the same job follows the statuses it publishes, so N waiters cost one stream or one poller.
The driver runs in its own task, never in a background one: if it is cancelled or times
out, another waiter takes over.

The websocket is ``{ws_url}/jobs/{id}/status/v/1``, opened by the session (aiohttp on
asyncio, httpx-ws elsewhere; :mod:`ibmq_async.api.transports`): the first frame sends the
access token, the server answers ``{"type": "authenticated"}`` and then pushes
``{"type": "job-status", "data": {...}}`` frames. Close code 4002 means the job is done,
4003 that it does not exist. A failure before authentication, a refused token, a 4003 or
too many drops switch the watch to polling ``GET .../status/v/1``, with a backoff that
starts fast and slows down to a cap (:class:`PollingPolicy`).
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError

from ibmq_async.api.session import HttpSession, describe_validation_error
from ibmq_async.api.status_batch import FetchMany, StatusBatcher, aligned_wait
from ibmq_async.api.transports import SocketClosed, StatusSocket
from ibmq_async.exceptions import (
    ApiJobWaitTimeoutError,
    WebsocketAuthenticationError,
    WebsocketError,
    WebsocketProtocolError,
)
from ibmq_async.models import ApiJobStatus, JobStatusResponse

__all__ = [
    "DEFAULT_POLLING_POLICY",
    "JobStatusWatcher",
    "PollingPolicy",
    "StatusCallback",
    "websocket_url",
]

logger = logging.getLogger("ibmq_async")

StatusCallback = Callable[[JobStatusResponse], Awaitable[None] | None]

CLOSE_JOB_DONE = 4002
CLOSE_JOB_NOT_FOUND = 4003
_NORMAL_CLOSES = frozenset({1000, CLOSE_JOB_DONE})


@dataclass(frozen=True)
class PollingPolicy:
    """How status polling and websocket reconnection back off.

    Attributes:
        initial: The first wait between two status polls, in seconds.
        maximum: The cap of the wait between polls.
        factor: How much each wait grows over the previous one.
        websocket_reconnects: How many times a websocket that dropped after it was
            authenticated is reopened before the watch switches to polling.
        websocket_auth_timeout: Seconds to wait for the ``authenticated`` frame.
        websocket_ping_interval: Seconds between keepalive pings (``None``: no pings).
        websocket_check_interval: While the websocket is silent for this long, poll the
            status once, so that a stream that stops pushing cannot stall a wait
            (``None``: never).
        sleep: How to wait (``anyio.sleep`` if ``None``).
    """

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    websocket_reconnects: int = 5
    websocket_auth_timeout: float = 10.0
    websocket_ping_interval: float | None = 20.0
    websocket_check_interval: float | None = 60.0
    sleep: Callable[[float], Awaitable[None]] | None = field(default=None, compare=False)

    def next_wait(self, previous: float | None) -> float:
        """The wait after ``previous`` (``None`` for the first one)."""
        if previous is None:
            return min(self.initial, self.maximum)
        return min(previous * self.factor, self.maximum)

    async def pause(self, seconds: float) -> None:
        """Sleep with the injected sleep, or ``anyio.sleep``."""
        if self.sleep is not None:
            await self.sleep(seconds)
        else:
            await anyio.sleep(seconds)


DEFAULT_POLLING_POLICY = PollingPolicy()


def websocket_url(ws_base: str, job_id: str) -> str:
    """The status websocket URL of a job (§4)."""
    return f"{ws_base.rstrip('/')}/jobs/{job_id}/status/v/1"


_STAGE = {
    ApiJobStatus.CREATING: 0,
    ApiJobStatus.CREATED: 0,
    ApiJobStatus.TRANSPILING: 0,
    ApiJobStatus.TRANSPILED: 0,
    ApiJobStatus.VALIDATING: 1,
    ApiJobStatus.VALIDATED: 1,
    ApiJobStatus.QUEUED: 2,
    ApiJobStatus.PENDING_IN_QUEUE: 2,
    ApiJobStatus.RUNNING: 3,
}
"""How far along a job is; final statuses are past every stage."""


def _stage(status: ApiJobStatus) -> int:
    return 4 if status.is_final else _STAGE.get(status, 0)


class _Watch:
    """The statuses of one job, shared by everyone waiting on it."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.history: list[JobStatusResponse] = []  # entries from position ``offset`` on
        self.offset = 0
        self.cursors: list[list[int]] = []  # each user's next position to deliver
        self.changed = anyio.Event()
        self.driving = False
        self.users = 0
        self.websocket_failed = False

    @property
    def final(self) -> JobStatusResponse | None:
        if self.history and self.history[-1].status.is_final:
            return self.history[-1]
        return None

    def publish(self, status: JobStatusResponse) -> bool:
        """Record ``status`` if it is news; wake the followers.

        A status equal to the last one, or one that goes back to an earlier stage (a
        stale poll, a websocket replaying old frames after a reconnect), is not news.
        """
        if self.history:
            last = self.history[-1]
            if last.status.is_final or _stage(status.status) < _stage(last.status):
                return False
            if last.model_dump() == status.model_dump():
                return False
        self.history.append(status)
        self.notify()
        return True

    @property
    def end(self) -> int:
        """The position after the last status."""
        return self.offset + len(self.history)

    def add_cursor(self) -> list[int]:
        """A new user's position: it sees the statuses from the oldest one kept."""
        cursor = [self.offset]
        self.cursors.append(cursor)
        return cursor

    def remove_cursor(self, cursor: list[int]) -> None:
        self.cursors.remove(cursor)
        self.trim()

    def next_for(self, cursor: list[int]) -> JobStatusResponse | None:
        """The next status for the user at ``cursor`` (moving it on), or ``None``."""
        if cursor[0] >= self.end:
            return None
        status = self.history[cursor[0] - self.offset]
        cursor[0] += 1
        self.trim()
        return status

    def trim(self) -> None:
        """Forget statuses every user has seen, but the last (a long queued wait whose
        queue info keeps changing would otherwise keep every one)."""
        keep_from = min((cursor[0] for cursor in self.cursors), default=self.end)
        drop = min(keep_from, self.end - 1) - self.offset
        if drop > 0:
            del self.history[:drop]
            self.offset += drop

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


class _WebsocketOutcome:
    """How one websocket session ended (decided inside the session, acted on outside)."""

    def __init__(self) -> None:
        self.done = False
        self.authenticated = False
        self.close_code: int | None = None
        self.error: BaseException | None = None
        self.callback_error: BaseException | None = None


class JobStatusWatcher:
    """Status waits for the jobs of one account client.

    Args:
        session: The HTTP session (its client carries the websocket too).
        ws_url: The websocket base URL (``urls.ws`` of ``/users/me``), or ``None`` to poll.
        fetch_status: One status poll (``GET .../Jobs/{id}/status/v/1``, with retries).
        policy: Polling and reconnection backoff.
        fetch_statuses: The statuses of several jobs in one request (with retries); the
            waits that find every websocket slot taken then poll in batches, their pauses
            aligned so that they fall due together. ``None``: every wait polls alone.
    """

    def __init__(
        self,
        session: HttpSession,
        ws_url: str | None,
        fetch_status: Callable[[str], Awaitable[JobStatusResponse]],
        policy: PollingPolicy = DEFAULT_POLLING_POLICY,
        fetch_statuses: FetchMany | None = None,
    ) -> None:
        self._session = session
        self.ws_url = ws_url
        self._fetch_status = fetch_status
        self.policy = policy
        self._watches: dict[str, _Watch] = {}
        self.batcher = None if fetch_statuses is None else StatusBatcher(fetch_statuses)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ws_url={self.ws_url!r}, watching={len(self._watches)})"

    @property
    def active_watches(self) -> int:
        """How many jobs are being waited on right now."""
        return len(self._watches)

    # --- public waits -------------------------------------------------------------------

    async def wait_for_final(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> JobStatusResponse:
        """Wait until the job reaches a final status and return that status.

        Args:
            job_id: The job.
            timeout: Seconds to wait at most (``None``: no limit).
            on_status: Called (and awaited if it returns an awaitable) with each new status.

        Raises:
            ApiJobWaitTimeoutError: ``timeout`` expired first (an :class:`ApiTimeoutError`).
            ApiError: Polling failed (e.g. :class:`ApiNotFoundError`), or the server sent
                a status that is not in the protocol (:class:`ApiProtocolError`).
        """
        watch = self._acquire(job_id)
        cursor = watch.add_cursor()

        async def deliver() -> None:
            while (status := watch.next_for(cursor)) is not None:
                if on_status is not None:
                    result = on_status(status)
                    if inspect.isawaitable(result):
                        await result

        try:
            with anyio.move_on_after(timeout if timeout is not None else float("inf")):
                await self._follow(watch, lambda: watch.final is not None, deliver)
                await deliver()
                final = watch.final
                assert final is not None
                return final
            last = watch.history[-1] if watch.history else None
            error = ApiJobWaitTimeoutError(
                f"Timed out after {timeout:g} s waiting for job {job_id} to reach a final status"
                + (f" (last status {last.status.value})" if last else "")
            )
            error.job_id = job_id
            error.last_status = last
            raise error
        finally:
            watch.remove_cursor(cursor)
            self._release(watch)

    async def watch(self, job_id: str) -> AsyncIterator[JobStatusResponse]:
        """Yield each new status of the job, ending after the final one."""
        watch = self._acquire(job_id)
        cursor = watch.add_cursor()
        try:
            while True:
                status = watch.next_for(cursor)
                if status is not None:
                    yield status
                    if status.status.is_final:
                        return
                    continue

                def has_new(seen: int = cursor[0]) -> bool:
                    return watch.end > seen

                await self._follow(watch, has_new, _nothing)
        finally:
            watch.remove_cursor(cursor)
            self._release(watch)

    # --- sharing ------------------------------------------------------------------------

    def _acquire(self, job_id: str) -> _Watch:
        self._session.check_usable()
        watch = self._watches.get(job_id)
        if watch is None:
            watch = self._watches[job_id] = _Watch(job_id)
        watch.users += 1
        return watch

    def _release(self, watch: _Watch) -> None:
        watch.users -= 1
        if watch.users <= 0 and self._watches.get(watch.job_id) is watch:
            del self._watches[watch.job_id]

    async def _follow(
        self,
        watch: _Watch,
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        """Return once ``until()`` holds: drive the watch, or follow whoever drives it."""
        while True:
            changed = watch.changed
            await on_change()
            if until():
                return
            if watch.driving:
                await changed.wait()
                continue
            watch.driving = True
            try:
                await self._drive(watch, until, on_change)
            finally:
                watch.driving = False
                watch.notify()

    async def _drive(
        self,
        watch: _Watch,
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        if (
            self.ws_url
            and not watch.websocket_failed
            and self._session.auth is not None
            and self._session.websockets_enabled
        ):
            slots = self._session.websocket_slots
            try:
                slots.acquire_on_behalf_of_nowait(watch)
            except anyio.WouldBlock:
                logger.debug("Job %s: every websocket slot is taken; polling", watch.job_id)
                await self._poll(watch, until, on_change, batched=self.batcher is not None)
                return
            else:
                try:
                    if await self._stream(watch, until, on_change):
                        return
                except WebsocketError as exc:
                    watch.websocket_failed = True
                    logger.info(
                        "Job %s: status websocket unavailable (%s); polling instead",
                        watch.job_id,
                        exc,
                    )
                finally:
                    slots.release_on_behalf_of(watch)
        await self._poll(watch, until, on_change)

    async def _poll(
        self,
        watch: _Watch,
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
        *,
        batched: bool = False,
    ) -> None:
        wait: float | None = None
        while True:
            status = None
            if batched and self.batcher is not None:
                status = await self.batcher.status(watch.job_id)
            if status is None:
                status = await self._fetch_status(watch.job_id)
            if watch.publish(status):
                await on_change()
            if until():
                return
            wait = self.policy.next_wait(wait)
            pause = aligned_wait(wait, anyio.current_time()) if batched else wait
            logger.debug("Job %s is %s; next poll in %.2f s", watch.job_id, status.status, pause)
            await self.policy.pause(pause)

    # --- the websocket ------------------------------------------------------------------

    async def _stream(
        self,
        watch: _Watch,
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> bool:
        """Follow the job on the websocket. True when ``until()`` holds, False to poll.

        Raises:
            WebsocketError: The websocket cannot be used for this job (switch to polling).
        """
        assert self.ws_url is not None
        url = websocket_url(self.ws_url, watch.job_id)
        reconnects = 0
        wait: float | None = None
        while True:
            outcome = await self._session_once(url, watch, until, on_change)
            if outcome.callback_error is not None:
                raise outcome.callback_error
            if outcome.done:
                return True
            if outcome.close_code == CLOSE_JOB_NOT_FOUND:
                raise WebsocketError(
                    f"The websocket reports that job {watch.job_id} does not exist"
                )
            if outcome.close_code in _NORMAL_CLOSES and outcome.error is None:
                return until()  # closed without what we wait for: poll to find out
            if not outcome.authenticated:
                if isinstance(outcome.error, WebsocketError):
                    raise outcome.error
                raise WebsocketError(
                    f"The status websocket of job {watch.job_id} failed before authentication: "
                    f"{_describe(outcome)}"
                ) from outcome.error
            reconnects += 1
            if reconnects > self.policy.websocket_reconnects:
                raise WebsocketError(
                    f"The status websocket of job {watch.job_id} dropped "
                    f"{reconnects} times: {_describe(outcome)}"
                ) from outcome.error
            wait = min(0.5 * 2 ** (reconnects - 1), 8.0)
            logger.info(
                "Job %s: status websocket dropped (%s); reconnect %d of %d in %.1f s",
                watch.job_id,
                _describe(outcome),
                reconnects,
                self.policy.websocket_reconnects,
                wait,
            )
            await self.policy.pause(wait)

    async def _session_once(
        self,
        url: str,
        watch: _Watch,
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> _WebsocketOutcome:
        outcome = _WebsocketOutcome()
        assert self._session.auth is not None
        token = self._session.auth.access_token
        try:
            async with self._session.websocket(
                url, ping_interval=self.policy.websocket_ping_interval
            ) as ws:
                # Exceptions leaving this block may come out of httpx-ws's task group
                # wrapped in an exception group, so the conversation records how it ended.
                try:
                    await ws.send_text(json.dumps({"type": "authentication", "data": token}))
                    first = await self._receive(ws, timeout=self.policy.websocket_auth_timeout)
                    if not (isinstance(first, dict) and first.get("type") == "authenticated"):
                        outcome.error = WebsocketAuthenticationError(
                            "The status websocket did not accept the access token"
                        )
                        return outcome
                    outcome.authenticated = True
                    logger.debug("Job %s: following the status websocket", watch.job_id)
                    while True:
                        try:
                            message = await self._receive(
                                ws, timeout=self.policy.websocket_check_interval
                            )
                            status = self._status_from_message(message)
                        except TimeoutError:
                            status = await self._fetch_status(watch.job_id)
                        if watch.publish(status):
                            try:
                                await on_change()
                            except Exception as exc:
                                outcome.callback_error = exc
                                return outcome
                        if until():
                            outcome.done = True
                            return outcome
                except SocketClosed as exc:
                    outcome.close_code = exc.code
                except Exception as exc:
                    outcome.error = exc
        except Exception as exc:
            if outcome.error is None and not outcome.done and outcome.callback_error is None:
                outcome.error = exc
        return outcome

    @staticmethod
    async def _receive(ws: StatusSocket, *, timeout: float | None) -> Any:
        text = await ws.receive_text(timeout)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise WebsocketProtocolError(
                "The status websocket sent a frame that is not JSON"
            ) from exc

    @staticmethod
    def _status_from_message(message: Any) -> JobStatusResponse:
        data = message.get("data") if isinstance(message, dict) else None
        try:
            return JobStatusResponse.model_validate(data)
        except ValidationError as exc:
            raise WebsocketProtocolError(
                "The status websocket sent a frame that is not a job status: "
                + describe_validation_error(exc)
            ) from exc


async def _nothing() -> None:
    return None


def _describe(outcome: _WebsocketOutcome) -> str:
    if outcome.error is not None:
        error = outcome.error
        if not str(error):
            return type(error).__name__
        return f"{type(error).__name__}: {error}"
    if outcome.close_code is not None:
        return f"closed with code {outcome.close_code}"
    return "closed"
