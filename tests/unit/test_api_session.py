"""The session over respx: retries per status and exception, Retry-After, error mapping,
re-login, redaction of tokens, timeouts, closed responses and the event loop guard."""

from __future__ import annotations

import asyncio
import logging
import traceback
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import anyio
import httpx
import pytest
import respx
from api_fakes import (
    ACCESS_TOKEN,
    API_TOKEN,
    API_URL,
    AUTH_URL,
    HGP,
    WaitRecorder,
    auth_routes,
    connect,
    instant_policy,
)

from ibmq_async.api import DEFAULT_TIMEOUT, RetryPolicy
from ibmq_async.api.classic import Connection
from ibmq_async.api.errors import parse_retry_after
from ibmq_async.api.session import CLIENT_APPLICATION
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiConnectionError,
    ApiError,
    ApiJobLimitError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiRateLimitError,
    ApiServerError,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationLicenseError,
    EventLoopMismatchError,
    IBMQAccountCredentialsInvalidUrl,
    IBMQInputValueError,
)

STATUS_URL = f"{HGP}/devices/ibmq_qasm_simulator/queue/status"
QUEUE_STATUS = {"state": True, "status": "active", "lengthQueue": 3, "backend_version": "1.0.0"}
SECRETS = (API_TOKEN, ACCESS_TOKEN, "second-access-token-SECRET")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(assert_all_mocked=True)
    auth_routes(router)
    return router


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --- retries per status and exception ---------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 520, 522, 524])
async def test_each_retryable_status_is_retried_and_counted(
    router: respx.Router, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async")
    route = router.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(status, json={"error": {"message": "busy", "code": 9000}}),
            httpx.Response(status),
            httpx.Response(200, json=QUEUE_STATUS),
        ]
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder))
    async with conn:
        status_model = await conn.project("ibm-q", "open", "main").backends.status(
            "ibmq_qasm_simulator"
        )
    assert status_model.pending_jobs == 3
    assert route.call_count == 3
    assert recorder.waits == [0.5, 1.0]
    logged = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(logged) == 2
    assert f"HTTP {status}" in logged[0]
    assert "retry 2 of 5 in 1.00 s" in logged[1]
    assert transport.open_responses == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "exception",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.ReadTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.RemoteProtocolError,
    ],
)
async def test_each_retryable_exception_is_retried_and_counted(
    router: respx.Router, exception: type[Exception]
) -> None:
    route = router.get(STATUS_URL).mock(
        side_effect=[exception, exception, httpx.Response(200, json=QUEUE_STATUS)]
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder))
    async with conn:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert route.call_count == 3
    assert len(recorder.waits) == 2
    assert transport.open_responses == 0


@pytest.mark.asyncio
async def test_exhausted_retries_raise_the_last_error_with_the_count(router: respx.Router) -> None:
    router.get(STATUS_URL).mock(
        return_value=httpx.Response(
            503,
            json={"error": {"message": "Service unavailable", "code": 1000}},
            headers={"uber-trace-id": "trace-503"},
        )
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder, max_attempts=4))
    async with conn:
        with pytest.raises(ApiServerError) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    error = info.value
    assert error.retries_taken == 3
    assert error.status_code == 503
    assert error.error_code == 1000
    assert error.trace_id == "trace-503"
    assert len(recorder.waits) == 3
    assert transport.open_responses == 0
    assert error.response is not None
    assert error.response.is_closed


@pytest.mark.asyncio
async def test_connection_errors_are_raised_from_the_transport_error(router: respx.Router) -> None:
    router.get(STATUS_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    conn, _ = await connect(router, retry=instant_policy(WaitRecorder(), max_attempts=2))
    async with conn:
        with pytest.raises(ApiConnectionError) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.method == "GET"
    assert info.value.url == STATUS_URL
    assert info.value.retries_taken == 1


@pytest.mark.asyncio
async def test_a_read_timeout_is_an_api_timeout_error(router: respx.Router) -> None:
    router.get(STATUS_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    conn, _ = await connect(router, retry=RetryPolicy.no_retry())
    async with conn:
        with pytest.raises(ApiTimeoutError) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


# --- Retry-After ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_429_waits_for_retry_after_seconds(router: respx.Router) -> None:
    route = router.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=QUEUE_STATUS),
        ]
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder))
    async with conn:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert recorder.waits == [7.0]
    assert route.call_count == 2
    assert transport.open_responses == 0


