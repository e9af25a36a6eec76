"""The shared core takes another API's parts: its headers, its error body, its paging.

An API shaped like the IBM Quantum Platform's (a service instance header and a version
header on every call, errors as ``{"trace", "errors": [...]}``, offset/limit listings that
say how many there are) plugs into the same session and pager as the classic API; the
exactly-once machinery with such an API's steps is in ``test_submission.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ibmq_async.api import Page, Pager
from ibmq_async.api.errors import ErrorDetails, json_object, no_error_details
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiNotFoundError, ApiStatusError

pytestmark = pytest.mark.anyio

CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:guid::"


def platform_errors(response: httpx.Response) -> ErrorDetails:
    body = json_object(response) or {}
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, dict):
        return ErrorDetails()
    message = first.get("message")
    if message and first.get("more_info"):
        message = f"{message} (see {first['more_info']})"
    return ErrorDetails(code=first.get("code"), message=message, trace_id=body.get("trace"))


JOBS = [{"id": f"j{i}"} for i in range(23)]


def platform(request: httpx.Request) -> httpx.Response:
    if request.headers.get("Service-CRN") != CRN or not request.headers.get("IBM-API-Version"):
        return httpx.Response(400, json={"trace": "t0", "errors": [{"code": "missing"}]})
    if request.url.path == "/v1/jobs":
        offset = int(request.url.params.get("offset", 0))
        limit = int(request.url.params.get("limit", 20))
        return httpx.Response(200, json={"jobs": JOBS[offset : offset + limit], "count": 23})
    return httpx.Response(
        404,
        json={
            "trace": "trace-1",
            "errors": [{"code": "1213", "message": "Job not found", "more_info": "https://x"}],
        },
    )


def session() -> HttpSession:
    return HttpSession.open(
        error_parser=platform_errors,
        headers={"Service-CRN": CRN, "IBM-API-Version": "2026-04-15"},
        transport=httpx.MockTransport(platform),
    )


async def test_headers_of_the_api_go_on_every_call_and_its_error_body_is_read() -> None:
    http = session()
    try:
        with pytest.raises(ApiNotFoundError) as info:
            await http.request("GET", "https://quantum.test/v1/jobs/nope", authenticated=False)
    finally:
        await http.aclose()
    error = info.value
    assert isinstance(error, ApiStatusError)
    assert (error.error_code, error.trace_id) == ("1213", "trace-1")
    assert error.message == "Job not found (see https://x)"


async def test_a_call_may_read_its_error_body_with_a_parser_of_its_own() -> None:
    """A call to another service (IAM, object storage) reads that service's error body."""
    http = HttpSession.open(
        error_parser=no_error_details,
        headers={"Service-CRN": CRN, "IBM-API-Version": "2026-04-15"},
        transport=httpx.MockTransport(platform),
    )
    try:
        with pytest.raises(ApiNotFoundError) as info:
            await http.request(
                "GET",
                "https://quantum.test/v1/jobs/nope",
                authenticated=False,
                error_parser=platform_errors,
            )
    finally:
        await http.aclose()
    assert (info.value.error_code, info.value.trace_id) == ("1213", "trace-1")


async def test_an_offset_listing_with_a_count_pages_through_the_pager() -> None:
    http = session()
    asked: list[tuple[int, int]] = []

    async def fetch(size: int, offset: Any) -> Page[dict[str, Any]]:
        start = offset or 0
        asked.append((start, size))
        response = await http.request(
            "GET",
            "https://quantum.test/v1/jobs",
            params={"offset": str(start), "limit": str(size)},
            authenticated=False,
        )
        body = response.json()
        end = start + len(body["jobs"])
        return Page(body["jobs"], next=end if end < body["count"] else None)

    try:
        ten = await Pager(fetch, limit=10, page_size=4)
        every = [job async for job in Pager(fetch, limit=None, page_size=10)]
    finally:
        await http.aclose()
    assert [job["id"] for job in ten] == [f"j{i}" for i in range(10)]
    assert [job["id"] for job in every] == [f"j{i}" for i in range(23)]
    assert asked == [(0, 4), (4, 4), (8, 2), (0, 10), (10, 10), (20, 10)]
