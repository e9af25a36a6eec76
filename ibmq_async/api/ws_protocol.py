"""A websocket client on an asyncio protocol, for the job status websockets.

httpx-ws opens each websocket through httpcore's pool and runs it in an anyio task group
with a background reader; for a short job that is a fifth of the client's CPU time. The
status websocket needs little: the handshake, text frames both ways, answers to pings
and the close handshake. :func:`connect_websocket` does that with wsproto (which
httpx-ws uses too) on one asyncio protocol, and raises httpx-ws's exceptions
(``WebSocketUpgradeError``, ``WebSocketDisconnect``, ``WebSocketNetworkError``) so that
the status watcher handles both the same way. It needs an asyncio event loop and a
direct connection; the connection falls back to httpx-ws otherwise.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import cast

import httpx
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ibmq_async.api.transport import open_connection

__all__ = ["ProtocolWebSocket", "connect_websocket"]

_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class ProtocolWebSocket(asyncio.Protocol):
    """One client websocket; use :func:`connect_websocket`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._transport: asyncio.Transport | None = None
        self._messages: deque[TextMessage | BytesMessage] = deque()
        self._parts: list[str | bytes | bytearray] = []
        self._part_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._accepted: asyncio.Future[None] = loop.create_future()
        self._accepted.add_done_callback(_retrieve)
        self._reject_status = 0
        self._closed: WebSocketDisconnect | WebSocketNetworkError | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._ws.receive_data(data)
            for event in self._ws.events():
                self._handle(event)
        except RemoteProtocolError as error:
            self._end(WebSocketNetworkError(f"The server broke the websocket protocol: {error}"))
        self._wake()

    def eof_received(self) -> bool:
        self._end(WebSocketNetworkError("The server closed the connection"))
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._end(WebSocketNetworkError(f"The connection was lost{reason}"))
        self._wake()

    # --- events --------------------------------------------------------------------------

    def _handle(self, event: Event) -> None:
        if isinstance(event, AcceptConnection):
            if not self._accepted.done():
                self._accepted.set_result(None)
        elif isinstance(event, RejectConnection):
            self._reject_status = event.status_code
            if not event.has_body:
                self._reject()
        elif isinstance(event, RejectData):
            if event.body_finished:
                self._reject()
        elif isinstance(event, (TextMessage, BytesMessage)):
            self._part_bytes += len(event.data)
            if self._part_bytes > _MAX_MESSAGE_BYTES:
                self._end(WebSocketNetworkError("A websocket message is too large"))
                return
            self._parts.append(event.data)
            if event.message_finished:
                if isinstance(event, TextMessage):
                    text = "".join(cast(list[str], self._parts))
                    self._messages.append(TextMessage(data=text))
                else:
                    data = b"".join(cast(list[bytes | bytearray], self._parts))
                    self._messages.append(BytesMessage(data=data))
                self._parts, self._part_bytes = [], 0
        elif isinstance(event, Ping):
            self._write(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self._write(self._ws.send(event.response()))
            self._end(WebSocketDisconnect(event.code, event.reason or None))
            if self._transport is not None:
                self._transport.close()

    def _reject(self) -> None:
        if not self._accepted.done():
            response = httpx.Response(self._reject_status or 500)
            self._accepted.set_exception(WebSocketUpgradeError(response))
        if self._transport is not None:
            self._transport.close()

    def _end(self, reason: WebSocketDisconnect | WebSocketNetworkError) -> None:
        if self._closed is None:
            self._closed = reason
        if not self._accepted.done():
            if isinstance(reason, WebSocketNetworkError) and self._reject_status:
                self._reject()
            else:
                self._accepted.set_exception(reason)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # --- the session ---------------------------------------------------------------------

    async def _handshake(
        self, host: str, target: str, headers: Sequence[tuple[bytes, bytes]], timeout: float
    ) -> None:
        self._write(self._ws.send(Request(host=host, target=target, extra_headers=list(headers))))
        try:
            await asyncio.wait_for(asyncio.shield(self._accepted), timeout)
        except asyncio.TimeoutError:
            raise WebSocketNetworkError("Timed out waiting for the websocket upgrade") from None

    async def send_text(self, text: str) -> None:
        """Send a text message.

        Raises:
            WebSocketDisconnect: The server closed the websocket.
            WebSocketNetworkError: The connection is gone.
        """
        if self._closed is not None:
            raise self._closed
        try:
            self._write(self._ws.send(TextMessage(data=text)))
        except LocalProtocolError as error:
            raise WebSocketNetworkError(f"The websocket cannot send: {error}") from error

    async def receive(self, timeout: float | None = None) -> TextMessage | BytesMessage:
        """The next whole message (``TextMessage`` or ``BytesMessage``).

        Raises:
            TimeoutError: No message within ``timeout`` seconds.
            WebSocketDisconnect: The server closed the websocket (its code and reason).
            WebSocketNetworkError: The connection is gone.
        """
        while not self._messages:
            if self._closed is not None:
                raise self._closed
            waiter = self._waiter = self._loop.create_future()
            try:
                await asyncio.wait_for(waiter, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"No websocket message within {timeout} s") from None
            finally:
                self._waiter = None
        return self._messages.popleft()

    def close(self, code: int = 1000) -> None:
        """Start the close handshake (if the websocket is open) and close the connection."""
        if self._closed is None:
            self._closed = WebSocketDisconnect(code)
            with suppress(LocalProtocolError):
                self._write(self._ws.send(CloseConnection(code=code)))
        if self._transport is not None:
            self._transport.close()


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # seen, whether or not the handshake was still waiting for it


@asynccontextmanager
async def connect_websocket(
    url: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    timeout: httpx.Timeout,
    ssl_context: Callable[[], ssl.SSLContext],
) -> AsyncIterator[ProtocolWebSocket]:
    """Open a websocket (``ws://`` or ``wss://``) and close it on exit.

    Args:
        url: The websocket URL.
        headers: Extra handshake headers.
        timeout: ``connect`` bounds the TCP (and TLS) connection, ``read`` the upgrade.
        ssl_context: Gives the TLS context for ``wss://``.

    Raises:
        httpx.ConnectError / httpx.ConnectTimeout: The connection failed.
        WebSocketUpgradeError: The server answered the upgrade with another status.
        WebSocketNetworkError: The connection failed during the upgrade.
    """
    parsed = httpx.URL(url)
    secure = parsed.scheme in ("wss", "https")
    port = parsed.port or (443 if secure else 80)
    host = parsed.host
    loop = asyncio.get_running_loop()
    websocket = ProtocolWebSocket(loop)
    await open_connection(
        loop,
        websocket,
        host,
        port,
        tls=ssl_context() if secure else None,
        connect_timeout=timeout.connect,
    )
    try:
        name = f"[{host}]" if ":" in host else host
        authority = name if parsed.port is None else f"{name}:{port}"
        target = parsed.raw_path.decode("ascii")
        await websocket._handshake(authority, target, headers, timeout.read or 60.0)
        yield websocket
    finally:
        websocket.close()
