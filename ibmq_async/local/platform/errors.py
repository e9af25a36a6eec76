"""The errors the platform side of the local service answers with.

The runtime API (``/api/v1``) and the IBM Cloud stand-ins answer every error with the
platform's body (docs/platform.md §3)::

    {"trace": "<request id>", "errors": [{"code": ..., "message": "...", "more_info": "..."}]}

IBM Cloud IAM (``/identity/token``) answers with its own body
(``{"errorCode": "BXNIM0415E", "errorMessage": "...", "context": {...}}``).
"""

from __future__ import annotations

import os
from typing import Any

from ibmq_async.models.platform import IamError, PlatformError, PlatformErrorItem

__all__ = ["ErrorCodes", "IamApiError", "PlatformApiError", "new_trace"]

_MORE_INFO = "https://quantum.cloud.ibm.com/docs/errors"


def new_trace() -> str:
    """A new request id for the ``trace`` of an error body."""
    return os.urandom(16).hex()


class ErrorCodes:
    """The codes of the platform error bodies the local service sends."""

    INTERNAL = 1000
    BAD_REQUEST = 1001
    INVALID_PARAMS = 1002
    BACKEND_NOT_FOUND = 1007
    NOT_ISA = 1010
    TOO_MANY_EXECUTIONS = 1012
    COST_TOO_HIGH = 1013
    UNSUPPORTED = 1014
    UNAUTHORIZED = 1201
    TOKEN_EXPIRED = 1202
    FORBIDDEN = 1203
    INSTANCE_REQUIRED = 1204
    JOB_NOT_FOUND = 1211
    JOB_FINAL = 1212
    JOB_NOT_FINAL = 1213
    RESULT_NOT_READY = 1214
    NO_LOGS = 1215
    SESSION_NOT_FOUND = 1221
    SESSION_CLOSED = 1222
    SESSION_BACKEND = 1223
    PROGRAM_NOT_FOUND = 1231
    USAGE_LIMIT = 1301
    RATE_LIMITED = 1302
    RAN_TOO_LONG = 1305
    NOT_FOUND = 1404
    METHOD_NOT_ALLOWED = 1405
    UNAVAILABLE = 1503
    RUN_FAILED = 1517


class PlatformApiError(Exception):
    """An error answer of the runtime API (or of the IBM Cloud search and catalog).

    Args:
        status: The HTTP status.
        code: The error code (:class:`ErrorCodes`).
        message: What went wrong, for a human.
        headers: Extra headers of the answer (``Retry-After``).
    """

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, trace: str | None = None) -> dict[str, Any]:
        """The JSON body of the answer."""
        return PlatformError(
            trace=trace or new_trace(),
            errors=[PlatformErrorItem(code=self.code, message=self.message, more_info=_MORE_INFO)],
        ).to_wire(exclude_unset=False)

    @classmethod
    def bad_request(cls, message: str, code: int = ErrorCodes.BAD_REQUEST) -> PlatformApiError:
        """A 400 for a request the service cannot make sense of."""
        return cls(400, code, message)

    @classmethod
    def not_found(cls, message: str, code: int = ErrorCodes.NOT_FOUND) -> PlatformApiError:
        """A 404."""
        return cls(404, code, message)

    @classmethod
    def unauthorized(cls, message: str, code: int = ErrorCodes.UNAUTHORIZED) -> PlatformApiError:
        """A 401 for a missing, forged or expired token."""
        return cls(401, code, message)

    @classmethod
    def job_not_found(cls, job_id: str) -> PlatformApiError:
        """The 404 of a job that does not exist or is not the caller's instance's."""
        return cls(404, ErrorCodes.JOB_NOT_FOUND, f"Job not found: {job_id}")

    @classmethod
    def session_not_found(cls, session_id: str) -> PlatformApiError:
        """The 404 of a session that does not exist or is not the caller's instance's."""
        return cls(404, ErrorCodes.SESSION_NOT_FOUND, f"Session not found: {session_id}")


class IamApiError(Exception):
    """An error answer of IBM Cloud IAM (``POST /identity/token``).

    Args:
        status: The HTTP status (400 for a wrong key).
        code: The IAM error code (``BXNIM0415E``...).
        message: What went wrong.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return IamError(
            error_code=self.code,
            error_message=self.message,
            context={"requestId": new_trace(), "requestType": "incoming.Identity_Token"},
        ).to_wire(exclude_unset=False)
