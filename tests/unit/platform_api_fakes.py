"""A small in-memory platform API on respx routes, for what the local service will not do on
demand: IAM tokens that expire when told, job creations whose answers are lost, 429
sequences, 5xx listings, malformed answers. Every request goes through a
:class:`~api_fakes.TrackingTransport`, so a test counts what was sent."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx
from api_fakes import TrackingTransport

from ibmq_async.api import RetryPolicy
from ibmq_async.api.platform import PlatformClient

ROOT = "https://quantum.example.test/api"
IAM = "https://iam.example.test"
API_KEY = "platform-key-SECRET-3f9a"
CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct1:inst1::"

Fault = Callable[[httpx.Request], httpx.Response | None]
"""Answers a request instead of the fake (or raises a transport error); ``None`` lets the
fake answer."""


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"trace": "t-1", "errors": [{"code": code, "message": message, "more_info": ""}]}


class FakePlatform:
    """The runtime API and IAM of one instance, in memory.

    Attributes:
        jobs: The jobs made, by id, in creation order.
        token_lifetime: ``expires_in`` of the tokens IAM hands out.
        valid: The tokens the API accepts (IAM adds each it issues).
        create_faults / list_faults / get_faults: One fault per call, in turn (then none).
    """

    def __init__(self, router: respx.Router, *, token_lifetime: int = 3600) -> None:
        self.router = router
        self.jobs: dict[str, dict[str, Any]] = {}
        self.token_lifetime = token_lifetime
        self.valid: set[str] = set()
        self.issued: list[str] = []
        self.create_faults: list[Fault | None] = []
        self.list_faults: list[Fault | None] = []
        self.get_faults: list[Fault | None] = []
        self._ids = itertools.count(1)
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        router.post(f"{IAM}/identity/token").mock(side_effect=self._token)
        router.get(f"{ROOT}/v1/instances/usage").mock(side_effect=self._usage)
        router.post(f"{ROOT}/v1/jobs").mock(side_effect=self._create)
        router.get(f"{ROOT}/v1/jobs").mock(side_effect=self._list)
        router.get(url__regex=rf"^{ROOT}/v1/jobs/[^/]+$").mock(side_effect=self._get)

    # --- helpers for tests ------------------------------------------------------------------

    def add_job(self, state: str = "Queued", tags: list[str] | None = None) -> str:
        job_id = f"job{next(self._ids):04d}"
        self._clock += timedelta(seconds=1)
        self.jobs[job_id] = {
            "id": job_id,
            "backend": "ibm_fake",
            "state": {"status": state},
            "status": state,
            "program": {"id": "sampler"},
            "created": self._clock.isoformat().replace("+00:00", "Z"),
            "tags": list(tags or []),
        }
        return job_id

    def set_state(self, job_id: str, state: str) -> None:
        self.jobs[job_id]["state"] = {"status": state}
        self.jobs[job_id]["status"] = state

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        self.valid.clear()

    # --- routes -----------------------------------------------------------------------------

    def _authorised(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.valid:
            return httpx.Response(401, json=error_body(1202, "The access token has expired"))
        if request.headers.get("service-crn") != CRN:
            return httpx.Response(403, json=error_body(1203, "Forbidden"))
        return None

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("apikey") != [API_KEY]:
            return httpx.Response(
                400,
                json={
                    "errorCode": "BXNIM0415E",
                    "errorMessage": "Provided API key could not be found.",
                },
            )
        token = f"bearer-SECRET-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "refresh_token": "not_supported",
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "expiration": 0,
            },
        )

    def _usage(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        return httpx.Response(
            200,
            json={
                "instance_id": CRN,
                "plan_id": "plan",
                "usage_consumed_seconds": 600,
                "usage_period": {
                    "start_time": "2026-01-01T00:00:00Z",
                    "end_time": "2026-01-29T00:00:00Z",
                },
                "usage_allocation_seconds": 600,
                "usage_limit_reached": True,
            },
        )

    @staticmethod
    def _fault(faults: list[Fault | None], request: httpx.Request) -> httpx.Response | None:
        if not faults:
            return None
        fault = faults.pop(0)
        return None if fault is None else fault(request)

    def _create(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        answer = self._fault(self.create_faults, request)
        if answer is not None:
            return answer
        body = json.loads(request.content)
        job_id = self.add_job(tags=body.get("tags"))
        return httpx.Response(200, json={"id": job_id, "backend": body["backend"]})

    def _list(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        answer = self._fault(self.list_faults, request)
        if answer is not None:
            return answer
        params = request.url.params
        tags = set(params.get_list("tags"))
        pending = params.get("pending")
        final = {"Completed", "Failed", "Cancelled", "Cancelled - Ran too long"}
        matching = [
            job
            for job in self.jobs.values()
            if tags <= set(job["tags"])
            and (pending is None or (job["state"]["status"] not in final) == (pending == "true"))
        ]
        if params.get("sort") != "ASC":
            matching.reverse()
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 200))
        page = matching[offset : offset + limit]
        return httpx.Response(
            200, json={"jobs": page, "count": len(matching), "limit": limit, "offset": offset}
        )

    def _get(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        answer = self._fault(self.get_faults, request)
        if answer is not None:
            return answer
        job = self.jobs.get(request.url.path.rsplit("/", 1)[1])
        if job is None:
            return httpx.Response(404, json=error_body(1211, "Job not found"))
        return httpx.Response(200, json=job)


def lost_after_made(platform: FakePlatform) -> Fault:
    """Make the job, then lose the answer (a read timeout)."""

    def fault(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        platform.add_job(tags=body.get("tags"))
        raise httpx.ReadTimeout("the answer was lost", request=request)

    return fault


def disconnect_after_sent(request: httpx.Request) -> httpx.Response:
    """The server closes the connection once the request was written (no job made)."""
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
    def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json=body, headers=headers)

    return fault


def rate_limited(retry_after: str) -> Fault:
    return status(
        429, error_body(1302, "Job creation is rate limited"), {"Retry-After": retry_after}
    )


async def connect(
    router: respx.Router, *, retry: RetryPolicy | None = None, **kwargs: Any
) -> tuple[PlatformClient, TrackingTransport]:
    transport = TrackingTransport(router)
    client = await PlatformClient.connect(
        API_KEY, CRN, url=ROOT, iam_url=IAM, retry=retry, transport=transport, **kwargs
    )
    return client, transport
