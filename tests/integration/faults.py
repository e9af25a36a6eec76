"""A fault-injecting loopback proxy for HTTP/1.1, to put between a client and a service.

It forwards requests to the service and, with a seeded random choice per request,
instead answers 502 or 503, answers 429 with ``Retry-After``, resets the connection
before forwarding, or forwards the request and then resets the connection instead of
relaying the answer (the service acted, the client never hears of it). On request it also
relays some answers only after a delay (``"slow"``, longer than the client's read timeout:
the service acted, the client gave up waiting). Websocket upgrades are tunnelled
unchanged. The ``Host`` header is kept, so a service that builds its URLs from it
(``/users/me``, object storage) points the client back at the proxy.

Usage::

    async with FaultProxy(upstream_port, seed=7, rates={...}).running() as proxy:
        url = proxy.url("/api")
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
from collections import Counter
from collections.abc import AsyncIterator, Mapping

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["ALL_FAULTS", "FAULTS", "SLOW", "FaultProxy"]

FAULTS = ("502", "503", "429", "reset", "drop")
"""The faults the proxy injects: statuses, a reset before forwarding, a dropped answer."""

SLOW = "slow"
"""A fault injected only when given a rate: the answer is relayed after ``slow_delay``."""

ALL_FAULTS = (*FAULTS, SLOW)
"""Every fault a rate may be given for."""

_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.DelimiterNotFound,
    OSError,
)


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _canned(status: int, reason: str, extra: Mapping[str, str] | None = None) -> bytes:
    body = b'{"error": {"message": "injected by the fault proxy", "code": 9999}}'
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        **(extra or {}),
    }
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_body(stream: BufferedByteReceiveStream, head: bytes) -> bytes:
    length = _header(head, b"content-length")
    if length is not None:
        return await stream.receive_exactly(int(length)) if int(length) else b""
    if (_header(head, b"transfer-encoding") or b"").lower() == b"chunked":
        chunks = []
        while True:
            size_line = await stream.receive_until(b"\r\n", 1024)
            size = int(size_line.split(b";")[0], 16)
            chunk = await stream.receive_exactly(size + 2)
            chunks.append(size_line + b"\r\n" + chunk)
            if size == 0:
                return b"".join(chunks)
    return b""


async def _abort(stream: anyio.abc.SocketStream) -> None:
    """Close with a TCP reset rather than an orderly shutdown."""
    with contextlib.suppress(OSError, anyio.ClosedResourceError):
        raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await stream.aclose()


class FaultProxy:
    """Forwards HTTP/1.1 from a loopback port to ``upstream_port``, injecting faults.

    Args:
        upstream_port: The port of the service on 127.0.0.1.
        seed: The seed of the fault choices.
        rates: The probability of each fault of :data:`ALL_FAULTS` per request.
        retry_after: The ``Retry-After`` of injected 429s.
        spare: Requests whose path contains one of these are never faulted.
        slow_delay: Seconds a ``"slow"`` answer is held back before it is relayed.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int = 0,
        rates: Mapping[str, float] | None = None,
        retry_after: str = "1",
        spare: tuple[str, ...] = (),
        slow_delay: float = 1.0,
    ) -> None:
        self.upstream_port = upstream_port
        self.random = random.Random(seed)
        self.rates = dict(rates or {})
        unknown = set(self.rates) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self.retry_after = retry_after
        self.spare = spare
        self.slow_delay = slow_delay
        self.injected: Counter[str] = Counter()
        self.events: list[tuple[str, str, str]] = []
        self.forwarded = 0
        self.port = 0
        self.enabled = True

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _choose(self, path: str) -> str | None:
        if not self.enabled or any(part in path for part in self.spare):
            return None
        draw = self.random.random()
        for fault in ALL_FAULTS:
            rate = self.rates.get(fault, 0.0)
            if draw < rate:
                return fault
            draw -= rate
        return None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FaultProxy]:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, self._handle)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        upstream: anyio.abc.SocketStream | None = None
        incoming = BufferedByteReceiveStream(client)
        try:
            while True:
                head = await incoming.receive_until(b"\r\n\r\n", 65536)
                body = await _read_body(incoming, head)
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, _, rest = request_line.partition(" ")
                path = rest.split(" ")[0]
                if (_header(head, b"upgrade") or b"").lower() == b"websocket":
                    await self._tunnel(client, incoming, head + b"\r\n\r\n" + body)
                    return
                fault = self._choose(path)
                if fault is not None:
                    self.injected[fault] += 1
                    self.events.append((fault, method, path))
                if fault == "502":
                    await client.send(_canned(502, "Bad Gateway"))
                    continue
                if fault == "503":
                    await client.send(_canned(503, "Service Unavailable"))
                    continue
                if fault == "429":
                    await client.send(
                        _canned(429, "Too Many Requests", {"retry-after": self.retry_after})
                    )
                    continue
                if fault == "reset":
                    await _abort(client)
                    return
                if upstream is None:
                    upstream = await anyio.connect_tcp("127.0.0.1", self.upstream_port)
                    outgoing = BufferedByteReceiveStream(upstream)
                await upstream.send(head + b"\r\n\r\n" + body)
                answer_head = await outgoing.receive_until(b"\r\n\r\n", 65536)
                answer_body = await _read_body(outgoing, answer_head)
                self.forwarded += 1
                if fault == "drop":
                    await _abort(client)
                    return
                if fault == SLOW:
                    await anyio.sleep(self.slow_delay)
                await client.send(answer_head + b"\r\n\r\n" + answer_body)
                if (_header(answer_head, b"connection") or b"").lower() == b"close":
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
        first: bytes,
    ) -> None:
        upstream = await anyio.connect_tcp("127.0.0.1", self.upstream_port)
        async with upstream:
            await upstream.send(first)
            leftover = incoming.buffer
            if leftover:
                await upstream.send(bytes(leftover))

            async def pipe(
                source: anyio.abc.ByteReceiveStream, sink: anyio.abc.SocketStream
            ) -> None:
                with contextlib.suppress(*_STREAM_ERRORS):
                    async for chunk in source:
                        await sink.send(chunk)
                with contextlib.suppress(*_STREAM_ERRORS):
                    await sink.send_eof()

            async with anyio.create_task_group() as tg:
                tg.start_soon(pipe, client, upstream)
                tg.start_soon(pipe, upstream, client)
