"""The HTTP stack the SDK uses, on each event loop, against servers that answer on demand.

On asyncio a connection's REST calls go through aiohttp under httpx
(:class:`~ibmq_async.api.aiohttp_transport.AiohttpTransport`) and its websockets through
aiohttp's ``ws_connect``; on trio through httpx's own transport and httpx-ws. Every test
here runs on both, built exactly as ``Connection.connect`` builds it, so each behaviour is
proven for both stacks: keep-alive and its limits, timeouts, cookies, gzip, what a broken
or cut-off exchange means for a retry (only a failure to connect says *not sent*), and the
status websocket's frames, closes and refusals.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import httpx
import pytest
from asgi_server import served
from raw_http import RawRequest, echo, raw_server, response
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ibmq_async.api.retry import NOT_SENT_EXCEPTIONS
from ibmq_async.api.session import ApiClient
from ibmq_async.api.transports import (
    DEFAULT_LIMITS,
    Network,
    ProxyRoutes,
    SocketClosed,
    StatusSocket,
    open_network,
)
from ibmq_async.exceptions import WebsocketError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def sdk_client(
    limits: httpx.Limits = DEFAULT_LIMITS, *, read: float = 5.0, pool: float = 5.0
) -> AsyncIterator[tuple[httpx.AsyncClient, Network]]:
    """The REST client of a connection on the running loop, with no proxies."""
    timeout = httpx.Timeout(5.0, read=read, pool=pool)
    network = open_network(
        limits=limits, routes=ProxyRoutes(None, environment=False), timeout=timeout
    )
    assert network.kind == ("aiohttp" if _on_asyncio() else "httpx")
    client = ApiClient(transport=network.rest, timeout=timeout)
    try:
        yield client, network
    finally:
        await client.aclose()
        await network.aclose()


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- requests and responses ------------------------------------------------------------------


async def test_requests_round_trip_and_reuse_one_connection() -> None:
    async with raw_server(echo) as server, sdk_client() as (http, _):
        for path in ("/a", "/b", "/c"):
            answer = await http.get(f"{server.url}{path}")
            assert answer.text == f"GET {path} 0"
        posted = await http.post(server.url, content=b"12345")
        assert posted.text == "POST / 5"
        assert server.connections == 1


async def test_concurrent_requests_stay_within_the_connection_limit() -> None:
    async def slow(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await anyio.sleep(0.05)
        await echo(request, stream)

    limits = httpx.Limits(max_connections=3, keepalive_expiry=5.0)
    async with raw_server(slow) as server, sdk_client(limits) as (http, _):
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(http.get, server.url)
        assert server.most_in_progress == 3
        assert server.connections == 3


async def test_gzip_bodies_are_decoded() -> None:
    async def zipped(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        body = gzip.compress(b'{"zipped": true}')
        await stream.send(response(200, body, "Content-Encoding: gzip"))

    async with raw_server(zipped) as server, sdk_client() as (http, _):
        answer = await http.get(server.url)
        assert answer.json() == {"zipped": True}
        assert "gzip" in server.requests[0].headers["accept-encoding"]


async def test_cookies_that_servers_set_are_sent_back() -> None:
    async def affinity(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        extra = ["Set-Cookie: affinity=node-7; Path=/"] if request.target == "/set" else []
        await stream.send(response(200, request.headers.get("cookie", "-").encode(), *extra))

    async with raw_server(affinity) as server, sdk_client() as (http, _):
        assert (await http.get(f"{server.url}/before")).text == "-"
        assert (await http.get(f"{server.url}/set")).text == "-"
        assert (await http.get(f"{server.url}/after")).text == "affinity=node-7"
        assert http.cookies["affinity"] == "node-7"


# --- the pool ----------------------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def answer_then_close(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await echo(request, stream)
        await stream.aclose()

    async with raw_server(answer_then_close) as server, sdk_client() as (http, _):
        await http.get(server.url)
        await anyio.sleep(0.1)  # the close reaches the client
        answer = await http.post(server.url, content=b"not twice")
        assert answer.text == "POST / 9"
        assert server.connections == 2
        assert [r.method for r in server.requests] == ["GET", "POST"]


async def test_idle_connections_expire() -> None:
    limits = httpx.Limits(max_connections=10, keepalive_expiry=0.2)
    async with raw_server(echo) as server, sdk_client(limits) as (http, _):
        await http.get(server.url)
        await http.get(server.url)
        assert server.connections == 1
        await anyio.sleep(0.5)
        await http.get(server.url)
        assert server.connections == 2


async def test_a_full_pool_makes_requests_wait_then_time_out_unsent() -> None:
    release = anyio.Event()

    async def held(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        if request.target == "/hold":
            await release.wait()
        await echo(request, stream)

    limits = httpx.Limits(max_connections=1, keepalive_expiry=5.0)
    async with raw_server(held) as server, sdk_client(limits, pool=0.2) as (http, _):
        answers: list[str] = []

        async def get(path: str) -> None:
            answers.append((await http.get(f"{server.url}{path}")).text)

        async with anyio.create_task_group() as group:
            group.start_soon(get, "/hold")
            await anyio.sleep(0.05)
            with pytest.raises(httpx.TimeoutException) as waited:
                await http.get(server.url)
            assert isinstance(waited.value, NOT_SENT_EXCEPTIONS)  # it never left
            group.start_soon(get, "/after")
            await anyio.sleep(0.05)
            release.set()
        assert sorted(answers) == ["GET /after 0", "GET /hold 0"]
        assert [r.target for r in server.requests] == ["/hold", "/after"]


async def test_a_cancelled_request_closes_its_connection() -> None:
    async def silent(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        if request.target == "/silent":
            await anyio.sleep(10)
        await echo(request, stream)

    async with raw_server(silent) as server, sdk_client() as (http, _):
        with anyio.move_on_after(0.1):
            await http.get(f"{server.url}/silent")
        assert (await http.get(f"{server.url}/next")).text == "GET /next 0"
        assert server.connections == 2


async def test_a_closed_client_refuses_requests() -> None:
    async with raw_server(echo) as server, sdk_client() as (http, _):
        await http.get(server.url)
        await http.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await http.get(server.url)


# --- failures: what may have reached the server ---------------------------------------------


async def test_connect_errors_mean_nothing_was_sent() -> None:
    port = free_port()
    async with sdk_client() as (http, _):
        with pytest.raises(httpx.ConnectError) as error:
            await http.post(f"http://127.0.0.1:{port}/", content=b"x")
        assert isinstance(error.value, NOT_SENT_EXCEPTIONS)
        assert error.value.request.url.port == port


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_disconnect_after_the_request_was_written_is_not_called_unsent(
    method: str,
) -> None:
    async def read_then_close(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await stream.aclose()

    async with raw_server(read_then_close) as server, sdk_client() as (http, _):
        with pytest.raises(httpx.TransportError) as error:
            await http.request(method, server.url, content=b"job")
        assert not isinstance(error.value, NOT_SENT_EXCEPTIONS)
        assert len(server.requests) == 1  # the stack itself sent it once, and not again


async def test_a_silent_server_raises_a_read_timeout_that_may_have_been_sent() -> None:
    async def silent(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await stream.send(b"HTTP/1.1 200 OK\r\n")  # then nothing
        await anyio.sleep(10)

    async with raw_server(silent) as server, sdk_client(read=0.2) as (http, _):
        with pytest.raises(httpx.ReadTimeout) as error:
            await http.post(server.url, content=b"x")
        assert not isinstance(error.value, NOT_SENT_EXCEPTIONS)


async def test_a_slow_but_steady_response_does_not_time_out() -> None:
    async def steady(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for byte in b"x" * 10:
            await anyio.sleep(0.05)
            await stream.send(bytes([byte]))

    async with raw_server(steady) as server, sdk_client(read=0.25) as (http, _):
        assert (await http.get(server.url)).content == b"x" * 10  # 0.5 s in all


@pytest.mark.parametrize(
    "written",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["nothing", "short-body", "not-http", "bad-status", "bad-length", "bad-header", "chunk"],
)
async def test_broken_responses_are_errors_that_may_have_been_sent(written: bytes) -> None:
    async def broken(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        if request.target == "/broken":
            await stream.send(written)
            await stream.aclose()
            return
        await echo(request, stream)

    async with raw_server(broken) as server, sdk_client() as (http, _):
        with pytest.raises(httpx.TransportError) as error:
            await http.get(f"{server.url}/broken")
        assert not isinstance(error.value, NOT_SENT_EXCEPTIONS)
        assert (await http.get(f"{server.url}/next")).text == "GET /next 0"


async def test_a_response_framed_two_ways_is_read_by_its_chunks_or_refused() -> None:
    both = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )

    async def ambiguous(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
        await stream.send(both if request.target == "/both" else response(200, b"ok"))

    async with raw_server(ambiguous) as server, sdk_client() as (http, _):
        refused: httpx.TransportError | None = None
        try:
            answer = await http.get(f"{server.url}/both")
        except httpx.TransportError as error:  # aiohttp (llhttp) refuses it
            refused = error
        if refused is None:  # h11 reads it by its chunks, as RFC 9112 says
            assert answer.content == b"abc"
        else:
            assert not isinstance(refused, NOT_SENT_EXCEPTIONS)
        assert (await http.get(f"{server.url}/next")).text == "ok"


async def test_line_breaks_in_headers_are_refused_before_sending() -> None:
    async with raw_server(echo) as server, sdk_client() as (http, _):
        with pytest.raises((httpx.LocalProtocolError, httpx.ProtocolError)):
            await http.get(server.url, headers={"X-Evil": "a\r\nX-Injected: 1"})
        assert server.requests == []


async def test_unsupported_schemes_are_refused() -> None:
    async with sdk_client() as (http, _):
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://example.com/")


# --- status websockets ---------------------------------------------------------------------


class Endpoint:
    """A websocket endpoint a test scripts: ``mode`` says what it does."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.headers: dict[str, str] = {}
        self.received: list[str] = []

    async def __call__(self, websocket: WebSocket) -> None:
        self.headers = dict(websocket.headers)
        if self.mode == "refuse":
            await websocket.close(code=1008)
            return
        await websocket.accept()
        self.received.append(await websocket.receive_text())
        if self.mode == "silent-then-answer":
            await anyio.sleep(0.4)
        if self.mode == "binary":
            await websocket.send_bytes(b'{"binary": true}')
        else:
            await websocket.send_text(json.dumps({"echo": self.received[-1]}))
        if self.mode == "ping-wait":
            await anyio.sleep(0.6)
            await websocket.send_text("still here")
        await websocket.close(code=4002)


