"""PlatformClient against the local service's platform API, over ``httpx.ASGITransport`` and
over real HTTP (uvicorn on loopback), on asyncio and trio: connecting (IAM, the instance
check), the headers of every request, backends, jobs (create, read, list, results,
metrics, logs, tags, cancel, delete), usage, and exactly-once submission by key."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from platform_api_fixtures import (
    KEY_A,
    KEY_B,
    LIMA,
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

from ibmq_async.api import submission_tag
from ibmq_async.api.platform import (
    API_VERSION,
    PlatformClient,
    PlatformJobQuery,
    visible_tags,
)
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiNotFoundError,
    ApiStatusError,
    IBMQAccountCredentialsNotFound,
    IBMQInputValueError,
)
from ibmq_async.models import parse_backend_configuration

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def asgi() -> Iterator[Target]:
    with asgi_target(platform_config()) as target:
        yield target


@pytest.fixture(scope="module")
def http() -> Iterator[Target]:
    with http_target(platform_config()) as target:
        yield target


@pytest.fixture(params=["asgi", "http"])
def target(request: pytest.FixtureRequest) -> Target:
    value: Target = request.getfixturevalue(request.param)
    return value


@pytest.fixture
async def client(target: Target, anyio_backend: str) -> AsyncIterator[PlatformClient]:
    async with await PlatformClient.connect(KEY_A, A, **target.connect_kwargs()) as connected:
        yield connected


# --- connecting ------------------------------------------------------------------------------


async def test_connect_obtains_a_token_and_checks_the_instance(client: PlatformClient) -> None:
    assert client.instance == A
    assert client.api_url.endswith("/api/v1")
    assert client.auth.renewals == 1
    assert KEY_A not in repr(client)
    assert KEY_A not in repr(client.auth)
    assert client.auth.access_token not in repr(client.auth)


async def test_every_request_names_the_instance_and_the_api_version(target: Target) -> None:
    recorder = target.recorder()
    async with await PlatformClient.connect(
        KEY_A, A, **target.connect_kwargs(transport=recorder)
    ) as client:
        await client.backends.names()
        await client.usage()
    runtime = [r for r in recorder.requests if "/api/v1/" in r.url.path]
    assert len(runtime) == 3  # the instance check, the backends, the usage
    for request in runtime:
        assert request.headers["Service-CRN"] == A
        assert request.headers["IBM-API-Version"] == API_VERSION
        assert request.headers["Authorization"] != f"Bearer {KEY_A}"
    token_requests = [r for r in recorder.requests if r.url.path == "/identity/token"]
    assert len(token_requests) == 1
    assert token_requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_the_api_version_can_be_overridden(target: Target) -> None:
    recorder = target.recorder()
    async with await PlatformClient.connect(
        KEY_A, A, api_version="2025-05-01", **target.connect_kwargs(transport=recorder)
    ):
        pass
    assert recorder.requests[-1].headers["IBM-API-Version"] == "2025-05-01"


async def test_a_refused_api_key_is_an_authentication_error_without_the_key(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ibmq_async")
    with pytest.raises(ApiAuthenticationError) as info:
        await PlatformClient.connect("not-a-key-of-anyone", A, **target.connect_kwargs())
    error = info.value
    assert error.status_code == 400
    assert error.error_code == "BXNIM0415E"
    assert "could not be found" in str(error)
    for text in (str(error), repr(error), caplog.text, str(error.response.request.content)):
        assert "not-a-key-of-anyone" not in text


async def test_an_instance_of_someone_else_is_refused_clearly(target: Target) -> None:
    with pytest.raises(IBMQAccountCredentialsNotFound, match="no access to the instance"):
        await PlatformClient.connect(KEY_B, A, **target.connect_kwargs())


async def test_an_instance_name_is_not_a_crn(target: Target) -> None:
    with pytest.raises(IBMQInputValueError, match="CRN"):
        await PlatformClient.connect(KEY_A, "alpha", **target.connect_kwargs())


# --- backends --------------------------------------------------------------------------------


async def test_backends_configuration_properties_status_defaults(client: PlatformClient) -> None:
    assert sorted(await client.backends.names()) == sorted([SIM, PAUSED, LIMA])
    summaries = {item.name: item for item in await client.backends.summaries()}
    assert summaries[PAUSED].status.name == "paused"
    assert summaries[LIMA].qubits == 5
    configuration = parse_backend_configuration(await client.backends.configuration(LIMA))
    assert configuration.backend_name == LIMA
    properties = await client.backends.properties(LIMA)
    assert properties is not None
    assert properties["qubits"]
    assert await client.backends.properties(SIM) is None
    long_ago = datetime(2000, 1, 1, tzinfo=timezone.utc)
    assert await client.backends.properties(LIMA, datetime=long_ago) is None
    status = await client.backends.status(LIMA)
    assert status.state is True
    assert status.length_queue >= 0
    defaults = await client.backends.defaults(LIMA)
    assert defaults is not None
    assert "qubit_freq_est" in defaults
    assert await client.backends.defaults(SIM) is None
    with pytest.raises(ApiNotFoundError) as info:
        await client.backends.status("ibm_nowhere")
    assert info.value.error_code == 1007


# --- jobs ------------------------------------------------------------------------------------


async def test_a_submitted_job_runs_and_every_job_endpoint_answers(client: PlatformClient) -> None:
    job = await client.submit("sampler", SIM, sampler_params(), tags=["bell", "api"])
    assert job.backend == SIM
    assert job.program.id == "sampler"
    hidden = [tag for tag in job.tags if tag not in ("bell", "api")]
    assert len(hidden) == 1
    assert hidden[0].startswith("ibmq_async_submission_")
    assert visible_tags(job.tags) == ["bell", "api"]
    final = await client.waits.wait_for_final(job.id, timeout=60)
    assert final.state.status == "Completed"
    result = await client.jobs.results(job.id)
    assert result["__type__"] == "PrimitiveResult"
    metrics = await client.jobs.metrics(job.id)
    assert metrics.num_shots == 16
    assert metrics.usage.status == "final"
    assert "ended: Completed" in await client.jobs.logs(job.id)
    full = await client.jobs.get(job.id)
    assert full.params is not None
    assert full.params["version"] == 2
    assert (await client.jobs.get(job.id, exclude_params=True)).params is None

    await client.jobs.replace_tags(job.id, [*job.tags, "retagged"])
    assert "retagged" in (await client.jobs.get(job.id)).tags
    found = await client.jobs.find_by_tag(hidden[0])
    assert [item.id for item in found] == [job.id]

    await client.jobs.delete(job.id)
    with pytest.raises(ApiNotFoundError):
        await client.jobs.get(job.id)


async def test_cancel_a_queued_job_and_the_errors_of_cancel_and_delete(
    client: PlatformClient,
) -> None:
    job = await client.submit("sampler", PAUSED, sampler_params(circuit=_lima_bell()))
    assert job.state.status == "Queued"
    with pytest.raises(ApiStatusError) as info:
        await client.jobs.delete(job.id)
    assert info.value.status_code == 409
    assert info.value.error_code == 1213
    await client.jobs.cancel(job.id)
    final = await client.waits.wait_for_final(job.id, timeout=10)
    assert final.state.status == "Cancelled"
    with pytest.raises(ApiStatusError) as info:
        await client.jobs.cancel(job.id)
    assert info.value.error_code == 1212


async def test_listings_filter_and_page_by_offset(client: PlatformClient) -> None:
    marker = f"listing-{datetime.now().timestamp()}"
    made = [
        await client.submit("sampler", PAUSED, sampler_params(circuit=_lima_bell()), tags=[marker])
        for _ in range(5)
    ]
    query = PlatformJobQuery(tags=[marker], pending=True)
    newest_first = [job.id for job in await client.jobs.list(query, page_size=2)]
    assert newest_first == [job.id for job in reversed(made)]
    oldest_first = [
        job.id
        async for job in client.jobs.list(
            PlatformJobQuery(tags=[marker], descending=False), page_size=2
        )
    ]
    assert oldest_first == [job.id for job in made]
    assert len(await client.jobs.list(PlatformJobQuery(tags=[marker], limit=3))) == 3
    skipped = await client.jobs.list(PlatformJobQuery(tags=[marker], offset=4))
    assert [job.id for job in skipped] == [made[0].id]
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert await client.jobs.list(PlatformJobQuery(tags=[marker], created_after=later)) == []
    assert len(await client.jobs.list(PlatformJobQuery(tags=[marker], backend=SIM))) == 0
    assert len(await client.jobs.list(PlatformJobQuery(tags=[marker], program="sampler"))) == 5
    pending = {job.id for job in await client.jobs.pending()}
    assert {job.id for job in made} <= pending
    for job in made:
        await client.jobs.cancel(job.id)
    assert await client.jobs.list(query) == []


async def test_a_bad_job_is_refused_with_the_platform_code(client: PlatformClient) -> None:
    with pytest.raises(ApiStatusError) as info:
        await client.submit("sampler", SIM, {"pubs": [], "version": 2})
    assert info.value.status_code == 400
    assert info.value.error_code == 1002 or info.value.error_code == 1001
    assert "no job was made" in str(info.value)
    with pytest.raises(ApiNotFoundError) as missing:
        await client.submit("noise-learner", SIM, sampler_params())
    assert missing.value.error_code == 1231


async def test_the_usage_of_the_instance(client: PlatformClient) -> None:
    usage = await client.usage()
    assert usage.instance_id == A
    assert usage.usage_limit_reached is False


async def test_tenants_do_not_see_each_others_jobs(target: Target) -> None:
    async with await PlatformClient.connect(KEY_A, A, **target.connect_kwargs()) as alice:
        job = await alice.submit("sampler", PAUSED, sampler_params(circuit=_lima_bell()))
        async with await PlatformClient.connect(KEY_B, B, **target.connect_kwargs()) as bob:
            with pytest.raises(ApiNotFoundError) as info:
                await bob.jobs.get(job.id)
            assert info.value.error_code == 1211
        await alice.jobs.cancel(job.id)


# --- exactly once by key ----------------------------------------------------------------------


async def test_the_same_submission_key_makes_one_job_across_clients(target: Target) -> None:
    key = f"key-{datetime.now().timestamp()}"
    params = sampler_params(circuit=_lima_bell())
    async with await PlatformClient.connect(KEY_A, A, **target.connect_kwargs()) as first:
        job = await first.submit("sampler", PAUSED, params, submission_key=key)
    async with await PlatformClient.connect(KEY_A, A, **target.connect_kwargs()) as second:
        again = await second.submit("sampler", PAUSED, params, submission_key=key)
        assert again.id == job.id
        tagged = await second.jobs.find_by_tag(submission_tag(key))
        assert [item.id for item in tagged] == [job.id]
        await second.jobs.cancel(job.id)


def _lima_bell() -> object:
    """A Bell pair in lima's basis on a coupled pair (an ISA circuit of lima)."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit
