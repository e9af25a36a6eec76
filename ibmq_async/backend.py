"""``IBMQBackend``: a backend of a provider, with coroutine methods.

The configuration is loaded when the provider discovers its backends, so ``configuration()``
and ``name()`` are plain methods. Everything that asks the service is a coroutine that takes
``timeout=`` and retries as the account's retry policy says.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ibmq_async.api import JobQuery
from ibmq_async.api.classic import encode_qobj
from ibmq_async.arguments import (
    check_job_id,
    check_limit,
    check_skip,
    unmeasured_experiments,
    warn_unknown_run_options,
    warn_unmeasured,
)
from ibmq_async.circuits import circuits_to_qobj, is_quantum_circuit
from ibmq_async.exceptions import (
    ApiError,
    ApiJobLimitError,
    ApiNotFoundError,
    ApiProtocolError,
    IBMQBackendApiError,
    IBMQBackendApiProtocolError,
    IBMQBackendError,
    IBMQBackendJobLimitError,
    IBMQBackendValueError,
)
from ibmq_async.job import IBMQJob
from ibmq_async.models import (
    BackendConfiguration,
    BackendJobLimit,
    BackendProperties,
    BackendReservation,
    BackendStatus,
    JobRecord,
    JobStatus,
    PulseDefaults,
    PulseQobj,
    QasmQobj,
    parse_qobj,
)

if TYPE_CHECKING:
    from ibmq_async.api.classic import ProjectClient
    from ibmq_async.provider import AccountProvider

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "IBMQBackend",
    "IBMQRetiredBackend",
    "backend_api_errors",
    "job_query",
]

ACTIVE_JOB_STATUSES = (
    JobStatus.INITIALIZING,
    JobStatus.VALIDATING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
)
"""The statuses of jobs that count against a backend's job limit."""

_DEVICE_OPTIONS: dict[str, Any] = {
    "shots": 4000,
    "memory": False,
    "meas_level": 2,
    "meas_return": "avg",
    "memory_slot_size": 100,
    "init_qubits": True,
}
_SIMULATOR_OPTIONS: dict[str, Any] = {**_DEVICE_OPTIONS, "seed_simulator": None}
_ALWAYS_SUPPORTED = frozenset({"measure", "barrier"})
_CONVERTER_OPTIONS = frozenset(inspect.signature(circuits_to_qobj).parameters)


@contextmanager
def backend_api_errors(action: str) -> Iterator[None]:
    """Turn API errors into backend errors, chained from the cause."""
    try:
        yield
    except ApiProtocolError as error:
        raise IBMQBackendApiProtocolError(f"Unable to {action}: {error}") from error
    except ApiError as error:
        raise IBMQBackendApiError(f"Unable to {action}: {error}") from error


def job_query(**filters: Any) -> JobQuery:
    """The :class:`~ibmq_async.api.JobQuery` of a job listing's filters (those of
    :meth:`IBMQBackend.jobs`).

    Raises:
        IBMQBackendValueError: A filter is invalid (an unknown status, a bad operator...).
    """
    try:
        return JobQuery(**filters)
    except (ValueError, TypeError) as error:
        raise IBMQBackendValueError(str(error)) from error


def _with_options(
    model: QasmQobj | PulseQobj, options: Mapping[str, Any], header: Mapping[str, Any] | None
) -> QasmQobj | PulseQobj:
    """The Qobj with ``options`` set in its config and ``header`` merged into its header.

    Only the config and the header are validated again; the experiments are shared.

    Raises:
        IBMQBackendValueError: An option or header value is not valid for the Qobj.
    """
    update: dict[str, Any] = {}
    try:
        if options:
            config = model.config
            update["config"] = type(config).model_validate(
                {**config.model_dump(by_alias=True, exclude_unset=True), **options}
            )
        if header:
            current = model.header
            update["header"] = type(current).model_validate(
                {**current.model_dump(by_alias=True, exclude_unset=True), **header}
            )
    except ValidationError as error:
        raise IBMQBackendValueError(f"the run options do not fit the Qobj: {error}") from error
    return model.model_copy(update=update)


