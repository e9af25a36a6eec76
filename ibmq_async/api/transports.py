"""The network under the session: aiohttp on asyncio, httpx's own transport elsewhere.

No module of :mod:`ibmq_async` speaks HTTP or websocket frames itself. REST calls are
``httpx`` requests whatever the event loop; what carries them depends on it:

* on asyncio (and uvloop): :class:`AiohttpTransport`, a thin ``httpx`` transport over one
  ``aiohttp.ClientSession``, whose status websockets are aiohttp's ``ws_connect`` on the
  same session;
* on any other loop (trio): httpx's own ``AsyncHTTPTransport`` and, for the status
  websockets, httpx-ws on a second client.

Why an adapter of our own rather than ``httpx-aiohttp``'s ``AiohttpTransport`` (0.2.0):
it maps ``aiohttp.ClientConnectionError`` (so ``ServerDisconnectedError``, which can come
after a POST was written, and read timeouts) to ``httpx.ConnectTimeout``, which says the
request never left; exactly-once submission must treat those as ambiguous. It also ignores
the proxy environment, keeps a second cookie jar inside aiohttp and streams bodies in
16 KiB chunks through a generator. :func:`transport_error` is the mapping this package
relies on: only failures of the connect phase say *not sent*.

Proxies are chosen by one :class:`ProxyRoutes` for every stack and for websockets too:
the original client's ``proxies={"urls": {...}}`` if given, else ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (either case).
"""

# Websocket receives and handshakes take their timeout as an argument, as aiohttp does.
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiohttp
import anyio
import httpx
from httpx_ws import (
    HTTPXWSException,
    WebSocketDisconnect,
    WebSocketUpgradeError,
    aconnect_ws,
)
from wsproto.events import BytesMessage, TextMessage
from yarl import URL

from ibmq_async.exceptions import IBMQInputValueError, WebsocketError

__all__ = [
    "DEFAULT_LIMITS",
    "WEBSOCKET_LIMITS",
    "AiohttpTransport",
    "InFlightLimit",
    "Network",
    "ProxyRoutes",
    "SocketClosed",
    "StatusSocket",
    "open_network",
    "transport_error",
]

DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=32, keepalive_expiry=4.0
)
"""REST connections. Idle ones are closed after 4 s, before a server's usual 5 s keep-alive
timeout can race a request. On aiohttp, which has no cap on idle connections, the
session's 32 requests in flight bound how many are ever kept."""

