"""The documents of the IBM Quantum Platform API (docs/platform.md): the runtime API under
``/api/v1``, the IBM Cloud IAM token, and the IBM Cloud search and catalog entries that
instance discovery reads.

Both sides use these models: the local service builds its answers from them, and the SDK's
platform channel validates what it receives with them. The field names are those of the
wire (snake_case already); unknown fields are kept (see :class:`WireModel`). Request
bodies (``*Request``) use strict types, so ``"5"`` is not a number of seconds.

Job parameters and results are runtime JSON (``ibmq_async.runtime_json``); here they are
plain JSON values.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ibmq_async.models._base import UtcDatetime, WireModel

__all__ = [
    "FINAL_JOB_STATES",
    "JOB_STATES",
    "SESSION_STATES",
    "ApiVersions",
    "BackendList",
    "BackendState",
    "BackendStatusName",
    "BackendSummary",
    "CatalogEntry",
    "IamError",
    "IamToken",
    "InstanceUsage",
    "Job",
    "JobCreateRequest",
    "JobCreated",
    "JobList",
    "JobMetrics",
    "JobMetricsTimestamps",
    "JobMetricsUsage",
    "JobProgram",
    "JobState",
    "JobStateName",
    "JobUsage",
    "PlatformError",
    "PlatformErrorItem",
    "SearchItem",
    "SearchResult",
    "Session",
    "SessionCreateRequest",
    "SessionMode",
    "SessionStateName",
    "SessionTimestamp",
    "SessionUpdateRequest",
    "TagsUpdateRequest",
    "UsagePeriod",
]

JobStateName = Literal[
    "Queued", "Running", "Completed", "Cancelled", "Cancelled - Ran too long", "Failed"
]
"""A job's ``state.status`` as the platform names it."""

JOB_STATES: tuple[str, ...] = (
    "Queued",
    "Running",
    "Completed",
    "Cancelled",
    "Cancelled - Ran too long",
    "Failed",
)
FINAL_JOB_STATES: frozenset[str] = frozenset(
    {"Completed", "Cancelled", "Cancelled - Ran too long", "Failed"}
)
"""The states a job never leaves."""

SessionMode = Literal["dedicated", "batch"]
SessionStateName = Literal[
    "open", "active", "inactive", "pending_inactive", "pending_closed", "closed"
]
SESSION_STATES: tuple[str, ...] = (
    "open",
    "active",
    "inactive",
    "pending_inactive",
    "pending_closed",
    "closed",
)


# --- errors ---------------------------------------------------------------------------------


class PlatformErrorItem(WireModel):
    """One error of a platform error body."""

    code: int | str
    message: str
    more_info: str = ""


class PlatformError(WireModel):
    """The body of every error answer of the runtime API:
    ``{"trace": "<request id>", "errors": [{"code", "message", "more_info"}]}``."""

    trace: str
    errors: list[PlatformErrorItem] = Field(min_length=1)

    @property
    def message(self) -> str:
        """The messages of the errors, joined."""
        return "; ".join(item.message for item in self.errors)


class IamError(WireModel):
    """The body of an IBM Cloud IAM error (``errorCode`` such as ``BXNIM0415E``)."""

    error_code: str = Field(alias="errorCode")
    error_message: str = Field(alias="errorMessage")
    context: dict[str, Any] = Field(default_factory=dict)


# --- IAM, search, catalog -------------------------------------------------------------------


class IamToken(WireModel):
    """The answer of ``POST /identity/token``: a signed JWT and how long it lives."""

    access_token: str
    refresh_token: str = "not_supported"
    token_type: str = "Bearer"
    expires_in: int
    expiration: int
    scope: str = "ibm openid"


class SearchItem(WireModel):
    """One resource of an IBM Cloud Global Search answer (a quantum-computing instance)."""

    crn: str
    name: str
    service_plan_unique_id: str
    doc: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    account_id: str | None = None
    family: str | None = None
    type: str | None = None


class SearchResult(WireModel):
    """The answer of ``POST /v3/resources/search``; ``search_cursor`` is there while more
    items follow."""

    items: list[SearchItem]
    limit: int
    search_cursor: str | None = None


class CatalogEntry(WireModel):
    """The answer of ``GET /api/v1/{plan_id}`` of IBM Cloud Global Catalog (a plan)."""

    id: str
    name: str
    kind: str = "plan"
    overview_ui: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """The plan's English display name (``Open``, ``Premium``...)."""
        english = self.overview_ui.get("en") or {}
        return str(english.get("display_name", ""))

    @property
    def pricing_type(self) -> str:
        """The plan's pricing type (``free``, ``paygo``, ``subscription``...)."""
        pricing = self.metadata.get("pricing") or {}
        return str(pricing.get("type", ""))


class ApiVersions(WireModel):
    """The answer of ``GET /v1/versions``."""

    versions: list[str]


# --- backends -------------------------------------------------------------------------------


class BackendStatusName(WireModel):
    """A backend's status in the backend list: ``online``, ``offline``, ``paused``..."""

    name: str
    reason: str | None = None


class BackendSummary(WireModel):
    """One entry of ``GET /v1/backends`` (``devices``)."""

    name: str
    status: BackendStatusName
    qubits: int
    queue_length: int = 0
    physical_qubits: int | None = None
    processor_type: dict[str, Any] | None = None
    clops: dict[str, Any] | None = None
    performance_metrics: dict[str, Any] | None = None
    wait_time_seconds: float | None = None
    backend_class: str | None = Field(default=None, alias="class")


