"""Generated bad input against every route of the platform API: never a 500, and every error
answer has the platform's body (``{"trace", "errors": [{"code", "message", "more_info"}]}``),
IAM's for ``/identity/token``.

Hypothesis builds requests for each route (docs/platform.md): the ``Authorization`` header
(a valid token, none, junk, a forged token, an API key), ``Service-CRN`` (the caller's,
another user's, junk, none), ``IBM-API-Version``, path parameters (a job or session that
exists, one of another instance, junk), query strings and bodies (nothing, junk bytes, any
JSON, and the documents the route expects with wrong fields and typed values that do not
decode). They go to the app in process through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import base64
import functools
import json
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import anyio.from_thread
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route as StarletteRoute

from ibmq_async import runtime_json
from ibmq_async.local import BackendConfig, LocalServiceConfig, UserConfig
from ibmq_async.local.app import create_app
from ibmq_async.local.platform.routes import is_platform_path
from ibmq_async.models.platform import IamError, PlatformError

A = "crn:v1:bluemix:public:quantum-computing:us-east:a/fuzz0a:inst0a::"
B = "crn:v1:bluemix:public:quantum-computing:us-east:a/fuzz0b:inst0b::"
SIM = "ibmq_qasm_simulator"
DEVICE = "ibm_fez"
GRANT = "urn:ibm:params:oauth:grant-type:apikey"

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _bell() -> Any:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


@functools.cache
def _forging_key() -> rsa.RSAPrivateKey:
    """A key that is not the service's, to sign forged tokens with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SyncClient:
    """An ``httpx.AsyncClient`` on the app (``ASGITransport``), called from a portal."""

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal) -> None:
        self.portal = portal
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service.test"
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.portal.call(
            functools.partial(self.http.request, method, path, **kwargs)
        )
        return response

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)


