"""The platform API's part of the engine: instances, primitive jobs, sessions, usage, rates.

One :class:`Platform` belongs to each :class:`~ibmq_async.local.engine.Engine` and shares
its lock, database, backends and workers: a platform job waits in its backend's queue
beside classic jobs and a worker of that backend runs it (``start`` and the function it
returns). Every change is written to the database before it is answered; on start,
platform jobs left running are queued again.

Tenancy: everything belongs to an instance (CRN). A request names its instance
(``Service-CRN``), which must be one of the caller's; it sees the backends of that
instance and the jobs and sessions created in it, whoever created them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ibmq_async.local.auth import User
from ibmq_async.local.devices import parse_datetime
from ibmq_async.local.jobs import format_timestamp, new_job_id
from ibmq_async.local.platform import jobs as states
from ibmq_async.local.platform.errors import ErrorCodes, PlatformApiError
from ibmq_async.local.platform.iam import Iam
from ibmq_async.local.platform.jobs import PrimitiveJob
from ibmq_async.local.platform.limits import RateLimiter, Reservation, UsageLedger
from ibmq_async.local.platform.primitives import (
    PROGRAMS,
    PreparedPrimitive,
    PrimitiveError,
    prepare,
    seconds_per_shot,
    timed_run,
)
from ibmq_async.local.platform.sessions import ACTIVE, CLOSED, INACTIVE, PlatformSession
from ibmq_async.local.queue import BackendRuntime
from ibmq_async.models.platform import (
    BackendState,
    BackendStatusName,
    BackendSummary,
    InstanceUsage,
    JobCreateRequest,
    JobMetrics,
    SessionCreateRequest,
    UsagePeriod,
)
from ibmq_async.runtime_json import dumps as runtime_dumps

if TYPE_CHECKING:
    from ibmq_async.local.engine import Engine

__all__ = ["MAX_COST", "JobQuery", "Platform"]

logger = logging.getLogger("ibmq_async.local")

MAX_COST = 10800
"""The most seconds a job's ``cost`` (``max_execution_time``) may be: three hours."""

_KEEP_PREPARED_BELOW = 200


@dataclass
class JobQuery:
    """The filters and page of ``GET /v1/jobs``."""

    limit: int = 200
    offset: int = 0
    pending: bool | None = None
    program: str | None = None
    backend: str | None = None
    tags: tuple[str, ...] = ()
    session_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    descending: bool = True


def _qiskit_version() -> str:
    try:
        from importlib.metadata import version

        return version("qiskit")
    except Exception:  # pragma: no cover - qiskit is a dependency of the local extra
        return ""


