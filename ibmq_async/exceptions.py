"""The error hierarchy of ibmq_async.

Every error the SDK raises derives from :class:`IBMQError`. Errors raised by the HTTP
layer (:mod:`ibmq_async.api`) derive from :class:`ApiError` and carry the evidence needed
to debug a failed call: the HTTP status, the IBM error code and message from the response
body, the request method and URL, the ``uber-trace-id`` of the response and how many
retries were taken before giving up. Higher layers raise the error classes that users of
qiskit-ibmq-provider know (``IBMQBackendJobLimitError``, ``IBMQJobFailureError``, ...),
chained ``from`` the API error that caused them.

No message, repr or attribute of these errors ever contains an API token or an access
token: the HTTP layer never puts them in URLs and redacts them from anything it reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ApiAuthenticationError",
    "ApiConnectionError",
    "ApiError",
    "ApiJobLimitError",
    "ApiJobWaitTimeoutError",
    "ApiNotFoundError",
    "ApiProtocolError",
    "ApiRateLimitError",
    "ApiServerError",
    "ApiStatusError",
    "ApiTimeoutError",
    "AuthenticationLicenseError",
    "CircuitConversionError",
    "EventLoopMismatchError",
    "IBMQAccountCredentialsInvalidFormat",
    "IBMQAccountCredentialsInvalidToken",
    "IBMQAccountCredentialsInvalidUrl",
    "IBMQAccountCredentialsNotFound",
    "IBMQAccountError",
    "IBMQAccountMultipleCredentialsFound",
    "IBMQAccountValueError",
    "IBMQBackendApiError",
    "IBMQBackendApiProtocolError",
    "IBMQBackendError",
    "IBMQBackendJobLimitError",
    "IBMQBackendValueError",
    "IBMQError",
    "IBMQInputValueError",
    "IBMQJobApiError",
    "IBMQJobError",
    "IBMQJobFailureError",
    "IBMQJobInvalidStateError",
    "IBMQJobManagerError",
    "IBMQJobManagerInvalidStateError",
    "IBMQJobManagerJobNotFound",
    "IBMQJobManagerTimeoutError",
    "IBMQJobManagerUnknownJobSet",
    "IBMQJobTimeoutError",
    "IBMQManagedResultDataNotAvailable",
    "IBMQNotAuthorizedError",
    "IBMQProviderError",
    "RateLimitedError",
    "UsageLimitError",
    "WebsocketAuthenticationError",
    "WebsocketError",
    "WebsocketProtocolError",
]


class IBMQError(Exception):
    """Base class of every error raised by ibmq_async."""


# --- accounts and providers -------------------------------------------------------------


class IBMQAccountError(IBMQError):
    """A problem with the account: credentials, the active account or its providers."""


class IBMQAccountCredentialsNotFound(IBMQAccountError):
    """No credentials were found (no active account, nothing saved, no environment)."""


class IBMQAccountCredentialsInvalidFormat(IBMQAccountError):
    """The saved credentials file or the environment variables are malformed."""


class IBMQAccountCredentialsInvalidToken(IBMQAccountError):
    """The API token is empty or not a string."""


class IBMQAccountCredentialsInvalidUrl(IBMQAccountError):
    """The URL does not point to an IBM Quantum authentication service."""


class IBMQAccountMultipleCredentialsFound(IBMQAccountError):
    """More than one saved credential matches and none was chosen."""


class IBMQProviderError(IBMQAccountError):
    """No provider, or more than one, matches the hub/group/project asked for."""


class IBMQAccountValueError(IBMQError, ValueError):
    """A value passed to an account method is invalid."""


class IBMQInputValueError(IBMQError, ValueError):
    """A value passed to a method is invalid."""


class IBMQNotAuthorizedError(IBMQError):
    """The account is not authorized to use a service."""


class EventLoopMismatchError(IBMQError, RuntimeError):
    """A client was used on an event loop other than the one it was created on."""


# --- the HTTP layer --------------------------------------------------------------------


class ApiError(IBMQError):
    """An HTTP call to the IBM Quantum API failed.

    Attributes:
        message: What went wrong, in words. Never contains a token.
        status_code: The HTTP status of the last response, or ``None`` if there was none.
        error_code: The IBM error code from the response body (e.g. ``3458``), if any.
        error_message: The IBM error message from the response body, if any.
        method: The HTTP method of the request.
        url: The URL of the request.
        trace_id: The ``uber-trace-id`` header of the response, if any.
        retries_taken: How many times the request was retried before this error.
        response: The last ``httpx.Response``, if one was received (already closed).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: int | str | None = None,
        error_message: str | None = None,
        method: str | None = None,
        url: str | None = None,
        trace_id: str | None = None,
        retries_taken: int = 0,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.error_message = error_message
        self.method = method
        self.url = url
        self.trace_id = trace_id
        self.retries_taken = retries_taken
        self.response = response

    def __str__(self) -> str:
        parts = [self.message]
        if self.method and self.url:
            parts.append(f"({self.method} {self.url})")
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.error_code is not None:
            parts.append(f"Error code: {self.error_code}.")
        if self.trace_id:
            parts.append(f"trace id {self.trace_id}")
        if self.retries_taken:
            parts.append(f"after {self.retries_taken} retries")
        return " ".join(parts)

    def __repr__(self) -> str:
        fields: dict[str, Any] = {
            "status_code": self.status_code,
            "error_code": self.error_code,
            "method": self.method,
            "url": self.url,
            "trace_id": self.trace_id,
            "retries_taken": self.retries_taken,
        }
        shown = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v not in (None, 0))
        return f"{type(self).__name__}({self.message!r}{', ' if shown else ''}{shown})"


