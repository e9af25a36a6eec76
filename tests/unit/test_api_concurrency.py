"""The network bounds the requests in flight, so a burst waits there and not in the pool."""

from __future__ import annotations

import anyio
import httpx
import pytest

from ibmq_async.api.session import HttpSession
from ibmq_async.api.transports import InFlightLimit


@pytest.mark.asyncio
async def test_a_burst_of_requests_never_has_more_than_max_in_flight_sent_at_once() -> None:
    sending = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal sending, most
        sending += 1
        most = max(most, sending)
        await anyio.sleep(0.01)
        sending -= 1
        return httpx.Response(200, json={"ok": True})

    client = httpx.AsyncClient(transport=InFlightLimit(httpx.MockTransport(handler), 4))
    session = HttpSession(client)
    answers: list[int] = []

    async def call() -> None:
        response = await session.request("GET", "http://service/thing", authenticated=False)
        answers.append(response.status_code)

    async with anyio.create_task_group() as group:
        for _ in range(60):
            group.start_soon(call)
    await session.aclose()
    assert answers == [200] * 60
    assert most == 4


def test_the_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        InFlightLimit(httpx.MockTransport(lambda request: httpx.Response(200)), 0)
    with pytest.raises(ValueError, match="max_websockets"):
        HttpSession(httpx.AsyncClient(), max_websockets=-1)