WEBSOCKET_LIMITS = httpx.Limits(max_connections=40, max_keepalive_connections=0)
"""The websocket client of httpx's stack (an upgraded connection is never reused)."""

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest websocket message accepted."""


# --- proxies --------------------------------------------------------------------------------


class ProxyRoutes:
    """Which proxy, if any, a URL goes through.

    Args:
        explicit: Proxy URLs by scheme (``"http"``, ``"https"``, ``"all"``) or by URL pattern
            (``"https://host"``, ``"all://host:port"``); ``None`` to use the environment.
        environment: Read ``*_PROXY``/``NO_PROXY`` when ``explicit`` is ``None``.

    Websocket URLs take the proxy of their HTTP counterpart (``ws`` → ``http``, ``wss``
    → ``https``), since the handshake is an HTTP request.
    """

    def __init__(self, explicit: Mapping[str, str] | None = None, *, environment: bool = True):
        self._explicit = dict(explicit) if explicit is not None else None
        self._environment = (
            urllib.request.getproxies_environment() if explicit is None and environment else {}
        )
        self._cache: dict[tuple[str, str, int | None], str | None] = {}

    @classmethod
    def from_settings(
        cls, proxies: Mapping[str, Any] | None, *, trust_env: bool = True
    ) -> ProxyRoutes:
        """The routes of the original client's ``proxies`` (``{"urls": {"https": ...}}``),
        or of the environment when there are none.

        Raises:
            IBMQInputValueError: NTLM authentication, or ``urls`` is not a mapping.
        """
        if not proxies:
            return cls(None, environment=trust_env)
        if proxies.get("username_ntlm") or proxies.get("password_ntlm"):
            raise IBMQInputValueError("NTLM proxy authentication is not supported")
        urls = proxies.get("urls", proxies)
        if not isinstance(urls, Mapping):
            raise IBMQInputValueError("proxies['urls'] must map a scheme to a proxy URL")
        explicit = {str(key).rstrip("/"): str(url) for key, url in urls.items() if url}
        return cls(explicit)

    def __repr__(self) -> str:
        source = "explicit" if self._explicit is not None else "environment"
        return f"{type(self).__name__}({source}, configured={self.configured})"

    @property
    def configured(self) -> bool:
        """Whether any URL may go through a proxy."""
        if self._explicit is not None:
            return bool(self._explicit)
        return any(key != "no" for key in self._environment)

    def proxy_for(self, url: httpx.URL | str) -> str | None:
        """The proxy URL for ``url``, or ``None`` to connect directly."""
        if not self.configured:
            return None
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
        key = (scheme, parsed.host, parsed.port)
        if key not in self._cache:
            self._cache[key] = self._choose(scheme, parsed.host, parsed.port)
        return self._cache[key]

    def _choose(self, scheme: str, host: str, port: int | None) -> str | None:
        if self._explicit is not None:
            for pattern in (
                f"{scheme}://{host}:{port}",
                f"{scheme}://{host}",
                f"all://{host}:{port}",
                f"all://{host}",
                scheme,
                f"{scheme}://",
                "all",
                "all://",
            ):
                if pattern in self._explicit:
                    return self._explicit[pattern]
            return None
        proxy = self._environment.get(scheme) or self._environment.get("all")
        if not proxy:
            return None
        if _bypassed(host, port, self._environment.get("no", "")):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names the host: ``*``, a domain (``example.com`` or
    ``.example.com``, with its subdomains), ``host:port``, an IP address or a network."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or port != int(entry_port)):
            continue
        name = name.strip("[]").lstrip(".")
        if address is not None:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            continue
        if host == name or host.endswith(f".{name}"):
            return True
    return False


# --- aiohttp under httpx --------------------------------------------------------------------


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


# --- httpx's own transport, with the same proxies -------------------------------------------


class _ProxyRouter(httpx.AsyncBaseTransport):
    """httpx's ``AsyncHTTPTransport``, one per proxy that :class:`ProxyRoutes` names."""

    def __init__(self, *, verify: ssl.SSLContext | bool, limits: httpx.Limits, routes: ProxyRoutes):
        self._verify = verify
        self._limits = limits
        self.routes = routes
        self._direct = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    def _for(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        proxy = self.routes.proxy_for(url)
        if proxy is None:
            return self._direct
        transport = self._proxied.get(proxy)
        if transport is None:
            transport = self._proxied[proxy] = httpx.AsyncHTTPTransport(
                verify=self._verify, limits=self._limits, proxy=proxy
            )
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()


class _Slots:
    """A count of free slots and a queue of waiters, handed slots first come, first served.

    Cheaper than ``anyio.CapacityLimiter`` on the path every request takes: taking a free
    slot neither awaits nor tracks who holds it.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiters: deque[anyio.Event] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        handed = anyio.Event()
        self._waiters.append(handed)
        try:
            await handed.wait()
        except BaseException:
            if handed.is_set():
                self.release()  # handed a slot, then cancelled: pass it on
            else:
                self._waiters.remove(handed)
            raise

    def release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()  # the slot goes straight to the next in line
        else:
            self.free += 1


class InFlightLimit(httpx.AsyncBaseTransport):
    """Lets at most ``limit`` requests through ``transport`` at once; the rest wait here,
    where waiting is cheap, rather than in a connection pool whose queue slows down as it
    grows. The slot is held until the response head (on aiohttp: the whole response)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.transport = transport
        self.slots = _Slots(limit)

    @property
    def in_flight(self) -> int:
        """How many requests hold a slot."""
        return self.slots.total - self.slots.free

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.slots.acquire()
        try:
            return await self.transport.handle_async_request(request)
        finally:
            self.slots.release()

    async def aclose(self) -> None:
        await self.transport.aclose()


# --- status websockets ----------------------------------------------------------------------


class SocketClosed(Exception):
    """The websocket was closed by the server (``code``) or dropped (``code`` 1006)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class StatusSocket(Protocol):
    """What the status waits need of an open websocket."""

    async def send_text(self, text: str) -> None:
        """Send a text frame."""
        ...

    async def receive_text(self, timeout: float | None) -> str:
        """The next text (or binary, decoded) message.

        Raises:
            TimeoutError: Nothing came within ``timeout`` seconds (the socket stays open).
            SocketClosed: The server closed the socket, or the connection dropped.
        """
        ...


class _AiohttpSocket:
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


class _HttpxWsSocket:
    def __init__(self, session: Any) -> None:
        self._session = session

    async def send_text(self, text: str) -> None:
        try:
            await self._session.send_text(text)
        except WebSocketDisconnect as exc:
            raise SocketClosed(exc.code, exc.reason or "") from exc
        except HTTPXWSException as exc:
            raise SocketClosed(1006, type(exc).__name__) from exc

    async def receive_text(self, timeout: float | None) -> str:
        while True:
            try:
                event = await self._session.receive(timeout=timeout)
            except WebSocketDisconnect as exc:
                raise SocketClosed(exc.code, exc.reason or "") from exc
            except HTTPXWSException as exc:
                raise SocketClosed(1006, type(exc).__name__) from exc
            if isinstance(event, TextMessage):
                return event.data
            if isinstance(event, BytesMessage):
                return bytes(event.data).decode("utf-8", errors="replace")


def _upgrade_refused(status: int) -> WebsocketError:
    return WebsocketError(f"The status websocket answered the upgrade with HTTP {status}")


# --- the network of a connection ------------------------------------------------------------


class Network:
    """The transports of one connection: REST under httpx, and the status websockets.

    Made by :func:`open_network`; closed by :meth:`aclose`.

    Attributes:
        rest: The transport of the session's ``httpx.AsyncClient``.
        routes: The proxies.
        kind: ``"aiohttp"``, ``"httpx"`` or ``"given"`` (a transport passed in, e.g. ASGI).
    """

    def __init__(
        self,
        rest: httpx.AsyncBaseTransport,
        routes: ProxyRoutes,
        *,
        kind: str,
        aiohttp_session: aiohttp.ClientSession | None = None,
        websocket_client: httpx.AsyncClient | None = None,
        owns_websocket_client: bool = True,
    ) -> None:
        self.rest = rest
        self.routes = routes
        self.kind = kind
        self._aiohttp = aiohttp_session
        self._websocket_client = websocket_client
        self._owns_websocket_client = owns_websocket_client

    @classmethod
    def over_client(cls, client: httpx.AsyncClient) -> Network:
        """Websockets through httpx-ws on ``client``, no proxies (a session built by hand)."""
        return cls(
            _Unowned(),
            ProxyRoutes(None, environment=False),
            kind="given",
            websocket_client=client,
            owns_websocket_client=False,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, routes={self.routes!r})"

    @property
    def requests_in_flight(self) -> int:
        """How many REST requests are being sent or answered right now."""
        rest = self.rest
        return rest.in_flight if isinstance(rest, InFlightLimit) else 0

    def websocket(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        ping_interval: float | None,
        timeout: httpx.Timeout,
    ) -> AbstractAsyncContextManager[StatusSocket]:
        """Open a websocket (an async context manager that closes it).

        Raises (on entering):
            WebsocketError: The server refused the upgrade, or it could not be reached.
        """
        if self._aiohttp is not None:
            return self._aiohttp_websocket(url, headers, ping_interval, timeout)
        return self._httpx_websocket(url, headers, ping_interval, timeout)

    @asynccontextmanager
    async def _aiohttp_websocket(
        self,
        url: str,
        headers: Mapping[str, str],
        ping_interval: float | None,
        timeout: httpx.Timeout,
    ) -> AsyncIterator[StatusSocket]:
        assert self._aiohttp is not None
        try:
            ws = await self._aiohttp.ws_connect(
                URL(url, encoded=True),
                headers=dict(headers),
                proxy=self.routes.proxy_for(url),
                heartbeat=ping_interval,
                max_msg_size=MAX_MESSAGE_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout.read),
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _upgrade_refused(exc.status) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise WebsocketError(
                f"The status websocket could not be opened: {transport_error(exc)}"
            ) from exc
        try:
            yield _AiohttpSocket(ws)
        finally:
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                await ws.close()

    @asynccontextmanager
    async def _httpx_websocket(
        self,
        url: str,
        headers: Mapping[str, str],
        ping_interval: float | None,
        timeout: httpx.Timeout,
    ) -> AsyncIterator[StatusSocket]:
        assert self._websocket_client is not None
        opening: Any = aconnect_ws(
            url,
            self._websocket_client,
            headers=dict(headers),
            max_message_size_bytes=MAX_MESSAGE_BYTES,
            keepalive_ping_interval_seconds=ping_interval,
            keepalive_ping_timeout_seconds=ping_interval,
            timeout=timeout,
        )
        try:
            async with opening as connected:
                yield _HttpxWsSocket(connected)
        except WebSocketUpgradeError as exc:
            raise _upgrade_refused(exc.response.status_code) from exc
        except httpx.TransportError as exc:
            raise WebsocketError(f"The status websocket could not be opened: {exc!r}") from exc

    async def aclose(self) -> None:
        """Close the websocket side. Idempotent. (:attr:`rest` is closed by the
        ``httpx.AsyncClient`` it is given to.)"""
        if self._websocket_client is not None and self._owns_websocket_client:
            await self._websocket_client.aclose()
        if self._aiohttp is not None and not self._aiohttp.closed:
            await self._aiohttp.close()


class _Unowned(httpx.AsyncBaseTransport):
    """Stands for a transport the network does not own (nothing is sent through it)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("this network does not send REST requests")


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def open_network(
    *,
    verify: bool = True,
    limits: httpx.Limits = DEFAULT_LIMITS,
    routes: ProxyRoutes | None = None,
    timeout: httpx.Timeout,
    max_in_flight: int = 32,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Network:
    """The network of a new connection, for the running event loop.

    Args:
        verify: Verify TLS certificates.
        limits: The REST connection pool.
        routes: The proxies (the environment's by default).
        timeout: The timeouts of websocket handshakes on aiohttp.
        max_in_flight: The most REST requests sent at once.
        transport: A transport to use for REST instead (tests, ``httpx.ASGITransport``);
            websockets then go through httpx-ws over it.
    """
    routes = routes or ProxyRoutes.from_settings(None)
    if transport is not None:
        return Network(
            InFlightLimit(transport, max_in_flight),
            routes,
            kind="given",
            websocket_client=httpx.AsyncClient(transport=transport),
            owns_websocket_client=False,  # closing it would close ``transport`` twice
        )
    if _on_asyncio():
        rest = AiohttpTransport(verify=verify, limits=limits, routes=routes, timeout=timeout)
        return Network(
            InFlightLimit(rest, max_in_flight), routes, kind="aiohttp", aiohttp_session=rest.session
        )
    websocket_client = httpx.AsyncClient(
        transport=_ProxyRouter(verify=verify, limits=WEBSOCKET_LIMITS, routes=routes)
    )
    return Network(
        InFlightLimit(_ProxyRouter(verify=verify, limits=limits, routes=routes), max_in_flight),
        routes,
        kind="httpx",
        websocket_client=websocket_client,
    )
