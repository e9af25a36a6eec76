"""The Sessions resource of the platform API client against the local service: every
endpoint over real HTTP on asyncio and trio, and, through a transport that fails on
demand, which calls are retried (the PATCH and the DELETE) and which is not (the create,
after it may have reached the service)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from platform_api_fixtures import (
    KEY_A,
    KEY_B,
    PAUSED,
    SIM,
    A,
    B,
    Target,
    asgi_target,
    http_target,
    platform_config,
    sampler_params,
)

from ibmq_async.api.platform import PlatformClient
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.exceptions import (
    ApiNotFoundError,
    ApiServerError,
    ApiStatusError,
    IBMQInputValueError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with http_target(platform_config()) as running:
        yield running


def _lima_bell() -> object:
    """A Bell pair in lima's basis gates (rz, sx, cx), on its coupled qubits 0 and 1."""
    from math import pi

    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.rz(pi / 2, 0)
    circuit.sx(0)
    circuit.rz(pi / 2, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


@asynccontextmanager
async def _client(
    target: Target, key: str = KEY_A, instance: str = A, **kwargs: object
) -> AsyncIterator[PlatformClient]:
    client = await PlatformClient.connect(key, instance, **target.connect_kwargs(**kwargs))
    async with client:
        yield client


async def test_create_get_update_and_close(target: Target) -> None:
    async with _client(target) as client:
        created = await client.sessions.create("dedicated", SIM, 300, instance=A)
        assert (created.mode, created.state, created.backend_name) == ("dedicated", "open", SIM)
        assert (created.max_ttl, created.accepting_jobs) == (300, True)
        read = await client.sessions.get(created.id)
        assert read.id == created.id
        assert read.state == "open"
        await client.sessions.update(created.id, accepting_jobs=False)
        stopped = await client.sessions.get(created.id)
        assert stopped.accepting_jobs is False
        assert stopped.state == "closed"  # nothing queued or running: closed at once
        with pytest.raises(ApiStatusError, match="is closed") as caught:
            await client.sessions.update(created.id, accepting_jobs=True)
        assert caught.value.status_code == 409


async def test_a_batch_without_a_backend_takes_its_first_jobs(target: Target) -> None:
    async with _client(target) as client:
        batch = await client.sessions.create("batch", None)
        assert (batch.mode, batch.backend_name, batch.max_ttl) == ("batch", "", 28800)
        job = await client.submit("sampler", SIM, sampler_params(), session_id=batch.id)
        assert job.session_id == batch.id
        assert (await client.sessions.get(batch.id)).backend_name == SIM
        await client.sessions.close(batch.id)


async def test_close_cancels_the_queued_jobs(target: Target) -> None:
    async with _client(target) as client:
        session = await client.sessions.create("dedicated", PAUSED)
        jobs = [
            await client.submit(
                "sampler", PAUSED, sampler_params(circuit=_lima_bell()), session_id=session.id
            )
            for _ in range(2)
        ]
        assert {job.state.status for job in jobs} == {"Queued"}
        await client.sessions.close(session.id)
        closed = await client.sessions.get(session.id)
        assert (closed.state, closed.state_reason, closed.accepting_jobs) == (
            "closed",
            "cancelled",
            False,
        )
        for job in jobs:
            assert (await client.jobs.get(job.id)).state.status == "Cancelled"


async def test_unknown_sessions_and_those_of_another_instance_are_not_found(
    target: Target,
) -> None:
    async with _client(target) as client, _client(target, KEY_B, B) as other:
        theirs = await other.sessions.create("dedicated", SIM)
        for session_id in ("nosuchsession", theirs.id):
            with pytest.raises(ApiNotFoundError):
                await client.sessions.get(session_id)
            with pytest.raises(ApiNotFoundError):
                await client.sessions.update(session_id)
            with pytest.raises(ApiNotFoundError):
                await client.sessions.close(session_id)
        assert (await other.sessions.get(theirs.id)).accepting_jobs is True
        await other.sessions.close(theirs.id)


async def test_the_platform_refuses_what_it_cannot_make(target: Target) -> None:
    async with _client(target) as client:
        with pytest.raises(ApiStatusError, match="Backend not found: ibm_nowhere") as caught:
            await client.sessions.create("dedicated", "ibm_nowhere")
        assert caught.value.status_code == 400
        with pytest.raises(ApiStatusError, match="max_ttl must be 1 to 28800") as caught:
            await client.sessions.create("dedicated", SIM, 28801)
        assert caught.value.status_code == 400
        with pytest.raises(ApiStatusError, match="not the instance of the request"):
            await client.sessions.create("dedicated", SIM, instance=B)


async def test_bad_arguments_are_refused_before_any_request(target: Target) -> None:
    recorder = target.recorder()
    async with _client(target, transport=recorder) as client:
        before = len(recorder.requests)
        with pytest.raises(IBMQInputValueError, match="'dedicated'"):
            await client.sessions.create("session", SIM)  # type: ignore[arg-type]
        with pytest.raises(IBMQInputValueError, match="max_ttl"):
            await client.sessions.create("batch", SIM, 0)
        with pytest.raises(IBMQInputValueError, match="accepting_jobs must be a bool"):
            await client.sessions.update("s", accepting_jobs="no")  # type: ignore[arg-type]
        with pytest.raises(IBMQInputValueError, match="session id"):
            await client.sessions.get("")
        assert len(recorder.requests) == before


@dataclass
class FailOnce(httpx.AsyncBaseTransport):
    """Answers 503 to the first ``count`` requests of ``method`` to a session path, after
    passing them on (so the service acted on them); the rest pass through."""

    inner: httpx.AsyncBaseTransport
    method: str
    count: int = 1
    seen: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/v1/sessions" in request.url.path:
            self.seen.append(request.method)
            if request.method == self.method and self.count > 0:
                self.count -= 1
                await response.aread()
                return httpx.Response(503, json={"errors": [{"code": 1503, "message": "busy"}]})
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.01, jitter=0.0, deadline=10.0)


@pytest.fixture(scope="module")
def asgi() -> Iterator[Target]:
    with asgi_target(platform_config()) as running:
        yield running


async def test_a_create_that_may_have_reached_the_service_is_not_repeated(
    asgi: Target,
) -> None:
    faults = FailOnce(asgi.transport(), "POST")  # type: ignore[arg-type]
    async with _client(asgi, transport=faults, retry=FAST_RETRY) as client:
        with pytest.raises(ApiServerError):
            await client.sessions.create("dedicated", SIM)
        assert faults.seen == ["POST"]  # one attempt: a second one would make a second session


async def test_the_patch_and_the_delete_are_retried(asgi: Target) -> None:
    for method in ("PATCH", "DELETE"):
        faults = FailOnce(asgi.transport(), method)  # type: ignore[arg-type]
        async with _client(asgi, transport=faults, retry=FAST_RETRY) as client:
            session = await client.sessions.create("dedicated", SIM)
            if method == "PATCH":
                await client.sessions.update(session.id, accepting_jobs=False)
            else:
                await client.sessions.close(session.id)
            assert faults.seen == ["POST", method, method]
            assert (await client.sessions.get(session.id)).accepting_jobs is False
