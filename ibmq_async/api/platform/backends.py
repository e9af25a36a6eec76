"""The backends an instance sees (docs/platform.md §3): the list, configurations,
properties, status and pulse defaults. Every call is a GET, retried as any read is."""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ibmq_async.api.errors import protocol_error
from ibmq_async.api.platform.urls import PlatformUrls
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiNotFoundError
from ibmq_async.models.platform import BackendList, BackendState, BackendSummary

__all__ = ["Backends", "query_datetime"]


def query_datetime(value: datetime) -> str:
    """A datetime as the UTC ISO 8601 string of a query parameter (naive = local time, as
    qiskit-ibm-runtime takes it)."""
    return value.astimezone(timezone.utc).isoformat()


class Backends(Resource):
    """The backend endpoints of the runtime API.

    Args:
        session: The session of the client.
        urls: Where the endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, urls: PlatformUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self.urls = urls

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.urls.api!r})"

    async def summaries(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[BackendSummary]:
        """``GET /v1/backends``: every backend the instance sees, with its status and queue.

        Raises:
            ApiProtocolError: The answer is not a backend list.
            ApiError: The call failed (after retries).
        """
        answer = await self._model(
            BackendList,
            "GET",
            self.urls.backends,
            what="backend list",
            timeout=timeout,
            retry=retry,
        )
        return answer.devices

    async def names(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[str]:
        """The names of the backends the instance sees (``GET /v1/backends``).

        Raises:
            ApiError: As :meth:`summaries`.
        """
        return [device.name for device in await self.summaries(timeout=timeout, retry=retry)]

    async def configuration(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> dict[str, Any]:
        """``GET /v1/backends/{name}/configuration``: the configuration as the API sent it
        (the same document as the classic API's; validate it with
        :func:`ibmq_async.models.parse_backend_configuration`).

        Raises:
            ApiNotFoundError: The instance does not see the backend.
            ApiProtocolError: The answer is not a JSON object.
            ApiError: The call failed (after retries).
        """
        data, response = await self._json(
            "GET", self.urls.configuration(name), timeout=timeout, retry=retry
        )
        if not isinstance(data, dict):
            raise protocol_error("The backend configuration is not a JSON object", response)
        return data

    async def properties(
        self,
        name: str,
        *,
        datetime: datetime | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> dict[str, Any] | None:
        """``GET /v1/backends/{name}/properties``: the calibration, or ``None`` where there is
        none (a simulator, or a time before the first calibration).

        Args:
            name: The backend.
            datetime: The calibration in force at this time (``updated_before``; naive =
                local time).

        Raises:
            ApiProtocolError: The answer is not a JSON object.
            ApiError: The call failed (after retries).
        """
        params = {} if datetime is None else {"updated_before": query_datetime(datetime)}
        return await self._optional_document(
            self.urls.properties(name), "backend properties", timeout, retry, params=params
        )

    async def defaults(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> dict[str, Any] | None:
        """``GET /v1/backends/{name}/defaults``: the pulse defaults, or ``None`` where the
        backend has none (the API answers 404 or an empty document).

        Raises:
            ApiProtocolError: The answer is not a JSON object.
            ApiError: The call failed (after retries).
        """
        try:
            return await self._optional_document(
                self.urls.defaults(name), "pulse defaults", timeout, retry
            )
        except ApiNotFoundError:
            return None

    async def status(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendState:
        """``GET /v1/backends/{name}/status``: whether it takes jobs, its status and queue.

        The platform's own document (``state``, ``status``, ``message``, ``length_queue``,
        ``backend_version``); the surface makes the classic ``BackendStatus`` of it.

        Raises:
            ApiNotFoundError: The instance does not see the backend.
            ApiProtocolError: The answer does not fit.
            ApiError: The call failed (after retries).
        """
        return await self._model(
            BackendState,
            "GET",
            self.urls.status(name),
            what="backend status",
            timeout=timeout,
            retry=retry,
        )

    async def _optional_document(
        self,
        url: str,
        what: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        data, response = await self._json("GET", url, timeout=timeout, retry=retry, **kwargs)
        if not data:
            return None
        if not isinstance(data, dict):
            raise protocol_error(f"The {what} is not a JSON object", response)
        return data
