"""A forward HTTP proxy on loopback that relays what clients ask and counts it.

It speaks what clients send to a proxy: requests in absolute form
(``GET http://host:port/path HTTP/1.1``), forwarded to the origin in origin form, with
keep-alive; websocket upgrades in absolute form, after which it splices both ways; and
``CONNECT host:port`` tunnels. Every request it relayed is recorded in
:attr:`ForwardProxy.relayed` as ``(method, target)``, so a test can prove that a call went
through it rather than past it.

Usage::

    async with ForwardProxy().running() as proxy:
        os.environ["HTTP_PROXY"] = proxy.url
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import httpx
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["ForwardProxy"]

_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.DelimiterNotFound,
    OSError,
)
_HOP_BY_HOP = (b"proxy-connection", b"proxy-authorization", b"keep-alive")


def _header(lines: list[bytes], name: bytes) -> bytes | None:
    for line in lines:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def _read_body(reader: BufferedByteReceiveStream, lines: list[bytes]) -> bytes:
    """The body after a head, framed as the head says (Content-Length or chunked)."""
    length = _header(lines, b"content-length")
    if length is not None:
        return await reader.receive_exactly(int(length)) if int(length) else b""
    if (_header(lines, b"transfer-encoding") or b"").lower() == b"chunked":
        chunks = []
        while True:
            size_line = await reader.receive_until(b"\r\n", 1024)
            size = int(size_line.split(b";")[0], 16)
            chunk = await reader.receive_exactly(size + 2)
            chunks.append(size_line + b"\r\n" + chunk)
            if size == 0:
                return b"".join(chunks)
    return b""


async def _splice(source: anyio.abc.ByteReceiveStream, sink: anyio.abc.ByteSendStream) -> None:
    with contextlib.suppress(*_STREAM_ERRORS):
        async for chunk in source:
            await sink.send(chunk)
    with contextlib.suppress(*_STREAM_ERRORS):
        await sink.aclose()


class ForwardProxy:
    """A forward proxy on ``127.0.0.1``; :attr:`relayed` lists what it relayed."""

    def __init__(self) -> None:
        self.port = 0
        self.relayed: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def targets(self, method: str) -> list[str]:
        """The targets relayed with ``method`` (``"CONNECT"``, ``"GET"``, ...)."""
        return [target for verb, target in self.relayed if verb == method]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ForwardProxy]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self._handle)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        incoming = BufferedByteReceiveStream(client)
        upstream: anyio.abc.SocketStream | None = None
        origin: tuple[str, int] | None = None
        try:
            while True:
                head = await incoming.receive_until(b"\r\n\r\n", 65536)
                request_line, *lines = head.split(b"\r\n")
                method, target, version = request_line.decode("latin-1").split(" ")
                self.relayed.append((method, target))
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    await self._tunnel(client, incoming, host, int(port))
                    return
                url = httpx.URL(target)
                wanted = (url.host, url.port or 80)
                if upstream is None or wanted != origin:
                    if upstream is not None:
                        await upstream.aclose()
                    upstream = await anyio.connect_tcp(*wanted)
                    outgoing = BufferedByteReceiveStream(upstream)
                    origin = wanted
                path = url.raw_path.decode("ascii")
                kept = [line for line in lines if line.split(b":")[0].lower() not in _HOP_BY_HOP]
                forwarded = (
                    b"\r\n".join([f"{method} {path} {version}".encode(), *kept]) + b"\r\n\r\n"
                )
                if (_header(lines, b"upgrade") or b"").lower() == b"websocket":
                    await upstream.send(forwarded + bytes(incoming.buffer))
                    async with anyio.create_task_group() as group:
                        group.start_soon(_splice, client, upstream)
                        group.start_soon(_splice, outgoing, client)
                    return
                body = await _read_body(incoming, lines)
                await upstream.send(forwarded + body)
                answer_head = await outgoing.receive_until(b"\r\n\r\n", 65536)
                answer_lines = answer_head.split(b"\r\n")[1:]
                answer_body = await _read_body(outgoing, answer_lines)
                await client.send(answer_head + b"\r\n\r\n" + answer_body)
                if (_header(answer_lines, b"connection") or b"").lower() == b"close":
                    return
        except _STREAM_ERRORS:
            return
        finally:
            if upstream is not None:
                with contextlib.suppress(*_STREAM_ERRORS):
                    await upstream.aclose()
            with contextlib.suppress(*_STREAM_ERRORS):
                await client.aclose()

    async def _tunnel(
        self,
        client: anyio.abc.SocketStream,
        incoming: BufferedByteReceiveStream,
        host: str,
        port: int,
    ) -> None:
        upstream = await anyio.connect_tcp(host, port)
        async with upstream:
            await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if incoming.buffer:
                await upstream.send(bytes(incoming.buffer))
            async with anyio.create_task_group() as group:
                group.start_soon(_splice, client, upstream)
                group.start_soon(_splice, upstream, client)
