"""One ``httpx.AsyncClient`` with the protocol's headers, timeouts, retries and error mapping.

:class:`HttpSession` is the single door to the network for :mod:`ibmq_async.api`: every
REST call of the auth and account clients goes through :meth:`HttpSession.request`, which

* adds ``X-Qx-Client-Application`` to every request and ``X-Access-Token`` to the
  authenticated ones (never to a URL);
* bounds every attempt with finite connect, read, write and pool timeouts;
* retries under a :class:`~ibmq_async.api.retry.RetryPolicy` (per session, per call);
* logs in again once, shared by every concurrent caller, when an access token expires;
* maps failures to the :class:`~ibmq_async.exceptions.ApiError` hierarchy with the
  status, the IBM error code and message, the method, the URL and the trace id;
* redacts the API token and access tokens from every request it hands out (an error's
  ``response.request``, a transport error's ``request``) and from every message it builds;
* refuses, with :class:`~ibmq_async.exceptions.EventLoopMismatchError`, to be used from an
  event loop other than the one it was created on.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from ibmq_async._version import __version__
from ibmq_async.api.retry import DEFAULT_RETRY_POLICY, Call, RetryPolicy, call_with_retry
from ibmq_async.api.transports import Network, StatusSocket
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiConnectionError,
    ApiJobLimitError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiRateLimitError,
    ApiServerError,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationLicenseError,
    EventLoopMismatchError,
)

__all__ = [
    "CLIENT_APPLICATION",
    "DEFAULT_TIMEOUT",
    "STORAGE_TIMEOUT",
    "AccessTokenSource",
    "HttpSession",
    "SecretRedactor",
    "current_event_loop",
    "describe_validation_error",
    "error_from_response",
    "parse_retry_after",
    "protocol_error",
    "trace_id_of",
    "validate_model",
    "validate_model_json",
]

logger = logging.getLogger("ibmq_async")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)
"""Finite timeouts for every REST call (the original client had no read timeout)."""

STORAGE_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0)
"""Timeouts for object-storage uploads and downloads (Qobj and result documents)."""

DEFAULT_MAX_IN_FLIGHT = 32
"""The most REST requests one connection sends at once
(:class:`~ibmq_async.api.transports.InFlightLimit`)."""

DEFAULT_MAX_WEBSOCKETS = 32
"""The most job status websockets one connection keeps open at once."""

ACCESS_TOKEN_HEADER = "X-Access-Token"
CLIENT_APPLICATION_HEADER = "X-Qx-Client-Application"
REDACTED = "<redacted>"


def _client_application() -> str:
    value = f"ibmq-async/{__version__}"
    custom = os.environ.get("QE_CUSTOM_CLIENT_APP_HEADER")
    return f"{value}/{custom}" if custom else value


CLIENT_APPLICATION = _client_application()
"""The ``X-Qx-Client-Application`` header value (``QE_CUSTOM_CLIENT_APP_HEADER`` appended)."""

M = TypeVar("M", bound=BaseModel)

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class SecretRedactor:
    """Knows the secrets of one connection and removes them from what leaves the layer."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        """Remember ``secret`` (an API token or an access token) for redaction."""
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``<redacted>``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_exception(self, exc: BaseException) -> None:
        """Remove secrets from the message of an exception (e.g. a transport error)."""
        exc.args = tuple(self.redact(a) if isinstance(a, str) else a for a in exc.args)
        request = getattr(exc, "_request", None)
        if isinstance(request, httpx.Request):
            self.redact_request(request)

    def redact_request(self, request: httpx.Request) -> None:
        """Remove secrets from the headers and the body of a request that was sent."""
        if ACCESS_TOKEN_HEADER in request.headers:
            request.headers[ACCESS_TOKEN_HEADER] = REDACTED
        content = getattr(request, "_content", None)
        if isinstance(content, bytes) and content:
            text = content.decode("utf-8", errors="replace")
            redacted = self.redact(text)
            if redacted != text:
                data = redacted.encode()
                request._content = data
                request.stream = httpx.ByteStream(data)
                request.headers["Content-Length"] = str(len(data))


class AccessTokenSource(Protocol):
    """What the session needs from the authenticator: the token, and a way to renew it."""

    @property
    def access_token(self) -> str:
        """The current access token."""
        ...

    async def refresh(self, stale_token: str) -> None:
        """Log in again unless someone already replaced ``stale_token``."""
        ...


def current_event_loop() -> object | None:
    """An object identifying the running event loop (asyncio loop or trio run), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token()  # type: ignore[no-any-return]
        except RuntimeError:
            return None
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        return max(when.timestamp() - current, 0.0)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(seconds, 0.0)


