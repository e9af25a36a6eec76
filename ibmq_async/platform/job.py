"""``PlatformJob``: a job of the platform channel, with the coroutines of ``IBMQJob``.

A platform job is a primitive job of the runtime API (``GET /v1/jobs/{id}``,
docs/platform.md §4). The job made by ``PlatformBackend.run`` is a sampler job whose
``result()`` is the classic :class:`~ibmq_async.models.Result`, built from the sampler's
bit arrays, so code written for the classic channel reads it unchanged; the jobs of the
primitives (``ibmq_async.platform.Sampler``, ``Estimator``) answer ``result()`` with their
``PrimitiveResult``, and :meth:`PlatformJob.primitive_result` gives it for any job.

What cannot change is cached: the status once final, the result once downloaded, the
circuits. Waits go through the provider's one poller (``client.waits``): the platform has
no push channel.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ibmq_async import runtime_json
from ibmq_async.api import SUBMISSION_TAG_PREFIX
from ibmq_async.exceptions import (
    ApiError,
    ApiJobWaitTimeoutError,
    ApiNotFoundError,
    ApiStatusError,
    IBMQBackendValueError,
    IBMQInputValueError,
    IBMQJobApiError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobTimeoutError,
)
from ibmq_async.job import JOB_SET_TAG_PREFIX, job_api_errors
from ibmq_async.models import BackendProperties, JobStatus, QueueInfo, Result
from ibmq_async.models.platform import FINAL_JOB_STATES, Job, JobMetrics
from ibmq_async.platform.errors import PlatformResultError
from ibmq_async.platform.results import sampler_result_to_result
from ibmq_async.platform.states import job_error_message, job_status

if TYPE_CHECKING:
    from ibmq_async.api.platform import PlatformClient
    from ibmq_async.platform.backend import PlatformBackend
    from ibmq_async.platform.provider import PlatformProvider

__all__ = [
    "BACKEND_RUN_TAG",
    "HANDLE_CHANNEL",
    "NAME_TAG_PREFIX",
    "PlatformJob",
    "PlatformStatusCallback",
    "visible_tags",
]

BACKEND_RUN_TAG = "ibmq_async_backend_run"
"""The tag of the jobs ``PlatformBackend.run`` makes: their ``result()`` is the classic
``Result`` (in any process that retrieves them). Hidden from :meth:`PlatformJob.tags`."""

NAME_TAG_PREFIX = "ibmq_async_name_"
"""The platform has no job names: ``run(job_name=...)`` keeps the name in a tag
``f"{prefix}{name}"``, hidden from :meth:`PlatformJob.tags` and read by ``name()``."""

HANDLE_CHANNEL = "ibm_quantum_platform"
"""The ``channel`` of a platform job's handle (:meth:`PlatformJob.to_handle`)."""

PlatformStatusCallback = Callable[
    [str, JobStatus, "PlatformJob", QueueInfo | None], Awaitable[None] | None
]
"""``callback(job_id, status, job, queue_info)`` as on the classic channel (``queue_info``
is always ``None``: the platform gives no queue position with a job's state)."""

_HANDLE_VERSION = 1
_RESERVED_PREFIXES = (SUBMISSION_TAG_PREFIX, NAME_TAG_PREFIX, JOB_SET_TAG_PREFIX)


def _is_hidden(tag: str) -> bool:
    return tag == BACKEND_RUN_TAG or tag.startswith((SUBMISSION_TAG_PREFIX, NAME_TAG_PREFIX))


def visible_tags(tags: Sequence[str]) -> list[str]:
    """The tags a user sees: without the submission key, name and ``run`` tags."""
    return [tag for tag in tags if not _is_hidden(tag)]


def _is_final(record: Job) -> bool:
    return record.state.status in FINAL_JOB_STATES


