"""The classic API's error body (docs/protocol.md §5): ``{"error": {"code", "message",
"name"}}``, or ``{"error": "<message>", "code": ...}`` from older endpoints."""

from __future__ import annotations

import httpx

from ibmq_async.api.errors import ErrorDetails, json_object, normalise_code
from ibmq_async.exceptions import ApiJobLimitError, ApiStatusError, AuthenticationLicenseError

__all__ = ["JOB_LIMIT_CODE", "classic_error_details"]

JOB_LIMIT_CODE = 3458
"""Too many active jobs on the backend."""


def classic_error_details(response: httpx.Response) -> ErrorDetails:
    """The code, message and, for the job limit and the license, the error class."""
    body = json_object(response)
    if body is None:
        return ErrorDetails()
    error = body.get("error")
    if isinstance(error, dict):
        code = normalise_code(error.get("code"))
        message = error.get("message")
        name = error.get("name")
    elif isinstance(error, str):
        code, message, name = normalise_code(body.get("code")), error, None
    else:
        return ErrorDetails()
    kind: type[ApiStatusError] | None = None
    if code == JOB_LIMIT_CODE:
        kind = ApiJobLimitError
    elif response.status_code == 401 and name == "ACCEPT_LICENSE_REQUIRED":
        kind = AuthenticationLicenseError
    return ErrorDetails(code, None if message is None else str(message), kind)
