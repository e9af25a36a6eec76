"""The error bodies of the IBM Quantum Platform API and of IBM Cloud IAM (docs/platform.md §2,
§3), read into the evidence every :class:`~ibmq_async.exceptions.ApiError` carries.

* The runtime API: ``{"trace": "<request id>", "errors": [{"code", "message",
  "more_info"}]}``. The code is the first error's, the message every error's, joined; the
  ``trace`` is the trace id when the headers have none. Code 1301 on a 409 (the instance
  used its allocation) is a :class:`~ibmq_async.exceptions.UsageLimitError`.
* IAM: ``{"errorCode": "BXNIM0415E", "errorMessage": ..., "context": {"requestId"}}``. A
  400 or 401 from IAM means the API key was refused: an
  :class:`~ibmq_async.exceptions.ApiAuthenticationError`.

A 429 (code 1302) becomes an :class:`~ibmq_async.exceptions.ApiRateLimitError` with its
``Retry-After`` by its status, as every API's does.
"""

from __future__ import annotations

from typing import Any

import httpx

from ibmq_async.api.errors import ErrorDetails, json_object, normalise_code
from ibmq_async.exceptions import ApiAuthenticationError, ApiStatusError, UsageLimitError

__all__ = [
    "RATE_LIMITED_CODE",
    "USAGE_LIMIT_CODE",
    "platform_error_details",
]

USAGE_LIMIT_CODE = 1301
"""Job creation refused: the instance's usage exceeds its limit (HTTP 409)."""

RATE_LIMITED_CODE = 1302
"""Job creation refused: past the user's creation rate (HTTP 429, with ``Retry-After``)."""


def platform_error_details(response: httpx.Response) -> ErrorDetails:
    """The code, message, trace and (for the usage limit and a refused API key) the error
    class of a runtime API or IAM error body. Bodies of any other shape give nothing."""
    body = json_object(response)
    if body is None:
        return ErrorDetails()
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return _runtime_details(response, body, errors)
    if "errorCode" in body or "errorMessage" in body:
        return _iam_details(response, body)
    return ErrorDetails()


def _runtime_details(
    response: httpx.Response, body: dict[str, Any], errors: list[Any]
) -> ErrorDetails:
    items = [item for item in errors if isinstance(item, dict)]
    code = normalise_code(items[0].get("code")) if items else None
    messages = [str(item["message"]) for item in items if item.get("message") is not None]
    trace = body.get("trace")
    kind: type[ApiStatusError] | None = None
    if code == USAGE_LIMIT_CODE and response.status_code == 409:
        kind = UsageLimitError
    return ErrorDetails(
        code,
        "; ".join(messages) or None,
        kind,
        trace_id=trace if isinstance(trace, str) and trace else None,
    )


def _iam_details(response: httpx.Response, body: dict[str, Any]) -> ErrorDetails:
    code = body.get("errorCode")
    message = body.get("errorMessage")
    context = body.get("context")
    trace = context.get("requestId") if isinstance(context, dict) else None
    kind: type[ApiStatusError] | None = None
    if response.status_code in (400, 401):
        kind = ApiAuthenticationError
    return ErrorDetails(
        code if isinstance(code, str) and code else None,
        None if message is None else str(message),
        kind,
        trace_id=trace if isinstance(trace, str) and trace else None,
    )
