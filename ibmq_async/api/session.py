"""One ``httpx.AsyncClient`` with an API's headers, timeouts, retries and error mapping.

:class:`HttpSession` is the single door to the network for :mod:`ibmq_async.api`: every
REST call of every resource goes through :meth:`HttpSession.request`, which

* adds the session's headers to every request (``X-Qx-Client-Application``, and those an
  API adds, e.g. a service instance) and authenticates the ones that ask for it through
  the session's ``httpx.Auth`` flow (:mod:`ibmq_async.api.auth`: tokens never go in a URL,
  and an expired one is renewed once, shared by every concurrent caller);
* bounds every attempt with finite connect, read, write and pool timeouts;
* retries under a :class:`~ibmq_async.api.retry.RetryPolicy` (per session, per call);
* maps failures to the :class:`~ibmq_async.exceptions.ApiError` hierarchy with the
  status, the API's error code and message (read by the API's
  :data:`~ibmq_async.api.errors.ErrorParser`), the method, the URL and the trace id;
* redacts the secrets of the connection from every request it hands out (an error's
  ``response.request``, a transport error's ``request``) and from every message it builds;
* refuses, with :class:`~ibmq_async.exceptions.EventLoopMismatchError`, to be used from an
  event loop other than the one it was created on.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx

from ibmq_async._version import __version__
from ibmq_async.api.errors import ErrorParser, error_from_response, no_error_details, protocol_error
from ibmq_async.api.retry import DEFAULT_RETRY_POLICY, Call, RetryPolicy, call_with_retry
from ibmq_async.api.transports import (
    DEFAULT_LIMITS,
    Network,
    ProxyRoutes,
    StatusSocket,
    open_network,
)
from ibmq_async.exceptions import (
    ApiConnectionError,
    ApiTimeoutError,
    EventLoopMismatchError,
    IBMQInputValueError,
)

__all__ = [
    "CLIENT_APPLICATION",
    "CLIENT_APPLICATION_HEADER",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_WEBSOCKETS",
    "DEFAULT_TIMEOUT",
    "STORAGE_TIMEOUT",
    "ApiClient",
    "HttpSession",
    "SecretRedactor",
    "as_timeout",
    "current_event_loop",
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

CLIENT_APPLICATION_HEADER = "X-Qx-Client-Application"
REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"x-access-token", "authorization"})
"""Request headers that carry a credential; redacted in every request handed out."""


def _client_application() -> str:
    value = f"ibmq-async/{__version__}"
    custom = os.environ.get("QE_CUSTOM_CLIENT_APP_HEADER")
    return f"{value}/{custom}" if custom else value


CLIENT_APPLICATION = _client_application()
"""The ``X-Qx-Client-Application`` header value (``QE_CUSTOM_CLIENT_APP_HEADER`` appended)."""

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
        """Remove credentials from the headers and secrets from the body of a sent request."""
        for name in SECRET_HEADERS:
            if name in request.headers:
                request.headers[name] = REDACTED
        content = getattr(request, "_content", None)
        if isinstance(content, bytes) and content:
            text = content.decode("utf-8", errors="replace")
            redacted = self.redact(text)
            if redacted != text:
                data = redacted.encode()
                request._content = data
                request.stream = httpx.ByteStream(data)
                request.headers["Content-Length"] = str(len(data))

    def redact_response(self, response: httpx.Response) -> None:
        """Redact the request of ``response`` and of every response before it (401s)."""
        for each in (*response.history, response):
            self.redact_request(each.request)


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


def as_timeout(timeout: httpx.Timeout | float | None) -> httpx.Timeout:
    """The per-attempt timeouts a connection is given: finite, all four of them.

    Raises:
        IBMQInputValueError: A timeout is ``None`` (infinite).
    """
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        if None in (timeout.connect, timeout.read, timeout.write, timeout.pool):
            raise IBMQInputValueError("every timeout must be finite (connect, read, write, pool)")
        return timeout
    return httpx.Timeout(float(timeout))


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


class HttpSession:
    """The HTTP session shared by every resource of one connection.

    Args:
        client: The client to send requests with.
        retry: The default retry policy of the session.
        timeout: The default per-attempt timeouts.
        error_parser: Reads the API's error bodies.
        redactor: The secrets of the connection.
        owns_client: Whether :meth:`aclose` closes ``client`` and ``network``.
        max_websockets: The most job status websockets open at once (each holds a
            connection for as long as it is open); waits beyond it poll instead.
        network: The transports under ``client`` and the websockets
            (:func:`~ibmq_async.api.transports.open_network`); by default websockets go
            through httpx-ws on ``client`` and nothing goes through a proxy.

    Attributes:
        auth: The ``httpx.Auth`` flow of authenticated requests (set once logged in).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        error_parser: ErrorParser = no_error_details,
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
        self.error_parser = error_parser
        self.websocket_slots = anyio.CapacityLimiter(max(max_websockets, 1))
        self.websockets_enabled = max_websockets > 0
        self.redactor = redactor or SecretRedactor()
        self.auth: httpx.Auth | None = None
        self._owns_client = owns_client
        self._loop = current_event_loop()
        self._closed = False

    @classmethod
    def open(
        cls,
        *,
        error_parser: ErrorParser,
        headers: Mapping[str, str] | None = None,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> HttpSession:
        """A session on the network of the running event loop (any API's).

        Args:
            error_parser: Reads the API's error bodies.
            headers: Headers for every request besides ``X-Qx-Client-Application``.
            proxies: ``{"urls": {"http": ..., "https": ...}}`` as the original client took;
                without it, ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` apply.
            verify: Verify TLS certificates.
            timeout: Per-attempt timeouts (a number sets all four); finite by default.
            retry: The default retry policy.
            transport: An httpx transport to use instead of the network (tests, ASGI).

        Raises:
            IBMQInputValueError: An infinite timeout, or malformed proxy settings.
        """
        timeouts = as_timeout(timeout)
        network = open_network(
            verify=verify,
            limits=DEFAULT_LIMITS,
            routes=ProxyRoutes.from_settings(proxies),
            timeout=timeouts,
            max_in_flight=DEFAULT_MAX_IN_FLIGHT,
            transport=transport,
        )
        client = ApiClient(
            transport=network.rest,
            headers={CLIENT_APPLICATION_HEADER: CLIENT_APPLICATION, **(headers or {})},
            timeout=timeouts,
            follow_redirects=False,
        )
        return cls(
            client,
            retry=retry or DEFAULT_RETRY_POLICY,
            timeout=timeouts,
            error_parser=error_parser,
            network=network,
        )

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
        error_parser: ErrorParser | None = None,
    ) -> httpx.Response:
        """Send a request, retrying under the policy, and return the (read, closed) response.

        Args:
            method: The HTTP method.
            url: The absolute URL.
            params: Query parameters.
            json_body: A JSON document for the body (``None`` for no body).
            content: Raw bytes for the body (instead of ``json_body``).
            headers: Extra headers.
            authenticated: Whether to send the credential (and renew it once on a 401).
            idempotent: Whether the call may be repeated after it possibly reached the
                server; defaults to ``True`` for GET, HEAD, PUT, DELETE and OPTIONS.
            timeout: Seconds for the whole call including retries; also caps every attempt.
            retry: Overrides the session's retry policy for this call.
            base_timeout: Overrides the session's per-attempt timeouts for this call.
            error_parser: Reads this call's error bodies, if not the session's API's (a
                token service on another host).

        Returns:
            The 2xx response, already read and closed.

        Raises:
            ApiStatusError: A non-2xx response (a subclass per status and API error code).
            ApiConnectionError: The request failed before a response arrived.
            ApiTimeoutError: An attempt, or the whole call, ran out of time.
            EventLoopMismatchError: The session belongs to another event loop.
        """
        self.check_usable()
        method = method.upper()
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        if json_body is not None and content is None:
            content = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        attempt_timeout = self.per_attempt_timeout(timeout, base=base_timeout)
        auth = self.auth if authenticated else None

        async def attempt() -> httpx.Response:
            request = self.client.build_request(
                method,
                url,
                params=params,
                content=content,
                headers=headers,
                timeout=attempt_timeout,
            )
            return await self._send_once(request, auth, error_parser or self.error_parser)

        return await call_with_retry(
            attempt,
            policy=retry or self.retry,
            idempotent=idempotent,
            call=Call.request(method, url),
            timeout=timeout,
        )

    def websocket(
        self, url: str, *, ping_interval: float | None, headers: Iterable[tuple[str, str]] = ()
    ) -> AbstractAsyncContextManager[StatusSocket]:
        """Open a websocket to ``url`` (an async context manager that closes it),
        sending keepalive pings every ``ping_interval`` seconds.

        Raises (on entering):
            WebsocketError: The upgrade was refused, or the server could not be reached.
        """
        return self.network.websocket(
            url,
            headers={CLIENT_APPLICATION_HEADER: CLIENT_APPLICATION, **dict(headers)},
            ping_interval=ping_interval,
            timeout=self.timeout,
        )

    def decode_json(self, response: httpx.Response) -> Any:
        """The JSON body of a 2xx response (``None`` if empty), or
        :class:`~ibmq_async.exceptions.ApiProtocolError` carrying it."""
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
        self, request: httpx.Request, auth: httpx.Auth | None, error_parser: ErrorParser
    ) -> httpx.Response:
        started = time.monotonic()
        try:
            response = await self.client.send(request, auth=auth)
        except httpx.TimeoutException as exc:
            self.redactor.redact_request(request)
            self.redactor.redact_exception(exc)
            raise ApiTimeoutError(
                self.redactor.redact(f"Request timed out ({_transport_error_text(exc)})"),
                method=request.method,
                url=str(request.url),
            ) from exc
        except httpx.HTTPError as exc:
            self.redactor.redact_request(request)
            self.redactor.redact_exception(exc)
            proxy = self.network.routes.proxy_for(request.url)
            via = f" through the proxy {_without_credentials(proxy)}" if proxy else ""
            raise ApiConnectionError(
                self.redactor.redact(f"Connection failed{via} ({_transport_error_text(exc)})"),
                method=request.method,
                url=str(request.url),
            ) from exc
        except BaseException:
            self.redactor.redact_request(request)
            raise
        self.redactor.redact_response(response)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d in %.3f s",
                request.method,
                request.url,
                response.status_code,
                time.monotonic() - started,
            )
        if response.is_error:
            raise error_from_response(response, error_parser, redact=self.redactor.redact)
        return response

    async def aclose(self) -> None:
        """Close the client if the session owns it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self.client.aclose()
            await self.network.aclose()
