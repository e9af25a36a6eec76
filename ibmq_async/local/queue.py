"""The waiting line of one backend (job ids in queue order, fast position lookups) and
the run-time state of the backend's workers."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from ibmq_async.local.config import BackendConfig
from ibmq_async.local.devices import Device
from ibmq_async.local.noise import DeviceNoise

__all__ = ["BackendRuntime", "FifoQueue"]


class FifoQueue:
    """Job ids ordered by a queue sequence number.

    Pushing in increasing order appends; ``position`` is a binary search, so a queue of
    tens of thousands of jobs answers "where is job X" in microseconds. Not thread-safe:
    the engine holds its lock around every call.
    """

    def __init__(self) -> None:
        self._seqs: list[int] = []
        self._by_seq: dict[int, str] = {}
        self._seq_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._seqs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._seq_of

    def push(self, job_id: str, seq: int) -> None:
        """Add a job with its sequence number (lower runs first).

        Raises:
            ValueError: If the job or the sequence number is already queued.
        """
        if job_id in self._seq_of or seq in self._by_seq:
            raise ValueError(f"job {job_id} or sequence {seq} is already queued")
        if not self._seqs or seq > self._seqs[-1]:
            self._seqs.append(seq)
        else:
            bisect.insort(self._seqs, seq)
        self._by_seq[seq] = job_id
        self._seq_of[job_id] = seq

    def first(self) -> str | None:
        """The job that runs next, if any."""
        return self._by_seq[self._seqs[0]] if self._seqs else None

    def pop(self) -> str | None:
        """Remove and return the job that runs next, if any."""
        if not self._seqs:
            return None
        seq = self._seqs.pop(0)
        job_id = self._by_seq.pop(seq)
        del self._seq_of[job_id]
        return job_id

    def remove(self, job_id: str) -> bool:
        """Remove a job wherever it is; ``False`` if it was not queued."""
        seq = self._seq_of.pop(job_id, None)
        if seq is None:
            return False
        index = bisect.bisect_left(self._seqs, seq)
        del self._seqs[index]
        del self._by_seq[seq]
        return True

    def position(self, job_id: str) -> int | None:
        """The 1-based position of a job (1 runs next), or ``None`` if not queued."""
        seq = self._seq_of.get(job_id)
        if seq is None:
            return None
        return bisect.bisect_left(self._seqs, seq) + 1

    def ids(self) -> list[str]:
        """Every queued job id, in order."""
        return [self._by_seq[seq] for seq in self._seqs]


@dataclass(eq=False)
class BackendRuntime:
    """A hosted backend while the service runs: its queue, workers and knobs.

    Attributes:
        config: The backend's configuration.
        device: Its device (configuration, calibrations, limits).
        condition: Signalled when the queue or the knobs change (shares the engine lock).
        queue: The queued job ids.
        paused: Whether workers leave queued jobs alone.
        run_delay: Seconds each job stays RUNNING on top of its simulation.
        queue_delay: Seconds each job stays QUEUED at least.
        running: The ids of the jobs being run.
        threads: The worker threads.
        average_run: A moving average of a job's run time, for queue estimates.
        noise: The device's noise, when the backend simulates with noise.
    """

    config: BackendConfig
    device: Device
    condition: threading.Condition
    queue: FifoQueue = field(default_factory=FifoQueue)
    paused: bool = False
    run_delay: float = 0.0
    queue_delay: float = 0.0
    running: set[str] = field(default_factory=set)
    threads: list[threading.Thread] = field(default_factory=list)
    average_run: float = 0.1
    noise: DeviceNoise | None = None
