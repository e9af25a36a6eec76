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
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ibmq_async.exceptions import (
    ApiConnectionError,
    ApiError,
    ApiJobLimitError,
    ApiRateLimitError,
    ApiServerError,
    ApiStatusError,
    ApiTimeoutError,
)

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_RETRY_STATUSES",
    "NOT_SENT_EXCEPTIONS",
    "SINGLE_ATTEMPT",
    "Budget",
    "Call",
    "RetryPolicy",
    "call_with_retry",
    "may_have_reached_the_server",
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

SINGLE_ATTEMPT = RetryPolicy(max_attempts=1, deadline=None)
"""One attempt: for the steps of a loop that retries them itself (exactly-once
submission); the loop's deadline bounds them."""


def may_have_reached_the_server(exc: BaseException) -> bool:
    """Whether a failed request may nevertheless have been acted on: a 5xx, or a
    connection failure that does not prove the request never left."""
    if isinstance(exc, ApiServerError):
        return True
    if isinstance(exc, ApiStatusError):
        return False
    if isinstance(exc, ApiConnectionError):
        return not isinstance(exc.__cause__, NOT_SENT_EXCEPTIONS)
    return False


@dataclass(frozen=True)
class Call:
    """What a retry loop is doing, for its log lines and its final error.

    Attributes:
        description: In words, e.g. ``"GET https://.../Jobs/x/v/1"``.
        method: The HTTP method, if the call is one request.
        url: The URL, if the call is one request.
    """

    description: str
    method: str | None = None
    url: str | None = None

    @classmethod
    def request(cls, method: str, url: str) -> Call:
        """The call of one HTTP request."""
        return cls(f"{method} {url}", method, url)


class Budget:
    """The deadline of one call and the failures it has counted.

    The deadline is the smaller of the policy's and the caller's ``timeout``. Waits count
    as asked for, so a test's instant sleep still spends the deadline. A failure counts
    against :attr:`RetryPolicy.max_attempts` unless the call says it does not (a step of
    a submission that may be repeated at no risk keeps retrying while time is left).
    """

    def __init__(self, policy: RetryPolicy, timeout: float | None) -> None:
        limits = [limit for limit in (policy.deadline, timeout) if limit is not None]
        self.deadline = min(limits) if limits else None
        self.counted_failures = 0
        self.last_error: BaseException | None = None
        self._policy = policy
        self._started = time.monotonic()
        self._asked = 0.0
        self._slept = 0.0

    def elapsed(self) -> float:
        """Seconds spent, waits counted as asked for."""
        return time.monotonic() - self._started - self._slept + self._asked

    def remaining(self) -> float:
        """Seconds left before the deadline (infinite without one)."""
        return math.inf if self.deadline is None else self.deadline - self.elapsed()

    async def sleep(self, seconds: float) -> None:
        """Wait between attempts with the policy's sleep (``anyio.sleep`` by default)."""
        before = time.monotonic()
        try:
            await (self._policy.sleep or anyio.sleep)(seconds)
        finally:
            self._asked += seconds
            self._slept += time.monotonic() - before


# --- the rules of the loop ---------------------------------------------------------------------


class stop_when_budget_is_spent(stop_base):
    """Stop after ``max_attempts`` counted failures, or when the next wait would pass the
    deadline."""

    def __init__(self, policy: RetryPolicy, budget: Budget) -> None:
        self._policy = policy
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self._budget.counted_failures >= self._policy.max_attempts:
            return True
        return retry_state.upcoming_sleep >= self._budget.remaining()


