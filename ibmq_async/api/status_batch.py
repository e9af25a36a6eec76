"""One listing request for the status polls of many jobs.

Waits beyond the open websockets poll (:mod:`ibmq_async.api.websocket`). A thousand jobs
waiting in a queue would otherwise make a thousand ``GET .../Jobs/{id}/status/v/1`` calls
every few seconds. :class:`StatusBatcher` gathers the polls that fall due together and
answers them with one ``GET .../Jobs/status/v/1`` whose filter is
``{"where": {"id": {"inq": [...]}}}``, for up to 100 jobs at a time.

There is no background task: the first caller that finds no batch being gathered leads
one (it waits a short window for others, then sends the request) and the callers whose
job was in it read their answer. A leader that is cancelled puts back the polls it had
not answered, and one of their callers leads the next batch.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from itertools import islice

import anyio

from ibmq_async.models import JobStatusResponse

__all__ = ["StatusBatcher", "aligned_wait"]

FetchMany = Callable[[Sequence[str]], Awaitable[dict[str, JobStatusResponse]]]


class _Poll:
    __slots__ = ("done", "error", "status", "waiters", "wake")

    def __init__(self) -> None:
        self.waiters = 0
        self.done = False
        self.status: JobStatusResponse | None = None
        self.error: BaseException | None = None
        self.wake = anyio.Event()  # set when answered, or when its caller is to lead


class StatusBatcher:
    """Answers status polls of many jobs with one listing request per batch.

    Args:
        fetch_many: Fetch the statuses of up to ``batch_size`` jobs (retries included);
            jobs missing from its answer are answered ``None``.
        batch_size: The most jobs in one request.
        window: How long a leader waits for other polls before sending, in seconds.
    """

    def __init__(self, fetch_many: FetchMany, *, batch_size: int = 100, window: float = 0.02):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._fetch_many = fetch_many
        self._batch_size = batch_size
        self._window = window
        self._pending: dict[str, _Poll] = {}
        self._leading = False
        self.requests = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pending={len(self._pending)}, requests={self.requests}, "
            f"batch_size={self._batch_size})"
        )

    async def status(self, job_id: str) -> JobStatusResponse | None:
        """The job's status from the next batch, or ``None`` if the answer left it out.

        Raises:
            ApiError: The batch request failed (after its retries).
        """
        poll = self._pending.get(job_id)
        if poll is None:
            poll = self._pending[job_id] = _Poll()
        poll.waiters += 1
        try:
            while not poll.done:
                if not self._leading:
                    await self._lead(poll)
                    continue
                wake = poll.wake
                await wake.wait()
                if not poll.done:
                    poll.wake = anyio.Event()  # asked to lead: check that nobody else does
        finally:
            poll.waiters -= 1
            if not poll.done and poll.waiters == 0 and self._pending.get(job_id) is poll:
                del self._pending[job_id]  # nobody waits for it any more
            if not self._leading:
                self._hand_over()
        if poll.error is not None:
            raise poll.error
        return poll.status

    async def _lead(self, own: _Poll) -> None:
        self._leading = True
        try:
            await anyio.sleep(self._window)
            while not own.done and self._pending:
                await self._send_one_batch()
        finally:
            self._leading = False

    def _hand_over(self) -> None:
        """Wake the caller of the oldest pending poll to lead the next batch."""
        for poll in self._pending.values():
            poll.wake.set()
            return

    async def _send_one_batch(self) -> None:
        job_ids = list(islice(self._pending, self._batch_size))
        polls = [self._pending.pop(job_id) for job_id in job_ids]
        try:
            self.requests += 1
            statuses = await self._fetch_many(job_ids)
        except Exception as error:
            for poll in polls:
                poll.error = error
                poll.done = True
                poll.wake.set()
        except BaseException:
            for job_id, poll in zip(job_ids, polls, strict=True):
                self._pending.setdefault(job_id, poll)  # cancelled: someone else asks again
            raise
        else:
            for job_id, poll in zip(job_ids, polls, strict=True):
                poll.status = statuses.get(job_id)
                poll.done = True
                poll.wake.set()


def aligned_wait(wait: float, now: float) -> float:
    """``wait``, stretched so that it ends on a multiple of ``min(wait, 1)`` seconds.

    Polls that back off alike then fall due at the same instants and share batches.
    """
    grid = min(wait, 1.0)
    if grid <= 0:
        return wait
    return math.ceil((now + wait) / grid) * grid - now
