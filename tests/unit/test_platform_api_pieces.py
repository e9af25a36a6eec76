"""The pieces of the platform API layer on their own: URLs, the error parser (runtime API and
IAM bodies), PlatformJobQuery's parameters, the pacer's turns, PLATFORM_STATUS and the job
bodies."""

from __future__ import annotations

from datetime import datetime, timezone

import anyio
import httpx
import pytest

from ibmq_async.api.platform import (
    PLATFORM_STATUS,
    Pacer,
    PlatformJobQuery,
    PlatformUrls,
    iam_token_url,
    platform_error_details,
    visible_tags,
)
from ibmq_async.api.platform.jobs import job_body
from ibmq_async.api.submission import submission_tag
from ibmq_async.exceptions import ApiAuthenticationError, IBMQInputValueError, UsageLimitError
from ibmq_async.models.platform import Job
from ibmq_async.platform.errors import PlatformJobStateError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_urls_are_under_v1_and_escape_their_segments() -> None:
    urls = PlatformUrls("https://quantum.cloud.ibm.com/api/")
    assert urls.api == "https://quantum.cloud.ibm.com/api/v1"
    assert urls.configuration("ibm_fez") == f"{urls.api}/backends/ibm_fez/configuration"
    assert urls.job("../x?y") == f"{urls.api}/jobs/..%2Fx%3Fy"
    assert urls.results("j") == f"{urls.api}/jobs/j/results"
    assert urls.session_close("s") == f"{urls.api}/sessions/s/close"
    assert urls.usage == f"{urls.api}/instances/usage"
    assert iam_token_url("https://iam.cloud.ibm.com/") == "https://iam.cloud.ibm.com/identity/token"


def _response(status: int, body: object) -> httpx.Response:
    request = httpx.Request("POST", "https://api.test/v1/jobs")
    return httpx.Response(status, json=body, request=request)


def test_the_runtime_error_body_gives_code_messages_and_trace() -> None:
    body = {
        "trace": "abc123",
        "errors": [
            {"code": 1002, "message": "PUB 0: bad", "more_info": "https://..."},
            {"code": 1010, "message": "not ISA"},
        ],
    }
    details = platform_error_details(_response(400, body))
    assert details.code == 1002
    assert details.message == "PUB 0: bad; not ISA"
    assert details.trace_id == "abc123"
    assert details.kind is None


def test_the_usage_limit_is_its_own_error_class() -> None:
    body = {"trace": "t", "errors": [{"code": "1301", "message": "Usage exceeds instance limit"}]}
    assert platform_error_details(_response(409, body)).kind is UsageLimitError
    assert platform_error_details(_response(400, body)).kind is None


def test_the_iam_error_body_is_an_authentication_error() -> None:
    body = {
        "errorCode": "BXNIM0415E",
        "errorMessage": "Provided API key could not be found.",
        "context": {"requestId": "req-1"},
    }
    details = platform_error_details(_response(400, body))
    assert details.code == "BXNIM0415E"
    assert details.message == "Provided API key could not be found."
    assert details.kind is ApiAuthenticationError
    assert details.trace_id == "req-1"
    assert platform_error_details(_response(500, body)).kind is None


@pytest.mark.parametrize(
    "body", [None, [], {"error": "x"}, {"errors": []}, {"errors": ["text"]}, "plain"]
)
def test_other_bodies_give_nothing_and_never_raise(body: object) -> None:
    details = platform_error_details(_response(500, body))
    assert details.kind is None
    assert details.message is None


