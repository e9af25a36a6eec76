"""The request budget of the platform waits against the local service, counted in requests:
hundreds of waits on a paused queue share one pending listing a round (about one request a
second, not one per job), and once the queue runs each job that leaves the listing is read
on its own once."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from platform_api_fixtures import (
    KEY_A,
    PAUSED,
    A,
    Target,
    asgi_target,
    platform_config,
    sampler_params,
)
from test_platform_api_client import _lima_bell

from ibmq_async.api.platform import PlatformClient
from ibmq_async.api.waits import PollingPolicy
from ibmq_async.exceptions import ApiJobWaitTimeoutError

pytestmark = pytest.mark.anyio

WAITS = 300
PAUSED_FOR = 4.0
POLLING = PollingPolicy(initial=0.5, maximum=2.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def paused_service() -> Iterator[Target]:
    with asgi_target(platform_config()) as target:
        yield target


async def test_hundreds_of_waits_on_a_paused_queue_cost_about_a_listing_a_second(
    paused_service: Target,
) -> None:
    recorder = paused_service.recorder()
    async with await PlatformClient.connect(
        KEY_A, A, polling=POLLING, **paused_service.connect_kwargs(transport=recorder)
    ) as client:
        params = sampler_params(shots=4, circuit=_lima_bell())
        ids: list[str] = []
        limiter = anyio.CapacityLimiter(16)

        async def submit() -> None:
            async with limiter:
                ids.append((await client.submit("sampler", PAUSED, params, pace=False)).id)

        async with anyio.create_task_group() as group:
            for _ in range(WAITS):
                group.start_soon(submit)
        recorder.requests.clear()

        timed_out = 0

        async def wait_paused(job_id: str) -> None:
            nonlocal timed_out
            try:
                await client.waits.wait_for_final(job_id, timeout=PAUSED_FOR)
            except ApiJobWaitTimeoutError:
                timed_out += 1

        async with anyio.create_task_group() as group:
            for job_id in ids:
                group.start_soon(wait_paused, job_id)
        assert timed_out == WAITS
        listings = recorder.listings("pending=true")
        assert recorder.job_reads() == 0  # every job was in the listing
        assert listings == len(recorder.requests)
        assert listings <= 2 * PAUSED_FOR  # a couple of requests a second, not 300 a round

        recorder.requests.clear()
        paused_service.engine.resume_backend(PAUSED)
        finals = []
        started = anyio.current_time()

        async def wait_running(job_id: str) -> None:
            finals.append(await client.waits.wait_for_final(job_id, timeout=120))

        async with anyio.create_task_group() as group:
            for job_id in ids:
                group.start_soon(wait_running, job_id)
        elapsed = anyio.current_time() - started
        assert sorted(job.state.status for job in finals) == ["Completed"] * WAITS
        # Each job is read on its own once, when it left the listing; the listings stay
        # about one a second however many jobs wait.
        assert recorder.job_reads() <= WAITS
        assert recorder.listings("pending=true") <= 2 * elapsed + 2
        assert client.waits.active_watches == 0
