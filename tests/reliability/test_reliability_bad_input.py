"""Generated bad input against every endpoint of the local service: never a 500, and every
error answer has the documented body.

Hypothesis builds requests for every REST route of the service (docs/protocol.md §2 and the
object storage): path parameters (ids, backend and project names that exist, belong to
someone else, or are junk), query strings (``filter``, reservation windows, signed URL
parameters), headers (access tokens, ``Idempotency-Key``) and bodies (malformed JSON, any
JSON, the documents the endpoint expects with wrong fields). They go to ``create_app``
through ``httpx.ASGITransport``. Every answer must be below 500 and carry an
``uber-trace-id`` header; every error answer must have the body of docs/protocol.md §5.2,
``{"error": {"message", "code", "name", "status", "statusCode"}}``, with ``statusCode``
equal to the HTTP status.

The generated dates stay between 1900 and 2100 and the generated text of signed-URL
parameters is ASCII; the inputs outside those ranges that once made the service answer 500
(dates at the ends of the calendar, non-ASCII digits, lone surrogates) have tests of their
own at the end of this module.

The service's own integration tests (``tests/integration/test_service_bad_inputs.py``)
cover job-listing filters, JSON bodies of three endpoints and uploaded Qobjs; this module
adds every other route, the query strings, the headers and the websocket's first frame.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import anyio.from_thread
import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route as StarletteRoute

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.app import create_app
from ibmq_async.local.platform.routes import is_platform_path

SIM = "ibmq_qasm_simulator"
DEVICE = "ibmq_vigo"
MAIN = ("ibm-q", "open", "main")
SECOND = ("hub-f", "group-f", "project-f")
OTHERS = ("hub-b", "group-b", "project-b")
TOKEN_A = "fuzz-user-a"
TOKEN_B = "fuzz-user-b"
MAX_UPLOAD = 64 * 1024
FINAL = frozenset({"COMPLETED", "CANCELLED", "ERROR_VALIDATING_JOB", "ERROR_RUNNING_JOB"})

SETTINGS = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Derandomized, so a run in CI is reproducible; no example database in the checkout."""

FLIP_QOBJ: dict[str, Any] = {
    "qobj_id": "fuzz",
    "schema_version": "1.3.0",
    "type": "QASM",
    "header": {},
    "config": {"shots": 4, "memory_slots": 1, "n_qubits": 1},
    "experiments": [
        {
            "header": {"name": "flip", "memory_slots": 1, "n_qubits": 1},
            "config": {"n_qubits": 1, "memory_slots": 1},
            "instructions": [
                {"name": "x", "qubits": [0]},
                {"name": "measure", "qubits": [0], "memory": [0]},
            ],
        }
    ],
}


def _hgp_path(hgp: tuple[str, str, str]) -> str:
    hub, group, project = hgp
    return f"/api/Network/{hub}/Groups/{group}/Projects/{project}"


