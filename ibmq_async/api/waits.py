"""Waiting for jobs: shared watches, a push stream where the API has one, polling otherwise.

One :class:`JobWaits` serves a project (or any API client). For each job being waited on
it keeps one shared *watch*: the statuses seen so far. However many callers wait on a job,
its statuses are fetched once:

* **A stream** (the classic API's status websocket, :mod:`ibmq_async.api.classic.websocket`)
  is held by one waiter of the job, the others follow what it publishes. A connection has
  a bounded number of stream slots; a stream that cannot be used switches its job to
  polling.
* **The poller** serves every other job: one loop that knows when each job is due (a
  backoff per job, ``PollingPolicy.initial`` doubling to ``PollingPolicy.maximum``), asks
  for every job due together in one listing request when the API can (up to
  ``batch_size`` jobs, their pauses aligned so that they fall due together) or one by one
  otherwise, and publishes what changed. Waiters whose job did not change are not woken.

There is no background task: the loop runs in the task of one waiter (the *leader*), and
when that waiter leaves (its job ended, it timed out or was cancelled) it wakes the waiters
of the next job due, one of whom leads next. So no task outlives the wait that started it,
on asyncio and trio alike.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import anyio
import anyio.lowlevel

from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiJobWaitTimeoutError, WebsocketError

__all__ = [
    "DEFAULT_POLLING_POLICY",
    "FetchMany",
    "FetchOne",
    "JobWaits",
    "PollingPolicy",
    "StatusCallback",
    "StatusKind",
    "StatusStream",
    "aligned_wait",
]

logger = logging.getLogger("ibmq_async")

S = TypeVar("S")
"""The API's job status document."""
S_co = TypeVar("S_co", covariant=True)

StatusCallback = Callable[[S], Awaitable[None] | None]
FetchOne = Callable[[str], Awaitable[S]]
"""One job's status (a call with its own retries)."""
FetchMany = Callable[[Sequence[str]], Awaitable[Mapping[str, S]]]
"""Several jobs' statuses in one request (a call with its own retries); jobs missing from
the answer are asked for one by one."""


@dataclass(frozen=True)
class PollingPolicy:
    """How status polling and stream reconnection back off.

    Attributes:
        initial: The first wait between two status polls of a job, in seconds.
        maximum: The cap of the wait between polls.
        factor: How much each wait grows over the previous one.
        max_polls_per_second: The most job statuses the poller asks for per second, all
            jobs together: with many jobs polled, no job's wait is shorter than
            ``jobs / max_polls_per_second`` (10,000 waiting jobs are each polled every
            10 s; 100 jobs still from 0.1 s). ``None``: no such bound.
        stream_while_waiting: A job is followed on its stream (the status websocket)
            only while at most this many jobs are waited on at once; beyond, waits join
            the batched polls, which cost less per job than a websocket each (and push
            latency matters less when many jobs are waited on together).
        websocket_reconnects: How many times a websocket that dropped after it was
            authenticated is reopened before the watch switches to polling.
        websocket_auth_timeout: Seconds to wait for the ``authenticated`` frame.
        websocket_ping_interval: Seconds between keepalive pings (``None``: no pings).
        websocket_check_interval: While the websocket is silent for this long, poll the
            status once, so that a stream that stops pushing cannot stall a wait
            (``None``: never).
        sleep: How to wait (``anyio.sleep`` if ``None``). With an injected sleep the
            poller's clock advances only by the waits asked for (tests).
    """

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    max_polls_per_second: float | None = 1000.0
    stream_while_waiting: int = 8
    websocket_reconnects: int = 5
    websocket_auth_timeout: float = 10.0
    websocket_ping_interval: float | None = 20.0
    websocket_check_interval: float | None = 60.0
    sleep: Callable[[float], Awaitable[None]] | None = field(default=None, compare=False)

    def next_wait(self, previous: float | None, *, polled: int = 1) -> float:
        """The wait after ``previous`` (``None`` for the first one), with ``polled`` jobs
        polled at once: the backoff, but never less than ``polled /
        max_polls_per_second``."""
        backoff = self.initial if previous is None else previous * self.factor
        share = polled / self.max_polls_per_second if self.max_polls_per_second else 0.0
        return max(min(backoff, max(self.maximum, share)), share)

    async def pause(self, seconds: float) -> None:
        """Sleep with the injected sleep, or ``anyio.sleep``."""
        if self.sleep is not None:
            await self.sleep(seconds)
        else:
            await anyio.sleep(seconds)