class BackendList(WireModel):
    """The answer of ``GET /v1/backends``."""

    devices: list[BackendSummary]


class BackendState(WireModel):
    """The answer of ``GET /v1/backends/{name}/status``."""

    state: bool
    status: str
    message: str = ""
    length_queue: int = 0
    backend_version: str = "0.0.0"


# --- jobs -----------------------------------------------------------------------------------


class JobState(WireModel):
    """A job's ``state``: the platform state and, when it ended badly, why."""

    status: str
    reason: str | None = None
    reason_code: int | None = None
    reason_solution: str | None = None


class JobProgram(WireModel):
    """A job's ``program``."""

    id: str


class JobUsage(WireModel):
    """A job's ``usage``: the quantum seconds it was charged."""

    quantum_seconds: float = 0.0
    seconds: float = 0.0


class Job(WireModel):
    """A job as ``GET /v1/jobs/{id}`` and the listing give it."""

    id: str
    backend: str
    state: JobState
    status: str
    program: JobProgram
    created: UtcDatetime
    ended: UtcDatetime | None = None
    runtime: str = ""
    cost: int = 0
    tags: list[str] = Field(default_factory=list)
    session_id: str | None = None
    user_id: str = ""
    usage: JobUsage = Field(default_factory=JobUsage)
    private: bool = False
    estimated_running_time_seconds: float | None = None
    calibration_id: str | None = None
    params: dict[str, Any] | None = None


class JobList(WireModel):
    """The answer of ``GET /v1/jobs``: a page of jobs and how many match in all."""

    jobs: list[Job]
    count: int
    limit: int | None = None
    offset: int | None = None


class JobCreateRequest(WireModel):
    """The body of ``POST /v1/jobs``."""

    program_id: StrictStr
    backend: StrictStr | None = None
    params: dict[str, Any]
    runtime: StrictStr | None = None
    log_level: StrictStr | None = None
    session_id: StrictStr | None = None
    tags: list[StrictStr] | None = None
    cost: StrictInt | None = None
    private: StrictBool | None = None
    calibration_id: StrictStr | None = None
    start_session: StrictBool | None = None
    session_time: StrictInt | None = None


class JobCreated(WireModel):
    """The answer of ``POST /v1/jobs``."""

    id: str
    backend: str
    session_id: str | None = None
    private: bool = False


class TagsUpdateRequest(WireModel):
    """The body of ``PUT /v1/jobs/{id}/tags`` (replaces every tag)."""

    tags: list[StrictStr]


class JobMetricsTimestamps(WireModel):
    """When a job was created, started running and finished."""

    created: UtcDatetime | None = None
    running: UtcDatetime | None = None
    finished: UtcDatetime | None = None


class JobMetricsUsage(WireModel):
    """What a job was charged; ``status`` is ``pending`` until it is final."""

    quantum_seconds: float = 0.0
    seconds: float = 0.0
    qpu_charge_time_seconds: float = 0.0
    status: Literal["pending", "final"] = "pending"


class JobMetrics(WireModel):
    """The answer of ``GET /v1/jobs/{id}/metrics``."""

    timestamps: JobMetricsTimestamps
    bss: dict[str, Any] = Field(default_factory=dict)
    usage: JobMetricsUsage
    qiskit_version: str = ""
    estimated_start_time: UtcDatetime | None = None
    estimated_completion_time: UtcDatetime | None = None
    position_in_queue: int | None = None
    position_in_provider: int | None = None
    num_circuits: int | None = None
    num_shots: int | None = None


# --- sessions -------------------------------------------------------------------------------


class SessionCreateRequest(WireModel):
    """The body of ``POST /v1/sessions``."""

    mode: Literal["dedicated", "batch"] = "dedicated"
    backend: StrictStr | None = None
    instance: StrictStr | None = None
    max_ttl: StrictInt | None = None


class SessionUpdateRequest(WireModel):
    """The body of ``PATCH /v1/sessions/{id}``."""

    accepting_jobs: StrictBool


class SessionTimestamp(WireModel):
    """One state change of a session."""

    status: str
    timestamp: UtcDatetime


class Session(WireModel):
    """A session or batch as ``POST`` and ``GET /v1/sessions/{id}`` give it."""

    id: str
    backend_name: str
    mode: str
    state: str
    state_reason: str | None = None
    accepting_jobs: bool = True
    max_ttl: int
    interactive_ttl: int
    active_ttl: int
    started_at: UtcDatetime | None = None
    activated_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    last_job_started: UtcDatetime | None = None
    last_job_completed: UtcDatetime | None = None
    timestamps: list[SessionTimestamp] = Field(default_factory=list)
    user_id: str = ""
    elapsed_time: float = 0.0


# --- usage ----------------------------------------------------------------------------------


class UsagePeriod(WireModel):
    """The period usage is counted over."""

    start_time: UtcDatetime
    end_time: UtcDatetime


class InstanceUsage(WireModel):
    """The answer of ``GET /v1/instances/usage``.

    ``usage_allocation_seconds`` (the instance's allocation) or ``usage_limit_seconds``
    (a limit set on it) is there when the instance has one.
    """

    instance_id: str
    plan_id: str
    usage_consumed_seconds: StrictFloat | StrictInt
    usage_period: UsagePeriod
    usage_allocation_seconds: float | None = None
    usage_limit_seconds: float | None = None
    usage_limit_reached: bool
