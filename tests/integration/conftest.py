"""Helpers for the tests of the local service itself (tests/integration/test_service_*.py).

They talk to the service over real loopback HTTP with plain httpx, the way any client of
the protocol would:

* ``service_api(service, token=None, hgp=...)`` (fixture ``service_api``) logs in and
  gives a :class:`ServiceApi` with one method per step of the job flow;
* ``qobjs`` builds Qobj documents (Bell pairs, single-qubit flips, custom experiments).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ibmq_async.local import LocalService

FINAL = frozenset({"COMPLETED", "CANCELLED", "ERROR_VALIDATING_JOB", "ERROR_RUNNING_JOB"})
DEFAULT_HGP = ("ibm-q", "open", "main")
SIMULATOR = "ibmq_qasm_simulator"


class ServiceApi:
    """A logged-in plain-httpx client of one local service.

    Args:
        service: The running service.
        token: The API token to log in with (the service's first user by default).
        hgp: The hub/group/project of the job paths.
    """

    def __init__(
        self,
        service: LocalService,
        token: str | None = None,
        hgp: tuple[str, str, str] = DEFAULT_HGP,
    ) -> None:
        self.service = service
        self.http = httpx.Client(base_url=service.url, timeout=30)
        self.api_token = token or service.token
        self.hgp = hgp
        self.access_token = self.login()

    def close(self) -> None:
        self.http.close()

    def login(self, token: str | None = None) -> str:
        response = self.http.post(
            "/users/loginWithToken", json={"apiToken": token or self.api_token}
        )
        assert response.status_code == 200, response.text
        access: str = response.json()["id"]
        return access

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Access-Token": self.access_token}

    def path(self, suffix: str, hgp: tuple[str, str, str] | None = None) -> str:
        hub, group, project = hgp or self.hgp
        return f"/Network/{hub}/Groups/{group}/Projects/{project}{suffix}"

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    # --- the job flow -------------------------------------------------------------------

    def create(self, backend: str = SIMULATOR, **fields: Any) -> httpx.Response:
        headers = fields.pop("headers", {})
        body = {"backend": {"name": backend}, "allowObjectStorage": True, **fields}
        return self.post(self.path("/Jobs"), json=body, headers=headers)

    def upload(self, job: dict[str, Any], qobj: Any) -> httpx.Response:
        url = job["objectStorageInfo"]["uploadUrl"]
        content = qobj if isinstance(qobj, bytes) else json.dumps(qobj).encode()
        return httpx.put(url, content=content, headers={"Content-Type": "application/json"})

    def uploaded(self, job_id: str) -> httpx.Response:
        return self.post(self.path(f"/Jobs/{job_id}/jobDataUploaded"))

    def submit(self, qobj: Any, backend: str = SIMULATOR, **fields: Any) -> dict[str, Any]:
        """Create, upload and confirm a job; returns the job of ``jobDataUploaded``."""
        created = self.create(backend, **fields)
        assert created.status_code == 200, created.text
        job = created.json()
        upload = self.upload(job, qobj)
        assert upload.status_code == 200, upload.text
        confirmed = self.uploaded(job["id"])
        assert confirmed.status_code == 200, confirmed.text
        document: dict[str, Any] = confirmed.json()["job"]
        return document

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(self.path(f"/Jobs/{job_id}/v/1"))
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def status(self, job_id: str) -> dict[str, Any]:
        response = self.get(self.path(f"/Jobs/{job_id}/status/v/1"))
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def wait(
        self, job_id: str, until: Callable[[str], bool] | None = None, timeout: float = 30.0
    ) -> str:
        """Poll until the status satisfies ``until`` (final by default); returns it."""
        check = until or (lambda status: status in FINAL)
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            status: str = self.status(job_id)["status"]
            if check(status):
                return status
            assert time.monotonic() < deadline, f"job {job_id} still {status}"
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def result(self, job_id: str) -> dict[str, Any]:
        response = self.get(self.path(f"/Jobs/{job_id}/resultDownloadUrl"))
        assert response.status_code == 200, response.text
        download = httpx.get(response.json()["url"])
        assert download.status_code == 200, download.text
        document: dict[str, Any] = download.json()
        return document

    def run(self, qobj: Any, backend: str = SIMULATOR, **fields: Any) -> dict[str, Any]:
        """Submit, wait for COMPLETED and return the result."""
        job = self.submit(qobj, backend, **fields)
        assert self.wait(job["id"]) == "COMPLETED", self.job(job["id"]).get("error")
        return self.result(job["id"])

    def list_jobs(
        self,
        query: dict[str, Any] | None = None,
        *,
        ids_only: bool = False,
        hgp: tuple[str, str, str] | None = None,
    ) -> httpx.Response:
        suffix = "/Jobs/v/1" if ids_only else "/Jobs/status/v/1"
        params = {} if query is None else {"filter": json.dumps(query)}
        return self.get(self.path(suffix, hgp), params=params)


class Qobjs:
    """Builders of QASM Qobj documents, shaped like those qiskit's assembler made."""

    @staticmethod
    def experiment(
        instructions: list[dict[str, Any]],
        *,
        name: str = "circuit",
        n_qubits: int = 2,
        memory_slots: int | None = None,
        creg_sizes: list[list[Any]] | None = None,
        config: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        slots = memory_slots
        if slots is None:
            used = [s for i in instructions for s in i.get("memory", [])]
            slots = max(used) + 1 if used else 0
        sizes = creg_sizes if creg_sizes is not None else ([["c", slots]] if slots else [])
        return {
            "header": {
                "name": name,
                "n_qubits": n_qubits,
                "memory_slots": slots,
                "creg_sizes": sizes,
                "qreg_sizes": [["q", n_qubits]],
                "metadata": {},
                **(header or {}),
            },
            "config": {"n_qubits": n_qubits, "memory_slots": slots, **(config or {})},
            "instructions": instructions,
        }

    @staticmethod
    def qobj(
        experiments: list[dict[str, Any]],
        *,
        shots: int = 100,
        backend: str = SIMULATOR,
        **config: Any,
    ) -> dict[str, Any]:
        return {
            "qobj_id": "qobj-test",
            "schema_version": "1.3.0",
            "type": "QASM",
            "header": {"backend_name": backend, "backend_version": "0.1.547"},
            "config": {"shots": shots, "memory": False, **config},
            "experiments": experiments,
        }

    @classmethod
    def bell(cls, shots: int = 100, name: str = "bell", **config: Any) -> dict[str, Any]:
        experiment = cls.experiment(
            [
                {"name": "h", "qubits": [0]},
                {"name": "cx", "qubits": [0, 1]},
                {"name": "measure", "qubits": [0], "memory": [0]},
                {"name": "measure", "qubits": [1], "memory": [1]},
            ],
            name=name,
        )
        return cls.qobj([experiment], shots=shots, **config)

    @classmethod
    def flip(cls, shots: int = 10, name: str = "flip", **config: Any) -> dict[str, Any]:
        experiment = cls.experiment(
            [
                {"name": "x", "qubits": [0]},
                {"name": "measure", "qubits": [0], "memory": [0]},
            ],
            name=name,
            n_qubits=1,
        )
        return cls.qobj([experiment], shots=shots, **config)


@pytest.fixture(scope="session")
def qobjs() -> type[Qobjs]:
    """The Qobj builders."""
    return Qobjs


@pytest.fixture(scope="module")
def service_api() -> Iterator[Callable[..., ServiceApi]]:
    """``service_api(service, token=None, hgp=...)``: logged-in clients, closed after the
    module (so module-scoped fixtures can use it too)."""
    made: list[ServiceApi] = []

    def make(
        service: LocalService,
        token: str | None = None,
        hgp: tuple[str, str, str] = DEFAULT_HGP,
    ) -> ServiceApi:
        api = ServiceApi(service, token, hgp)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()
