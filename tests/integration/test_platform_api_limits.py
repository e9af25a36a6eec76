"""The platform's limits against the local service: a gather of 100 submissions under the
per-user creation rate (paced ahead of the service with ``job_rate``, or by its 429s and
their ``Retry-After``) makes every job once with no error; an instance past its allocation
refuses jobs with a UsageLimitError that carries the usage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from platform_api_fixtures import (
    KEY_A,
    PAUSED,
    SIM,
    A,
    Target,
    asgi_target,
    http_target,
    platform_config,
    sampler_params,
)
from test_platform_api_client import _lima_bell

from ibmq_async.api.platform import PlatformClient, PlatformJobQuery
from ibmq_async.exceptions import UsageLimitError
from ibmq_async.models.platform import Job

pytestmark = pytest.mark.anyio

RATE = (20, 1.0)
"""The service's limit in these tests: 20 creations per second (100 jobs take 4 s)."""
SUBMISSIONS = 100


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def limited_asgi() -> Iterator[Target]:
    count, seconds = RATE
    with asgi_target(platform_config(jobs_per_minute=count, rate_window_seconds=seconds)) as target:
        yield target


@pytest.fixture(scope="module")
def limited_http() -> Iterator[Target]:
    count, seconds = RATE
    with http_target(platform_config(jobs_per_minute=count, rate_window_seconds=seconds)) as target:
        yield target


async def _gather(client: PlatformClient, marker: str) -> list[Job]:
    await anyio.sleep(RATE[1])  # the window of the service's limit holds no earlier test's jobs
    params = sampler_params(circuit=_lima_bell())
    made: list[Job] = []

    async def submit(index: int) -> None:
        made.append(
            await client.submit(
                "sampler", PAUSED, params, tags=[marker], submission_key=f"{marker}-{index}"
            )
        )

    async with anyio.create_task_group() as group:
        for index in range(SUBMISSIONS):
            group.start_soon(submit, index)
    return made


async def _check_every_job_made_once(client: PlatformClient, made: list[Job], marker: str) -> None:
    assert len({job.id for job in made}) == SUBMISSIONS
    listed = await client.jobs.list(PlatformJobQuery(tags=[marker]))
    assert sorted(job.id for job in listed) == sorted(job.id for job in made)
    for job in made:
        await client.jobs.cancel(job.id)


async def test_a_gather_of_100_paced_ahead_of_the_service_is_never_refused(
    limited_asgi: Target, anyio_backend: str
) -> None:
    engine = limited_asgi.engine
    refused_before = engine.platform.rate.rejections
    async with await PlatformClient.connect(
        KEY_A, A, job_rate=RATE, **limited_asgi.connect_kwargs()
    ) as client:
        started = anyio.current_time() + RATE[1]
        made = await _gather(client, f"paced-{anyio_backend}")
        elapsed = anyio.current_time() - started
        assert client.pacer.refusals == 0
        await _check_every_job_made_once(client, made, f"paced-{anyio_backend}")
    assert engine.platform.rate.rejections == refused_before
    count, seconds = RATE
    assert elapsed >= (SUBMISSIONS / count - 1) * seconds  # it did keep to the pace


async def test_a_gather_of_100_without_a_rate_follows_the_429s(
    limited_http: Target, anyio_backend: str
) -> None:
    engine = limited_http.engine
    refused_before = engine.platform.rate.rejections
    async with await PlatformClient.connect(KEY_A, A, **limited_http.connect_kwargs()) as client:
        made = await _gather(client, f"learned-{anyio_backend}")
        refusals = client.pacer.refusals
        assert refusals >= 1
        await _check_every_job_made_once(client, made, f"learned-{anyio_backend}")
    # The first burst is refused, then about one refusal per window: far fewer than one
    # per creation after the first.
    assert engine.platform.rate.rejections - refused_before == refusals
    assert refusals <= SUBMISSIONS - RATE[0] + SUBMISSIONS // RATE[0] + 2


@pytest.fixture
async def exhausted() -> AsyncIterator[Target]:
    config = platform_config(allocation_seconds=0.001)
    with asgi_target(config) as target:
        yield target


async def test_an_instance_past_its_allocation_refuses_jobs_with_its_usage(
    exhausted: Target,
) -> None:
    async with await PlatformClient.connect(KEY_A, A, **exhausted.connect_kwargs()) as client:
        job = await client.submit("sampler", SIM, sampler_params())
        assert (await client.waits.wait_for_final(job.id, timeout=60)).state.status == "Completed"
        with pytest.raises(UsageLimitError) as info:
            await client.submit("sampler", SIM, sampler_params())
    error = info.value
    assert error.status_code == 409
    assert error.error_code == 1301
    assert error.usage is not None
    assert error.usage.usage_limit_reached is True
    assert error.usage.usage_consumed_seconds > 0.001
    assert "no job was made" in str(error)
