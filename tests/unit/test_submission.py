"""Exactly-once submission as one retry loop: its steps are single attempts, its budget
is the deadline, and a submission that fails for good says what it tried and what became
of its job.

The classic steps run against the respx job store of ``api_fakes``; the machinery itself
is also driven with steps shaped like the IBM Quantum Platform's (create returns a started
job, find by tag, no upload), to show it takes any API's steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import httpx
import pytest
import respx
from api_fakes import FakeJobs, WaitRecorder, auth_routes, bell_qobj, connect, instant_policy

from ibmq_async.api import RetryPolicy
from ibmq_async.api.classic import Connection, ProjectClient
from ibmq_async.api.submission import Created, SubmissionSteps, submit_exactly_once
from ibmq_async.exceptions import ApiConnectionError, ApiError, ApiServerError, ApiTimeoutError

BACKEND = "ibmq_qasm_simulator"


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(assert_all_mocked=True)
    auth_routes(router)
    return router


@pytest.fixture
def recorder() -> WaitRecorder:
    return WaitRecorder()


async def account(router: respx.Router, policy: RetryPolicy) -> tuple[Connection, ProjectClient]:
    conn, _ = await connect(router, retry=policy)
    return conn, conn.project("ibm-q", "open", "main")


def unavailable() -> httpx.Response:
    return httpx.Response(503, json={"error": {"message": "down", "code": 9999}})


@pytest.mark.asyncio
async def test_a_listing_that_always_fails_is_asked_at_most_max_attempts_times(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["create"] = ["lost"]  # the job is made; the answer is lost
    fake.faults["list"] = [unavailable() for _ in range(50)]
    policy = instant_policy(recorder, max_attempts=6)
    conn, client = await account(router, policy)
    async with conn:
        with pytest.raises(ApiServerError) as info:
            await client.submit(BACKEND, bell_qobj())
    assert fake.calls["create"] == 1  # never created blindly again
    assert fake.calls["list"] <= policy.max_attempts
    assert fake.calls["list"] == policy.max_attempts - 1  # the create's failure counted too
    message = str(info.value)
    assert "tried: create x1, find x5" in message
    assert "find (HTTP 503) x5" in message
    assert "whether a job was made is unknown" in message


@pytest.mark.asyncio
async def test_an_upload_keeps_retrying_while_the_deadline_allows(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["upload"] = [unavailable() for _ in range(10)]
    conn, client = await account(router, instant_policy(recorder, max_attempts=6))
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    assert fake.calls["upload"] == 11  # beyond max_attempts: the upload is harmless to repeat
    assert fake.calls["create"] == 1
    assert list(fake.jobs) == [job.job_id]
    assert len(recorder.waits) == 10


@pytest.mark.asyncio
async def test_an_upload_failing_until_the_deadline_deletes_its_job_and_says_so(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["upload"] = [unavailable() for _ in range(100)]
    policy = instant_policy(recorder, backoff_base=2.0, backoff_max=2.0, deadline=15.0)
    conn, client = await account(router, policy)
    async with conn:
        with pytest.raises(ApiServerError) as info:
            await client.submit(BACKEND, bell_qobj())
    assert fake.jobs == {}  # nothing left behind
    assert sum(recorder.waits) < 15.0
    assert "made by this submission, was deleted" in str(info.value)
    assert "upload (HTTP 503) x" in str(info.value)


@pytest.mark.asyncio
async def test_a_start_that_may_have_happened_is_cancelled_when_the_submission_fails(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["start"] = [httpx.ReadTimeout for _ in range(20)]
    fake.faults["get"] = [unavailable() for _ in range(20)]
    conn, client = await account(router, instant_policy(recorder, max_attempts=4))
    async with conn:
        with pytest.raises(ApiError) as info:
            await client.submit(BACKEND, bell_qobj())
    (job,) = fake.jobs.values()
    assert job["status"] == "CANCELLED"
    assert f"job {job['id']}, made by this submission, was cancelled" in str(info.value)


@pytest.mark.asyncio
async def test_a_failed_cleanup_says_which_job_was_left(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["upload"] = [httpx.Response(413, json={"error": {"message": "too big"}})]
    fake.faults["delete"] = [unavailable() for _ in range(5)]
    conn, client = await account(router, instant_policy(recorder))
    async with conn:
        with pytest.raises(Exception, match="job job0001 was left behind") as info:
            await client.submit(BACKEND, bell_qobj())
    assert "could not be deleted" in str(info.value)
    assert list(fake.jobs) == ["job0001"]


@pytest.mark.asyncio
async def test_a_timeout_bounds_the_whole_submission(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["upload"] = [unavailable() for _ in range(100)]
    policy = instant_policy(recorder, backoff_base=1.0, backoff_max=1.0)
    conn, client = await account(router, policy)
    async with conn:
        with pytest.raises((ApiTimeoutError, ApiServerError)) as info:
            await client.submit(BACKEND, bell_qobj(), timeout=5.0)
    assert sum(recorder.waits) <= 5.0
    assert fake.jobs == {}
    assert "was deleted" in str(info.value)


# --- the machinery with another API's steps -------------------------------------------------


@dataclass
class PlatformJob:
    id: str
    tags: list[str]
    state: str = "Queued"


class PlatformLike:
    """Steps shaped like the platform API: ``POST /v1/jobs`` makes a started job with the
    tags given; ``GET /v1/jobs?tags=`` finds it; there is no idempotency key."""

    def __init__(self, tag: str, lose_first_answers: int = 0) -> None:
        self.tag = tag
        self.jobs: list[PlatformJob] = []
        self.lose = lose_first_answers
        self.calls: list[str] = []

    async def create(self) -> Created[None, PlatformJob]:
        self.calls.append("create")
        job = PlatformJob(f"p{len(self.jobs) + 1}", [self.tag])
        self.jobs.append(job)
        if self.lose:
            self.lose -= 1
            raise ApiConnectionError("lost") from httpx.ReadError("lost")
        return Created(job.id, started=job)

    async def find(self) -> Sequence[PlatformJob]:
        self.calls.append("find")
        return [job for job in self.jobs if self.tag in job.tags]

    async def discard(self, job_id: str, may_have_started: bool) -> None:
        self.jobs = [job for job in self.jobs if job.id != job_id]

    def steps(self) -> SubmissionSteps[None, PlatformJob]:
        return SubmissionSteps(
            create=self.create,
            find=self.find,
            job_id=lambda job: job.id,
            is_started=lambda job: job.state != "Creating",
            discard=self.discard,
        )


@pytest.mark.anyio
async def test_an_api_without_keys_or_uploads_is_exactly_once_by_its_tag() -> None:
    recorder = WaitRecorder()
    api = PlatformLike("ibmq_async_submission_k1", lose_first_answers=1)
    job = await submit_exactly_once(
        api.steps(), what="a job (key k1)", policy=instant_policy(recorder), look_first=False
    )
    assert api.calls == ["create", "find"]  # the lost create is found, not made again
    assert [j.id for j in api.jobs] == [job.id] == ["p1"]


@pytest.mark.anyio
async def test_a_create_cut_off_by_the_deadline_says_the_job_may_exist() -> None:
    """The timeout cancels the create while it is in flight: the server may have acted."""
    recorder = WaitRecorder()
    api = PlatformLike("ibmq_async_submission_k2")

    async def slow_create() -> Created[None, PlatformJob]:
        api.calls.append("create")
        api.jobs.append(PlatformJob("p1", [api.tag]))  # the server acted ...
        await anyio.sleep(10)  # ... and its answer never came in time
        raise AssertionError("unreachable")

    steps = api.steps()
    steps = SubmissionSteps(
        create=slow_create,
        find=steps.find,
        job_id=steps.job_id,
        is_started=steps.is_started,
        discard=steps.discard,
    )
    with pytest.raises(ApiTimeoutError) as info:
        await submit_exactly_once(
            steps,
            what="a job (key k2)",
            policy=instant_policy(recorder),
            look_first=False,
            timeout=0.2,
        )
    assert "whether a job was made is unknown" in str(info.value)
    assert "no job was made" not in str(info.value)
