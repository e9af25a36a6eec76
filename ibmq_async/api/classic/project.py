"""One hub/group/project of a classic account: its resources, its waits, its submissions.

:class:`ProjectClient` is what a provider talks to. Its resources each have one
coroutine per endpoint (:attr:`~ProjectClient.backends`, :attr:`~ProjectClient.jobs`,
:attr:`~ProjectClient.storage`); :meth:`~ProjectClient.submit` runs the classic API's
three submission steps exactly once (:mod:`ibmq_async.api.submission`), and
:attr:`~ProjectClient.waits` shares the status waits of the project's jobs (the status
websocket, else batched polls).
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ibmq_async.api.classic.backends import Backends
from ibmq_async.api.classic.jobs import Jobs
from ibmq_async.api.classic.storage import ObjectStorage, encode_qobj
from ibmq_async.api.classic.urls import ProjectUrls
from ibmq_async.api.classic.websocket import ClassicStatusStream
from ibmq_async.api.retry import SINGLE_ATTEMPT, RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.api.submission import (
    CLEANUP_SECONDS,
    Created,
    SubmissionSteps,
    submission_tag,
    submit_exactly_once,
)
from ibmq_async.api.waits import DEFAULT_POLLING_POLICY, JobWaits, PollingPolicy, StatusKind
from ibmq_async.models import (
    ApiJobStatus,
    JobRecord,
    JobStatusResponse,
    PulseQobj,
    QasmQobj,
)

__all__ = ["CLASSIC_STATUS", "ProjectClient"]

_STAGE = {
    ApiJobStatus.CREATING: 0,
    ApiJobStatus.CREATED: 0,
    ApiJobStatus.TRANSPILING: 0,
    ApiJobStatus.TRANSPILED: 0,
    ApiJobStatus.VALIDATING: 1,
    ApiJobStatus.VALIDATED: 1,
    ApiJobStatus.QUEUED: 2,
    ApiJobStatus.PENDING_IN_QUEUE: 2,
    ApiJobStatus.RUNNING: 3,
}
"""How far along a job is; final statuses are past every stage."""


def _stage(status: JobStatusResponse) -> int:
    return 4 if status.status.is_final else _STAGE.get(status.status, 0)


def _news(last: JobStatusResponse, new: JobStatusResponse) -> bool:
    """A new status, or a new place in the queue (not an estimated time recomputed)."""
    if new.status is not last.status:
        return True
    before, after = last.queue_info, new.queue_info
    if before is None or after is None:
        return before is not after
    return (before.position, before.status) != (after.position, after.status)


CLASSIC_STATUS: StatusKind[JobStatusResponse] = StatusKind(
    is_final=lambda status: status.status.is_final, stage=_stage, news=_news
)
"""How the waits read the classic API's status documents."""


