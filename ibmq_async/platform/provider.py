"""``PlatformProvider``: the backends and jobs of one IBM Quantum Platform instance.

``IBMQ.enable_account(api_key, channel="ibm_quantum_platform", instance=crn)`` exchanges the
API key at IAM, checks the instance and builds one :class:`PlatformProvider`, whose
surface is that of the classic ``AccountProvider``: ``get_backend``, ``backends(...)``,
``jobs(...)``, ``retrieve_job``, plus the platform's ``usage()`` and ``least_busy()``.
Its client (:attr:`PlatformProvider.api`, ``ibmq_async.api.platform.PlatformClient``) holds
the HTTP session, the IAM token, the job creation pacer and the one poller every wait of the
instance shares; closing the provider closes it.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from ibmq_async.api import JobQuery
from ibmq_async.api.platform import PlatformJobQuery
from ibmq_async.arguments import check_job_id, check_limit, check_skip
from ibmq_async.backend import backend_api_errors, job_query
from ibmq_async.credentials import PlatformCredentials
from ibmq_async.exceptions import ApiNotFoundError, IBMQBackendApiError, IBMQBackendValueError
from ibmq_async.models import BackendConfiguration, JobStatus, parse_backend_configuration
from ibmq_async.models.platform import InstanceUsage, Job
from ibmq_async.models.platform_job_limit import JobRate
from ibmq_async.platform.backend import PlatformBackend, PlatformRetiredBackend
from ibmq_async.platform.job import NAME_TAG_PREFIX, PlatformJob
from ibmq_async.provider import BackendCollection, filter_backends, least_busy

if TYPE_CHECKING:
    from ibmq_async.api.platform import PlatformClient
    from ibmq_async.provider import IBMQFactory

__all__ = ["PlatformProvider"]

_PENDING = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""The platform's states that are not final (``Queued``, ``Running``)."""
_FINAL = frozenset({JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR})
_NEVER_ON_THE_PLATFORM = frozenset({JobStatus.INITIALIZING, JobStatus.VALIDATING})
_PAGE_SIZE = 100