class wait_for_retry_after_or_backoff(wait_base):
    """The server's ``Retry-After`` if it gave one, else the policy's backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _failure(retry_state)
        if isinstance(error, ApiRateLimitError) and error.retry_after is not None:
            return max(error.retry_after, 0.0)
        return self._policy.backoff(retry_state.attempt_number)


class retry_if_worth_another_try(retry_base):
    """Retry what the policy calls retryable (or ``is_retryable``, if given), never
    cancellation, and never a ``Retry-After`` above the cap or beyond the deadline. Counts
    each failure the call says counts."""

    def __init__(
        self,
        policy: RetryPolicy,
        budget: Budget,
        *,
        idempotent: bool,
        is_retryable: Callable[[BaseException], bool] | None,
        counts: Callable[[BaseException], bool] | None,
    ) -> None:
        self._policy = policy
        self._budget = budget
        self._idempotent = idempotent
        self._is_retryable = is_retryable
        self._counts = counts

    def __call__(self, retry_state: RetryCallState) -> bool:
        error = _failure(retry_state)
        if not isinstance(error, Exception) or isinstance(error, anyio.get_cancelled_exc_class()):
            return False
        self._budget.last_error = error
        if self._counts is None or self._counts(error):
            self._budget.counted_failures += 1
        if self._is_retryable is not None:
            retryable = self._is_retryable(error)
        else:
            retryable = self._policy.is_retryable(error, idempotent=self._idempotent)
        if not retryable:
            return False
        return not (
            isinstance(error, ApiRateLimitError)
            and error.retry_after is not None
            and (
                error.retry_after > self._policy.max_retry_after
                or error.retry_after >= self._budget.remaining()
            )
        )


def log_before_retry(call: Call, policy: RetryPolicy) -> Callable[[RetryCallState], None]:
    """One INFO line per retry: what failed, how, which retry and the wait."""

    def log(retry_state: RetryCallState) -> None:
        logger.info(
            "%s failed: %s; retry %d of %d in %.2f s",
            call.description,
            _describe_error(_failure(retry_state)),
            retry_state.attempt_number,
            policy.max_attempts - 1,
            retry_state.upcoming_sleep,
        )

    return log


def _failure(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None


def _describe_error(exc: BaseException | None) -> str:
    return str(exc) if isinstance(exc, ApiError) else type(exc).__name__


# --- the loop ----------------------------------------------------------------------------------


async def call_with_retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    call: Call,
    timeout: float | None = None,
    is_retryable: Callable[[BaseException], bool] | None = None,
    counts: Callable[[BaseException], bool] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, or the policy or the deadline says stop.

    Args:
        attempt: One attempt: raises an :class:`ApiError` (or a transport error) on failure.
        policy: The retry policy.
        idempotent: Whether ``attempt`` may be repeated after it possibly reached the server.
        call: What is being done, for the logs and the final error.
        timeout: A deadline in seconds for the whole call; the smaller of this and
            ``policy.deadline`` applies.
        is_retryable: Overrides the policy's classification of errors (cancellation is
            still never retried).
        counts: Whether a failure counts against ``policy.max_attempts`` (all do by
            default); the deadline bounds the others.

    Returns:
        What ``attempt`` returned.

    Raises:
        ApiError: The last error, with ``retries_taken`` set, when it is not retryable or
            the attempts or the deadline ran out.
        ApiTimeoutError: The deadline expired during an attempt.
    """
    budget = Budget(policy, timeout)
    retrying: AsyncRetrying | None = None
    with anyio.move_on_after(max(budget.remaining(), 0)):
        # Most calls succeed at once, so tenacity is entered only after a failure; its
        # first round raises that failure again, so that its rules judge every failure.
        try:
            return await attempt()
        except Exception as error:
            failures = [error]

        async def replay_then_attempt() -> T:
            if failures:
                raise failures.pop()
            return await attempt()

        retrying = AsyncRetrying(
            stop=stop_when_budget_is_spent(policy, budget),
            wait=wait_for_retry_after_or_backoff(policy),
            retry=retry_if_worth_another_try(
                policy, budget, idempotent=idempotent, is_retryable=is_retryable, counts=counts
            ),
            before_sleep=log_before_retry(call, policy),
            sleep=budget.sleep,
            reraise=True,
        )
        try:
            async for attempt_round in retrying:
                with attempt_round:
                    return await replay_then_attempt()
        except ApiError as error:
            error.retries_taken = _retries(retrying)
            raise
        raise AssertionError("tenacity ended the loop without an outcome")  # pragma: no cover
    # An attempt was in flight: whether the server acted on it is unknown, so this error
    # has no transport cause (which could make it look like a request never sent).
    previous = budget.last_error
    raise ApiTimeoutError(
        f"{call.description} did not complete within the deadline of {budget.deadline:g} s"
        + (f" (the previous attempt failed: {_describe_error(previous)})" if previous else ""),
        method=call.method,
        url=call.url,
        retries_taken=0 if retrying is None else _retries(retrying),
    ) from None


def _retries(retrying: AsyncRetrying) -> int:
    return max(int(retrying.statistics.get("attempt_number", 1)) - 1, 0)