@pytest.mark.asyncio
async def test_429_waits_for_a_retry_after_http_date(router: respx.Router) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=20)
    router.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json=QUEUE_STATUS),
        ]
    )
    recorder = WaitRecorder()
    conn, _ = await connect(router, retry=instant_policy(recorder))
    async with conn:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert len(recorder.waits) == 1
    assert 17 <= recorder.waits[0] <= 20


@pytest.mark.asyncio
async def test_429_without_retry_after_backs_off(router: respx.Router) -> None:
    router.get(STATUS_URL).mock(
        side_effect=[httpx.Response(429), httpx.Response(200, json=QUEUE_STATUS)]
    )
    recorder = WaitRecorder()
    conn, _ = await connect(router, retry=instant_policy(recorder))
    async with conn:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert recorder.waits == [0.5]


@pytest.mark.asyncio
async def test_retry_after_above_the_cap_fails_fast_with_the_hint(router: respx.Router) -> None:
    route = router.get(STATUS_URL).mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "3600", "uber-trace-id": "trace-429"},
            json={"error": {"message": "Too many requests", "code": 3400}},
        )
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder, max_retry_after=60))
    async with conn:
        with pytest.raises(ApiRateLimitError) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert info.value.retry_after == 3600
    assert info.value.retries_taken == 0
    assert info.value.trace_id == "trace-429"
    assert route.call_count == 1
    assert recorder.waits == []
    assert transport.open_responses == 0


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(90)


# --- error mapping ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ApiStatusError),
        (403, ApiStatusError),
        (404, ApiNotFoundError),
        (409, ApiStatusError),
    ],
)
async def test_a_non_retryable_4xx_is_raised_at_once_with_its_code_and_trace_id(
    router: respx.Router, status: int, expected: type[ApiStatusError]
) -> None:
    route = router.get(STATUS_URL).mock(
        return_value=httpx.Response(
            status,
            json={"error": {"message": "Not allowed here", "code": 2911, "name": "Error"}},
            headers={"uber-trace-id": "abc123:def:0:1"},
        )
    )
    recorder = WaitRecorder()
    conn, _ = await connect(router, retry=instant_policy(recorder))
    async with conn:
        with pytest.raises(expected) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    error = info.value
    assert type(error) is expected
    assert route.call_count == 1
    assert recorder.waits == []
    assert error.status_code == status
    assert error.error_code == 2911
    assert error.error_message == "Not allowed here"
    assert error.method == "GET"
    assert error.url == STATUS_URL
    assert error.trace_id == "abc123:def:0:1"
    assert "Error code: 2911." in str(error)
    assert "abc123:def:0:1" in str(error)


@pytest.mark.asyncio
async def test_3458_is_a_job_limit_error(router: respx.Router) -> None:
    route = router.post(f"{HGP}/Jobs").respond(
        400,
        json={"error": {"message": "Reached maximum number of concurrent jobs", "code": 3458}},
    )
    conn, _ = await connect(router, retry=instant_policy(WaitRecorder()))
    async with conn:
        with pytest.raises(ApiJobLimitError) as info:
            await conn.project("ibm-q", "open", "main").jobs.create("ibmq_qasm_simulator")
    assert info.value.error_code == 3458
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_a_non_json_success_is_a_protocol_error_carrying_the_response(
    router: respx.Router,
) -> None:
    router.get(STATUS_URL).respond(200, text="<html>busy</html>")
    conn, _ = await connect(router)
    async with conn:
        with pytest.raises(ApiProtocolError) as info:
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert info.value.response is not None
    assert info.value.response.text == "<html>busy</html>"


