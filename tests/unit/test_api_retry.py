"""RetryPolicy and the retry loop: what is retried, how long it waits, what is never retried."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from api_fakes import WaitRecorder, instant_policy

import ibmq_async
from ibmq_async.api.retry import (
    DEFAULT_RETRY_POLICY,
    DEFAULT_RETRY_STATUSES,
    Call,
    RetryPolicy,
    call_with_retry,
)
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiConnectionError,
    ApiJobLimitError,
    ApiNotFoundError,
    ApiRateLimitError,
    ApiServerError,
    ApiStatusError,
    ApiTimeoutError,
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def status_error(status: int, **kwargs: Any) -> ApiStatusError:
    cls: type[ApiStatusError] = ApiServerError if status >= 500 else ApiStatusError
    return cls("boom", status_code=status, method="GET", url="https://x.test/a", **kwargs)


def connection_error(cause: Exception) -> ApiConnectionError:
    error = ApiConnectionError("failed", method="GET", url="https://x.test/a")
    error.__cause__ = cause
    return error


# --- the value ---------------------------------------------------------------------------


def test_default_policy_is_close_to_the_original_client() -> None:
    policy = DEFAULT_RETRY_POLICY
    assert policy.max_attempts == 6  # 5 retries, like urllib3 Retry(total=5)
    assert {500, 502, 503, 504, 520, 522, 524} <= policy.retry_statuses
    assert 429 in policy.retry_statuses
    assert policy.deadline is not None
    assert httpx.ConnectError in policy.retry_exceptions


def test_policy_is_frozen_and_replace_makes_a_copy() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 2  # type: ignore[misc]
    other = policy.replace(max_attempts=2)
    assert other.max_attempts == 2
    assert policy.max_attempts == 6
    assert RetryPolicy.no_retry().max_attempts == 1


@pytest.mark.parametrize(
    "changes",
    [{"max_attempts": 0}, {"jitter": 1.5}, {"deadline": 0}, {"backoff_base": -1}],
)
def test_policy_rejects_nonsense(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        RetryPolicy(**changes)


def test_backoff_doubles_to_the_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = RetryPolicy(backoff_base=1.0, backoff_max=8.0, jitter=0.5)
    for _ in range(100):
        assert 2.0 <= jittered.backoff(3) <= 4.0


# --- the classification --------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(DEFAULT_RETRY_STATUSES))
def test_every_default_status_is_retried_on_idempotent_calls(status: int) -> None:
    assert DEFAULT_RETRY_POLICY.is_retryable(status_error(status), idempotent=True)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_a_4xx_other_than_408_and_429_is_never_retried(status: int) -> None:
    policy = RetryPolicy(retry_statuses=frozenset({status}))
    assert not policy.is_retryable(status_error(status), idempotent=True)


def test_5xx_is_retried_only_when_the_call_is_idempotent() -> None:
    assert not DEFAULT_RETRY_POLICY.is_retryable(status_error(503), idempotent=False)
    # 408 and 429 mean the server did not act: retried even for a POST that creates.
    assert DEFAULT_RETRY_POLICY.is_retryable(status_error(429), idempotent=False)
    assert DEFAULT_RETRY_POLICY.is_retryable(status_error(408), idempotent=False)


def test_status_outside_the_policy_is_not_retried() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({503}))
    assert not policy.is_retryable(status_error(502), idempotent=True)
    assert policy.is_retryable(status_error(503), idempotent=True)


def test_job_limit_and_specific_errors_are_never_retried() -> None:
    policy = DEFAULT_RETRY_POLICY
    assert not policy.is_retryable(ApiJobLimitError("3458", status_code=400), idempotent=True)
    assert not policy.is_retryable(ApiAuthenticationError("no", status_code=401), idempotent=True)
    assert not policy.is_retryable(ApiNotFoundError("no", status_code=404), idempotent=True)


def test_retry_after_above_the_cap_is_not_retried() -> None:
    policy = RetryPolicy(max_retry_after=10)
    ok = ApiRateLimitError("slow", status_code=429, retry_after=5)
    too_long = ApiRateLimitError("slow", status_code=429, retry_after=11)
    assert policy.is_retryable(ok, idempotent=False)
    assert not policy.is_retryable(too_long, idempotent=True)


@pytest.mark.parametrize(
    "cause", [httpx.ConnectError("x"), httpx.ConnectTimeout("x"), httpx.PoolTimeout("x")]
)
def test_errors_before_sending_are_retried_even_when_not_idempotent(cause: Exception) -> None:
    assert DEFAULT_RETRY_POLICY.is_retryable(connection_error(cause), idempotent=False)


@pytest.mark.parametrize(
    "cause",
    [
        httpx.ReadTimeout("x"),
        httpx.ReadError("x"),
        httpx.RemoteProtocolError("x"),
        httpx.WriteError("x"),
    ],
)
def test_errors_after_sending_are_retried_only_when_idempotent(cause: Exception) -> None:
    assert DEFAULT_RETRY_POLICY.is_retryable(connection_error(cause), idempotent=True)
    assert not DEFAULT_RETRY_POLICY.is_retryable(connection_error(cause), idempotent=False)


def test_exception_classes_come_from_the_policy() -> None:
    policy = RetryPolicy(retry_exceptions=(httpx.ConnectError,))
    assert policy.is_retryable(connection_error(httpx.ConnectError("x")), idempotent=True)
    assert not policy.is_retryable(connection_error(httpx.ReadTimeout("x")), idempotent=True)


def test_cancellation_and_base_exceptions_are_never_retryable() -> None:
    policy = RetryPolicy(retry_exceptions=(BaseException,))
    assert not policy.is_retryable(asyncio.CancelledError(), idempotent=True)
    assert not policy.is_retryable(KeyboardInterrupt(), idempotent=True)


# --- the loop ----------------------------------------------------------------------------


class Flaky:
    """An attempt that fails with the given errors in turn, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.anyio
async def test_retries_are_counted_waited_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async")
    recorder = WaitRecorder()
    attempt = Flaky(status_error(503), status_error(502), status_error(500))
    result = await call_with_retry(
        attempt,
        policy=instant_policy(recorder, backoff_base=0.5),
        idempotent=True,
        call=Call.request("GET", "https://x.test/a"),
    )
    assert result == "ok"
    assert attempt.calls == 4
    assert recorder.waits == [0.5, 1.0, 2.0]
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.name for r in retries] == ["ibmq_async"] * 3
    assert "retry 1 of 5 in 0.50 s" in retries[0].getMessage()
    assert "retry 3 of 5 in 2.00 s" in retries[2].getMessage()


@pytest.mark.anyio
async def test_the_final_error_records_the_retries_taken() -> None:
    recorder = WaitRecorder()
    attempt = Flaky(*[status_error(503) for _ in range(10)])
    with pytest.raises(ApiServerError) as info:
        await call_with_retry(
            attempt,
            policy=instant_policy(recorder, max_attempts=4),
            idempotent=True,
            call=Call.request("GET", "https://x.test/a"),
        )
    assert attempt.calls == 4
    assert info.value.retries_taken == 3
    assert info.value.status_code == 503
    assert "after 3 retries" in str(info.value)


@pytest.mark.anyio
async def test_a_non_retryable_error_is_raised_at_once() -> None:
    recorder = WaitRecorder()
    attempt = Flaky(status_error(400, error_code=1234))
    with pytest.raises(ApiStatusError) as info:
        await call_with_retry(
            attempt, policy=instant_policy(recorder), idempotent=True, call=Call.request("GET", "a")
        )
    assert attempt.calls == 1
    assert recorder.waits == []
    assert info.value.retries_taken == 0


@pytest.mark.anyio
async def test_retry_after_is_the_wait() -> None:
    recorder = WaitRecorder()
    attempt = Flaky(ApiRateLimitError("slow down", status_code=429, retry_after=7.0))
    await call_with_retry(
        attempt, policy=instant_policy(recorder), idempotent=False, call=Call.request("POST", "a")
    )
    assert recorder.waits == [7.0]


@pytest.mark.anyio
async def test_retry_after_beyond_the_deadline_fails_at_once_with_the_hint() -> None:
    recorder = WaitRecorder()
    attempt = Flaky(ApiRateLimitError("slow down", status_code=429, retry_after=30.0))
    with pytest.raises(ApiRateLimitError) as info:
        await call_with_retry(
            attempt,
            policy=instant_policy(recorder, deadline=10.0),
            idempotent=True,
            call=Call.request("GET", "a"),
        )
    assert info.value.retry_after == 30.0
    assert attempt.calls == 1
    assert recorder.waits == []


