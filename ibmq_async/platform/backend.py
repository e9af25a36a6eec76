"""``PlatformBackend``: a backend of the platform channel, with the coroutines of ``IBMQBackend``.

The configuration is loaded when the provider discovers its backends, so
``configuration()``, ``name()`` and ``target`` are plain. Everything that asks the
service is a coroutine that takes ``timeout=`` and retries as the provider's retry
policy says.

``run`` takes Qiskit circuits, checks them against the backend's target before any
request (a circuit that is not an ISA circuit, has more qubits than the backend or an
unbound parameter is refused with an error naming it) and submits them as one sampler job,
exactly once (a hidden submission tag, looked up after an ambiguous failure). Its
``result()`` is the classic ``Result``, as on the classic channel.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ibmq_async import runtime_json
from ibmq_async.arguments import check_job_id, check_limit, check_skip, unmeasured_experiments
from ibmq_async.arguments import warn_unmeasured as _warn_unmeasured
from ibmq_async.backend import backend_api_errors, job_query
from ibmq_async.circuits import is_quantum_circuit
from ibmq_async.exceptions import (
    ApiError,
    IBMQBackendApiError,
    IBMQBackendError,
    IBMQBackendValueError,
    IBMQInputValueError,
    RateLimitedError,
    UsageLimitError,
)
from ibmq_async.models import (
    BackendConfiguration,
    BackendProperties,
    BackendReservation,
    BackendStatus,
    JobStatus,
    PulseDefaults,
)
from ibmq_async.models.platform import BackendState
from ibmq_async.models.platform_job_limit import PlatformJobLimit
from ibmq_async.platform.job import BACKEND_RUN_TAG, NAME_TAG_PREFIX, PlatformJob
from ibmq_async.platform.options import SamplerOptions
from ibmq_async.platform.pubs import PrimitiveRequest, sampler_request
from ibmq_async.platform.target import backend_target, check_circuits

if TYPE_CHECKING:
    from ibmq_async.api.platform import PlatformClient
    from ibmq_async.platform.provider import PlatformProvider

__all__ = ["DEFAULT_RUN_SHOTS", "PlatformBackend", "PlatformRetiredBackend"]

DEFAULT_RUN_SHOTS = 4000
"""The shots of ``run`` when none are given: the classic channel's default, so a script
written for it gets the same counts' total on both channels."""

_RUN_OPTIONS = frozenset({"shots", "memory", "seed_simulator", "rep_delay", "init_qubits"})
_NOT_ON_THE_PLATFORM = {
    "meas_level": "the platform returns classified bits only (meas_level=2)",
    "meas_return": "the platform returns classified bits only",
    "qubit_lo_freq": "pulse-level options are not taken by the platform",
    "meas_lo_freq": "pulse-level options are not taken by the platform",
    "memory_slot_size": "pulse-level options are not taken by the platform",
    "rep_time": "use rep_delay",
    "schedule_los": "pulse-level options are not taken by the platform",
    "experiment_id": "the platform has no experiment ids; use job_tags",
    "header": "the platform keeps no Qobj header; circuit metadata travels with the circuits",
    "live_data_enabled": "the platform has no live data",
}


