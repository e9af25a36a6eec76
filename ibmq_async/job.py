"""``IBMQJob``: a job on an IBM Quantum backend, with coroutine methods.

A job caches what cannot change: its status once final, its result once downloaded and its
Qobj. Every other call asks the service. Waiting uses the job status websocket, falling
back to polling with backoff; many waiters on one job share one stream.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ibmq_async.api import SUBMISSION_TAG_PREFIX
from ibmq_async.exceptions import (
    ApiError,
    ApiJobWaitTimeoutError,
    IBMQBackendValueError,
    IBMQInputValueError,
    IBMQJobApiError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobTimeoutError,
)
from ibmq_async.models import (
    ApiJobStatus,
    BackendProperties,
    JobRecord,
    JobStatus,
    JobStatusResponse,
    QueueInfo,
    Result,
)

if TYPE_CHECKING:
    from ibmq_async.api.classic import ProjectClient
    from ibmq_async.backend import IBMQBackend
    from ibmq_async.models import PulseQobj, QasmQobj
    from ibmq_async.provider import AccountProvider

__all__ = ["JOB_SET_TAG_PREFIX", "IBMQJob", "StatusCallback", "job_api_errors"]

JOB_SET_TAG_PREFIX = "ibmq_jobset_"
"""Tags that bind a job to a job set; they survive every tag update."""

StatusCallback = Callable[[str, JobStatus, "IBMQJob", QueueInfo | None], Awaitable[None] | None]
"""``callback(job_id, status, job, queue_info)``: sync or async, called on each status change."""

_HANDLE_VERSION = 1


def _visible_tags(tags: Sequence[str]) -> list[str]:
    return [tag for tag in tags if not tag.startswith(SUBMISSION_TAG_PREFIX)]


@contextmanager
def job_api_errors(job_id: str, action: str) -> Iterator[None]:
    """Turn API errors into :class:`IBMQJobApiError`, chained from the cause."""
    try:
        yield
    except ApiError as error:
        raise IBMQJobApiError(f"Unable to {action} job {job_id}: {error}") from error


class IBMQJob:
    """A job submitted to a backend.

    Jobs are made by :meth:`IBMQBackend.run`, :meth:`IBMQBackend.retrieve_job` and the job
    listings; they are not constructed by users. ``await job`` waits for and returns the
    result.
    """

    def __init__(
        self,
        backend: IBMQBackend,
        record: JobRecord,
        api: ProjectClient,
        *,
        qobj: QasmQobj | PulseQobj | None = None,
    ) -> None:
        self._backend = backend
        self._api = api
        self._record = record
        self._status: ApiJobStatus = record.status
        self._queue_info: QueueInfo | None = (
            record.info_queue if record.status is ApiJobStatus.QUEUED else None
        )
        self._result: Result | None = None
        self._qobj = qobj
        self._record_is_final = record.status.is_final

    # --- identity -----------------------------------------------------------------------

    def job_id(self) -> str:
        """The id of the job."""
        return self._record.job_id

    def backend(self) -> IBMQBackend:
        """The backend the job runs on."""
        return self._backend

    def creation_date(self) -> datetime:
        """When the job was created (timezone-aware, UTC)."""
        return self._record.creation_date

    def name(self) -> str | None:
        """The job name, if it has one."""
        return self._record.name

    def tags(self) -> list[str]:
        """The job's tags, those of its user and of its job set.

        The tag that records the job's submission key (``ibmq_async_submission_...``) stays
        on the service, hidden here (``record.tags`` has it).
        """
        return _visible_tags(self._record.tags)

    @property
    def experiment_id(self) -> str | None:
        """The experiment id given at submission, if any."""
        return self._record.experiment_id

    @property
    def record(self) -> JobRecord:
        """The job record as last received from the service.

        A job seen to end (by a wait or a status call) is not fetched again until
        something needs the final record (``time_per_step()``, ``error_message()``,
        ``refresh()``); until then the record may show an earlier status.
        """
        return self._record

    async def _final_record(self) -> JobRecord:
        """The record as of the final status, fetched once when the job has ended."""
        if self._status.is_final and not self._record_is_final:
            await self._refresh()
        return self._record

    @property
    def client_version(self) -> dict[str, str]:
        """The client names and versions that submitted the job, as the service recorded them."""
        info = self._record.client_info or {}
        names = str(info.get("name", "")).split(",")
        versions = str(info.get("version", "")).split(",")
        return {n: v for n, v in zip(names, versions, strict=False) if n}

    def __repr__(self) -> str:
        # The status as status() names it (DONE, not the API's COMPLETED).
        return (
            f"<IBMQJob {self.job_id()!r} backend={self._backend.name()!r} "
            f"status={self._status.job_status.name}>"
        )

    # --- status -------------------------------------------------------------------------

    def _apply_status(self, response: JobStatusResponse) -> bool:
        """Record a status from the service; return whether it changed what users see."""
        before = (self._status, self._queue_info)
        self._status = response.status
        self._queue_info = response.queue_info
        if response.queue_info is not None and response.queue_info.job_id is None:
            self._queue_info = response.queue_info.model_copy(update={"job_id": self.job_id()})
        return before != (self._status, self._queue_info)

    async def _refresh(self, *, timeout: float | None = None) -> None:
        with job_api_errors(self.job_id(), "refresh"):
            record = await self._api.jobs.get(self.job_id(), timeout=timeout)
        self._record = record
        self._record_is_final = record.status.is_final
        self._status = record.status
        if record.status is not ApiJobStatus.QUEUED:
            self._queue_info = None
        elif record.info_queue is not None:
            self._queue_info = record.info_queue

    async def refresh(self, *, timeout: float | None = None) -> None:
        """Fetch the job record again.

        Raises:
            IBMQJobApiError: The request failed (after the client's retries).
        """
        await self._refresh(timeout=timeout)

    @property
    def api_status(self) -> ApiJobStatus:
        """The last API status seen, without asking the service."""
        return self._status

    async def status(self, *, timeout: float | None = None) -> JobStatus:
        """The status of the job.

        A final status is cached and answered without a request.

        Raises:
            IBMQJobApiError: The request failed (after the client's retries).
        """
        if self._status.is_final:
            return self._status.job_status
        with job_api_errors(self.job_id(), "get the status of"):
            response = await self._api.jobs.status(self.job_id(), timeout=timeout)
        self._apply_status(response)
        return self._status.job_status

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

    async def queue_info(self, *, timeout: float | None = None) -> QueueInfo | None:
        """Where the job stands in the queue, asked of the service now.

        Returns:
            Queue info while the job is queued; ``None`` otherwise.

        Raises:
            IBMQJobApiError: The request failed.
        """
        await self.status(timeout=timeout)
        return self._queue_info

    async def queue_position(self, refresh: bool = False) -> int | None:
        """The job's position in the queue.

        Args:
            refresh: Ask the service; otherwise answer from the last status seen.

        Returns:
            The position while the job is queued; ``None`` otherwise.
        """
        if refresh:
            await self.status()
        return self._queue_info.position if self._queue_info else None

    async def wait_for_final_state(
        self,
        timeout: float | None = None,
        callback: StatusCallback | None = None,
    ) -> JobStatus:
        """Wait until the job is done, cancelled or failed.

        Uses the status websocket, falling back to polling with backoff; other waiters on
        the same job share the stream. Cancelling the wait does not cancel the job.

        Args:
            timeout: Seconds to wait at most; ``None`` waits as long as it takes.
            callback: Called on each status change as
                ``callback(job_id, status, job, queue_info)``; may be a coroutine function.

        Returns:
            The final status.

        Raises:
            IBMQJobTimeoutError: The job was not final within ``timeout``.
            IBMQJobApiError: The service could not be reached (after retries).
        """
        if self._status.is_final:
            return self._status.job_status

        on_status = None if callback is None else self._status_reporter(callback)
        try:
            # Without a callback the job needs only the final status: such a wait is not
            # woken by the statuses on the way (thousands of waits then cost nothing).
            final = await self._api.waits.wait_for_final(
                self.job_id(), timeout=timeout, on_status=on_status
            )
        except ApiJobWaitTimeoutError as error:
            if error.last_status is not None:
                self._apply_status(error.last_status)
            raise IBMQJobTimeoutError(
                f"Timeout while waiting for job {self.job_id()} "
                f"(last status {self._status.job_status.name}, timeout {timeout} s)"
            ) from error
        except ApiError as error:
            raise IBMQJobApiError(f"Unable to wait for job {self.job_id()}: {error}") from error
        self._apply_status(final)
        return self._status.job_status

    def _status_reporter(
        self, callback: StatusCallback
    ) -> Callable[[JobStatusResponse], Awaitable[None]]:
        """What a wait calls with each status: record it, and call ``callback`` if what it
        shows (status, queue info) changed."""
        reported: tuple[ApiJobStatus, QueueInfo | None] | None = None

        async def on_status(response: JobStatusResponse) -> None:
            nonlocal reported
            self._apply_status(response)
            current = (self._status, self._queue_info)
            if current == reported:
                return
            reported = current
            outcome = callback(self.job_id(), self._status.job_status, self, self._queue_info)
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
        last = self._status.job_status
        yield last
        if self._status.is_final:
            return
        with job_api_errors(self.job_id(), "watch"):
            async for response in self._api.waits.watch(self.job_id()):
                self._apply_status(response)
                current = self._status.job_status
                if current is not last:
                    last = current
                    yield current
                if self._status.is_final:
                    break

    # --- result -------------------------------------------------------------------------

    async def result(
        self, timeout: float | None = None, partial: bool = False, refresh: bool = False
    ) -> Result:
        """Wait for the job to finish and return its result.

        The result is downloaded once and cached. Cancelling this coroutine stops the wait
        at once and leaves the remote job alone.

        Args:
            timeout: Seconds to wait for the job at most.
            partial: Return the result even if some experiments (or the job) failed, when
                the service has one; failed experiments have ``success == False``.
            refresh: Download the result again even if it is cached.

        Raises:
            IBMQJobTimeoutError: The job was not final within ``timeout``.
            IBMQJobInvalidStateError: The job was cancelled.
            IBMQJobFailureError: The job failed (the message says why), or some experiments
                failed and ``partial`` is false.
            IBMQJobApiError: The service could not be reached (after retries).
        """
        if self._result is not None and not refresh:
            return self._checked_result(self._result, partial)
        await self.wait_for_final_state(timeout=timeout)
        if self._status is ApiJobStatus.CANCELLED:
            raise IBMQJobInvalidStateError(
                f"Unable to retrieve the result of job {self.job_id()}: the job was cancelled."
            )
        result: Result | None = None
        if self._status is ApiJobStatus.COMPLETED:
            with job_api_errors(self.job_id(), "download the result of"):
                result = await self._api.storage.result(self.job_id())
        elif self._status is ApiJobStatus.ERROR_RUNNING_JOB:
            try:
                result = await self._api.storage.result(self.job_id())
            except ApiError:
                result = None
        if self._status.job_status is JobStatus.ERROR:
            if partial and result is not None:
                self._result = result
                return result
            raise IBMQJobFailureError(
                f"Unable to retrieve the result of job {self.job_id()}: the job failed. "
                f"{await self._error_text(result)}"
            )
        assert result is not None
        self._result = result
        return self._checked_result(result, partial)

    def _checked_result(self, result: Result, partial: bool) -> Result:
        if not partial and not result.success:
            raise IBMQJobFailureError(
                f"Unable to retrieve the result of job {self.job_id()}: "
                f"{self._failed_experiments_text(result)} Use result(partial=True) to get "
                "the experiments that succeeded."
            )
        return result

    @staticmethod
    def _failed_experiments_text(result: Result) -> str:
        lines = [
            f"Experiment {index}: {experiment.status or 'failed'}"
            for index, experiment in enumerate(result.results)
            if not experiment.success
        ]
        if not lines:
            return f"The job failed: {result.status or 'no reason given'}."
        return "The following experiments failed:\n" + "\n".join(lines)

    async def _error_text(self, result: Result | None) -> str:
        if result is not None and any(not item.success for item in result.results):
            return self._failed_experiments_text(result)
        with contextlib.suppress(IBMQJobApiError):
            await self._final_record()
        if self._record.error is not None:
            return self._record.error.render()
        if result is not None and not result.success:
            return self._failed_experiments_text(result)
        return f"The job ended in {self._status.job_status.name} ({self._status.value})."

    def __await__(self) -> Generator[Any, None, Result]:
        return self.result().__await__()

    async def error_message(self) -> str | None:
        """Why the job failed, once it is final.

        Waits for the job to be final first.

        Returns:
            ``None`` unless the job failed (or some of its experiments did).

        Raises:
            IBMQJobApiError: The service could not be reached.
        """
        await self.wait_for_final_state()
        if self._status is ApiJobStatus.COMPLETED:
            result = await self.result(partial=True)
            return None if result.success else self._failed_experiments_text(result)
        if self._status.job_status is not JobStatus.ERROR:
            return None
        failed_result: Result | None = None
        if self._status is ApiJobStatus.ERROR_RUNNING_JOB:
            try:
                failed_result = await self._api.storage.result(self.job_id())
            except ApiError:
                failed_result = None
        return await self._error_text(failed_result)

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
            with job_api_errors(self.job_id(), "cancel"):
                await self._api.jobs.cancel(self.job_id(), timeout=timeout)
            await self.wait_for_final_state(timeout=timeout)
        if self._status is ApiJobStatus.CANCELLED:
            return True
        raise IBMQJobInvalidStateError(
            f"Job {self.job_id()} was not cancelled: it ended in {self._status.job_status.name}."
        )

    # --- details ------------------------------------------------------------------------

    async def time_per_step(self) -> dict[str, datetime] | None:
        """When the job entered each API status (UTC), refreshed unless the job is final.

        Raises:
            IBMQJobApiError: The request failed.
        """
        if (
            not self._status.is_final
            or not self._record_is_final
            or self._record.time_per_step is None
        ):
            await self._refresh()
        return dict(self._record.time_per_step) if self._record.time_per_step else None

    def scheduling_mode(self) -> str | None:
        """How the job was scheduled (``"fairshare"`` or ``"dedicated"``), once it ran."""
        if self._record.run_mode:
            return self._record.run_mode
        if self._status in (ApiJobStatus.RUNNING, ApiJobStatus.COMPLETED):
            return "fairshare"
        return None

    async def update_name(self, name: str) -> str:
        """Rename the job.

        Raises:
            IBMQInputValueError: The name is not a string.
            IBMQJobApiError: The service refused or did not echo the new name.
        """
        if not isinstance(name, str):
            raise IBMQInputValueError(f"a job name must be a string, got {type(name).__name__}")
        with job_api_errors(self.job_id(), "rename"):
            echoed = await self._api.jobs.rename(self.job_id(), name)
        self._record = self._record.model_copy(update={"name": echoed})
        return echoed

    async def update_tags(
        self,
        replacement_tags: Sequence[str] | None = None,
        additional_tags: Sequence[str] | None = None,
        removal_tags: Sequence[str] | None = None,
    ) -> list[str]:
        """Change the job's tags.

        Tags that bind the job to a job set (``ibmq_jobset_...``) and the submission key
        tag are always kept, and cannot be added by hand; the submission key tag is not
        shown (see :meth:`tags`).

        Args:
            replacement_tags: The new tags; when given, the other arguments are ignored.
            additional_tags: Tags to add.
            removal_tags: Tags to remove.

        Returns:
            The job's tags as the service echoed them (without the submission key tag).

        Raises:
            IBMQInputValueError: No change was asked for, or a reserved tag was given.
            IBMQJobApiError: The service refused or did not echo the tags.
        """
        reserved = (JOB_SET_TAG_PREFIX, SUBMISSION_TAG_PREFIX)
        if replacement_tags is None and additional_tags is None and removal_tags is None:
            raise IBMQInputValueError(
                "give replacement_tags, additional_tags or removal_tags to update tags"
            )
        for group in (replacement_tags, additional_tags, removal_tags):
            for tag in group or ():
                if not isinstance(tag, str):
                    raise IBMQInputValueError(f"tags must be strings, got {tag!r}")
                if tag.startswith(reserved):
                    raise IBMQInputValueError(f"the tag {tag!r} is reserved and cannot be changed")
        current = self._record.tags
        if replacement_tags is not None:
            wanted = list(dict.fromkeys(replacement_tags))
        else:
            removal = set(removal_tags or ())
            wanted = [
                t for t in dict.fromkeys([*current, *(additional_tags or ())]) if t not in removal
            ]
        wanted += [t for t in current if t.startswith(reserved) and t not in wanted]
        with job_api_errors(self.job_id(), "update the tags of"):
            echoed = await self._api.jobs.retag(self.job_id(), wanted)
        self._record = self._record.model_copy(update={"tags": list(echoed)})
        return _visible_tags(echoed)

    async def properties(self) -> BackendProperties | None:
        """The backend properties in force when the job ran.

        Raises:
            IBMQJobApiError: The request failed.
        """
        with job_api_errors(self.job_id(), "get the properties of"):
            return await self._api.jobs.properties(self.job_id())

    async def qobj(self) -> QasmQobj | PulseQobj:
        """The Qobj the job ran (downloaded once, then cached).

        Raises:
            IBMQJobApiError: The download failed.
        """
        if self._qobj is None:
            with job_api_errors(self.job_id(), "download the Qobj of"):
                self._qobj = await self._api.storage.qobj(self.job_id())
        return self._qobj

    async def header(self) -> dict[str, Any]:
        """The Qobj header the job was submitted with."""
        qobj = await self.qobj()
        return qobj.header.model_dump(mode="json", by_alias=True) if qobj.header else {}

    async def circuits(self) -> list[Any]:
        """The circuits of the job, rebuilt as Qiskit ``QuantumCircuit`` objects.

        Raises:
            IBMQJobApiError: The Qobj download failed.
            ImportError: Qiskit is not installed (``pip install 'ibmq-async[qiskit]'``).
        """
        from ibmq_async.circuits import qobj_to_circuits

        qobj = await self.qobj()
        return qobj_to_circuits(qobj.to_wire())

    # --- handles ------------------------------------------------------------------------

    def to_handle(self) -> dict[str, Any]:
        """A small JSON-compatible handle to find the job again, e.g. after a restart."""
        provider = self._backend.provider()
        return {
            "version": _HANDLE_VERSION,
            "job_id": self.job_id(),
            "backend": self._backend.name(),
            "hub": provider.hub,
            "group": provider.group,
            "project": provider.project,
        }

    def to_json(self) -> str:
        """The handle of :meth:`to_handle` as a JSON string."""
        return json.dumps(self.to_handle(), sort_keys=True)

    @classmethod
    async def from_handle(cls, handle: str | dict[str, Any], provider: AccountProvider) -> IBMQJob:
        """Find a job again from the handle :meth:`to_handle` or :meth:`to_json` made.

        Args:
            handle: The handle, as a dict or a JSON string.
            provider: A provider of the account (the handle's hub/group/project is used if
                the account has it).

        Raises:
            IBMQBackendValueError: The handle is malformed.
            IBMQBackendApiError: The job cannot be fetched.
        """
        data: Any = json.loads(handle) if isinstance(handle, str) else handle
        if not isinstance(data, dict) or not isinstance(data.get("job_id"), str):
            raise IBMQBackendValueError("a job handle is an object with a string 'job_id'")
        if data.get("version", _HANDLE_VERSION) != _HANDLE_VERSION:
            raise IBMQBackendValueError(f"unknown job handle version {data.get('version')!r}")
        target = provider.sibling(data.get("hub"), data.get("group"), data.get("project"))
        return await target.retrieve_job(data["job_id"])