class ProjectClient:
    """The classic API of one hub/group/project (``{HGP}``) of an account.

    Made by :meth:`Connection.project <ibmq_async.api.classic.connection.Connection.project>`,
    which returns one per hub/group/project so that waits on a job are shared.

    Args:
        session: The HTTP session of the connection.
        api_url: The API base URL (``urls.http`` of ``/users/me``).
        ws_url: The websocket base URL (``urls.ws``), or ``None`` to always poll.
        hub: The hub.
        group: The group.
        project: The project.
        retry: The default retry policy of its resources (the session's if ``None``).
        polling: How waits poll and reconnect the websocket.

    Attributes:
        backends: Configurations, properties, defaults, status, job limits, reservations.
        jobs: Creating, reading, changing and listing jobs.
        storage: Uploading Qobjs, downloading Qobjs and results.
        waits: The status waits of the project's jobs.
    """

    def __init__(
        self,
        session: HttpSession,
        api_url: str,
        ws_url: str | None,
        hub: str,
        group: str,
        project: str,
        *,
        retry: RetryPolicy | None = None,
        polling: PollingPolicy = DEFAULT_POLLING_POLICY,
    ) -> None:
        self._session = session
        self.urls = ProjectUrls(api_url.rstrip("/"), hub, group, project)
        self.ws_url = ws_url
        self._retry = retry
        self.backends = Backends(session, self.urls, retry=retry)
        self.jobs = Jobs(session, self.urls, retry=retry)
        self.storage = ObjectStorage(session, self.urls, retry=retry)

        async def fetch_status(job_id: str) -> JobStatusResponse:
            return await self.jobs.status(job_id)

        stream = ClassicStatusStream(session, ws_url, fetch_status, polling) if ws_url else None
        self.waits: JobWaits[JobStatusResponse] = JobWaits(
            session,
            fetch_status,
            kind=CLASSIC_STATUS,
            policy=polling,
            fetch_statuses=self.jobs.statuses,
            stream=stream,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(hub={self.hub!r}, group={self.group!r}, "
            f"project={self.project!r}, api_url={self.api_url!r})"
        )

    @property
    def hub(self) -> str:
        """The hub."""
        return self.urls.hub

    @property
    def group(self) -> str:
        """The group."""
        return self.urls.group

    @property
    def project(self) -> str:
        """The project."""
        return self.urls.project

    @property
    def api_url(self) -> str:
        """The API base URL."""
        return self.urls.api

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of the project's resources."""
        return self._retry or self._session.retry

    async def submit(
        self,
        backend_name: str,
        qobj: Mapping[str, Any] | QasmQobj | PulseQobj | bytes,
        *,
        job_name: str | None = None,
        job_tags: Sequence[str] | None = None,
        experiment_id: str | None = None,
        live_data_enabled: bool | None = None,
        submission_key: str | None = None,
        check_existing: bool | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> JobRecord:
        """Create, upload and start a job, exactly once (:mod:`ibmq_async.api.submission`).

        The submission has a key (``submission_key``, or a new UUID), sent as the
        ``Idempotency-Key`` header of the create call and kept as the job tag
        ``f"{SUBMISSION_TAG_PREFIX}{key}"``. When a create or start call fails in a way
        that leaves it unknown whether the server acted on it (a lost response, a read
        timeout, a 5xx), the next attempt first looks for the job by that tag (or re-reads
        the job) instead of blindly creating another. Under any mix of faults, one call
        makes at most one job.

        Every step is one request inside one retry loop. The lookups, creates and starts
        are bounded by ``retry.max_attempts``; the upload, harmless to repeat, keeps
        retrying while the deadline allows.

        Passing the ``submission_key`` of an earlier call that failed or was interrupted
        resumes it: if a started job with that key exists, it is returned.

        Args:
            backend_name: The backend to run on.
            qobj: The Qobj (a model, its JSON-compatible dict, or its JSON encoded).
            job_name: A name for the job.
            job_tags: Tags for the job (the submission tag is added).
            experiment_id: Sent as ``experimentTag``.
            live_data_enabled: Sent as ``liveDataEnabled``.
            submission_key: The key of this submission (a new UUID if ``None``).
            check_existing: Look for a job with the key's tag before the first create
                call (one more request); defaults to whether ``submission_key`` was given.
                Pass ``False`` for a key known to be new.
            timeout: Seconds for the whole submission (the policy's deadline applies too).
            retry: The retry policy of the submission's loop.

        Returns:
            The job as the start call (or the reconciliation) returned it.

        Raises:
            ApiJobLimitError: Too many active jobs on the backend (error 3458); no job was
                made.
            ApiTimeoutError: The deadline expired; resubmit with the same
                ``submission_key`` to find out whether the job was made.
            ApiError: A step failed for good. The message says what was tried, and that
                the job made was deleted (or cancelled, if it may have started), or which
                job was left behind and why.
        """
        key = submission_key or uuid.uuid4().hex
        tag = submission_tag(key)
        tags = [*(job_tags or [])]
        if tag not in tags:
            tags.append(tag)
        content = qobj if isinstance(qobj, bytes) else encode_qobj(qobj)
        jobs = self.jobs

        async def create() -> Created[str, JobRecord]:
            made = await jobs.create(
                backend_name,
                job_name=job_name,
                job_tags=tags,
                experiment_id=experiment_id,
                live_data_enabled=live_data_enabled,
                submission_key=key,
                retry=SINGLE_ATTEMPT,
            )
            if made.status not in (None, ApiJobStatus.CREATING.value):
                # The key was seen before and that job was started: it is the submission.
                started = await jobs.get(made.job_id, retry=SINGLE_ATTEMPT)
                return Created(made.job_id, started=started)
            return Created(made.job_id, pending=made.object_storage_info.upload_url)

        async def find() -> list[JobRecord]:
            return await jobs.find_by_tag(tag, retry=SINGLE_ATTEMPT)

        async def upload(url: str) -> None:
            await self.storage.upload(url, content, retry=SINGLE_ATTEMPT)

        async def start(job_id: str) -> JobRecord:
            return await jobs.start(job_id, retry=SINGLE_ATTEMPT)

        async def read(job_id: str) -> JobRecord:
            return await jobs.get(job_id, retry=SINGLE_ATTEMPT)

        steps: SubmissionSteps[str, JobRecord] = SubmissionSteps(
            create=create,
            find=find,
            job_id=lambda job: job.job_id,
            is_started=lambda job: job.status is not ApiJobStatus.CREATING,
            discard=self._discard,
            upload=upload,
            start=start,
            read=read,
        )
        return await submit_exactly_once(
            steps,
            what=f"a job to {backend_name} (submission key {key})",
            policy=retry or self.retry,
            look_first=submission_key is not None if check_existing is None else check_existing,
            timeout=timeout,
        )

    async def _discard(self, job_id: str, may_have_started: bool) -> None:
        """Remove the job of a failed submission: cancel it if it may run, else delete it."""
        policy = self.retry.replace(max_attempts=2, deadline=CLEANUP_SECONDS)
        if may_have_started:
            await self.jobs.cancel(job_id, retry=policy)
        else:
            await self.jobs.delete(job_id, retry=policy)