class Service:
    """The app with two users and a job and session of each."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal) -> None:
        config = LocalServiceConfig(
            users=[
                UserConfig(token="fa", id="fa", api_key="key-a", instances=[A], jobs_per_minute=0),
                UserConfig(token="fb", id="fb", api_key="key-b", instances=[B], jobs_per_minute=0),
            ],
            backends=[
                BackendConfig(name=SIM, device="simulator", workers=2),
                BackendConfig(name=DEVICE, device="fez", paused=True),
            ],
            max_upload_bytes=256 * 1024,
        )
        self.app = create_app(config)
        self.client = SyncClient(self.app, portal)
        self.tokens = {user: self._token(key) for user, key in (("a", "key-a"), ("b", "key-b"))}
        self.circuit = json.loads(runtime_json.dumps(_bell()))
        self.job = self._job("a", A)
        self.foreign_job = self._job("b", B)
        self.session = self._session("a", A)
        self.foreign_session = self._session("b", B)

    def _token(self, key: str) -> str:
        response = self.client.post("/identity/token", data={"grant_type": GRANT, "apikey": key})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def headers(self, user: str, crn: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "Service-CRN": crn}

    def _job(self, user: str, crn: str) -> str:
        body = {
            "program_id": "sampler",
            "backend": SIM,
            "params": {"pubs": [[self.circuit, None, 10]], "version": 2},
        }
        response = self.client.post("/api/v1/jobs", json=body, headers=self.headers(user, crn))
        assert response.status_code == 200, response.text
        job_id: str = response.json()["id"]
        return job_id

    def _session(self, user: str, crn: str) -> str:
        response = self.client.post(
            "/api/v1/sessions", json={"backend": SIM}, headers=self.headers(user, crn)
        )
        assert response.status_code == 200, response.text
        session_id: str = response.json()["id"]
        return session_id

    def close(self) -> None:
        self.client.close()
        self.app.state.engine.close()


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with anyio.from_thread.start_blocking_portal() as portal:
        running = Service(portal)
        try:
            yield running
        finally:
            running.close()


def assert_documented(response: Any, iam: bool = False) -> None:
    """Below 500, and an error answer has the platform's body (IAM's for IAM)."""
    request = response.request
    where = (
        f"{request.method} {str(request.url)[:200]} -> {response.status_code} {response.text[:300]}"
    )
    assert response.status_code < 500, where
    if response.status_code < 400:
        return
    body = response.json()
    if iam:
        error = IamError.model_validate(body)
        assert error.error_code.startswith("BXNIM"), where
        return
    parsed = PlatformError.model_validate(body)
    assert set(body) == {"trace", "errors"}, where
    assert all(item.message for item in parsed.errors), where


# --- strategies -----------------------------------------------------------------------------

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
b64_junk = st.binary(max_size=40).map(lambda data: base64.b64encode(data).decode())
zlib_junk = st.binary(max_size=40).map(lambda data: base64.b64encode(zlib.compress(data)).decode())
typed_junk = st.builds(
    lambda kind, value: {"__type__": kind, "__value__": value},
    st.sampled_from(
        [
            "QuantumCircuit",
            "ndarray",
            "datetime",
            "complex",
            "set",
            "BitArray",
            "DataBin",
            "PrimitiveResult",
            "SamplerPubResult",
            "PubResult",
            "ExecutionSpans",
            "DoubleSliceSpan",
            "ObservablesArray",
            "Unknown",
        ]
    ),
    st.one_of(json_values, b64_junk, zlib_junk, st.text(max_size=30)),
)
arrays = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    st.lists(st.lists(st.floats(-10, 10), min_size=1, max_size=2), max_size=3),
    typed_junk,
)
qasm = st.sampled_from(
    [
        'OPENQASM 3.0; include "stdgates.inc"; qubit[1] q; bit[1] c; c[0] = measure q[0];',
        "OPENQASM 3.0; qubit q; h q;",
        "OPENQASM 2.0; qreg q[1];",
        "",
    ]
) | st.text(max_size=30)
observables = st.one_of(
    st.sampled_from(["ZZ", "XI", "Z", "QQ", ""]),
    st.lists(st.sampled_from(["ZZ", "XX", "ZZZ"]), max_size=3),
    st.dictionaries(st.sampled_from(["ZZ", "XY", "I"]), st.floats(-2, 2), max_size=2),
    json_values,
)


@st.composite
def pubs(draw: st.DrawFn, circuit: Any) -> list[Any]:
    circuits = st.one_of(st.just(circuit), qasm, typed_junk, json_values)
    items: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        pub: list[Any] = [draw(circuits)]
        if draw(st.booleans()):
            pub.append(draw(observables | arrays | st.none()))
        if draw(st.booleans()):
            pub.append(draw(st.integers(-3, 3_000_000) | st.floats(-1, 1) | json_values | arrays))
        if draw(st.booleans()):
            pub.append(draw(st.floats(-1, 1) | st.none() | json_values))
        items.append(pub)
    return items


@st.composite
def job_bodies(draw: st.DrawFn, circuit: Any) -> Any:
    params = st.fixed_dictionaries(
        {},
        optional={
            "pubs": pubs(circuit) | json_values,
            "version": st.sampled_from([2, 1, "2"]) | json_values,
            "support_qiskit": json_values,
            "resilience_level": st.integers(-1, 3) | json_values,
            "options": st.fixed_dictionaries(
                {},
                optional={
                    "default_shots": st.integers(-2, 10**8) | json_values,
                    "default_precision": st.floats(-1, 1) | json_values,
                    "seed_estimator": json_values,
                    "simulator": st.dictionaries(
                        st.sampled_from(["seed_simulator", "noise_model"]), json_values, max_size=2
                    )
                    | json_values,
                    "execution": st.dictionaries(
                        st.sampled_from(["meas_type", "init_qubits"]),
                        st.sampled_from(["classified", "kerneled"]) | json_values,
                        max_size=2,
                    )
                    | json_values,
                    "experimental": json_values,
                    "twirling": json_values,
                    "bogus": json_values,
                },
            )
            | json_values,
            "junk": json_values,
        },
    )
    body = st.fixed_dictionaries(
        {},
        optional={
            "program_id": st.sampled_from(["sampler", "estimator", "executor"]) | json_values,
            "backend": st.sampled_from([SIM, DEVICE, "ibm_nowhere"]) | json_values,
            "params": params | json_values,
            "tags": st.lists(st.text(max_size=8), max_size=3) | json_values,
            "cost": st.integers(-5, 20000) | json_values,
            "session_id": st.sampled_from(["nope"]) | json_values,
            "private": json_values,
            "runtime": json_values,
            "log_level": json_values,
        },
    )
    return draw(body | json_values)


@st.composite
def raw_bodies(draw: st.DrawFn, shaped: st.SearchStrategy[Any]) -> bytes | None:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return None
    if choice == 1:
        return draw(st.binary(max_size=60))
    if choice == 2:
        return json.dumps(draw(json_values)).encode()
    return json.dumps(draw(shaped)).encode()


@st.composite
def headers(draw: st.DrawFn, service: Service) -> dict[str, str]:
    chosen: dict[str, str] = {}
    auth = draw(st.integers(0, 6))
    if auth <= 2:
        chosen["Authorization"] = f"Bearer {service.tokens['a']}"
    elif auth == 3:
        chosen["Authorization"] = draw(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
        )
    elif auth == 4:
        key = _forging_key()
        claims = {"identifier": "fa", "iat": 0, "exp": 2**33, "iss": "ibmq-async-local/identity"}
        chosen["Authorization"] = "Bearer " + jwt.encode(claims, key, algorithm="RS256")
    elif auth == 5:
        chosen["Authorization"] = draw(st.sampled_from(["apikey key-a", "apikey nope", "Bearer "]))
    crn = draw(st.integers(0, 4))
    if crn <= 1:
        chosen["Service-CRN"] = A
    elif crn == 2:
        chosen["Service-CRN"] = B
    elif crn == 3:
        chosen["Service-CRN"] = draw(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
        )
    version = draw(st.integers(0, 3))
    if version == 1:
        chosen["IBM-API-Version"] = "2026-04-15"
    elif version == 2:
        chosen["IBM-API-Version"] = draw(
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
        )
    return chosen


path_junk = st.text(min_size=1, max_size=30).map(lambda text: quote(text, safe=""))
query_texts = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=25),
    st.sampled_from(["true", "false", "ASC", "DESC", "0", "-1", "2026-01-01", "10"]),
)


def _query(keys: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(st.sampled_from([*keys, "bogus"]), query_texts), max_size=4)


ROUTES: list[tuple[str, str, str, list[str]]] = [
    ("POST", "/identity/token", "iam", []),
    ("POST", "/global-search/v3/resources/search", "search", ["limit"]),
    ("GET", "/global-catalog/api/v1/{plan_id}", "", []),
    ("GET", "/api/v1/versions", "", []),
    ("GET", "/api/v1/backends", "", ["include_mocks"]),
    ("GET", "/api/v1/backends/{name}/configuration", "", ["calibration_id"]),
    ("GET", "/api/v1/backends/{name}/properties", "", ["updated_before", "calibration_id"]),
    ("GET", "/api/v1/backends/{name}/status", "", []),
    ("GET", "/api/v1/backends/{name}/defaults", "", []),
    ("GET", "/api/v1/instances/usage", "", []),
    ("POST", "/api/v1/jobs", "job", []),
    (
        "GET",
        "/api/v1/jobs",
        "",
        [
            "limit",
            "offset",
            "pending",
            "program",
            "backend",
            "tags",
            "session_id",
            "created_after",
            "created_before",
            "sort",
            "exclude_params",
        ],
    ),
    ("GET", "/api/v1/jobs/{job_id}", "", ["exclude_params"]),
    ("DELETE", "/api/v1/jobs/{job_id}", "", []),
    ("GET", "/api/v1/jobs/{job_id}/results", "", []),
    ("POST", "/api/v1/jobs/{job_id}/cancel", "", []),
    ("GET", "/api/v1/jobs/{job_id}/logs", "", []),
    ("GET", "/api/v1/jobs/{job_id}/metrics", "", []),
    ("PUT", "/api/v1/jobs/{job_id}/tags", "tags", []),
    ("POST", "/api/v1/sessions", "session", []),
    ("GET", "/api/v1/sessions/{session_id}", "", []),
    ("PATCH", "/api/v1/sessions/{session_id}", "session_update", []),
    ("DELETE", "/api/v1/sessions/{session_id}/close", "", []),
]


def _shaped(kind: str, service: Service) -> st.SearchStrategy[Any]:
    if kind == "job":
        return job_bodies(service.circuit)
    if kind == "tags":
        return st.fixed_dictionaries(
            {}, optional={"tags": st.lists(st.text(max_size=5)) | json_values}
        )
    if kind == "session":
        return st.fixed_dictionaries(
            {},
            optional={
                "mode": st.sampled_from(["dedicated", "batch", "x"]) | json_values,
                "backend": st.sampled_from([SIM, "nope"]) | json_values,
                "max_ttl": st.integers(-5, 10**6) | json_values,
                "instance": st.sampled_from([A, B]) | json_values,
            },
        )
    if kind == "session_update":
        return st.fixed_dictionaries({}, optional={"accepting_jobs": json_values})
    if kind == "search":
        return st.fixed_dictionaries(
            {},
            optional={
                "query": st.sampled_from(["service_name:quantum-computing"]) | json_values,
                "search_cursor": json_values | b64_junk,
                "fields": json_values,
            },
        )
    return json_values


@pytest.mark.parametrize(
    ("method", "template", "kind", "keys"), ROUTES, ids=[f"{m} {t}" for m, t, _, _ in ROUTES]
)
@SETTINGS
@given(data=st.data())
def test_each_route_gets_no_500_and_the_platform_error_body(
    service: Service, method: str, template: str, kind: str, keys: list[str], data: st.DataObject
) -> None:
    path = template
    if "{job_id}" in path:
        job = data.draw(st.sampled_from([service.job, service.foreign_job]) | path_junk)
        path = path.replace("{job_id}", job)
    if "{session_id}" in path:
        session = data.draw(st.sampled_from([service.session, service.foreign_session]) | path_junk)
        path = path.replace("{session_id}", session)
    if "{name}" in path:
        path = path.replace("{name}", data.draw(st.sampled_from([SIM, DEVICE]) | path_junk))
    if "{plan_id}" in path:
        plan = service.app.state.engine.config.instance(A).plan_id
        path = path.replace("{plan_id}", data.draw(st.just(plan) | path_junk))
    if kind == "iam":
        form = data.draw(
            st.dictionaries(
                st.sampled_from(["grant_type", "apikey", "response_type", "x"]),
                st.sampled_from([GRANT, "key-a", "password"]) | st.text(max_size=20),
                max_size=3,
            )
        )
        content = data.draw(st.just(None) | st.binary(max_size=40))
        response = (
            service.client.post(path, data=form)
            if content is None
            else service.client.post(path, content=content)
        )
        assert_documented(response, iam=True)
        return
    body = data.draw(raw_bodies(_shaped(kind, service))) if kind else None
    response = service.client.request(
        method,
        path,
        params=data.draw(_query(keys)),
        headers={**data.draw(headers(service)), "Content-Type": "application/json"},
        content=body,
    )
    assert_documented(response)


def test_the_generated_requests_cover_every_platform_route(service: Service) -> None:
    served = set()
    for route in service.app.routes:
        if isinstance(route, StarletteRoute) and is_platform_path(route.path):
            served |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    assert {(method, template) for method, template, _, _ in ROUTES} == served


def test_a_typed_value_that_does_not_decode_is_a_400_naming_it(service: Service) -> None:
    for kind in ("QuantumCircuit", "ndarray", "BitArray", "DataBin", "datetime", "complex"):
        pub = [service.circuit, {"__type__": kind, "__value__": "AAAA"}, 10]
        body = {"program_id": "sampler", "backend": SIM, "params": {"pubs": [pub]}}
        response = service.client.post("/api/v1/jobs", json=body, headers=service.headers("a", A))
        assert response.status_code == 400, response.text
        assert kind in PlatformError.model_validate(response.json()).message


def test_a_decompression_bomb_is_refused(service: Service) -> None:
    bomb = base64.b64encode(zlib.compress(b"\0" * (8 * 1024 * 1024))).decode()
    pub = [service.circuit, {"__type__": "ndarray", "__value__": bomb}, 10]
    body = {"program_id": "sampler", "backend": SIM, "params": {"pubs": [pub]}}
    response = service.client.post("/api/v1/jobs", json=body, headers=service.headers("a", A))
    assert response.status_code == 400, response.text
    assert "inflates to more than" in response.json()["errors"][0]["message"]