class Service:
    """The app of the local service behind ``httpx.ASGITransport``, driven from a portal.

    Attributes:
        tokens: The access tokens of users A and B.
        completed: A job of A that ran (it has a Qobj and a result).
        creating: A job of A created and never uploaded.
        foreign: A job of B, in B's own project.
        signed: The query strings of A's signed object storage URLs, by purpose.
    """

    def __init__(self, portal: anyio.from_thread.BlockingPortal) -> None:
        config = LocalServiceConfig(
            users=[
                UserConfig(token=TOKEN_A, id="fuzz-a", projects=["/".join(MAIN), "/".join(SECOND)]),
                UserConfig(token=TOKEN_B, id="fuzz-b", projects=["/".join(OTHERS)]),
            ],
            backends=[
                BackendConfig(name=SIM, device="simulator", workers=2),
                BackendConfig(name=DEVICE, device="vigo", max_jobs=3),
            ],
            max_upload_bytes=MAX_UPLOAD,
        )
        self.portal = portal
        self.app = create_app(config)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://service.test"
        )
        self.tokens = {user: self._login(token) for user, token in (("a", TOKEN_A), ("b", TOKEN_B))}
        self.completed = self._submit("a", MAIN)
        self.foreign = self._submit("b", OTHERS)
        created = self.json("POST", _hgp_path(MAIN) + "/Jobs", body={"backend": {"name": SIM}})
        self.creating: str = created["id"]
        self.signed = {
            "upload": urlsplit(created["objectStorageInfo"]["uploadUrl"]).query,
            "result": urlsplit(self._url(self.completed, "resultDownloadUrl")).query,
            "download": urlsplit(self._url(self.completed, "jobDownloadUrl")).query,
        }

    def close(self) -> None:
        self.portal.call(self.client.aclose)
        self.app.state.engine.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        call = functools.partial(
            self.client.request, method, path, params=params, headers=headers, content=content
        )
        return self.portal.call(call)

    def json(self, method: str, path: str, *, user: str = "a", body: Any = None) -> Any:
        content = None if body is None else json.dumps(body).encode()
        headers = {"X-Access-Token": self.tokens[user]} if user in self.tokens else {}
        response = self.request(method, path, headers=headers, content=content)
        assert response.status_code == 200, response.text
        return response.json() if response.content else None

    def _login(self, token: str) -> str:
        response = self.request(
            "POST", "/api/users/loginWithToken", content=json.dumps({"apiToken": token}).encode()
        )
        assert response.status_code == 200, response.text
        access: str = response.json()["id"]
        return access

    def _submit(self, user: str, hgp: tuple[str, str, str]) -> str:
        created = self.json(
            "POST", _hgp_path(hgp) + "/Jobs", user=user, body={"backend": {"name": SIM}}
        )
        upload = self.request(
            "PUT",
            created["objectStorageInfo"]["uploadUrl"],
            content=json.dumps(FLIP_QOBJ).encode(),
        )
        assert upload.status_code == 200, upload.text
        self.json("POST", f"{_hgp_path(hgp)}/Jobs/{created['id']}/jobDataUploaded", user=user)
        assert self.final_status(created["id"], user=user, hgp=hgp) == "COMPLETED"
        job_id: str = created["id"]
        return job_id

    def final_status(
        self, job_id: str, *, user: str = "a", hgp: tuple[str, str, str] = MAIN
    ) -> str:
        """Poll the job's status until it is final (30 s at most)."""
        deadline = time.monotonic() + 30
        while True:
            answer = self.json("GET", f"{_hgp_path(hgp)}/Jobs/{job_id}/status/v/1", user=user)
            status: str = answer["status"]
            if status in FINAL:
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.02)

    def new_job(self) -> str:
        """A new job of A, created and never uploaded, for a request that may delete it."""
        created = self.json("POST", _hgp_path(MAIN) + "/Jobs", body={"backend": {"name": SIM}})
        job_id: str = created["id"]
        return job_id

    def _url(self, job_id: str, suffix: str) -> str:
        url: str = self.json("GET", f"{_hgp_path(MAIN)}/Jobs/{job_id}/{suffix}")["url"]
        return url


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with anyio.from_thread.start_blocking_portal() as portal:
        running = Service(portal)
        try:
            yield running
        finally:
            running.close()


def assert_documented(response: httpx.Response) -> None:
    """Below 500, traced, and an error answer has the body of docs/protocol.md §5.2."""
    request = response.request
    url = str(request.url)
    url = url if len(url) < 300 else url[:300] + "..."
    where = f"{request.method} {url} -> {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, where
    assert response.headers.get("uber-trace-id"), where
    if response.status_code < 400:
        if response.content:
            response.json()
        return
    body = response.json()
    assert isinstance(body, dict), where
    assert set(body) == {"error"}, where
    error = body["error"]
    assert isinstance(error["message"], str), where
    assert error["message"], where
    assert isinstance(error["code"], int), where
    assert isinstance(error["name"], str), where
    assert error["statusCode"] == response.status_code, where
    assert error["status"] == response.status_code, where


