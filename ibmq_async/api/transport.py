"""An HTTP/1.1 transport for httpx on asyncio protocols, with a cheap keep-alive pool.

httpx's default transport (httpcore on anyio) spends most of a small request's CPU time
outside the request itself: on every request and every response it re-examines each
pooled connection, asking anyio for the socket's attributes (a ``getpeername`` system
call) to check it is still readable, and it wraps each read and write in cancel scopes.
For an SDK whose jobs are a dozen small requests each, that cost is the client's
throughput. This transport keeps the same contract (an ``httpx.AsyncBaseTransport``:
requests in, responses out, httpx's exceptions) with less work per request:

* each connection is an ``asyncio.Protocol``, told by the event loop when the server
  closes it, so a pooled connection is known to be usable without a system call;
* the response is parsed as it arrives (status line, headers, a ``Content-Length`` or
  chunked body) and the waiting request is woken once, when the response is complete;
* idle connections wait in a last-in-first-out list per origin: taking and returning one
  is O(1).

Response bodies are read whole before the response is returned (the SDK reads every body
whole anyway); use httpx's own transport to stream. Only plain HTTP/1.1 is spoken: no
proxies (the connection mounts httpx's transport for those), no upgrades (the status
websockets use httpx's transport), and it needs an asyncio event loop: on any other (trio)
it hands every request to an ``httpx.AsyncHTTPTransport`` made with the same settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, Callable
from typing import Any, cast

import httpx

__all__ = ["ProtocolTransport", "SessionClient", "open_connection"]

_MAX_HEAD_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
_FORBIDDEN_IN_HEADERS = (b"\r", b"\n", b"\0")

Origin = tuple[str, str, int]


class _ResponseTooLarge(Exception):
    pass


class _HttpConnection(asyncio.Protocol):
    """One HTTP/1.1 connection; parses the response of the request in progress."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        on_lost: Callable[[_HttpConnection], None],
    ) -> None:
        self.loop = loop
        self.origin = origin
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._lost_error: BaseException | None = None
        self._eof = False
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._reset_response(head_only=False)

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._last_data = time.monotonic()
        if self._waiter is None:
            # Bytes while no request is waiting: the connection cannot be reused.
            self.reusable = False
            return
        self._buffer += data
        self._advance()

    def eof_received(self) -> bool:
        self._eof = True
        self.reusable = False
        self._advance()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self._eof = True
        self._lost_error = exc
        self._advance()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._on_lost(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # --- the exchange --------------------------------------------------------------------

    def _reset_response(self, *, head_only: bool) -> None:
        self._head_only = head_only
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: bytes | bytearray = b""
        self._body_mode = ""  # "", "length", "chunked", "close", "none"
        self._remaining = 0
        self._chunks = bytearray()
        self._failure: BaseException | None = None

    async def exchange(
        self, head: bytes, body: bytes | AsyncIterable[bytes], *, head_only: bool, timeouts: Any
    ) -> None:
        """Send one request and wait for its whole response (in ``status``, ``headers``,
        ``body``)."""
        transport = self.transport
        if transport is None or self.closed:
            raise httpx.ReadError("The connection is closed")
        self._reset_response(head_only=head_only)
        self._buffer.clear()
        waiter = self.loop.create_future()
        self._waiter = waiter
        self._last_data = time.monotonic()
        read_timeout = timeouts.get("read")
        try:
            if isinstance(body, bytes):
                if len(body) < 65536:
                    transport.write(head + body)
                else:
                    transport.write(head)
                    transport.write(body)
                await self._drain(timeouts.get("write"))
            else:
                transport.write(head)
                async for chunk in body:
                    if chunk:
                        transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await self._drain(timeouts.get("write"))
                transport.write(b"0\r\n\r\n")
                await self._drain(timeouts.get("write"))
            if read_timeout is not None:
                self._timer = self.loop.call_later(
                    read_timeout, self._check_read_timeout, read_timeout
                )
            await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiter = None
        if self._body_mode in ("close", "") or self._eof:
            self.reusable = False
        for name, value in self.headers:
            if name.lower() == b"connection" and value.lower() == b"close":
                self.reusable = False

    async def _drain(self, write_timeout: float | None) -> None:
        if self.closed:
            raise httpx.WriteError(f"The connection was closed while sending: {self._lost_error}")
        if not self._writing_paused:
            return
        self._drained = self.loop.create_future()
        try:
            await asyncio.wait_for(self._drained, write_timeout)
        except asyncio.TimeoutError:
            raise httpx.WriteTimeout("Timed out while sending the request") from None
        finally:
            self._drained = None
        if self.closed:
            raise httpx.WriteError(f"The connection was closed while sending: {self._lost_error}")

    def _check_read_timeout(self, read_timeout: float) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        idle = time.monotonic() - self._last_data
        if idle >= read_timeout:
            self.reusable = False
            waiter.set_exception(httpx.ReadTimeout("Timed out while reading the response"))
        else:
            self._timer = self.loop.call_later(
                read_timeout - idle, self._check_read_timeout, read_timeout
            )

    def _finish(self, failure: BaseException | None = None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if failure is None:
            waiter.set_result(None)
        else:
            self.reusable = False
            waiter.set_exception(failure)

    def _advance(self) -> None:
        """Parse what has arrived; complete the waiter once the response is whole."""
        if self._waiter is None or self._waiter.done():
            return
        try:
            while True:
                if not self._body_mode:
                    if not self._parse_head():
                        break
                    continue
                if self._parse_body():
                    self._finish()
                break
        except httpx.RemoteProtocolError as error:
            self._finish(error)
            return
        if self._eof and self._waiter is not None and not self._waiter.done():
            if self._body_mode == "close":
                self.body = bytes(self._buffer)
                self._finish()
            elif not self._body_mode and not self._buffer and self.status == 0:
                reason = f": {self._lost_error}" if self._lost_error else ""
                self._finish(
                    httpx.RemoteProtocolError(
                        f"Server disconnected without sending a response{reason}"
                    )
                )
            else:
                self._finish(
                    httpx.RemoteProtocolError("Server disconnected in the middle of a response")
                )

    def _parse_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("The response head is too large")
            return False
        lines = bytes(self._buffer[:end]).split(b"\r\n")
        del self._buffer[: end + 4]
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise httpx.RemoteProtocolError(f"Not an HTTP/1.1 status line: {lines[0][:80]!r}")
        try:
            status = int(status_line[1])
        except ValueError:
            raise httpx.RemoteProtocolError(f"Bad status code: {status_line[1][:20]!r}") from None
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise httpx.RemoteProtocolError(f"Malformed response header: {line[:80]!r}")
            headers.append((name, value.strip()))
        if 100 <= status < 200:
            if status == 101:
                raise httpx.RemoteProtocolError("Upgrades are not supported by this transport")
            return True  # an informational response: the real one follows
        if status_line[0] == b"HTTP/1.0":
            self.reusable = False
        self.status = status
        self.reason = status_line[2] if len(status_line) > 2 else b""
        self.headers = headers
        if self._head_only or status in _NO_BODY_STATUSES:
            self._body_mode = "none"
            return True
        length: int | None = None
        chunked = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif lowered == b"content-length":
                if not value.isdigit() or (length is not None and length != int(value)):
                    raise httpx.RemoteProtocolError(f"Bad Content-Length: {value[:30]!r}")
                length = int(value)
        if chunked:
            self._body_mode = "chunked"
        elif length is not None:
            self._body_mode = "length"
            self._remaining = length
        else:
            self._body_mode = "close"
        return True

    def _parse_body(self) -> bool:
        mode = self._body_mode
        if mode == "none":
            return True
        if mode == "length":
            if len(self._buffer) < self._remaining:
                return False
            if len(self._buffer) > self._remaining:
                self.reusable = False  # bytes beyond the response
            self.body = bytes(self._buffer[: self._remaining])
            return True
        if mode == "chunked":
            return self._parse_chunks()
        return False  # "close": complete at end of file

    def _parse_chunks(self) -> bool:
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > 1024:
                    raise httpx.RemoteProtocolError("Malformed chunk size line")
                return False
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"Bad chunk size: {size_text[:20]!r}") from None
            if size == 0:
                end = buffer.find(b"\r\n\r\n", line_end)  # after the trailers, if any
                if end < 0:
                    return False
                del buffer[: end + 4]
                self.body = bytes(self._chunks)
                self._chunks = bytearray()
                if buffer:
                    self.reusable = False
                return True
            if len(buffer) < line_end + 2 + size + 2:
                return False
            start = line_end + 2
            if buffer[start + size : start + size + 2] != b"\r\n":
                raise httpx.RemoteProtocolError("A chunk does not end with CRLF")
            self._chunks += buffer[start : start + size]
            del buffer[: start + size + 2]

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


async def open_connection(
    loop: asyncio.AbstractEventLoop,
    protocol: asyncio.Protocol,
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None,
    connect_timeout: float | None,
    request: httpx.Request | None = None,
) -> None:
    """Connect ``protocol`` to ``host:port`` (over TLS with ``tls``).

    Raises:
        httpx.ConnectTimeout: Not connected within ``connect_timeout`` seconds.
        httpx.ConnectError: The connection (or the TLS handshake) failed.
        Either way nothing was sent.
    """
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: protocol,
                host,
                port,
                ssl=tls,
                server_hostname=host if tls is not None else None,
            ),
            connect_timeout,
        )
    except asyncio.TimeoutError:
        raise httpx.ConnectTimeout(
            f"Timed out connecting to {host}:{port}", request=request
        ) from None
    except (OSError, ssl.SSLError) as error:
        raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from error


class ProtocolTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 for ``httpx.AsyncClient`` on asyncio protocols, with a LIFO keep-alive pool.

    Args:
        verify: Verify TLS certificates (``True``), not at all (``False``), or with this
            ``ssl.SSLContext``.
        limits: ``max_connections`` (in use and idle, all origins),
            ``max_keepalive_connections`` and ``keepalive_expiry``, as for httpx.
        trust_env: Read ``SSL_CERT_FILE`` and friends, as httpx does.

    Raises (from each request, as httpx's transport does): ``httpx.ConnectError`` /
    ``ConnectTimeout`` (nothing was sent), ``httpx.PoolTimeout`` (no connection became
    free in time; nothing was sent), ``httpx.WriteError`` / ``WriteTimeout``,
    ``httpx.ReadError`` / ``ReadTimeout`` and ``httpx.RemoteProtocolError``. A request
    is never sent twice by the transport.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
        trust_env: bool = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._verify = verify
        self._trust_env = trust_env
        self._limits = limits
        self._max_connections = limits.max_connections
        self._max_idle = (
            limits.max_keepalive_connections
            if limits.max_keepalive_connections is not None
            else 1 << 30
        )
        self._keepalive_expiry = (
            float("inf") if limits.keepalive_expiry is None else limits.keepalive_expiry
        )
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[_HttpConnection]] = {}
        self._idle_count = 0
        self._all: set[_HttpConnection] = set()
        self._opening = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._fallback: httpx.AsyncHTTPTransport | None = None
        self._closed = False

    @property
    def connection_count(self) -> int:
        """Open connections, in use and idle."""
        return len(self._all)

    @property
    def idle_connection_count(self) -> int:
        """Open connections waiting in the pool for a request."""
        return self._idle_count

    @property
    def waiting_count(self) -> int:
        """Requests waiting for a connection to become free."""
        return sum(not waiter.done() for waiter in self._slot_waiters)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(connections={len(self._all)}, idle={self._idle_count}, "
            f"limits={self._limits!r})"
        )

    # --- httpx.AsyncBaseTransport --------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return await self._fallback_transport().handle_async_request(request)
        if self._closed:
            raise RuntimeError("The transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: Origin = (url.scheme, url.host, port)
        timeouts = request.extensions.get("timeout", {})
        head, body = self._encode_request(request)
        head_only = request.method == "HEAD"
        connection = await self._acquire(loop, origin, timeouts, request)
        try:
            await connection.exchange(head, body, head_only=head_only, timeouts=timeouts)
        except httpx.TransportError as error:
            self._discard(connection)
            error.request = request
            raise
        except BaseException:
            self._discard(connection)
            raise
        response = httpx.Response(
            connection.status,
            headers=connection.headers,
            stream=httpx.ByteStream(bytes(connection.body)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": connection.reason},
            request=request,
        )
        self._release(connection)
        return response

    async def aclose(self) -> None:
        self._closed = True
        for connection in list(self._all):
            connection.close()
        self._all.clear()
        self._idle.clear()
        self._idle_count = 0
        for waiter in self._slot_waiters:
            if not waiter.done():
                waiter.set_exception(httpx.PoolTimeout("The transport was closed"))
        if self._fallback is not None:
            await self._fallback.aclose()

    # --- requests ------------------------------------------------------------------------

    @staticmethod
    def _encode_request(request: httpx.Request) -> tuple[bytes, bytes | AsyncIterable[bytes]]:
        lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        chunked = False
        for name, value in request.headers.raw:
            if any(bad in name or bad in value for bad in _FORBIDDEN_IN_HEADERS):
                raise httpx.LocalProtocolError(
                    f"Header {name!r} has a line break or NUL in its name or value",
                    request=request,
                )
            if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"\r\n")
        head = b"".join(lines)
        stream = request.stream
        if isinstance(stream, httpx.ByteStream) or not chunked:
            return head, request.content if isinstance(stream, httpx.ByteStream) else b""
        assert isinstance(stream, AsyncIterable)
        return head, stream

    # --- the pool ------------------------------------------------------------------------

    def _usable(self, connection: _HttpConnection, now: float) -> bool:
        return (
            connection.reusable
            and not connection.closed
            and now - connection.idle_since < self._keepalive_expiry
        )

    def _take_idle(self, origin: Origin) -> _HttpConnection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if self._usable(connection, now):
                return connection
            self._discard(connection)
        return None

    def _room(self) -> bool:
        if self._max_connections is None:
            return True
        if len(self._all) + self._opening < self._max_connections:
            return True
        # Make room by closing an idle connection to another origin, the oldest first.
        return self._close_oldest_idle()

    async def _acquire(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        timeouts: Any,
        request: httpx.Request,
    ) -> _HttpConnection:
        deadline: float | None = None
        while True:
            connection = self._take_idle(origin)
            if connection is not None:
                return connection
            if self._room():
                return await self._connect(loop, origin, timeouts, request)
            if deadline is None:
                pool_timeout = timeouts.get("pool")
                deadline = loop.time() + (float("inf") if pool_timeout is None else pool_timeout)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise httpx.PoolTimeout("No connection became free in time", request=request)
            waiter = loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, None if remaining == float("inf") else remaining)
            except asyncio.TimeoutError:
                raise httpx.PoolTimeout(
                    "No connection became free in time", request=request
                ) from None
            finally:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(waiter)

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        timeouts: Any,
        request: httpx.Request,
    ) -> _HttpConnection:
        scheme, host, port = origin
        connection = _HttpConnection(loop, origin, self._forget)
        self._opening += 1
        try:
            await open_connection(
                loop,
                connection,
                host,
                port,
                tls=self.ssl_context() if scheme == "https" else None,
                connect_timeout=timeouts.get("connect"),
                request=request,
            )
        except BaseException:
            connection.close()
            raise
        finally:
            self._opening -= 1
        self._all.add(connection)
        return connection

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of ``https`` connections (made on first use from ``verify``)."""
        if self._ssl_context is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._ssl_context = self._verify
            else:
                self._ssl_context = httpx.create_ssl_context(
                    verify=self._verify, trust_env=self._trust_env
                )
        return self._ssl_context

    def _release(self, connection: _HttpConnection) -> None:
        if self._closed or not connection.reusable or connection.closed:
            self._discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, []).append(connection)
        self._idle_count += 1
        if self._idle_count > self._max_idle:
            self._close_oldest_idle()
        self._wake_one()

    def _close_oldest_idle(self) -> bool:
        """Close the connection idle the longest; ``False`` if none is idle."""
        oldest: _HttpConnection | None = None
        for connections in self._idle.values():
            if connections and (oldest is None or connections[0].idle_since < oldest.idle_since):
                oldest = connections[0]
        if oldest is None:
            return False
        self._idle[oldest.origin].remove(oldest)
        self._idle_count -= 1
        self._discard(oldest)
        return True

    def _forget(self, connection: _HttpConnection) -> None:
        """A connection closed (by either side): drop it from the pool."""
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)
            self._idle_count -= 1
        self._discard(connection)

    def _discard(self, connection: _HttpConnection) -> None:
        connection.close()
        if connection in self._all:
            self._all.discard(connection)
            self._wake_one()

    def _wake_one(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _fallback_transport(self) -> httpx.AsyncHTTPTransport:
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(
                verify=self._verify, limits=self._limits, trust_env=self._trust_env
            )
        return self._fallback


class _CookiesFromSetCookie(httpx.Cookies):
    """Cookies that look at a response only when it sets some.

    httpx hands every response to the cookie jar, which builds urllib request and
    response stand-ins first; for an API that sets no cookies that was a tenth of a small
    request's CPU time.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class SessionClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose cookie jar skips responses without ``Set-Cookie``.

    httpx reads the jar through the ``cookies`` property only, which this class serves
    from a jar of its own.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _CookiesFromSetCookie(kwargs.pop("cookies", None))
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _CookiesFromSetCookie(cookies)