@asynccontextmanager
async def websocket_endpoint(mode: str, **config: object) -> AsyncIterator[tuple[str, Endpoint]]:
    endpoint = Endpoint(mode)

    async def route(websocket: WebSocket) -> None:
        await endpoint(websocket)

    app = Starlette(routes=[WebSocketRoute("/ws", route)])
    with served(app, **config) as address:
        yield f"ws://{address}/ws", endpoint


@asynccontextmanager
async def socket_to(mode: str, **config: object) -> AsyncIterator[tuple[StatusSocket, Endpoint]]:
    """A status socket of the running loop's stack, open on an endpoint in ``mode``."""
    async with (
        websocket_endpoint(mode, **config) as (url, endpoint),
        sdk_client() as (_, network),
        network.websocket(
            url, headers={"X-Test": "1"}, ping_interval=None, timeout=httpx.Timeout(5.0)
        ) as ws,
    ):
        yield ws, endpoint


async def test_a_websocket_carries_text_both_ways_and_the_close_code() -> None:
    async with socket_to("echo") as (ws, endpoint):
        await ws.send_text("hello")
        assert json.loads(await ws.receive_text(5.0)) == {"echo": "hello"}
        with pytest.raises(SocketClosed) as closed:
            await ws.receive_text(5.0)
    assert closed.value.code == 4002
    assert endpoint.headers["x-test"] == "1"


