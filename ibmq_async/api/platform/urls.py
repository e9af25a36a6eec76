"""Where the endpoints of the IBM Quantum Platform API are (docs/platform.md §3), and the
headers every request of the runtime API carries (§2).

The API root is what a user gives as ``url`` (``https://quantum.cloud.ibm.com/api``, or
``ROOT/api`` for the local service); every endpoint is under ``{root}/v1``. IBM Cloud IAM
is on a host of its own (``iam_url``), which serves ``/identity/token``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "API_VERSION",
    "API_VERSION_HEADER",
    "SERVICE_CRN_HEADER",
    "PlatformUrls",
    "iam_token_url",
    "runtime_headers",
]

API_VERSION = "2026-04-15"
"""The ``IBM-API-Version`` the client speaks: the date qiskit-ibm-runtime 0.51 pins."""

API_VERSION_HEADER = "IBM-API-Version"
SERVICE_CRN_HEADER = "Service-CRN"


def runtime_headers(instance: str, api_version: str = API_VERSION) -> dict[str, str]:
    """The headers of every runtime API request: the instance and the API version."""
    return {SERVICE_CRN_HEADER: instance, API_VERSION_HEADER: api_version}


def iam_token_url(iam_url: str) -> str:
    """``{iam_url}/identity/token``, where an API key is exchanged for a bearer token."""
    return f"{iam_url.rstrip('/')}/identity/token"


def _segment(value: str) -> str:
    """A path segment (a backend name, a job id), escaped so it cannot leave its place."""
    return quote(value, safe="")


@dataclass(frozen=True)
class PlatformUrls:
    """The endpoints of the runtime API under one root.

    Attributes:
        root: The API root (``https://quantum.cloud.ibm.com/api``), without a trailing
            slash; the endpoints are under ``{root}/v1``.
    """

    root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.rstrip("/"))

    @property
    def api(self) -> str:
        """``{root}/v1``."""
        return f"{self.root}/v1"

    # --- backends -----------------------------------------------------------------------

    @property
    def backends(self) -> str:
        return f"{self.api}/backends"

    def backend(self, name: str) -> str:
        return f"{self.backends}/{_segment(name)}"

    def configuration(self, name: str) -> str:
        return f"{self.backend(name)}/configuration"

    def properties(self, name: str) -> str:
        return f"{self.backend(name)}/properties"

    def status(self, name: str) -> str:
        return f"{self.backend(name)}/status"

    def defaults(self, name: str) -> str:
        return f"{self.backend(name)}/defaults"

    # --- jobs ---------------------------------------------------------------------------

    @property
    def jobs(self) -> str:
        return f"{self.api}/jobs"

    def job(self, job_id: str) -> str:
        return f"{self.jobs}/{_segment(job_id)}"

    def results(self, job_id: str) -> str:
        return f"{self.job(job_id)}/results"

    def cancel(self, job_id: str) -> str:
        return f"{self.job(job_id)}/cancel"

    def logs(self, job_id: str) -> str:
        return f"{self.job(job_id)}/logs"

    def metrics(self, job_id: str) -> str:
        return f"{self.job(job_id)}/metrics"

    def tags(self, job_id: str) -> str:
        return f"{self.job(job_id)}/tags"

    # --- sessions and usage ---------------------------------------------------------------

    @property
    def sessions(self) -> str:
        return f"{self.api}/sessions"

    def session(self, session_id: str) -> str:
        return f"{self.sessions}/{_segment(session_id)}"

    def session_close(self, session_id: str) -> str:
        return f"{self.session(session_id)}/close"

    @property
    def usage(self) -> str:
        return f"{self.api}/instances/usage"

    @property
    def versions(self) -> str:
        return f"{self.api}/versions"
