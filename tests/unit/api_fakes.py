"""Test support for the HTTP layer: a respx router behind a transport that tracks responses.

``TrackingTransport`` routes every request through a respx router and wraps each response
body in a stream that records whether it was closed, so a test can assert that no
response (and so no pooled connection) is left open after a retry sequence. ``FakeJobs``
is a small in-memory job store on respx routes (create, upload, start, get, status,
listing with the LoopBack filter), with fault hooks per call.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import httpx
import respx

from ibmq_async.api import RetryPolicy
from ibmq_async.api.aiohttp_transport import transport_error
from ibmq_async.api.classic import Connection

AUTH_URL = "https://auth.example.test/api"
API_URL = "https://api.example.test/api"
API_TOKEN = "apitoken-5f2d8c0e-SECRET-d2b1"
ACCESS_TOKEN = "accesstoken-9b7a11-SECRET-77c3"
HUB, GROUP, PROJECT = "ibm-q", "open", "main"
HGP = f"{API_URL}/Network/{HUB}/Groups/{GROUP}/Projects/{PROJECT}"


class WaitRecorder:
    """An instant sleep that records the waits asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def instant_policy(recorder: WaitRecorder, **changes: Any) -> RetryPolicy:
    """A deterministic policy (no jitter) whose waits are recorded, not slept."""
    return RetryPolicy(jitter=0.0, sleep=recorder.sleep, **changes)


class _TrackedStream(httpx.AsyncByteStream):
    def __init__(self, content: bytes) -> None:
        self._content = content
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._content

    async def aclose(self) -> None:
        self.closed = True


class TrackingTransport(httpx.AsyncBaseTransport):
    """Routes requests through ``router`` and remembers every request and response stream."""

    def __init__(self, router: respx.Router) -> None:
        self.router = router
        self.requests: list[httpx.Request] = []
        self.streams: list[_TrackedStream] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.router.async_handler(request)
        content = await response.aread()
        stream = _TrackedStream(content)
        self.streams.append(stream)
        return httpx.Response(
            response.status_code, headers=response.headers, stream=stream, request=request
        )

    @property
    def open_responses(self) -> int:
        return sum(1 for stream in self.streams if not stream.closed)

    def calls(self, method: str, pattern: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and re.search(pattern, str(r.url))]


