"""An instance given by name, or not at all, is found once in Global Search (the local
service's stand-in at ``ROOT/global-search``), then every call names its CRN."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from platform_api_fixtures import (
    KEY_A,
    SIM,
    A,
    Target,
    asgi_target,
    platform_config,
    sampler_params,
)

from ibmq_async.api.platform import PlatformClient
from ibmq_async.exceptions import IBMQAccountCredentialsNotFound

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[Target]:
    with asgi_target(platform_config()) as target:
        yield target


def search(target: Target) -> str:
    return f"{target.root}/global-search"


async def test_an_instance_name_is_resolved_once_and_its_crn_sent_on_every_call(
    service: Target,
) -> None:
    recorder = service.recorder()
    async with await PlatformClient.connect(
        KEY_A,
        "alpha",
        search_url=search(service),
        **service.connect_kwargs(transport=recorder),
    ) as client:
        assert client.instance == A
        await client.backends.names()
    searches = [r for r in recorder.requests if r.url.path.endswith("/v3/resources/search")]
    assert len(searches) == 1
    runtime = [r for r in recorder.requests if "/api/v1/" in r.url.path]
    assert runtime
    assert all(r.headers["Service-CRN"] == A for r in runtime)


async def test_no_instance_means_the_accounts_only_one(service: Target) -> None:
    async with await PlatformClient.connect(
        KEY_A, None, search_url=search(service), **service.connect_kwargs()
    ) as client:
        assert client.instance == A


async def test_an_unknown_instance_name_lists_the_accounts_instances(service: Target) -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound) as info:
        await PlatformClient.connect(
            KEY_A, "gamma", search_url=search(service), **service.connect_kwargs()
        )
    assert str(info.value) == "The account has no instance named 'gamma'; its instances: 'alpha'"


async def test_the_jobs_body_carries_its_log_level_and_runtime(service: Target) -> None:
    recorder = service.recorder()
    async with await PlatformClient.connect(
        KEY_A, A, **service.connect_kwargs(transport=recorder)
    ) as client:
        await client.submit(
            "sampler", SIM, sampler_params(shots=4), log_level="DEBUG", runtime="img:1", cost=30
        )
    (create,) = [
        r for r in recorder.requests if r.method == "POST" and r.url.path.endswith("/jobs")
    ]
    body = json.loads(create.content)
    assert (body["log_level"], body["runtime"], body["cost"]) == ("DEBUG", "img:1", 30)
