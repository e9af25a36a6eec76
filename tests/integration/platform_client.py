"""A small client of the local service's platform API for the tests: IAM tokens, the
headers of the runtime API, job submission and waiting, results decoded by
``ibmq_async.runtime_json``. Plain httpx, over real HTTP or any httpx transport."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from ibmq_async import runtime_json
from ibmq_async.models.platform import PlatformError

APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
FINAL = frozenset({"Completed", "Cancelled", "Cancelled - Ran too long", "Failed"})


def bell(measure: bool = True) -> Any:
    """A Bell pair on qubits 0 and 1 (measured into ``meas``)."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def encoded(value: Any) -> Any:
    """``value`` as the plain JSON of runtime JSON (circuits and arrays encoded)."""
    return json.loads(runtime_json.dumps(value))


def assert_platform_error(response: httpx.Response, status: int, fragment: str = "") -> str:
    """Check an error answer has the platform body and the status; return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = PlatformError.model_validate(response.json())
    message = body.message
    assert fragment.lower() in message.lower(), message
    return message


class PlatformClient:
    """One caller of the platform API: an API key and an instance.

    Args:
        root: The service's root URL (``http://127.0.0.1:PORT``).
        api_key: The caller's API key.
        instance: The instance CRN its requests name.
        transport: An httpx transport (an ASGI app, for example); real HTTP without one.
    """

    def __init__(
        self,
        root: str,
        api_key: str,
        instance: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.root = root
        self.api_key = api_key
        self.instance = instance
        self.http = httpx.Client(base_url=root, transport=transport, timeout=60.0)
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def token(self, refresh: bool = False) -> str:
        """An IAM access token for the API key."""
        if self._token is None or refresh:
            response = self.http.post(
                "/identity/token", data={"grant_type": APIKEY_GRANT, "apikey": self.api_key}
            )
            assert response.status_code == 200, response.text
            self._token = str(response.json()["access_token"])
        return self._token

    def headers(self, **extra: str) -> dict[str, str]:
        """The headers of a runtime API request."""
        return {
            "Authorization": f"Bearer {self.token()}",
            "Service-CRN": self.instance,
            "IBM-API-Version": "2026-04-15",
            **extra,
        }

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to ``/api/v1<path>`` with the caller's headers."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """A request that must succeed; its JSON (``None`` for an empty answer)."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def submit(
        self,
        program: str,
        backend: str,
        pubs: list[Any],
        *,
        options: dict[str, Any] | None = None,
        **fields: Any,
    ) -> httpx.Response:
        """``POST /v1/jobs``; the answer."""
        params: dict[str, Any] = {"pubs": pubs, "version": 2}
        if options is not None:
            params["options"] = options
        body = {"program_id": program, "backend": backend, "params": encoded(params), **fields}
        return self.request("POST", "/jobs", json=body)

    def run(self, program: str, backend: str, pubs: list[Any], **kwargs: Any) -> str:
        """Submit a job that must be accepted; its id."""
        response = self.submit(program, backend, pubs, **kwargs)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /v1/jobs/{id}``."""
        document: dict[str, Any] = self.ok("GET", f"/jobs/{job_id}")
        return document

    def wait(self, job_id: str, timeout: float = 60.0, states: frozenset[str] = FINAL) -> str:
        """Poll a job until it reaches one of ``states``; that state."""
        deadline = time.monotonic() + timeout
        while True:
            status = str(self.job(job_id)["state"]["status"])
            if status in states:
                return status
            assert time.monotonic() < deadline, f"job {job_id} is still {status}"
            time.sleep(0.02)

    def result(self, job_id: str) -> Any:
        """The decoded ``PrimitiveResult`` of a completed job."""
        response = self.request("GET", f"/jobs/{job_id}/results")
        assert response.status_code == 200, response.text
        return runtime_json.loads(response.text)
