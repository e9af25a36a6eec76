"""The asyncio websocket client against a real websocket server (the websockets package)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from wsproto.events import BytesMessage, TextMessage

from ibmq_async.api.ws_protocol import ProtocolWebSocket, connect_websocket

TIMEOUT = httpx.Timeout(5.0)

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def server(
    handler: Handler, process_request: Callable[..., Any] | None = None, **options: Any
) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, process_request=process_request, **options) as ws:
        port = next(iter(ws.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/jobs/j1/status/v/1"


def no_tls() -> ssl.SSLContext:
    raise AssertionError("no TLS for ws://")


@asynccontextmanager
async def connected(handler: Handler, **options: Any) -> AsyncIterator[ProtocolWebSocket]:
    async with (
        server(handler, **options) as url,
        connect_websocket(url, timeout=TIMEOUT, ssl_context=no_tls) as websocket,
    ):
        yield websocket


@pytest.mark.asyncio
async def test_text_both_ways_headers_and_a_normal_close() -> None:
    seen: dict[str, Any] = {}

    async def echo(connection: ServerConnection) -> None:
        seen["path"] = connection.request.path if connection.request else None
        seen["app"] = connection.request.headers.get("x-app") if connection.request else None
        async for message in connection:
            await connection.send(f"echo {message}")

    async with (
        server(echo) as url,
        connect_websocket(
            url, headers=[(b"x-app", b"tests")], timeout=TIMEOUT, ssl_context=no_tls
        ) as websocket,
    ):
        await websocket.send_text("hello")
        reply = await websocket.receive(timeout=5)
        assert isinstance(reply, TextMessage)
        assert reply.data == "echo hello"
    assert seen == {"path": "/jobs/j1/status/v/1", "app": "tests"}


@pytest.mark.asyncio
async def test_a_server_close_code_reaches_the_receiver() -> None:
    async def done(connection: ServerConnection) -> None:
        await connection.send('{"type": "job-status"}')
        await connection.close(4002, "job done")

    async with connected(done) as websocket:
        first = await websocket.receive(timeout=5)
        assert first.data == '{"type": "job-status"}'
        with pytest.raises(WebSocketDisconnect) as closed:
            await websocket.receive(timeout=5)
        assert closed.value.code == 4002
        assert closed.value.reason == "job done"
        with pytest.raises(WebSocketDisconnect):
            await websocket.send_text("too late")


@pytest.mark.asyncio
async def test_fragmented_and_binary_messages_are_reassembled() -> None:
    async def fragments(connection: ServerConnection) -> None:
        await connection.send(iter(["par", "tial ", "message"]))
        await connection.send(b"\x00\x01bytes")
        await connection.wait_closed()

    async with connected(fragments) as websocket:
        text = await websocket.receive(timeout=5)
        assert isinstance(text, TextMessage)
        assert text.data == "partial message"
        data = await websocket.receive(timeout=5)
        assert isinstance(data, BytesMessage)
        assert data.data == b"\x00\x01bytes"


@pytest.mark.asyncio
async def test_pings_are_answered_so_the_server_keeps_the_connection() -> None:
    async def quiet(connection: ServerConnection) -> None:
        await asyncio.sleep(0.6)  # several ping intervals
        await connection.send("still here")

    async with connected(quiet, ping_interval=0.1, ping_timeout=0.2) as websocket:
        assert (await websocket.receive(timeout=5)).data == "still here"


@pytest.mark.asyncio
async def test_a_silent_server_times_out_the_receive_only() -> None:
    async def silent(connection: ServerConnection) -> None:
        await asyncio.sleep(0.3)
        await connection.send("late")

    async with connected(silent) as websocket:
        with pytest.raises(TimeoutError):
            await websocket.receive(timeout=0.05)
        assert (await websocket.receive(timeout=5)).data == "late"


@pytest.mark.asyncio
async def test_a_refused_upgrade_says_the_status() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return Response(403, "Forbidden", Headers([("Content-Length", "6")]), b"denied")

    async def never(connection: ServerConnection) -> None:
        raise AssertionError("not upgraded")

    async with server(never, process_request=refuse) as url:
        with pytest.raises(WebSocketUpgradeError) as refused:
            async with connect_websocket(url, timeout=TIMEOUT, ssl_context=no_tls):
                pass
        assert refused.value.response.status_code == 403


@pytest.mark.asyncio
async def test_a_dropped_connection_is_a_network_error() -> None:
    async def drop(connection: ServerConnection) -> None:
        connection.transport.abort()

    async with connected(drop) as websocket:
        with pytest.raises(WebSocketNetworkError):
            await websocket.receive(timeout=5)


@pytest.mark.asyncio
async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        async with connect_websocket(
            f"ws://127.0.0.1:{port}/x", timeout=TIMEOUT, ssl_context=no_tls
        ):
            pass


@pytest.mark.asyncio
async def test_a_server_that_never_upgrades_times_out() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    listener = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(WebSocketNetworkError, match="upgrade"):
            async with connect_websocket(
                f"ws://127.0.0.1:{port}/x",
                timeout=httpx.Timeout(5.0, read=0.2),
                ssl_context=no_tls,
            ):
                pass
    finally:
        listener.close()