# --- strategies ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
ascii_text = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
path_segment = st.text(min_size=1, max_size=30).map(lambda text: quote(text, safe=""))

offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.none() | offsets
)
date_texts = st.one_of(
    datetimes.map(datetime.isoformat),
    datetimes.map(lambda value: value.replace(tzinfo=None).isoformat() + "Z"),
    datetimes.map(lambda value: value.date().isoformat()),
    st.text(max_size=30),
)

operators = st.sampled_from(
    [
        "eq", "neq", "gt", "gte", "lt", "lte", "between", "inq", "nin", "like", "nlike",
        "ilike", "nilike", "regexp", "exists", "options", "near", "",
    ]
)  # fmt: skip
operands = st.one_of(json_values, date_texts, st.lists(date_texts, max_size=3))
fields = st.sampled_from(
    [
        "status", "name", "tags", "creationDate", "backend.name", "id", "hubInfo.hub.name",
        "last_update_date", "backend_name", "x.y.z", "",
    ]
)  # fmt: skip
conditions = st.one_of(operands, st.dictionaries(operators, operands, max_size=3))
wheres = st.recursive(
    st.dictionaries(fields, conditions, max_size=3),
    lambda children: st.dictionaries(
        st.sampled_from(["and", "or", "nor"]), st.lists(children, max_size=3), max_size=2
    ),
    max_leaves=8,
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "where": wheres | json_values,
        "order": st.one_of(
            st.sampled_from(["creationDate DESC", "creationDate ASC", "name", "x DESC"]),
            st.lists(st.text(max_size=15), max_size=3),
            json_values,
        ),
        "limit": st.integers(-5, 10**12) | json_values,
        "skip": st.integers(-5, 10**12) | json_values,
        "offset": json_values,
        "fields": st.dictionaries(st.text(max_size=12), st.booleans(), max_size=3) | json_values,
        "include": json_values,
        "bogus": json_values,
    },
)
filter_texts = st.one_of(filters.map(json.dumps), json_values.map(json.dumps), st.text(max_size=60))


@st.composite
def bodies(draw: st.DrawFn, endpoint: str) -> bytes | None:
    """A body for ``endpoint``: nothing, junk bytes, any JSON, or the expected shape, bent."""
    shaped: st.SearchStrategy[Any] = json_values
    if endpoint == "login":
        shaped = st.fixed_dictionaries({}, optional={"apiToken": json_values | st.just(TOKEN_A)})
    elif endpoint == "create":
        shaped = st.fixed_dictionaries(
            {},
            optional={
                "backend": st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {"name": st.sampled_from([SIM, DEVICE, "ibmq_nowhere"]) | json_values}
                    ),
                ),
                "name": json_values,
                "tags": st.lists(st.text(max_size=10), max_size=3) | json_values,
                "experimentTag": json_values,
                "liveDataEnabled": json_values,
                "allowObjectStorage": json_values,
            },
        )
    elif endpoint == "update":
        shaped = st.fixed_dictionaries(
            {},
            optional={
                "name": st.text(max_size=20) | json_values,
                "tags": st.lists(st.text(max_size=10), max_size=3) | json_values,
            },
        )
    elif endpoint == "upload":
        shaped = st.dictionaries(
            st.sampled_from(sorted(FLIP_QOBJ)) | st.text(max_size=8), json_values, max_size=6
        ).map(lambda changes: {**FLIP_QOBJ, **changes})
    body = draw(
        st.one_of(
            st.none(),
            st.binary(max_size=64),
            shaped.map(lambda value: json.dumps(value).encode()),
            json_values.map(lambda value: json.dumps(value).encode()),
        )
    )
    if body is not None and draw(st.integers(0, 9)) == 0:
        body = body + b" " * (MAX_UPLOAD + 1)  # over the size limit
    return body


@dataclass(frozen=True)
class Route:
    """A REST route of the service: method, path template, query parameters, body."""

    method: str
    template: str
    query: tuple[str, ...] = ()
    body: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