class PlatformJob:
    """A job on a backend of the platform channel.

    Jobs are made by :meth:`PlatformBackend.run`, the primitives, ``retrieve_job`` and the
    job listings; they are not constructed by users. ``await job`` waits for and returns
    :meth:`result`.

    Args:
        backend: The backend the job runs on.
        record: The job as the service last gave it.
        client: The platform API client of the provider.
        circuits: The circuits the job was submitted with, when known (they give the
            classic result its experiment names and registers; a job retrieved later reads
            them from its params).
    """

    def __init__(
        self,
        backend: PlatformBackend,
        record: Job,
        client: PlatformClient,
        *,
        circuits: Sequence[Any] | None = None,
    ) -> None:
        self._backend = backend
        self._client = client
        self._record = record
        self._status = job_status(record.state)
        self._final_record_seen = _is_final(record)
        self._circuits = list(circuits) if circuits is not None else None
        self._result: Result | None = None
        self._primitive_result: Any = None

    # --- identity -----------------------------------------------------------------------

    def job_id(self) -> str:
        """The id of the job."""
        return self._record.id

    def backend(self) -> PlatformBackend:
        """The backend the job runs on."""
        return self._backend

    def creation_date(self) -> datetime:
        """When the job was created (timezone-aware, UTC)."""
        return self._record.created

    def name(self) -> str | None:
        """The name given to ``run(job_name=...)``, if any (kept in a hidden tag: the
        platform has no job names)."""
        for tag in self._record.tags:
            if tag.startswith(NAME_TAG_PREFIX):
                return tag[len(NAME_TAG_PREFIX) :]
        return None

    def tags(self) -> list[str]:
        """The job's tags, those of its user and of its job set.

        The tags that record the submission key (``ibmq_async_submission_...``), the name and
        that the job was made by ``backend.run`` stay on the service, hidden here
        (``record.tags`` has them).
        """
        return visible_tags(self._record.tags)

    @property
    def program_id(self) -> str:
        """The primitive the job runs: ``"sampler"`` or ``"estimator"``."""
        return self._record.program.id

    @property
    def session_id(self) -> str | None:
        """The session or batch the job belongs to, if any."""
        return self._record.session_id

    @property
    def private(self) -> bool:
        """Whether the job is private (its params and results are not kept)."""
        return self._record.private

    @property
    def is_backend_run(self) -> bool:
        """Whether the job was made by ``backend.run`` (its ``result()`` is the classic
        ``Result``) rather than by a primitive."""
        return BACKEND_RUN_TAG in self._record.tags

    @property
    def record(self) -> Job:
        """The job as last received from the service (a wait's last poll, or a fetch)."""
        return self._record

    def __repr__(self) -> str:
        return (
            f"<PlatformJob {self.job_id()!r} backend={self._backend.name()!r} "
            f"status={self._status.name}>"
        )

    # --- status -------------------------------------------------------------------------

    def _apply(self, record: Job) -> bool:
        """Take a newer record of the job; return whether its status changed."""
        before = self._status
        if record.params is None and self._record.params is not None:
            record = record.model_copy(update={"params": self._record.params})
        self._record = record
        self._status = job_status(record.state)
        if _is_final(record):
            self._final_record_seen = True
        return before is not self._status

    async def _fetch(self, *, timeout: float | None = None, params: bool = False) -> Job:
        with job_api_errors(self.job_id(), "get"):
            record = await self._client.jobs.get(
                self.job_id(), exclude_params=not params, timeout=timeout
            )
            self._apply(record)
        return record

    async def refresh(self, *, timeout: float | None = None) -> None:
        """Fetch the job again.

        Raises:
            IBMQJobApiError: The request failed (after the client's retries).
        """
        await self._fetch(timeout=timeout)

    async def status(self, *, timeout: float | None = None) -> JobStatus:
        """The status of the job: the platform's state as a :class:`JobStatus`.

        ``Queued`` is ``QUEUED``, ``Running`` ``RUNNING``, ``Completed`` ``DONE``,
        ``Cancelled`` ``CANCELLED``; ``Failed`` and ``Cancelled - Ran too long`` are
        ``ERROR`` (a job that ran too long has ended: no wait hangs on it). A final status
        is cached and answered without a request.

        Raises:
            IBMQJobApiError: The request failed (after the client's retries), or the
                platform reported a state this client does not know.
        """
        if self._status.is_final:
            return self._status
        await self._fetch(timeout=timeout)
        return self._status

    async def done(self) -> bool:
        """Whether the job finished successfully."""
        return await self.status() is JobStatus.DONE

    async def running(self) -> bool:
        """Whether the job is running."""
        return await self.status() is JobStatus.RUNNING

    async def cancelled(self) -> bool:
        """Whether the job was cancelled."""
        return await self.status() is JobStatus.CANCELLED

    async def in_final_state(self) -> bool:
        """Whether the job can no longer change state."""
        return (await self.status()).is_final

    async def queue_position(self, refresh: bool = False) -> int | None:
        """The job's position in the backend's queue, from its metrics.

        Args:
            refresh: Ignored (kept for the classic signature): the position is always asked
                of the service, there being no cached one.

        Returns:
            The position while the job is queued; ``None`` otherwise.

        Raises:
            IBMQJobApiError: The request failed (after retries).
        """
        if await self.status() is not JobStatus.QUEUED:
            return None
        metrics = await self.metrics()
        return metrics.position_in_queue

    async def wait_for_final_state(
        self,
        timeout: float | None = None,
        callback: PlatformStatusCallback | None = None,
    ) -> JobStatus:
        """Wait until the job is done, cancelled or failed.

        The provider's one poller serves every waiting job: a few waits poll their jobs,
        many share one listing of pending jobs, with backoff (docs/platform.md). Polls
        that fail are retried as the client's retry policy says. Cancelling the wait does
        not cancel the job.

        Args:
            timeout: Seconds to wait at most; ``None`` waits as long as it takes.
            callback: Called on each status change as
                ``callback(job_id, status, job, queue_info)``; may be a coroutine function.

        Returns:
            The final status.

        Raises:
            IBMQJobTimeoutError: The job was not final within ``timeout``.
            IBMQJobApiError: The service could not be reached (after retries), or it
                reported a state this client does not know.
        """
        if self._status.is_final:
            return self._status
        on_status = None if callback is None else self._status_reporter(callback)
        try:
            final = await self._client.waits.wait_for_final(
                self.job_id(), timeout=timeout, on_status=on_status
            )
        except ApiJobWaitTimeoutError as error:
            last = error.last_status
            if isinstance(last, Job):
                self._apply(last)
            raise IBMQJobTimeoutError(
                f"Timeout while waiting for job {self.job_id()} "
                f"(last status {self._status.name}, timeout {timeout} s)"
            ) from error
        except ApiError as error:
            raise IBMQJobApiError(f"Unable to wait for job {self.job_id()}: {error}") from error
        self._apply(final)
        return self._status

    def _status_reporter(
        self, callback: PlatformStatusCallback
    ) -> Callable[[Job], Awaitable[None]]:
        reported: JobStatus | None = None

        async def on_status(record: Job) -> None:
            nonlocal reported
            self._apply(record)
            if self._status is reported:
                return
            reported = self._status
            outcome = callback(self.job_id(), self._status, self, None)
            if inspect.isawaitable(outcome):
                await outcome

        return on_status

    async def watch(self) -> AsyncIterator[JobStatus]:
        """Yield the job's status now, then each change, until it is final.

        Example:
            ``async for status in job.watch(): print(status.name)``

        Raises:
            IBMQJobApiError: The service could not be reached (after retries).
        """
        last = self._status
        yield last
        if last.is_final:
            return
        with job_api_errors(self.job_id(), "watch"):
            async for record in self._client.waits.watch(self.job_id()):
                self._apply(record)
                if self._status is not last:
                    last = self._status
                    yield last
                if last.is_final:
                    break

    # --- results ------------------------------------------------------------------------

    async def _final_state_record(self) -> Job:
        """The record as of the final state (fetched once if a wait saw only the end)."""
        if not self._final_record_seen:
            await self._fetch()
        return self._record

    async def _check_completed(self, timeout: float | None) -> None:
        """Wait for the job and raise unless it completed."""
        await self.wait_for_final_state(timeout=timeout)
        if self._status is JobStatus.DONE:
            return
        if self._status is JobStatus.CANCELLED:
            raise IBMQJobInvalidStateError(
                f"Unable to retrieve the result of job {self.job_id()}: the job was cancelled."
            )
        record = await self._final_state_record()
        reason = job_error_message(record.state) or f"it ended {record.state.status}"
        raise IBMQJobFailureError(
            f"Unable to retrieve the result of job {self.job_id()}: the job failed. {reason}"
        )

    async def primitive_result(self, timeout: float | None = None, refresh: bool = False) -> Any:
        """Wait for the job to finish and return its ``PrimitiveResult`` (of a sampler or an
        estimator job), downloaded once and cached.

        Args:
            timeout: Seconds to wait for the job at most.
            refresh: Download the result again even if it is cached.

        Raises:
            IBMQJobTimeoutError: The job was not final within ``timeout``.
            IBMQJobInvalidStateError: The job was cancelled.
            IBMQJobFailureError: The job failed or ran too long; the message has the
                platform's reason and reason code.
            IBMQJobApiError: The service could not be reached (after retries), or the
                result is not valid runtime JSON.
        """
        if self._primitive_result is not None and not refresh:
            return self._primitive_result
        await self._check_completed(timeout)
        with job_api_errors(self.job_id(), "download the result of"):
            raw = await self._client.jobs.results(self.job_id())
        try:
            decoded = (
                runtime_json.loads(raw)
                if isinstance(raw, (str, bytes))
                else (runtime_json.decode(raw))
            )
        except (runtime_json.RuntimeJSONError, json.JSONDecodeError) as error:
            raise IBMQJobApiError(
                f"Unable to read the result of job {self.job_id()}: {error}"
            ) from error
        self._primitive_result = decoded
        return decoded

    async def circuits(self) -> list[Any] | None:
        """The circuits of the job's PUBs, in order: those it was submitted with, else
        decoded from its params (fetched once).

        Returns:
            The circuits, or ``None`` for a private job (its params are not kept).

        Raises:
            IBMQJobApiError: The job or its params cannot be read.
        """
        if self._circuits is None:
            record = self._record if self._record.params is not None else None
            if record is None:
                record = await self._fetch(params=True)
            if record.params is None:
                return None
            try:
                params = runtime_json.decode(record.params)
                self._circuits = [pub[0] for pub in params["pubs"]]
            except (runtime_json.RuntimeJSONError, KeyError, IndexError, TypeError) as error:
                raise IBMQJobApiError(
                    f"Unable to read the circuits of job {self.job_id()}: {error}"
                ) from error
        return list(self._circuits)

    async def result(
        self, timeout: float | None = None, partial: bool = False, refresh: bool = False
    ) -> Any:
        """Wait for the job to finish and return its result.

        For a job made by ``backend.run``, the classic :class:`~ibmq_async.models.Result`:
        one experiment per circuit, counts and memory keyed as Qiskit keys them
        (registers split by spaces), as on the classic channel (in any process that
        retrieves the job). For the job of a primitive, its ``PrimitiveResult``. Downloaded
        once and cached; cancelling the wait leaves the remote job alone.

        Args:
            timeout: Seconds to wait for the job at most.
            partial: Accepted for the classic signature: a platform job succeeds or fails
                as a whole, so there is no partial result.
            refresh: Download the result again even if it is cached.

        Raises:
            IBMQJobTimeoutError: The job was not final within ``timeout``.
            IBMQJobInvalidStateError: The job was cancelled.
            IBMQJobFailureError: The job failed or ran too long; the message has the
                platform's reason and reason code.
            IBMQJobApiError: The service could not be reached (after retries), or the
                result does not fit the job's circuits.
        """
        if not self.is_backend_run:
            return await self.primitive_result(timeout=timeout, refresh=refresh)
        if self._result is not None and not refresh:
            return self._result
        primitive = await self.primitive_result(timeout=timeout, refresh=refresh)
        circuits = await self.circuits()
        config = self._backend.configuration()
        try:
            result = sampler_result_to_result(
                primitive,
                job_id=self.job_id(),
                backend_name=self._record.backend,
                backend_version=config.backend_version,
                circuits=circuits,
                date=self._record.ended,
            )
        except PlatformResultError as error:
            raise IBMQJobApiError(
                f"Unable to read the result of job {self.job_id()}: {error}"
            ) from error
        self._result = result
        return result

    def __await__(self) -> Generator[Any, None, Any]:
        return self.result().__await__()

    async def error_message(self) -> str | None:
        """Why the job failed or was cancelled, once it is final.

        Waits for the job to be final first.

        Returns:
            ``None`` for a completed job; otherwise the state, the platform's reason and
            reason code (``"Failed: the simulation failed. Error code: 1517."``,
            ``"Cancelled - Ran too long: ... Error code: 1305."``).

        Raises:
            IBMQJobApiError: The service could not be reached.
        """
        await self.wait_for_final_state()
        if self._status is JobStatus.DONE:
            return None
        return job_error_message((await self._final_state_record()).state)

    # --- cancel -------------------------------------------------------------------------

    async def cancel(self, *, timeout: float | None = None) -> bool:
        """Cancel the job and wait until the service confirms it.

        Args:
            timeout: Seconds to wait for the confirmation at most.

        Returns:
            ``True`` once the job is CANCELLED.

        Raises:
            IBMQJobInvalidStateError: The job ended in another final state (it finished or
                failed first); the message names the state.
            IBMQJobTimeoutError: No final state within ``timeout``.
            IBMQJobApiError: The service refused or could not be reached.
        """
        if not self._status.is_final:
            try:
                await self._client.jobs.cancel(self.job_id(), timeout=timeout)
            except ApiStatusError as error:
                if error.status_code != 409:  # 409: it had ended; the wait says how
                    raise IBMQJobApiError(
                        f"Unable to cancel job {self.job_id()}: {error}"
                    ) from error
            except ApiError as error:
                raise IBMQJobApiError(f"Unable to cancel job {self.job_id()}: {error}") from error
            await self.wait_for_final_state(timeout=timeout)
        if self._status is JobStatus.CANCELLED:
            return True
        raise IBMQJobInvalidStateError(
            f"Job {self.job_id()} was not cancelled: it ended {self._record.state.status} "
            f"({self._status.name})."
        )

    # --- details ------------------------------------------------------------------------

    async def metrics(self, *, timeout: float | None = None) -> JobMetrics:
        """The job's metrics: timestamps, usage, queue position, circuits and shots.

        Raises:
            IBMQJobApiError: The request failed (after retries).
        """
        with job_api_errors(self.job_id(), "get the metrics of"):
            return await self._client.jobs.metrics(self.job_id(), timeout=timeout)

    async def usage(self, partial: bool = False, *, timeout: float | None = None) -> float:
        """The quantum seconds the job was charged.

        Args:
            partial: Return the usage counted so far even if it is not final yet.

        Returns:
            The seconds; ``0`` until the usage is final, unless ``partial``.

        Raises:
            IBMQJobApiError: The request failed (after retries).
        """
        usage = (await self.metrics(timeout=timeout)).usage
        if usage.status != "final" and not partial:
            return 0.0
        return float(usage.quantum_seconds)

    async def logs(self, *, timeout: float | None = None) -> str:
        """The job's log (when it was created, started and ended), once it has ended.

        Raises:
            IBMQJobInvalidStateError: The job has not ended (the platform keeps the logs
                of ended jobs only).
            IBMQJobApiError: The request failed (after retries).
        """
        try:
            return await self._client.jobs.logs(self.job_id(), timeout=timeout)
        except ApiNotFoundError as error:
            if not (await self.status()).is_final:
                raise IBMQJobInvalidStateError(
                    f"Job {self.job_id()} has no logs yet: they are kept once it has ended "
                    f"(it is {self._status.name})."
                ) from error
            raise IBMQJobApiError(
                f"Unable to get the logs of job {self.job_id()}: {error}"
            ) from error
        except ApiError as error:
            raise IBMQJobApiError(
                f"Unable to get the logs of job {self.job_id()}: {error}"
            ) from error

    async def properties(self) -> BackendProperties | None:
        """The backend properties in force when the job started running (or was created).

        Raises:
            IBMQJobApiError: The request failed.
            IBMQBackendApiError: The properties could not be fetched.
        """
        running = (await self.metrics()).timestamps.running
        return await self._backend.properties(datetime=running or self.creation_date())

    async def update_tags(
        self,
        replacement_tags: Sequence[str] | None = None,
        additional_tags: Sequence[str] | None = None,
        removal_tags: Sequence[str] | None = None,
    ) -> list[str]:
        """Change the job's tags.

        The hidden tags (submission key, name, ``backend.run``) and those that bind the job
        to a job set (``ibmq_jobset_...``) are always kept, and cannot be added by hand.

        Args:
            replacement_tags: The new tags; when given, the other arguments are ignored.
            additional_tags: Tags to add.
            removal_tags: Tags to remove.

        Returns:
            The job's tags as the service has them now (without the hidden ones).

        Raises:
            IBMQInputValueError: No change was asked for, or a reserved tag was given.
            IBMQJobApiError: The service refused, or could not be reached.
        """
        if replacement_tags is None and additional_tags is None and removal_tags is None:
            raise IBMQInputValueError(
                "give replacement_tags, additional_tags or removal_tags to update tags"
            )
        for group in (replacement_tags, additional_tags, removal_tags):
            if isinstance(group, str):
                raise IBMQInputValueError(f"tags must be a list of strings, got {group!r}")
            for tag in group or ():
                if not isinstance(tag, str) or not tag:
                    raise IBMQInputValueError(f"tags must be non-empty strings, got {tag!r}")
                if tag.startswith(_RESERVED_PREFIXES) or tag == BACKEND_RUN_TAG:
                    raise IBMQInputValueError(f"the tag {tag!r} is reserved and cannot be changed")
        current = self._record.tags
        if replacement_tags is not None:
            wanted = list(dict.fromkeys(replacement_tags))
        else:
            removal = set(removal_tags or ())
            wanted = [
                t for t in dict.fromkeys([*current, *(additional_tags or ())]) if t not in removal
            ]
        kept = [t for t in current if (_is_hidden(t) or t.startswith(JOB_SET_TAG_PREFIX))]
        wanted += [t for t in kept if t not in wanted]
        with job_api_errors(self.job_id(), "update the tags of"):
            await self._client.jobs.replace_tags(self.job_id(), wanted)
        await self._fetch()
        return self.tags()

    # --- handles ------------------------------------------------------------------------

    def to_handle(self) -> dict[str, Any]:
        """A small JSON-compatible handle to find the job again, e.g. in another process."""
        return {
            "version": _HANDLE_VERSION,
            "channel": HANDLE_CHANNEL,
            "job_id": self.job_id(),
            "backend": self._backend.name(),
            "instance": self._client.instance,
        }

    def to_json(self) -> str:
        """The handle of :meth:`to_handle` as a JSON string."""
        return json.dumps(self.to_handle(), sort_keys=True)

    @classmethod
    async def from_handle(
        cls, handle: str | dict[str, Any], provider: PlatformProvider
    ) -> PlatformJob:
        """Find a job again from the handle :meth:`to_handle` or :meth:`to_json` made.

        Args:
            handle: The handle, as a dict or a JSON string.
            provider: The provider of the job's instance.

        Raises:
            IBMQBackendValueError: The handle is malformed, is not a platform job's, or
                names another instance than the provider's.
            IBMQBackendApiError: The job cannot be fetched.
        """
        try:
            data: Any = json.loads(handle) if isinstance(handle, str) else handle
        except json.JSONDecodeError as error:
            raise IBMQBackendValueError(f"a job handle is a JSON object: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("job_id"), str):
            raise IBMQBackendValueError("a job handle is an object with a string 'job_id'")
        if data.get("version", _HANDLE_VERSION) != _HANDLE_VERSION:
            raise IBMQBackendValueError(f"unknown job handle version {data.get('version')!r}")
        if data.get("channel") != HANDLE_CHANNEL:
            raise IBMQBackendValueError(
                "this handle is not of a platform job: give it to IBMQJob.from_handle with a "
                "provider of the classic channel"
            )
        instance = data.get("instance")
        if instance is not None and instance != provider.instance:
            raise IBMQBackendValueError(
                f"the job belongs to the instance {instance}, not to this provider's "
                f"({provider.instance}): enable that instance to retrieve it"
            )
        return await provider.retrieve_job(data["job_id"])