class IBMQBackend:
    """A backend (device or simulator) that a provider can run jobs on."""

    def __init__(
        self,
        configuration: BackendConfiguration,
        provider: AccountProvider,
        api: ProjectClient,
    ) -> None:
        self._configuration = configuration
        self._provider = provider
        self._api = api
        self._options: dict[str, Any] = dict(
            _SIMULATOR_OPTIONS if configuration.simulator else _DEVICE_OPTIONS
        )
        self._properties: BackendProperties | None = None
        self._defaults: PulseDefaults | None = None
        self._target: Any = None
        self._target_properties: BackendProperties | None = None

    # --- identity -----------------------------------------------------------------------

    def configuration(self) -> BackendConfiguration:
        """The backend configuration, loaded when the provider discovered the backend."""
        return self._configuration

    def name(self) -> str:
        """The backend name, e.g. ``"ibmq_vigo"``."""
        return self._configuration.backend_name

    def provider(self) -> AccountProvider:
        """The provider the backend belongs to."""
        return self._provider

    @property
    def hub(self) -> str:
        """The hub of the provider."""
        return self._provider.hub

    @property
    def group(self) -> str:
        """The group of the provider."""
        return self._provider.group

    @property
    def project(self) -> str:
        """The project of the provider."""
        return self._provider.project

    @property
    def version(self) -> int:
        """The backend interface version (1), as in Qiskit's BackendV1."""
        return 1

    @property
    def options(self) -> dict[str, Any]:
        """The default run options (a copy)."""
        return dict(self._options)

    def set_options(self, **options: Any) -> None:
        """Change default run options used by :meth:`run`."""
        self._options.update(options)

    def is_simulator(self) -> bool:
        """Whether the backend is a simulator."""
        return bool(self._configuration.simulator)

    @property
    def target(self) -> Any:
        """The backend's Qiskit ``Target``, for ``transpile(circuit, target=backend.target)``.

        Built (as on the platform channel, ``ibmq_async.platform.target``) from the
        configuration and the properties last fetched (``await backend.properties()``
        first for a noise-aware target). Needs Qiskit (the ``qiskit`` extra).
        """
        from ibmq_async.platform.target import backend_target

        if self._target is None or self._target_properties is not self._properties:
            self._target = backend_target(self._configuration, self._properties)
            self._target_properties = self._properties
        return self._target

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}('{self.name()}') from {self.hub}/{self.group}/{self.project}>"
        )

    # --- running ------------------------------------------------------------------------

    def _supported_instructions(self) -> set[str]:
        config = self._configuration
        supported = set(config.basis_gates) | _ALWAYS_SUPPORTED
        supported |= set(getattr(config, "supported_instructions", None) or ())
        return supported

    def _build_qobj(
        self,
        circuits: Any,
        header: Mapping[str, Any] | None,
        run_options: dict[str, Any],
        given_options: dict[str, Any],
    ) -> tuple[bytes, QasmQobj | PulseQobj | None]:
        """The Qobj to upload, encoded, and the model to keep on the job (the caller's
        Qobj model with the options applied; nothing for circuits or a dict, whose Qobj the
        job downloads if asked for it).

        Circuits get the run options with the backend defaults; a Qobj keeps its own
        configuration except for the options given explicitly.
        """
        items = circuits if isinstance(circuits, (list, tuple)) else [circuits]
        if not items:
            raise IBMQBackendValueError("run() needs at least one circuit")
        if all(is_quantum_circuit(item) for item in items):
            qobj = circuits_to_qobj(
                items,
                backend_name=self.name(),
                backend_version=self._configuration.backend_version,
                n_qubits=self._configuration.n_qubits,
                supported_instructions=self._supported_instructions(),
                dt=getattr(self._configuration, "dt_seconds", None),
                header=header,
                **run_options,
            )
            return encode_qobj(qobj), None
        if len(items) != 1:
            raise IBMQBackendValueError(
                "run() takes QuantumCircuits (one or a list), or a single Qobj (model or dict); "
                f"got a list of {', '.join(sorted({type(i).__name__ for i in items}))}"
            )
        (item,) = items
        if isinstance(item, (QasmQobj, PulseQobj)):
            model = item
        elif isinstance(item, Mapping):
            try:
                model = parse_qobj(item)
            except ValidationError as error:
                raise IBMQBackendValueError(f"the Qobj is invalid: {error}") from error
        else:
            raise IBMQBackendValueError(
                "run() takes QuantumCircuits (install ibmq-async[qiskit]), a QasmQobj/PulseQobj "
                f"or a Qobj dict, not {type(item).__name__}"
            )
        if given_options or header:
            model = _with_options(model, given_options, header)
        return encode_qobj(model), model if isinstance(item, (QasmQobj, PulseQobj)) else None

    def _check_run_options(self, options: dict[str, Any]) -> None:
        config = self._configuration
        shots = options.get("shots")
        if shots is not None:
            if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
                raise IBMQBackendValueError(f"shots must be a positive integer, got {shots!r}")
            if config.max_shots and shots > config.max_shots:
                raise IBMQBackendValueError(
                    f"shots={shots} is more than {self.name()} allows ({config.max_shots})"
                )
        if options.get("memory") and not config.memory:
            raise IBMQBackendValueError(f"{self.name()} does not support memory=True")

    async def run(
        self,
        circuits: Any,
        *,
        job_name: str | None = None,
        job_tags: Sequence[str] | None = None,
        experiment_id: str | None = None,
        header: Mapping[str, Any] | None = None,
        shots: int | None = None,
        memory: bool | None = None,
        seed_simulator: int | None = None,
        qubit_lo_freq: Sequence[float] | None = None,
        meas_lo_freq: Sequence[float] | None = None,
        meas_level: int | None = None,
        meas_return: str | None = None,
        memory_slot_size: int | None = None,
        rep_time: int | None = None,
        rep_delay: float | None = None,
        init_qubits: bool | None = None,
        live_data_enabled: bool | None = None,
        submission_key: str | None = None,
        check_existing: bool | None = None,
        **run_config: Any,
    ) -> IBMQJob:
        """Submit circuits to the backend and return the job.

        The submission is exactly-once: it carries a key (``submission_key``, or a fresh
        one) that the service deduplicates on, and after an ambiguous failure the client
        looks the job up by that key before creating another.

        Args:
            circuits: A Qiskit ``QuantumCircuit`` or a list of them, a ``QasmQobj`` /
                ``PulseQobj`` model, or a Qobj dict.
            job_name: A name for the job.
            job_tags: Tags for the job.
            experiment_id: An experiment id to store with the job.
            header: Extra keys for the Qobj header.
            shots: Repetitions of each circuit.
            memory: Return the outcome of every shot.
            seed_simulator: Seed of a simulator backend.
            qubit_lo_freq: Qubit LO frequencies (GHz), for pulse-level options.
            meas_lo_freq: Measurement LO frequencies (GHz).
            meas_level: Measurement level (0, 1 or 2).
            meas_return: ``"single"`` or ``"avg"``.
            memory_slot_size: Size of each memory slot.
            rep_time: Repetition time (µs).
            rep_delay: Delay between shots (µs).
            init_qubits: Reset qubits before each shot.
            live_data_enabled: Ask the service for live data (sent with the job, not in the
                Qobj).
            submission_key: A key that makes this submission idempotent; a repeat with the
                same key returns the same job.
            check_existing: Look for a job made with ``submission_key`` before creating
                one (one more request). Defaults to ``True`` when a key is given; pass
                ``False`` for a key known to be new. Failures that leave it unknown whether
                the job was made are reconciled either way.
            **run_config: Other Qobj configuration keys. They go into the Qobj config as
                given; a key that no Qobj model or backend option names is sent all the
                same, with a warning that names the closest known option.

        Returns:
            The submitted job (a circuit or experiment without measurements is sent too,
            with a warning: its result has no counts).

        Raises:
            CircuitConversionError: A circuit has an unbound parameter or an instruction the
                backend does not support (raised before any request).
            IBMQBackendValueError: Invalid input (shots, tags, a malformed Qobj).
            IBMQBackendJobLimitError: The backend's job limit is reached (error 3458).
            IBMQBackendApiError: The submission failed (after the client's retries).
        """
        if job_tags is not None and (
            isinstance(job_tags, str) or not all(isinstance(tag, str) for tag in job_tags)
        ):
            raise IBMQBackendValueError(f"job_tags must be a list of strings, got {job_tags!r}")
        if job_name is not None and not isinstance(job_name, str):
            raise IBMQBackendValueError(f"job_name must be a string, got {job_name!r}")
        warn_unknown_run_options(run_config, {*self._options, *_CONVERTER_OPTIONS})
        explicit = {
            "shots": shots,
            "memory": memory,
            "seed_simulator": seed_simulator,
            "qubit_lo_freq": qubit_lo_freq,
            "meas_lo_freq": meas_lo_freq,
            "meas_level": meas_level,
            "meas_return": meas_return,
            "memory_slot_size": memory_slot_size,
            "rep_time": rep_time,
            "rep_delay": rep_delay,
            "init_qubits": init_qubits,
            **run_config,
        }
        given = {k: v for k, v in explicit.items() if v is not None}
        options = {k: v for k, v in {**self._options, **given}.items() if v is not None}
        self._check_run_options(options)
        content, model = self._build_qobj(circuits, header, options, given)
        items = circuits if isinstance(circuits, (list, tuple)) else [circuits]
        warn_unmeasured(unmeasured_experiments(items))
        try:
            record = await self._api.submit(
                self.name(),
                content,
                job_name=job_name,
                job_tags=list(job_tags) if job_tags else None,
                experiment_id=experiment_id,
                live_data_enabled=live_data_enabled,
                submission_key=submission_key,
                check_existing=check_existing,
            )
        except ApiJobLimitError as error:
            raise IBMQBackendJobLimitError(
                f"Error submitting job to {self.name()}: the maximum number of concurrent "
                f"jobs was reached. {error}"
            ) from error
        except ApiError as error:
            raise IBMQBackendApiError(f"Error submitting job to {self.name()}: {error}") from error
        return IBMQJob(self, record, self._api, qobj=model)

    # --- jobs ---------------------------------------------------------------------------

    def _job_from_record(self, record: JobRecord) -> IBMQJob:
        return IBMQJob(self._provider.backend_for_job(record), record, self._api)

    async def jobs(
        self,
        limit: int | None = 10,
        skip: int = 0,
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
        """The jobs of this backend, newest first by default.

        Args:
            limit: How many jobs at most (``None`` for all).
            skip: How many matching jobs to skip first.
            status: Only jobs in this status (or any of these statuses).
            job_name: Only jobs whose name matches this regular expression.
            start_datetime: Only jobs created at or after this time (naive = local time).
            end_datetime: Only jobs created at or before this time (naive = local time).
            job_tags: Only jobs with these tags.
            job_tags_operator: ``"OR"`` (any of the tags) or ``"AND"`` (all of them).
            experiment_id: Only jobs with this experiment id.
            descending: Newest first (``True``) or oldest first.
            db_filter: Extra LoopBack ``where`` conditions.
            timeout: Seconds per request at most.

        Raises:
            IBMQBackendValueError: An argument is invalid (``limit`` not ``None`` or a
                positive integer, a negative ``skip``, an unknown status...), before any
                request.
            IBMQBackendApiError: The listing failed (after retries).
        """
        check_limit(limit)
        check_skip(skip)
        query = self._query(
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
        with backend_api_errors(f"list the jobs of {self.name()}"):
            records = await self._api.jobs.listing(query, limit=limit, skip=skip, timeout=timeout)
        return [self._job_from_record(record) for record in records]

    async def iter_jobs(
        self,
        skip: int = 0,
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
        page_size: int = 50,
    ) -> AsyncIterator[IBMQJob]:
        """Every matching job of this backend, fetched a page at a time as you iterate.

        Takes the filters of :meth:`jobs`.

        Raises:
            IBMQBackendValueError: An argument is invalid, before any request.
            IBMQBackendApiError: A page failed to load (after retries).
        """
        check_skip(skip)
        query = self._query(
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
        with backend_api_errors(f"list the jobs of {self.name()}"):
            async for record in self._api.jobs.listing(
                query, limit=None, skip=skip, page_size=page_size
            ):
                yield self._job_from_record(record)

    def _query(self, **filters: Any) -> JobQuery:
        return job_query(backend_name=self.name(), **filters)

    async def active_jobs(self, limit: int = 10, *, timeout: float | None = None) -> list[IBMQJob]:
        """The user's jobs on this backend that are not final yet.

        Raises:
            IBMQBackendApiError: The listing failed (after retries).
        """
        return await self.jobs(limit=limit, status=list(ACTIVE_JOB_STATUSES), timeout=timeout)

    async def retrieve_job(self, job_id: str, *, timeout: float | None = None) -> IBMQJob:
        """Fetch a job of this backend by id.

        Raises:
            IBMQBackendValueError: ``job_id`` is not a non-empty string (before any request).
            IBMQBackendError: The job belongs to another backend.
            IBMQBackendApiError: The job does not exist or cannot be fetched.
        """
        check_job_id(job_id)
        with backend_api_errors(f"retrieve job {job_id}"):
            try:
                record = await self._api.jobs.get(job_id, timeout=timeout)
            except ApiNotFoundError as error:
                raise IBMQBackendApiError(f"Job {job_id} was not found: {error}") from error
        if record.backend_name != self.name():
            raise IBMQBackendError(
                f"Job {job_id} belongs to backend {record.backend_name!r}, not {self.name()!r}"
            )
        return IBMQJob(self, record, self._api)

    # --- backend state --------------------------------------------------------------------

    async def status(self, *, timeout: float | None = None) -> BackendStatus:
        """Whether the backend is operational and how many jobs are pending.

        Raises:
            IBMQBackendApiProtocolError: The answer does not fit the protocol.
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors(f"get the status of {self.name()}"):
            return await self._api.backends.status(self.name(), timeout=timeout)

    async def job_limit(self, *, timeout: float | None = None) -> BackendJobLimit:
        """How many jobs the user may have active on this backend, and how many are.

        Raises:
            IBMQBackendApiProtocolError: The answer does not fit the protocol.
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors(f"get the job limit of {self.name()}"):
            return await self._api.backends.job_limit(self.name(), timeout=timeout)

    async def remaining_jobs_count(self, *, timeout: float | None = None) -> int | None:
        """How many more jobs may be submitted now; ``None`` if there is no limit.

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        return (await self.job_limit(timeout=timeout)).remaining_jobs

    async def properties(
        self,
        refresh: bool = False,
        datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> BackendProperties | None:
        """The backend's calibration data; ``None`` for simulators.

        The current properties are cached; historical ones (``datetime``) never are.

        Args:
            refresh: Fetch again even if cached.
            datetime: The properties in force at this time (naive = local time).
            timeout: Seconds per request at most.

        Raises:
            TypeError: ``datetime`` is not a datetime.
            IBMQBackendApiError: The request failed (after retries).
        """
        if datetime is not None and not isinstance(datetime, _datetime_type):
            raise TypeError(f"'datetime' must be a datetime, got {type(datetime).__name__}")
        if self.is_simulator():
            return None
        if datetime is not None:
            with backend_api_errors(f"get the properties of {self.name()}"):
                return await self._api.backends.properties(
                    self.name(), datetime=datetime.astimezone(timezone.utc), timeout=timeout
                )
        if self._properties is None or refresh:
            with backend_api_errors(f"get the properties of {self.name()}"):
                self._properties = await self._api.backends.properties(self.name(), timeout=timeout)
        return self._properties

    async def defaults(
        self, refresh: bool = False, *, timeout: float | None = None
    ) -> PulseDefaults | None:
        """The pulse defaults; ``None`` for backends without OpenPulse.

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        if self._defaults is None or refresh:
            with backend_api_errors(f"get the pulse defaults of {self.name()}"):
                self._defaults = await self._api.backends.defaults(self.name(), timeout=timeout)
        return self._defaults

    async def reservations(
        self,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> list[BackendReservation]:
        """Reservations of this backend, optionally within a window (naive = local time).

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors(f"get the reservations of {self.name()}"):
            return await self._api.backends.reservations(
                self.name(),
                start_datetime=start_datetime.astimezone(timezone.utc) if start_datetime else None,
                end_datetime=end_datetime.astimezone(timezone.utc) if end_datetime else None,
                timeout=timeout,
            )


_datetime_type = datetime


class IBMQRetiredBackend(IBMQBackend):
    """A stand-in for a backend that a job ran on but the provider no longer lists."""

    def __repr__(self) -> str:
        return f"<IBMQRetiredBackend('{self.name()}')>"

    async def run(self, circuits: Any, **kwargs: Any) -> IBMQJob:
        """Always fails: a retired backend takes no jobs.

        Raises:
            IBMQBackendError: Always.
        """
        raise IBMQBackendError(f"{self.name()} is no longer available and takes no jobs")

    async def status(self, *, timeout: float | None = None) -> BackendStatus:
        """Not operational, with a message that says why."""
        return BackendStatus(
            backend_name=self.name(),
            backend_version=self._configuration.backend_version,
            operational=False,
            pending_jobs=0,
            status_msg="This backend is no longer available.",
        )

    async def properties(
        self,
        refresh: bool = False,
        datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> BackendProperties | None:
        """Always ``None``."""
        return None

    async def defaults(
        self, refresh: bool = False, *, timeout: float | None = None
    ) -> PulseDefaults | None:
        """Always ``None``."""
        return None

    async def reservations(
        self,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> list[BackendReservation]:
        """Always empty."""
        return []
