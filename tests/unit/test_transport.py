"""ProtocolTransport against a raw TCP server that answers exactly what each test scripts.

The server reads each request (head, then a ``Content-Length`` or chunked body) and hands
it to the test's handler, which writes whatever bytes it likes: split responses, chunked
bodies with trailers, early closes, silence. It counts the TCP connections it accepted,
so keep-alive reuse is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx
import pytest

from ibmq_async.api.transport import ProtocolTransport, SessionClient


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    handler: Handler
    port: int = 0
    connections: int = 0
    requests: list[RawRequest] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                await self.handler(request, writer)
                if writer.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return RawRequest(method, target, headers, body)


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[RawServer]:
    state = RawServer(handler)
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        for writer in state.writers:
            writer.close()
        server.close()
        await server.wait_closed()


def response(status: int, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    body = f"{request.method} {request.target} {len(request.body)}".encode()
    writer.write(response(200, body, "Content-Type: text/plain"))
    await writer.drain()


@asynccontextmanager
async def client(
    limits: httpx.Limits | None = None, read_timeout: float = 5.0
) -> AsyncIterator[tuple[httpx.AsyncClient, ProtocolTransport]]:
    transport = ProtocolTransport(limits=limits)
    async with httpx.AsyncClient(transport=transport, timeout=read_timeout) as http:
        yield http, transport


# --- requests and responses ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_requests_round_trip_and_reuse_one_connection() -> None:
    async with raw_server(echo) as server, client() as (http, transport):
        answers = [
            await http.get(f"{server.url}/a?x=1"),
            await http.post(f"{server.url}/b", content=b"hello"),
            await http.put(f"{server.url}/c", json={"k": "v"}),
            await http.delete(f"{server.url}/d"),
        ]
        assert [a.text for a in answers] == ["GET /a?x=1 0", "POST /b 5", "PUT /c 9", "DELETE /d 0"]
        assert all(a.status_code == 200 and a.http_version == "HTTP/1.1" for a in answers)
        assert server.connections == 1
        assert server.requests[1].body == b"hello"
        assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
        assert transport.connection_count == 1
        assert transport.idle_connection_count == 1


@pytest.mark.asyncio
async def test_concurrent_requests_use_several_connections_within_the_limit() -> None:
    async def slow(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        await echo(request, writer)

    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with raw_server(slow) as server, client(limits) as (http, transport):
        answers = await asyncio.gather(*(http.get(f"{server.url}/{i}") for i in range(20)))
        assert [a.text for a in answers] == [f"GET /{i} 0" for i in range(20)]
        assert server.connections == 4
        assert transport.connection_count == 4


@pytest.mark.asyncio
async def test_a_response_split_into_single_bytes_is_parsed() -> None:
    async def trickle(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        for byte in response(201, b'{"a": 1}', "X-Thing: yes"):
            writer.write(bytes([byte]))
            await writer.drain()

    async with raw_server(trickle) as server, client() as (http, _):
        answer = await http.get(server.url)
        assert answer.status_code == 201
        assert answer.json() == {"a": 1}
        assert answer.headers["x-thing"] == "yes"


@pytest.mark.asyncio
async def test_chunked_bodies_with_extensions_and_trailers() -> None:
    async def chunked(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        await writer.drain()

    async with raw_server(chunked) as server, client() as (http, _):
        assert (await http.get(server.url)).text == "hello world"
        assert (await http.get(server.url)).text == "hello world"
        assert server.connections == 1


@pytest.mark.asyncio
async def test_a_chunked_request_body_is_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b""
        yield b"defg"

    async with raw_server(echo) as server, client() as (http, _):
        answer = await http.post(server.url, content=parts())
        assert answer.text == "POST / 7"
        assert server.requests[0].body == b"abcdefg"


@pytest.mark.asyncio
async def test_large_bodies_both_ways() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def mirror(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, request.body))
        await writer.drain()

    async with raw_server(mirror) as server, client() as (http, _):
        answer = await http.put(server.url, content=payload)
        assert answer.content == payload


@pytest.mark.asyncio
async def test_a_body_delimited_by_close_and_http_1_0_are_not_reused() -> None:
    async def close_delimited(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async with raw_server(close_delimited) as server, client() as (http, transport):
        assert (await http.get(server.url)).text == "until the end"
        assert (await http.get(server.url)).text == "until the end"
        assert server.connections == 2
        assert transport.connection_count == 0


@pytest.mark.asyncio
async def test_connection_close_is_honoured() -> None:
    async def closing(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, b"bye", "Connection: close"))
        await writer.drain()

    async with raw_server(closing) as server, client() as (http, transport):
        await http.get(server.url)
        await http.get(server.url)
        assert server.connections == 2
        assert transport.connection_count == 0


@pytest.mark.asyncio
async def test_head_204_304_and_informational_responses() -> None:
    async def various(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.method == "HEAD":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        elif request.target == "/204":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif request.target == "/304":
            writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, b"after"))
        await writer.drain()

    async with raw_server(various) as server, client() as (http, _):
        head = await http.head(server.url)
        assert head.status_code == 200
        assert head.content == b""
        assert (await http.get(f"{server.url}/204")).status_code == 204
        assert (await http.get(f"{server.url}/304")).status_code == 304
        assert (await http.get(f"{server.url}/100")).text == "after"
        assert server.connections == 1


@pytest.mark.asyncio
async def test_gzip_bodies_are_decoded_by_httpx() -> None:
    async def zipped(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, gzip.compress(b'{"zipped": true}'), "Content-Encoding: gzip"))
        await writer.drain()

    async with raw_server(zipped) as server, client() as (http, _):
        assert (await http.get(server.url)).json() == {"zipped": True}


# --- the pool ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def answer_then_close(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await echo(request, writer)
        await asyncio.sleep(0.01)
        writer.close()

    async with raw_server(answer_then_close) as server, client() as (http, transport):
        await http.get(server.url)
        await asyncio.sleep(0.1)  # the close reaches the client
        assert transport.connection_count == 0  # forgotten as soon as it closed
        answer = await http.post(server.url, content=b"not twice")
        assert answer.text == "POST / 9"
        assert server.connections == 2
        assert [r.method for r in server.requests] == ["GET", "POST"]


@pytest.mark.asyncio
async def test_idle_connections_expire_and_their_number_is_capped() -> None:
    async def slow(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        await echo(request, writer)

    limits = httpx.Limits(max_connections=10, max_keepalive_connections=3, keepalive_expiry=0.2)
    async with raw_server(slow) as server, client(limits) as (http, transport):
        await asyncio.gather(*(http.get(server.url) for _ in range(6)))
        assert server.connections == 6
        assert transport.idle_connection_count == 3
        await asyncio.sleep(0.3)
        await http.get(server.url)
        assert server.connections == 7
        assert transport.connection_count == 1


@pytest.mark.asyncio
async def test_a_full_pool_makes_requests_wait_then_time_out() -> None:
    release = asyncio.Event()

    async def held(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/hold":
            await release.wait()
        await echo(request, writer)

    limits = httpx.Limits(max_connections=1)
    async with raw_server(held) as server, client(limits) as (http, transport):
        holding = asyncio.create_task(http.get(f"{server.url}/hold"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(server.url, timeout=httpx.Timeout(5.0, pool=0.1))
        waiting = asyncio.create_task(http.get(f"{server.url}/after"))
        await asyncio.sleep(0.05)
        assert transport.waiting_count == 1
        release.set()
        assert (await holding).text == "GET /hold 0"
        assert (await waiting).text == "GET /after 0"
        assert server.connections == 1


@pytest.mark.asyncio
async def test_a_cancelled_request_closes_its_connection() -> None:
    async def silent(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        if request.target == "/silent":
            await asyncio.sleep(10)
        await echo(request, writer)

    async with raw_server(silent) as server, client() as (http, transport):
        with anyio.move_on_after(0.1):
            await http.get(f"{server.url}/silent")
        assert transport.connection_count == 0
        assert (await http.get(f"{server.url}/next")).text == "GET /next 0"


# --- failures ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_errors_mean_nothing_was_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client() as (http, _):
        with pytest.raises(httpx.ConnectError) as error:
            await http.get(f"http://127.0.0.1:{port}/")
        assert error.value.request.url.port == port


@pytest.mark.asyncio
async def test_a_silent_server_raises_read_timeout() -> None:
    async def silent(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")  # then nothing
        await asyncio.sleep(10)

    async with raw_server(silent) as server, client(read_timeout=0.2) as (http, transport):
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url)
        assert transport.connection_count == 0


@pytest.mark.asyncio
async def test_a_slow_but_steady_response_does_not_time_out() -> None:
    async def steady(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        body = b"x" * 10
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for byte in body:
            await asyncio.sleep(0.05)
            writer.write(bytes([byte]))
            await writer.drain()

    async with raw_server(steady) as server, client(read_timeout=0.2) as (http, _):
        assert (await http.get(server.url)).content == b"x" * 10  # 0.5 s in all


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("written", "message"),
    [
        (b"", "without sending a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "in the middle of a response"),
        (b"SMTP ready\r\n\r\n", "Not an HTTP/1.1 status line"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "Bad status code"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "Malformed response header"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "Bad chunk size"),
        (b"HTTP/1.1 101 Switching\r\n\r\n", "Upgrades are not supported"),
    ],
)
async def test_broken_responses_raise_remote_protocol_error(written: bytes, message: str) -> None:
    async def broken(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(written)
        await writer.drain()
        writer.close()

    async with raw_server(broken) as server, client() as (http, transport):
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            await http.get(server.url)
        assert transport.connection_count == 0


@pytest.mark.asyncio
async def test_line_breaks_in_headers_are_refused_before_sending() -> None:
    async with raw_server(echo) as server, client() as (http, _):
        with pytest.raises(httpx.LocalProtocolError):
            await http.get(server.url, headers={"X-Evil": "a\r\nX-Injected: 1"})
        assert server.requests == []


@pytest.mark.asyncio
async def test_unsupported_schemes_are_refused() -> None:
    transport = ProtocolTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example.com/"))
    await transport.aclose()


@pytest.mark.asyncio
async def test_a_closed_transport_closes_its_connections_and_refuses_requests() -> None:
    async with raw_server(echo) as server:
        transport = ProtocolTransport()
        http = httpx.AsyncClient(transport=transport)
        await http.get(server.url)
        assert transport.connection_count == 1
        await http.aclose()
        assert transport.connection_count == 0
        with pytest.raises(RuntimeError, match="closed"):
            await transport.handle_async_request(httpx.Request("GET", server.url))


# --- other event loops ---------------------------------------------------------------------


def test_on_trio_requests_go_through_httpx_own_transport() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    async def fetch() -> tuple[str, bool]:
        transport = ProtocolTransport()
        async with httpx.AsyncClient(transport=transport) as http:
            text = (await http.get(f"http://127.0.0.1:{server.server_port}/")).text
            return text, transport.connection_count == 0 and repr(transport) != ""

    try:
        assert anyio.run(fetch, backend="trio") == ("hello", True)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.asyncio
async def test_the_session_client_keeps_cookies_that_servers_set() -> None:
    async def affinity(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        extra = ["Set-Cookie: affinity=node-7; Path=/"] if request.target == "/set" else []
        writer.write(response(200, request.headers.get("cookie", "-").encode(), *extra))
        await writer.drain()

    async with (
        raw_server(affinity) as server,
        SessionClient(transport=ProtocolTransport()) as http,
    ):
        assert (await http.get(f"{server.url}/before")).text == "-"
        assert (await http.get(f"{server.url}/set")).text == "-"
        assert (await http.get(f"{server.url}/after")).text == "affinity=node-7"
        assert http.cookies["affinity"] == "node-7"
        http.cookies = {"chosen": "1"}
        assert (await http.get(f"{server.url}/replaced")).text == "chosen=1"