HGP = "{hgp}"
JOB = "{hgp}/Jobs/{job}"
DEV = "{hgp}/devices/{name}"
STORE = "/api/objectstorage/jobs/{job}"
ROUTES = [
    Route("GET", "/api/version"),
    Route("GET", "/api/health"),
    Route("POST", "/api/users/loginWithToken", body="login"),
    Route("GET", "/api/users/me"),
    Route("GET", "/api/Network"),
    Route("GET", "/api/Network/bookings/v2"),
    Route("GET", "/api/Network/devices/{name}/bookings/v2", query=("initialDate", "endDate")),
    Route("GET", HGP + "/devices/v/1"),
    Route("GET", DEV + "/properties", query=("version", "filter")),
    Route("GET", DEV + "/defaults"),
    Route("GET", DEV + "/queue/status"),
    Route("GET", DEV + "/jobsLimit"),
    Route("POST", HGP + "/Jobs", body="create"),
    Route("GET", HGP + "/Jobs/status/v/1", query=("filter",)),
    Route("GET", HGP + "/Jobs/v/1", query=("filter",)),
    Route("GET", JOB + "/v/1"),
    Route("GET", JOB + "/status/v/1"),
    Route("POST", JOB + "/jobDataUploaded"),
    Route("POST", JOB + "/cancel"),
    Route("GET", JOB + "/resultDownloadUrl"),
    Route("POST", JOB + "/resultDownloaded"),
    Route("GET", JOB + "/jobDownloadUrl"),
    Route("GET", JOB + "/properties"),
    Route("PUT", JOB, body="update"),
    Route("DELETE", JOB),
    Route("PUT", STORE + "/qobj", query=("expires", "signature"), body="upload"),
    Route("GET", STORE + "/qobj", query=("expires", "signature")),
    Route("GET", STORE + "/result", query=("expires", "signature")),
]
"""Every REST route of ``ibmq_async.local.app`` (the websocket is tested on its own)."""


@st.composite
def requests(draw: st.DrawFn, service: Service, route: Route) -> dict[str, Any]:
    """One request to ``route``: parameters, query, headers and body, each maybe wrong."""
    hgp = draw(
        st.one_of(
            st.sampled_from([_hgp_path(MAIN), _hgp_path(SECOND), _hgp_path(OTHERS)]),
            st.tuples(path_segment, path_segment, path_segment).map(
                lambda parts: "/api/Network/{}/Groups/{}/Projects/{}".format(*parts)
            ),
        )
    )
    job = draw(
        st.sampled_from(
            [service.completed, service.creating, service.foreign, "0" * 24, service.completed]
        )
        | path_segment
    )
    if job in (service.completed, service.creating) and (
        route.method == "DELETE" or route.template.endswith(("/cancel", "/jobDataUploaded"))
    ):
        job = service.new_job()  # the shared jobs stay as they are for the other examples
    name = draw(st.sampled_from([SIM, DEVICE, "ibmq_nowhere"]) | path_segment)
    path = route.template.replace("{hgp}", hgp).replace("{job}", job).replace("{name}", name)

    params: dict[str, str] = {}
    for key in route.query:
        if key == "filter":
            value = draw(st.none() | filter_texts)
        elif key in ("initialDate", "endDate"):
            value = draw(st.none() | date_texts)
        elif key == "expires":
            valid = parse_qs(service.signed["result"]).get("expires", ["0"])[0]
            value = draw(st.none() | st.just(valid) | st.integers(-(10**12), 10**12).map(str))
            value = value if value is None or draw(st.booleans()) else draw(ascii_text)
        elif key == "signature":
            valid = parse_qs(service.signed["result"]).get("signature", [""])[0]
            value = draw(st.none() | st.just(valid) | ascii_text)
        else:
            value = draw(st.none() | st.text(max_size=10))
        if value is not None:
            params[key] = value
    if route.template.startswith(STORE) and draw(st.booleans()):
        purpose = {"PUT": "upload", "GET": "result" if path.endswith("/result") else "download"}
        params = {k: v[0] for k, v in parse_qs(service.signed[purpose[route.method]]).items()}
    params.update(draw(st.dictionaries(ascii_text, st.text(max_size=10), max_size=2)))

    headers: dict[str, str] = {}
    token = draw(
        st.sampled_from([service.tokens["a"], service.tokens["a"], service.tokens["b"], None])
        | ascii_text
    )
    if token is not None:
        if draw(st.booleans()):
            headers["X-Access-Token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
    if route.body == "create" and draw(st.booleans()):
        headers["Idempotency-Key"] = draw(
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300)
        )
    content = draw(bodies(route.body)) if route.body else draw(st.none() | st.binary(max_size=16))
    return {
        "method": route.method,
        "path": path,
        "params": params,
        "headers": headers,
        "content": content,
    }


