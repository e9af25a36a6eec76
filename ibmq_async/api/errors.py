"""What a failed or ill-fitting response becomes: the ``ApiError`` hierarchy, with evidence.

Every API has its own error body. :func:`error_from_response` takes the API's parser (an
:data:`ErrorParser`, e.g. the classic one in :mod:`ibmq_async.api.classic.errors`) for
the code and message, and picks the class by status (401, 404, 429 with its
``Retry-After``, 5xx) unless the parser names a more specific one (the classic API's job
limit, 3458). :func:`validate_model` and :func:`validate_model_json` turn a 2xx body that
does not fit its model into an :class:`ApiProtocolError` that names the fields.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiRateLimitError,
    ApiServerError,
    ApiStatusError,
)

__all__ = [
    "ErrorDetails",
    "ErrorParser",
    "describe_validation_error",
    "error_from_response",
    "json_object",
    "no_error_details",
    "normalise_code",
    "parse_retry_after",
    "protocol_error",
    "trace_id_of",
    "validate_model",
    "validate_model_json",
]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ErrorDetails:
    """What an API's error body says.

    Attributes:
        code: The API's error code (an int when it is a number).
        message: The API's message.
        kind: A more specific error class than the status gives, if the body says so.
        trace_id: A request id the body carries, if the headers have none.
    """

    code: int | str | None = None
    message: str | None = None
    kind: type[ApiStatusError] | None = None
    trace_id: str | None = None


ErrorParser = Callable[[httpx.Response], ErrorDetails]
"""Reads an API's error body; must not raise on a body of another shape."""


def no_error_details(response: httpx.Response) -> ErrorDetails:
    """The parser of an API whose error bodies carry nothing of use."""
    return ErrorDetails()


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` (not JSON, or not an object)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        return max(when.timestamp() - current, 0.0)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(seconds, 0.0)


def normalise_code(code: Any) -> int | str | None:
    if code is None or isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    text = str(code)
    return int(text) if text.isdigit() else text


def error_from_response(
    response: httpx.Response,
    parser: ErrorParser = no_error_details,
    *,
    redact: Callable[[str], str] | None = None,
) -> ApiStatusError:
    """The :class:`ApiStatusError` subclass that describes a non-2xx response.

    Args:
        response: The response (read).
        parser: The API's error-body parser.
        redact: Removes secrets from the message.
    """
    status = response.status_code
    details = parser(response)
    error_message = details.message
    if redact is not None and error_message is not None:
        error_message = redact(error_message)
    request = response.request
    message = error_message or response.reason_phrase or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error_code": details.code,
        "error_message": error_message,
        "method": request.method,
        "url": str(request.url),
        "trace_id": trace_id_of(response) or details.trace_id,
        "response": response,
    }
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ApiRateLimitError(message, retry_after=retry_after, **kwargs)
    if details.kind is not None:
        return details.kind(message, **kwargs)
    if status == 401:
        return ApiAuthenticationError(message, **kwargs)
    if status == 404:
        return ApiNotFoundError(message, **kwargs)
    if status >= 500:
        return ApiServerError(message, **kwargs)
    return ApiStatusError(message, **kwargs)


def trace_id_of(response: httpx.Response) -> str | None:
    """The trace id of a response (``uber-trace-id``, else ``x-request-id``)."""
    value: str | None = response.headers.get("uber-trace-id") or response.headers.get(
        "x-request-id"
    )
    return value


def protocol_error(
    message: str, response: httpx.Response | None, *, attach_response: bool = True
) -> ApiProtocolError:
    """An :class:`ApiProtocolError` with the evidence of the 2xx response that did not fit."""
    if response is None:
        return ApiProtocolError(message)
    request = response.request
    return ApiProtocolError(
        message,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url),
        trace_id=trace_id_of(response),
        response=response if attach_response else None,
    )


def describe_validation_error(exc: ValidationError) -> str:
    """The failing fields of a validation error, without the input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(item) for item in error["loc"]) or "<root>"
        parts.append(f"{location}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def validate_model(
    model: type[M],
    data: Any,
    *,
    what: str,
    response: httpx.Response | None = None,
    sensitive: bool = False,
) -> M:
    """Validate ``data`` into ``model`` or raise :class:`ApiProtocolError` naming the fields.

    Args:
        model: The model class.
        data: The decoded JSON.
        what: What the payload is, for the message.
        response: The ``httpx.Response`` it came from, attached to the error.
        sensitive: The payload may hold a secret: the error then carries neither the
            response nor the validation error (whose text would show the input).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = protocol_error(
            f"The {what} does not fit the protocol: {describe_validation_error(exc)}",
            response,
            attach_response=not sensitive,
        )
        if sensitive:
            raise error from None
        raise error from exc


def validate_model_json(model: type[M], response: httpx.Response, *, what: str) -> M:
    """Validate the JSON body of ``response`` into ``model`` straight from its bytes.

    Faster than :func:`validate_model` after ``json.loads`` for large documents, and it
    builds no intermediate dicts.

    Raises:
        ApiProtocolError: The body is not JSON, or does not fit the model (the error names
            the fields and carries the response).
    """
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise protocol_error(f"The {what} is not valid JSON", response) from exc
        raise protocol_error(
            f"The {what} does not fit the protocol: {describe_validation_error(exc)}", response
        ) from exc