def _error_details(response: httpx.Response) -> tuple[Any, str | None, str | None]:
    """``(code, message, name)`` from an IBM error body, as far as there is one."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        name = error.get("name")
        return (
            code,
            str(message) if message is not None else None,
            str(name) if name is not None else None,
        )
    if isinstance(error, str):
        return body.get("code"), error, None
    return None, None, None


def _normalise_code(code: Any) -> int | str | None:
    if code is None or isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    text = str(code)
    return int(text) if text.isdigit() else text


def error_from_response(
    response: httpx.Response, *, redactor: SecretRedactor | None = None
) -> ApiStatusError:
    """The :class:`ApiStatusError` subclass that describes a non-2xx response."""
    status = response.status_code
    raw_code, error_message, error_name = _error_details(response)
    code = _normalise_code(raw_code)
    if redactor is not None and error_message is not None:
        error_message = redactor.redact(error_message)
    request = response.request
    message = error_message or response.reason_phrase or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error_code": code,
        "error_message": error_message,
        "method": request.method,
        "url": str(request.url),
        "trace_id": trace_id_of(response),
        "response": response,
    }
    if code == 3458:
        return ApiJobLimitError(message, **kwargs)
    if status == 401:
        if error_name == "ACCEPT_LICENSE_REQUIRED":
            return AuthenticationLicenseError(message, **kwargs)
        return ApiAuthenticationError(message, **kwargs)
    if status == 404:
        return ApiNotFoundError(message, **kwargs)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ApiRateLimitError(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ApiServerError(message, **kwargs)
    return ApiStatusError(message, **kwargs)


def _transport_error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _without_credentials(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


class _Cookies(httpx.Cookies):
    """A cookie jar that reads only responses that set cookies.

    httpx hands every response to the jar, which builds urllib request and response
    stand-ins first; for an API that sets no cookies that was a tenth of a small request's
    CPU time. Servers that do set them (load-balancer affinity) are honoured as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class ApiClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` of a session, whose jar is :class:`_Cookies`.

    httpx reads the jar through the ``cookies`` property only, which this class serves
    from its own attribute.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _Cookies(kwargs.pop("cookies", None))
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


def trace_id_of(response: httpx.Response) -> str | None:
    """The trace id of a response (``uber-trace-id``, else ``x-request-id``)."""
    value: str | None = response.headers.get("uber-trace-id") or response.headers.get(
        "x-request-id"
    )
    return value


def protocol_error(
    message: str, response: httpx.Response | None, *, attach_response: bool = True
) -> ApiProtocolError:
    """An :class:`ApiProtocolError` with the evidence of the 2xx response that did not fit."""
    if response is None:
        return ApiProtocolError(message)
    request = response.request
    return ApiProtocolError(
        message,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url),
        trace_id=trace_id_of(response),
        response=response if attach_response else None,
    )


def describe_validation_error(exc: ValidationError) -> str:
    """The failing fields of a validation error, without the input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(item) for item in error["loc"]) or "<root>"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def validate_model(
    model: type[M],
    data: Any,
    *,
    what: str,
    response: httpx.Response | None = None,
    sensitive: bool = False,
) -> M:
    """Validate ``data`` into ``model`` or raise :class:`ApiProtocolError` naming the fields.

    Args:
        model: The model class.
        data: The decoded JSON.
        what: What the payload is, for the message.
        response: The ``httpx.Response`` it came from, attached to the error.
        sensitive: The payload may hold a secret: the error then carries neither the
            response nor the validation error (whose text would show the input).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = protocol_error(
            f"The {what} does not fit the protocol: {describe_validation_error(exc)}",
            response,
            attach_response=not sensitive,
        )
        if sensitive:
            raise error from None
        raise error from exc


def validate_model_json(model: type[M], response: httpx.Response, *, what: str) -> M:
    """Validate the JSON body of ``response`` into ``model`` straight from its bytes.

    Faster than :func:`validate_model` after ``json.loads`` for large documents, and it
    builds no intermediate dicts.

    Raises:
        ApiProtocolError: The body is not JSON, or does not fit the model (the error names
            the fields and carries the response).
    """
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise protocol_error(f"The {what} is not valid JSON", response) from exc
        raise protocol_error(
            f"The {what} does not fit the protocol: {describe_validation_error(exc)}", response
        ) from exc


class HttpSession:
    """The HTTP session shared by the auth and account clients of one connection.

    Args:
        client: The client to send requests with.
        retry: The default retry policy of the session.
        timeout: The default per-attempt timeouts.
        redactor: The secrets of the connection.
        owns_client: Whether :meth:`aclose` closes ``client`` and ``network``.
        max_websockets: The most job status websockets open at once (each holds a
            connection for as long as it is open); waits beyond it poll instead.
        network: The transports under ``client`` and the websockets
            (:func:`~ibmq_async.api.transports.open_network`); by default websockets go
            through httpx-ws on ``client`` and nothing goes through a proxy.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        redactor: SecretRedactor | None = None,
        owns_client: bool = True,
        max_websockets: int = DEFAULT_MAX_WEBSOCKETS,
        network: Network | None = None,
    ) -> None:
        if max_websockets < 0:
            raise ValueError("max_websockets must be at least 0")
        self.client = client
        self.network = network or Network.over_client(client)
        self.retry = retry
        self.timeout = timeout
        self.websocket_slots = anyio.CapacityLimiter(max(max_websockets, 1))
        self.websockets_enabled = max_websockets > 0
        self.redactor = redactor or SecretRedactor()
        self.auth: AccessTokenSource | None = None
        self._owns_client = owns_client
        self._loop = current_event_loop()
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retry={self.retry!r}, timeout={self.timeout!r})"

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def check_usable(self) -> None:
        """Raise if the session is closed or used from another event loop than its own."""
        if self._closed or self.client.is_closed:
            raise ApiConnectionError("The connection has been closed; connect again")
        loop = current_event_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            closed = isinstance(self._loop, asyncio.AbstractEventLoop) and self._loop.is_closed()
            raise EventLoopMismatchError(
                "This connection was created on a different event loop"
                + (" (which is now closed)" if closed else "")
                + "; an httpx client cannot move between event loops. Create the connection "
                "on the loop that uses it."
            )

    def per_attempt_timeout(
        self, timeout: float | None, *, base: httpx.Timeout | None = None
    ) -> httpx.Timeout:
        """The httpx timeout of one attempt: ``base`` (or the session's), capped by ``timeout``."""
        base = base or self.timeout
        if timeout is None:
            return base

        def cap(value: float | None) -> float:
            return timeout if value is None else min(value, timeout)

        return httpx.Timeout(
            connect=cap(base.connect),
            read=cap(base.read),
            write=cap(base.write),
            pool=cap(base.pool),
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        idempotent: bool | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        base_timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send a request, retrying under the policy, and return the (read, closed) response.

        Args:
            method: The HTTP method.
            url: The absolute URL.
            params: Query parameters.
            json_body: A JSON document for the body (``None`` for no body).
            content: Raw bytes for the body (instead of ``json_body``).
            headers: Extra headers.
            authenticated: Whether to send ``X-Access-Token`` (and log in again once on a 401).
            idempotent: Whether the call may be repeated after it possibly reached the
                server; defaults to ``True`` for GET, HEAD, PUT, DELETE and OPTIONS.
            timeout: Seconds for the whole call including retries; also caps every attempt.
            retry: Overrides the session's retry policy for this call.
            base_timeout: Overrides the session's per-attempt timeouts for this call.

        Returns:
            The 2xx response, already read and closed.

        Raises:
            ApiStatusError: A non-2xx response (a subclass per status and IBM error code).
            ApiConnectionError: The request failed before a response arrived.
            ApiTimeoutError: An attempt, or the whole call, ran out of time.
            EventLoopMismatchError: The session belongs to another event loop.
        """
        self.check_usable()
        method = method.upper()
        policy = retry or self.retry
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        attempt_timeout = self.per_attempt_timeout(timeout, base=base_timeout)
        relogged = False

        async def attempt() -> httpx.Response:
            nonlocal relogged
            while True:
                token = self.auth.access_token if authenticated and self.auth else None
                response = await self._send_once(
                    method,
                    url,
                    params=params,
                    json_body=json_body,
                    content=content,
                    headers=headers,
                    token=token,
                    timeout=attempt_timeout,
                )
                if (
                    response.status_code == 401
                    and token is not None
                    and self.auth is not None
                    and not relogged
                ):
                    relogged = True
                    logger.info("%s %s: access token rejected (401); logging in again", method, url)
                    await self.auth.refresh(token)
                    continue
                if response.is_error:
                    raise error_from_response(response, redactor=self.redactor)
                return response

        return await call_with_retry(
            attempt,
            policy=policy,
            idempotent=idempotent,
            call=Call.request(method, url),
            timeout=timeout,
        )

    def websocket(
        self, url: str, *, ping_interval: float | None
    ) -> AbstractAsyncContextManager[StatusSocket]:
        """Open a status websocket to ``url`` (an async context manager that closes it),
        sending keepalive pings every ``ping_interval`` seconds.

        Raises (on entering):
            WebsocketError: The upgrade was refused, or the server could not be reached.
        """
        return self.network.websocket(
            url,
            headers={CLIENT_APPLICATION_HEADER: CLIENT_APPLICATION},
            ping_interval=ping_interval,
            timeout=self.timeout,
        )

    async def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the body decoded as JSON (``None`` for an empty body).

        Raises:
            ApiProtocolError: The 2xx body is not JSON; the error carries the response.
        """
        response = await self.request(method, url, **kwargs)
        return self.decode_json(response)

    def decode_json(self, response: httpx.Response) -> Any:
        """The JSON body of a 2xx response, or :class:`ApiProtocolError` carrying it."""
        if not response.content.strip():
            return None
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise protocol_error(
                "The response is not valid JSON (this can be caused by too many requests)",
                response,
            ) from exc

    async def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        token: str | None,
        timeout: httpx.Timeout,
    ) -> httpx.Response:
        all_headers: dict[str, str] = dict(headers or {})
        if token is not None:
            all_headers[ACCESS_TOKEN_HEADER] = token
        if json_body is not None and content is None:
            content = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = self.client.build_request(
            method,
            url,
            params=params,
            content=content,
            headers=all_headers,
            timeout=timeout,
        )
        started = time.monotonic()
        try:
            response = await self.client.send(request)
        except httpx.TimeoutException as exc:
            self.redactor.redact_request(request)
            self.redactor.redact_exception(exc)
            raise ApiTimeoutError(
                self.redactor.redact(f"Request timed out ({_transport_error_text(exc)})"),
                method=method,
                url=str(request.url),
            ) from exc
        except httpx.HTTPError as exc:
            self.redactor.redact_request(request)
            self.redactor.redact_exception(exc)
            proxy = self.network.routes.proxy_for(request.url)
            via = f" through the proxy {_without_credentials(proxy)}" if proxy else ""
            raise ApiConnectionError(
                self.redactor.redact(f"Connection failed{via} ({_transport_error_text(exc)})"),
                method=method,
                url=str(request.url),
            ) from exc
        except BaseException:
            self.redactor.redact_request(request)
            raise
        self.redactor.redact_request(request)
        logger.debug(
            "%s %s -> %d in %.3f s",
            method,
            request.url,
            response.status_code,
            time.monotonic() - started,
        )
        return response

    async def aclose(self) -> None:
        """Close the client if the session owns it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self.client.aclose()
            await self.network.aclose()