DEFAULT_POLLING_POLICY = PollingPolicy()


@dataclass(frozen=True)
class StatusKind(Generic[S]):
    """What the waits need to know of an API's status documents.

    Attributes:
        is_final: Whether the job can no longer change.
        stage: How far along the job is; a status of an earlier stage than the last one
            seen is stale (an old poll, a replayed frame) and ignored.
        news: Whether a status tells anything the last one did not (by default: they
            differ). A queued job's estimated start time, which a service recomputes at
            every poll, need not be news.
        describe: The status in a word or two, for messages (by default its
            ``status.value``, as the classic API's documents have it).
    """

    is_final: Callable[[S], bool]
    stage: Callable[[S], int]
    news: Callable[[S, S], bool] | None = None
    describe: Callable[[S], str | None] | None = None

    def described(self, status: S | None) -> str | None:
        """:attr:`describe` of ``status``, or ``None`` when there is none."""
        if status is None:
            return None
        if self.describe is not None:
            return self.describe(status)
        value = getattr(getattr(status, "status", None), "value", None)
        return value if isinstance(value, str) else None


class StatusStream(Protocol[S_co]):
    """Statuses pushed by the API (the classic status websocket)."""

    async def follow(self, job_id: str, publish: Callable[[S_co], Awaitable[bool]]) -> bool:
        """Follow the job, handing each status to ``publish`` (which says whether the
        wait is over).

        Returns:
            ``True`` once ``publish`` said so; ``False`` if the stream ended first (the
            waits then poll to find out).

        Raises:
            WebsocketError: The stream cannot be used for this job (it is polled from now
                on).
        """
        ...


def aligned_wait(wait: float, now: float) -> float:
    """``wait``, stretched so that it ends on a multiple of ``min(wait, 1)`` seconds.

    Polls that back off alike then fall due at the same instants and share requests.
    """
    grid = min(wait, 1.0)
    if grid <= 0:
        return wait
    return math.ceil((now + wait) / grid) * grid - now


class _Signal:
    """A one-shot event for the waits: :class:`anyio.Event` semantics, a fraction of its
    memory on asyncio.

    Thousands of waits each hold one: an ``anyio.Event`` on asyncio is an
    ``asyncio.Event`` and its deque of waiters (about 0.8 KB even when nobody waits),
    this is one small object and, while someone waits, one future per waiter. Other event
    loops get an ``anyio.Event`` per waiter.
    """

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None] | anyio.Event] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if isinstance(waiter, anyio.Event):
                waiter.set()
            elif not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return once set (a checkpoint either way, as ``anyio.Event.wait``)."""
        if self._is_set:
            await anyio.lowlevel.checkpoint()
            return
        waiter: asyncio.Future[None] | anyio.Event
        try:
            waiter = asyncio.get_running_loop().create_future()
        except RuntimeError:  # not asyncio (trio)
            waiter = anyio.Event()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            if isinstance(waiter, anyio.Event):
                await waiter.wait()
            else:
                await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class _Watch(Generic[S]):
    """The statuses of one job, shared by everyone waiting on it."""

    __slots__ = (
        "_changed",
        "attention",
        "cursors",
        "due",
        "error",
        "history",
        "job_id",
        "kind",
        "offset",
        "polled",
        "stream_failed",
        "streaming",
        "ticket",
        "users",
        "wait",
        "waiting",
    )

    def __init__(self, job_id: str, kind: StatusKind[S]) -> None:
        self.job_id = job_id
        self.kind = kind
        self.history: list[S] = []  # entries from position ``offset`` on
        self.offset = 0
        self.cursors: list[list[int]] = []  # each user's next position to deliver
        self._changed: _Signal | None = None  # set by news; made when someone waits
        self.attention = _Signal()  # set when the job ends, or when a driver is wanted
        self.users = 0
        self.waiting = 0  # users blocked in a wait for news right now
        self.streaming = False  # a waiter holds the job's stream
        self.stream_failed = False
        self.polled = False  # the poller serves the job
        self.wait: float | None = None  # the last pause between two polls
        self.due = 0.0
        self.ticket = 0  # of its latest place in the poller's queue
        self.error: BaseException | None = None

    @property
    def changed(self) -> _Signal:
        """Set by the next news (made on demand: most waits want only the end)."""
        if self._changed is None:
            self._changed = _Signal()
        return self._changed

    def is_over(self) -> bool:
        """Whether the job has reached a final status."""
        return bool(self.history) and self.kind.is_final(self.history[-1])

    @property
    def final(self) -> S | None:
        if self.history and self.kind.is_final(self.history[-1]):
            return self.history[-1]
        return None

    def publish(self, status: S) -> bool:
        """Record ``status`` if it is news; wake the followers.

        A status equal to the last one, or one that goes back to an earlier stage (a
        stale poll, a websocket replaying old frames after a reconnect), is not news.
        """
        if self.history:
            last = self.history[-1]
            if self.kind.is_final(last) or self.kind.stage(status) < self.kind.stage(last):
                return False
            news = self.kind.news
            if not (news(last, status) if news is not None else last != status):
                return False
        self.history.append(status)
        self.notify()
        return True

    def fail(self, error: BaseException) -> None:
        """End every wait on the job with ``error``."""
        self.error = error
        self.notify()

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

    def next_for(self, cursor: list[int]) -> S | None:
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
        """Wake the waiters that follow every status (and all of them once it is over)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        if self.error is not None or self.final is not None:
            self.attention.set()

    def summon(self) -> None:
        """Wake every waiter: the job needs someone to stream or poll it."""
        self.notify()
        self.attention.set()
        if self.error is None and self.final is None:
            self.attention = _Signal()


