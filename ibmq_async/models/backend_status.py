"""The status of a backend: the schema's BackendStatus and the ``queue/status`` wire shape."""

from __future__ import annotations

from pydantic import Field

from ibmq_async.models._base import WireModel

__all__ = ["BackendStatus", "QueueStatusResponse"]


class QueueStatusResponse(WireModel):
    """The answer of ``GET {HGP}/devices/{name}/queue/status`` (docs/protocol.md §2.2)."""

    state: bool = False
    status: str = ""
    length_queue: int = Field(default=0, alias="lengthQueue")
    backend_version: str = "0.0.0"


class BackendStatus(WireModel):
    """Whether a backend takes jobs and how many are waiting (``backend_status_schema.json``)."""

    backend_name: str
    backend_version: str
    operational: bool
    pending_jobs: int = Field(ge=0)
    status_msg: str

    @classmethod
    def from_queue_status(cls, backend_name: str, payload: QueueStatusResponse) -> BackendStatus:
        """Build the status the way the original client did from the ``queue/status`` shape.

        ``operational`` is ``state``, ``status_msg`` is ``status``, ``pending_jobs`` is
        ``lengthQueue`` clamped at zero.
        """
        return cls(
            backend_name=backend_name,
            backend_version=payload.backend_version,
            operational=bool(payload.state),
            pending_jobs=max(payload.length_queue, 0),
            status_msg=payload.status,
        )
