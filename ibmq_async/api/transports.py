"""The network under the session: aiohttp on asyncio, httpx's own transport elsewhere.

No module of :mod:`ibmq_async` speaks HTTP or websocket frames itself. REST calls are
``httpx`` requests whatever the event loop; what carries them depends on it:

* on asyncio (and uvloop): :class:`~ibmq_async.api.aiohttp_transport.AiohttpTransport`, a
  thin ``httpx`` transport over one ``aiohttp.ClientSession``, whose status websockets are
  aiohttp's ``ws_connect`` on the same session (:mod:`ibmq_async.api.aiohttp_transport`);
* on any other loop (trio): httpx's own ``AsyncHTTPTransport`` and, for the status
  websockets, httpx-ws on a second client (:mod:`ibmq_async.api.httpx_websocket`).

Those two modules are imported when a connection first needs them: ``import ibmq_async``
imports neither aiohttp nor httpx-ws.

Proxies are chosen by one :class:`ProxyRoutes` for every stack and for websockets too:
the original client's ``proxies={"urls": {...}}`` if given, else ``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (either case).
"""

# A websocket receive takes its timeout as an argument, as aiohttp's does.
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import ssl
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import anyio
import httpx

from ibmq_async.exceptions import IBMQInputValueError, WebsocketError

__all__ = [
    "DEFAULT_LIMITS",
    "WEBSOCKET_LIMITS",
    "InFlightLimit",
    "Network",
    "ProxyRoutes",
    "SocketClosed",
    "StatusSocket",
    "open_network",
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


def upgrade_refused(status: int) -> WebsocketError:
    """The error of a refused websocket upgrade."""
    return WebsocketError(f"The status websocket answered the upgrade with HTTP {status}")


# --- the network of a connection ------------------------------------------------------------


class WebsocketOpener(Protocol):
    """Opens a status websocket: an async context manager that closes it."""

    def __call__(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        ping_interval: float | None,
        timeout: httpx.Timeout,
    ) -> AbstractAsyncContextManager[StatusSocket]: ...


class Network:
    """The transports of one connection: REST under httpx, and the status websockets.

    Made by :func:`open_network`; closed by :meth:`aclose`.

    Args:
        rest: The transport of the session's ``httpx.AsyncClient``.
        routes: The proxies.
        kind: ``"aiohttp"``, ``"httpx"`` or ``"given"`` (a transport passed in, e.g. ASGI).
        open_websocket: Opens the status websockets.
        close: Closes what the websockets use (:attr:`rest` is closed by the
            ``httpx.AsyncClient`` it is given to).
    """

    def __init__(
        self,
        rest: httpx.AsyncBaseTransport,
        routes: ProxyRoutes,
        *,
        kind: str,
        open_websocket: WebsocketOpener,
        close: Callable[[], Any] | None = None,
    ) -> None:
        self.rest = rest
        self.routes = routes
        self.kind = kind
        self._open_websocket = open_websocket
        self._close = close
        self._closed = False

    @classmethod
    def over_client(cls, client: httpx.AsyncClient) -> Network:
        """Websockets through httpx-ws on ``client``, no proxies (a session built by hand)."""
        from ibmq_async.api import httpx_websocket

        return cls(
            _Unowned(),
            ProxyRoutes(None, environment=False),
            kind="given",
            open_websocket=functools.partial(httpx_websocket.open_websocket, client),
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
        return self._open_websocket(
            url, headers=headers, ping_interval=ping_interval, timeout=timeout
        )

    async def aclose(self) -> None:
        """Close the websocket side. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._close is not None:
            await self._close()


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
        from ibmq_async.api import httpx_websocket

        # Websockets over ``transport`` too; the client is not closed: that would close
        # ``transport`` twice.
        return Network(
            InFlightLimit(transport, max_in_flight),
            routes,
            kind="given",
            open_websocket=functools.partial(
                httpx_websocket.open_websocket, httpx.AsyncClient(transport=transport)
            ),
        )
    if _on_asyncio():
        from ibmq_async.api import aiohttp_transport

        rest = aiohttp_transport.AiohttpTransport(
            verify=verify, limits=limits, routes=routes, timeout=timeout
        )
        return Network(
            InFlightLimit(rest, max_in_flight),
            routes,
            kind="aiohttp",
            open_websocket=functools.partial(
                aiohttp_transport.open_websocket, rest.session, routes=routes
            ),
            close=rest.session.close,
        )
    from ibmq_async.api import httpx_websocket

    websocket_client = httpx.AsyncClient(
        transport=_ProxyRouter(verify=verify, limits=WEBSOCKET_LIMITS, routes=routes)
    )
    return Network(
        InFlightLimit(_ProxyRouter(verify=verify, limits=limits, routes=routes), max_in_flight),
        routes,
        kind="httpx",
        open_websocket=functools.partial(httpx_websocket.open_websocket, websocket_client),
        close=websocket_client.aclose,
    )
