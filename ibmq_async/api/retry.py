"""The retry policy of the HTTP layer, and the one place that runs retries.

:class:`RetryPolicy` is a frozen value: how many attempts, how long to back off, which
HTTP statuses and transport errors are worth another try, and how long the whole sequence
may take. :func:`call_with_retry` runs a coroutine function under a policy. This module is
the only one of ibmq_async that imports tenacity.

Rules that no policy can change:

* cancellation (``asyncio.CancelledError``, ``trio.Cancelled``) and other
  ``BaseException``\\ s that are not ``Exception``\\ s are never retried;
* a 4xx status is never retried except 408 and 429;
* a request that may have reached the server (a read timeout, a reset after the request
  was sent, a 5xx) is retried only when the call is idempotent; a call that is not is
  retried only when the request certainly never left (connect errors, pool timeouts) or
  the server refused it outright (408, 429);
* a ``Retry-After`` above :attr:`RetryPolicy.max_retry_after`, or beyond the deadline,
  fails at once; the wait asked for is in :attr:`ApiRateLimitError.retry_after`.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState

from ibmq_async.exceptions import (
    ApiConnectionError,
    ApiError,
    ApiJobLimitError,
    ApiRateLimitError,
    ApiStatusError,
    ApiTimeoutError,
)

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_RETRY_STATUSES",
    "NOT_SENT_EXCEPTIONS",
    "RetryPolicy",
    "call_with_retry",
]

logger = logging.getLogger("ibmq_async")

T = TypeVar("T")

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524})
"""The 5xx set the original client retried (docs/protocol.md §5.1), plus 408 and 429."""

NOT_SENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
"""Transport errors after which the request certainly did not reach the server."""

DEFAULT_RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    *NOT_SENT_EXCEPTIONS,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
"""Connection errors worth another try (read-side ones only for idempotent calls)."""

_ALWAYS_RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How a call is retried. A frozen value: derive variants with :meth:`replace`.

    Attributes:
        max_attempts: Total attempts including the first (1 means no retry).
        backoff_base: The first backoff wait, in seconds; each retry doubles it.
        backoff_max: The cap of a backoff wait, in seconds.
        jitter: The randomised fraction of each backoff wait, in ``[0, 1]``: a wait ``w``
            becomes a uniform draw from ``[w * (1 - jitter), w]``. ``0`` is deterministic.
        deadline: Seconds the whole sequence (attempts and waits) may take, or ``None``.
        retry_statuses: HTTP statuses worth a retry. 4xx other than 408 and 429 are never
            retried, whatever this says.
        retry_exceptions: Transport exception classes (the ``__cause__`` of an
            :class:`ApiConnectionError`, or the exception itself) worth a retry.
        max_retry_after: A ``Retry-After`` above this many seconds fails at once, with the
            hint in :attr:`ApiRateLimitError.retry_after`.
        sleep: How to wait between attempts (``anyio.sleep`` if ``None``); tests inject an
            instant sleep that records the waits.
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25
    deadline: float | None = 120.0
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    retry_exceptions: tuple[type[BaseException], ...] = DEFAULT_RETRY_EXCEPTIONS
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff waits must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in [0, 1]")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be positive or None")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must not be negative")

    def replace(self, **changes: Any) -> RetryPolicy:
        """Return a copy of the policy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int) -> float:
        """The backoff wait before retry number ``retry_number`` (1-based), with jitter."""
        wait = min(self.backoff_max, self.backoff_base * 2.0 ** max(retry_number - 1, 0))
        if self.jitter:
            wait *= 1 - random.uniform(0, self.jitter)
        return wait

    def is_retryable(self, exc: BaseException, *, idempotent: bool) -> bool:
        """Whether ``exc`` is worth another attempt under this policy.

        Args:
            exc: The exception the attempt raised.
            idempotent: Whether repeating the request is harmless even if it reached the
                server. When it is not, only failures that prove the request was not
                processed are retried.
        """
        if not isinstance(exc, Exception):
            return False  # cancellation, KeyboardInterrupt, SystemExit, ...
        if isinstance(exc, ApiJobLimitError):
            return False
        if isinstance(exc, ApiStatusError):
            status = exc.status_code
            if status is None or status not in self.retry_statuses:
                return False
            if 400 <= status < 500:
                if status not in _ALWAYS_RETRYABLE_4XX:
                    return False
                if isinstance(exc, ApiRateLimitError) and exc.retry_after is not None:
                    return exc.retry_after <= self.max_retry_after
                return True
            return idempotent
        if isinstance(exc, ApiConnectionError):
            cause = exc.__cause__
            if cause is None or not isinstance(cause, self.retry_exceptions):
                return False
            return idempotent or isinstance(cause, NOT_SENT_EXCEPTIONS)
        if isinstance(exc, ApiError):
            return False
        if not isinstance(exc, self.retry_exceptions):
            return False
        return idempotent or isinstance(exc, NOT_SENT_EXCEPTIONS)


