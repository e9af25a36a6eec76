"""The errors the local service answers with, and their IBM Quantum error codes.

Every error response has the body of docs/protocol.md §5.2::

    {"error": {"message": "...", "code": 3250, "name": "...", "status": 404, "statusCode": 404}}

The codes are those of the IBM Quantum error code registry, so that a client that reacts
to a code (``3458``: too many concurrent jobs) reacts to the local service the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClassicApiError", "ErrorCode"]


class ErrorCode:
    """The IBM Quantum error codes the local service uses."""

    INTERNAL = 1000
    PAYLOAD_TOO_LARGE = 1001
    BACKEND_NOT_FOUND_FOR_JOB = 1007
    QOBJ_SCHEMA = 1101
    TOO_MANY_EXPERIMENTS = 1102
    TOO_MANY_SHOTS = 1103
    MEMORY_NOT_SUPPORTED = 1104
    NOT_IN_BASIS = 1106
    NOT_IN_COUPLING_MAP = 1107
    PULSE_NOT_SUPPORTED = 1108
    TOO_MANY_QUBITS = 1109
    BACKEND_NOT_FOUND = 2000
    AUTHENTICATION_REQUIRED = 2407
    INVALID_ACCESS_TOKEN = 2408
    PROJECT_NOT_FOUND = 2911
    INVALID_FILTER = 3216
    INVALID_PAYLOAD = 3220
    JOB_NOT_FOUND = 3250
    JOB_NOT_UPLOADED = 3251
    RESULT_NOT_AVAILABLE = 3253
    UPLOAD_NOT_ALLOWED = 3301
    INVALID_API_TOKEN = 3446
    JOB_LIMIT_REACHED = 3458
    REQUEST_NOT_FOUND = 3811
    RUN_FAILED = 5203
    SIMULATOR_FAILED = 5204
    INSTRUCTION_NOT_SUPPORTED = 7001
    INVALID_INSTRUCTION = 7005
    MEASUREMENT_NOT_MAPPED = 8001
    MEAS_LEVEL_NOT_SUPPORTED = 8009
    PULSE_NOT_SIMULATED = 8011


class ClassicApiError(Exception):
    """An error answer of the REST API: HTTP status, IBM error code and message.

    Args:
        status: The HTTP status code of the answer.
        code: The IBM Quantum error code.
        message: What went wrong, for a human.
        name: A short machine name of the error (LoopBack style).
    """

    def __init__(self, status: int, code: int, message: str, name: str = "Error") -> None:
        message = message.rstrip(".")  # clients append ". Error code: <code>."
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.name = name

    def body(self) -> dict[str, Any]:
        """The JSON body of the error answer."""
        return {
            "error": {
                "message": self.message,
                "code": self.code,
                "name": self.name,
                "status": self.status,
                "statusCode": self.status,
            }
        }

    @classmethod
    def bad_request(cls, message: str, code: int = ErrorCode.INVALID_PAYLOAD) -> ClassicApiError:
        """A 400 answer for a request the service cannot make sense of."""
        return cls(400, code, message, "BAD_REQUEST")

    @classmethod
    def job_not_found(cls, job_id: str) -> ClassicApiError:
        """The 404 answer for a job that does not exist or is not visible to the caller."""
        return cls(404, ErrorCode.JOB_NOT_FOUND, f"Job not found: {job_id}.", "JOB_NOT_FOUND")

    @classmethod
    def backend_not_found(cls, name: str) -> ClassicApiError:
        """The 404 answer for a backend that does not exist or is not visible to the caller."""
        return cls(404, ErrorCode.BACKEND_NOT_FOUND, f"Backend not found: {name}.", "NOT_FOUND")

    @classmethod
    def unauthorized(
        cls, message: str, code: int = ErrorCode.INVALID_ACCESS_TOKEN
    ) -> ClassicApiError:
        """The 401 answer for a missing, unknown or expired access token."""
        return cls(401, code, message, "AUTHORIZATION_REQUIRED")
