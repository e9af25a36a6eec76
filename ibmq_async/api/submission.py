"""Exactly-once job submission, for any API that can tag a job and find it by that tag.

Creating a job is not idempotent: a lost answer leaves it unknown whether the job was
made. Each submission therefore has a key, carried by a tag on the job (and, where the
API has one, an idempotency header): after an ambiguous failure the next attempt looks
for the job by its tag before it creates another. Under any mix of faults one submission
makes at most one job.

The machinery is the API's steps (:class:`SubmissionSteps`) driven by one retry loop
(:func:`~ibmq_async.api.retry.call_with_retry`). Every step is a single request; the loop
retries. An attempt runs whatever steps remain from where the last one failed:

1. *find* (only after an ambiguous create, or when asked to look first): the jobs with
   the tag; a started one is the submission;
2. *create*: a job, or (an API that honours the key) the job an earlier attempt made;
3. *upload* (classic only): the job's data;
4. *start* (classic only): after an ambiguous start the next attempt *reads* the job
   first and stops if it started.

The budget is the deadline. Failures of find, create, start and read count against the
policy's ``max_attempts`` (so a listing answering 503 every time is asked at most that
many times); failures of the upload, which may be repeated at no risk, do not: it keeps
retrying, with backoff, while the deadline allows. A submission that fails for good
deletes (or, if it may have started, cancels) the job it made, and its error says so,
or says which job it left and why.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

from ibmq_async.api.retry import (
    Call,
    RetryPolicy,
    call_with_retry,
    may_have_reached_the_server,
)
from ibmq_async.exceptions import ApiError, ApiStatusError

__all__ = [
    "SUBMISSION_TAG_PREFIX",
    "Created",
    "SubmissionSteps",
    "submission_tag",
    "submit_exactly_once",
]

logger = logging.getLogger("ibmq_async")

J = TypeVar("J")
"""The API's job record."""
P = TypeVar("P")
"""What a created, not yet started, job needs to be finished (the classic upload URL)."""
R = TypeVar("R")

SUBMISSION_TAG_PREFIX = "ibmq_async_submission_"
"""Prefix of the job tag that carries a submission key: ``f"{prefix}{key}"``."""

CLEANUP_SECONDS = 10.0
"""How long deleting or cancelling the job of a failed submission may take."""


def submission_tag(key: str) -> str:
    """The job tag that marks the submission with key ``key``."""
    return f"{SUBMISSION_TAG_PREFIX}{key}"


@dataclass(frozen=True)
class Created(Generic[P, J]):
    """What the create step made.

    Attributes:
        job_id: The job's id.
        started: The job, if it needs nothing more (an API that creates jobs started, or
            a key the server had seen, whose job was started).
        pending: What the remaining steps need, if it is not started.
    """

    job_id: str
    started: J | None = None
    pending: P | None = None


@dataclass(frozen=True)
class SubmissionSteps(Generic[P, J]):
    """One API's steps of a submission. Each is a single request; none retries.

    Attributes:
        create: Make the job, tagged with the submission's tag.
        find: The jobs carrying the submission's tag, oldest first.
        job_id: The id of a job record.
        is_started: Whether a job record shows the job past creation.
        discard: Delete, or cancel if ``may_have_started``, a job of a failed submission.
        upload: Send the job's data (repeating it is harmless), if the API has the step.
        start: Start an uploaded job, if the API has the step.
        read: Read a job record (to reconcile an ambiguous start).
    """

    create: Callable[[], Awaitable[Created[P, J]]]
    find: Callable[[], Awaitable[Sequence[J]]]
    job_id: Callable[[J], str]
    is_started: Callable[[J], bool]
    discard: Callable[[str, bool], Awaitable[None]]
    upload: Callable[[P], Awaitable[None]] | None = None
    start: Callable[[str], Awaitable[J]] | None = None
    read: Callable[[str], Awaitable[J]] | None = None


@dataclass
class _Progress(Generic[P, J]):
    """Where a submission stands between attempts."""

    look_first: bool
    created: Created[P, J] | None = None
    create_ambiguous: bool = False
    creating: bool = False
    uploaded: bool = False
    start_ambiguous: bool = False
    step: str = ""
    unstarted: dict[str, J] = field(default_factory=dict)  # made by a server ignoring keys
    tried: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


_UNCOUNTED_STEPS = frozenset({"upload"})
"""Steps that keep retrying while the deadline allows, whatever ``max_attempts`` says."""


async def submit_exactly_once(
    steps: SubmissionSteps[P, J],
    *,
    what: str,
    policy: RetryPolicy,
    look_first: bool,
    timeout: float | None = None,
) -> J:
    """Run a submission's steps under one retry loop; return the started job.

    Args:
        steps: The API's steps.
        what: The submission in words, for logs and errors (``"job 3 to ibmq_vigo (key
            k)"``).
        policy: The retry policy of the loop (its deadline is the budget).
        look_first: Look for a job with the tag before the first create (resuming a key
            that may have been used).
        timeout: Seconds for the whole submission (the policy's deadline applies too).

    Raises:
        ApiError: The submission failed for good: not retryable (e.g.
            :class:`ApiJobLimitError`: no job was made), or the attempts or the deadline
            ran out. Its message says what was tried and what became of the job.
    """
    progress: _Progress[P, J] = _Progress(look_first=look_first)

    async def attempt() -> J:
        try:
            return await _advance(steps, progress)
        except ApiError as error:
            progress.failures[f"{progress.step} ({_reason(error)})"] += 1
            raise

    try:
        return await call_with_retry(
            attempt,
            policy=policy,
            idempotent=True,  # every step is reconciled or harmless to repeat
            call=Call(f"Submitting {what}"),
            timeout=timeout,
            counts=lambda _: progress.step not in _UNCOUNTED_STEPS,
        )
    except ApiError as error:
        fate = await _settle(steps, progress)
        _annotate(error, f"{_tried(progress)}; {fate}")
        raise