# --- the generated requests -------------------------------------------------------------------


@settings(SETTINGS, max_examples=800)
@given(data=st.data())
def test_any_request_to_any_route_gets_no_500_and_the_documented_error_body(
    service: Service, data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    request = data.draw(requests(service, route), label="request")
    assert_documented(service.request(**request))


@pytest.mark.parametrize("route", ROUTES, ids=str)
@settings(SETTINGS, max_examples=12)
@given(data=st.data())
def test_each_route_gets_no_500_and_the_documented_error_body(
    service: Service, route: Route, data: st.DataObject
) -> None:
    request = data.draw(requests(service, route), label="request")
    assert_documented(service.request(**request))


@settings(SETTINGS, max_examples=150)
@given(text=filter_texts, target=st.sampled_from(["jobs", "ids", "properties", "simulator"]))
def test_any_filter_on_any_route_that_reads_one_is_answered(
    service: Service, text: str, target: str
) -> None:
    path = {
        "jobs": _hgp_path(MAIN) + "/Jobs/status/v/1",
        "ids": _hgp_path(MAIN) + "/Jobs/v/1",
        "properties": _hgp_path(MAIN) + f"/devices/{DEVICE}/properties",
        "simulator": _hgp_path(MAIN) + f"/devices/{SIM}/properties",
    }[target]
    response = service.request(
        "GET", path, params={"filter": text}, headers={"X-Access-Token": service.tokens["a"]}
    )
    assert_documented(response)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == 3216


@settings(SETTINGS, max_examples=60)
@given(start=st.none() | date_texts, end=st.none() | date_texts)
def test_any_reservation_window_is_answered(
    service: Service, start: str | None, end: str | None
) -> None:
    params = {key: value for key, value in (("initialDate", start), ("endDate", end)) if value}
    response = service.request(
        "GET",
        f"/api/Network/devices/{DEVICE}/bookings/v2",
        params=params,
        headers={"X-Access-Token": service.tokens["a"]},
    )
    assert_documented(response)
    assert response.status_code in (200, 400), response.text


@settings(SETTINGS, max_examples=60)
@given(
    key=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
    body=bodies("create"),
)
def test_any_job_creation_is_answered_and_a_key_is_honoured_or_refused(
    service: Service, key: str, body: bytes | None
) -> None:
    headers = {"X-Access-Token": service.tokens["a"], "Idempotency-Key": key}
    first = service.request("POST", _hgp_path(MAIN) + "/Jobs", headers=headers, content=body)
    assert_documented(first)
    if first.status_code == 200:
        again = service.request("POST", _hgp_path(MAIN) + "/Jobs", headers=headers, content=body)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
    if not 0 < len(key) <= 255:
        assert first.status_code in (400, 413)


# --- malformed bodies, one by one --------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "truncated": b'{"backend": {"name": "ibmq_qasm_simulator"',
    "not utf-8": b"\xff\xfe\x00{",
    "deeply nested": b"[" * 100_000,
    "NaN": b'{"apiToken": NaN, "backend": {"name": NaN}}',
    "Infinity": b'{"name": Infinity}',
    "a string": b'"ibmq_qasm_simulator"',
    "null": b"null",
    "a number": b"1e999999",
    "duplicate keys": b'{"backend": 1, "backend": {"name": 2}}',
    "over the size limit": json.dumps({"name": "x" * (MAX_UPLOAD + 10)}).encode(),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("target", ["login", "create", "update", "upload"])
def test_a_malformed_body_is_a_4xx_with_the_error_body(
    service: Service, target: str, kind: str
) -> None:
    body = MALFORMED[kind]
    headers = {"X-Access-Token": service.tokens["a"]}
    if target == "login":
        method, path, headers = "POST", "/api/users/loginWithToken", {}
    elif target == "create":
        method, path = "POST", _hgp_path(MAIN) + "/Jobs"
    elif target == "update":
        method, path = "PUT", f"{_hgp_path(MAIN)}/Jobs/{service.new_job()}"
    else:
        created = service.json("POST", _hgp_path(MAIN) + "/Jobs", body={"backend": {"name": SIM}})
        method, path, headers = "PUT", created["objectStorageInfo"]["uploadUrl"], {}
    response = service.request(method, path, headers=headers, content=body)
    assert_documented(response)
    if target == "upload" and kind == "duplicate keys":
        # A JSON object is stored as uploaded; it is the validation that refuses it.
        assert response.status_code == 200
        service.json("POST", f"{_hgp_path(MAIN)}/Jobs/{created['id']}/jobDataUploaded")
        assert service.final_status(created["id"]) == "ERROR_VALIDATING_JOB"
        return
    assert 400 <= response.status_code < 500, response.text
    if kind == "over the size limit":
        assert response.status_code == 413
        assert response.json()["error"]["code"] == 1001


def test_unknown_routes_and_methods_get_the_error_body(service: Service) -> None:
    for method, path in [
        ("GET", "/"),
        ("GET", "/api"),
        ("GET", "/api/Network/ibm-q"),
        ("PATCH", f"{_hgp_path(MAIN)}/Jobs/{service.completed}"),
        ("POST", "/api/version"),
        ("DELETE", "/api/users/me"),
        ("GET", "/api/objectstorage/jobs/x/other"),
        ("OPTIONS", _hgp_path(MAIN) + "/Jobs"),
    ]:
        response = service.request(method, path, headers={"X-Access-Token": service.tokens["a"]})
        assert_documented(response)
        assert response.status_code in (404, 405), (method, path)


# --- the websocket's first frame ---------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token=TOKEN_A)],
        backends=[BackendConfig(name=SIM, device="simulator")],
    )
    with LocalService(config) as running:
        yield running