@pytest.mark.anyio
async def test_a_backoff_beyond_the_deadline_stops_the_sequence() -> None:
    recorder = WaitRecorder()
    attempt = Flaky(*[status_error(503) for _ in range(10)])
    with pytest.raises(ApiServerError) as info:
        await call_with_retry(
            attempt,
            policy=instant_policy(recorder, backoff_base=4.0, backoff_max=64.0, deadline=10.0),
            idempotent=True,
            call=Call.request("GET", "a"),
        )
    # 4 s then 8 s would pass the 10 s deadline: one retry only.
    assert recorder.waits == [4.0]
    assert info.value.retries_taken == 1


@pytest.mark.anyio
async def test_the_deadline_bounds_an_attempt_in_flight() -> None:
    async def hang() -> str:
        await anyio.sleep(30)
        return "late"

    started = time.monotonic()
    with pytest.raises(ApiTimeoutError) as info:
        await call_with_retry(
            hang, policy=RetryPolicy(deadline=0.2), idempotent=True, call=Call.request("GET", "a")
        )
    assert time.monotonic() - started < 2
    assert "deadline of 0.2 s" in str(info.value)


@pytest.mark.anyio
async def test_a_deadline_hit_in_flight_is_never_mistaken_for_a_request_not_sent() -> None:
    attempts = 0

    async def refused_then_hang() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise connection_error(httpx.ConnectError("refused"))
        await anyio.sleep(30)
        return "late"

    with pytest.raises(ApiTimeoutError) as info:
        await call_with_retry(
            refused_then_hang,
            policy=RetryPolicy(deadline=0.3, backoff_base=0.01, jitter=0),
            idempotent=False,
            call=Call.request("POST", "https://x.test/Jobs"),
        )
    error = info.value
    assert attempts == 2
    assert error.__cause__ is None  # not "caused" by the connect error of attempt 1
    assert (error.method, error.url) == ("POST", "https://x.test/Jobs")
    assert not DEFAULT_RETRY_POLICY.is_retryable(error, idempotent=False)


@pytest.mark.anyio
async def test_a_per_call_timeout_tightens_the_deadline() -> None:
    async def hang() -> str:
        await anyio.sleep(30)
        return "late"

    started = time.monotonic()
    with pytest.raises(ApiTimeoutError):
        await call_with_retry(
            hang, policy=RetryPolicy(), idempotent=True, call=Call.request("GET", "a"), timeout=0.2
        )
    assert time.monotonic() - started < 2


@pytest.mark.anyio
async def test_cancellation_during_a_backoff_propagates_at_once() -> None:
    attempt = Flaky(*[status_error(503) for _ in range(10)])
    policy = RetryPolicy(backoff_base=30.0, backoff_max=30.0, jitter=0.0)
    started = time.monotonic()
    with anyio.move_on_after(0.2) as scope:
        await call_with_retry(
            attempt, policy=policy, idempotent=True, call=Call.request("GET", "a")
        )
    assert scope.cancelled_caught
    assert time.monotonic() - started < 2
    assert attempt.calls == 1


@pytest.mark.anyio
async def test_cancellation_of_an_attempt_is_not_retried() -> None:
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await anyio.sleep(30)
        return "late"

    policy = RetryPolicy(retry_exceptions=(BaseException,), backoff_base=0.0)
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await call_with_retry(
                slow, policy=policy, idempotent=True, call=Call.request("GET", "a")
            )

        tg.start_soon(run)
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert calls == 1


@pytest.mark.anyio
async def test_an_override_classifier_still_never_retries_cancellation() -> None:
    attempt = Flaky(ValueError("x"))
    recorder = WaitRecorder()
    result = await call_with_retry(
        attempt,
        policy=instant_policy(recorder),
        idempotent=False,
        call=Call("x"),
        is_retryable=lambda exc: isinstance(exc, ValueError),
    )
    assert result == "ok"
    assert attempt.calls == 2


def test_tenacity_is_imported_by_exactly_one_module() -> None:
    package = Path(ibmq_async.__file__).parent
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"^\s*(import tenacity|from tenacity\b)", path.read_text(), re.MULTILINE)
    )
    assert importers == ["api/retry.py"]
