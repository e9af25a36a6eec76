"""What the tests of the platform channel's API layer share: a local service configuration
with two tenants, the service over ``httpx.ASGITransport`` or over real HTTP, a transport
that records every request, and sampler params ready to send.

For a service at ``ROOT`` the client connects with ``url=ROOT/api`` (it appends ``/v1``) and
``iam_url=ROOT`` (it appends ``/identity/token``), as docs/platform.md says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from ibmq_async import runtime_json
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.app import create_app
from ibmq_async.local.config import InstanceConfig

A = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct0a:inst0a::"
B = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct0b:inst0b::"
KEY_A = "platform-api-key-a"
KEY_B = "platform-api-key-b"
SIM = "ibmq_qasm_simulator"
PAUSED = "ibm_paused"
LIMA = "ibm_lima"
ASGI_ROOT = "http://platform.test"


def platform_config(
    *,
    jobs_per_minute: int = 0,
    rate_window_seconds: float = 60.0,
    allocation_seconds: float | None = None,
    **changes: Any,
) -> LocalServiceConfig:
    """Two users, each with an instance of their own (``A``'s with ``allocation_seconds``);
    a simulator, a paused lima (no simulation: its jobs stay queued until resumed) and a
    running lima. Alice may create ``jobs_per_minute`` jobs per ``rate_window_seconds``."""
    return LocalServiceConfig(
        users=[
            UserConfig(
                token="classic-a",
                id="alice",
                api_key=KEY_A,
                instances=[A],
                jobs_per_minute=jobs_per_minute,
            ),
            UserConfig(token="classic-b", id="bob", api_key=KEY_B, instances=[B]),
        ],
        instances=[
            InstanceConfig(crn=A, name="alpha", plan="open", allocation_seconds=allocation_seconds),
            InstanceConfig(crn=B, name="beta", plan="open"),
        ],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=PAUSED, device="lima", paused=True),
            BackendConfig(name=LIMA, device="lima"),
        ],
        rate_window_seconds=rate_window_seconds,
        **changes,
    )


@dataclass
class Target:
    """Where a client connects: the service's root and, for ASGI, its transport.

    Attributes:
        root: ``ROOT``.
        app: The ASGI app (``None`` over real HTTP).
        service: The running service (``None`` over ASGI).
    """

    root: str
    app: Any = None
    service: LocalService | None = None

    @property
    def url(self) -> str:
        return f"{self.root}/api"

    @property
    def iam_url(self) -> str:
        return self.root

    @property
    def engine(self) -> Any:
        return self.app.state.engine if self.app is not None else self.service.engine  # type: ignore[union-attr]

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """A new transport to the service (``None``: the SDK's own network)."""
        return httpx.ASGITransport(app=self.app) if self.app is not None else None

    def recorder(self) -> Recorder:
        """A transport to the service that records every request."""
        inner = self.transport() or httpx.AsyncHTTPTransport()
        return Recorder(inner)

    def connect_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("transport", self.transport())
        return {"url": self.url, "iam_url": self.iam_url, **kwargs}


@contextmanager
def asgi_target(config: LocalServiceConfig) -> Iterator[Target]:
    app = create_app(config)
    try:
        yield Target(ASGI_ROOT, app=app)
    finally:
        app.state.engine.close()


@contextmanager
def http_target(config: LocalServiceConfig) -> Iterator[Target]:
    with LocalService(config) as service:
        yield Target(service.root, service=service)


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Sends through ``inner`` and keeps each request (method, path, headers)."""

    inner: httpx.AsyncBaseTransport
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, method: str, path_suffix: str, *, query: str | None = None) -> int:
        """Requests of ``method`` whose path ends with ``path_suffix`` (and whose query
        has ``query``)."""
        return sum(
            1
            for request in self.requests
            if request.method == method
            and request.url.path.endswith(path_suffix)
            and (query is None or query in str(request.url.query, "ascii"))
        )

    def job_reads(self) -> int:
        """``GET /v1/jobs/{id}`` requests (one job read on its own)."""
        count = 0
        for request in self.requests:
            _, found, rest = request.url.path.partition("/v1/jobs/")
            if request.method == "GET" and found and rest and "/" not in rest:
                count += 1
        return count

    def listings(self, query: str | None = None) -> int:
        """``GET /v1/jobs`` requests (with ``query`` in their query string)."""
        return self.count("GET", "/v1/jobs", query=query)


def bell() -> Any:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def sampler_params(shots: int = 16, circuit: Any = None) -> dict[str, Any]:
    """The params of a sampler job of one PUB (a Bell pair), as plain JSON."""
    pubs = [[circuit if circuit is not None else bell(), None, shots]]
    return dict(json.loads(runtime_json.dumps({"pubs": pubs, "version": 2})))
