"""The core of the local service: jobs, their state machine, queues and workers.

The engine is independent of any event loop. HTTP handlers call its methods (short,
synchronous, thread-safe), worker threads run the jobs, and whoever waits for a job
(the websocket stream) registers a :class:`Waker` that the engine pokes, from any
thread, on every change.

A job moves CREATING (``POST /Jobs``) → CREATED, VALIDATING (``jobDataUploaded``) →
VALIDATED, QUEUED (the Qobj converts) → RUNNING (a worker takes it) → COMPLETED, or ends
in CANCELLED, ERROR_VALIDATING_JOB or ERROR_RUNNING_JOB. Every change is written to the
database before anyone is told about it; on start, jobs left RUNNING are queued again
(first) and jobs left between upload and queue are validated again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ibmq_async.local.auth import Authenticator, User
from ibmq_async.local.catalog import Catalog
from ibmq_async.local.config import LocalServiceConfig, default_user
from ibmq_async.local.devices import dumps, loads, parse_datetime
from ibmq_async.local.errors import ClassicApiError, ErrorCode
from ibmq_async.local.executor import ExecutionOutcome, PreparedJob, QobjError, execute, prepare
from ibmq_async.local.filters import Filter
from ibmq_async.local.jobs import (
    Clock,
    Job,
    client_info_from_header,
    format_timestamp,
    new_job_id,
    qobj_summary,
)
from ibmq_async.local.noise import device_noise
from ibmq_async.local.platform.core import Platform
from ibmq_async.local.queue import BackendRuntime
from ibmq_async.local.signing import UrlSigner
from ibmq_async.local.stats import ServiceStats
from ibmq_async.local.store import Store
from ibmq_async.models import ApiJobStatus

__all__ = ["Engine", "Waker"]

logger = logging.getLogger("ibmq_async.local")

S = ApiJobStatus
_KEEP_PREPARED_BELOW = 1000
_VALIDATION_WORKERS = 2
_INLINE_VALIDATION_BYTES = 64 * 1024


class Waker(Protocol):
    """Something to poke when a job changes; ``notify`` must not block."""

    def notify(self) -> None:
        """Signal a change (called from any thread)."""


class Engine:
    """Jobs, queues and workers of one service.

    Creating an engine opens (or creates) the database, recovers the jobs stored there
    and starts the worker threads; :meth:`close` stops them.

    Args:
        config: The service configuration.

    Raises:
        ValueError: If a backend names an unknown device.
        sqlite3.Error: If the database cannot be opened.
    """

    def __init__(self, config: LocalServiceConfig) -> None:
        self.config = config
        self._temp_dir: str | None = None
        if config.db is None:
            self._temp_dir = tempfile.mkdtemp(prefix="ibmq-local-")
            self.db_path = Path(self._temp_dir) / "service.db"
        else:
            self.db_path = Path(config.db)
        self.store = Store(self.db_path)
        self._lock = threading.RLock()
        self._closed = False
        self._store_closed = False
        self._stopping = threading.Event()
        self.catalog = Catalog(config, self.store)
        self.auth = Authenticator(
            self._users(), self.store, config.token_ttl, generated_token=not config.users
        )
        self.stats = ServiceStats()
        for user in self.auth.users:
            self.stats.aliases[user.token] = user.id
        secret = self.store.get_meta("url_secret")
        if secret is None:
            secret = secrets.token_hex(32)
            self.store.set_meta("url_secret", secret)
        self.signer = UrlSigner(bytes.fromhex(secret), config.url_ttl)
        self.clock = Clock()
        self.jobs: dict[str, Job] = {}
        self._idempotency: dict[tuple[str, str], str] = {}
        self._active: Counter[tuple[str, str]] = Counter()
        self._subscribers: dict[str, set[Waker]] = {}
        self._seq = 0
        self._queue_seq = 0
        self.backends: dict[str, BackendRuntime] = {
            backend.name: BackendRuntime(
                config=backend,
                device=self.catalog.devices[backend.name],
                condition=threading.Condition(self._lock),
                paused=backend.paused,
                run_delay=backend.run_delay,
                queue_delay=backend.queue_delay,
                noise=device_noise(backend, self.catalog.devices[backend.name]),
            )
            for backend in config.backends
        }
        self._validator = ThreadPoolExecutor(_VALIDATION_WORKERS, "ibmq-local-validate")
        self._queue_seq = self.store.max_queue_seq()
        self.platform = Platform(self)
        to_validate = self._recover()
        platform_requeued = self.platform.recover()
        if platform_requeued:
            logger.info("requeued %d platform jobs after an interruption", platform_requeued)
        for runtime in self.backends.values():
            for index in range(runtime.config.workers):
                thread = threading.Thread(
                    target=self._work,
                    args=(runtime,),
                    name=f"ibmq-local-{runtime.config.name}-{index}",
                    daemon=True,
                )
                runtime.threads.append(thread)
                thread.start()
        for job_id in to_validate:
            self._validator.submit(self._validate, job_id)

    # --- set-up -------------------------------------------------------------------------

    def _users(self) -> list[User]:
        if self.config.users:
            return [User.from_config(user) for user in self.config.users]
        # The default user gets a new token at every start, printed and never stored (as
        # a notebook server does); its jobs belong to its fixed id, so they stay visible.
        self.store.delete_meta("default_token")
        return [User.from_config(default_user())]

    def _recover(self) -> list[str]:
        """Load stored jobs; requeue interrupted ones; return those to validate again."""
        to_validate: list[str] = []
        latest = datetime.min.replace(tzinfo=timezone.utc)
        requeued = 0
        for row in self.store.load_jobs():
            job = Job.from_row(row)
            self.jobs[job.id] = job
            self._seq = max(self._seq, job.seq)
            self._queue_seq = max(self._queue_seq, job.queue_seq or 0)
            if job.idempotency_key is not None:
                self._idempotency[(job.user_id, job.idempotency_key)] = job.id
            with contextlib.suppress(ValueError):
                latest = max(latest, parse_datetime(job.creation_date))
            if job.final:
                continue
            self._active[(job.user_id, job.backend)] += 1
            runtime = self.backends.get(job.backend)
            if runtime is None:
                self._finish(job, S.ERROR_RUNNING_JOB, ErrorCode.RUN_FAILED, "Backend removed.")
                continue
            if job.status is S.RUNNING:
                requeued += 1
                self._move(job, S.QUEUED)
            if job.status is S.QUEUED:
                if job.queue_seq is None:
                    self._queue_seq += 1
                    job.queue_seq = self._queue_seq
                runtime.queue.push(job.id, job.queue_seq)
                job.queued_at = time.monotonic()
            elif job.status is not S.CREATING:
                if job.status is not S.VALIDATING:
                    self._move(job, S.VALIDATING)
                to_validate.append(job.id)
        self.clock.advance_to(latest)
        if self.jobs:
            logger.info(
                "recovered %d jobs (%d requeued after an interruption, %d to validate)",
                len(self.jobs),
                requeued,
                len(to_validate),
            )
        return to_validate

    def close(self) -> None:
        """Stop the workers, close the database, remove a temporary database."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopping.set()
            for runtime in self.backends.values():
                runtime.condition.notify_all()
                for job_id in runtime.running:
                    classic = self.jobs.get(job_id)
                    if classic is not None:
                        classic.interrupt.set()
                    else:
                        self.platform.interrupt(job_id)
        self._validator.shutdown(wait=True, cancel_futures=True)
        deadline = time.monotonic() + 10.0
        for runtime in self.backends.values():
            for thread in runtime.threads:
                thread.join(max(deadline - time.monotonic(), 0.0))
        with self._lock:
            waker_sets = list(self._subscribers.values())
            self._store_closed = True
            self.store.close()
        for wakers in waker_sets:
            for waker in wakers:
                waker.notify()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def lock(self) -> threading.RLock:
        """The lock every change of jobs, queues and sessions is made under (both APIs)."""
        return self._lock

    @property
    def store_closed(self) -> bool:
        """Whether the database is closed (the engine is shutting down)."""
        return self._store_closed

    def next_queue_seq(self) -> int:
        """A new queue position, after every one handed out (caller holds the lock)."""
        self._queue_seq += 1
        return self._queue_seq

    def check_open(self) -> None:
        """Refuse work once the engine is stopping.

        Raises:
            ClassicApiError: 503 if :meth:`close` was called.
        """
        self._check_open()

    # --- state changes (caller holds the lock) ------------------------------------------

    def _move(self, job: Job, *statuses: ApiJobStatus, result: bytes | None = None) -> None:
        """Move a job through ``statuses``, store it, and tell its subscribers."""
        stamp = format_timestamp(self.clock.now())
        was_active = not job.final
        for status in statuses:
            job.status = status
            job.time_per_step[status.value] = stamp
            job.history.append([status.value, stamp])
        if job.status is S.RUNNING:
            job.run_started = stamp
        if job.final:
            job.end_date = stamp
            job.prepared = None
            job.qobj = None
            if was_active:
                key = (job.user_id, job.backend)
                self._active[key] -= 1
                if self._active[key] <= 0:
                    del self._active[key]
        if result is not None:
            job.has_result = True
        job.changed()
        if not self._store_closed:
            self.store.update_job(job.id, job.status.value, job.queue_seq, job.record(), result)
        self._notify(job.id)

    def _finish(
        self,
        job: Job,
        status: ApiJobStatus,
        code: int | None = None,
        message: str | None = None,
        result: bytes | None = None,
    ) -> None:
        if code is not None:
            # Clients render "<message>. Error code: <code>.": no period of our own.
            job.error = {"code": code, "message": (message or "").rstrip(".")}
        self._move(job, status, result=result)

    def _notify(self, job_id: str) -> None:
        for waker in self._subscribers.get(job_id, ()):
            waker.notify()

    def _notify_queue(self, runtime: BackendRuntime) -> None:
        """Tell the subscribers of jobs queued on a backend that positions moved."""
        for job_id, wakers in self._subscribers.items():
            if job_id in runtime.queue:
                for waker in wakers:
                    waker.notify()

    def _enqueue(self, job: Job, runtime: BackendRuntime) -> None:
        self._queue_seq += 1
        job.queue_seq = self._queue_seq
        job.queued_at = time.monotonic()
        runtime.queue.push(job.id, job.queue_seq)
        runtime.condition.notify()

    # --- subscriptions ------------------------------------------------------------------

    def subscribe(self, job_id: str, waker: Waker) -> None:
        """Poke ``waker`` on every change of the job (and of its queue position)."""
        with self._lock:
            self._subscribers.setdefault(job_id, set()).add(waker)

    def unsubscribe(self, job_id: str, waker: Waker) -> None:
        """Stop poking ``waker`` about the job."""
        with self._lock:
            wakers = self._subscribers.get(job_id)
            if wakers is not None:
                wakers.discard(waker)
                if not wakers:
                    del self._subscribers[job_id]

    # --- access -------------------------------------------------------------------------

    def require_project(self, user: User, hub: str, group: str, project: str) -> None:
        """Check the user belongs to the project.

        Raises:
            ClassicApiError: 404 if not.
        """
        if not user.member(hub, group, project):
            raise ClassicApiError(
                404,
                ErrorCode.PROJECT_NOT_FOUND,
                f"Hub/group/project not found: {hub}/{group}/{project}.",
                "NOT_FOUND",
            )

    def _visible(self, job: Job, user: User, hgp: tuple[str, str, str]) -> bool:
        if job.hgp != hgp or not user.member(*hgp):
            return False
        return self.config.job_visibility == "project" or job.user_id == user.id

    def job(self, user: User, hgp: tuple[str, str, str], job_id: str) -> Job:
        """A job the user may see through this project.

        Raises:
            ClassicApiError: 404 (code 3250) if it does not exist or is not visible.
        """
        job = self.jobs.get(job_id)
        if job is None or not self._visible(job, user, hgp):
            raise ClassicApiError.job_not_found(job_id)
        return job

    def job_for_user(self, user: User, job_id: str) -> Job | None:
        """A job the user may see through any of their projects (the websocket has no
        hub/group/project in its path), or ``None``."""
        job = self.jobs.get(job_id)
        if job is None or not self._visible(job, user, job.hgp):
            return None
        return job

    def backend_for(self, user: User, hgp: tuple[str, str, str], name: str) -> BackendRuntime:
        """A backend the user sees through this project.

        Raises:
            ClassicApiError: 404 (code 2000) if unknown or not visible.
        """
        runtime = self.backends.get(name)
        if runtime is None or not self._backend_visible(runtime, hgp):
            raise ClassicApiError.backend_not_found(name)
        return runtime

    def _backend_visible(self, runtime: BackendRuntime, hgp: tuple[str, str, str]) -> bool:
        projects = runtime.config.projects
        return projects is None or "/".join(hgp) in projects

    def backends_visible(self, hgp: tuple[str, str, str]) -> list[BackendRuntime]:
        """The backends a project sees, in configured order."""
        return [rt for rt in self.backends.values() if self._backend_visible(rt, hgp)]

    # --- jobs: creation and upload ------------------------------------------------------

    def create_job(
        self,
        user: User,
        hgp: tuple[str, str, str],
        body: Any,
        *,
        idempotency_key: str | None = None,
        client_application: str | None = None,
    ) -> tuple[Job, bool]:
        """Create a job (``POST {HGP}/Jobs``); return it and whether it is new.

        Raises:
            ClassicApiError: 400 for a malformed body or an unknown backend, 400 with code 3458
                when the user's unfinished jobs on the backend reached its ``max_jobs``.
        """
        if not isinstance(body, dict):
            raise ClassicApiError.bad_request("The body must be a JSON object.")
        backend = body.get("backend")
        name = backend.get("name") if isinstance(backend, dict) else backend
        if not isinstance(name, str) or not name:
            raise ClassicApiError.bad_request("backend.name is required.")
        job_name = body.get("name")
        tags = body.get("tags")
        experiment_tag = body.get("experimentTag")
        live_data = body.get("liveDataEnabled")
        if job_name is not None and not isinstance(job_name, str):
            raise ClassicApiError.bad_request("name must be a string.")
        if tags is not None and (
            not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)
        ):
            raise ClassicApiError.bad_request("tags must be a list of strings.")
        if experiment_tag is not None and not isinstance(experiment_tag, str):
            raise ClassicApiError.bad_request("experimentTag must be a string.")
        if live_data is not None and not isinstance(live_data, bool):
            raise ClassicApiError.bad_request("liveDataEnabled must be true, false or null.")
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
            raise ClassicApiError.bad_request("Idempotency-Key must have 1 to 255 characters.")
        with self._lock:
            self.stats.create_requests += 1
            self._check_open()
            if idempotency_key is not None:
                existing = self._idempotency.get((user.id, idempotency_key))
                if existing is not None and existing in self.jobs:
                    self.stats.idempotent_replays += 1
                    return self.jobs[existing], False
            runtime = self.backends.get(name)
            if runtime is None or not self._backend_visible(runtime, hgp):
                raise ClassicApiError(
                    400,
                    ErrorCode.BACKEND_NOT_FOUND_FOR_JOB,
                    f"Backend not found: {name}.",
                    "BACKEND_NOT_FOUND",
                )
            key = (user.id, name)
            limit = runtime.config.max_jobs
            if limit >= 0 and self._active[key] >= limit:
                self._expire_abandoned(user.id, name)
            if limit >= 0 and self._active[key] >= limit:
                self.stats.limit_rejections += 1
                raise ClassicApiError(
                    400,
                    ErrorCode.JOB_LIMIT_REACHED,
                    f"User reached the maximum limits of concurrent jobs ({limit}) on {name}.",
                    "JOB_LIMIT_REACHED",
                )
            self._seq += 1
            now = format_timestamp(self.clock.now())
            job = Job(
                id=new_job_id(),
                seq=self._seq,
                user_id=user.id,
                hub=hgp[0],
                group=hgp[1],
                project=hgp[2],
                backend=name,
                status=S.CREATING,
                creation_date=now,
                name=job_name,
                tags=list(dict.fromkeys(tags or [])),
                experiment_tag=experiment_tag or None,
                live_data_enabled=live_data,
                client_info=client_info_from_header(client_application),
                time_per_step={S.CREATING.value: now},
                history=[[S.CREATING.value, now]],
                idempotency_key=idempotency_key,
            )
            self.store.insert_job(job.row())
            self.jobs[job.id] = job
            if idempotency_key is not None:
                self._idempotency[(user.id, idempotency_key)] = job.id
            self._active[key] += 1
            self.stats.jobs_created[user.id] = self.stats.jobs_created[user.id] + 1
            active = self._active[key]
            if active > self.stats.max_active_jobs.get(key, 0):
                self.stats.max_active_jobs[key] = active
            return job, True

    def _expire_abandoned(self, user_id: str, backend: str) -> None:
        """End the user's jobs on a backend left CREATING past ``upload_timeout``."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.config.upload_timeout)
        for job in list(self.jobs.values()):
            if (
                job.status is S.CREATING
                and job.user_id == user_id
                and job.backend == backend
                and parse_datetime(job.creation_date) < cutoff
            ):
                self._finish(
                    job,
                    S.ERROR_CREATING_JOB,
                    ErrorCode.JOB_NOT_UPLOADED,
                    f"The Qobj was not uploaded within {self.config.upload_timeout:g} seconds",
                )

    def upload_qobj(self, job_id: str, data: bytes) -> None:
        """Store the Qobj of a job (the object storage ``PUT``).

        Raises:
            ClassicApiError: 404 if the job is unknown; 400 if the body is not a JSON object or
                the job's Qobj was already confirmed with a different body.
        """
        try:
            qobj = loads(data)
        except ValueError:
            raise ClassicApiError.bad_request("The Qobj is not valid JSON.") from None
        if not isinstance(qobj, dict):
            raise ClassicApiError.bad_request("The Qobj must be a JSON object.")
        with self._lock:
            self._check_open()
            job = self.jobs.get(job_id)
            if job is None:
                raise ClassicApiError.job_not_found(job_id)
            if job.status is not S.CREATING:
                if job.uploaded and self.store.get_qobj(job_id) == data:
                    return
                raise ClassicApiError(
                    400,
                    ErrorCode.UPLOAD_NOT_ALLOWED,
                    f"Job {job_id} is {job.status.value}: its Qobj can no longer change.",
                    "BAD_REQUEST",
                )
            job.uploaded = True
            job.qobj = qobj
            job.qobj_size = len(data)
            job.summary = qobj_summary(qobj)
            job.changed()
            self.store.set_qobj(job_id, data, job.record())

    def job_data_uploaded(self, job: Job, *, defer: bool = False) -> bool:
        """Confirm the upload (``jobDataUploaded``): the job goes to validation.

        Args:
            job: The job.
            defer: Leave the validation of a small Qobj to the caller (who then calls
                :meth:`validate` itself, e.g. after taking the answer's snapshot), which
                saves a thread hop; large Qobjs are always validated in a thread.

        Returns:
            Whether the caller must call :meth:`validate`.

        Raises:
            ClassicApiError: 400 (code 3251) if no Qobj was uploaded.
        """
        with self._lock:
            self._check_open()
            if job.status is not S.CREATING:
                return False
            if not job.uploaded:
                raise ClassicApiError(
                    400,
                    ErrorCode.JOB_NOT_UPLOADED,
                    f"Job {job.id} has no Qobj: upload it first.",
                    "BAD_REQUEST",
                )
            self._move(job, S.CREATED, S.VALIDATING)
            if defer and job.qobj_size <= _INLINE_VALIDATION_BYTES:
                return True
            self._validator.submit(self._validate, job.id)
            return False

    def validate(self, job_id: str) -> None:
        """Check and convert a VALIDATING job's Qobj, then queue it or fail it."""
        self._validate(job_id)

    def _check_open(self) -> None:
        if self._closed:
            raise ClassicApiError(
                503, ErrorCode.INTERNAL, "The service is stopping.", "UNAVAILABLE"
            )

    def _validate(self, job_id: str) -> None:
        """Check and convert a job's Qobj, then queue it (validation thread)."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status is not S.VALIDATING or self._stopping.is_set():
                return
            qobj = job.qobj
            runtime = self.backends[job.backend]
        try:
            if qobj is None:
                stored = self.store.get_qobj(job_id)
                qobj = loads(stored) if stored is not None else None
            prepared: PreparedJob | None = prepare(
                qobj, runtime.device, strict=runtime.config.strict
            )
            error: tuple[int, str] | None = None
        except QobjError as failure:
            prepared, error = None, (failure.code, failure.message)
        except Exception as failure:  # an unexpected converter failure is the job's error
            logger.exception("validation of job %s failed", job_id)
            prepared = None
            error = (1002, f"Error in the validation process of the job: {failure}")
        with self._lock:
            if job.status is not S.VALIDATING or self._closed:
                return
            job.qobj = None
            if error is not None:
                self._finish(job, S.ERROR_VALIDATING_JOB, error[0], error[1])
                return
            assert prepared is not None
            job.shots = prepared.shots
            if len(runtime.queue) < _KEEP_PREPARED_BELOW:
                job.prepared = prepared
            self._queue_seq += 1
            job.queue_seq = self._queue_seq
            self._move(job, S.VALIDATED, S.QUEUED)
            job.queued_at = time.monotonic()
            runtime.queue.push(job.id, job.queue_seq)
            runtime.condition.notify()

    # --- workers ------------------------------------------------------------------------

    def _next(self, runtime: BackendRuntime) -> str | None:
        """Wait for the next runnable job of a backend, of either API (caller holds the
        lock); its id."""
        while not self._stopping.is_set():
            job_id = None if runtime.paused else runtime.queue.first()
            if job_id is None:
                runtime.condition.wait()
                continue
            classic = self.jobs.get(job_id)
            queued_at = (
                classic.queued_at if classic is not None else self.platform.queued_at(job_id)
            )
            wait = queued_at + runtime.queue_delay - time.monotonic()
            if wait > 0:
                runtime.condition.wait(wait)
                continue
            runtime.queue.pop()
            return job_id
        return None

    def _work(self, runtime: BackendRuntime) -> None:
        """A worker: take queued jobs of one backend and run them, until stopped."""
        while not self._stopping.is_set():
            try:
                if not self._work_once(runtime):
                    return
            except Exception:  # never lose a worker; the job stays as last stored
                logger.exception("worker of %s failed", runtime.config.name)

    def _work_once(self, runtime: BackendRuntime) -> bool:
        """Take the next job of the backend and run it; ``False`` once stopping."""
        with self._lock:
            job_id = self._next(runtime)
            if job_id is None:
                return False
            job = self.jobs.get(job_id)
            if job is None:  # a job of the platform API
                task = self.platform.start(job_id, runtime)
                self._notify_queue(runtime)
            else:
                task = None
                job.interrupt.clear()
                self._move(job, S.RUNNING)
                runtime.running.add(job.id)
                running = len(runtime.running)
                name = runtime.config.name
                if running > self.stats.max_running_jobs.get(name, 0):
                    self.stats.max_running_jobs[name] = running
                self._notify_queue(runtime)
                prepared = job.prepared
                delay = runtime.run_delay
        if job is None:
            if task is not None:
                task()
            return True
        try:
            started = time.monotonic()
            outcome = None
            result = b""
            if not (delay and job.interrupt.wait(delay)):
                outcome = self._run(job, runtime, prepared)
                try:
                    result = dumps(outcome.result)
                except ValueError as error:  # the job fails, not the worker
                    outcome = self._failure(job, runtime, f"the result cannot be encoded: {error}")
                    result = dumps(outcome.result)
        finally:
            with self._lock:
                runtime.running.discard(job.id)
        with self._lock:
            if outcome is None or job.status is not S.RUNNING:
                return True  # cancelled, or interrupted by a stop: requeued on restart
            elapsed = time.monotonic() - started
            runtime.average_run = 0.8 * runtime.average_run + 0.2 * elapsed
            if outcome.success:
                self._move(job, S.COMPLETED, result=result)
            else:
                self._finish(
                    job,
                    S.ERROR_RUNNING_JOB,
                    outcome.error_code,
                    outcome.error_message,
                    result=result,
                )
        return True

    def _run(
        self, job: Job, runtime: BackendRuntime, prepared: PreparedJob | None
    ) -> ExecutionOutcome:
        try:
            if prepared is None:
                stored = self.store.get_qobj(job.id)
                qobj = loads(stored) if stored is not None else None
                prepared = prepare(qobj, runtime.device, strict=runtime.config.strict)
            return execute(
                prepared,
                job_id=job.id,
                backend_name=runtime.config.name,
                backend_version=runtime.device.backend_version,
                noise=runtime.noise,
            )
        except Exception as failure:  # a crash of the run is the job's error, not the worker's
            logger.exception("job %s failed to run", job.id)
            return self._failure(job, runtime, str(failure))

    @staticmethod
    def _failure(job: Job, runtime: BackendRuntime, reason: str) -> ExecutionOutcome:
        return ExecutionOutcome.failure(
            job.id, runtime.config.name, runtime.device.backend_version, reason
        )

    # --- jobs: reading and changing -----------------------------------------------------

    def queue_info(self, job: Job) -> dict[str, Any] | None:
        """The ``infoQueue`` of a queued job, ``None`` otherwise."""
        if job.status is not S.QUEUED:
            return None
        runtime = self.backends.get(job.backend)
        if runtime is None:
            return None
        position = runtime.queue.position(job.id)
        if position is None:
            return None
        workers = runtime.config.workers
        per_job = runtime.average_run + runtime.run_delay
        rounds = (position - 1) // workers + (1 if len(runtime.running) >= workers else 0)
        start = datetime.now(timezone.utc) + timedelta(seconds=rounds * per_job)
        return {
            "status": S.PENDING_IN_QUEUE.value,
            "position": position,
            "estimatedStartTime": format_timestamp(start),
            "estimatedCompleteTime": format_timestamp(start + timedelta(seconds=per_job)),
            "hubPriority": 1.0,
            "groupPriority": 1.0,
            "projectPriority": 1.0,
        }

    def document(self, job: Job) -> dict[str, Any]:
        """The job object of the wire, with ``infoQueue`` while queued."""
        with self._lock:
            document = job.document()
            info = self.queue_info(job)
        if info is None:
            return document
        return {**document, "infoQueue": info}

    def status_document(self, job: Job) -> dict[str, Any]:
        """The answer of ``GET .../status/v/1``."""
        with self._lock:
            document: dict[str, Any] = {
                "id": job.id,
                "status": job.status.value,
                "creationDate": job.creation_date,
            }
            info = self.queue_info(job)
        if info is not None:
            document["infoQueue"] = info
        return document

    def stream_data(self, job_id: str) -> dict[str, Any] | None:
        """The ``data`` of a websocket ``job-status`` frame; ``None`` if the job is gone."""
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            data: dict[str, Any] = {"status": job.status.value}
            info = self.queue_info(job)
        if info is not None:
            data["infoQueue"] = info
        return data

    def list_jobs(
        self, user: User, hgp: tuple[str, str, str], query: Filter
    ) -> list[dict[str, Any]]:
        """The jobs of a project the user sees, filtered (newest first by default).

        The filter sees the whole job objects without ``infoQueue`` (it changes all the
        time); the jobs of the answer are listed documents (no ``timePerStep``, no
        ``summaryData.summary``, as IBM listed them) with ``infoQueue``.
        """
        tags, ids = query.tags_any, query.ids_any
        with self._lock:
            documents = [
                job.document()
                for job in reversed(self.jobs.values())
                if (ids is None or job.id in ids)
                and (tags is None or not tags.isdisjoint(job.tags))
                and self._visible(job, user, hgp)
            ]
            page = query.select(documents)
            answer = []
            for document in page:
                job = self.jobs[document["id"]]
                listed = job.listed_document()
                info = self.queue_info(job)
                answer.append(listed if info is None else {**listed, "infoQueue": info})
        return [query.project(document) for document in answer]

    def cancel(self, job: Job) -> bool:
        """Cancel a job that has not finished; ``False`` if it had."""
        with self._lock:
            if job.final:
                return False
            runtime = self.backends.get(job.backend)
            left_queue = runtime is not None and runtime.queue.remove(job.id)
            job.interrupt.set()
            self._move(job, S.CANCELLED)
            if left_queue and runtime is not None:
                self._notify_queue(runtime)
                runtime.condition.notify_all()
            return True

    def update_job(self, job: Job, body: Any) -> Job:
        """Change a job's ``name`` and/or ``tags`` (``PUT .../Jobs/{id}``).

        Raises:
            ClassicApiError: 400 if the body has neither or a wrong type.
        """
        if not isinstance(body, dict) or not ({"name", "tags"} & set(body)):
            raise ClassicApiError.bad_request("The body must have a name or tags.")
        name = body.get("name", job.name)
        tags = body.get("tags", job.tags)
        if "name" in body and not isinstance(name, str):
            raise ClassicApiError.bad_request("name must be a string.")
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise ClassicApiError.bad_request("tags must be a list of strings.")
        with self._lock:
            job.name = name
            job.tags = list(dict.fromkeys(tags))
            job.changed()
            self.store.update_job(job.id, job.status.value, job.queue_seq, job.record())
            return job

    def delete_job(self, job: Job) -> None:
        """Delete a job, cancelling it first if it has not finished."""
        with self._lock:
            if not job.final:
                self.cancel(job)
            self.jobs.pop(job.id, None)
            if job.idempotency_key is not None:
                self._idempotency.pop((job.user_id, job.idempotency_key), None)
            self.store.delete_job(job.id)
            self._notify(job.id)

    def result_bytes(self, job: Job) -> bytes:
        """The result document of a job that ran.

        Raises:
            ClassicApiError: 400 (code 3253) if the job has no result (yet).
        """
        if job.has_result:
            data = self.store.get_result(job.id)
            if data is not None:
                return data
        raise ClassicApiError(
            400,
            ErrorCode.RESULT_NOT_AVAILABLE,
            f"Job {job.id} has no result: it is {job.status.value}.",
            "RESULT_NOT_AVAILABLE",
        )

    def qobj_bytes(self, job: Job) -> bytes:
        """The uploaded Qobj of a job.

        Raises:
            ClassicApiError: 400 (code 3251) if nothing was uploaded.
        """
        data = self.store.get_qobj(job.id) if job.uploaded else None
        if data is None:
            raise ClassicApiError(
                400, ErrorCode.JOB_NOT_UPLOADED, f"Job {job.id} has no Qobj.", "BAD_REQUEST"
            )
        return data

    def result_downloaded(self, job: Job) -> None:
        """Record that the result was downloaded."""
        with self._lock:
            if job.has_result and not job.result_downloaded:
                job.result_downloaded = True
                self.store.update_job(job.id, job.status.value, job.queue_seq, job.record())

    def job_properties(self, job: Job) -> bytes:
        """The calibration of the job's backend in force when it ran (or was created)."""
        runtime = self.backends.get(job.backend)
        if runtime is None or runtime.device.simulator:
            return b"{}"
        when = parse_datetime(job.run_started or job.creation_date)
        return self.catalog.properties_at(job.backend, when)

    # --- backends -----------------------------------------------------------------------

    def queue_status(self, runtime: BackendRuntime) -> dict[str, Any]:
        """The answer of ``queue/status``."""
        with self._lock:
            length = len(runtime.queue)
        return {
            "state": runtime.config.operational,
            "status": runtime.config.status,
            "lengthQueue": length,
            "backend_version": runtime.device.backend_version,
        }

    def job_limit(self, user: User, runtime: BackendRuntime) -> dict[str, Any]:
        """The answer of ``jobsLimit`` for a user."""
        with self._lock:
            active = self._active[(user.id, runtime.config.name)]
        return {"maximumJobs": runtime.config.max_jobs, "runningJobs": active}

    def active_jobs(self, user_id: str, backend: str) -> int:
        """How many unfinished jobs a user has on a backend."""
        with self._lock:
            return self._active[(user_id, backend)]

    def pause_backend(self, name: str) -> None:
        """Keep the backend's queued jobs QUEUED until :meth:`resume_backend`.

        Raises:
            KeyError: If there is no such backend.
        """
        with self._lock:
            self.backends[name].paused = True

    def resume_backend(self, name: str) -> None:
        """Let the backend's workers take queued jobs again.

        Raises:
            KeyError: If there is no such backend.
        """
        with self._lock:
            runtime = self.backends[name]
            runtime.paused = False
            runtime.condition.notify_all()

    def set_delays(
        self, name: str, *, run_delay: float | None = None, queue_delay: float | None = None
    ) -> None:
        """Change a backend's ``run_delay`` and/or ``queue_delay`` (seconds).

        Raises:
            KeyError: If there is no such backend.
            ValueError: If a delay is negative.
        """
        with self._lock:
            runtime = self.backends[name]
            if run_delay is not None:
                if run_delay < 0:
                    raise ValueError("run_delay must be >= 0")
                runtime.run_delay = run_delay
            if queue_delay is not None:
                if queue_delay < 0:
                    raise ValueError("queue_delay must be >= 0")
                runtime.queue_delay = queue_delay
            runtime.condition.notify_all()

    def job_by_id(self, job_id: str) -> Job | None:
        """A job by id, regardless of who may see it."""
        return self.jobs.get(job_id)