class _Clock:
    """The poller's time: the event loop's, or (with an injected sleep) the waits asked."""

    def __init__(self, policy: PollingPolicy) -> None:
        self._policy = policy
        self._virtual = 0.0

    def now(self) -> float:
        return self._virtual if self._policy.sleep is not None else anyio.current_time()

    async def sleep(self, seconds: float, wake: anyio.Event) -> None:
        """Sleep ``seconds``, or until ``wake`` is set (a real sleep only)."""
        if self._policy.sleep is not None:
            self._virtual += seconds
            await self._policy.sleep(seconds)
            return
        with anyio.move_on_after(seconds):
            await wake.wait()


class _Poller(Generic[S]):
    """When each polled job is due, and the loop its leader runs."""

    def __init__(
        self,
        fetch_one: FetchOne[S],
        fetch_many: FetchMany[S] | None,
        policy: PollingPolicy,
        batch_size: int,
    ) -> None:
        self._fetch_one = fetch_one
        self._fetch_many = fetch_many
        self.policy = policy
        self._batch_size = batch_size
        self._clock = _Clock(policy)
        self._queue: list[tuple[float, int, _Watch[S]]] = []
        self._tickets = itertools.count(1)
        self._wake = anyio.Event()
        self.leading = False
        self.requests = 0
        self.polled = 0

    def register(self, watch: _Watch[S]) -> None:
        """Poll the job now, then on its backoff."""
        if not watch.polled:
            self.polled += 1
        watch.polled = True
        watch.error = None
        self._schedule(watch, self._clock.now())
        self._wake.set()

    def drop(self, watch: _Watch[S]) -> None:
        """Stop polling the job."""
        if watch.polled:
            self.polled -= 1
        watch.polled = False

    def _schedule(self, watch: _Watch[S], due: float) -> None:
        watch.due = due
        watch.ticket = next(self._tickets)
        heapq.heappush(self._queue, (due, watch.ticket, watch))

    def _next(self) -> _Watch[S] | None:
        """The polled job due first (dropping the queue's stale places)."""
        while self._queue:
            _, ticket, watch = self._queue[0]
            if watch.polled and watch.ticket == ticket:
                return watch
            heapq.heappop(self._queue)
        return None

    def _due(self, now: float) -> list[_Watch[S]]:
        batch: list[_Watch[S]] = []
        limit = self._batch_size if self._fetch_many is not None else 1
        while len(batch) < limit and (watch := self._next()) is not None and watch.due <= now:
            heapq.heappop(self._queue)
            batch.append(watch)
        return batch

    async def lead(
        self,
        own: _Watch[S],
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        """Poll every due job until ``until()`` holds (or ``own`` fails); then hand over."""
        self.leading = True
        try:
            while True:
                await on_change()
                if until() or own.error is not None or not own.polled:
                    return
                # Let the waits that are starting alongside register first: they share
                # this round's requests.
                await anyio.lowlevel.checkpoint()
                now = self._clock.now()
                batch = self._due(now)
                if batch:
                    await self._poll(batch)
                    continue
                upcoming = self._next()
                if upcoming is None:  # cannot happen while ``own`` is polled; be safe
                    self.register(own)
                    continue
                self._wake = anyio.Event()
                await self._clock.sleep(max(upcoming.due - now, 0.0), self._wake)
        finally:
            self.leading = False
            self._hand_over()

    def _hand_over(self) -> None:
        """Wake the waiters of the job due first that has some waiting: one of them leads
        next. (A job whose only user is busy elsewhere, e.g. the body of an ``async for``
        over its statuses, cannot lead; its user leads when it waits again.)"""
        first = self._next()
        if first is None:
            return
        if first.waiting > 0:
            first.summon()
            return
        ready = [
            (due, watch)
            for due, ticket, watch in self._queue
            if watch.polled and watch.ticket == ticket and watch.waiting > 0
        ]
        if ready:
            min(ready, key=lambda entry: entry[0])[1].summon()

    async def _poll(self, batch: list[_Watch[S]]) -> None:
        answers: Mapping[str, S] = {}
        if self._fetch_many is not None and len(batch) > 1:
            self.requests += 1
            try:
                answers = await self._fetch_many([watch.job_id for watch in batch])
            except Exception as error:
                for watch in batch:
                    self.drop(watch)
                    watch.fail(error)
                return
            except BaseException:
                self._requeue(batch)
                raise
        for index, watch in enumerate(batch):
            status = answers.get(watch.job_id)
            if status is None:
                self.requests += 1
                try:
                    status = await self._fetch_one(watch.job_id)
                except Exception as error:
                    self.drop(watch)
                    watch.fail(error)
                    continue
                except BaseException:
                    self._requeue(batch[index:])
                    raise
            watch.publish(status)
            if watch.final is not None:
                self.drop(watch)
            elif watch.polled:
                now = self._clock.now()
                watch.wait = self.policy.next_wait(watch.wait, polled=self.polled)
                pause = aligned_wait(watch.wait, now) if self._fetch_many else watch.wait
                logger.debug("Job %s: next poll in %.2f s", watch.job_id, pause)
                self._schedule(watch, now + pause)

    def _requeue(self, watches: list[_Watch[S]]) -> None:
        """Put back the polls a cancelled leader had not answered."""
        for watch in watches:
            if watch.polled:
                self._schedule(watch, watch.due)


class JobWaits(Generic[S]):
    """Status waits for the jobs of one API client.

    Args:
        session: The HTTP session (checked on every wait; its stream slots are shared).
        fetch_status: One status poll.
        kind: How to read the API's statuses.
        policy: Polling and reconnection backoff.
        fetch_statuses: The statuses of several jobs in one request; without it every
            poll is one request.
        stream: The API's push stream, if it has one.
        batch_size: The most jobs in one ``fetch_statuses`` request.
    """

    def __init__(
        self,
        session: HttpSession,
        fetch_status: FetchOne[S],
        *,
        kind: StatusKind[S],
        policy: PollingPolicy = DEFAULT_POLLING_POLICY,
        fetch_statuses: FetchMany[S] | None = None,
        stream: StatusStream[S] | None = None,
        batch_size: int = 100,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._session = session
        self._kind = kind
        self._stream = stream
        self._watches: dict[str, _Watch[S]] = {}
        self._poller = _Poller(fetch_status, fetch_statuses, policy, batch_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(watching={len(self._watches)})"

    @property
    def policy(self) -> PollingPolicy:
        """How the waits poll and reconnect."""
        return self._poller.policy

    @property
    def active_watches(self) -> int:
        """How many jobs are being waited on right now."""
        return len(self._watches)

    @property
    def poll_requests(self) -> int:
        """How many status requests the poller has made."""
        return self._poller.requests

    # --- public waits -------------------------------------------------------------------

    async def wait_for_final(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_status: StatusCallback[S] | None = None,
    ) -> S:
        """Wait until the job reaches a final status and return that status.

        Args:
            job_id: The job.
            timeout: Seconds to wait at most (``None``: no limit).
            on_status: Called (and awaited if it returns an awaitable) with each new status.

        Raises:
            ApiJobWaitTimeoutError: ``timeout`` expired first (an :class:`ApiTimeoutError`);
                it carries ``job_id`` and ``last_status``.
            ApiError: A status poll failed for good (e.g. :class:`ApiNotFoundError`), or
                the server sent a status that is not in the protocol
                (:class:`ApiProtocolError`): a wait never hangs on an unknown state.
        """
        watch = self._acquire(job_id)
        cursor: list[int] | None = None
        deliver: Callable[[], Awaitable[None]] = _nothing
        if on_status is not None:
            cursor = watch.add_cursor()
            position = cursor

            async def deliver() -> None:
                while (status := watch.next_for(position)) is not None:
                    outcome = on_status(status)
                    if inspect.isawaitable(outcome):
                        await outcome

        try:
            if timeout is None:
                return await self._until_final(watch, deliver, every=cursor is not None)
            with anyio.move_on_after(timeout):
                return await self._until_final(watch, deliver, every=cursor is not None)
            last = watch.history[-1] if watch.history else None
            described = self._kind.described(last)
            error = ApiJobWaitTimeoutError(
                f"Timed out after {timeout:g} s waiting for job {job_id} to reach a final status"
                + (f" (last status {described})" if described else "")
            )
            error.job_id = job_id
            error.last_status = last
            raise error
        finally:
            if cursor is not None:
                watch.remove_cursor(cursor)
            self._release(watch)

    async def _until_final(
        self, watch: _Watch[S], deliver: Callable[[], Awaitable[None]], *, every: bool
    ) -> S:
        await self._follow(watch, watch.is_over, deliver, every=every)
        await deliver()
        status = watch.final
        assert status is not None
        return status

    async def watch(self, job_id: str) -> AsyncIterator[S]:
        """Yield each new status of the job, ending after the final one.

        Raises:
            ApiError: As :meth:`wait_for_final`.
        """
        watch = self._acquire(job_id)
        cursor = watch.add_cursor()
        try:
            while True:
                status = watch.next_for(cursor)
                if status is not None:
                    yield status
                    if self._kind.is_final(status):
                        return
                    continue

                def has_new(seen: int = cursor[0]) -> bool:
                    return watch.end > seen

                await self._follow(watch, has_new, _nothing, every=True)
        finally:
            watch.remove_cursor(cursor)
            self._release(watch)

    # --- sharing ------------------------------------------------------------------------

    def _acquire(self, job_id: str) -> _Watch[S]:
        self._session.check_usable()
        watch = self._watches.get(job_id)
        if watch is None:
            watch = self._watches[job_id] = _Watch(job_id, self._kind)
        watch.users += 1
        return watch

    def _release(self, watch: _Watch[S]) -> None:
        watch.users -= 1
        if watch.users <= 0:
            self._poller.drop(watch)
            if self._watches.get(watch.job_id) is watch:
                del self._watches[watch.job_id]

    async def _follow(
        self,
        watch: _Watch[S],
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
        *,
        every: bool,
    ) -> None:
        """Return once ``until()`` holds: stream the job, lead the poller, or follow.

        A waiter that wants ``every`` status is woken by each one; the others only when
        the job ends, fails, or needs someone to drive it.
        """
        while True:
            changed = watch.changed if every else watch.attention
            await on_change()
            if watch.error is not None:
                raise watch.error
            if until():
                return
            if not watch.streaming:
                if not watch.polled:
                    if await self._stream_once(watch, until, on_change):
                        continue
                    self._poller.register(watch)
                if not self._poller.leading:
                    await self._poller.lead(watch, until, on_change)
                    continue
            watch.waiting += 1
            try:
                await changed.wait()
            finally:
                watch.waiting -= 1

    async def _stream_once(
        self,
        watch: _Watch[S],
        until: Callable[[], bool],
        on_change: Callable[[], Awaitable[None]],
    ) -> bool:
        """Follow the job on the stream if it has one and a slot is free. True if it did
        (the caller checks what came of it), False to poll the job instead."""
        stream, session = self._stream, self._session
        if stream is None or watch.stream_failed or not session.websockets_enabled:
            return False
        if len(self._watches) > self.policy.stream_while_waiting:
            return False
        slots = session.websocket_slots
        if slots.available_tokens < 1:  # the usual case with many waits: no exception
            return False
        try:
            slots.acquire_on_behalf_of_nowait(watch)
        except anyio.WouldBlock:
            return False

        async def publish(status: S) -> bool:
            if watch.publish(status):
                await on_change()
            return until()

        watch.streaming = True
        try:
            if await stream.follow(watch.job_id, publish):
                return True
            watch.stream_failed = not until()  # ended without saying: poll to find out
            return True
        except WebsocketError as exc:
            watch.stream_failed = True
            logger.info("Job %s: status stream unavailable (%s); polling", watch.job_id, exc)
            return True
        finally:
            slots.release_on_behalf_of(watch)
            watch.streaming = False
            watch.summon()


async def _nothing() -> None:
    return None