class PlatformBackend:
    """A backend (device or simulator) of IBM Quantum Platform that a provider can run on.

    Args:
        configuration: The backend configuration (``GET /v1/backends/{name}/configuration``).
        provider: The provider the backend belongs to.
        client: The platform API client of the provider.
    """

    def __init__(
        self,
        configuration: BackendConfiguration,
        provider: PlatformProvider,
        client: PlatformClient,
    ) -> None:
        self._configuration = configuration
        self._provider = provider
        self._client = client
        self._options: dict[str, Any] = {"shots": DEFAULT_RUN_SHOTS, "memory": False}
        self._properties: BackendProperties | None = None
        self._properties_fetched = False
        self._defaults: PulseDefaults | None = None
        self._defaults_fetched = False
        self._target: Any = None
        self._target_properties: BackendProperties | None = None

    # --- identity -----------------------------------------------------------------------

    def configuration(self) -> BackendConfiguration:
        """The backend configuration, loaded when the provider discovered the backend."""
        return self._configuration

    def name(self) -> str:
        """The backend name, e.g. ``"ibm_fez"``."""
        return self._configuration.backend_name

    def provider(self) -> PlatformProvider:
        """The provider the backend belongs to."""
        return self._provider

    @property
    def instance(self) -> str:
        """The instance (CRN) of the provider."""
        return self._provider.instance

    @property
    def options(self) -> dict[str, Any]:
        """The default run options (a copy): ``shots`` and ``memory``."""
        return dict(self._options)

    def set_options(self, **options: Any) -> None:
        """Change default run options used by :meth:`run` (``shots``, ``memory``,
        ``seed_simulator``, ``rep_delay``, ``init_qubits``).

        Raises:
            IBMQBackendValueError: An option the platform channel does not take.
        """
        unknown = sorted(set(options) - _RUN_OPTIONS)
        if unknown:
            raise IBMQBackendValueError(
                f"{', '.join(unknown)}: not a run option of the platform channel "
                f"(it takes {', '.join(sorted(_RUN_OPTIONS))})"
            )
        self._options.update(options)

    def is_simulator(self) -> bool:
        """Whether the backend is a simulator."""
        return bool(self._configuration.simulator)

    @property
    def target(self) -> Any:
        """The backend's Qiskit ``Target``, for ``transpile(circuit, target=backend.target)``.

        Built from the configuration and the last properties fetched (``await
        backend.properties()`` first for a noise-aware target); rebuilt when newer
        properties are fetched.
        """
        if self._target is None or self._target_properties is not self._properties:
            self._target = backend_target(self._configuration, self._properties)
            self._target_properties = self._properties
        return self._target

    def __repr__(self) -> str:
        return f"<{type(self).__name__}('{self.name()}') from {self.instance}>"

    # --- running ------------------------------------------------------------------------

    def _run_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        options = {**self._options, **{k: v for k, v in given.items() if v is not None}}
        shots = options.get("shots")
        if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
            raise IBMQBackendValueError(f"shots must be a positive integer, got {shots!r}")
        max_shots = self._configuration.max_shots
        if max_shots and shots > max_shots:
            raise IBMQBackendValueError(
                f"shots={shots} is more than {self.name()} allows ({max_shots})"
            )
        if options.get("memory") and not self._configuration.memory:
            raise IBMQBackendValueError(f"{self.name()} does not support memory=True")
        return options

    def _sampler_options(
        self, options: Mapping[str, Any], extra: SamplerOptions | Mapping[str, Any] | None
    ) -> SamplerOptions:
        checked = SamplerOptions.coerce(extra)
        if options.get("seed_simulator") is not None:
            checked.simulator.seed_simulator = options["seed_simulator"]
        if options.get("rep_delay") is not None:
            checked.execution.rep_delay = float(options["rep_delay"])
        if options.get("init_qubits") is not None:
            checked.execution.init_qubits = bool(options["init_qubits"])
        return checked

    def _circuits(self, circuits: Any) -> list[Any]:
        items = list(circuits) if isinstance(circuits, (list, tuple)) else [circuits]
        if not items:
            raise IBMQBackendValueError("run() needs at least one circuit")
        for index, item in enumerate(items):
            if not is_quantum_circuit(item):
                what = "a Qobj" if isinstance(item, Mapping) else type(item).__name__
                raise IBMQBackendValueError(
                    f"circuit {index}: run() on the platform channel takes Qiskit "
                    f"QuantumCircuits (one or a list), not {what}"
                )
        return items

    async def run(
        self,
        circuits: Any,
        *,
        shots: int | None = None,
        memory: bool | None = None,
        job_name: str | None = None,
        job_tags: Sequence[str] | None = None,
        seed_simulator: int | None = None,
        rep_delay: float | None = None,
        init_qubits: bool | None = None,
        options: SamplerOptions | Mapping[str, Any] | None = None,
        submission_key: str | None = None,
        timeout: float | None = None,
        **run_config: Any,
    ) -> PlatformJob:
        """Run circuits on the backend as one sampler job and return the job.

        Every circuit is checked against the backend's :attr:`target` before any request:
        no more qubits than the backend has, no unbound parameter, and (for devices) only
        instructions of the target on qubits where it has them. The submission is
        exactly-once: it carries a hidden tag with its key (``submission_key``, or a fresh
        one) and, after an ambiguous failure, the client looks for the job by that tag
        before creating another; job creation is paced by the provider (each 429 honoured
        by its ``Retry-After``).

        Args:
            circuits: A Qiskit ``QuantumCircuit`` or a list of them (each one experiment of
                the result).
            shots: Repetitions of each circuit (the backend's default :attr:`options`,
                4000, when not given).
            memory: Accepted as on the classic channel (``True`` needs a backend that
                supports memory); the result always has every shot's outcome, the
                platform returning them all.
            job_name: A name for the job (kept in a hidden tag; ``job.name()`` reads it).
            job_tags: Tags for the job.
            seed_simulator: Seed of a simulator backend.
            rep_delay: Delay between shots (seconds), for devices that allow it.
            init_qubits: Reset qubits before each shot.
            options: Further sampler options (``SamplerOptions`` or a mapping of the same
                shape: twirling, dynamical decoupling, ``max_execution_time``...).
            submission_key: A key that makes this submission idempotent, across processes
                too: a repeat with the same key returns the same job.
            timeout: Seconds for the whole submission at most.
            **run_config: Classic run options the platform has no use for are refused by
                name (``meas_level``, ``header``, pulse options...).

        Returns:
            The submitted job (a circuit without measurements is sent too, with a
            warning: its result has no counts).

        Raises:
            NotISACircuitError: A circuit is not an ISA circuit of the backend, has more
                qubits than it, or an unbound parameter; the message names the circuit
                and the first offending instruction (raised before any request).
            IBMQBackendValueError: Other invalid input (shots, tags, options, something
                that is not a circuit), before any request.
            UsageLimitError: The instance has used its allocation (it carries the usage);
                no job was made.
            RateLimitedError: The service asks to wait longer than the retry policy allows
                before the next job creation; no job was made.
            IBMQBackendApiError: The submission failed (after the client's retries).
        """
        for key in run_config:
            why = _NOT_ON_THE_PLATFORM.get(key, "it is not a run option of the platform channel")
            raise IBMQBackendValueError(f"run() got {key}={run_config[key]!r}: {why}")
        if job_tags is not None and (
            isinstance(job_tags, str) or not all(isinstance(tag, str) and tag for tag in job_tags)
        ):
            raise IBMQBackendValueError(
                f"job_tags must be a list of non-empty strings, got {job_tags!r}"
            )
        if job_name is not None and (not isinstance(job_name, str) or not job_name):
            raise IBMQBackendValueError(f"job_name must be a non-empty string, got {job_name!r}")
        items = self._circuits(circuits)
        run_options = self._run_options(
            {
                "shots": shots,
                "memory": memory,
                "seed_simulator": seed_simulator,
                "rep_delay": rep_delay,
                "init_qubits": init_qubits,
            }
        )
        check_circuits(items, self.target, isa=not self.is_simulator(), require_bound=True)
        with warnings.catch_warnings():
            # run() warns of circuits without measurements itself, as on the classic channel.
            warnings.filterwarnings("ignore", message=r"PUB \d+: circuit .* has no classical")
            try:
                request = sampler_request(
                    items,
                    shots=run_options["shots"],
                    options=self._sampler_options(run_options, options),
                )
            except IBMQInputValueError as error:  # a PUB, an option, the execution limit
                raise IBMQBackendValueError(str(error)) from error
            except ValidationError as error:  # a run option of the wrong type
                raise IBMQBackendValueError(f"invalid run option: {error}") from error
        _warn_unmeasured(unmeasured_experiments(items), stacklevel=3)
        tags = [BACKEND_RUN_TAG, *(job_tags or ())]
        if job_name is not None:
            tags.append(f"{NAME_TAG_PREFIX}{job_name}")
        return await self._submit(
            request,
            tags=tags,
            submission_key=submission_key,
            timeout=timeout,
            circuits=items,
        )

    async def _submit(
        self,
        request: PrimitiveRequest,
        *,
        session_id: str | None = None,
        tags: Sequence[str] = (),
        submission_key: str | None = None,
        timeout: float | None = None,
        circuits: Sequence[Any] | None = None,
    ) -> PlatformJob:
        """Submit a checked primitive job to this backend, exactly once (what ``run`` and
        the primitives call).

        Args:
            request: The job (``sampler_request`` or ``estimator_request``).
            session_id: The session or batch the job joins.
            tags: Tags added to those of the request's options.
            submission_key: The key that makes the submission idempotent (a new one if
                ``None``).
            timeout: Seconds for the whole submission at most.
            circuits: The circuits of the PUBs, kept on the job (their names and registers
                shape ``backend.run``'s classic result).

        Returns:
            The job, its circuits kept (the PUBs' when not given).

        Raises:
            UsageLimitError: The instance has used its allocation; no job was made.
            RateLimitedError: The service asks to wait longer than the retry policy allows;
                no job was made.
            IBMQBackendApiError: The submission failed (after the client's retries).
        """
        body = request.job_body(self.name(), session_id=session_id, tags=tags)
        params = json.loads(runtime_json.dumps(body["params"]))
        try:
            record = await self._client.submit(
                request.program_id,
                self.name(),
                params,
                session_id=session_id,
                tags=body.get("tags", ()),
                cost=body.get("cost"),
                private=body.get("private"),
                submission_key=submission_key,
                timeout=timeout,
            )
        except (UsageLimitError, RateLimitedError):
            raise
        except ApiError as error:
            raise IBMQBackendApiError(f"Error submitting job to {self.name()}: {error}") from error
        pub_circuits = circuits if circuits is not None else [pub.circuit for pub in request.pubs]
        return PlatformJob(self, record, self._client, circuits=pub_circuits)

    # --- jobs ---------------------------------------------------------------------------

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
        descending: bool = True,
        *,
        session_id: str | None = None,
        program_id: str | None = None,
        timeout: float | None = None,
    ) -> list[PlatformJob]:
        """The jobs of this backend in the provider's instance, newest first by default.

        The filters are those of the classic channel. The platform filters by backend,
        creation time, every tag (``AND``), session, program and whether a job is pending;
        the rest (a status other than "pending" or "final", ``job_name``, tags with
        ``OR``) the client filters from the listing's pages.

        Args:
            limit: How many jobs at most (``None`` for all).
            skip: How many matching jobs to skip first.
            status: Only jobs in this status (or any of these statuses).
            job_name: Only jobs whose name (``run(job_name=...)``) matches this regular
                expression.
            start_datetime: Only jobs created at or after this time (naive = local time).
            end_datetime: Only jobs created at or before this time (naive = local time).
            job_tags: Only jobs with these tags.
            job_tags_operator: ``"OR"`` (any of the tags) or ``"AND"`` (all of them).
            descending: Newest first (``True``) or oldest first.
            session_id: Only jobs of this session or batch.
            program_id: Only jobs of this primitive (``"sampler"``, ``"estimator"``).
            timeout: Seconds per request at most.

        Raises:
            IBMQBackendValueError: An argument is invalid (``limit`` not ``None`` or a
                positive integer, a negative ``skip``, an unknown status...), before any
                request.
            IBMQBackendApiError: The listing failed (after retries).
        """
        return await self._provider.jobs(
            limit=limit,
            skip=skip,
            backend_name=self.name(),
            status=status,
            job_name=job_name,
            start_datetime=start_datetime,
            end_datetime=end_datetime,
            job_tags=job_tags,
            job_tags_operator=job_tags_operator,
            descending=descending,
            session_id=session_id,
            program_id=program_id,
            timeout=timeout,
        )

    async def iter_jobs(
        self,
        skip: int = 0,
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
    ) -> AsyncIterator[PlatformJob]:
        """Every matching job of this backend, fetched a page at a time as you iterate.

        Takes the filters of :meth:`jobs`.

        Raises:
            IBMQBackendValueError: An argument is invalid, before any request.
            IBMQBackendApiError: A page failed to load (after retries).
        """
        check_skip(skip)
        async for job in self._provider._iter_jobs(
            skip=skip,
            query=job_query(
                backend_name=self.name(),
                status=status,
                job_name=job_name,
                start_datetime=start_datetime,
                end_datetime=end_datetime,
                job_tags=job_tags,
                job_tags_operator=job_tags_operator,
                descending=descending,
            ),
            session_id=session_id,
            program_id=program_id,
        ):
            yield job

    async def active_jobs(
        self, limit: int = 10, *, timeout: float | None = None
    ) -> list[PlatformJob]:
        """The instance's jobs on this backend that are not final yet (queued or running).

        Raises:
            IBMQBackendValueError: ``limit`` is not a positive integer.
            IBMQBackendApiError: The listing failed (after retries).
        """
        check_limit(limit)
        return await self.jobs(
            limit=limit, status=[JobStatus.QUEUED, JobStatus.RUNNING], timeout=timeout
        )

    async def retrieve_job(self, job_id: str, *, timeout: float | None = None) -> PlatformJob:
        """Fetch a job of this backend by id.

        Raises:
            IBMQBackendValueError: ``job_id`` is not a non-empty string (before any request).
            IBMQBackendError: The job belongs to another backend.
            IBMQBackendApiError: The job does not exist or cannot be fetched.
        """
        check_job_id(job_id)
        record = await self._provider._fetch_job(job_id, timeout=timeout)
        if record.backend != self.name():
            raise IBMQBackendError(
                f"Job {job_id} belongs to backend {record.backend!r}, not {self.name()!r}"
            )
        return PlatformJob(self, record, self._client)

    # --- backend state ------------------------------------------------------------------

    async def status(self, *, timeout: float | None = None) -> BackendStatus:
        """Whether the backend is operational and how many jobs are queued on it, as the
        classic channel's :class:`~ibmq_async.models.BackendStatus` (``status_msg`` is the
        platform's status: ``active``, ``paused``, ``offline``...).

        Raises:
            IBMQBackendApiProtocolError: The answer does not fit the protocol.
            IBMQBackendApiError: The request failed (after retries).
        """
        with backend_api_errors(f"get the status of {self.name()}"):
            state = await self._client.backends.status(self.name(), timeout=timeout)
        return _backend_status(self.name(), state)

    async def job_limit(self, *, timeout: float | None = None) -> PlatformJobLimit:
        """What limits job submission on this backend.

        The platform has no limit on pending jobs (the classic channel's error 3458):
        ``maximum_jobs`` is ``None``. What it does have is answered instead: the
        instance's jobs still pending on the backend, the job creation rate the provider
        paces itself to (IBM documents 5 jobs a minute per user), and the instance's usage
        (its allocation and whether it is used up).

        Raises:
            IBMQBackendApiError: A request failed (after retries).
        """
        usage = await self._provider.usage(timeout=timeout)
        pending = await self.jobs(
            limit=None, status=[JobStatus.QUEUED, JobStatus.RUNNING], timeout=timeout
        )
        return PlatformJobLimit(
            backend_name=self.name(),
            pending_jobs=len(pending),
            job_rate=self._provider._job_rate(),
            usage=usage,
        )

    async def remaining_jobs_count(self, *, timeout: float | None = None) -> int | None:
        """How many more jobs may be submitted now.

        The platform limits no number of pending jobs, so this is ``None`` (no limit),
        or ``0`` once the instance has used its allocation (job creation is refused
        until the usage period renews). Job creation is also rate limited: ``run`` paces
        itself to it rather than failing (see :meth:`job_limit`).

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        usage = await self._provider.usage(timeout=timeout)
        return 0 if usage.usage_limit_reached else None

    async def properties(
        self,
        refresh: bool = False,
        datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> BackendProperties | None:
        """The backend's calibration data; ``None`` where the backend has none (simulators).

        The current properties are cached (and feed :attr:`target`); historical ones
        (``datetime``) never are.

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
        if datetime is not None:
            with backend_api_errors(f"get the properties of {self.name()}"):
                document = await self._client.backends.properties(
                    self.name(), datetime=datetime.astimezone(timezone.utc), timeout=timeout
                )
            return _parsed_properties(document)
        if not self._properties_fetched or refresh:
            with backend_api_errors(f"get the properties of {self.name()}"):
                document = await self._client.backends.properties(self.name(), timeout=timeout)
            self._properties = _parsed_properties(document)
            self._properties_fetched = True
        return self._properties

    async def defaults(
        self, refresh: bool = False, *, timeout: float | None = None
    ) -> PulseDefaults | None:
        """The pulse defaults; ``None`` where the service has none.

        Raises:
            IBMQBackendApiError: The request failed (after retries).
        """
        if not self._defaults_fetched or refresh:
            with backend_api_errors(f"get the pulse defaults of {self.name()}"):
                document = await self._client.backends.defaults(self.name(), timeout=timeout)
            self._defaults = PulseDefaults.model_validate(document) if document else None
            self._defaults_fetched = True
        return self._defaults

    async def reservations(
        self,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> list[BackendReservation]:
        """Always ``[]``: the platform has no reservations (dedicated time is a session)."""
        return []


_datetime_type = datetime


def _parsed_properties(document: Mapping[str, Any] | None) -> BackendProperties | None:
    """The properties of an answer; ``None`` for none (``{}``, as for simulators)."""
    if not document:
        return None
    return BackendProperties.model_validate(document)


def _backend_status(name: str, state: BackendState) -> BackendStatus:
    return BackendStatus(
        backend_name=name,
        backend_version=state.backend_version,
        operational=bool(state.state),
        pending_jobs=max(state.length_queue, 0),
        status_msg=state.status,
    )


class PlatformRetiredBackend(PlatformBackend):
    """A stand-in for a backend that a job ran on but the instance no longer lists."""

    def __repr__(self) -> str:
        return f"<PlatformRetiredBackend('{self.name()}')>"

    async def run(self, circuits: Any, **kwargs: Any) -> PlatformJob:
        """Always fails: a retired backend takes no jobs.

        Raises:
            IBMQBackendError: Always.
        """
        raise IBMQBackendError(f"{self.name()} is no longer available and takes no jobs")

    async def _submit(self, request: PrimitiveRequest, **kwargs: Any) -> PlatformJob:
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