class ApiConnectionError(ApiError):
    """The request failed before a response was received (connect error, reset, ...)."""


class ApiTimeoutError(ApiConnectionError):
    """The request, or the whole retry sequence, ran out of time."""


class ApiJobWaitTimeoutError(ApiTimeoutError):
    """Waiting for a job to reach a final status took longer than the timeout given.

    Attributes:
        job_id: The job waited on.
        last_status: The last status seen (a ``JobStatusResponse``), if any.
    """

    job_id: str | None = None
    last_status: Any = None


class ApiStatusError(ApiError):
    """The server answered with a non-2xx HTTP status."""


class ApiAuthenticationError(ApiStatusError):
    """The server refused the credentials (HTTP 401)."""


class AuthenticationLicenseError(ApiAuthenticationError):
    """The account must accept the IBM Quantum license before logging in."""


class ApiNotFoundError(ApiStatusError):
    """The resource does not exist or is not visible to this account (HTTP 404)."""


class ApiRateLimitError(ApiStatusError):
    """The server asked the client to slow down (HTTP 429).

    Attributes:
        retry_after: The wait the server asked for, in seconds, if it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ApiJobLimitError(ApiStatusError):
    """The user's active jobs on the backend reached its limit (IBM error code 3458)."""


class RateLimitedError(ApiRateLimitError):
    """Job creation is rate limited for longer than the client may wait (the platform's
    429, error code 1302, with a ``Retry-After`` above the retry policy's
    ``max_retry_after``). No job was made."""


class UsageLimitError(ApiStatusError):
    """The instance has used its allocation: the platform refuses new jobs (HTTP 409,
    error code 1301). No job was made.

    Attributes:
        usage: The instance's usage (an ``InstanceUsage``) when it could be read, else
            ``None``.
    """

    usage: Any = None


class ApiServerError(ApiStatusError):
    """The server failed (HTTP 5xx)."""


class ApiProtocolError(ApiError):
    """A 2xx response whose body is not what the protocol says (bad JSON, wrong shape)."""


class WebsocketError(ApiError):
    """The job status websocket failed."""


class WebsocketAuthenticationError(WebsocketError):
    """The websocket did not accept the access token."""


class WebsocketProtocolError(WebsocketError):
    """The websocket sent a frame that is not valid JSON of the expected shape."""


# --- backends ---------------------------------------------------------------------------


class IBMQBackendError(IBMQError):
    """A backend operation failed."""


class IBMQBackendApiError(IBMQBackendError):
    """A backend operation failed because an API call failed (chained from the ApiError)."""


class IBMQBackendApiProtocolError(IBMQBackendApiError):
    """The API answered a backend operation with data that does not fit the protocol."""


class IBMQBackendValueError(IBMQBackendError, ValueError):
    """A value passed to a backend method is invalid."""


class IBMQBackendJobLimitError(IBMQBackendError):
    """The maximum number of concurrent jobs on the backend was reached (code 3458)."""


# --- jobs --------------------------------------------------------------------------------


class IBMQJobError(IBMQError):
    """A job operation failed."""


class IBMQJobApiError(IBMQJobError):
    """A job operation failed because an API call failed (chained from the ApiError)."""


class IBMQJobFailureError(IBMQJobError):
    """The job ended in an error state; the message says why."""


class IBMQJobInvalidStateError(IBMQJobError):
    """The job is in a state that does not allow the operation (e.g. result of a cancelled job)."""


class IBMQJobTimeoutError(IBMQJobError, TimeoutError):
    """Waiting for the job took longer than the timeout given."""


# --- the job manager ---------------------------------------------------------------------


class IBMQJobManagerError(IBMQError):
    """A job manager operation failed."""


class IBMQJobManagerInvalidStateError(IBMQJobManagerError):
    """The job set is in a state that does not allow the operation."""


class IBMQJobManagerTimeoutError(IBMQJobManagerError, TimeoutError):
    """Waiting for the job set took longer than the timeout given."""


class IBMQJobManagerJobNotFound(IBMQJobManagerError):
    """The job or experiment asked for is not in the job set."""


class IBMQManagedResultDataNotAvailable(IBMQJobManagerError):
    """The result of that experiment is not available (its job failed or was cancelled)."""


class IBMQJobManagerUnknownJobSet(IBMQJobManagerError):
    """No job set with that id exists on the service."""


# --- circuits -----------------------------------------------------------------------------


class CircuitConversionError(IBMQInputValueError):
    """A circuit cannot be converted to a Qobj (unbound parameter, unsupported instruction)."""