async def _first_frame_answer(service: LocalService, frame: str | bytes) -> tuple[str, Any]:
    url = service.url.replace("http://", "ws://") + "/ws/jobs/" + "0" * 24 + "/status/v/1"
    async with httpx.AsyncClient() as client, aconnect_ws(url, client) as ws:
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_text(frame)
        with anyio.fail_after(10):
            try:
                message = await ws.receive_text()
            except WebSocketDisconnect as closed:
                return "closed", closed.code
        return "message", json.loads(message)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        b"\xff\xfe",
        "[]",
        '"authentication"',
        '{"type": "hello", "data": "x"}',
        '{"type": "authentication"}',
        '{"type": "authentication", "data": 5}',
        '{"type": "authentication", "data": ["x"]}',
        '{"type": "authentication", "data": "not-a-token"}',
        '{"type": "authentication", "data": "' + "x" * 10_000 + '"}',
    ],
    ids=lambda frame: repr(frame[:30]),
)
@pytest.mark.asyncio
async def test_a_bad_first_websocket_frame_is_refused_with_1008(
    served: LocalService, frame: str | bytes
) -> None:
    assert await _first_frame_answer(served, frame) == ("closed", 1008)


# --- inputs that once crashed the service -------------------------------------------------------

CALENDAR_ENDS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("date", CALENDAR_ENDS)
@pytest.mark.parametrize("where", ["initialDate", "endDate", "jobs", "ids", "properties"])
def test_a_date_at_the_ends_of_the_calendar_is_answered_not_crashed_on(
    service: Service, where: str, date: str
) -> None:
    headers = {"X-Access-Token": service.tokens["a"]}
    if where in ("initialDate", "endDate"):
        path = f"/api/Network/devices/{DEVICE}/bookings/v2"
        params = {where: date}
    elif where == "properties":
        path = _hgp_path(MAIN) + f"/devices/{DEVICE}/properties"
        params = {"filter": json.dumps({"where": {"last_update_date": {"lt": date}}})}
    else:
        suffix = "/Jobs/status/v/1" if where == "jobs" else "/Jobs/v/1"
        path = _hgp_path(MAIN) + suffix
        params = {"filter": json.dumps({"where": {"creationDate": {"gt": date}}})}
    response = service.request("GET", path, params=params, headers=headers)
    assert_documented(response)
    assert response.status_code in (200, 400)


