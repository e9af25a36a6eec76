"""Accounts and providers: the ``IBMQ`` factory, ``AccountProvider`` and ``least_busy``.

``IBMQ.enable_account`` logs in and builds one :class:`AccountProvider` per
hub/group/project of the account. All providers of an account share one connection (one
``httpx.AsyncClient``); closing a provider, or ``IBMQ.disable_account()``, closes it.

With ``channel="ibm_quantum_platform"`` the same factory enables an account of IBM Quantum
Platform and returns the :class:`~ibmq_async.platform.provider.PlatformProvider` of its
instance (``ibmq_async.platform``). Backend filtering (:class:`BackendCollection`,
:func:`filter_backends`) and :func:`least_busy` serve the backends of both channels.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

import anyio
import httpx

from ibmq_async.api import RetryPolicy
from ibmq_async.api.classic import Connection
from ibmq_async.arguments import check_job_id, check_limit, check_skip
from ibmq_async.backend import (
    IBMQBackend,
    IBMQRetiredBackend,
    backend_api_errors,
    job_query,
)
from ibmq_async.credentials import (
    DEFAULT_AUTH_URL,
    PLATFORM_CHANNEL,
    Credentials,
    PlatformCredentials,
    check_channel,
    delete_credentials,
    delete_platform_credentials,
    load_account_credentials,
    read_saved_credentials,
    read_saved_platform_credentials,
    save_credentials,
    save_platform_credentials,
)
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiError,
    AuthenticationLicenseError,
    IBMQAccountCredentialsNotFound,
    IBMQAccountError,
    IBMQAccountValueError,
    IBMQBackendValueError,
    IBMQError,
    IBMQProviderError,
)
from ibmq_async.models import (
    BackendReservation,
    BackendStatus,
    JobRecord,
    JobStatus,
    parse_backend_configuration,
)

if TYPE_CHECKING:
    from ibmq_async.api.classic import ProjectClient
    from ibmq_async.job import IBMQJob
    from ibmq_async.platform.provider import PlatformProvider

__all__ = [
    "IBMQ",
    "AccountProvider",
    "BackendCollection",
    "IBMQFactory",
    "filter_backends",
    "least_busy",
]

logger = logging.getLogger("ibmq_async")

_BACKEND_ALIASES = {
    "ibmq_5_yorktown": "ibmqx2",
    "ibmq_5_tenerife": "ibmqx4",
    "ibmq_16_rueschlikon": "ibmqx5",
    "ibmq_20_austin": "QS1_1",
    "ibmqx_qasm_simulator": "ibmq_qasm_simulator",
    "ibmqx_hpc_qasm_simulator": "ibmq_qasm_simulator",
    "real": "ibmqx1",
}


class _BackendLike(Protocol):
    """What filtering and ``least_busy`` need of a backend, on either channel."""

    def name(self) -> str: ...

    def configuration(self) -> Any: ...

    async def status(self, *, timeout: float | None = None) -> BackendStatus: ...

    async def reservations(
        self,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> list[BackendReservation]: ...


B = TypeVar("B", bound=_BackendLike)


class _BackendSource(Protocol[B]):
    """A provider, as its :class:`BackendCollection` sees it."""

    @property
    def _backends(self) -> Mapping[str, B]: ...

    async def _filter_backends(
        self,
        *,
        name: str | None,
        filters: Callable[[B], bool] | None,
        min_num_qubits: int | None,
        input_allowed: str | Sequence[str] | None,
        **kwargs: Any,
    ) -> list[B]: ...


class BackendCollection(Generic[B]):
    """The backends of a provider: call it to filter, or use attribute access by name.

    ``provider.backends.ibmq_vigo`` is the backend named ``ibmq_vigo``;
    ``await provider.backends(min_num_qubits=5, operational=True)`` filters.
    """

    def __init__(self, provider: _BackendSource[B]) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> B:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._provider._backends[_BACKEND_ALIASES.get(name, name)]
        except KeyError:
            raise AttributeError(
                f"no backend named {name!r}; this provider has: "
                f"{', '.join(sorted(self._provider._backends))}"
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._provider._backends))

    def __iter__(self) -> Iterator[B]:
        return iter(list(self._provider._backends.values()))

    def __len__(self) -> int:
        return len(self._provider._backends)

    def __repr__(self) -> str:
        return f"<BackendCollection {sorted(self._provider._backends)}>"

    async def __call__(
        self,
        name: str | None = None,
        filters: Callable[[B], bool] | None = None,
        min_num_qubits: int | None = None,
        input_allowed: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[B]:
        """Filter the backends, as the original client did.

        Each keyword argument is compared with the backend configuration when every
        backend's configuration has that attribute, otherwise with the backend status
        (fetched for all backends concurrently).

        Args:
            name: Only the backend with this name (aliases of retired names accepted).
            filters: A predicate on the backend.
            min_num_qubits: Only backends with at least this many qubits.
            input_allowed: Only backends whose configuration allows this input type
                (``"job"``, ``"runtime"``) or all of these.
            **kwargs: Attribute values to match, e.g. ``simulator=False`` or
                ``operational=True``.

        Returns:
            The matching backends.

        Raises:
            IBMQBackendApiError: A status was needed and could not be fetched.
        """
        return await self._provider._filter_backends(
            name=name,
            filters=filters,
            min_num_qubits=min_num_qubits,
            input_allowed=input_allowed,
            **kwargs,
        )


async def filter_backends(
    backends: Sequence[B],
    *,
    name: str | None = None,
    filters: Callable[[B], bool] | None = None,
    min_num_qubits: int | None = None,
    input_allowed: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> list[B]:
    """The backends that match, as :class:`BackendCollection` filters them (either channel).

    Raises:
        IBMQBackendApiError: A status was needed and could not be fetched.
    """
    if name is not None:
        wanted = _BACKEND_ALIASES.get(name, name)
        backends = [b for b in backends if b.name() == wanted]
    if min_num_qubits is not None:
        backends = [b for b in backends if b.configuration().n_qubits >= min_num_qubits]
    if input_allowed is not None:
        wanted_inputs = {input_allowed} if isinstance(input_allowed, str) else set(input_allowed)
        backends = [
            b
            for b in backends
            if wanted_inputs <= set(getattr(b.configuration(), "input_allowed", None) or ())
        ]
    config_filters = {
        k: v for k, v in kwargs.items() if all(hasattr(b.configuration(), k) for b in backends)
    }
    status_filters = {k: v for k, v in kwargs.items() if k not in config_filters}
    backends = [
        b
        for b in backends
        if all(getattr(b.configuration(), k) == v for k, v in config_filters.items())
    ]
    if status_filters:
        statuses = await _statuses(backends)
        backends = [
            b
            for b, status in zip(backends, statuses, strict=True)
            if all(getattr(status, k, _MISSING) == v for k, v in status_filters.items())
        ]
    if filters is not None:
        backends = [b for b in backends if filters(b)]
    return list(backends)


class AccountProvider:
    """The backends and jobs of one hub/group/project of an account.

    Use it as an async context manager to close the account's connection when done.
    """

    def __init__(
        self,
        factory: IBMQFactory,
        connection: Connection,
        api: ProjectClient,
        credentials: Credentials,
    ) -> None:
        self._factory = factory
        self._connection = connection
        self._api = api
        self._credentials = credentials
        self._backends: dict[str, IBMQBackend] = {}
        self._retired: dict[str, IBMQBackend] = {}
        self.backends: BackendCollection[IBMQBackend] = BackendCollection(self)

    async def _discover_backends(self) -> None:
        configurations = await self._api.backends.configurations()
        self._backends = {
            config.backend_name: IBMQBackend(config, self, self._api) for config in configurations
        }

    # --- identity -----------------------------------------------------------------------

    @property
    def hub(self) -> str:
        """The hub of the provider."""
        return self._api.hub

    @property
    def group(self) -> str:
        """The group of the provider."""
        return self._api.group

    @property
    def project(self) -> str:
        """The project of the provider."""
        return self._api.project

    @property
    def credentials(self) -> Credentials:
        """The credentials of the account, with this provider's hub/group/project."""
        return Credentials(
            token=self._credentials.token,
            url=self._credentials.url,
            hub=self.hub,
            group=self.group,
            project=self.project,
            proxies=self._credentials.proxies,
            verify=self._credentials.verify,
        )

    @property
    def api(self) -> ProjectClient:
        """The API of this hub/group/project: ``api.jobs``, ``api.backends``,
        ``api.storage`` (one coroutine per endpoint), ``api.waits`` and ``api.submit``."""
        return self._api

    def __repr__(self) -> str:
        return (
            f"<AccountProvider(hub='{self.hub}', group='{self.group}', project='{self.project}')>"
        )

    def sibling(self, hub: str | None, group: str | None, project: str | None) -> AccountProvider:
        """The provider of the same account for another hub/group/project (or this one).

        Raises:
            IBMQProviderError: The account has no such provider.
        """
        if not (hub and group and project) or (hub, group, project) == (
            self.hub,
            self.group,
            self.project,
        ):
            return self
        return self._factory.get_provider(hub=hub, group=group, project=project)

    # --- backends -----------------------------------------------------------------------

    def get_backend(self, name: str | None = None, **kwargs: Any) -> IBMQBackend:
        """The one backend with this name (and these configuration values).

        This makes no request: only configuration attributes can be matched. Use
        ``await provider.backends(...)`` to filter on status.

        Raises:
            IBMQBackendValueError: No backend, or more than one, matches; or a keyword is
                not a configuration attribute.
        """
        candidates = list(self._backends.values())
        if name is not None:
            wanted = _BACKEND_ALIASES.get(name, name)
            candidates = [b for b in candidates if b.name() == wanted]
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
        filters: Callable[[IBMQBackend], bool] | None,
        min_num_qubits: int | None,
        input_allowed: str | Sequence[str] | None,
        **kwargs: Any,
    ) -> list[IBMQBackend]:
        return await filter_backends(
            list(self._backends.values()),
            name=name,
            filters=filters,
            min_num_qubits=min_num_qubits,
            input_allowed=input_allowed,
            **kwargs,
        )

    def backend_for_job(self, record: JobRecord) -> IBMQBackend:
        """The backend a job record names, or a retired stand-in if it is not listed."""
        name = record.backend_name or "unknown"
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
            self._retired[name] = IBMQRetiredBackend(config, self, self._api)
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
        experiment_id: str | None = None,
        descending: bool = True,
        db_filter: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[IBMQJob]:
        """The jobs of this hub/group/project, on any backend (see ``IBMQBackend.jobs``).

        Raises:
            IBMQBackendValueError: An argument is invalid (see ``IBMQBackend.jobs``), before
                any request.
            IBMQBackendApiError: The listing failed (after retries).
        """
        from ibmq_async.job import IBMQJob

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
            experiment_id=experiment_id,
            db_filter=db_filter,
            descending=descending,
        )
        with backend_api_errors("list jobs"):
            records = await self._api.jobs.listing(query, limit=limit, skip=skip, timeout=timeout)
        return [IBMQJob(self.backend_for_job(r), r, self._api) for r in records]

    async def retrieve_job(self, job_id: str, *, timeout: float | None = None) -> IBMQJob:
        """Fetch a job of this hub/group/project by id, whatever its backend.

        Raises:
            IBMQBackendValueError: ``job_id`` is not a non-empty string (before any request).
            IBMQBackendApiError: The job does not exist or cannot be fetched.
        """
        from ibmq_async.job import IBMQJob

        check_job_id(job_id)
        with backend_api_errors(f"retrieve job {job_id}"):
            record = await self._api.jobs.get(job_id, timeout=timeout)
        return IBMQJob(self.backend_for_job(record), record, self._api)

    async def my_reservations(self, *, timeout: float | None = None) -> list[BackendReservation]:
        """The reservations of the user, on any backend.

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors("get reservations"):
            return await self._api.backends.my_reservations(timeout=timeout)

    # --- lifetime -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the account's connection (shared by all its providers)."""
        await self._factory._close_if_current(self._connection)
        await self._connection.aclose()

    async def __aenter__(self) -> AccountProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


