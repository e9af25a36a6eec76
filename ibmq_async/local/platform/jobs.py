"""A job of the platform API (program ``sampler`` or ``estimator``): its state, its stored
record and its wire documents (``ibmq_async.models.platform.Job`` and ``JobMetrics``).

States, as the platform names them: ``Queued`` → ``Running`` → ``Completed``, or
``Cancelled``, ``Cancelled - Ran too long`` (its ``cost`` was exceeded, reason code 1305) or
``Failed``. The job waits in its backend's queue beside classic jobs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ibmq_async.local.devices import parse_datetime
from ibmq_async.local.store import PlatformJobRow
from ibmq_async.models.platform import (
    FINAL_JOB_STATES,
    Job,
    JobMetrics,
    JobMetricsTimestamps,
    JobMetricsUsage,
    JobProgram,
    JobState,
    JobUsage,
)

__all__ = ["CANCELLED", "COMPLETED", "FAILED", "QUEUED", "RAN_TOO_LONG", "RUNNING", "PrimitiveJob"]

QUEUED = "Queued"
RUNNING = "Running"
COMPLETED = "Completed"
CANCELLED = "Cancelled"
RAN_TOO_LONG = "Cancelled - Ran too long"
FAILED = "Failed"


def _stamp(text: str | None) -> datetime | None:
    return None if text is None else parse_datetime(text)


@dataclass(eq=False)
class PrimitiveJob:
    """One platform job: what is stored about it plus transient run-time state.

    Attributes:
        id: The job id.
        seq: Creation order across the service's platform jobs.
        instance: The CRN of the instance it belongs to.
        user_id: Who created it.
        backend: Its backend.
        program: ``sampler`` or ``estimator``.
        status: Its platform state.
        created: When it was created (the service's timestamp format).
        num_circuits: How many circuits (PUBs) it has.
        executions: Circuits times shots, summed over its PUBs (for the 10 M limit).
        estimated_seconds: The quantum seconds it will be charged if it completes.
        cost: Its ``max_execution_time`` in seconds.
    """

    id: str
    seq: int
    instance: str
    user_id: str
    backend: str
    program: str
    status: str
    created: str
    num_circuits: int = 0
    executions: int = 0
    estimated_seconds: float = 0.0
    cost: int = 0
    tags: list[str] = field(default_factory=list)
    session_id: str | None = None
    private: bool = False
    runtime: str = ""
    log_level: str | None = None
    calibration_id: str | None = None
    reason: str | None = None
    reason_code: int | None = None
    running_at: str | None = None
    finished_at: str | None = None
    quantum_seconds: float = 0.0
    has_result: bool = False
    result_read: bool = False
    logs: str = ""
    queue_seq: int | None = None
    # transient: never stored
    prepared: Any = field(default=None, repr=False)
    queued_at: float = 0.0
    interrupt: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def final(self) -> bool:
        """Whether the job can no longer change state."""
        return self.status in FINAL_JOB_STATES

    @property
    def usage_final(self) -> bool:
        """Whether the job's charge is known for good (it ended)."""
        return self.final

    def model(self, params: dict[str, Any] | None = None) -> Job:
        """The job document of the wire; ``params`` when they are asked for."""
        state = JobState(status=self.status, reason=self.reason, reason_code=self.reason_code)
        document = Job(
            id=self.id,
            backend=self.backend,
            state=state,
            status=self.status,
            program=JobProgram(id=self.program),
            created=parse_datetime(self.created),
            ended=_stamp(self.finished_at),
            runtime=self.runtime,
            cost=self.cost,
            tags=list(self.tags),
            session_id=self.session_id,
            user_id=self.user_id,
            usage=JobUsage(quantum_seconds=self.quantum_seconds, seconds=self.quantum_seconds),
            private=self.private,
            estimated_running_time_seconds=self.estimated_seconds,
            calibration_id=self.calibration_id,
        )
        if params is not None:
            document.params = params
        return document

    def metrics(
        self,
        *,
        position: int | None,
        start_estimate: datetime | None,
        run_estimate: float,
        qiskit_version: str,
    ) -> JobMetrics:
        """The ``metrics`` document: timestamps, usage, and where it waits if queued."""
        finish_estimate = None
        if start_estimate is not None:
            finish_estimate = start_estimate + timedelta(seconds=run_estimate)
        usage = JobMetricsUsage(
            quantum_seconds=self.quantum_seconds,
            seconds=self.quantum_seconds,
            qpu_charge_time_seconds=self.quantum_seconds,
            status="final" if self.usage_final else "pending",
        )
        return JobMetrics(
            timestamps=JobMetricsTimestamps(
                created=parse_datetime(self.created),
                running=_stamp(self.running_at),
                finished=_stamp(self.finished_at),
            ),
            bss={"seconds": self.quantum_seconds},
            usage=usage,
            qiskit_version=qiskit_version,
            estimated_start_time=start_estimate,
            estimated_completion_time=finish_estimate,
            position_in_queue=position,
            position_in_provider=position,
            num_circuits=self.num_circuits,
            num_shots=self.executions,
        )

    def record(self) -> dict[str, Any]:
        """The JSON record stored in the database."""
        return {
            "program": self.program,
            "created": self.created,
            "numCircuits": self.num_circuits,
            "executions": self.executions,
            "estimatedSeconds": self.estimated_seconds,
            "cost": self.cost,
            "tags": self.tags,
            "sessionId": self.session_id,
            "private": self.private,
            "runtime": self.runtime,
            "logLevel": self.log_level,
            "calibrationId": self.calibration_id,
            "reason": self.reason,
            "reasonCode": self.reason_code,
            "runningAt": self.running_at,
            "finishedAt": self.finished_at,
            "quantumSeconds": self.quantum_seconds,
            "hasResult": self.has_result,
            "resultRead": self.result_read,
            "logs": self.logs,
        }

    def row(self) -> PlatformJobRow:
        """The database row of the job."""
        return PlatformJobRow(
            id=self.id,
            seq=self.seq,
            instance=self.instance,
            user_id=self.user_id,
            backend=self.backend,
            status=self.status,
            queue_seq=self.queue_seq,
            record=self.record(),
        )

    @classmethod
    def from_row(cls, row: PlatformJobRow) -> PrimitiveJob:
        """Rebuild a job from its database row."""
        record = row.record
        return cls(
            id=row.id,
            seq=row.seq,
            instance=row.instance,
            user_id=row.user_id,
            backend=row.backend,
            program=str(record["program"]),
            status=row.status,
            created=str(record["created"]),
            num_circuits=int(record.get("numCircuits") or 0),
            executions=int(record.get("executions") or 0),
            estimated_seconds=float(record.get("estimatedSeconds") or 0.0),
            cost=int(record.get("cost") or 0),
            tags=list(record.get("tags") or []),
            session_id=record.get("sessionId"),
            private=bool(record.get("private")),
            runtime=str(record.get("runtime") or ""),
            log_level=record.get("logLevel"),
            calibration_id=record.get("calibrationId"),
            reason=record.get("reason"),
            reason_code=record.get("reasonCode"),
            running_at=record.get("runningAt"),
            finished_at=record.get("finishedAt"),
            quantum_seconds=float(record.get("quantumSeconds") or 0.0),
            has_result=bool(record.get("hasResult")),
            result_read=bool(record.get("resultRead")),
            logs=str(record.get("logs") or ""),
            queue_seq=row.queue_seq,
        )
