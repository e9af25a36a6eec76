"""Sessions and batches of the platform API: their states, timestamps and time limits.

A session (``mode`` ``dedicated``) or batch (``mode`` ``batch``) starts ``open``. When its
first job starts running it becomes ``active``; with nothing queued or running for its
``interactive_ttl`` it becomes ``inactive``, and active again when its next job starts.
``PATCH accepting_jobs=false`` stops new jobs: the session stays active while jobs of it
are queued or running, then closes. ``DELETE .../close`` cancels its queued jobs and
closes it at once. ``max_ttl`` seconds after it became active it closes and its queued
jobs are cancelled. A closed session takes no job.

The transitions that time drives are applied whenever the session is looked at (read,
joined by a job, or one of its jobs is started or finished), which is every moment at
which a client or a worker could tell the difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ibmq_async.local.devices import parse_datetime
from ibmq_async.models.platform import Session, SessionTimestamp

__all__ = ["PlatformSession"]

OPEN = "open"
ACTIVE = "active"
INACTIVE = "inactive"
CLOSED = "closed"


def _stamp(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


@dataclass(eq=False)
class PlatformSession:
    """One session or batch.

    Attributes:
        id: The session id.
        seq: Creation order.
        instance: The CRN of its instance.
        user_id: Who created it.
        backend: Its backend (set by its first job if it was created without one).
        mode: ``dedicated`` or ``batch``.
        state: ``open``, ``active``, ``inactive`` or ``closed``.
        max_ttl: Seconds it may live once active.
        interactive_ttl: Seconds it may wait for its next job before it becomes inactive.
    """

    id: str
    seq: int
    instance: str
    user_id: str
    backend: str
    mode: str
    created: str
    max_ttl: int
    interactive_ttl: int
    state: str = OPEN
    state_reason: str | None = None
    accepting_jobs: bool = True
    activated_at: str | None = None
    closed_at: str | None = None
    last_job_started: str | None = None
    last_job_completed: str | None = None
    quantum_seconds: float = 0.0
    timestamps: list[list[str]] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        """Whether it is closed."""
        return self.state == CLOSED

    def move(self, state: str, stamp: str, reason: str | None = None) -> None:
        """Change state (recording when), unless it is already in it."""
        if self.state == state:
            return
        self.state = state
        if reason is not None:
            self.state_reason = reason
        self.timestamps.append([state, stamp])
        if state == ACTIVE and self.activated_at is None:
            self.activated_at = stamp
        if state == CLOSED:
            self.closed_at = stamp
            self.accepting_jobs = False

    def expired(self, now: datetime) -> bool:
        """Whether its ``max_ttl`` has run out."""
        if self.activated_at is None:
            return False
        return now >= parse_datetime(self.activated_at) + timedelta(seconds=self.max_ttl)

    def idle_too_long(self, now: datetime) -> bool:
        """Whether it has waited longer than ``interactive_ttl`` since its last job ended."""
        since = self.last_job_completed or self.activated_at
        if since is None:
            return False
        return now >= parse_datetime(since) + timedelta(seconds=self.interactive_ttl)

    def elapsed_time(self, now: datetime) -> float:
        """Its usage: for a batch, the quantum seconds of its jobs; for a session, the time
        from when it became active until it closed (or now)."""
        if self.mode == "batch":
            return round(self.quantum_seconds, 6)
        if self.activated_at is None:
            return 0.0
        end = _stamp(self.closed_at) or now
        ended = _stamp(self.last_job_completed)
        if self.closed_at is not None and ended is not None:
            end = max(min(end, ended), parse_datetime(self.activated_at))
        return max((end - parse_datetime(self.activated_at)).total_seconds(), 0.0)

    def model(self, now: datetime) -> Session:
        """The session document of the wire."""
        return Session(
            id=self.id,
            backend_name=self.backend,
            mode=self.mode,
            state=self.state,
            state_reason=self.state_reason,
            accepting_jobs=self.accepting_jobs and not self.closed,
            max_ttl=self.max_ttl,
            interactive_ttl=self.interactive_ttl,
            active_ttl=self.max_ttl,
            started_at=_stamp(self.activated_at),
            activated_at=_stamp(self.activated_at),
            closed_at=_stamp(self.closed_at),
            last_job_started=_stamp(self.last_job_started),
            last_job_completed=_stamp(self.last_job_completed),
            timestamps=[
                SessionTimestamp(status=status, timestamp=parse_datetime(stamp))
                for status, stamp in self.timestamps
            ],
            user_id=self.user_id,
            elapsed_time=self.elapsed_time(now),
        )

    def record(self) -> dict[str, Any]:
        """The JSON record stored in the database."""
        return {
            "userId": self.user_id,
            "backend": self.backend,
            "mode": self.mode,
            "created": self.created,
            "maxTtl": self.max_ttl,
            "interactiveTtl": self.interactive_ttl,
            "state": self.state,
            "stateReason": self.state_reason,
            "acceptingJobs": self.accepting_jobs,
            "activatedAt": self.activated_at,
            "closedAt": self.closed_at,
            "lastJobStarted": self.last_job_started,
            "lastJobCompleted": self.last_job_completed,
            "quantumSeconds": self.quantum_seconds,
            "timestamps": self.timestamps,
        }

    @classmethod
    def from_record(
        cls, session_id: str, seq: int, instance: str, record: dict[str, Any]
    ) -> PlatformSession:
        """Rebuild a session from its stored record."""
        return cls(
            id=session_id,
            seq=seq,
            instance=instance,
            user_id=str(record.get("userId") or ""),
            backend=str(record.get("backend") or ""),
            mode=str(record.get("mode") or "dedicated"),
            created=str(record["created"]),
            max_ttl=int(record["maxTtl"]),
            interactive_ttl=int(record["interactiveTtl"]),
            state=str(record.get("state") or OPEN),
            state_reason=record.get("stateReason"),
            accepting_jobs=bool(record.get("acceptingJobs", True)),
            activated_at=record.get("activatedAt"),
            closed_at=record.get("closedAt"),
            last_job_started=record.get("lastJobStarted"),
            last_job_completed=record.get("lastJobCompleted"),
            quantum_seconds=float(record.get("quantumSeconds") or 0.0),
            timestamps=[list(item) for item in record.get("timestamps") or []],
        )
