"""PlatformClient against a respx platform for what a real server will not do on demand:
a creation whose answer is lost after the job was made, a disconnect once the request was
written, 429 sequences with Retry-After, a listing answering 503 every time, tokens that
expire in the middle of a wait, 401s, and malformed answers."""

from __future__ import annotations

import logging

import anyio
import httpx
import pytest
import respx
from api_fakes import WaitRecorder, instant_policy
from platform_api_fakes import (
    API_KEY,
    CRN,
    IAM,
    ROOT,
    FakePlatform,
    connect,
    disconnect_after_sent,
    error_body,
    lost_after_made,
    rate_limited,
    status,
)

from ibmq_async.api import submission_tag
from ibmq_async.api.platform import PlatformClient
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiProtocolError,
    ApiServerError,
    RateLimitedError,
    UsageLimitError,
)
from ibmq_async.platform.errors import PlatformJobStateError

pytestmark = pytest.mark.anyio

PARAMS = {"pubs": [], "version": 2}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_mocked=True)


@pytest.fixture
def platform(router: respx.Router) -> FakePlatform:
    return FakePlatform(router)


@pytest.fixture
def recorder() -> WaitRecorder:
    return WaitRecorder()


# --- exactly once ---------------------------------------------------------------------------


async def test_a_creation_answer_lost_after_the_job_was_made_makes_one_job(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    platform.create_faults = [lost_after_made(platform)]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        job = await client.submit("sampler", "ibm_fake", PARAMS, submission_key="k1")
    assert list(platform.jobs) == [job.id]
    assert submission_tag("k1") in job.tags
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1
    listings = transport.calls("GET", r"/v1/jobs\?")
    assert len(listings) == 2  # looked first (a key was given), then after the lost answer
    assert all(request.url.params["tags"] == submission_tag("k1") for request in listings)


async def test_a_lost_answer_is_found_by_tag_even_without_a_key(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    platform.create_faults = [lost_after_made(platform)]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        job = await client.submit("sampler", "ibm_fake", PARAMS)
    assert list(platform.jobs) == [job.id]
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1
    assert len(transport.calls("GET", r"/v1/jobs\?")) == 1


async def test_a_disconnect_after_the_request_was_written_lists_before_creating_again(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    platform.create_faults = [disconnect_after_sent, status(502)]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        job = await client.submit("sampler", "ibm_fake", PARAMS)
    assert list(platform.jobs) == [job.id]
    assert len(transport.calls("POST", r"/v1/jobs$")) == 3
    assert len(transport.calls("GET", r"/v1/jobs\?")) == 2  # before each creation again


async def test_an_unreadable_creation_answer_is_the_job_with_the_tag(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    def made_but_garbled(request: httpx.Request) -> httpx.Response:
        platform.add_job(tags=httpx.Response(200, content=request.content).json()["tags"])
        return httpx.Response(200, content=b"<html>oops</html>")

    platform.create_faults = [made_but_garbled]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        job = await client.submit("sampler", "ibm_fake", PARAMS)
    assert list(platform.jobs) == [job.id]
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1


async def test_a_listing_that_answers_503_every_time_is_asked_at_most_max_attempts(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    policy = instant_policy(recorder, max_attempts=4)
    platform.list_faults = [status(503, error_body(1503, "stopping"))] * 100
    client, transport = await connect(router, retry=policy)
    async with client:
        with pytest.raises(ApiServerError) as info:
            await client.submit("sampler", "ibm_fake", PARAMS, submission_key="k503")
    assert len(transport.calls("GET", r"/v1/jobs\?")) == policy.max_attempts
    assert transport.calls("POST", r"/v1/jobs$") == []
    assert platform.jobs == {}
    assert "no job was made" in str(info.value)
    assert "find x4" in str(info.value)


async def test_after_an_ambiguous_creation_a_503_listing_is_asked_at_most_max_attempts(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    policy = instant_policy(recorder, max_attempts=5)
    platform.create_faults = [lost_after_made(platform)]
    platform.list_faults = [status(503)] * 100
    client, transport = await connect(router, retry=policy)
    async with client:
        with pytest.raises(ApiServerError) as info:
            await client.submit("sampler", "ibm_fake", PARAMS)
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1
    assert len(transport.calls("GET", r"/v1/jobs\?")) == policy.max_attempts - 1
    assert len(platform.jobs) == 1  # made by the lost creation, never a second one
    assert "whether a job was made is unknown" in str(info.value)


# --- 429 and usage ----------------------------------------------------------------------------


async def test_429s_are_waited_out_by_their_retry_after_and_space_every_creation(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    sent: list[float] = []

    def timed(fault: object) -> object:
        def answer(request: httpx.Request) -> httpx.Response | None:
            sent.append(anyio.current_time())
            return fault(request) if callable(fault) else None

        return answer

    platform.create_faults = [
        timed(rate_limited("0.2")),
        timed(rate_limited("0.3")),
        *[timed(None) for _ in range(5)],
    ]
    # max_attempts=1: a 429 does not count as a failed attempt, whatever the policy.
    client, _transport = await connect(router, retry=instant_policy(recorder, max_attempts=1))
    async with client:
        jobs = []

        async def submit() -> None:
            jobs.append(await client.submit("sampler", "ibm_fake", PARAMS))

        first = anyio.current_time()
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(submit)
        assert client.pacer.refusals == 2
    assert len(jobs) == len(platform.jobs) == 5
    assert len(sent) == 7
    assert sent[2] - first >= 0.2 + 0.3 - 0.05  # both Retry-Afters honoured, one after another
    assert recorder.waits[:2] == [0.2, 0.3]


async def test_a_retry_after_beyond_the_policy_is_a_rate_limited_error(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    platform.create_faults = [rate_limited("600")]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        with pytest.raises(RateLimitedError) as info:
            await client.submit("sampler", "ibm_fake", PARAMS)
        assert client.pacer.blocked_for() > 500
    assert info.value.retry_after == 600
    assert info.value.error_code == 1302
    assert "no job was made" in str(info.value)
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1


async def test_a_usage_limit_is_a_named_error_carrying_the_usage(
    router: respx.Router, platform: FakePlatform, recorder: WaitRecorder
) -> None:
    platform.create_faults = [status(409, error_body(1301, "Usage exceeds instance limit"))]
    client, transport = await connect(router, retry=instant_policy(recorder))
    async with client:
        with pytest.raises(UsageLimitError) as info:
            await client.submit("sampler", "ibm_fake", PARAMS)
    error = info.value
    assert error.status_code == 409
    assert error.error_code == 1301
    assert error.usage is not None
    assert error.usage.usage_limit_reached is True
    assert error.usage.usage_consumed_seconds == 600
    assert "no job was made" in str(error)
    assert len(transport.calls("POST", r"/v1/jobs$")) == 1


# --- tokens -----------------------------------------------------------------------------------


async def test_a_401_renews_the_token_once_for_every_concurrent_caller(
    router: respx.Router, platform: FakePlatform
) -> None:
    job_id = platform.add_job()
    client, _ = await connect(router)
    async with client:
        platform.expire_tokens()
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(client.jobs.get, job_id)
        assert client.auth.renewals == 2
    assert len(platform.issued) == 2


async def test_an_expiring_token_in_the_middle_of_a_wait_is_renewed_once_per_life(
    router: respx.Router,
) -> None:
    platform = FakePlatform(router, token_lifetime=1)
    ids = [platform.add_job() for _ in range(30)]
    from ibmq_async.api.waits import PollingPolicy

    client, transport = await connect(router, polling=PollingPolicy(initial=0.1, maximum=0.2))
    async with client:

        async def finish_later() -> None:
            await anyio.sleep(2.0)
            for job_id in ids:
                platform.set_state(job_id, "Completed")

        async with anyio.create_task_group() as group:
            group.start_soon(finish_later)
            for job_id in ids:
                group.start_soon(client.waits.wait_for_final, job_id)
    # A token lives 1 s and is renewed at 80 %: two or three renewals in 2 s of waiting,
    # not one per waiter or per request.
    assert 2 <= len(platform.issued) <= 5
    requests = len(transport.requests)
    assert requests > 3 * len(platform.issued)


async def test_a_refused_key_and_the_secrets_never_shown(
    router: respx.Router, platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApiAuthenticationError) as info:
        await PlatformClient.connect(
            "wrong-SECRET-key",
            CRN,
            url=ROOT,
            iam_url=IAM,
            transport=httpx.MockTransport(router.async_handler),
        )
    assert info.value.error_code == "BXNIM0415E"
    client, transport = await connect(router)
    async with client:
        platform.expire_tokens()
        await client.usage()
        token = client.auth.access_token
    seen = [caplog.text, repr(client), repr(client.auth), str(info.value), repr(info.value)]
    seen += [str(request.headers) + request.content.decode() for request in transport.requests]
    for text in seen:
        assert API_KEY not in text
        assert "wrong-SECRET-key" not in text
        assert token not in text


# --- malformed answers ------------------------------------------------------------------------


async def test_malformed_answers_are_clear_protocol_errors(
    router: respx.Router, platform: FakePlatform
) -> None:
    job_id = platform.add_job()
    client, _ = await connect(router)
    async with client:
        platform.get_faults = [status(200, {"id": 5})]
        with pytest.raises(ApiProtocolError, match="job does not fit the protocol") as info:
            await client.jobs.get(job_id)
        assert "backend" in str(info.value)
        assert info.value.response is not None
        platform.list_faults = [lambda request: httpx.Response(200, content=b"not json")]
        with pytest.raises(ApiProtocolError, match="not valid JSON"):
            await client.jobs.pending()
        platform.set_state(job_id, "Exploded")
        with pytest.raises(PlatformJobStateError, match="Exploded"):
            await client.waits.wait_for_final(job_id, timeout=5)


async def test_a_malformed_iam_answer_carries_neither_the_answer_nor_a_token(
    router: respx.Router,
) -> None:
    router.post(f"{IAM}/identity/token").respond(json={"token": "bearer-SECRET-x"})
    with pytest.raises(ApiProtocolError, match="access_token") as info:
        await PlatformClient.connect(
            API_KEY, CRN, url=ROOT, iam_url=IAM, transport=httpx.MockTransport(router.async_handler)
        )
    assert info.value.response is None
    assert "bearer-SECRET-x" not in str(info.value)
    assert info.value.__cause__ is None


async def test_a_ran_too_long_job_ends_the_wait_as_an_error_state(
    router: respx.Router, platform: FakePlatform
) -> None:
    from ibmq_async.api.platform import platform_job_status
    from ibmq_async.models import JobStatus

    job_id = platform.add_job(state="Cancelled - Ran too long")
    client, _ = await connect(router)
    async with client:
        final = await client.waits.wait_for_final(job_id, timeout=5)
    assert platform_job_status(final) is JobStatus.ERROR