_MISSING = object()


async def _statuses(backends: Sequence[_BackendLike]) -> list[BackendStatus]:
    """Fetch the status of every backend concurrently."""
    results: list[BackendStatus | None] = [None] * len(backends)

    async def fetch(index: int, backend: _BackendLike) -> None:
        results[index] = await backend.status()

    async with anyio.create_task_group() as group:
        for index, backend in enumerate(backends):
            group.start_soon(fetch, index, backend)
    return [status for status in results if status is not None]


async def least_busy(backends: Sequence[B], reservation_lookahead: float | None = 60) -> B:
    """The operational backend with the fewest pending jobs (of either channel).

    Statuses and reservations are fetched for all backends concurrently. A backend is
    skipped if it is not operational, its status message is not ``"active"``, or it has a
    reservation within the next ``reservation_lookahead`` minutes.

    Args:
        backends: The backends to choose from.
        reservation_lookahead: Minutes ahead to look for reservations; ``None`` ignores
            reservations.

    Raises:
        IBMQError: No backend qualifies, or a status could not be fetched.
    """
    if not backends:
        raise IBMQError("least_busy() needs at least one backend")
    now = datetime.now(timezone.utc)
    end = now + timedelta(minutes=reservation_lookahead or 0)
    statuses: list[BackendStatus | None] = [None] * len(backends)
    reserved = [False] * len(backends)

    async def inspect_backend(index: int, backend: B) -> None:
        statuses[index] = await backend.status()
        if reservation_lookahead is not None and not isinstance(backend, IBMQRetiredBackend):
            reservations = await backend.reservations(now, end)
            reserved[index] = any(r.overlaps(now, end) for r in reservations)

    try:
        async with anyio.create_task_group() as group:
            for index, backend in enumerate(backends):
                group.start_soon(inspect_backend, index, backend)
    except BaseException as error:
        cause = _first_error(error)
        if isinstance(cause, IBMQError):
            raise IBMQError(f"Unable to find the least busy backend: {cause}") from cause
        raise
    candidates = [
        (status.pending_jobs, index)
        for index, status in enumerate(statuses)
        if status is not None
        and status.operational
        and status.status_msg == "active"
        and not reserved[index]
    ]
    if not candidates:
        raise IBMQError("No backend matches the criteria (operational, active, not reserved)")
    return backends[min(candidates)[1]]


