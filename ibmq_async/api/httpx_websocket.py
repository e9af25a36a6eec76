"""Status websockets on any event loop (trio): httpx-ws on an ``httpx.AsyncClient``.

:mod:`ibmq_async.api.transports` imports this module only when a connection needs it, so
``import ibmq_async`` does not import httpx-ws.
"""

# Websocket receives take their timeout as an argument.
from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_ws import (
    HTTPXWSException,
    WebSocketDisconnect,
    WebSocketUpgradeError,
    aconnect_ws,
)
from wsproto.events import BytesMessage, TextMessage

from ibmq_async.api.transports import MAX_MESSAGE_BYTES, SocketClosed, StatusSocket, upgrade_refused
from ibmq_async.exceptions import WebsocketError

__all__ = ["open_websocket"]


class _HttpxWsSocket:
    """A :class:`~ibmq_async.api.transports.StatusSocket` on an httpx-ws session."""

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


@asynccontextmanager
async def open_websocket(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    ping_interval: float | None,
    timeout: httpx.Timeout,
) -> AsyncIterator[StatusSocket]:
    """A websocket through ``client`` (closed on exit).

    Raises (on entering):
        WebsocketError: The server refused the upgrade, or it could not be reached.
    """
    opening: Any = aconnect_ws(
        url,
        client,
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
        raise upgrade_refused(exc.response.status_code) from exc
    except httpx.TransportError as exc:
        raise WebsocketError(f"The status websocket could not be opened: {exc!r}") from exc
