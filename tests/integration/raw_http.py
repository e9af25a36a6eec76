"""A raw HTTP/1.1 server on loopback that answers exactly what each test scripts.

The server reads each request (head, then a ``Content-Length`` or chunked body) and hands
it to the test's handler, which writes whatever bytes it likes: split responses, chunked
bodies, early closes, silence. It counts the TCP connections it accepted and the most
requests it had in progress at once, so keep-alive reuse and pool limits are observed,
not assumed. It runs on anyio, so the same tests run on asyncio and on trio.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["RawRequest", "RawServer", "echo", "raw_server", "response"]

_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.DelimiterNotFound,
    OSError,
)


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


Handler = Callable[[RawRequest, anyio.abc.SocketStream], Awaitable[None]]


@dataclass
class RawServer:
    handler: Handler
    port: int = 0
    connections: int = 0
    requests: list[RawRequest] = field(default_factory=list)
    in_progress: int = 0
    most_in_progress: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        number = self.connections
        reader = BufferedByteReceiveStream(stream)
        try:
            while True:
                request = await _read_request(reader, number)
                if request is None:
                    break
                self.requests.append(request)
                self.in_progress += 1
                self.most_in_progress = max(self.most_in_progress, self.in_progress)
                try:
                    await self.handler(request, stream)
                finally:
                    self.in_progress -= 1
        except _STREAM_ERRORS:
            pass
        finally:
            with contextlib.suppress(*_STREAM_ERRORS):
                await stream.aclose()


async def _read_request(reader: BufferedByteReceiveStream, connection: int) -> RawRequest | None:
    try:
        head = await reader.receive_until(b"\r\n\r\n", 65536)
    except (anyio.IncompleteRead, anyio.EndOfStream):
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
        length = int(headers["content-length"])
        body = await reader.receive_exactly(length) if length else b""
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.receive_until(b"\r\n", 1024)).split(b";")[0], 16)
            chunk = await reader.receive_exactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return RawRequest(method, target, headers, body, connection)


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[RawServer]:
    state = RawServer(handler)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    state.port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, state.serve)
        try:
            yield state
        finally:
            group.cancel_scope.cancel()


def response(status: int, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo(request: RawRequest, stream: anyio.abc.SocketStream) -> None:
    body = f"{request.method} {request.target} {len(request.body)}".encode()
    await stream.send(response(200, body, "Content-Type: text/plain"))
