"""Proxies, from the environment and from ``proxies=``, for REST calls and status websockets
on every event loop, proven through a real forward proxy on loopback that records what it
relayed (``forward_proxy.py``).

The mission flow (login, run, wait on the status websocket, result) must go through the
proxy, every request of it; a proxy on a dead port must make ``enable_account`` fail with
a connection error that names the proxy.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from forward_proxy import ForwardProxy

from ibmq_async import IBMQFactory
from ibmq_async.api import RetryPolicy
from ibmq_async.exceptions import ApiConnectionError
from ibmq_async.local import LocalService

pytestmark = pytest.mark.anyio

SIMULATOR = "ibmq_qasm_simulator"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variables at all, until the test sets some."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def flip_qobj() -> dict[str, Any]:
    return {
        "qobj_id": "through-a-proxy",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {},
        "config": {"shots": 16, "memory_slots": 1, "n_qubits": 1},
        "experiments": [
            {
                "header": {"name": "flip", "memory_slots": 1, "n_qubits": 1},
                "config": {"n_qubits": 1, "memory_slots": 1},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }


async def mission(service: LocalService, **account: Any) -> dict[str, int]:
    """Log in, run one job, wait for it and read its counts."""
    factory = IBMQFactory()
    provider = await factory.enable_account(service.token, url=service.url, **account)
    assert provider is not None
    async with provider:
        job = await provider.get_backend(SIMULATOR).run(flip_qobj())
        result = await job.result(timeout=60)
        counts = result.get_counts()
        assert isinstance(counts, dict)
        return counts


def assert_mission_went_through(proxy: ForwardProxy, service: LocalService) -> None:
    relayed = [f"{method} {target}" for method, target in proxy.relayed]
    base = service.url.rstrip("/")
    for expected in (
        f"GET {base}/version",
        f"POST {base}/users/loginWithToken",
        f"GET {base}/users/me",
    ):
        assert expected in relayed
    steps = ("/Jobs", "jobDataUploaded", "/status/v/1", "resultDownloadUrl", "resultDownloaded")
    for step in steps:
        assert any(step in line for line in relayed), f"{step} did not go through the proxy"
    assert any(line.startswith("PUT ") for line in relayed), "the upload did not go through"
    # aiohttp forwards the upgrade in absolute form; httpcore tunnels it with CONNECT.
    origin = httpx.URL(service.url)
    tunnel = f"CONNECT {origin.host}:{origin.port}"
    websocket = [line for line in relayed if "/ws/" in line or line == tunnel]
    assert websocket, f"the status websocket did not go through the proxy: {relayed}"


async def test_the_mission_goes_through_the_proxy_of_the_environment(
    local_service: LocalService, environment: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy().running() as proxy:
        environment.setenv("HTTP_PROXY", proxy.url)
        environment.setenv("NO_PROXY", "")
        counts = await mission(local_service)
    assert counts == {"1": 16}
    assert_mission_went_through(proxy, local_service)


async def test_the_mission_goes_through_the_proxies_given(
    local_service: LocalService, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # ignored: proxies= wins
    async with ForwardProxy().running() as proxy:
        counts = await mission(local_service, proxies={"urls": {"http": proxy.url}})
    assert counts == {"1": 16}
    assert_mission_went_through(proxy, local_service)


async def test_no_proxy_sends_the_loopback_service_past_the_proxy(
    local_service: LocalService, environment: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy().running() as proxy:
        environment.setenv("HTTP_PROXY", proxy.url)
        environment.setenv("NO_PROXY", "127.0.0.1,localhost")
        counts = await mission(local_service)
    assert counts == {"1": 16}
    assert proxy.relayed == []


async def test_a_proxy_on_a_dead_port_fails_enable_account_with_a_connection_error(
    local_service: LocalService, environment: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    environment.setenv("HTTP_PROXY", dead)
    environment.setenv("NO_PROXY", "")
    factory = IBMQFactory()
    with pytest.raises(ApiConnectionError) as error:
        await factory.enable_account(
            local_service.token,
            url=local_service.url,
            retry=RetryPolicy(max_attempts=2, backoff_base=0.01, jitter=0.0),
        )
    message = str(error.value)
    assert f"through the proxy {dead}" in message
    assert "/version" in message
    assert error.value.retries_taken == 1