def auth_routes(
    router: respx.Router,
    *,
    access_tokens: list[str] | None = None,
    ws_url: str | None = None,
) -> respx.Route:
    """Version, login (handing out ``access_tokens`` in turn) and ``/users/me``; the login route."""
    tokens = itertools.chain(access_tokens or [ACCESS_TOKEN], itertools.repeat(None))
    last: list[str] = []

    def login(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("apiToken") != API_TOKEN:
            return httpx.Response(401, json={"error": {"message": "Login failed.", "code": 3446}})
        token = next(tokens)
        if token is None:
            token = last[-1]
        last.append(token)
        return httpx.Response(200, json={"id": token, "ttl": 1209600, "userId": "u1"})

    router.get(f"{AUTH_URL}/version").respond(json={"api-auth": "0.1", "new_api": True})
    login_route = router.post(f"{AUTH_URL}/users/loginWithToken").mock(side_effect=login)
    router.get(f"{AUTH_URL}/users/me").respond(
        json={"urls": {"http": API_URL, "ws": ws_url, "services": {}}}
    )
    return login_route


async def connect(
    router: respx.Router, *, retry: RetryPolicy | None = None, **kwargs: Any
) -> tuple[Connection, TrackingTransport]:
    transport = TrackingTransport(router)
    connection = await Connection.connect(
        API_TOKEN, AUTH_URL, retry=retry, transport=transport, **kwargs
    )
    return connection, transport


# --- a LoopBack filter evaluator (enough of §2.5 for the fakes) ---------------------------


def _lookup(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _matches_condition(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict):
        if isinstance(value, list):
            return condition in value
        return bool(value == condition)
    for operator, operand in condition.items():
        values = value if isinstance(value, list) else [value]
        if operator == "inq":
            ok = any(v in operand for v in values)
        elif operator == "nin":
            ok = all(v not in operand for v in values)
        elif operator == "lte":
            ok = value is not None and value <= operand
        elif operator == "gte":
            ok = value is not None and value >= operand
        elif operator == "lt":
            ok = value is not None and value < operand
        elif operator == "between":
            ok = value is not None and operand[0] <= value <= operand[1]
        elif operator == "regexp":
            ok = value is not None and re.search(operand, str(value)) is not None
        else:
            raise ValueError(f"operator {operator} not supported by the fake")
        if not ok:
            return False
    return True


def matches_where(document: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, condition in where.items():
        if key == "and":
            if not all(matches_where(document, sub) for sub in condition):
                return False
        elif key == "or":
            if not any(matches_where(document, sub) for sub in condition):
                return False
        elif not _matches_condition(_lookup(document, key), condition):
            return False
    return True


def apply_filter(documents: list[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    where = query.get("where") or {}
    selected = [d for d in documents if matches_where(d, where)]
    order = query.get("order", "creationDate DESC")
    selected.sort(key=lambda d: d["creationDate"], reverse=order.endswith("DESC"))
    skip = int(query.get("skip", 0))
    limit = int(query.get("limit", 20))
    return selected[skip : skip + limit]


# --- a job store --------------------------------------------------------------------------

Fault = Callable[[httpx.Request], httpx.Response | None] | type[Exception] | str | None


class FakeJobs:
    """Jobs on respx routes: create, upload, start, get, status, cancel, listing.

    ``faults[name]`` is a list consumed one item per call of that endpoint (``create``,
    ``upload``, ``start``, ``get``, ``list``): ``None`` (behave), an exception class (raise
    it before the server acts), ``"lost"`` (act, then raise ``httpx.ReadError`` as if the
    response were lost), ``"disconnected"`` (act, then fail as the asyncio stack does when
    the server closes the connection after the request was written), ``"acted-502"``
    (act, then answer 502), or an ``httpx.Response`` to answer instead of acting.
    """

    def __init__(self, router: respx.Router, *, honour_idempotency_key: bool = True) -> None:
        self.router = router
        self.jobs: dict[str, dict[str, Any]] = {}
        self.qobjs: dict[str, Any] = {}
        self.by_key: dict[str, str] = {}
        self.honour_idempotency_key = honour_idempotency_key
        self.faults: dict[str, list[Any]] = {}
        self.calls: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._clock = datetime(2024, 1, 1, tzinfo=timezone.utc)
        self.same_timestamp = False
        jobs = re.escape(f"{HGP}/Jobs")
        router.post(f"{HGP}/Jobs").mock(side_effect=self._wrap("create", self._create))
        router.put(url__regex=rf"^{re.escape(API_URL)}/upload/(?P<job_id>[^/?]+)$").mock(
            side_effect=self._wrap("upload", self._upload)
        )
        router.post(url__regex=rf"^{jobs}/(?P<job_id>[^/]+)/jobDataUploaded$").mock(
            side_effect=self._wrap("start", self._start)
        )
        router.get(url__regex=rf"^{jobs}/status/v/1(\?.*)?$").mock(
            side_effect=self._wrap("list", self._list)
        )
        router.get(url__regex=rf"^{jobs}/v/1(\?.*)?$").mock(
            side_effect=self._wrap("list_ids", self._list_ids)
        )
        router.get(url__regex=rf"^{jobs}/(?P<job_id>[^/]+)/v/1$").mock(
            side_effect=self._wrap("get", self._get)
        )
        router.get(url__regex=rf"^{jobs}/(?P<job_id>[^/]+)/status/v/1$").mock(
            side_effect=self._wrap("status", self._status)
        )
        router.post(url__regex=rf"^{jobs}/(?P<job_id>[^/]+)/cancel$").mock(
            side_effect=self._wrap("cancel", self._cancel)
        )
        router.delete(url__regex=rf"^{jobs}/(?P<job_id>[^/]+)$").mock(
            side_effect=self._wrap("delete", self._delete)
        )

    def _wrap(
        self, name: str, handler: Callable[..., httpx.Response]
    ) -> Callable[..., httpx.Response]:
        def side_effect(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.calls[name] = self.calls.get(name, 0) + 1
            pending = self.faults.get(name)
            fault = pending.pop(0) if pending else None
            if isinstance(fault, type) and issubclass(fault, Exception):
                raise fault("injected", request=request)
            if isinstance(fault, httpx.Response):
                return fault
            response = handler(request, **kwargs)
            if fault == "lost":
                raise httpx.ReadError("response lost", request=request)
            if fault == "disconnected":
                raise transport_error(aiohttp.ServerDisconnectedError())
            if fault == "acted-502":
                return httpx.Response(502, text="Bad gateway")
            return response

        return side_effect

    def _now(self) -> str:
        if not self.same_timestamp:
            self._clock += timedelta(milliseconds=10)
        return self._clock.isoformat().replace("+00:00", "Z")

    def _create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        key = request.headers.get("Idempotency-Key")
        if self.honour_idempotency_key and key and key in self.by_key:
            job = self.jobs[self.by_key[key]]
        else:
            job_id = f"job{next(self._ids):04d}"
            job = {
                "id": job_id,
                "creationDate": self._now(),
                "status": "CREATING",
                "kind": "q-object-external-storage",
                "backend": body["backend"],
                "tags": body.get("tags", []),
                "name": body.get("name"),
            }
            self.jobs[job_id] = job
            if key:
                self.by_key[key] = job_id
        return httpx.Response(
            200,
            json={
                "id": job["id"],
                "status": job["status"],
                "objectStorageInfo": {"uploadUrl": f"{API_URL}/upload/{job['id']}"},
            },
        )

    def _upload(self, request: httpx.Request, job_id: str) -> httpx.Response:
        self.qobjs[job_id] = json.loads(request.content)
        return httpx.Response(200, text="")

    def _start(self, request: httpx.Request, job_id: str) -> httpx.Response:
        job = self.jobs[job_id]
        if job["status"] != "CREATING":
            return httpx.Response(
                400, json={"error": {"message": "Job already uploaded", "code": 3301}}
            )
        job["status"] = "QUEUED"
        return httpx.Response(200, json={"job": job})

    def _get(self, request: httpx.Request, job_id: str) -> httpx.Response:
        if job_id not in self.jobs:
            return httpx.Response(404, json={"error": {"message": "Job not found", "code": 3250}})
        return httpx.Response(200, json=self.jobs[job_id])

    def _status(self, request: httpx.Request, job_id: str) -> httpx.Response:
        if job_id not in self.jobs:
            return httpx.Response(404, json={"error": {"message": "Job not found", "code": 3250}})
        return httpx.Response(200, json={"status": self.jobs[job_id]["status"]})

    def _cancel(self, request: httpx.Request, job_id: str) -> httpx.Response:
        self.jobs[job_id]["status"] = "CANCELLED"
        return httpx.Response(200, json={"cancelled": True})

    def _delete(self, request: httpx.Request, job_id: str) -> httpx.Response:
        self.jobs.pop(job_id, None)
        return httpx.Response(204)

    def _list(self, request: httpx.Request) -> httpx.Response:
        query = json.loads(request.url.params["filter"])
        return httpx.Response(200, json=apply_filter(list(self.jobs.values()), query))

    def _list_ids(self, request: httpx.Request) -> httpx.Response:
        query = json.loads(request.url.params["filter"])
        fields = [k for k, v in query.get("fields", {}).items() if v]
        page = apply_filter(list(self.jobs.values()), query)
        return httpx.Response(200, json=[{k: d.get(k) for k in fields} for d in page])

    def add_job(self, **fields: Any) -> dict[str, Any]:
        job_id = f"job{next(self._ids):04d}"
        job = {
            "id": job_id,
            "creationDate": self._now(),
            "status": "COMPLETED",
            "backend": {"name": "ibmq_qasm_simulator"},
            "tags": [],
            **fields,
        }
        self.jobs[job_id] = job
        return job


def bell_qobj() -> dict[str, Any]:
    return {
        "qobj_id": "q1",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {"backend_name": "ibmq_qasm_simulator"},
        "config": {"shots": 16, "memory_slots": 1, "n_qubits": 1},
        "experiments": [
            {
                "header": {"name": "c0", "memory_slots": 1, "n_qubits": 1},
                "config": {"n_qubits": 1, "memory_slots": 1},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }
