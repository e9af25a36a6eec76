"""The backends of a hub/group/project (docs/protocol.md §2.2): configurations,
properties, pulse defaults, queue status, job limits and reservations."""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import json
import logging
from datetime import datetime

from ibmq_async.api.classic.loopback import format_query_datetime
from ibmq_async.api.classic.urls import ProjectUrls
from ibmq_async.api.errors import validate_model
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.models import (
    BackendConfiguration,
    BackendJobLimit,
    BackendProperties,
    BackendReservation,
    BackendStatus,
    PulseDefaults,
    QueueStatusResponse,
    parse_backend_configuration,
)

__all__ = ["BackendUrls", "Backends"]

logger = logging.getLogger("ibmq_async")


class BackendUrls:
    """The backend endpoints of one hub/group/project."""

    def __init__(self, project: ProjectUrls) -> None:
        self._hgp = project.hgp
        self._api = project.api

    @property
    def listing(self) -> str:
        return f"{self._hgp}/devices/v/1"

    def device(self, name: str) -> str:
        return f"{self._hgp}/devices/{name}"

    def properties(self, name: str) -> str:
        return f"{self.device(name)}/properties"

    def defaults(self, name: str) -> str:
        return f"{self.device(name)}/defaults"

    def queue_status(self, name: str) -> str:
        return f"{self.device(name)}/queue/status"

    def job_limit(self, name: str) -> str:
        return f"{self.device(name)}/jobsLimit"

    def reservations(self, name: str) -> str:
        return f"{self._api}/Network/devices/{name}/bookings/v2"

    @property
    def my_reservations(self) -> str:
        return f"{self._api}/Network/bookings/v2"


class Backends(Resource):
    """The backend endpoints of one hub/group/project. Every call is retried.

    Args:
        session: The session of the connection.
        project: Where the project's endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, project: ProjectUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self._project = project
        self.urls = BackendUrls(project)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._project.hgp!r})"

    async def configurations(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[BackendConfiguration]:
        """``GET {HGP}/devices/v/1``: the configurations of the backends of the project.

        A configuration that does not parse is dropped with a warning, as the original
        client did.

        Raises:
            ApiProtocolError: The answer is not a list.
        """
        data, _ = await self._list(
            self.urls.listing, what="backend list", timeout=timeout, retry=retry
        )
        backends: list[BackendConfiguration] = []
        for item in data:
            name = item.get("backend_name", "<unnamed>") if isinstance(item, dict) else "<?>"
            try:
                if not isinstance(item, dict):
                    raise TypeError("not a JSON object")
                backends.append(parse_backend_configuration(item))
            except (ValueError, TypeError) as exc:
                project = self._project
                logger.warning(
                    'Remote backend "%s" for provider %s/%s/%s could not be instantiated due '
                    "to an invalid config: %s",
                    name,
                    project.hub,
                    project.group,
                    project.project,
                    _first_line(exc),
                )
        return backends

    async def properties(
        self,
        name: str,
        *,
        datetime: datetime | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> BackendProperties | None:
        """``GET {HGP}/devices/{name}/properties``: the calibration, or ``None`` if there is none.

        Args:
            name: The backend.
            datetime: Return the properties as they were before this time (naive = local).
        """
        params = {"version": "1"}
        if datetime is not None:
            params["filter"] = json.dumps(
                {"where": {"last_update_date": {"lt": format_query_datetime(datetime)}}}
            )
        return await self._optional_model(
            BackendProperties,
            self.urls.properties(name),
            what="backend properties",
            timeout=timeout,
            retry=retry,
            overrides={"backend_name": name},
            params=params,
        )

    async def defaults(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> PulseDefaults | None:
        """``GET {HGP}/devices/{name}/defaults``: the pulse defaults, or ``None`` if empty."""
        return await self._optional_model(
            PulseDefaults,
            self.urls.defaults(name),
            what="pulse defaults",
            timeout=timeout,
            retry=retry,
        )

    async def status(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendStatus:
        """``GET {HGP}/devices/{name}/queue/status``, converted as the original client did."""
        payload = await self._model(
            QueueStatusResponse,
            "GET",
            self.urls.queue_status(name),
            what="backend status",
            timeout=timeout,
            retry=retry,
        )
        return BackendStatus.from_queue_status(name, payload)

    async def job_limit(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendJobLimit:
        """``GET {HGP}/devices/{name}/jobsLimit``: the user's job limit on the backend."""
        return await self._model(
            BackendJobLimit,
            "GET",
            self.urls.job_limit(name),
            what="job limit",
            timeout=timeout,
            retry=retry,
        )

    async def reservations(
        self,
        name: str,
        *,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[BackendReservation]:
        """``GET /Network/devices/{name}/bookings/v2``: reservations of the backend.

        Args:
            start_datetime: Only reservations ending after this (naive = local time).
            end_datetime: Only reservations starting before this (naive = local time).
        """
        params: dict[str, str] = {}
        if start_datetime is not None:
            params["initialDate"] = format_query_datetime(start_datetime)
        if end_datetime is not None:
            params["endDate"] = format_query_datetime(end_datetime)
        found = await self._reservations(
            self.urls.reservations(name), params=params, timeout=timeout, retry=retry
        )
        return [reservation.model_copy(update={"backend_name": name}) for reservation in found]

    async def my_reservations(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[BackendReservation]:
        """``GET /Network/bookings/v2``: the reservations of the user."""
        return await self._reservations(
            self.urls.my_reservations, params=None, timeout=timeout, retry=retry
        )

    async def _reservations(
        self,
        url: str,
        *,
        params: dict[str, str] | None,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> list[BackendReservation]:
        data, response = await self._list(
            url, what="reservation list", params=params, timeout=timeout, retry=retry
        )
        return [
            validate_model(BackendReservation, item, what="reservation", response=response)
            for item in data
        ]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
