"""Concurrent batch submission: ``IBMQJobManager``, ``ManagedJobSet`` and ``ManagedResults``.

A job set splits many experiments into jobs, submits them concurrently while keeping the
set's active jobs at or under the backend's job limit, and collects their results in the
order of the experiments.

Work happens while you await the set: ``run()`` submits as many jobs as the limit allows
and returns; the rest are submitted as earlier jobs finish, while you await
``results()``, ``as_completed()`` or ``wait()``. No task outlives the call that started it,
so the set works the same on asyncio and trio and never leaves orphan tasks behind.

Every chunk is submitted with a deterministic submission key (the set id and the chunk
index), so a chunk is never created twice: not after a retry, not after the submitting
process died and the set is resumed with ``run(..., job_set_id=...)`` or
:meth:`ManagedJobSet.resume`.

The same sets run on both channels. On the platform channel (a ``PlatformBackend``) the
platform's own limits shape the set instead of a job limit:

* a job has at most ``max_experiments_per_job`` circuits and at most
  :data:`~ibmq_async.platform.pubs.MAX_EXECUTIONS` executions (circuits times shots);
* job creation goes through the provider's pacer (``job_rate=`` of ``enable_account``):
  with the rate known no creation is refused; without it the set sends 5 creations at a
  time (IBM's documented rate per minute), so learning the rate from the service's 429s
  costs a few refusals, each waited out by its ``Retry-After``; ``run()`` submits what one
  window of the rate lets through and returns;
* the instance's usage: the set reads it first, learns from its first job what a job
  costs (the platform's estimate) and stops submitting before a job would go past the
  limit, or when the platform refuses one for it
  (:class:`~ibmq_async.exceptions.IBMQJobManagerUsageLimitError` says how much is left);
  what was submitted still runs and is collected;
* ``use_batch=True`` puts every job of the set in one platform ``Batch``.

The platform has no job names: a job's name (``<set name>_<index>_``) rides in a hidden
tag, beside the set's tag and its layout tag, so a set is found again by its tags alone.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio

from ibmq_async.api import SUBMISSION_TAG_PREFIX
from ibmq_async.backend import IBMQBackend
from ibmq_async.circuits import is_quantum_circuit
from ibmq_async.exceptions import (
    ApiError,
    IBMQBackendApiError,
    IBMQBackendJobLimitError,
    IBMQError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobManagerInvalidStateError,
    IBMQJobManagerJobNotFound,
    IBMQJobManagerTimeoutError,
    IBMQJobManagerUnknownJobSet,
    IBMQJobManagerUsageLimitError,
    IBMQManagedResultDataNotAvailable,
    RateLimitedError,
    UsageLimitError,
)
from ibmq_async.job import JOB_SET_TAG_PREFIX, IBMQJob
from ibmq_async.models import ApiJobStatus, JobStatus, Result
from ibmq_async.platform.backend import PlatformBackend
from ibmq_async.platform.job import PlatformJob
from ibmq_async.platform.pubs import MAX_EXECUTIONS
from ibmq_async.platform.sessions import SESSION_CLOSED_CODE, Batch
from ibmq_async.platform.states import job_error_message, job_status
from ibmq_async.platform.target import check_circuits

if TYPE_CHECKING:
    from ibmq_async.models.platform import InstanceUsage
    from ibmq_async.platform.provider import PlatformProvider
    from ibmq_async.provider import AccountProvider

__all__ = [
    "AnyBackend",
    "AnyJob",
    "IBMQJobManager",
    "ManagedJob",
    "ManagedJobSet",
    "ManagedResults",
    "ProgressCallback",
]

logger = logging.getLogger("ibmq_async")

LAYOUT_TAG_PREFIX = "ibmq_async_jobset_layout_"
"""Tag recording how a set was split: ``<prefix><experiments>_<per job>``."""

_RETRY_SUFFIX = re.compile(r"-r(\d+)$")
_NAME_PATTERN = re.compile(r"^(.*)_([0-9]+)_$")
_DEFAULT_MAX_CONCURRENT = 32
_LIMIT_RETRY_FIRST = 1.0
_LIMIT_RETRY_CAP = 30.0
_RATE_LIMIT_WAIT = 60.0
"""Seconds a set waits after a 429 that gave no ``Retry-After`` (IBM's window is a minute)."""
_DOCUMENTED_JOB_RATE = 5
"""Jobs a user may create per minute on IBM Quantum Platform, as IBM documents it: the
creations a platform set sends at once when the provider knows no rate, so that an
unknown rate costs a few 429s in the first window, not one per chunk."""

AnyBackend = IBMQBackend | PlatformBackend
"""A backend of either channel: the classic ``IBMQBackend`` or a ``PlatformBackend``."""

AnyJob = IBMQJob | PlatformJob
"""A job of either channel."""

ProgressCallback = Callable[[Mapping[str, int]], Awaitable[None] | None]
"""``callback(counts)``: counts of the set's jobs per state (``"PENDING"`` = not submitted,
then the names of :class:`JobStatus`); sync or async."""


_UNCHANGED: Any = object()
_FINISHED_STATES = frozenset({"DONE", "ERROR", "CANCELLED", "FAILED_SUBMISSION"})


@dataclass
class ManagedJob:
    """One chunk of a job set: experiments ``[start, end)`` and the job that runs them.

    Its :attr:`job`, :attr:`status` and :attr:`submit_error` make its :attr:`state`;
    change them with :meth:`set_state`, which keeps the set's counts of states right.
    """

    index: int
    start: int
    end: int
    job: AnyJob | None = None
    submit_error: IBMQError | None = None
    result: Result | None = None
    status: JobStatus | None = None
    attempt: int = 0
    submission_key: str | None = None
    may_exist: bool = False
    holds_slot: bool = False
    finished: anyio.Event = field(default_factory=anyio.Event)
    on_state_change: Callable[[str, str], None] | None = field(
        default=None, repr=False, compare=False
    )

    def set_state(
        self,
        *,
        job: AnyJob | None = _UNCHANGED,
        status: JobStatus | None = _UNCHANGED,
        submit_error: IBMQError | None = _UNCHANGED,
    ) -> bool:
        """Change what the chunk's :attr:`state` is made of (the arguments given), and
        tell ``on_state_change`` if the state changed. Returns whether it did."""
        before = self.state
        if job is not _UNCHANGED:
            self.job = job
        if status is not _UNCHANGED:
            self.status = status
        if submit_error is not _UNCHANGED:
            self.submit_error = submit_error
        after = self.state
        if after == before:
            return False
        if self.on_state_change is not None:
            self.on_state_change(before, after)
        return True

    @property
    def size(self) -> int:
        """How many experiments the chunk has."""
        return self.end - self.start

    @property
    def state(self) -> str:
        """``"PENDING"`` before submission, ``"FAILED_SUBMISSION"``, or the job status name."""
        if self.submit_error is not None:
            return "FAILED_SUBMISSION"
        if self.job is None or self.status is None:
            return "PENDING"
        return self.status.name

    @property
    def is_final(self) -> bool:
        """Whether the chunk is finished: its job ended and its result (if any) was fetched,
        or it could not be submitted. Nothing more happens to it without a retry."""
        return self.finished.is_set()


def _new_job_set_id() -> str:
    return f"{uuid.uuid4().hex}-{str(time.time()).replace('.', '')}"


def _chunk_bounds(total: int, per_job: int) -> list[tuple[int, int]]:
    return [(start, min(start + per_job, total)) for start in range(0, total, per_job)]


# --- what differs between the channels' jobs ---------------------------------------------


def _known_status(job: AnyJob) -> JobStatus:
    """The job's status as last received (no request)."""
    if isinstance(job, PlatformJob):
        return job_status(job.record.state)
    return job.api_status.job_status


def _known_final(job: AnyJob) -> bool:
    """Whether the job was final when last received."""
    if isinstance(job, PlatformJob):
        return _known_status(job).is_final
    return job.api_status.is_final


def _never_started(job: AnyJob) -> bool:
    """A classic job created but never uploaded (its submitting process died in between);
    a platform job is queued as it is made."""
    return isinstance(job, IBMQJob) and job.api_status is ApiJobStatus.CREATING


def _failure_detail(job: AnyJob) -> str | None:
    """Why a job that ended in error or was cancelled did, as the service said."""
    if isinstance(job, PlatformJob):
        return job_error_message(job.record.state)
    return job.record.error.render() if job.record.error else None


class _UsageBudget:
    """What an instance's usage leaves a platform job set.

    The seconds left when the set read the usage, less the platform's estimate of each
    job the set made since and of each submission in flight. What a job costs is learnt
    from the set's first job (its ``estimated_running_time_seconds``, per experiment):
    until it is known, one submission goes at a time.

    Args:
        usage: The instance's usage as read.
    """

    def __init__(self, usage: InstanceUsage) -> None:
        limits = [
            float(value)
            for value in (usage.usage_limit_seconds, usage.usage_allocation_seconds)
            if value is not None
        ]
        self.usage = usage
        self.limit = min(limits) if limits else None
        consumed = float(usage.usage_consumed_seconds)
        if self.limit is not None:
            self.left_at_start: float | None = max(self.limit - consumed, 0.0)
        else:
            self.left_at_start = None
        if usage.usage_limit_reached:
            self.left_at_start = 0.0
        self.spent: dict[int, float] = {}
        self.reserved: dict[int, float] = {}
        self.per_experiment: float | None = None
        self.blind = False
        self._probing = False
        self._probed = anyio.Event()

    @property
    def limited(self) -> bool:
        """Whether the instance has a limit the set must keep under."""
        return self.left_at_start is not None

    def left(self) -> float:
        """The seconds left for more jobs (0 at least)."""
        assert self.left_at_start is not None
        used = sum(self.spent.values()) + sum(self.reserved.values())
        return max(self.left_at_start - used, 0.0)

    def need(self, size: int) -> float | None:
        """The seconds a job of ``size`` experiments is expected to cost, if known."""
        return None if self.per_experiment is None else self.per_experiment * size

    def learn(self, index: int, size: int, estimate: float | None, *, spent: bool = True) -> None:
        """Learn what a job costs from the platform's estimate of the job of chunk
        ``index``, and count it as spent (``spent``: it is not in the usage read yet)."""
        if estimate is None:
            self.blind = self.per_experiment is None
            return
        if spent:
            self.spent[index] = float(estimate)
        self.per_experiment = max(self.per_experiment or 0.0, float(estimate) / max(size, 1))

    async def reserve(self, index: int, size: int) -> tuple[float, float | None] | None:
        """Hold the share of chunk ``index``; ``None`` if it fits, else ``(left, need)``.

        While no job has told what a job costs, one submission at a time goes first.
        """
        if not self.limited:
            return None
        while self.per_experiment is None and not self.blind and self._probing:
            await self._probed.wait()
        left = self.left()
        need = self.need(size)
        if left <= 0.0 or (need is not None and need > left * (1 + 1e-9)):
            return left, need
        if self.per_experiment is None and not self.blind:
            self._probing = True
        self.reserved[index] = need or 0.0
        return None

    def release(self, index: int) -> None:
        """The submission of chunk ``index`` ended (its job, if made, was :meth:`learn`t)."""
        self.reserved.pop(index, None)
        if self._probing:
            self._probing = False
            probed, self._probed = self._probed, anyio.Event()
            probed.set()


def _refused_as_closed(error: BaseException) -> bool:
    """Whether the platform refused a job because its session or batch is closed."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApiError) and str(cause.error_code) == str(SESSION_CLOSED_CODE):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _usage_left_words(left: float, limit: float | None) -> str:
    of = f" of its {limit:g} s" if limit is not None else ""
    return f"{left:.3g} s{of} left"


class ManagedResults:
    """The results of a job set, addressed by the global index or name of an experiment."""

    def __init__(self, job_set: ManagedJobSet) -> None:
        self._job_set = job_set

    @property
    def success(self) -> bool:
        """Whether every experiment of every job succeeded."""
        return all(
            chunk.result is not None and chunk.result.success
            for chunk in self._job_set.managed_jobs()
        )

    def _locate(self, experiment: int | str) -> tuple[Result, int]:
        chunk, index = self._job_set.locate(experiment)
        if chunk.result is None:
            reason = str(chunk.submit_error) if chunk.submit_error else f"its job is {chunk.state}"
            raise IBMQManagedResultDataNotAvailable(
                f"No result for experiment {experiment!r} (job {chunk.index} of the set): {reason}"
            )
        experiment_result = chunk.result.results[index]
        if not experiment_result.success:
            raise IBMQManagedResultDataNotAvailable(
                f"Experiment {experiment!r} failed: {experiment_result.status or 'no reason given'}"
            )
        return chunk.result, index

    def get_counts(self, experiment: int | str) -> dict[str, int]:
        """The counts of one experiment, keyed by bitstrings as Qiskit formats them.

        Raises:
            IBMQJobManagerJobNotFound: No such experiment in the set.
            IBMQManagedResultDataNotAvailable: Its job or the experiment failed.
        """
        result, index = self._locate(experiment)
        counts = result.get_counts(index)
        assert isinstance(counts, dict)
        return counts

    def get_memory(self, experiment: int | str) -> list[Any]:
        """The per-shot memory of one experiment (run with ``memory=True``).

        Raises:
            IBMQJobManagerJobNotFound: No such experiment in the set.
            IBMQManagedResultDataNotAvailable: Its job or the experiment failed.
        """
        result, index = self._locate(experiment)
        return list(result.get_memory(index))

    def data(self, experiment: int | str) -> dict[str, Any]:
        """The raw data of one experiment (counts with hex keys, memory, ...).

        Raises:
            IBMQJobManagerJobNotFound: No such experiment in the set.
            IBMQManagedResultDataNotAvailable: Its job or the experiment failed.
        """
        result, index = self._locate(experiment)
        return result.results[index].data.model_dump(mode="json", exclude_none=True)

    def combine_results(self) -> Result:
        """One Result with every experiment of the set, in order.

        Raises:
            IBMQManagedResultDataNotAvailable: Some job has no result.
        """
        chunks = self._job_set.managed_jobs()
        missing = [chunk.index for chunk in chunks if chunk.result is None]
        if missing:
            raise IBMQManagedResultDataNotAvailable(
                f"Cannot combine results: jobs {missing} of the set have no result"
            )
        first = chunks[0].result
        assert first is not None
        experiments = [item for chunk in chunks if chunk.result for item in chunk.result.results]
        return first.model_copy(
            update={
                "results": experiments,
                "job_id": self._job_set.job_set_id(),
                "success": all(item.success for item in experiments),
            }
        )

    def __repr__(self) -> str:
        return f"<ManagedResults of job set {self._job_set.job_set_id()!r} success={self.success}>"


class ManagedJobSet:
    """A set of jobs that together run a list of experiments.

    Made by :meth:`IBMQJobManager.run` or :meth:`ManagedJobSet.retrieve`.
    """

    def __init__(
        self,
        *,
        backend: AnyBackend,
        job_set_id: str,
        name: str,
        tags: Sequence[str],
        experiment_count: int,
        per_job: int,
        max_concurrent_jobs: int,
        experiments: Sequence[Any] | None = None,
        experiment_names: Sequence[str | None] | None = None,
        run_config: Mapping[str, Any] | None = None,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        use_batch: bool = False,
    ) -> None:
        self._backend = backend
        self._id = job_set_id
        self._name = name
        self._tags = list(tags)
        self._experiment_count = experiment_count
        self._per_job = per_job
        self._experiments = list(experiments) if experiments is not None else None
        self._names: list[str | None] = (
            list(experiment_names) if experiment_names else [None] * experiment_count
        )
        self._run_config = dict(run_config or {})
        self._chunks = [
            ManagedJob(index=i, start=start, end=end)
            for i, (start, end) in enumerate(_chunk_bounds(experiment_count, per_job))
        ]
        self._counts: Counter[str] = Counter(chunk.state for chunk in self._chunks)
        for chunk in self._chunks:
            chunk.on_state_change = self._count_state_change
        self._slots = anyio.Semaphore(max(1, max_concurrent_jobs))
        self._slot_freed = anyio.Event()
        self._drive_lock = anyio.Lock()
        self._on_progress = on_progress
        self._progress_bar: Any = None
        self._want_progress_bar = progress
        self._reported: set[int] = set()
        self._budget: _UsageBudget | None = None
        self._budget_lock = anyio.Lock()
        self._budget_unreadable = False
        self._usage_stop: IBMQJobManagerUsageLimitError | None = None
        self._use_batch = use_batch
        self._batch: Batch | None = None
        self._batch_lock = anyio.Lock()
        self._creations_at_once: int | None = None
        if isinstance(backend, PlatformBackend):
            rate = backend.provider().api.pacer.rate
            self._creations_at_once = rate[0] if rate is not None else _DOCUMENTED_JOB_RATE
        self._creating = anyio.Semaphore(self._creations_at_once or 1)

    # --- identity -----------------------------------------------------------------------

    def job_set_id(self) -> str:
        """The id of the set (its jobs carry the tag ``ibmq_jobset_<id>_``)."""
        return self._id

    def name(self) -> str:
        """The name of the set (its jobs are named ``<name>_<index>_``)."""
        return self._name

    def tags(self) -> list[str]:
        """The user tags of the set's jobs."""
        return list(self._tags)

    def backend(self) -> AnyBackend:
        """The backend the set runs on."""
        return self._backend

    @property
    def on_platform(self) -> bool:
        """Whether the set runs on the platform channel (a ``PlatformBackend``)."""
        return isinstance(self._backend, PlatformBackend)

    @property
    def uses_batch(self) -> bool:
        """Whether the set's jobs join a platform ``Batch`` (``use_batch=True``)."""
        return self._use_batch

    @property
    def batch_id(self) -> str | None:
        """The platform batch the set's jobs join (``use_batch=True``), once it is open."""
        return None if self._batch is None else self._batch.session_id

    def usage_stop(self) -> IBMQJobManagerUsageLimitError | None:
        """Why the set stopped submitting for the instance's usage, if it did."""
        return self._usage_stop

    @property
    def set_tag(self) -> str:
        """The tag that marks every job of the set."""
        return f"{JOB_SET_TAG_PREFIX}{self._id}_"

    @property
    def layout_tag(self) -> str:
        """The tag that records how the experiments were split into jobs."""
        return f"{LAYOUT_TAG_PREFIX}{self._experiment_count}_{self._per_job}"

    @property
    def experiment_count(self) -> int:
        """How many experiments the set runs."""
        return self._experiment_count

    @property
    def experiments_per_job(self) -> int:
        """How many experiments each job runs (the last may run fewer)."""
        return self._per_job

    def show_progress(self, progress: bool, on_progress: ProgressCallback | None) -> None:
        """Show a progress bar (``progress``) and/or call ``on_progress`` from now on."""
        self._want_progress_bar = progress
        self._on_progress = on_progress

    def managed_jobs(self) -> list[ManagedJob]:
        """The chunks of the set, in order."""
        return list(self._chunks)

    def jobs(self) -> list[AnyJob | None]:
        """The job of each chunk, in order (``None`` where none was submitted yet)."""
        return [chunk.job for chunk in self._chunks]

    def job(self, experiment: int | str) -> tuple[AnyJob | None, int]:
        """The job that runs an experiment, and the experiment's index in that job.

        Args:
            experiment: Global index of the experiment, or its name.

        Raises:
            IBMQJobManagerJobNotFound: No such experiment in the set.
        """
        chunk, index = self.locate(experiment)
        return chunk.job, index

    def locate(self, experiment: int | str) -> tuple[ManagedJob, int]:
        """The chunk that runs an experiment, and the experiment's index in its job.

        Args:
            experiment: Global index of the experiment (negative from the end), or its name.

        Raises:
            IBMQJobManagerJobNotFound: No such experiment in the set.
        """
        if isinstance(experiment, str):
            if experiment not in self._names:
                raise IBMQJobManagerJobNotFound(f"No experiment named {experiment!r} in the set")
            position = self._names.index(experiment)
        elif isinstance(experiment, int) and not isinstance(experiment, bool):
            position = experiment + self._experiment_count if experiment < 0 else experiment
            if not 0 <= position < self._experiment_count:
                raise IBMQJobManagerJobNotFound(
                    f"Experiment index {experiment} is out of range: the set has "
                    f"{self._experiment_count} experiments"
                )
        else:
            raise IBMQJobManagerJobNotFound(
                f"An experiment is found by index or name, not by {type(experiment).__name__}"
            )
        chunk = self._chunks[position // self._per_job]
        return chunk, position - chunk.start

    def __repr__(self) -> str:
        counts = self._state_counts()
        summary = ", ".join(f"{state}={n}" for state, n in sorted(counts.items()))
        return f"<ManagedJobSet {self._name!r} id={self._id!r} jobs={len(self._chunks)} {summary}>"

    # --- progress -----------------------------------------------------------------------

    def _count_state_change(self, before: str, after: str) -> None:
        self._counts[before] -= 1
        self._counts[after] += 1

    def _state_counts(self) -> dict[str, int]:
        return {state: count for state, count in self._counts.items() if count}

    async def _report_progress(self) -> None:
        counts = self._state_counts()
        if self._progress_bar is not None:
            finished = sum(counts.get(state, 0) for state in _FINISHED_STATES)
            self._progress_bar.n = finished
            self._progress_bar.set_postfix(counts, refresh=False)
            self._progress_bar.refresh()
        if self._on_progress is not None:
            outcome = self._on_progress(counts)
            if inspect.isawaitable(outcome):
                await outcome

    def _open_progress_bar(self) -> None:
        if not self._want_progress_bar or self._progress_bar is not None:
            return
        try:
            # tqdm.auto picks the notebook widget in Jupyter, which needs ipywidgets (and
            # warns "IProgress not found" without it): the text bar is chosen on purpose
            # then, and works in a notebook too.
            if importlib.util.find_spec("ipywidgets") is not None:
                from tqdm.auto import tqdm
            else:
                from tqdm.std import tqdm
        except ImportError:
            logger.warning("progress=True needs tqdm: pip install 'ibmq-async[progress]'")
            self._want_progress_bar = False
            return
        self._progress_bar = tqdm(total=len(self._chunks), desc=f"job set {self._name}", unit="job")

    def _close_progress_bar(self, *, force: bool = False) -> None:
        if self._progress_bar is not None and (
            force or all(chunk.is_final for chunk in self._chunks)
        ):
            self._progress_bar.close()
            self._progress_bar = None

    # --- submission and waiting ------------------------------------------------------------

    def _chunk_experiments(self, chunk: ManagedJob) -> Any:
        if self._experiments is None:
            raise IBMQJobManagerInvalidStateError(
                f"Job {chunk.index} of set {self._id} was never submitted and the set has no "
                "experiments to submit it with; call resume(experiments) with the same experiments"
            )
        return self._experiments[chunk.start : chunk.end]

    def _submission_key(self, chunk: ManagedJob) -> str:
        if chunk.submission_key is not None:
            return chunk.submission_key
        suffix = f"-r{chunk.attempt}" if chunk.attempt else ""
        return f"{self._id}-{chunk.index}{suffix}"

    async def _acquire_slot(self, chunk: ManagedJob, *, wait: bool) -> bool:
        if chunk.holds_slot:
            return True
        if wait:
            await self._slots.acquire()
        else:
            try:
                self._slots.acquire_nowait()
            except anyio.WouldBlock:
                return False
        chunk.holds_slot = True
        return True

    def _release_slot(self, chunk: ManagedJob) -> None:
        if chunk.holds_slot:
            chunk.holds_slot = False
            self._slots.release()
            self._slot_freed.set()
            self._slot_freed = anyio.Event()

    def _fail_submission(self, chunk: ManagedJob, error: IBMQError) -> None:
        chunk.set_state(submit_error=error)
        self._release_slot(chunk)
        chunk.finished.set()

    async def _submit(self, chunk: ManagedJob) -> None:
        """Submit a chunk that holds a slot; wait out job-limit errors without busy looping,
        and on the platform 429s by their ``Retry-After``; stop for the instance's usage."""
        delay = _LIMIT_RETRY_FIRST
        while True:
            try:
                if isinstance(self._backend, PlatformBackend):
                    made = await self._submit_to_platform(self._backend, chunk)
                    if made is None:  # the set stopped for the usage
                        break
                    job: AnyJob = made
                else:
                    job = await self._backend.run(
                        self._chunk_experiments(chunk),
                        job_name=f"{self._name}_{chunk.index}_",
                        job_tags=[*self._tags, self.set_tag, self.layout_tag],
                        submission_key=self._submission_key(chunk),
                        check_existing=chunk.may_exist,
                        **self._run_config,
                    )
                chunk.set_state(job=job, status=_known_status(job))
                break
            except IBMQBackendJobLimitError:
                logger.info(
                    "Job set %s: job limit of %s reached; job %d waits for a slot (%.1f s at most)",
                    self._id,
                    self._backend.name(),
                    chunk.index,
                    delay,
                )
                freed = self._slot_freed
                with anyio.move_on_after(delay):
                    await freed.wait()
                delay = min(delay * 2, _LIMIT_RETRY_CAP)
            except RateLimitedError as error:
                wait = error.retry_after if error.retry_after is not None else _RATE_LIMIT_WAIT
                logger.info(
                    "Job set %s: job creation is rate limited; job %d waits %.1f s (Retry-After)",
                    self._id,
                    chunk.index,
                    wait,
                )
                await anyio.sleep(wait)
            except UsageLimitError as error:
                self._fail_submission(chunk, self._stop_for_usage(self._refused_for_usage(error)))
                break
            except IBMQError as error:
                self._fail_submission(chunk, error)
                logger.warning(
                    "Job set %s: job %d was not submitted: %s", self._id, chunk.index, error
                )
                break
            except BaseException:
                chunk.may_exist = True  # interrupted: the job may have been made all the same
                raise
        await self._report_progress()
        await self._close_batch_once_all_submitted()

    async def _submit_to_platform(
        self, backend: PlatformBackend, chunk: ManagedJob
    ) -> PlatformJob | None:
        """Submit a chunk on the platform within the instance's usage, with at most as many
        creations at once as one window of the job rate takes; ``None`` (the chunk failed)
        if the set stopped for the usage."""
        async with self._creating:
            return await self._create_on_platform(backend, chunk)

    async def _create_on_platform(
        self, backend: PlatformBackend, chunk: ManagedJob
    ) -> PlatformJob | None:
        budget = await self._usage_budget(backend)
        if budget is not None and self._usage_stop is None:
            refused = await budget.reserve(chunk.index, chunk.size)
            if refused is not None:
                self._stop_for_usage(self._would_exceed(budget, *refused))
        if self._usage_stop is not None:
            self._fail_submission(chunk, self._usage_stop)
            return None
        try:
            for reopened in (False, True):
                batch = await self._open_batch(backend)
                try:
                    job = await backend.run(
                        self._chunk_experiments(chunk),
                        job_name=f"{self._name}_{chunk.index}_",
                        job_tags=[*self._tags, self.set_tag, self.layout_tag],
                        submission_key=self._submission_key(chunk),
                        check_existing=chunk.may_exist,
                        session_id=None if batch is None else batch.session_id,
                        **self._run_config,
                    )
                    break
                except IBMQBackendApiError as error:
                    if batch is None or reopened or not _refused_as_closed(error):
                        raise
                    # The platform closed the batch (its time ran out): the rest go in a new one.
                    logger.info(
                        "Job set %s: batch %s takes no more jobs; opening another",
                        self._id,
                        batch.session_id,
                    )
                    await batch.close()
            if budget is not None:
                budget.learn(chunk.index, chunk.size, job.record.estimated_running_time_seconds)
            return job
        finally:
            if budget is not None:
                budget.release(chunk.index)

    # --- the batch (platform) ---------------------------------------------------------------

    async def _open_batch(self, backend: PlatformBackend) -> Batch | None:
        """The set's open batch (``use_batch``), opened when first needed."""
        if not self._use_batch:
            return None
        async with self._batch_lock:
            if self._batch is None or self._batch.closed:
                batch = Batch(backend)
                await batch.open()
                logger.info("Job set %s: its jobs join batch %s", self._id, batch.session_id)
                self._batch = batch
            return self._batch

    async def _close_batch_once_all_submitted(self) -> None:
        """Close the batch (it takes no more jobs; those in it run) once no chunk is left
        to submit."""
        batch = self._batch
        if batch is None or batch.closed:
            return
        if any(chunk.job is None and chunk.submit_error is None for chunk in self._chunks):
            return
        try:
            await batch.close()
        except ApiError as error:
            logger.warning(
                "Job set %s: batch %s was not closed: %s", self._id, batch.session_id, error
            )

    # --- the instance's usage (platform) ---------------------------------------------------

    async def _usage_budget(self, backend: PlatformBackend) -> _UsageBudget | None:
        """The set's usage budget, read from the instance when first needed (``None`` if
        it could not be read: the platform's refusal then stops the set)."""
        if self._budget is None and not self._budget_unreadable:
            async with self._budget_lock:
                if self._budget is None and not self._budget_unreadable:
                    try:
                        usage = await backend.provider().usage()
                    except IBMQError as error:
                        logger.warning(
                            "Job set %s: the instance's usage could not be read (%s); the set "
                            "stops only if the platform refuses a job for it",
                            self._id,
                            error,
                        )
                        self._budget_unreadable = True
                        return None
                    self._budget = self._new_budget(usage)
        return self._budget

    def _new_budget(self, usage: InstanceUsage) -> _UsageBudget:
        """A budget of ``usage``, which does not count yet the set's unfinished jobs."""
        budget = _UsageBudget(usage)
        for chunk in self._chunks:
            job = chunk.job
            if isinstance(job, PlatformJob):
                estimate = job.record.estimated_running_time_seconds
                budget.learn(chunk.index, chunk.size, estimate, spent=not _known_final(job))
        return budget

    def _would_exceed(
        self, budget: _UsageBudget, left: float, need: float | None
    ) -> IBMQJobManagerUsageLimitError:
        words = _usage_left_words(left, budget.limit)
        if need is None or left <= 0.0:
            reason = f"the instance's usage is used up ({words})"
        else:
            reason = (
                f"the next job would exceed the instance's usage limit: it needs about "
                f"{need:.3g} s, and {words}"
            )
        return IBMQJobManagerUsageLimitError(reason, remaining_seconds=left, usage=budget.usage)

    def _refused_for_usage(self, error: UsageLimitError) -> IBMQJobManagerUsageLimitError:
        usage = error.usage
        if usage is None:
            return IBMQJobManagerUsageLimitError(
                f"the platform refused new jobs: the instance has used its usage limit ({error})"
            )
        budget = _UsageBudget(usage)
        left = budget.left_at_start
        words = (
            _usage_left_words(left, budget.limit)
            if left is not None
            else "the instance reports no limit"
        )
        return IBMQJobManagerUsageLimitError(
            f"the platform refused new jobs: the instance has used its usage limit "
            f"({float(usage.usage_consumed_seconds):.3g} s used, {words})",
            remaining_seconds=left,
            usage=usage,
        )

    def _stop_for_usage(
        self, error: IBMQJobManagerUsageLimitError
    ) -> IBMQJobManagerUsageLimitError:
        """Stop submitting: every chunk not submitted yet (nor being submitted) fails with
        the first reason; returns it."""
        if self._usage_stop is None:
            self._usage_stop = error
            logger.warning("Job set %s stops submitting: %s", self._id, error)
        stop = self._usage_stop
        for chunk in self._chunks:
            if chunk.job is None and chunk.submit_error is None and not chunk.holds_slot:
                chunk.set_state(submit_error=stop)
                chunk.finished.set()
        return stop

    # --- following jobs ---------------------------------------------------------------------

    async def _follow(self, chunk: ManagedJob, *, timeout: float | None) -> None:
        """Submit the chunk if needed, wait for its job to end and fetch its result."""
        if chunk.is_final:
            return
        if chunk.job is None and chunk.submit_error is None:
            await self._acquire_slot(chunk, wait=True)
            if chunk.is_final:  # the set stopped submitting while the chunk waited
                self._release_slot(chunk)
                return
            await self._submit(chunk)
        job = chunk.job
        if job is None:
            return
        # A job found again after a restart may hold a slot without us knowing: count it.
        if not chunk.holds_slot and not _known_final(job):
            await self._acquire_slot(chunk, wait=True)

        async def on_status(*_: Any) -> None:
            if chunk.set_state(status=_known_status(job)):
                await self._report_progress()

        try:
            chunk.set_state(
                status=await job.wait_for_final_state(timeout=timeout, callback=on_status)
            )
        finally:
            if _known_final(job):
                self._release_slot(chunk)
        if chunk.status in (JobStatus.DONE, JobStatus.ERROR):
            try:
                chunk.result = await job.result(partial=True)
            except (IBMQJobFailureError, IBMQJobInvalidStateError):
                chunk.result = None
        chunk.finished.set()
        await self._report_progress()

    def _first_wave(self) -> int | None:
        """How many chunks ``run()`` submits at most before it returns: on the platform,
        what one window of the job rate lets through (``None``: as slots allow)."""
        return self._creations_at_once

    async def _drive(
        self,
        *,
        timeout: float | None = None,
        stop_after_first: bool = False,
        only_submit_now: bool = False,
    ) -> None:
        """Move the set forward while the caller awaits; see the module docstring."""
        async with self._drive_lock:
            self._open_progress_bar()
            wave = self._first_wave() if only_submit_now else None
            try:
                with anyio.fail_after(timeout) if timeout is not None else contextlib.nullcontext():
                    async with anyio.create_task_group() as group:
                        for chunk in self._chunks:
                            if chunk.is_final:
                                continue
                            if only_submit_now:
                                if chunk.job is None and chunk.submit_error is None:
                                    if wave is not None and wave <= 0:
                                        break
                                    if not await self._acquire_slot(chunk, wait=False):
                                        break
                                    wave = None if wave is None else wave - 1
                                    group.start_soon(self._submit, chunk)
                                continue
                            group.start_soon(
                                self._follow_then_maybe_stop, chunk, group, stop_after_first
                            )
            except TimeoutError as error:
                self._close_progress_bar(force=True)
                raise IBMQJobManagerTimeoutError(
                    f"Job set {self._id} was not finished within {timeout} s: "
                    f"{self._state_counts()}"
                ) from error
            except BaseException:  # cancelled (Ctrl-C) or failed: the bar ends its line now
                self._close_progress_bar(force=True)
                raise
            finally:
                self._close_progress_bar()

    async def _follow_then_maybe_stop(
        self, chunk: ManagedJob, group: anyio.abc.TaskGroup, stop_after_first: bool
    ) -> None:
        await self._follow(chunk, timeout=None)
        if stop_after_first and chunk.is_final:
            group.cancel_scope.cancel()

    async def submit_available(self) -> None:
        """Submit as many pending chunks as free slots allow now, and return."""
        await self._drive(only_submit_now=True)

    async def wait(self, timeout: float | None = None) -> None:
        """Submit every chunk and wait until every job is final.

        Raises:
            IBMQJobManagerTimeoutError: Not finished within ``timeout`` seconds.
        """
        await self._drive(timeout=timeout)

    # --- results and state --------------------------------------------------------------

    async def results(self, timeout: float | None = None, partial: bool = False) -> ManagedResults:
        """Wait for every job and return the results of the set.

        Args:
            timeout: Seconds to wait at most.
            partial: Return what succeeded even if some jobs or experiments failed; ask
                :meth:`error_messages` what did not.

        Raises:
            IBMQJobManagerTimeoutError: Not finished within ``timeout``.
            IBMQJobManagerJobNotFound: (never for a complete set).
            IBMQJobManagerUsageLimitError: The set stopped submitting for the instance's
                usage (platform) and ``partial`` is false; the message says how much usage
                is left and which jobs were not submitted.
            IBMQJobFailureError: Some job failed and ``partial`` is false; the message lists
                which.
        """
        await self.wait(timeout=timeout)
        managed = ManagedResults(self)
        if not partial and not managed.success:
            if self._usage_stop is not None:
                raise self._usage_stop_error(self._usage_stop)
            raise IBMQJobFailureError(
                f"Job set {self._id} did not fully succeed:\n{self.error_messages()}\n"
                "Use results(partial=True) to get what succeeded, or retry_failed()."
            )
        return managed

    def _usage_stop_error(
        self, stop: IBMQJobManagerUsageLimitError
    ) -> IBMQJobManagerUsageLimitError:
        submitted = sum(chunk.job is not None for chunk in self._chunks)
        return IBMQJobManagerUsageLimitError(
            f"Job set {self._id} stopped submitting after {submitted} of {len(self._chunks)} "
            f"jobs: {stop}. The submitted jobs ran and their results are collected "
            "(results(partial=True)); submit the others once usage is available again with "
            f"retry_failed() or run(..., job_set_id={self._id!r}).\n{self.error_messages()}",
            remaining_seconds=stop.remaining_seconds,
            usage=stop.usage,
        )

    async def as_completed(
        self, timeout: float | None = None
    ) -> AsyncIterator[tuple[AnyJob | None, Result | None]]:
        """Yield ``(job, result)`` for each job as it ends (result ``None`` if it failed).

        Submits pending chunks as slots free up. Each step drives the set inside its own
        task group until one more chunk ends, so no task group spans a ``yield``.

        Raises:
            IBMQJobManagerTimeoutError: Not finished within ``timeout`` seconds in all.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        yielded: set[int] = set()
        while True:
            ended = [c for c in self._chunks if c.is_final and c.index not in yielded]
            for chunk in ended:
                yielded.add(chunk.index)
                yield chunk.job, chunk.result
            if len(yielded) == len(self._chunks):
                return
            if ended:
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise IBMQJobManagerTimeoutError(
                    f"Job set {self._id} was not finished within {timeout} s"
                )
            await self._drive(timeout=remaining, stop_after_first=True)

    async def statuses(self) -> list[JobStatus | None]:
        """The status of each job, asked of the service (``None`` where no job exists)."""
        results: list[JobStatus | None] = [chunk.status for chunk in self._chunks]

        async def refresh(chunk: ManagedJob) -> None:
            if chunk.job is not None:
                chunk.set_state(status=await chunk.job.status())
                results[chunk.index] = chunk.status

        async with anyio.create_task_group() as group:
            for chunk in self._chunks:
                group.start_soon(refresh, chunk)
        return results

    def report(self, detailed: bool = True) -> str:
        """A text summary of the set: counts per state, and a line per job if detailed."""
        counts = self._state_counts()
        lines = [
            f"Job set name: {self._name}",
            f"          ID: {self._id}",
            f"        tags: {self._tags}",
            "Summary report:",
            f"       Total jobs: {len(self._chunks)}",
            *(f"  {state:>15}: {count}" for state, count in sorted(counts.items())),
        ]
        if detailed:
            lines.append("Detail report:")
            for chunk in self._chunks:
                job_id = chunk.job.job_id() if chunk.job else "-"
                lines.append(
                    f"  experiments {chunk.start}-{chunk.end - 1}: job {chunk.index} "
                    f"id={job_id} status={chunk.state}"
                )
                if chunk.submit_error is not None:
                    lines.append(f"    error: {chunk.submit_error}")
        return "\n".join(lines)

    def error_messages(self) -> str | None:
        """What failed in the set, one line per failed job or experiment; ``None`` if nothing."""
        lines: list[str] = []
        for chunk in self._chunks:
            prefix = f"experiments {chunk.start}-{chunk.end - 1} (job {chunk.index})"
            failed = [
                f"experiment {chunk.start + i}: {item.status or 'failed'}"
                for i, item in enumerate(chunk.result.results if chunk.result else [])
                if not item.success
            ]
            if chunk.submit_error is not None:
                lines.append(f"{prefix}: not submitted: {chunk.submit_error}")
            elif failed:
                lines.append(f"{prefix}: job {chunk.state}: " + "; ".join(failed))
            elif chunk.status in (JobStatus.ERROR, JobStatus.CANCELLED):
                reason = _failure_detail(chunk.job) if chunk.job else None
                detail = f": {reason}" if reason else ""
                lines.append(f"{prefix}: job {chunk.status.name}{detail}")
            elif chunk.is_final and (chunk.result is None or not chunk.result.success):
                lines.append(f"{prefix}: job {chunk.state} has no usable result")
        return "\n".join(lines) if lines else None

    async def cancel(self) -> None:
        """Cancel every job of the set that is not final, concurrently.

        Pending chunks are marked cancelled and will not be submitted. Jobs that ended
        before they could be cancelled keep their state.
        """

        async def cancel_one(chunk: ManagedJob) -> None:
            if chunk.job is None:
                return
            with contextlib.suppress(IBMQJobInvalidStateError):
                await chunk.job.cancel()
            status = await chunk.job.status()
            chunk.set_state(status=status)
            if status.is_final:
                self._release_slot(chunk)

        async with anyio.create_task_group() as group:
            for chunk in self._chunks:
                if chunk.job is None and chunk.submit_error is None:
                    chunk.set_state(
                        submit_error=IBMQJobManagerInvalidStateError("the job set was cancelled")
                    )
                    chunk.finished.set()
                elif not chunk.is_final:
                    group.start_soon(cancel_one, chunk)
        await self._report_progress()
        await self._close_batch_once_all_submitted()

    async def retry_failed(self, timeout: float | None = None) -> None:
        """Submit again every chunk whose job failed, was cancelled or was never submitted.

        The new jobs get a new submission key (so they are new jobs) and the same name and
        tags. On the platform, a chunk that has no job keeps its key: a submission that
        failed may have made its job all the same, and the key finds it rather than make a
        second; the instance's usage is read again first. Waits for them to finish.

        Raises:
            IBMQJobManagerInvalidStateError: The set has no experiments to submit (it was
                retrieved without them; call :meth:`resume` first).
            IBMQJobManagerTimeoutError: Not finished within ``timeout``.
        """
        if self.on_platform:
            self._usage_stop = None
            self._budget = None
            self._budget_unreadable = False
        for chunk in self._chunks:
            if chunk.submit_error is not None or chunk.status in (
                JobStatus.ERROR,
                JobStatus.CANCELLED,
            ):
                self._chunk_experiments(chunk)
                if chunk.job is not None or not self.on_platform:
                    chunk.attempt += 1
                    chunk.submission_key = None
                chunk.may_exist = True
                chunk.set_state(job=None, submit_error=None, status=None)
                chunk.result = None
                chunk.finished = anyio.Event()
        await self.wait(timeout=timeout)

    # --- resuming -------------------------------------------------------------------------

    @classmethod
    async def retrieve(
        cls,
        job_set_id: str,
        provider: AccountProvider | PlatformProvider,
        *,
        max_concurrent_jobs: int | None = None,
        use_batch: bool = False,
    ) -> ManagedJobSet:
        """Rebuild a job set from the service by its id.

        On the platform, a set whose jobs joined a batch (or ``use_batch``) puts the jobs it
        still submits in that batch while it takes jobs, else in a new one.

        Args:
            job_set_id: The id :meth:`job_set_id` gave.
            provider: A provider of the account that submitted the set (either channel).
            max_concurrent_jobs: The most jobs of the set to keep active at once.
            use_batch: Put the jobs still to submit in a platform batch.

        Raises:
            IBMQJobManagerUnknownJobSet: No job carries the set's tag.
            IBMQJobManagerInvalidStateError: The jobs' names or tags are not those of a set.
        """
        tag = f"{JOB_SET_TAG_PREFIX}{job_set_id}_"
        try:
            jobs: Sequence[AnyJob] = await provider.jobs(
                limit=None, job_tags=[tag], descending=False
            )
        except IBMQBackendApiError as error:
            raise IBMQJobManagerInvalidStateError(
                f"Unable to list the jobs of set {job_set_id}: {error}"
            ) from error
        if not jobs:
            raise IBMQJobManagerUnknownJobSet(f"No job set with id {job_set_id!r} was found")
        backend = jobs[0].backend()
        layout = next(
            (t for job in jobs for t in job.tags() if t.startswith(LAYOUT_TAG_PREFIX)), None
        )
        parsed: dict[int, AnyJob] = {}
        attempts: dict[int, int] = {}
        set_name = ""
        for job in jobs:
            match = _NAME_PATTERN.match(job.name() or "")
            if match is None:
                raise IBMQJobManagerInvalidStateError(
                    f"Job {job.job_id()} of set {job_set_id} has name {job.name()!r}, "
                    "not '<set name>_<index>_'"
                )
            set_name, index = match.group(1), int(match.group(2))
            attempts[index] = max(attempts.get(index, 0), _attempt_of(job))
            current = parsed.get(index)
            if current is None or _prefer(job, current):
                parsed[index] = job
        if layout is not None:
            total, per_job = (int(part) for part in layout[len(LAYOUT_TAG_PREFIX) :].split("_"))
        else:
            indices = sorted(parsed)
            if indices != list(range(len(indices))):
                raise IBMQJobManagerInvalidStateError(
                    f"Job set {job_set_id} has jobs {indices}: some are missing and the set "
                    "records no layout to rebuild it from"
                )
            raise IBMQJobManagerInvalidStateError(
                f"Job set {job_set_id} was not made by ibmq_async (no layout tag); "
                "its jobs can be listed with provider.jobs(job_tags=[...])"
            )
        user_tags = [
            t
            for t in jobs[0].tags()
            if not t.startswith((JOB_SET_TAG_PREFIX, LAYOUT_TAG_PREFIX, SUBMISSION_TAG_PREFIX))
        ]
        job_set = cls(
            backend=backend,
            job_set_id=job_set_id,
            name=set_name,
            tags=user_tags,
            experiment_count=total,
            per_job=per_job,
            max_concurrent_jobs=max_concurrent_jobs
            or await _default_concurrency(backend, None, len(_chunk_bounds(total, per_job))),
        )
        for chunk in job_set._chunks:
            # A submission of a resumed set may have reached the service unseen.
            chunk.may_exist = True
            chunk.attempt = attempts.get(chunk.index, 0)
        for index, job in parsed.items():
            if index >= len(job_set._chunks):
                raise IBMQJobManagerInvalidStateError(
                    f"Job {job.job_id()} has index {index}, beyond the "
                    f"{len(job_set._chunks)} jobs of the set"
                )
            chunk = job_set._chunks[index]
            if _never_started(job):
                # Created but never uploaded: the submitting process died in between.
                # Submitting again with the same key finishes that very job.
                chunk.submission_key = _submission_key_of(job)
                continue
            chunk.set_state(job=job, status=_known_status(job))
        await job_set._find_batch(use_batch)
        return job_set

    async def _find_batch(self, use_batch: bool) -> None:
        """Take up the batch of a retrieved platform set's newest job, if it has one."""
        backend = self._backend
        if not isinstance(backend, PlatformBackend):
            if use_batch:
                raise IBMQJobManagerInvalidStateError(
                    "use_batch=True needs a backend of the platform channel"
                )
            return
        batched = [job for job in self.jobs() if isinstance(job, PlatformJob) and job.session_id]
        self._use_batch = use_batch or bool(batched)
        if not batched:
            return
        session_id = max(batched, key=lambda job: job.creation_date()).session_id
        assert session_id is not None
        try:
            batch = await Batch.from_id(session_id, backend)
        except IBMQError as error:  # not a batch, gone, or unreachable: a new one then
            logger.info(
                "Job set %s: its batch %s is not taken up (%s)", self._id, session_id, error
            )
            return
        if not batch.closed:
            self._batch = batch

    async def resume(self, experiments: Sequence[Any], **run_config: Any) -> None:
        """Give a retrieved set its experiments again, so missing chunks can be submitted.

        Only chunks that have no job are submitted (with the same submission keys as the
        first time, so a chunk whose submission was in flight is not created twice).

        Raises:
            IBMQJobManagerInvalidStateError: The experiments do not match the set's layout.
        """
        if len(experiments) != self._experiment_count:
            raise IBMQJobManagerInvalidStateError(
                f"Job set {self._id} has {self._experiment_count} experiments; "
                f"{len(experiments)} were given"
            )
        self._experiments = list(experiments)
        self._names = [_experiment_name(item) for item in experiments]
        self._run_config.update(run_config)


def _prefer(candidate: AnyJob, current: AnyJob) -> bool:
    """Of two jobs for one chunk (a retry), prefer the one that succeeded, then the newest."""

    def rank(job: AnyJob) -> int:
        if _never_started(job):
            return 0
        return {JobStatus.DONE: 3, JobStatus.RUNNING: 2, JobStatus.QUEUED: 2}.get(
            _known_status(job), 1
        )

    a, b = rank(candidate), rank(current)
    if a != b:
        return a > b
    return candidate.creation_date() > current.creation_date()


def _attempt_of(job: AnyJob) -> int:
    """Which retry of its chunk a job is (0 for the first submission), from its key."""
    match = _RETRY_SUFFIX.search(_submission_key_of(job) or "")
    return int(match.group(1)) if match else 0


def _submission_key_of(job: AnyJob) -> str | None:
    """The submission key a job was created with, from its submission tag."""
    for tag in job.record.tags:  # job.tags() hides the submission tag
        if tag.startswith(SUBMISSION_TAG_PREFIX):
            return tag[len(SUBMISSION_TAG_PREFIX) :]
    return None


def _experiment_name(experiment: Any) -> str | None:
    name = getattr(experiment, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(experiment, Mapping):
        header = experiment.get("header") or {}
        value = header.get("name") if isinstance(header, Mapping) else None
        return value if isinstance(value, str) else None
    return None


def _most_circuits_per_platform_job(backend: PlatformBackend, run_config: Mapping[str, Any]) -> int:
    """The most circuits one platform job may run: each runs ``shots`` executions (the
    circuits are bound: ``run`` refuses parameters), and a job runs at most
    :data:`MAX_EXECUTIONS`."""
    shots = run_config.get("shots") or backend.options.get("shots")
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        return MAX_EXECUTIONS  # run() refuses such shots with a clear error
    return max(1, MAX_EXECUTIONS // shots)


async def _default_concurrency(backend: AnyBackend, requested: int | None, chunks: int) -> int:
    """The most jobs of a set active at once: the classic backend's job limit (32 if it has
    none); on the platform, which limits no number of pending jobs, every chunk (creations
    are paced by the provider's pacer and the instance's usage instead)."""
    if isinstance(backend, PlatformBackend):
        return max(1, chunks if requested is None else requested)
    limit = await backend.job_limit()
    cap = limit.maximum_jobs if limit.maximum_jobs is not None else _DEFAULT_MAX_CONCURRENT
    if requested is not None:
        cap = min(cap, requested)
    return max(1, cap)


class IBMQJobManager:
    """Splits experiments into jobs and runs them as a :class:`ManagedJobSet`.

    The manager keeps the sets it ran (:meth:`job_sets`), as the original one did: a set
    is there as soon as :meth:`run` made it, so an interrupted ``run()`` still tells
    which set it was making.
    """

    def __init__(self) -> None:
        self._job_sets: list[ManagedJobSet] = []

    def job_sets(
        self, job_set_id: str | None = None, name: str | None = None
    ) -> list[ManagedJobSet]:
        """The job sets this manager ran or resumed, oldest first, optionally by id or name."""
        return [
            job_set
            for job_set in self._job_sets
            if (job_set_id is None or job_set.job_set_id() == job_set_id)
            and (name is None or job_set.name() == name)
        ]

    async def run(
        self,
        experiments: Any,
        backend: AnyBackend,
        name: str | None = None,
        max_experiments_per_job: int | None = None,
        job_tags: Sequence[str] | None = None,
        max_concurrent_jobs: int | None = None,
        *,
        job_set_id: str | None = None,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        use_batch: bool = False,
        **run_config: Any,
    ) -> ManagedJobSet:
        """Split the experiments into jobs and submit as many as the job limit allows now.

        The chunk size is ``min(max_experiments_per_job, backend max_experiments)``, and on
        the platform channel also at most ``MAX_EXECUTIONS // shots`` (a platform job runs
        at most 10 million executions). Jobs are named ``<name>_<index>_`` and tagged
        ``ibmq_jobset_<id>_`` as the original job manager did (on the platform the name
        rides in a hidden tag). The set's active jobs never exceed the backend's job limit
        (or ``max_concurrent_jobs``); remaining chunks are submitted while you await
        ``results()``, ``wait()`` or ``as_completed()``. On the platform, ``run()`` submits
        what one window of the provider's job rate lets through, and the set keeps within
        the instance's usage (see the module docstring).

        Args:
            experiments: The QuantumCircuits to run.
            backend: The backend to run them on (``IBMQBackend`` or ``PlatformBackend``).
            name: Name of the set (default: the UTC time).
            max_experiments_per_job: The most experiments in one job.
            job_tags: Tags for every job of the set.
            max_concurrent_jobs: The most jobs of the set active at once (default: the
                backend's job limit, or 32 if it has none; on the platform, which limits
                no number of pending jobs, every job of the set).
            job_set_id: Resume this set: only chunks that have no job yet are submitted.
            progress: Show a progress bar (tqdm; terminal and notebook).
            on_progress: Called with the count of jobs in each state on every change.
            use_batch: Platform channel: put every job of the set in one ``Batch`` (as IBM
                recommends for many independent jobs), closed once every job is in it. A
                resumed set keeps to its batch while the batch takes jobs.
            **run_config: Options for the backend's ``run`` (``shots``, ``memory``, ...).

        Returns:
            The job set.

        Raises:
            IBMQJobManagerInvalidStateError: Invalid input (no experiments, bad tags, a
                resumed set whose layout does not match, ``use_batch`` on the classic
                channel).
            NotISACircuitError: Platform channel: a circuit the backend cannot run as it is
                (not an ISA circuit of a device, more qubits than the backend, an unbound
                parameter); the message names it by its index in ``experiments``. Raised
                before any request.
            IBMQBackendApiError: The job limit could not be read.
        """
        items = list(experiments) if isinstance(experiments, (list, tuple)) else [experiments]
        if not items:
            raise IBMQJobManagerInvalidStateError("run() needs at least one experiment")
        others = sorted({type(item).__name__ for item in items if not is_quantum_circuit(item)})
        if others:
            raise IBMQJobManagerInvalidStateError(
                "the job manager runs QuantumCircuits; got " + ", ".join(others)
            )
        if job_tags is not None and (
            isinstance(job_tags, str) or not all(isinstance(t, str) for t in job_tags)
        ):
            raise IBMQJobManagerInvalidStateError(
                f"job_tags must be a list of strings, got {job_tags!r}"
            )
        if max_experiments_per_job is not None and max_experiments_per_job < 1:
            raise IBMQJobManagerInvalidStateError("max_experiments_per_job must be at least 1")
        if max_concurrent_jobs is not None and max_concurrent_jobs < 1:
            raise IBMQJobManagerInvalidStateError("max_concurrent_jobs must be at least 1")
        if use_batch and not isinstance(backend, PlatformBackend):
            raise IBMQJobManagerInvalidStateError(
                "use_batch=True needs a backend of the platform channel (a batch is a "
                "platform session); the classic channel has none"
            )
        backend_max = getattr(backend.configuration(), "max_experiments", None)
        candidates = [n for n in (max_experiments_per_job, backend_max) if n]
        if isinstance(backend, PlatformBackend):
            # Each job would refuse its own; refused here, the set is not made at all.
            check_circuits(
                items, backend.target, isa=not backend.is_simulator(), require_bound=True
            )
            candidates.append(_most_circuits_per_platform_job(backend, run_config))
        per_job = min(candidates) if candidates else len(items)
        if job_set_id is not None:
            job_set = await ManagedJobSet.retrieve(
                job_set_id,
                backend.provider(),
                max_concurrent_jobs=max_concurrent_jobs,
                use_batch=use_batch,
            )
            if job_set.experiments_per_job != per_job or job_set.experiment_count != len(items):
                raise IBMQJobManagerInvalidStateError(
                    f"Job set {job_set_id} splits {job_set.experiment_count} experiments "
                    f"{job_set.experiments_per_job} per job; these {len(items)} experiments "
                    f"would be split {per_job} per job"
                )
            job_set.show_progress(progress, on_progress)
            self._job_sets.append(job_set)
            await job_set.resume(items, **run_config)
        else:
            job_set = ManagedJobSet(
                backend=backend,
                job_set_id=_new_job_set_id(),
                name=name or datetime.now(timezone.utc).replace(tzinfo=None).isoformat(),
                tags=list(job_tags or ()),
                experiment_count=len(items),
                per_job=per_job,
                max_concurrent_jobs=await _default_concurrency(
                    backend, max_concurrent_jobs, len(_chunk_bounds(len(items), per_job))
                ),
                experiments=items,
                experiment_names=[_experiment_name(item) for item in items],
                run_config=run_config,
                progress=progress,
                on_progress=on_progress,
                use_batch=use_batch,
            )
            self._job_sets.append(job_set)
        await job_set.submit_available()
        return job_set