class PlatformProvider:
    """The backends and jobs of one instance of IBM Quantum Platform.

    Use it as an async context manager to close its client when done.

    Args:
        factory: The factory that enabled the account (``None`` for a provider made
            directly from a client).
        client: The platform API client of the instance.
        credentials: The account.
    """

    def __init__(
        self,
        factory: IBMQFactory | None,
        client: PlatformClient,
        credentials: PlatformCredentials,
    ) -> None:
        self._factory = factory
        self._client = client
        self._credentials = credentials
        self._backends: dict[str, PlatformBackend] = {}
        self._retired: dict[str, PlatformBackend] = {}
        self.backends: BackendCollection[PlatformBackend] = BackendCollection(self)

    async def _discover_backends(self, *, timeout: float | None = None) -> None:
        """Load the configuration of every backend the instance sees, concurrently."""
        with backend_api_errors("list the backends"):
            names = await self._client.backends.names(timeout=timeout)
        configurations: dict[str, BackendConfiguration] = {}

        async def load(name: str) -> None:
            with backend_api_errors(f"get the configuration of {name}"):
                document = await self._client.backends.configuration(name, timeout=timeout)
            configurations[name] = parse_backend_configuration(document)

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(load, name)
        self._backends = {
            name: PlatformBackend(configurations[name], self, self._client) for name in names
        }

    # --- identity -----------------------------------------------------------------------

    @property
    def channel(self) -> str:
        """``"ibm_quantum_platform"``."""
        return "ibm_quantum_platform"

    @property
    def instance(self) -> str:
        """The instance's CRN."""
        return self._client.instance

    @property
    def credentials(self) -> PlatformCredentials:
        """The account (its API key is never in a repr)."""
        return self._credentials

    @property
    def api(self) -> PlatformClient:
        """The platform API client: ``api.backends``, ``api.jobs``, ``api.sessions`` (one
        coroutine per endpoint), ``api.waits``, ``api.submit`` and ``api.usage``."""
        return self._client

    def __repr__(self) -> str:
        return f"<PlatformProvider(instance='{self.instance}')>"

    # --- backends -----------------------------------------------------------------------

    def get_backend(self, name: str | None = None, **kwargs: Any) -> PlatformBackend:
        """The one backend with this name (and these configuration values).

        This makes no request: only configuration attributes can be matched. Use
        ``await provider.backends(...)`` to filter on status.

        Raises:
            IBMQBackendValueError: No backend, or more than one, matches; or a keyword is
                not a configuration attribute.
        """
        candidates = list(self._backends.values())
        if name is not None:
            candidates = [b for b in candidates if b.name() == name]
        for key, value in kwargs.items():
            if not all(hasattr(b.configuration(), key) for b in candidates):
                raise IBMQBackendValueError(
                    f"{key!r} is not a configuration attribute of every backend; use "
                    "'await provider.backends(...)' to filter on status"
                )
            candidates = [b for b in candidates if getattr(b.configuration(), key) == value]
        if not candidates:
            wanted = ", ".join(
                [f"name={name!r}"] * (name is not None) + [f"{k}={v!r}" for k, v in kwargs.items()]
            )
            raise IBMQBackendValueError(
                f"no backend matches {wanted or 'the criteria'}; available: "
                f"{', '.join(sorted(self._backends))}"
            )
        if len(candidates) > 1:
            raise IBMQBackendValueError(
                f"more than one backend matches: {', '.join(b.name() for b in candidates)}"
            )
        return candidates[0]

    async def _filter_backends(
        self,
        *,
        name: str | None,
        filters: Callable[[PlatformBackend], bool] | None,
        min_num_qubits: int | None,
        input_allowed: str | Sequence[str] | None,
        **kwargs: Any,
    ) -> list[PlatformBackend]:
        return await filter_backends(
            list(self._backends.values()),
            name=name,
            filters=filters,
            min_num_qubits=min_num_qubits,
            input_allowed=input_allowed,
            **kwargs,
        )

    async def least_busy(
        self,
        min_num_qubits: int | None = None,
        filters: Callable[[PlatformBackend], bool] | None = None,
        *,
        simulator: bool | None = False,
        **kwargs: Any,
    ) -> PlatformBackend:
        """The operational backend with the fewest pending jobs, among those matching.

        Statuses are fetched for every candidate concurrently (as ``least_busy()`` of the
        classic channel does; the platform has no reservations to avoid).

        Args:
            min_num_qubits: Only backends with at least this many qubits.
            filters: A predicate on the backend.
            simulator: Only devices (``False``, the default), only simulators (``True``),
                or both (``None``).
            **kwargs: Configuration or status values to match, as for :attr:`backends`.

        Raises:
            IBMQError: No backend qualifies, or a status could not be fetched.
        """
        if simulator is not None:
            kwargs["simulator"] = simulator
        candidates = await self.backends(min_num_qubits=min_num_qubits, filters=filters, **kwargs)
        return await least_busy(candidates, reservation_lookahead=None)

    def backend_for_job(self, record: Job) -> PlatformBackend:
        """The backend a job names, or a retired stand-in if the instance no longer lists it."""
        name = record.backend or "unknown"
        if name in self._backends:
            return self._backends[name]
        if name not in self._retired:
            config = parse_backend_configuration(
                {
                    "backend_name": name,
                    "backend_version": "0.0.0",
                    "n_qubits": 1,
                    "basis_gates": [],
                    "gates": [],
                    "local": False,
                    "simulator": False,
                    "conditional": False,
                    "open_pulse": False,
                    "memory": False,
                    "max_shots": 0,
                    "coupling_map": None,
                    "online_date": "1970-01-01T00:00:00Z",
                }
            )
            self._retired[name] = PlatformRetiredBackend(config, self, self._client)
        return self._retired[name]

    # --- jobs across backends -------------------------------------------------------------

    async def jobs(
        self,
        limit: int | None = 10,
        skip: int = 0,
        backend_name: str | None = None,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        job_name: str | None = None,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        job_tags: Sequence[str] | None = None,
        job_tags_operator: str = "OR",
        descending: bool = True,
        *,
        session_id: str | None = None,
        program_id: str | None = None,
        timeout: float | None = None,
    ) -> list[PlatformJob]:
        """The jobs of this instance, on any backend (see ``PlatformBackend.jobs``).

        Raises:
            IBMQBackendValueError: An argument is invalid (see ``PlatformBackend.jobs``),
                before any request.
            IBMQBackendApiError: The listing failed (after retries).
        """
        check_limit(limit)
        check_skip(skip)
        query = job_query(
            backend_name=backend_name,
            status=status,
            job_name=job_name,
            start_datetime=start_datetime,
            end_datetime=end_datetime,
            job_tags=job_tags,
            job_tags_operator=job_tags_operator,
            descending=descending,
        )
        listing = _Listing(query, session_id=session_id, program_id=program_id)
        with backend_api_errors("list jobs"):
            if listing.keep is None:
                records = await self._client.jobs.list(
                    listing.platform_query(limit=limit, offset=skip), timeout=timeout
                )
                return [self._job(record) for record in records]
        jobs: list[PlatformJob] = []
        async for job in self._iter_jobs(
            skip=skip, query=query, session_id=session_id, program_id=program_id
        ):
            jobs.append(job)
            if limit is not None and len(jobs) >= limit:
                break
        return jobs

    async def _iter_jobs(
        self,
        *,
        skip: int,
        query: JobQuery,
        session_id: str | None,
        program_id: str | None,
    ) -> AsyncIterator[PlatformJob]:
        """Every job matching ``query``, a page at a time, the client's filters applied."""
        listing = _Listing(query, session_id=session_id, program_id=program_id)
        offset = skip if listing.keep is None else 0
        to_skip = 0 if listing.keep is None else skip
        pager = self._client.jobs.list(
            listing.platform_query(limit=None, offset=offset), page_size=_PAGE_SIZE
        )
        with backend_api_errors("list jobs"):
            async for record in pager:
                if listing.keep is not None and not listing.keep(record):
                    continue
                if to_skip:
                    to_skip -= 1
                    continue
                yield self._job(record)

    def _job(self, record: Job) -> PlatformJob:
        return PlatformJob(self.backend_for_job(record), record, self._client)

    async def _fetch_job(self, job_id: str, *, timeout: float | None = None) -> Job:
        with backend_api_errors(f"retrieve job {job_id}"):
            try:
                return await self._client.jobs.get(job_id, timeout=timeout)
            except ApiNotFoundError as error:
                raise IBMQBackendApiError(
                    f"Job {job_id} was not found in instance {self.instance}: {error}"
                ) from error

    async def retrieve_job(self, job_id: str, *, timeout: float | None = None) -> PlatformJob:
        """Fetch a job of this instance by id, whatever its backend.

        Raises:
            IBMQBackendValueError: ``job_id`` is not a non-empty string (before any request).
            IBMQBackendApiError: The job does not exist (in this instance) or cannot be
                fetched.
        """
        check_job_id(job_id)
        return self._job(await self._fetch_job(job_id, timeout=timeout))

    # --- the instance -------------------------------------------------------------------

    async def usage(self, *, timeout: float | None = None) -> InstanceUsage:
        """The instance's usage in the current period: quantum seconds consumed, the
        allocation or limit if it has one, and whether it is reached (job creation is then
        refused with ``UsageLimitError``).

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors("get the usage of the instance"):
            return await self._client.usage(timeout=timeout)

    def _job_rate(self) -> JobRate | None:
        """The job creation rate the client paces itself to, if it knows one."""
        rate = self._client.pacer.rate
        if rate is None:
            return None
        jobs, window = rate
        return JobRate(jobs=jobs, window_seconds=window)

    # --- lifetime -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the provider's client (its connections; waits in progress end)."""
        if self._factory is not None:
            self._factory._forget_platform(self)
        await self._client.aclose()

    async def __aenter__(self) -> PlatformProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Listing:
    """A job listing's filters split between the platform's query and the client's.

    The platform filters by backend, creation time, every tag, session, program, and
    whether a job is pending; a status other than "every pending" or "every final" one,
    a name and tags with ``OR`` are filtered here (:attr:`keep`).
    """

    def __init__(self, query: JobQuery, *, session_id: str | None, program_id: str | None) -> None:
        self.query = query
        self.session_id = session_id
        self.program_id = program_id
        checks: list[Callable[[Job], bool]] = []
        self.pending: bool | None = None
        wanted = {getattr(s, "job_status", s) for s in query.statuses} - _NEVER_ON_THE_PLATFORM
        if query.statuses:
            if wanted <= _PENDING:
                self.pending = True
            elif wanted <= _FINAL:
                self.pending = False
            if wanted not in (_PENDING, _FINAL):
                checks.append(lambda job: _status_of(job) in wanted)
        tags = list(query.job_tags or ())
        self.tags: list[str] = []
        if len(tags) > 1 and query.job_tags_operator == "OR":
            checks.append(lambda job: any(tag in job.tags for tag in tags))
        else:
            self.tags = tags
        if query.job_name is not None:
            pattern = re.compile(query.job_name)
            checks.append(lambda job: _matches_name(job, pattern))
        self.keep: Callable[[Job], bool] | None = (
            None if not checks else (lambda job: all(check(job) for check in checks))
        )

    def platform_query(self, *, limit: int | None, offset: int) -> PlatformJobQuery:
        query = self.query
        return PlatformJobQuery(
            limit=limit,
            offset=offset,
            pending=self.pending,
            backend=query.backend_name,
            program=self.program_id,
            tags=tuple(self.tags),
            session_id=self.session_id,
            created_after=_utc(query.start_datetime),
            created_before=_utc(query.end_datetime),
            descending=query.descending,
        )


def _status_of(job: Job) -> JobStatus:
    from ibmq_async.platform.states import job_status

    return job_status(job.state)


def _matches_name(job: Job, pattern: re.Pattern[str]) -> bool:
    for tag in job.tags:
        if tag.startswith(NAME_TAG_PREFIX):
            return pattern.search(tag[len(NAME_TAG_PREFIX) :]) is not None
    return False


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc)