@pytest.mark.asyncio
async def test_a_payload_that_does_not_fit_names_the_field(router: respx.Router) -> None:
    router.get(f"{HGP}/devices/ibmq_qasm_simulator/jobsLimit").respond(
        json={"maximumJobs": 5, "runningJobs": "many"}
    )
    conn, _ = await connect(router)
    async with conn:
        with pytest.raises(ApiProtocolError) as info:
            await conn.project("ibm-q", "open", "main").backends.job_limit("ibmq_qasm_simulator")
    assert "runningJobs" in str(info.value)
    assert info.value.response is not None
    assert info.value.response.json()["runningJobs"] == "many"


# --- connecting and authentication ------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_checks_version_logs_in_and_reads_the_urls(router: respx.Router) -> None:
    conn, transport = await connect(router)
    async with conn:
        assert conn.api_url == API_URL
        assert conn.auth_url == AUTH_URL
        assert [(r.method, r.url.path) for r in transport.requests] == [
            ("GET", "/api/version"),
            ("POST", "/api/users/loginWithToken"),
            ("GET", "/api/users/me"),
        ]
        version, login, me = transport.requests
        for request in transport.requests:
            assert request.headers["X-Qx-Client-Application"] == CLIENT_APPLICATION
        assert "X-Access-Token" not in version.headers
        assert "X-Access-Token" not in login.headers
        assert me.headers["X-Access-Token"] == "<redacted>"  # sent, then redacted
        assert repr(conn).startswith("Connection(")
    assert conn.closed


@pytest.mark.asyncio
async def test_a_url_that_is_not_an_auth_service_is_refused() -> None:
    router = respx.Router()
    router.get(f"{AUTH_URL}/version").respond(json={"hello": "world"})
    with pytest.raises(IBMQAccountCredentialsInvalidUrl):
        await connect(router)


@pytest.mark.asyncio
async def test_a_bad_token_is_an_authentication_error() -> None:
    router = respx.Router()
    auth_routes(router)
    with pytest.raises(ApiAuthenticationError) as info:
        await Connection.connect("wrong", AUTH_URL, transport=httpx.MockTransport(router.handler))
    assert info.value.status_code == 401
    assert info.value.error_code == 3446


@pytest.mark.asyncio
async def test_the_license_must_be_accepted() -> None:
    router = respx.Router()
    router.get(f"{AUTH_URL}/version").respond(json={"api-auth": "0.1"})
    router.post(f"{AUTH_URL}/users/loginWithToken").respond(
        401,
        json={"error": {"name": "ACCEPT_LICENSE_REQUIRED", "message": "Accept the license"}},
    )
    with pytest.raises(AuthenticationLicenseError, match="Accept the license"):
        await connect(router)


@pytest.mark.asyncio
async def test_an_expired_token_logs_in_again_once_and_retries() -> None:
    router = respx.Router()
    login = auth_routes(router, access_tokens=[ACCESS_TOKEN, "second-access-token-SECRET"])

    def status(request: httpx.Request) -> httpx.Response:
        if request.headers["X-Access-Token"] == ACCESS_TOKEN:
            return httpx.Response(401, json={"error": {"message": "expired", "code": 2408}})
        return httpx.Response(200, json=QUEUE_STATUS)

    route = router.get(STATUS_URL).mock(side_effect=status)
    conn, _ = await connect(router)
    async with conn:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert login.call_count == 2
    assert route.call_count == 2


@pytest.mark.asyncio
async def test_concurrent_401s_share_one_login() -> None:
    router = respx.Router()
    login = auth_routes(router, access_tokens=[ACCESS_TOKEN, "second-access-token-SECRET"])
    statuses: list[str] = []

    async def status(request: httpx.Request) -> httpx.Response:
        token = request.headers["X-Access-Token"]
        statuses.append(token)
        await anyio.sleep(0.01)
        if token == ACCESS_TOKEN:
            return httpx.Response(401, json={"error": {"message": "expired", "code": 2408}})
        return httpx.Response(200, json=QUEUE_STATUS)

    router.get(STATUS_URL).mock(side_effect=status)
    conn, _ = await connect(router)
    async with conn:
        client = conn.project("ibm-q", "open", "main")
        results = await asyncio.gather(
            *(client.backends.status("ibmq_qasm_simulator") for _ in range(20))
        )
    assert len(results) == 20
    assert login.call_count == 2  # the first login, and one shared re-login
    assert statuses.count(ACCESS_TOKEN) == 20


