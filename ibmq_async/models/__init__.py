"""Pydantic models of every document and response shape of the IBM Quantum API.

Models are leaves: they import nothing else of ibmq_async, and both the client and the
local service use them, so the two sides of the wire share one definition.
"""

from ibmq_async.models._base import (
    ComplexMatrix,
    ComplexNumber,
    ComplexVector,
    UtcDatetime,
    WireModel,
)
from ibmq_async.models.auth import (
    LoginResponse,
    NetworkGroup,
    NetworkHub,
    NetworkHubs,
    NetworkProject,
    UserInfo,
    UserUrls,
    VersionInfo,
)
from ibmq_async.models.backend_status import BackendStatus, QueueStatusResponse
from ibmq_async.models.job import (
    API_FINAL_STATUSES,
    API_TO_JOB_STATUS,
    JOB_FINAL_STATES,
    ApiJobKind,
    ApiJobStatus,
    BackendRef,
    CancelResponse,
    HubInfo,
    JobCreateResponse,
    JobDataUploadedResponse,
    JobErrorInfo,
    JobIdRecord,
    JobRecord,
    JobStatus,
    JobStatusResponse,
    NamedRef,
    ObjectStorageInfo,
    QueueInfo,
    UrlResponse,
)
from ibmq_async.models.job_limit import BackendJobLimit
from ibmq_async.models.reservation import BackendReservation

__all__ = [
    "API_FINAL_STATUSES",
    "API_TO_JOB_STATUS",
    "JOB_FINAL_STATES",
    "ApiJobKind",
    "ApiJobStatus",
    "BackendJobLimit",
    "BackendRef",
    "BackendReservation",
    "BackendStatus",
    "CancelResponse",
    "ComplexMatrix",
    "ComplexNumber",
    "ComplexVector",
    "HubInfo",
    "JobCreateResponse",
    "JobDataUploadedResponse",
    "JobErrorInfo",
    "JobIdRecord",
    "JobRecord",
    "JobStatus",
    "JobStatusResponse",
    "LoginResponse",
    "NamedRef",
    "NetworkGroup",
    "NetworkHub",
    "NetworkHubs",
    "NetworkProject",
    "ObjectStorageInfo",
    "QueueInfo",
    "QueueStatusResponse",
    "UrlResponse",
    "UserInfo",
    "UserUrls",
    "UtcDatetime",
    "VersionInfo",
    "WireModel",
]
