"""What an aiohttp failure means for a retry: the mapping of ``transport_error``.

Exactly-once submission trusts one thing of a transport error: whether it proves the
request never left. Only failures of the connect phase may say so. ``httpx-aiohttp``
0.2.0 maps every ``aiohttp.ClientConnectionError`` (a disconnect after a POST was
written, a read timeout) to ``httpx.ConnectTimeout``, which is why the SDK has an adapter
of its own; these cases pin the difference.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from ibmq_async.api.aiohttp_transport import transport_error
from ibmq_async.api.retry import NOT_SENT_EXCEPTIONS

KEY = ConnectionKey("api.example.test", 443, True, True, None, None, None)


def connector_error(cls: type[aiohttp.ClientConnectorError]) -> aiohttp.ClientConnectorError:
    return cls(KEY, ConnectionRefusedError(111, "Connection refused"))


NOT_SENT = [
    (connector_error(aiohttp.ClientConnectorError), httpx.ConnectError),
    (connector_error(aiohttp.ClientProxyConnectionError), httpx.ConnectError),
    (connector_error(aiohttp.ClientConnectorDNSError), httpx.ConnectError),
    (aiohttp.ConnectionTimeoutError("Connection timeout to host"), httpx.ConnectTimeout),
]

MAY_HAVE_BEEN_SENT = [
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
    (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
    (aiohttp.ClientConnectionResetError("Cannot write to closing transport"), httpx.ReadError),
    (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError("Timeout"), httpx.ReadTimeout),
    (asyncio.TimeoutError(), httpx.ReadTimeout),
    (aiohttp.ClientPayloadError("Response payload is not completed"), httpx.ReadError),
    (
        aiohttp.ClientResponseError(None, (), status=400, message="Invalid status line"),
        httpx.RemoteProtocolError,
    ),
    (aiohttp.ClientConnectionError("something else"), httpx.ReadError),
]


@pytest.mark.parametrize(("error", "expected"), NOT_SENT, ids=lambda v: type(v).__name__)
def test_only_connect_phase_failures_say_not_sent(
    error: BaseException, expected: type[Exception]
) -> None:
    mapped = transport_error(error)
    assert type(mapped) is expected
    assert isinstance(mapped, NOT_SENT_EXCEPTIONS)


@pytest.mark.parametrize(("error", "expected"), MAY_HAVE_BEEN_SENT, ids=lambda v: type(v).__name__)
def test_failures_after_connecting_may_have_reached_the_server(
    error: BaseException, expected: type[Exception]
) -> None:
    mapped = transport_error(error)
    assert type(mapped) is expected
    assert not isinstance(mapped, NOT_SENT_EXCEPTIONS)


def test_a_refused_tunnel_and_bad_urls_are_not_retried_as_transient() -> None:
    refused = aiohttp.ClientHttpProxyError(None, (), status=407, message="Proxy auth")
    assert isinstance(transport_error(refused), httpx.ProxyError)
    assert isinstance(transport_error(aiohttp.InvalidURL("x")), httpx.UnsupportedProtocol)
    assert isinstance(transport_error(ValueError("Newline in header")), httpx.LocalProtocolError)


def test_the_proxy_is_named_when_it_cannot_be_reached() -> None:
    mapped = transport_error(connector_error(aiohttp.ClientProxyConnectionError))
    assert "proxy" in str(mapped)
