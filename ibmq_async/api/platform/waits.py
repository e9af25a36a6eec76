"""Waiting for platform jobs: what the shared :class:`~ibmq_async.api.waits.JobWaits` needs
to know of the platform's jobs, and how it polls them.

The platform has no push channel, so every wait is served by the client's one poller. A
poll of many jobs is the instance's pending listing (``GET /v1/jobs?pending=true``, a page
of up to 1,000 jobs, more pages while jobs waited on are missing): a job in it is still
queued or running; a job absent from it has ended (or is new), and JobWaits fetches it once
on its own (``GET /v1/jobs/{id}``). With backoff from 0.5 s to a cap, and the polls of
every job aligned on the same instants, a thousand waiting jobs cost about one listing a
second, not a thousand requests.

The states are ``ibmq_async.platform.states``': ``Completed``, ``Failed``, ``Cancelled``
and ``Cancelled - Ran too long`` are final (the last an error state, so no wait on it
hangs), and a state the platform does not define fails the waits on that job with
:class:`~ibmq_async.platform.errors.PlatformJobStateError`.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ibmq_async.api.platform.jobs import MAX_PAGE_SIZE, Jobs, PlatformJobQuery
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.waits import PollingPolicy, StatusKind
from ibmq_async.exceptions import ApiProtocolError
from ibmq_async.models.job import JobStatus
from ibmq_async.models.platform import Job

__all__ = [
    "DEFAULT_PLATFORM_POLLING",
    "MAX_PENDING_PAGES",
    "PLATFORM_STATUS",
    "PendingStatuses",
    "checked_job",
    "platform_job_status",
]

DEFAULT_PLATFORM_POLLING = PollingPolicy(initial=0.5, maximum=5.0)
"""Polls of a job from 0.5 s apart, doubling to 5 s (qiskit-ibm-runtime polls every 5 s)."""

MAX_PENDING_PAGES = 10
"""The most pages of the pending listing one poll reads (10,000 pending jobs); jobs waited
on beyond them are fetched one by one."""

_FINAL = frozenset({JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR})
_STAGE = {JobStatus.QUEUED: 0, JobStatus.RUNNING: 1}


def platform_job_status(job: Job) -> JobStatus:
    """The :class:`JobStatus` of a platform job's state.

    Raises:
        PlatformJobStateError: The state is not one the platform defines.
    """
    # Imported here: ibmq_async.platform's package may import this API layer.
    from ibmq_async.platform.states import job_status

    return job_status(job.state)


def checked_job(job: Job) -> Job:
    """``job``, once its state is known to be one the platform defines.

    Raises:
        PlatformJobStateError: It is not.
    """
    platform_job_status(job)
    return job


def _is_final(job: Job) -> bool:
    return platform_job_status(job) in _FINAL


def _stage(job: Job) -> int:
    status = platform_job_status(job)
    return 2 if status in _FINAL else _STAGE.get(status, 0)


def _news(last: Job, new: Job) -> bool:
    """A new state (or a new reason for it); not a recomputed estimate."""
    return (last.state.status, last.state.reason_code) != (new.state.status, new.state.reason_code)


PLATFORM_STATUS: StatusKind[Job] = StatusKind(is_final=_is_final, stage=_stage, news=_news)
"""How the waits read platform jobs (``Cancelled - Ran too long`` is final: an error)."""


class PendingStatuses:
    """The statuses of many jobs from the pending listing (a JobWaits ``fetch_statuses``).

    Args:
        jobs: The client's jobs resource.
        retry: The retry policy of each page (the resource's if ``None``).
        max_pages: The most pages one poll reads.
    """

    def __init__(
        self, jobs: Jobs, *, retry: RetryPolicy | None = None, max_pages: int = MAX_PENDING_PAGES
    ) -> None:
        self._jobs = jobs
        self._retry = retry
        self._max_pages = max_pages
        self.listings = 0

    async def __call__(self, job_ids: Sequence[str]) -> Mapping[str, Job]:
        """The jobs of ``job_ids`` that are in the pending listing (queued or running).

        A job missing from the answer (it ended, or the listing has more pages than are
        read) is fetched on its own by the waits; so is one whose state is unknown, whose
        fetch then fails that job's waits only.

        Raises:
            ApiError: A page failed (after retries): the waits on these jobs fail with it.
        """
        wanted = set(job_ids)
        found: dict[str, Job] = {}
        offset = 0
        query = PlatformJobQuery(pending=True)
        for _ in range(self._max_pages):
            self.listings += 1
            answer = await self._jobs.page(
                query, limit=MAX_PAGE_SIZE, offset=offset, retry=self._retry
            )
            for job in answer.jobs:
                if job.id in wanted:
                    try:
                        found[job.id] = checked_job(job)
                    except ApiProtocolError:
                        continue
            offset += len(answer.jobs)
            if len(found) == len(wanted) or len(answer.jobs) < MAX_PAGE_SIZE:
                break
            if offset >= answer.count:
                break
        return found