DEFAULT_RETRY_POLICY = RetryPolicy()
"""Close to the original client (5 retries, backoff 0.5 s doubling to 8 s) plus 429."""


def _effective_deadline(policy: RetryPolicy, timeout: float | None) -> float | None:
    candidates = [d for d in (policy.deadline, timeout) if d is not None]
    return min(candidates) if candidates else None


def _describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ApiError) else type(exc).__name__


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    description: str,
    timeout: float | None = None,
    is_retryable: Callable[[BaseException], bool] | None = None,
) -> T:
    """Run ``fn`` under ``policy``, retrying what the policy says is worth it.

    Args:
        fn: The attempt: a coroutine function that raises an :class:`ApiError` (or a
            transport error) on failure.
        policy: The retry policy.
        idempotent: Whether ``fn`` may be repeated after it possibly reached the server.
        description: What the call is, for logs and the deadline error (e.g. ``GET url``).
        timeout: A deadline in seconds for the whole call; the smaller of this and
            ``policy.deadline`` applies.
        is_retryable: Overrides the policy's classification of errors (cancellation is
            still never retried).

    Returns:
        What ``fn`` returned.

    Raises:
        ApiError: The last error, with ``retries_taken`` set, when it is not retryable or
            the attempts or the deadline ran out.
        ApiTimeoutError: The deadline expired during an attempt.
    """
    deadline = _effective_deadline(policy, timeout)
    started = time.monotonic()
    last_error: list[BaseException] = []

    slept = {"requested": 0.0, "real": 0.0}

    def elapsed() -> float:
        # Waits count as asked for, so an injected instant sleep still spends the deadline.
        return time.monotonic() - started - slept["real"] + slept["requested"]

    def remaining() -> float:
        return math.inf if deadline is None else deadline - elapsed()

    def retry_predicate(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        if exc is None or not isinstance(exc, Exception):
            return False
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return False
        last_error[:] = [exc]
        retryable = (
            is_retryable(exc) if is_retryable else policy.is_retryable(exc, idempotent=idempotent)
        )
        if not retryable:
            return False
        # A server-given wait beyond the cap or the deadline fails at once.
        return not (
            isinstance(exc, ApiRateLimitError)
            and exc.retry_after is not None
            and (exc.retry_after > policy.max_retry_after or exc.retry_after >= remaining())
        )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiRateLimitError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        return policy.backoff(state.attempt_number)

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts:
            return True
        return state.upcoming_sleep >= remaining()

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        assert exc is not None
        logger.info(
            "%s failed: %s; retry %d of %d in %.2f s",
            description,
            _describe_error(exc),
            state.attempt_number,
            policy.max_attempts - 1,
            state.upcoming_sleep,
        )

    async def sleep(seconds: float) -> None:
        before = time.monotonic()
        try:
            if policy.sleep is not None:
                await policy.sleep(seconds)
            else:
                await anyio.sleep(seconds)
        finally:
            slept["requested"] += seconds
            slept["real"] += time.monotonic() - before

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop,
        wait=wait,
        retry=retry_predicate,
        before_sleep=before_sleep,
        reraise=True,
    )

    def retries_taken() -> int:
        return max(int(retrying.statistics.get("attempt_number", 1)) - 1, 0)

    with anyio.move_on_after(math.inf if deadline is None else max(remaining(), 0)) as scope:
        try:
            return await retrying(fn)
        except ApiError as exc:
            exc.retries_taken = retries_taken()
            raise
    assert scope.cancelled_caught
    # An attempt was in flight: whether the server acted on it is unknown, so this error
    # has no transport cause (which could make it look like a request never sent).
    previous = last_error[0] if last_error else None
    method, _, rest = description.partition(" ")
    url = rest.split(" ")[0]
    error = ApiTimeoutError(
        f"{description} did not complete within the deadline of {deadline:g} s"
        + (f" (the previous attempt failed: {_describe_error(previous)})" if previous else ""),
        method=method or None,
        url=url or None,
        retries_taken=retries_taken(),
    )
    raise error from None