@pytest.mark.asyncio
async def test_a_second_401_after_the_relogin_is_raised() -> None:
    router = respx.Router()
    login = auth_routes(router)
    route = router.get(STATUS_URL).respond(401, json={"error": {"message": "no", "code": 2408}})
    conn, _ = await connect(router)
    async with conn:
        with pytest.raises(ApiAuthenticationError):
            await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert login.call_count == 2
    assert route.call_count == 2


# --- tokens never leak ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_tokens_are_absent_from_logs_errors_and_chained_exceptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    router = respx.Router()
    auth_routes(router, access_tokens=[ACCESS_TOKEN, "second-access-token-SECRET"])
    router.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(401, json={"error": {"message": "expired", "code": 2408}}),
            httpx.ConnectError(f"refused while sending {ACCESS_TOKEN}"),
            httpx.ConnectError(f"refused while sending {ACCESS_TOKEN}"),
        ]
    )
    router.get(f"{HGP}/devices/ibmq_qasm_simulator/jobsLimit").respond(
        500, json={"error": {"message": f"echo {API_TOKEN}", "code": 1000}}
    )
    router.get(f"{HGP}/devices/ibmq_qasm_simulator/defaults").mock(
        side_effect=httpx.ReadError("reset")
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder, max_attempts=2))
    errors: list[BaseException] = []
    async with conn:
        client = conn.project("ibm-q", "open", "main")
        for call in (
            client.backends.status,
            client.backends.job_limit,
            client.backends.defaults,
        ):
            try:
                await call("ibmq_qasm_simulator")
            except ApiError as exc:
                errors.append(exc)
        assert_no_secret(repr(conn) + repr(client) + repr(conn.session))
    assert [type(e) for e in errors] == [ApiConnectionError, ApiServerError, ApiConnectionError]
    assert isinstance(errors[0].__cause__, httpx.ConnectError)
    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert_no_secret(text)
        assert_no_secret(repr(error))
        cause = error.__cause__
        if isinstance(cause, httpx.RequestError):
            assert_no_secret(str(cause.request.headers))
        if isinstance(error, ApiError) and error.response is not None:
            assert_no_secret(str(error.response.request.headers))
    for record in caplog.records:
        assert_no_secret(record.getMessage())
    for request in transport.requests:
        assert_no_secret(str(request.headers))
        assert_no_secret(request.content.decode())


@pytest.mark.asyncio
async def test_a_failed_login_does_not_leak_the_api_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    router = respx.Router()
    router.get(f"{AUTH_URL}/version").respond(json={"api-auth": "0.1"})
    router.post(f"{AUTH_URL}/users/loginWithToken").respond(
        401, json={"error": {"message": "Login failed.", "code": 3446}}
    )
    with pytest.raises(ApiAuthenticationError) as info:
        await connect(router)
    error = info.value
    assert_no_secret("".join(traceback.format_exception(error)))
    assert error.response is not None
    assert_no_secret(error.response.request.content.decode())
    for record in caplog.records:
        assert_no_secret(record.getMessage())


@pytest.mark.asyncio
async def test_a_malformed_login_answer_does_not_leak_the_access_token() -> None:
    router = respx.Router()
    router.get(f"{AUTH_URL}/version").respond(json={"api-auth": "0.1"})
    router.post(f"{AUTH_URL}/users/loginWithToken").respond(
        json={"id": ACCESS_TOKEN, "ttl": "forever"}
    )
    with pytest.raises(ApiProtocolError) as info:
        await connect(router)
    assert_no_secret("".join(traceback.format_exception(info.value)))
    assert info.value.response is None


# --- timeouts, connections, event loops --------------------------------------------------------


def test_default_timeouts_are_finite() -> None:
    for value in (DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read, DEFAULT_TIMEOUT.write):
        assert value is not None
        assert 0 < value < 600
    assert DEFAULT_TIMEOUT.pool is not None


