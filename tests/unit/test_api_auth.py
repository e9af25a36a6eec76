"""TokenAuth, the httpx.Auth flow of every API's credentials: a token renewed once for all
concurrent callers, before use when it has lived most of its life, and once on a 401."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from ibmq_async.api.auth import IssuedToken, TokenAuth

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Bearer(TokenAuth):
    """Tokens ``t1``, ``t2``, ... that live ``lifetime`` seconds (a slow issuer)."""

    def __init__(self, lifetime: float | None = None, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.lifetime = lifetime
        self.issued = 0

    async def obtain(self) -> IssuedToken:
        self.issued += 1
        await anyio.sleep(0.01)
        return IssuedToken(f"t{self.issued}", time.monotonic(), self.lifetime)

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"


class Server:
    """Accepts only the token named by ``valid``; records what it saw."""

    def __init__(self) -> None:
        self.valid = "t1"
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization", "")
        self.seen.append(token)
        return httpx.Response(200 if token == f"Bearer {self.valid}" else 401)


async def test_concurrent_401s_renew_the_token_once() -> None:
    server, auth = Server(), Bearer()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), auth=auth) as client:
        await client.get("https://api.test/a")
        server.valid = "t2"  # the token expires on the server's side
        statuses: list[int] = []

        async def call() -> None:
            statuses.append((await client.get("https://api.test/b")).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(call)
    assert statuses == [200] * 20
    assert auth.issued == 2


async def test_a_second_401_is_the_answer() -> None:
    server, auth = Server(), Bearer()
    server.valid = "never"
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), auth=auth) as client:
        assert (await client.get("https://api.test/a")).status_code == 401
    assert server.seen == ["Bearer t1", "Bearer t2"]


async def test_a_token_is_renewed_before_use_at_80_percent_of_its_life() -> None:
    server, auth = Server(), Bearer(lifetime=0.5)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), auth=auth) as client:
        await client.get("https://api.test/a")
        await anyio.sleep(0.3)  # 60 %: still used
        await client.get("https://api.test/b")
        assert auth.issued == 1
        await anyio.sleep(0.15)  # past 80 %: renewed before the request, no 401
        server.valid = "t2"

        async def call() -> None:
            assert (await client.get("https://api.test/c")).status_code == 200

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(call)
    assert auth.issued == 2
    assert "Bearer t1" not in server.seen[2:]


def test_refresh_at_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="refresh_at"):
        Bearer(refresh_at=1.5)