SIGNED_URL_BUGS = {
    "superscript expiry": {"expires": "²", "signature": "0" * 40},
    "5000-digit expiry": {"expires": "9" * 5000, "signature": "0" * 40},
    "non-ASCII signature": {"expires": str(2**40), "signature": "é" * 40},
}


@pytest.mark.parametrize("case", sorted(SIGNED_URL_BUGS))
@pytest.mark.parametrize("method_kind", ["PUT qobj", "GET qobj", "GET result"])
def test_a_malformed_signed_url_is_refused(service: Service, method_kind: str, case: str) -> None:
    method, kind = method_kind.split()
    response = service.request(
        method,
        f"/api/objectstorage/jobs/{service.completed}/{kind}",
        params=SIGNED_URL_BUGS[case],
        content=b"{}" if method == "PUT" else None,
    )
    assert_documented(response)
    assert response.status_code == 401


@pytest.mark.parametrize("value", ["²", "9" * 5000], ids=["superscript", "5000 digits"])
@pytest.mark.parametrize("key", ["limit", "skip", "offset"])
@pytest.mark.parametrize("where", ["jobs", "ids", "properties"])
def test_a_filter_count_that_is_no_integer_is_a_400(
    service: Service, where: str, key: str, value: str
) -> None:
    path = {
        "jobs": _hgp_path(MAIN) + "/Jobs/status/v/1",
        "ids": _hgp_path(MAIN) + "/Jobs/v/1",
        "properties": _hgp_path(MAIN) + f"/devices/{DEVICE}/properties",
    }[where]
    response = service.request(
        "GET",
        path,
        params={"filter": json.dumps({key: value})},
        headers={"X-Access-Token": service.tokens["a"]},
    )
    assert_documented(response)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 3216


def test_a_login_token_that_is_not_unicode_is_refused(service: Service) -> None:
    response = service.request(
        "POST", "/api/users/loginWithToken", content=b'{"apiToken": "\\ud800"}'
    )
    assert_documented(response)
    assert response.status_code in (400, 401)


@pytest.mark.asyncio
async def test_a_websocket_token_that_is_not_unicode_is_refused_with_1008(
    served: LocalService,
) -> None:
    frame = '{"type": "authentication", "data": "\\ud800"}'
    assert await _first_frame_answer(served, frame) == ("closed", 1008)


def test_the_generated_requests_cover_every_route_of_the_service(service: Service) -> None:
    served = set()
    for route in service.app.routes:  # the platform API's routes: test_platform_bad_input.py
        if isinstance(route, StarletteRoute) and not is_platform_path(route.path):
            served |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    hgp = "/api/Network/{hub}/Groups/{group}/Projects/{project}"
    generated = {
        (route.method, route.template.replace("{hgp}", hgp).replace("{job}", "{job_id}"))
        for route in ROUTES
    }
    assert generated == served