@pytest.mark.asyncio
async def test_a_per_call_timeout_caps_every_attempt(router: respx.Router) -> None:
    seen: list[dict[str, float]] = []

    def status(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=QUEUE_STATUS)

    router.get(STATUS_URL).mock(side_effect=status)
    conn, _ = await connect(router)
    async with conn:
        client = conn.project("ibm-q", "open", "main")
        await client.backends.status("ibmq_qasm_simulator")
        await client.backends.status("ibmq_qasm_simulator", timeout=2.5)
    assert seen[0]["read"] == DEFAULT_TIMEOUT.read
    assert seen[1] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


@pytest.mark.asyncio
async def test_a_per_call_timeout_bounds_the_whole_call(router: respx.Router) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200, json=QUEUE_STATUS)

    router.get(STATUS_URL).mock(side_effect=slow)
    conn, _ = await connect(router)
    async with conn:
        with anyio.fail_after(5), pytest.raises(ApiTimeoutError):
            await conn.project("ibm-q", "open", "main").backends.status(
                "ibmq_qasm_simulator", timeout=0.2
            )


@pytest.mark.asyncio
async def test_a_per_call_retry_policy_overrides_the_client_default(router: respx.Router) -> None:
    route = router.get(STATUS_URL).respond(503)
    recorder = WaitRecorder()
    conn, _ = await connect(router, retry=instant_policy(recorder))
    async with conn:
        with pytest.raises(ApiServerError) as info:
            await conn.project("ibm-q", "open", "main").backends.status(
                "ibmq_qasm_simulator", retry=RetryPolicy.no_retry()
            )
    assert route.call_count == 1
    assert info.value.retries_taken == 0


@pytest.mark.asyncio
async def test_no_response_is_left_open_after_any_retry_sequence(router: respx.Router) -> None:
    router.get(STATUS_URL).mock(
        side_effect=[
            httpx.Response(503, text="x" * 10000),
            httpx.ReadError("reset"),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(502),
            httpx.Response(200, json=QUEUE_STATUS),
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(404),
        ]
    )
    conn, transport = await connect(router, retry=instant_policy(WaitRecorder(), max_attempts=5))
    async with conn:
        client = conn.project("ibm-q", "open", "main")
        await client.backends.status("ibmq_qasm_simulator")
        with pytest.raises(ApiNotFoundError):
            await client.backends.status("ibmq_qasm_simulator")
    assert len(transport.streams) >= 8
    assert transport.open_responses == 0


def test_using_a_connection_on_another_event_loop_is_refused() -> None:
    router = respx.Router()
    auth_routes(router)
    router.get(STATUS_URL).respond(json=QUEUE_STATUS)
    conn: Connection = asyncio.run(connect(router))[0]

    async def use() -> None:
        await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")

    with pytest.raises(EventLoopMismatchError, match="different event loop"):
        asyncio.run(use())


@pytest.mark.anyio
async def test_the_session_works_under_trio_and_asyncio(anyio_backend: str) -> None:
    router = respx.Router()
    auth_routes(router)
    router.get(STATUS_URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=QUEUE_STATUS)]
    )
    recorder = WaitRecorder()
    conn, transport = await connect(router, retry=instant_policy(recorder))
    async with conn:
        status = await conn.project("ibm-q", "open", "main").backends.status("ibmq_qasm_simulator")
    assert status.operational
    assert recorder.waits == [0.5]
    assert transport.open_responses == 0


@pytest.mark.anyio
async def test_cancelling_a_call_in_backoff_propagates_at_once(anyio_backend: str) -> None:
    router = respx.Router()
    auth_routes(router)
    route = router.get(STATUS_URL).respond(503)
    conn, _ = await connect(
        router, retry=RetryPolicy(backoff_base=60, backoff_max=60, jitter=0, deadline=None)
    )
    async with conn:
        client = conn.project("ibm-q", "open", "main")
        with anyio.move_on_after(0.2) as scope:
            await client.backends.status("ibmq_qasm_simulator")
    assert scope.cancelled_caught
    assert route.call_count == 1


def test_timeouts_given_to_connect_must_be_finite() -> None:
    from ibmq_async.api.session import as_timeout as _as_timeout

    assert _as_timeout(None) == DEFAULT_TIMEOUT
    assert _as_timeout(5) == httpx.Timeout(5.0)
    with pytest.raises(IBMQInputValueError, match="finite"):
        _as_timeout(httpx.Timeout(5.0, read=None))