async def _advance(steps: SubmissionSteps[P, J], progress: _Progress[P, J]) -> J:
    """Run the remaining steps, from where the previous attempt stopped."""
    if progress.created is None:
        if progress.look_first or progress.create_ambiguous:
            found = await _run(progress, "find", steps.find())
            started = [job for job in found if steps.is_started(job)]
            progress.unstarted.update(
                (steps.job_id(job), job) for job in found if not steps.is_started(job)
            )
            if started:
                await _discard_unstarted(steps, progress, keep=steps.job_id(started[0]))
                return started[0]
        progress.creating = True  # stays set if the deadline cancels the create in flight
        try:
            created = await _run(progress, "create", steps.create())
        except ApiError as error:
            if may_have_reached_the_server(error):
                progress.create_ambiguous = True
            progress.creating = False
            raise
        progress.creating = False
        await _discard_unstarted(steps, progress, keep=created.job_id)
        if created.started is not None:
            return created.started
        progress.created = created
    created = progress.created
    if steps.upload is not None and not progress.uploaded:
        assert created.pending is not None
        await _run(progress, "upload", steps.upload(created.pending))
        progress.uploaded = True
    if steps.start is None:
        assert steps.read is not None, "an API without a start step returns started jobs"
        return await _run(progress, "read", steps.read(created.job_id))
    if progress.start_ambiguous and (job := await _started(steps, progress)) is not None:
        return job
    try:
        return await _run(progress, "start", steps.start(created.job_id))
    except ApiStatusError as error:
        status = error.status_code or 0
        refused = 400 <= status < 500 and status not in (408, 429)
        if refused and progress.start_ambiguous and (job := await _started(steps, progress)):
            return job  # e.g. "already uploaded": the earlier attempt went through
        if may_have_reached_the_server(error):
            progress.start_ambiguous = True
        raise
    except ApiError as error:
        if may_have_reached_the_server(error):
            progress.start_ambiguous = True
        raise


async def _run(progress: _Progress[P, J], step: str, work: Awaitable[R]) -> R:
    progress.step = step
    progress.tried[step] += 1
    return await work


async def _started(steps: SubmissionSteps[P, J], progress: _Progress[P, J]) -> J | None:
    assert steps.read is not None
    assert progress.created is not None
    job = await _run(progress, "read", steps.read(progress.created.job_id))
    return job if steps.is_started(job) else None


async def _discard_unstarted(
    steps: SubmissionSteps[P, J], progress: _Progress[P, J], *, keep: str
) -> None:
    """Delete the jobs a server that ignores the key made for this submission."""
    for job_id in [job_id for job_id in progress.unstarted if job_id != keep]:
        try:
            await steps.discard(job_id, False)
        except ApiError as error:
            logger.warning("Could not delete the duplicate job %s: %s", job_id, error)
        else:
            logger.warning("Deleted job %s, a duplicate of a submission", job_id)
        del progress.unstarted[job_id]


async def _settle(steps: SubmissionSteps[P, J], progress: _Progress[P, J]) -> str:
    """After a final failure: remove the job the submission made, and say what became of it."""
    created = progress.created
    if created is None:
        if progress.create_ambiguous or progress.creating:
            return (
                "whether a job was made is unknown: submit again with the same "
                "submission key to find it, or look for the submission tag"
            )
        return "no job was made"
    may_have_started = progress.start_ambiguous
    action = "cancelled" if may_have_started else "deleted"
    with anyio.move_on_after(CLEANUP_SECONDS):
        try:
            await steps.discard(created.job_id, may_have_started)
        except ApiError as error:
            logger.warning(
                "Could not remove job %s of a failed submission: %s", created.job_id, error
            )
            return f"job {created.job_id} was left behind: it could not be {action} ({error})"
        return f"job {created.job_id}, made by this submission, was {action}"
    return f"job {created.job_id} was left behind: it could not be {action} in time"


def _reason(error: ApiError) -> str:
    if error.status_code is not None:
        return f"HTTP {error.status_code}"
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else type(error).__name__


def _tried(progress: _Progress[P, J]) -> str:
    done = ", ".join(f"{step} x{count}" for step, count in progress.tried.items())
    failed = ", ".join(f"{what} x{count}" for what, count in progress.failures.items())
    return f"tried: {done or 'nothing'}" + (f"; failed: {failed}" if failed else "")


def _annotate(error: ApiError, note: str) -> None:
    """Add what the submission tried, and the fate of its job, to the error's message."""
    error.message = f"{error.message} [{note}]"
    error.args = (error.message, *error.args[1:])