class Platform:
    """The platform API over one engine.

    Args:
        engine: The engine whose lock, store, backends and workers it shares.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.config = engine.config
        self._lock = engine.lock
        self.store = engine.store
        self.iam = Iam(engine.auth.users, engine.store, engine.config.token_ttl)
        self.jobs: dict[str, PrimitiveJob] = {}
        self.sessions: dict[str, PlatformSession] = {}
        self.rate = RateLimiter(self.config.rate_window_seconds)
        self.usage = UsageLedger(self.config.usage_period_days * 86400.0)
        self._seq = 0
        self._session_seq = 0
        self._qiskit_version = _qiskit_version()
        self.max_inflated = min(10 * self.config.max_upload_bytes, 512 * 1024 * 1024)
        """The most one compressed value of a job's params may inflate to."""

    # --- set-up -------------------------------------------------------------------------

    def recover(self) -> int:
        """Load the stored jobs, sessions and charges; queue the jobs that were waiting or
        running again (before the workers start). Returns how many were requeued."""
        for session_id, seq, instance, record in self.store.load_sessions():
            self.sessions[session_id] = PlatformSession.from_record(
                session_id, seq, instance, record
            )
            self._session_seq = max(self._session_seq, seq)
        for job_id, instance, seconds, charged in self.store.load_charges():
            self.usage.add(job_id, instance, seconds, at=charged)
        requeued = 0
        for row in self.store.load_platform_jobs():
            job = PrimitiveJob.from_row(row)
            self.jobs[job.id] = job
            self._seq = max(self._seq, job.seq)
            if job.final:
                continue
            runtime = self.engine.backends.get(job.backend)
            if runtime is None:
                self._finish(job, states.FAILED, "The backend was removed", ErrorCodes.RUN_FAILED)
                continue
            if job.status == states.RUNNING:
                job.status = states.QUEUED
                job.running_at = None
                self._store(job)
                requeued += 1
            if job.queue_seq is None:
                job.queue_seq = self.engine.next_queue_seq()
            job.queued_at = time.monotonic()
            runtime.queue.push(job.id, job.queue_seq)
        return requeued

    def _check_open(self) -> None:
        if self.engine.closed:
            raise PlatformApiError(503, ErrorCodes.UNAVAILABLE, "The service is stopping")

    # --- access -------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> User:
        """The caller of a request (``Authorization`` header).

        Raises:
            PlatformApiError: 401 if the token is missing, forged or expired.
        """
        return self.iam.authenticate(authorization)

    def instance_for(self, user: User, crn: str | None) -> str:
        """The instance a request acts in (``Service-CRN``), which must be the caller's.

        Raises:
            PlatformApiError: 400 without the header, 403 for an instance that is not the
                caller's (or does not exist).
        """
        if not crn:
            raise PlatformApiError(
                400,
                ErrorCodes.INSTANCE_REQUIRED,
                "The Service-CRN header is required: the CRN of your instance",
            )
        if crn not in user.instances:
            raise PlatformApiError(
                403,
                ErrorCodes.FORBIDDEN,
                f"You are not authorized to use the instance {crn}",
            )
        return crn

    def instances_of(self, user: User) -> list[str]:
        """The instances a user belongs to, in configured order."""
        return list(user.instances)

    def _visible(self, runtime: BackendRuntime, instance: str) -> bool:
        allowed = runtime.config.instances
        return allowed is None or instance in allowed

    def backends(self, instance: str) -> list[BackendRuntime]:
        """The backends an instance sees, in configured order."""
        return [rt for rt in self.engine.backends.values() if self._visible(rt, instance)]

    def backend(self, instance: str, name: str) -> BackendRuntime:
        """A backend the instance sees.

        Raises:
            PlatformApiError: 404 if it is unknown or not the instance's.
        """
        runtime = self.engine.backends.get(name)
        if runtime is None or not self._visible(runtime, instance):
            raise PlatformApiError.not_found(
                f"Backend not found: {name}", ErrorCodes.BACKEND_NOT_FOUND
            )
        return runtime

    # --- backends -----------------------------------------------------------------------

    @staticmethod
    def _status_name(runtime: BackendRuntime) -> BackendStatusName:
        config = runtime.config
        if not config.operational:
            return BackendStatusName(name="offline", reason=config.status)
        if runtime.paused:
            return BackendStatusName(name="paused", reason="The backend is paused")
        if config.status != "active":
            return BackendStatusName(name=config.status)
        return BackendStatusName(name="online")

    def backend_summary(self, runtime: BackendRuntime) -> BackendSummary:
        """The backend's entry in ``GET /v1/backends``."""
        with self._lock:
            queue = len(runtime.queue)
            wait = (queue // max(runtime.config.workers, 1)) * (
                runtime.average_run + runtime.run_delay
            )
        configuration = runtime.device.configuration
        processor = configuration.get("processor_type")
        return BackendSummary(
            name=runtime.config.name,
            status=self._status_name(runtime),
            qubits=runtime.device.n_qubits,
            queue_length=queue,
            physical_qubits=runtime.device.n_qubits,
            processor_type=processor if isinstance(processor, dict) else None,
            wait_time_seconds=round(wait, 3),
        )

    def backend_state(self, runtime: BackendRuntime) -> BackendState:
        """The answer of ``GET /v1/backends/{name}/status``."""
        with self._lock:
            queue = len(runtime.queue)
        status = self._status_name(runtime)
        return BackendState(
            state=runtime.config.operational,
            status=(
                "offline"
                if not runtime.config.operational
                else "paused"
                if runtime.paused
                else runtime.config.status
            ),
            message=status.reason or "",
            length_queue=queue,
            backend_version=runtime.device.backend_version,
        )

    # --- jobs: creation -----------------------------------------------------------------

    def create_job(self, user: User, instance: str, body: Any) -> PrimitiveJob:
        """Create a job (``POST /v1/jobs``) and queue it.

        Raises:
            PlatformApiError: 400 for a malformed body, an unknown backend, params that
                cannot run (not ISA, more than 10 M executions...) or a ``cost`` out of range;
                404 for an unknown program; 409 when the instance used its allocation or
                the session takes no jobs; 429 past the user's creation rate.
        """
        if not isinstance(body, dict):
            raise PlatformApiError.bad_request("The body must be a JSON object")
        try:
            request = JobCreateRequest.model_validate(body)
        except ValueError as error:
            raise PlatformApiError.bad_request(f"Invalid job: {_pydantic_message(error)}") from None
        if request.program_id not in PROGRAMS:
            raise PlatformApiError(
                404,
                ErrorCodes.PROGRAM_NOT_FOUND,
                f"Program not found: {request.program_id} (the service runs sampler and estimator)",
            )
        if not request.backend:
            raise PlatformApiError.bad_request("backend is required")
        runtime = self.engine.backends.get(request.backend)
        if runtime is None or not self._visible(runtime, instance):
            raise PlatformApiError.bad_request(
                f"Backend not found: {request.backend}", ErrorCodes.BACKEND_NOT_FOUND
            )
        cost = MAX_COST if request.cost is None else request.cost
        if not 1 <= cost <= MAX_COST:
            raise PlatformApiError.bad_request(
                f"cost (max_execution_time) must be 1 to {MAX_COST} seconds, got {cost}",
                ErrorCodes.COST_TOO_HIGH,
            )
        tags = list(dict.fromkeys(request.tags or []))
        with self._lock:
            self._check_open()
            session = self._session_for_job(request.session_id, instance, request.backend)
            allocation = self.config.instance(instance).allocation_seconds
            if self.usage.reached(instance, allocation):
                raise PlatformApiError(
                    409,
                    ErrorCodes.USAGE_LIMIT,
                    f"Usage exceeds instance limit: {instance} used its {allocation:g} seconds",
                )
            reservation = self.rate.reserve(user.id, user.jobs_per_minute)
            if not isinstance(reservation, Reservation):
                raise PlatformApiError(
                    429,
                    ErrorCodes.RATE_LIMITED,
                    f"Job creation is limited to {user.jobs_per_minute} jobs per "
                    f"{self.config.rate_window_seconds:g} seconds; retry in "
                    f"{RateLimiter.retry_after(reservation)} seconds",
                    {"Retry-After": RateLimiter.retry_after(reservation)},
                )
        try:
            prepared = prepare(
                request.program_id,
                request.params,
                runtime.device,
                max_inflated=self.max_inflated,
            )
        except PrimitiveError as error:
            with self._lock:
                self.rate.release(reservation)
            raise PlatformApiError.bad_request(error.message, error.code) from None
        except BaseException:
            with self._lock:
                self.rate.release(reservation)
            raise
        params = json.dumps(request.params, separators=(",", ":")).encode()
        estimate = prepared.executions * seconds_per_shot(
            runtime.device, runtime.config.seconds_per_shot
        )
        with self._lock:
            try:
                self._check_open()
                if session is not None:
                    session = self._session_for_job(session.id, instance, request.backend)
            except BaseException:
                self.rate.release(reservation)
                raise
            self._seq += 1
            job = PrimitiveJob(
                id=new_job_id(),
                seq=self._seq,
                instance=instance,
                user_id=user.id,
                backend=request.backend,
                program=request.program_id,
                status=states.QUEUED,
                created=format_timestamp(self.engine.clock.now()),
                num_circuits=prepared.num_circuits,
                executions=prepared.executions,
                estimated_seconds=round(estimate, 6),
                cost=cost,
                tags=tags,
                session_id=session.id if session is not None else None,
                private=bool(request.private),
                runtime=request.runtime or "",
                log_level=request.log_level,
                calibration_id=request.calibration_id,
            )
            job.queue_seq = self.engine.next_queue_seq()
            self.store.insert_platform_job(job.row(), params)
            self.jobs[job.id] = job
            if runtime.queue and len(runtime.queue) >= _KEEP_PREPARED_BELOW:
                job.prepared = None
            else:
                job.prepared = prepared
            job.queued_at = time.monotonic()
            runtime.queue.push(job.id, job.queue_seq)
            runtime.condition.notify()
            self.engine.stats.jobs_created[user.id] = self.engine.stats.jobs_created[user.id] + 1
            if session is not None and not session.backend:
                session.backend = job.backend
                self._store_session(session)
            return job

    # --- jobs: reading and changing -----------------------------------------------------

    def job(self, instance: str, job_id: str) -> PrimitiveJob:
        """A job of the instance.

        Raises:
            PlatformApiError: 404 if it does not exist or belongs to another instance.
        """
        job = self.jobs.get(job_id)
        if job is None or job.instance != instance:
            raise PlatformApiError.job_not_found(job_id)
        return job

    def job_document(self, job: PrimitiveJob, *, include_params: bool) -> dict[str, Any]:
        """The job document; with its params unless excluded (never for a private job)."""
        params = None
        if include_params and not job.private:
            raw = self.store.platform_blob("params", job.id)
            if raw is not None:
                params = json.loads(raw)
        with self._lock:
            model = job.model(params)
        document: dict[str, Any] = model.to_wire(exclude_unset=False)
        if params is None:
            document.pop("params", None)
        return document

    def list_jobs(self, instance: str, query: JobQuery) -> tuple[list[dict[str, Any]], int]:
        """A page of the instance's jobs that match, and how many match in all."""
        wanted = set(query.tags)
        with self._lock:
            matching = [
                job
                for job in self.jobs.values()
                if job.instance == instance
                and (query.pending is None or (not job.final) == query.pending)
                and (query.program is None or job.program == query.program)
                and (query.backend is None or job.backend == query.backend)
                and (query.session_id is None or job.session_id == query.session_id)
                and wanted.issubset(job.tags)
                and (
                    query.created_after is None
                    or parse_datetime(job.created) >= query.created_after
                )
                and (
                    query.created_before is None
                    or parse_datetime(job.created) <= query.created_before
                )
            ]
            if query.descending:
                matching.reverse()
            page = matching[query.offset : query.offset + query.limit]
            documents = [job.model().to_wire(exclude_unset=False) for job in page]
        for document in documents:
            document.pop("params", None)
        return documents, len(matching)

    def cancel(self, job: PrimitiveJob) -> None:
        """Cancel a job that has not finished.

        Raises:
            PlatformApiError: 409 if it has.
        """
        with self._lock:
            if job.final:
                raise PlatformApiError(
                    409,
                    ErrorCodes.JOB_FINAL,
                    f"Job {job.id} cannot be cancelled: it is {job.status}",
                )
            self._cancel(job, "Cancelled by the user")

    def _cancel(self, job: PrimitiveJob, reason: str) -> None:
        runtime = self.engine.backends.get(job.backend)
        left_queue = runtime is not None and runtime.queue.remove(job.id)
        job.interrupt.set()
        self._finish(job, states.CANCELLED, reason, None)
        if left_queue and runtime is not None:
            runtime.condition.notify_all()

    def delete(self, job: PrimitiveJob) -> None:
        """Delete a finished job (its usage charge stays).

        Raises:
            PlatformApiError: 409 if it has not finished.
        """
        with self._lock:
            if not job.final:
                raise PlatformApiError(
                    409,
                    ErrorCodes.JOB_NOT_FINAL,
                    f"Job {job.id} is {job.status}: cancel it or wait until it ends to delete it",
                )
            self.jobs.pop(job.id, None)
            self.store.delete_platform_job(job.id)

    def update_tags(self, job: PrimitiveJob, body: Any) -> None:
        """Replace a job's tags (``PUT /v1/jobs/{id}/tags``).

        Raises:
            PlatformApiError: 400 if the body is not ``{"tags": [strings]}``.
        """
        if not isinstance(body, dict) or set(body) != {"tags"}:
            raise PlatformApiError.bad_request('The body must be {"tags": [...]}')
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise PlatformApiError.bad_request("tags must be a list of strings")
        if any(not tag or len(tag) > 1024 for tag in tags):
            raise PlatformApiError.bad_request("a tag must have 1 to 1024 characters")
        with self._lock:
            job.tags = list(dict.fromkeys(tags))
            self._store(job)

    def result_text(self, job: PrimitiveJob) -> str:
        """What ``GET /v1/jobs/{id}/results`` answers: the result (runtime JSON) of a
        completed job, the error of a failed or cancelled one.

        Raises:
            PlatformApiError: 404 while it has not finished, or for a private job's result
                read before.
        """
        with self._lock:
            if not job.final:
                raise PlatformApiError(
                    404,
                    ErrorCodes.RESULT_NOT_READY,
                    f"Job {job.id} has no results yet: it is {job.status}",
                )
            if job.status != states.COMPLETED:
                return f"Error: job {job.id} is {job.status}: {job.reason or 'no result'}"
            if job.private and job.result_read:
                raise PlatformApiError(
                    404,
                    ErrorCodes.RESULT_NOT_READY,
                    f"The results of the private job {job.id} were read already",
                )
        data = self.store.platform_blob("result", job.id)
        if data is None:
            raise PlatformApiError(404, ErrorCodes.RESULT_NOT_READY, f"Job {job.id} has no results")
        if job.private:
            with self._lock:
                job.result_read = True
                self._store(job)
        return data.decode()

    def logs(self, job: PrimitiveJob) -> str:
        """The logs of a finished job.

        Raises:
            PlatformApiError: 404 while it runs (no logs yet).
        """
        with self._lock:
            if not job.final or not job.logs:
                raise PlatformApiError(
                    404, ErrorCodes.NO_LOGS, f"Job {job.id} has no logs: it is {job.status}"
                )
            return job.logs

    def metrics(self, job: PrimitiveJob) -> JobMetrics:
        """The ``metrics`` of a job: timestamps, usage, queue position while queued."""
        with self._lock:
            runtime = self.engine.backends.get(job.backend)
            position = None
            start = None
            per_job = 0.0
            if runtime is not None and job.status == states.QUEUED:
                position = runtime.queue.position(job.id)
            if runtime is not None:
                per_job = runtime.average_run + runtime.run_delay
            if position is not None and runtime is not None:
                workers = runtime.config.workers
                rounds = (position - 1) // workers + (1 if len(runtime.running) >= workers else 0)
                start = datetime.now(timezone.utc) + timedelta(seconds=rounds * per_job)
            return job.metrics(
                position=position,
                start_estimate=start,
                run_estimate=per_job,
                qiskit_version=self._qiskit_version,
            )

    # --- running (worker threads) -------------------------------------------------------

    def queued_at(self, job_id: str) -> float:
        """When a queued job was queued (monotonic clock)."""
        job = self.jobs.get(job_id)
        return 0.0 if job is None else job.queued_at

    def interrupt(self, job_id: str) -> None:
        """Interrupt a running job (the service is stopping)."""
        job = self.jobs.get(job_id)
        if job is not None:
            job.interrupt.set()

    def start(self, job_id: str, runtime: BackendRuntime) -> Callable[[], None] | None:
        """Move a job a worker took off the queue to Running (engine lock held); the
        function that runs it, or ``None`` if it is not to run."""
        job = self.jobs.get(job_id)
        if job is None or job.status != states.QUEUED:
            return None
        session = self.sessions.get(job.session_id) if job.session_id else None
        if session is not None:
            self._refresh_session(session)
            if session.closed:
                self._finish(job, states.CANCELLED, "The session was closed", None)
                return None
        job.interrupt.clear()
        now = format_timestamp(self.engine.clock.now())
        job.running_at = now
        job.status = states.RUNNING
        self._store(job)
        runtime.running.add(job.id)
        running = len(runtime.running)
        name = runtime.config.name
        if running > self.engine.stats.max_running_jobs.get(name, 0):
            self.engine.stats.max_running_jobs[name] = running
        if session is not None:
            session.last_job_started = now
            session.move(ACTIVE, now)
            self._store_session(session)
        delay = runtime.run_delay
        prepared = job.prepared
        return lambda: self._execute(job, runtime, prepared, delay)

    def _execute(
        self,
        job: PrimitiveJob,
        runtime: BackendRuntime,
        prepared: PreparedPrimitive | None,
        delay: float,
    ) -> None:
        outcome: tuple[str, str | None, bytes | None, float] | None = None
        started = time.monotonic()
        try:
            if not (delay and job.interrupt.wait(delay)):
                outcome = self._simulate(job, runtime, prepared)
        finally:
            with self._lock:
                runtime.running.discard(job.id)
        with self._lock:
            if outcome is None or job.status != states.RUNNING:
                return  # cancelled, or interrupted by a stop: queued again on restart
            runtime.average_run = 0.8 * runtime.average_run + 0.2 * (time.monotonic() - started)
            status, reason, result, seconds = outcome
            code = None
            if status == states.RAN_TOO_LONG:
                code = ErrorCodes.RAN_TOO_LONG
            elif status == states.FAILED:
                code = ErrorCodes.RUN_FAILED
            self._finish(job, status, reason, code, result=result, charge=seconds)

    def _simulate(
        self, job: PrimitiveJob, runtime: BackendRuntime, prepared: PreparedPrimitive | None
    ) -> tuple[str, str | None, bytes | None, float]:
        """Run a job: ``(status, reason, result, seconds charged)``."""
        if job.estimated_seconds > job.cost:
            return (
                states.RAN_TOO_LONG,
                f"Ran too long: the job needs {job.estimated_seconds:g} quantum seconds, more "
                f"than its max_execution_time of {job.cost} seconds",
                None,
                float(job.cost),
            )
        try:
            if prepared is None:
                raw = self.store.platform_blob("params", job.id)
                params = json.loads(raw) if raw is not None else None
                prepared = prepare(
                    job.program, params, runtime.device, max_inflated=self.max_inflated
                )
            noise_for = runtime.noise.model if runtime.noise is not None else None
            result, _seconds = timed_run(prepared, noise_for=noise_for)
            return states.COMPLETED, None, runtime_dumps(result).encode(), job.estimated_seconds
        except Exception as failure:  # a failed run is the job's error, not the worker's
            if not isinstance(failure, (RuntimeError, PrimitiveError)):
                logger.exception("platform job %s failed to run", job.id)
            message = failure.message if isinstance(failure, PrimitiveError) else str(failure)
            return states.FAILED, message or type(failure).__name__, None, 0.0

    # --- state changes (engine lock held) -----------------------------------------------

    def _store(self, job: PrimitiveJob, result: bytes | None = None) -> None:
        if not self.engine.store_closed:
            self.store.update_platform_job(job.id, job.status, job.queue_seq, job.record(), result)

    def _finish(
        self,
        job: PrimitiveJob,
        status: str,
        reason: str | None,
        code: int | None,
        *,
        result: bytes | None = None,
        charge: float = 0.0,
    ) -> None:
        now = self.engine.clock.now()
        stamp = format_timestamp(now)
        job.status = status
        job.reason = reason
        job.reason_code = code
        job.finished_at = stamp
        job.prepared = None
        if result is not None:
            job.has_result = True
        job.quantum_seconds = round(charge, 6)
        job.logs = self._log_text(job)
        self._store(job, result)
        charged = charge > 0 and self.usage.add(job.id, job.instance, charge, at=now.timestamp())
        if charged and not self.engine.store_closed:
            self.store.add_charge(job.id, job.instance, charge, now.timestamp())
        session = self.sessions.get(job.session_id) if job.session_id else None
        if session is not None:
            if job.running_at is not None:
                session.last_job_completed = stamp
                session.quantum_seconds += charge
            self._refresh_session(session)
            self._store_session(session)

    @staticmethod
    def _log_text(job: PrimitiveJob) -> str:
        lines = [f"{job.created} INFO job {job.id} ({job.program}) created on {job.backend}"]
        if job.running_at is not None:
            lines.append(f"{job.running_at} INFO job {job.id} started running")
        if job.finished_at is not None:
            ending = f"{job.finished_at} INFO job {job.id} ended: {job.status}"
            if job.reason:
                ending += f" ({job.reason})"
            lines.append(ending)
        return "\n".join(lines) + "\n"

    # --- sessions -----------------------------------------------------------------------

    def _store_session(self, session: PlatformSession) -> None:
        if not self.engine.store_closed:
            self.store.save_session(session.id, session.seq, session.instance, session.record())

    def _session_jobs(self, session: PlatformSession) -> list[PrimitiveJob]:
        return [job for job in self.jobs.values() if job.session_id == session.id]

    def _refresh_session(self, session: PlatformSession) -> None:
        """Apply what time and the session's jobs imply (engine lock held)."""
        if session.closed:
            return
        now = self.engine.clock.now()
        stamp = format_timestamp(now)
        unfinished = [job for job in self._session_jobs(session) if not job.final]
        if session.expired(now):
            session.move(CLOSED, stamp, "max_ttl exceeded")
            for job in unfinished:
                if job.status == states.QUEUED:
                    self._cancel(job, "The session reached its max_ttl")
            self._store_session(session)
            return
        if not session.accepting_jobs and not unfinished:
            session.move(CLOSED, stamp, "closed")
            self._store_session(session)
            return
        if session.state == ACTIVE and not unfinished and session.idle_too_long(now):
            session.move(INACTIVE, stamp, "interactive_ttl exceeded")
            self._store_session(session)

    def _session_for_job(
        self, session_id: str | None, instance: str, backend: str
    ) -> PlatformSession | None:
        if session_id is None:
            return None
        session = self.sessions.get(session_id)
        if session is None or session.instance != instance:
            raise PlatformApiError.bad_request(
                f"Session not found: {session_id}", ErrorCodes.SESSION_NOT_FOUND
            )
        self._refresh_session(session)
        if session.closed or not session.accepting_jobs:
            raise PlatformApiError(
                409,
                ErrorCodes.SESSION_CLOSED,
                f"Session {session_id} is {session.state} and does not accept jobs",
            )
        if session.backend and session.backend != backend:
            raise PlatformApiError.bad_request(
                f"Session {session_id} runs on {session.backend}, not {backend}",
                ErrorCodes.SESSION_BACKEND,
            )
        return session

    def create_session(self, user: User, instance: str, body: Any) -> PlatformSession:
        """Create a session or batch (``POST /v1/sessions``).

        Raises:
            PlatformApiError: 400 for a malformed body, an unknown backend, a ``max_ttl``
                out of range or an ``instance`` other than the request's.
        """
        if not isinstance(body, dict):
            raise PlatformApiError.bad_request("The body must be a JSON object")
        try:
            request = SessionCreateRequest.model_validate(body)
        except ValueError as error:
            raise PlatformApiError.bad_request(
                f"Invalid session: {_pydantic_message(error)}"
            ) from None
        if request.instance is not None and request.instance != instance:
            raise PlatformApiError.bad_request(
                f"instance {request.instance} is not the instance of the request ({instance})"
            )
        backend = request.backend or ""
        if backend:
            runtime = self.engine.backends.get(backend)
            if runtime is None or not self._visible(runtime, instance):
                raise PlatformApiError.bad_request(
                    f"Backend not found: {backend}", ErrorCodes.BACKEND_NOT_FOUND
                )
        limit = self.config.session_max_ttl
        max_ttl = limit if request.max_ttl is None else request.max_ttl
        if not 1 <= max_ttl <= limit:
            raise PlatformApiError.bad_request(
                f"max_ttl must be 1 to {limit} seconds, got {max_ttl}"
            )
        with self._lock:
            self._check_open()
            self._session_seq += 1
            stamp = format_timestamp(self.engine.clock.now())
            session = PlatformSession(
                id=secrets.token_hex(12),
                seq=self._session_seq,
                instance=instance,
                user_id=user.id,
                backend=backend,
                mode=request.mode,
                created=stamp,
                max_ttl=max_ttl,
                interactive_ttl=max(round(self.config.session_interactive_ttl), 1),
                timestamps=[["open", stamp]],
            )
            self.sessions[session.id] = session
            self._store_session(session)
            return session

    def session(self, instance: str, session_id: str) -> PlatformSession:
        """A session of the instance, brought up to date.

        Raises:
            PlatformApiError: 404 if it does not exist or belongs to another instance.
        """
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None or session.instance != instance:
                raise PlatformApiError.session_not_found(session_id)
            self._refresh_session(session)
            return session

    def session_document(self, session: PlatformSession) -> dict[str, Any]:
        """The session document of the wire."""
        with self._lock:
            document: dict[str, Any] = session.model(self.engine.clock.now()).to_wire(
                exclude_unset=False
            )
        return document

    def update_session(self, session: PlatformSession, body: Any) -> None:
        """``PATCH /v1/sessions/{id}``: ``{"accepting_jobs": false}`` stops new jobs.

        Raises:
            PlatformApiError: 400 for another body; 409 to accept jobs again once closed.
        """
        if not isinstance(body, dict) or set(body) != {"accepting_jobs"}:
            raise PlatformApiError.bad_request('The body must be {"accepting_jobs": false}')
        accepting = body["accepting_jobs"]
        if not isinstance(accepting, bool):
            raise PlatformApiError.bad_request("accepting_jobs must be true or false")
        with self._lock:
            if accepting and session.closed:
                raise PlatformApiError(
                    409, ErrorCodes.SESSION_CLOSED, f"Session {session.id} is closed"
                )
            session.accepting_jobs = accepting
            self._refresh_session(session)
            self._store_session(session)

    def close_session(self, session: PlatformSession) -> None:
        """``DELETE /v1/sessions/{id}/close``: cancel its queued jobs and close it (its
        running jobs finish)."""
        with self._lock:
            for job in self._session_jobs(session):
                if job.status == states.QUEUED:
                    self._cancel(job, "The session was cancelled")
            session.move(CLOSED, format_timestamp(self.engine.clock.now()), "cancelled")
            self._store_session(session)

    # --- usage --------------------------------------------------------------------------

    def instance_usage(self, instance: str) -> InstanceUsage:
        """The answer of ``GET /v1/instances/usage``."""
        config = self.config.instance(instance)
        now = datetime.now(timezone.utc)
        with self._lock:
            consumed = self.usage.consumed(instance)
            reached = self.usage.reached(instance, config.allocation_seconds)
        return InstanceUsage(
            instance_id=instance,
            plan_id=config.plan_id,
            usage_consumed_seconds=round(consumed, 6),
            usage_period=UsagePeriod(
                start_time=now - timedelta(days=self.config.usage_period_days), end_time=now
            ),
            usage_allocation_seconds=config.allocation_seconds,
            usage_limit_reached=reached,
        )


def _pydantic_message(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    parts = []
    with contextlib.suppress(Exception):
        for item in errors(include_url=False)[:3]:
            location = ".".join(str(part) for part in item["loc"]) or "body"
            parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts) or str(error)
