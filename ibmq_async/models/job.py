"""Jobs on the wire: API status strings, the user-facing JobStatus, queue info and the job record.

The API reports a job's state with the exact strings of :class:`ApiJobStatus`; users see the
coarser :class:`JobStatus` of Qiskit. An API status string that is not known is a validation
error, never a silent default, so a wait on a job never hangs on a state it does not know.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from ibmq_async.models._base import UtcDatetime, WireModel, format_utc

__all__ = [
    "API_FINAL_STATUSES",
    "API_TO_JOB_STATUS",
    "JOB_FINAL_STATES",
    "ApiJobKind",
    "ApiJobStatus",
    "BackendRef",
    "CancelResponse",
    "HubInfo",
    "JobCreateResponse",
    "JobDataUploadedResponse",
    "JobErrorInfo",
    "JobIdRecord",
    "JobRecord",
    "JobStatus",
    "JobStatusResponse",
    "NamedRef",
    "ObjectStorageInfo",
    "QueueInfo",
    "UrlResponse",
]


class ApiJobStatus(str, enum.Enum):
    """The exact job status strings of the IBM Quantum API."""

    CREATING = "CREATING"
    CREATED = "CREATED"
    TRANSPILING = "TRANSPILING"
    TRANSPILED = "TRANSPILED"
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    QUEUED = "QUEUED"
    PENDING_IN_QUEUE = "PENDING_IN_QUEUE"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    ERROR_CREATING_JOB = "ERROR_CREATING_JOB"
    ERROR_VALIDATING_JOB = "ERROR_VALIDATING_JOB"
    ERROR_TRANSPILING_JOB = "ERROR_TRANSPILING_JOB"
    ERROR_RUNNING_JOB = "ERROR_RUNNING_JOB"

    @property
    def job_status(self) -> JobStatus:
        """The user-facing :class:`JobStatus` this API status maps to."""
        return API_TO_JOB_STATUS[self]

    @property
    def is_final(self) -> bool:
        """Whether the job can no longer change state."""
        return self in API_FINAL_STATUSES

    def __str__(self) -> str:
        return self.value


class JobStatus(enum.Enum):
    """The state of a job, as Qiskit users know it."""

    INITIALIZING = "job is being initialized"
    QUEUED = "job is queued"
    VALIDATING = "job is being validated"
    RUNNING = "job is actively running"
    CANCELLED = "job has been cancelled"
    DONE = "job has successfully run"
    ERROR = "job incurred error"

    @property
    def is_final(self) -> bool:
        """Whether the job can no longer change state."""
        return self in JOB_FINAL_STATES

    @property
    def api_statuses(self) -> tuple[ApiJobStatus, ...]:
        """The API status strings that map to this status."""
        return tuple(api for api, job in API_TO_JOB_STATUS.items() if job is self)


API_TO_JOB_STATUS: dict[ApiJobStatus, JobStatus] = {
    ApiJobStatus.CREATING: JobStatus.INITIALIZING,
    ApiJobStatus.CREATED: JobStatus.INITIALIZING,
    ApiJobStatus.TRANSPILING: JobStatus.INITIALIZING,
    ApiJobStatus.TRANSPILED: JobStatus.INITIALIZING,
    ApiJobStatus.VALIDATING: JobStatus.VALIDATING,
    ApiJobStatus.VALIDATED: JobStatus.VALIDATING,
    ApiJobStatus.QUEUED: JobStatus.QUEUED,
    ApiJobStatus.PENDING_IN_QUEUE: JobStatus.QUEUED,
    ApiJobStatus.RUNNING: JobStatus.RUNNING,
    ApiJobStatus.COMPLETED: JobStatus.DONE,
    ApiJobStatus.CANCELLED: JobStatus.CANCELLED,
    ApiJobStatus.ERROR_CREATING_JOB: JobStatus.ERROR,
    ApiJobStatus.ERROR_VALIDATING_JOB: JobStatus.ERROR,
    ApiJobStatus.ERROR_TRANSPILING_JOB: JobStatus.ERROR,
    ApiJobStatus.ERROR_RUNNING_JOB: JobStatus.ERROR,
}
"""How each API status maps to a :class:`JobStatus` (docs/protocol.md §3)."""

JOB_FINAL_STATES: frozenset[JobStatus] = frozenset(
    {JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR}
)
API_FINAL_STATUSES: frozenset[ApiJobStatus] = frozenset(
    api for api, job in API_TO_JOB_STATUS.items() if job in JOB_FINAL_STATES
)


class ApiJobKind(str, enum.Enum):
    """How a job's Qobj and result are stored."""

    QOBJECT = "q-object"
    QOBJECT_STORAGE = "q-object-external-storage"
    CIRCUIT = "q-circuit"