def _first_error(error: BaseException) -> BaseException:
    """The first leaf of an exception group (or the error itself)."""
    nested = getattr(error, "exceptions", None)
    while nested:
        error = nested[0]
        nested = getattr(error, "exceptions", None)
    return error


def _token_refused(
    error: ApiAuthenticationError, url: str, what: str = "API token"
) -> ApiAuthenticationError:
    """The login error as a user should read it: the token was refused, and by whom."""
    if isinstance(error, AuthenticationLicenseError):
        return error
    reason = error.error_message or error.message
    return ApiAuthenticationError(
        f"The {what} was refused by the service at {url} ({reason})",
        status_code=error.status_code,
        error_code=error.error_code,
        error_message=error.error_message,
        method=error.method,
        url=error.url,
        trace_id=error.trace_id,
        retries_taken=error.retries_taken,
        response=error.response,
    )


def _is_platform(channel: str | None) -> bool:
    """Whether ``channel`` is the platform's (``None`` is the classic channel).

    Raises:
        IBMQAccountValueError: ``channel`` is not a channel name.
    """
    return channel is not None and check_channel(channel) == PLATFORM_CHANNEL


class IBMQFactory:
    """Enables an account and hands out its providers (the global :data:`IBMQ`).

    One account at a time per factory, of either channel: the classic API
    (``channel="ibm_quantum"``, the default) or IBM Quantum Platform
    (``channel="ibm_quantum_platform"``); create more factories for more accounts.
    """

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._credentials: Credentials | None = None
        self._providers: dict[tuple[str, str, str], AccountProvider] = {}
        self._platform: PlatformProvider | None = None

    def _check_no_account(self) -> None:
        if self._connection is not None or self._platform is not None:
            raise IBMQAccountError(
                "An account is already in use; call 'await IBMQ.disable_account()' first"
            )

    @overload
    async def enable_account(
        self,
        token: str,
        url: str | None = None,
        hub: str | None = None,
        group: str | None = None,
        project: str | None = None,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        *,
        channel: Literal["ibm_quantum"] | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AccountProvider | None: ...

    @overload
    async def enable_account(
        self,
        token: str,
        url: str | None = None,
        *,
        channel: Literal["ibm_quantum_platform", "ibm_cloud"],
        instance: str | None = None,
        iam_url: str | None = None,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> PlatformProvider: ...

    @overload
    async def enable_account(
        self,
        token: str,
        url: str | None = None,
        hub: str | None = None,
        group: str | None = None,
        project: str | None = None,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        *,
        channel: str | None = None,
        instance: str | None = None,
        iam_url: str | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> AccountProvider | PlatformProvider | None: ...

    async def enable_account(
        self,
        token: str,
        url: str | None = None,
        hub: str | None = None,
        group: str | None = None,
        project: str | None = None,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        *,
        channel: str | None = None,
        instance: str | None = None,
        iam_url: str | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> AccountProvider | PlatformProvider | None:
        """Log in and build the account's providers.

        Classic channel (the default): ``enable_account(token, url=...)`` logs in with the
        API token and builds one provider per hub/group/project. Platform channel:
        ``enable_account(api_key, channel="ibm_quantum_platform", instance=crn)``
        exchanges the API key at IAM for a bearer token (refreshed before it expires),
        checks the instance and returns its :class:`~ibmq_async.platform.provider.PlatformProvider`.

        Args:
            token: The IBM Quantum API token (classic) or the IBM Cloud API key (platform).
            url: Classic: the authentication URL (the local service's ``service.url``
                works; IBM's by default). Platform: the API root to which the client
                appends ``/v1/...`` (the local service's ``service.url``); by default the
                platform's of the instance's region.
            hub: Hub of the provider to return (with group and project; classic only).
            group: Group of the provider to return.
            project: Project of the provider to return.
            proxies: Proxy settings: ``{"urls": {"http": ..., "https": ...}}``.
            verify: Verify TLS certificates (default ``True``).
            channel: ``"ibm_quantum"`` (classic, the default) or ``"ibm_quantum_platform"``
                (``"ibm_cloud"`` is the same).
            instance: Platform: the instance's CRN.
            iam_url: Platform: the IAM host of ``/identity/token`` (the local service's
                ``service.root``); by default ``IAM_URL`` or ``https://iam.cloud.ibm.com``.
            timeout: Default timeout of every request (seconds or ``httpx.Timeout``).
            retry: Default retry policy of every request.
            transport: An httpx transport (e.g. ``httpx.ASGITransport``), for tests.
            job_rate: Platform: pace job creation to at most ``(jobs, seconds)`` from the
                start (by default the pace follows the service's 429 answers).

        Returns:
            Classic: the default provider (the project flagged default), the one asked for,
            or ``None`` if the account has no projects. Platform: the instance's provider.

        Raises:
            IBMQAccountError: An account is already enabled on this factory.
            IBMQAccountValueError: An argument is not valid for the channel (a malformed
                CRN, ``instance`` without the platform channel...), before any request.
            IBMQProviderError: hub/group/project were given and do not match exactly one.
            ApiError: Logging in failed (a refused token or key: ``ApiAuthenticationError``,
                whose message says it was refused and by which service).
        """
        self._check_no_account()
        if _is_platform(channel):
            if hub or group or project:
                raise IBMQAccountValueError(
                    "hub, group and project are the classic channel's; on the platform "
                    "channel give instance=<the instance's CRN>"
                )
            platform = PlatformCredentials(
                token=token,
                instance=instance,
                url=url,
                iam_url=iam_url,
                channel=channel or PLATFORM_CHANNEL,
                proxies=proxies,
                verify=verify,
            )
            return await self._enable_platform(
                platform, timeout=timeout, retry=retry, transport=transport, job_rate=job_rate
            )
        if instance is not None or iam_url is not None or job_rate is not None:
            raise IBMQAccountValueError(
                "instance, iam_url and job_rate are the platform channel's: pass "
                f"channel={PLATFORM_CHANNEL!r} too"
            )
        credentials = Credentials(
            token=token,
            url=url or DEFAULT_AUTH_URL,
            hub=hub,
            group=group,
            project=project,
            proxies=proxies,
            verify=verify,
        )
        return await self._enable(credentials, timeout=timeout, retry=retry, transport=transport)

    async def _enable(
        self,
        credentials: Credentials,
        *,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AccountProvider | None:
        try:
            connection = await Connection.connect(
                credentials.token,
                credentials.url,
                proxies=credentials.proxies,
                verify=credentials.verify,
                timeout=timeout,
                retry=retry,
                transport=transport,
            )
        except ApiAuthenticationError as error:
            raise _token_refused(error, credentials.url) from error
        try:
            providers = await self._build_providers(connection, credentials)
        except BaseException:
            await connection.aclose()
            raise
        self._connection = connection
        self._credentials = credentials
        self._providers = providers
        if not providers:
            logger.warning("No hub/group/project is available for this account")
            return None
        if credentials.default_provider:
            try:
                return self.get_provider(*credentials.default_provider)
            except IBMQProviderError:
                await self.disable_account()
                raise
        return next(iter(providers.values()))

    async def _enable_platform(
        self,
        credentials: PlatformCredentials,
        *,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> PlatformProvider:
        from ibmq_async.api.platform import PlatformClient
        from ibmq_async.platform.provider import PlatformProvider

        if credentials.instance is None or credentials.crn is None:
            given = "no instance" if credentials.instance is None else repr(credentials.instance)
            raise IBMQAccountValueError(
                f"the platform channel needs the instance's CRN (got {given}): "
                "instance='crn:v1:bluemix:public:quantum-computing:<region>:a/<account>:"
                "<instance>::', as IBM Cloud shows it for your instance"
            )
        iam_url = credentials.resolved_iam_url()
        try:
            client = await PlatformClient.connect(
                credentials.token,
                credentials.instance,
                url=credentials.api_url,
                iam_url=iam_url,
                proxies=credentials.proxies,
                verify=credentials.verify,
                timeout=timeout,
                retry=retry,
                transport=transport,
                job_rate=job_rate,
            )
        except ApiAuthenticationError as error:
            raise _token_refused(error, iam_url, "API key") from error
        provider = PlatformProvider(self, client, credentials)
        try:
            await provider._discover_backends()
        except BaseException:
            await client.aclose()
            raise
        self._platform = provider
        return provider

    async def _build_providers(
        self, connection: Connection, credentials: Credentials
    ) -> dict[tuple[str, str, str], AccountProvider]:
        hubs = await connection.hubs()
        entries = [entry for hub in hubs for entry in hub.hgps()]
        entries.sort(key=lambda entry: not entry[3])
        built: dict[tuple[str, str, str], AccountProvider | None] = {
            (h, g, p): None for h, g, p, _ in entries
        }

        async def build(key: tuple[str, str, str]) -> None:
            provider = AccountProvider(self, connection, connection.project(*key), credentials)
            try:
                await provider._discover_backends()
            except ApiError as error:
                logger.warning("Unable to instantiate provider for %s: %s", "/".join(key), error)
                return
            built[key] = provider

        async with anyio.create_task_group() as group:
            for key in built:
                group.start_soon(build, key)
        return {key: provider for key, provider in built.items() if provider is not None}

    async def load_account(
        self,
        channel: str | None = None,
        *,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AccountProvider | PlatformProvider | None:
        """Enable the account of the environment or the saved one, of either channel.

        Without ``channel`` (and no platform channel in ``QISKIT_IBM_CHANNEL``), the
        first found of: the classic account of the environment (``QE_TOKEN``, ``QE_URL``,
        ``QE_HUB``...), the platform account of the environment (``QISKIT_IBM_TOKEN``,
        ``QISKIT_IBM_INSTANCE``, ``QISKIT_IBM_URL``, ``QISKIT_IBM_CHANNEL``), the classic
        account saved, the platform account saved, and the account qiskit-ibm-runtime saved
        (``~/.qiskit/qiskit-ibm.json``, read-only). With a ``channel``, that channel's.

        Args:
            channel: ``"ibm_quantum"`` or ``"ibm_quantum_platform"``: load that channel's
                account only.
            timeout: Default timeout of every request.
            retry: Default retry policy of every request.
            transport: An httpx transport, for tests.

        Raises:
            IBMQAccountCredentialsNotFound: No account was found; the message says where
                it looked.
            IBMQAccountCredentialsInvalidFormat: What was found is malformed.
            IBMQAccountError: An account is already enabled.
            ApiError: Logging in failed.
        """
        self._check_no_account()
        credentials = load_account_credentials(channel)
        if isinstance(credentials, PlatformCredentials):
            return await self._enable_platform(
                credentials, timeout=timeout, retry=retry, transport=transport
            )
        return await self._enable(credentials, timeout=timeout, retry=retry, transport=transport)

    async def disable_account(self) -> None:
        """Forget the active account and close its connection.

        Raises:
            IBMQAccountCredentialsNotFound: No account is enabled.
        """
        if self._platform is not None:
            platform, self._platform = self._platform, None
            await platform.api.aclose()
            return
        if self._connection is None:
            raise IBMQAccountCredentialsNotFound("No account is in use")
        connection = self._connection
        self._connection = None
        self._credentials = None
        self._providers = {}
        await connection.aclose()

    async def _close_if_current(self, connection: Connection) -> None:
        if self._connection is connection:
            self._connection = None
            self._credentials = None
            self._providers = {}

    def _forget_platform(self, provider: PlatformProvider) -> None:
        if self._platform is provider:
            self._platform = None

    @staticmethod
    def save_account(
        token: str,
        url: str | None = None,
        hub: str | None = None,
        group: str | None = None,
        project: str | None = None,
        overwrite: bool = False,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        *,
        channel: str | None = None,
        instance: str | None = None,
        iam_url: str | None = None,
    ) -> None:
        """Save an account to disk (atomically, mode 0600), for ``load_account``.

        The classic account and the platform account are kept side by side in the same
        file; any URL may be saved (a local service's too).

        Args:
            token: The API token (classic) or API key (platform).
            url: The authentication URL (classic) or API root (platform).
            hub: Classic: the hub of the default provider (with group and project).
            group: Classic: the group.
            project: Classic: the project.
            overwrite: Replace the account of the channel if one is saved.
            proxies: Proxy settings.
            verify: Verify TLS certificates.
            channel: ``"ibm_quantum"`` (the default) or ``"ibm_quantum_platform"``.
            instance: Platform: the instance's CRN.
            iam_url: Platform: the IAM host.

        Raises:
            IBMQAccountValueError: An account of the channel is saved already and
                ``overwrite`` is false, an argument is not valid for the channel, or
                hub/group/project were not given together.
            IBMQAccountCredentialsInvalidToken: The token is empty.
        """
        if _is_platform(channel):
            if hub or group or project:
                raise IBMQAccountValueError(
                    "hub, group and project are the classic channel's; on the platform "
                    "channel give instance=<the instance's CRN>"
                )
            save_platform_credentials(
                PlatformCredentials(
                    token=token,
                    instance=instance,
                    url=url,
                    iam_url=iam_url,
                    channel=channel or PLATFORM_CHANNEL,
                    proxies=proxies,
                    verify=verify,
                ),
                overwrite=overwrite,
            )
            return
        if instance is not None or iam_url is not None:
            raise IBMQAccountValueError(
                "instance and iam_url are the platform channel's: pass "
                f"channel={PLATFORM_CHANNEL!r}"
            )
        credentials = Credentials(
            token=token,
            url=url or DEFAULT_AUTH_URL,
            hub=hub,
            group=group,
            project=project,
            proxies=proxies,
            verify=verify,
        )
        save_credentials(credentials, overwrite=overwrite)

    @staticmethod
    def delete_account(channel: str | None = None) -> None:
        """Delete the saved account of the channel (classic by default); the other
        channel's stays.

        Raises:
            IBMQAccountCredentialsNotFound: No account of the channel is saved.
        """
        if _is_platform(channel):
            delete_platform_credentials()
        else:
            delete_credentials()

    @staticmethod
    def stored_account(channel: str | None = None) -> dict[str, str]:
        """The saved account of the channel (classic by default), as ``{"token", "url"}``,
        plus ``"channel"`` and ``"instance"`` for the platform's (empty if none is saved)."""
        if _is_platform(channel):
            platform = read_saved_platform_credentials()
            if platform is None:
                return {}
            return {
                "channel": platform.channel,
                "token": platform.token,
                "url": platform.api_url,
                "instance": platform.instance or "",
            }
        saved = read_saved_credentials()
        return {"token": saved.token, "url": saved.url} if saved else {}

    def active_account(self) -> dict[str, str] | None:
        """The enabled account as ``{"token", "url"}`` (plus ``"channel"`` and
        ``"instance"`` on the platform channel), or ``None``."""
        if self._platform is not None:
            platform = self._platform.credentials
            return {
                "channel": platform.channel,
                "token": platform.token,
                "url": platform.api_url,
                "instance": self._platform.instance,
            }
        if self._credentials is None:
            return None
        return {"token": self._credentials.token, "url": self._credentials.url}

    def _check_classic(self) -> None:
        if self._platform is not None:
            raise IBMQProviderError(
                "The account in use is of the platform channel: its one provider (of its "
                "instance) is the one enable_account() returned"
            )
        if self._connection is None:
            raise IBMQAccountCredentialsNotFound(
                "No account is in use; call 'await IBMQ.enable_account(...)' first"
            )

    def providers(
        self, hub: str | None = None, group: str | None = None, project: str | None = None
    ) -> list[AccountProvider]:
        """The providers of the enabled (classic) account matching the given names.

        Raises:
            IBMQAccountCredentialsNotFound: No account is enabled.
            IBMQProviderError: The account is of the platform channel (it has one provider).
        """
        self._check_classic()
        return [
            provider
            for (h, g, p), provider in self._providers.items()
            if (hub is None or h == hub)
            and (group is None or g == group)
            and (project is None or p == project)
        ]

    def get_provider(
        self, hub: str | None = None, group: str | None = None, project: str | None = None
    ) -> AccountProvider:
        """The one provider matching the given names.

        Raises:
            IBMQProviderError: No provider, or more than one, matches.
            IBMQAccountCredentialsNotFound: No account is enabled.
        """
        matching = self.providers(hub, group, project)
        if not matching:
            raise IBMQProviderError(
                f"No provider matches hub={hub!r}, group={group!r}, project={project!r}"
            )
        if len(matching) > 1:
            raise IBMQProviderError(
                f"More than one provider matches hub={hub!r}, group={group!r}, "
                f"project={project!r}: {', '.join(map(repr, matching))}"
            )
        return matching[0]


IBMQ = IBMQFactory()
"""The global factory, as in qiskit-ibmq-provider: ``await IBMQ.enable_account(token)``."""