async def test_binary_frames_are_read_as_text() -> None:
    async with socket_to("binary") as (ws, _):
        await ws.send_text("x")
        assert json.loads(await ws.receive_text(5.0)) == {"binary": True}


async def test_a_silent_websocket_times_out_the_receive_only() -> None:
    async with socket_to("silent-then-answer") as (ws, _):
        await ws.send_text("wait")
        with pytest.raises(TimeoutError):
            await ws.receive_text(0.1)
        assert json.loads(await ws.receive_text(5.0)) == {"echo": "wait"}


async def test_server_pings_are_answered_so_the_server_keeps_the_socket() -> None:
    async with socket_to("ping-wait", ws_ping_interval=0.1, ws_ping_timeout=0.2) as (ws, _):
        await ws.send_text("x")
        await ws.receive_text(5.0)
        assert await ws.receive_text(5.0) == "still here"


async def test_a_refused_upgrade_says_the_status() -> None:
    async with websocket_endpoint("refuse") as (url, _), sdk_client() as (_, network):
        with pytest.raises(WebsocketError, match="HTTP 403"):
            async with network.websocket(
                url, headers={}, ping_interval=None, timeout=httpx.Timeout(5.0)
            ):
                pass


async def test_a_websocket_with_nothing_listening_is_a_websocket_error() -> None:
    async with sdk_client() as (_, network):
        with pytest.raises(WebsocketError, match="could not be opened"):
            async with network.websocket(
                f"ws://127.0.0.1:{free_port()}/ws",
                headers={},
                ping_interval=None,
                timeout=httpx.Timeout(2.0),
            ):
                pass


def test_importing_the_sdk_loads_neither_network_stack() -> None:
    """aiohttp and httpx-ws are imported by the first connection that needs them."""
    import subprocess
    import sys

    code = (
        "import sys, ibmq_async\n"
        "print(sorted(m for m in ('aiohttp', 'httpx_ws', 'wsproto') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