def test_a_query_becomes_the_listing_parameters() -> None:
    query = PlatformJobQuery(
        pending=False,
        backend="ibm_fez",
        program="sampler",
        tags=["a", "b"],
        session_id="s1",
        created_after=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        descending=False,
    )
    params = query.params(limit=10, offset=20)
    assert params.get_list("tags") == ["a", "b"]
    assert dict(params) | {"tags": None} == {
        "limit": "10",
        "offset": "20",
        "exclude_params": "true",
        "pending": "false",
        "backend": "ibm_fez",
        "program": "sampler",
        "tags": None,
        "session_id": "s1",
        "created_after": "2026-01-02T03:04:05+00:00",
        "sort": "ASC",
    }
    assert "sort" not in PlatformJobQuery().params(limit=1, offset=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": -1},
        {"offset": 1.5},
        {"tags": "one"},
        {"tags": [1]},
        {"created_after": "2026-01-01"},
        {"pending": "yes"},
    ],
)
def test_a_bad_query_names_what_is_wrong(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(IBMQInputValueError, match=name.split("_")[0]):
        PlatformJobQuery(**kwargs)  # type: ignore[arg-type]


def test_the_submission_tag_is_hidden() -> None:
    assert visible_tags(["a", submission_tag("k"), "b"]) == ["a", "b"]


def test_job_bodies() -> None:
    assert job_body(b'{"a":1}') == b'{"a":1}'
    assert job_body({"program_id": "sampler", "params": {}}) == (
        b'{"program_id":"sampler","params":{}}'
    )
    with pytest.raises(IBMQInputValueError, match="runtime JSON"):
        job_body({"params": {"x": object()}})
    with pytest.raises(IBMQInputValueError, match="mapping"):
        job_body([1, 2])  # type: ignore[arg-type]


def _job(status: str, reason_code: int | None = None) -> Job:
    return Job.model_validate(
        {
            "id": "j",
            "backend": "b",
            "state": {"status": status, "reason_code": reason_code},
            "status": status,
            "program": {"id": "sampler"},
            "created": "2026-01-01T00:00:00Z",
        }
    )


def test_platform_status_final_states_stages_and_news() -> None:
    kind = PLATFORM_STATUS
    for state in ("Completed", "Failed", "Cancelled", "Cancelled - Ran too long", "COMPLETED"):
        assert kind.is_final(_job(state))
    for state in ("Queued", "Running"):
        assert not kind.is_final(_job(state))
    assert kind.stage(_job("Queued")) < kind.stage(_job("Running")) < kind.stage(_job("Failed"))
    assert kind.news is not None
    assert not kind.news(_job("Queued"), _job("Queued"))
    assert kind.news(_job("Queued"), _job("Running"))
    with pytest.raises(PlatformJobStateError):
        kind.is_final(_job("Exploded"))


@pytest.mark.parametrize("rate", [(0, 1.0), (1.5, 1.0), (True, 1.0), (5, 0), (5, "1")])
def test_a_bad_rate_is_refused(rate: tuple[int, float]) -> None:
    with pytest.raises(IBMQInputValueError, match="job_rate"):
        Pacer(rate)


async def test_a_rate_spaces_turns_counting_from_their_end() -> None:
    pacer = Pacer((3, 0.3))
    ends: list[float] = []

    async def create() -> None:
        turn = await pacer.acquire()
        await anyio.sleep(0.01)
        ends.append(anyio.current_time())
        turn.release()

    started = anyio.current_time()
    async with anyio.create_task_group() as group:
        for _ in range(9):
            group.start_soon(create)
    assert anyio.current_time() - started >= 0.6
    ends.sort()
    for index in range(3, 9):
        assert ends[index] - ends[index - 3] >= 0.3  # never 4 in one window
    assert pacer.waits >= 6
    assert pacer.refusals == 0


async def test_after_a_refusal_nothing_goes_before_retry_after_then_one_at_a_time() -> None:
    pacer = Pacer()
    turn = await pacer.acquire()
    refused_at = anyio.current_time()
    turn.release(refused=True, retry_after=0.2)
    assert 0.15 < pacer.blocked_for() <= 0.2
    in_flight: list[int] = []

    async def create() -> None:
        turn = await pacer.acquire()
        in_flight.append(pacer.in_flight)
        assert anyio.current_time() - refused_at >= 0.2
        await anyio.sleep(0.01)
        turn.release()

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(create)
    assert in_flight == [1, 1, 1, 1]
    assert pacer.refusals == 1


async def test_unused_and_repeated_releases_take_no_place() -> None:
    pacer = Pacer((1, 60.0))
    turn = await pacer.acquire()
    turn.release(sent=False)
    turn.release(refused=True, retry_after=100)  # a second release does nothing
    assert pacer.blocked_for() == 0
    with anyio.fail_after(1):
        (await pacer.acquire()).release()