class QueueInfo(WireModel):
    """Where a queued job stands in the backend's queue (``infoQueue`` on the wire)."""

    position: int | None = None
    status: str | None = None
    estimated_start_time: UtcDatetime | None = Field(default=None, alias="estimatedStartTime")
    estimated_complete_time: UtcDatetime | None = Field(default=None, alias="estimatedCompleteTime")
    hub_priority: float | None = Field(default=None, alias="hubPriority")
    group_priority: float | None = Field(default=None, alias="groupPriority")
    project_priority: float | None = Field(default=None, alias="projectPriority")
    job_id: str | None = Field(default=None, alias="jobId")

    def format(self) -> str:
        """Describe the queue position and estimates in one line."""
        parts = [f"position {self.position}" if self.position is not None else "position unknown"]
        if self.estimated_start_time is not None:
            parts.append(f"estimated start {format_utc(self.estimated_start_time)}")
        if self.estimated_complete_time is not None:
            parts.append(f"estimated completion {format_utc(self.estimated_complete_time)}")
        prefix = f"job {self.job_id}: " if self.job_id else ""
        return prefix + ", ".join(parts)


class JobErrorInfo(WireModel):
    """Why a job failed: the ``error`` object of a job record."""

    code: int | str | None = None
    message: str = ""

    def render(self) -> str:
        """The text the original client shows: ``"<message>. Error code: <code>."``."""
        if self.code is None:
            return self.message
        return f"{self.message.rstrip('.')}. Error code: {self.code}."


class NamedRef(WireModel):
    """An object the wire identifies by name only (``{"name": ...}``)."""

    name: str


BackendRef = NamedRef


class HubInfo(WireModel):
    """The hub, group and project a job or reservation belongs to."""

    hub: NamedRef | None = None
    group: NamedRef | None = None
    project: NamedRef | None = None


class JobRecord(WireModel):
    """A job as the API describes it (docs/protocol.md §2.8).

    Wire names stay on the wire (``id``, ``creationDate``, ``timePerStep``, ...); Python uses
    the names the original client mapped them to (``job_id``, ``creation_date``, ...).
    Fields the model does not name are kept as extras.
    """

    job_id: str = Field(alias="id")
    creation_date: UtcDatetime = Field(alias="creationDate")
    status: ApiJobStatus
    kind: ApiJobKind | None = None
    backend: BackendRef | None = None
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    time_per_step: dict[str, UtcDatetime] | None = Field(default=None, alias="timePerStep")
    info_queue: QueueInfo | None = Field(default=None, alias="infoQueue")
    error: JobErrorInfo | None = None
    run_mode: str | None = Field(default=None, alias="runMode")
    experiment_id: str | None = Field(default=None, alias="experimentTag")
    client_info: dict[str, str] | None = Field(
        default=None,
        alias="clientInfo",
        validation_alias=AliasChoices("clientInfo", "client_info"),
    )
    hub_info: HubInfo | None = Field(default=None, alias="hubInfo")
    live_data_enabled: bool | None = Field(default=None, alias="liveDataEnabled")
    shots: int | None = None
    user_id: str | None = Field(default=None, alias="userId")
    end_date: UtcDatetime | None = Field(default=None, alias="endDate")

    @field_validator("status", mode="before")
    @classmethod
    def _upper_case_status(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def backend_name(self) -> str | None:
        """The name of the backend the job runs on."""
        return self.backend.name if self.backend else None

    @property
    def job_status(self) -> JobStatus:
        """The user-facing status of the job."""
        return self.status.job_status


class JobStatusResponse(WireModel):
    """The answer of ``GET .../Jobs/{id}/status/v/1`` and the ``data`` of websocket frames."""

    status: ApiJobStatus
    info_queue: QueueInfo | None = Field(default=None, alias="infoQueue")
    job_id: str | None = Field(default=None, alias="id")
    creation_date: UtcDatetime | None = Field(default=None, alias="creationDate")

    @property
    def queue_info(self) -> QueueInfo | None:
        """Queue info, only when the job is exactly ``QUEUED`` (as the original client did)."""
        if self.status is ApiJobStatus.QUEUED and self.info_queue is not None:
            return self.info_queue
        return None


class JobIdRecord(WireModel):
    """An item of ``GET {HGP}/Jobs/v/1`` (the id-only listing)."""

    job_id: str = Field(alias="id")
    creation_date: UtcDatetime | None = Field(default=None, alias="creationDate")
    live_data_enabled: bool | None = Field(default=None, alias="liveDataEnabled")


class ObjectStorageInfo(WireModel):
    """Where to upload a job's Qobj."""

    upload_url: str = Field(alias="uploadUrl")


class JobCreateResponse(WireModel):
    """The answer of ``POST {HGP}/Jobs``.

    ``status`` is the job's status when the server says it (a server that honours an
    ``Idempotency-Key`` answers a repeat with the job the first call made, which may have
    been started since).
    """

    job_id: str = Field(alias="id")
    object_storage_info: ObjectStorageInfo = Field(alias="objectStorageInfo")
    status: str | None = None


class JobDataUploadedResponse(WireModel):
    """The answer of ``POST .../jobDataUploaded``."""

    job: JobRecord


class UrlResponse(WireModel):
    """An answer that gives a download URL (``resultDownloadUrl``, ``jobDownloadUrl``)."""

    url: str


class CancelResponse(WireModel):
    """The answer of ``POST .../cancel``."""

    cancelled: bool = False
