"""REST and status websockets on asyncio: aiohttp under httpx.

:class:`AiohttpTransport` is a thin ``httpx`` transport over one ``aiohttp.ClientSession``;
the status websockets are aiohttp's ``ws_connect`` on the same session
(:func:`open_websocket`). :mod:`ibmq_async.api.transports` imports this module only when a
connection opens on asyncio, so ``import ibmq_async`` does not import aiohttp.

Why an adapter of our own rather than ``httpx-aiohttp``'s ``AiohttpTransport`` (0.2.0):
it maps ``aiohttp.ClientConnectionError`` (so ``ServerDisconnectedError``, which can come
after a POST was written, and read timeouts) to ``httpx.ConnectTimeout``, which says the
request never left; exactly-once submission must treat those as ambiguous. It also ignores
the proxy environment, keeps a second cookie jar inside aiohttp and streams bodies in
16 KiB chunks through a generator. :func:`transport_error` is the mapping this package
relies on: only failures of the connect phase say *not sent*.
"""

# Websocket receives take their timeout as an argument, as aiohttp does.
from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
from yarl import URL

from ibmq_async.api.transports import (
    DEFAULT_LIMITS,
    MAX_MESSAGE_BYTES,
    ProxyRoutes,
    SocketClosed,
    StatusSocket,
    upgrade_refused,
)
from ibmq_async.exceptions import WebsocketError

__all__ = ["AiohttpTransport", "client_timeout", "open_websocket", "transport_error"]


def client_timeout(timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's: ``connect`` bounds connecting, ``pool`` bounds
    getting a connection (waiting for the pool, and connecting, since aiohttp times the
    two together), ``read`` bounds each wait for response data."""
    connect, read, pool = timeout.get("connect"), timeout.get("read"), timeout.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
        connect=pool if pool is not None else connect,
        sock_connect=connect,
        sock_read=read,
    )


def transport_error(exc: BaseException) -> httpx.TransportError:
    """The httpx error that says what an aiohttp failure means for a retry.

    Only failures before the request could be written (connecting to the server or the
    proxy, waiting for a pooled connection) become ``ConnectError``/``ConnectTimeout``,
    which the retry policy reads as *not sent*. Everything after the connection is made
    (a disconnect, a reset, a read timeout, a broken response) may have reached the
    server, and becomes an error that does not say otherwise.
    """
    message = _describe(exc)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ConnectError(f"Cannot connect to the proxy: {message}")
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ServerFingerprintMismatch)):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(f"The proxy refused the tunnel: {message}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            "The server closed the connection without sending a complete response"
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(f"Malformed response: {message}")
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(f"The response body was cut short: {message}")
    if isinstance(exc, ValueError):  # aiohttp refuses line breaks in headers before writing
        return httpx.LocalProtocolError(message)
    return httpx.ReadError(message)


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # an aiohttp error without its request
        text = ""
    return text or type(exc).__name__


_TIMEOUT_CACHE_SIZE = 64


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests on one ``aiohttp.ClientSession``.

    Response bodies are read whole before the response is returned (the SDK reads every
    body whole); httpx decodes gzip and keeps the cookies (aiohttp keeps none). aiohttp's
    own retry of idempotent requests on a dropped keep-alive connection is turned off:
    retries are the session's alone. Timeouts are :func:`client_timeout`'s; aiohttp has no
    write timeout, so a stalled upload ends by the read timeout.

    Must be made on the asyncio event loop that uses it.

    Args:
        verify: Verify TLS certificates (or an SSL context to use).
        limits: ``max_connections`` and ``keepalive_expiry`` are used.
        routes: The proxies.
        timeout: The timeouts of what does not go through httpx (websocket handshakes).
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        routes: ProxyRoutes | None = None,
        timeout: httpx.Timeout,
    ) -> None:
        self.ssl_context = httpx.create_ssl_context(verify=verify)
        self.routes = routes or ProxyRoutes(None, environment=False)
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=client_timeout(timeout.as_dict()),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            max_line_size=65536,
            max_field_size=65536,
        )
        self.session._retry_connection = False  # one retry layer: the session's
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(routes={self.routes!r}, closed={self.session.closed})"

    def _timeout(self, settings: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        key = (settings.get("connect"), settings.get("read"), settings.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = client_timeout(settings)
            if len(self._timeouts) >= _TIMEOUT_CACHE_SIZE:
                self._timeouts.clear()
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.session.closed:
            raise RuntimeError("The transport is closed")
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {request.url.scheme!r}")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() != b"transfer-encoding"  # aiohttp frames streamed bodies itself
        ]
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = _body_chunks(request.stream)
        proxy = self.routes.proxy_for(request.url)
        timeout = self._timeout(request.extensions.get("timeout", {}))
        try:
            response = await self.session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=data,
                proxy=proxy,
                timeout=timeout,
                allow_redirects=False,
            )
            try:
                body = await response.read()
            finally:
                response.release()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise transport_error(exc) from exc
        version = response.version
        extensions: dict[str, Any] = {
            "http_version": b"HTTP/1.0" if version == aiohttp.HttpVersion10 else b"HTTP/1.1"
        }
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", errors="replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        await self.session.close()


async def _body_chunks(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


# --- status websockets on the same session -------------------------------------------------


class _AiohttpSocket:
    """A :class:`~ibmq_async.api.transports.StatusSocket` on aiohttp's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self._ws = ws

    async def send_text(self, text: str) -> None:
        try:
            await self._ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise SocketClosed(1006, str(exc)) from exc

    async def receive_text(self, timeout: float | None) -> str:
        message = await self._ws.receive(timeout=timeout)
        if message.type is aiohttp.WSMsgType.TEXT:
            return str(message.data)
        if message.type is aiohttp.WSMsgType.BINARY:
            return bytes(message.data).decode("utf-8", errors="replace")
        if message.type is aiohttp.WSMsgType.ERROR:
            raise SocketClosed(1006, str(message.data))
        raise SocketClosed(self._ws.close_code, str(message.extra or ""))


@asynccontextmanager
async def open_websocket(
    session: aiohttp.ClientSession,
    url: str,
    *,
    routes: ProxyRoutes,
    headers: Mapping[str, str],
    ping_interval: float | None,
    timeout: httpx.Timeout,
) -> AsyncIterator[StatusSocket]:
    """A websocket on ``session``, through the proxy ``routes`` name (closed on exit).

    Raises (on entering):
        WebsocketError: The server refused the upgrade, or it could not be reached.
    """
    try:
        ws = await session.ws_connect(
            URL(url, encoded=True),
            headers=dict(headers),
            proxy=routes.proxy_for(url),
            heartbeat=ping_interval,
            max_msg_size=MAX_MESSAGE_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout.read),
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise upgrade_refused(exc.status) from exc
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise WebsocketError(
            f"The status websocket could not be opened: {transport_error(exc)}"
        ) from exc
    try:
        yield _AiohttpSocket(ws)
    finally:
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            await ws.close()
