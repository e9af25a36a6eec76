"""A job of the local service: its state, its stored record and its wire documents.

The wire document is the job object of docs/protocol.md §2.8 (``id``, ``creationDate``,
``status``, ``kind``, ``backend``, ``timePerStep``, ``summaryData``, ...). It is cached
between changes, because job listings render thousands of them; queue information is added
when rendered. A listed job is shorter, as IBM's listings were: no ``timePerStep`` and no
``summaryData.summary`` (a client refreshes a listed job to get them), though filters see
the whole document.

``summaryData.summary`` is the summary of the uploaded Qobj that IBM kept with each job
(:func:`qobj_summary`): ``qobj_config`` (the scalar settings of the Qobj's ``config``, such
as ``n_qubits``, ``shots``, ``memory_slots``, with its ``type``), ``num_circuits``,
``gates_executed``, ``partial_validation`` and ``instructions_per_circuit``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ibmq_async.local.executor import PreparedJob
from ibmq_async.local.store import JobRow
from ibmq_async.models import API_FINAL_STATUSES, ApiJobKind, ApiJobStatus

__all__ = [
    "ACTIVE",
    "Clock",
    "Job",
    "client_info_from_header",
    "format_timestamp",
    "new_job_id",
    "qobj_summary",
]

ACTIVE = frozenset(status for status in ApiJobStatus if status not in API_FINAL_STATUSES)
"""The statuses of an unfinished job (it counts against the user's job limit)."""


def format_timestamp(value: datetime) -> str:
    """Format a UTC timestamp the way the service sends them: microseconds and ``Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_job_id() -> str:
    """A new job id: 24 hex digits, time-ordered like the ids of the IBM Quantum API."""
    return f"{int(time.time()):08x}{os.urandom(8).hex()}"


def client_info_from_header(header: str | None) -> dict[str, str] | None:
    """A job's ``client_info`` from ``X-Qx-Client-Application: names/versions[/custom]``
    (``qiskit-ibmq-provider,qiskit-terra/0.20.2,0.46.3``)."""
    if not header or "/" not in header:
        return None
    names, _, rest = header.partition("/")
    versions = rest.split("/", 1)[0]
    if not names or not versions:
        return None
    return {"name": names, "version": versions}


_NOT_GATES = frozenset({"measure", "barrier", "reset", "delay", "snapshot", "bfunc"})
_SHORT_LIST = 32


def _summary_value(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    return (
        isinstance(value, list)
        and len(value) <= _SHORT_LIST
        and all(item is None or isinstance(item, (str, int, float, bool)) for item in value)
    )


def qobj_summary(qobj: dict[str, Any]) -> dict[str, Any]:
    """The summary of a Qobj that job records carry as ``summaryData.summary``.

    Takes whatever was uploaded (a malformed Qobj gets a summary of what it has; its
    validation fails the job later).
    """
    config = qobj.get("config")
    settings = (
        {key: value for key, value in config.items() if _summary_value(value)}
        if isinstance(config, dict)
        else {}
    )
    if isinstance(qobj.get("type"), str):
        settings["type"] = qobj["type"]
    experiments = qobj.get("experiments")
    experiments = experiments if isinstance(experiments, list) else []
    counts: list[int] = []
    gates = 0
    for experiment in experiments:
        instructions = experiment.get("instructions") if isinstance(experiment, dict) else None
        instructions = instructions if isinstance(instructions, list) else []
        counts.append(len(instructions))
        gates += sum(
            1
            for item in instructions
            if isinstance(item, dict) and item.get("name") not in _NOT_GATES
        )
    return {
        "qobj_config": settings,
        "num_circuits": len(experiments),
        "gates_executed": gates,
        "partial_validation": False,
        "instructions_per_circuit": counts,
    }


class Clock:
    """UTC timestamps that never repeat and never go backwards.

    Creation dates order the job listings and drive the client's pagination
    (``creationDate`` ``lte`` plus ``id`` ``nin``), so two jobs never share one.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def advance_to(self, value: datetime) -> None:
        """Never hand out a timestamp before ``value`` (after a restart)."""
        with self._lock:
            self._last = max(self._last, value)

    def now(self) -> datetime:
        """The current UTC time, strictly after every time handed out before."""
        with self._lock:
            value = datetime.now(timezone.utc)
            if value <= self._last:
                value = self._last + timedelta(microseconds=1)
            self._last = value
            return value


@dataclass(eq=False)
class Job:
    """One job: what is stored about it plus transient run-time state."""

    id: str
    seq: int
    user_id: str
    hub: str
    group: str
    project: str
    backend: str
    status: ApiJobStatus
    creation_date: str
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    experiment_tag: str | None = None
    live_data_enabled: bool | None = None
    client_info: dict[str, str] | None = None
    time_per_step: dict[str, str] = field(default_factory=dict)
    history: list[list[str]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    shots: int | None = None
    end_date: str | None = None
    run_started: str | None = None
    idempotency_key: str | None = None
    uploaded: bool = False
    qobj_size: int = 0
    has_result: bool = False
    result_downloaded: bool = False
    queue_seq: int | None = None
    summary: dict[str, Any] | None = None
    # transient: never stored
    qobj: Any = field(default=None, repr=False)
    prepared: PreparedJob | None = field(default=None, repr=False)
    queued_at: float = 0.0
    interrupt: threading.Event = field(default_factory=threading.Event, repr=False)
    _document: dict[str, Any] | None = field(default=None, repr=False)
    _listed: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def final(self) -> bool:
        """Whether the job can no longer change state."""
        return self.status in API_FINAL_STATUSES

    @property
    def hgp(self) -> tuple[str, str, str]:
        """The ``(hub, group, project)`` the job belongs to."""
        return (self.hub, self.group, self.project)

    def changed(self) -> None:
        """Forget the cached wire documents (call after every change)."""
        self._document = None
        self._listed = None

    def document(self) -> dict[str, Any]:
        """The job object of the wire (without queue information), cached."""
        if self._document is not None:
            return self._document
        document: dict[str, Any] = {
            "id": self.id,
            "kind": ApiJobKind.QOBJECT_STORAGE.value,
            "creationDate": self.creation_date,
            "status": self.status.value,
            "backend": {"name": self.backend},
            "hubInfo": {
                "hub": {"name": self.hub},
                "group": {"name": self.group},
                "project": {"name": self.project},
            },
            "tags": list(self.tags),
            "timePerStep": dict(self.time_per_step),
            "liveDataEnabled": self.live_data_enabled,
            "userId": self.user_id,
            "allowObjectStorage": True,
            "shareLevel": "none",
            "deleted": False,
        }
        if self.name is not None:
            document["name"] = self.name
        if self.experiment_tag is not None:
            document["experimentTag"] = self.experiment_tag
        if self.client_info is not None:
            document["client_info"] = dict(self.client_info)
        if self.shots is not None:
            document["shots"] = self.shots
        if self.run_started is not None:
            document["runMode"] = "fairshare"
        if self.end_date is not None:
            document["endDate"] = self.end_date
        if self.error is not None:
            document["error"] = dict(self.error)
        if self.qobj_size:
            summary_data: dict[str, Any] = {"size": {"input": self.qobj_size}}
            if self.summary is not None:
                summary_data["summary"] = self.summary
            document["summaryData"] = summary_data
        self._document = document
        return document

    def listed_document(self) -> dict[str, Any]:
        """The job object of a listing (without queue information), cached: the wire
        document without ``timePerStep`` and ``summaryData.summary``."""
        if self._listed is not None:
            return self._listed
        listed = {key: value for key, value in self.document().items() if key != "timePerStep"}
        if "summaryData" in listed:
            listed["summaryData"] = {
                key: value for key, value in listed["summaryData"].items() if key != "summary"
            }
        self._listed = listed
        return listed

    def record(self) -> dict[str, Any]:
        """The JSON record stored in the database."""
        return {
            "hub": self.hub,
            "group": self.group,
            "project": self.project,
            "creationDate": self.creation_date,
            "name": self.name,
            "tags": self.tags,
            "experimentTag": self.experiment_tag,
            "liveDataEnabled": self.live_data_enabled,
            "clientInfo": self.client_info,
            "timePerStep": self.time_per_step,
            "history": self.history,
            "error": self.error,
            "shots": self.shots,
            "endDate": self.end_date,
            "runStarted": self.run_started,
            "uploaded": self.uploaded,
            "qobjSize": self.qobj_size,
            "summary": self.summary,
            "hasResult": self.has_result,
            "resultDownloaded": self.result_downloaded,
        }

    def row(self) -> JobRow:
        """The database row of the job."""
        return JobRow(
            id=self.id,
            seq=self.seq,
            user_id=self.user_id,
            backend=self.backend,
            status=self.status.value,
            queue_seq=self.queue_seq,
            idempotency_key=self.idempotency_key,
            record=self.record(),
        )

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        """Rebuild a job from its database row."""
        record = row.record
        return cls(
            id=row.id,
            seq=row.seq,
            user_id=row.user_id,
            hub=record["hub"],
            group=record["group"],
            project=record["project"],
            backend=row.backend,
            status=ApiJobStatus(row.status),
            creation_date=record["creationDate"],
            name=record.get("name"),
            tags=list(record.get("tags") or []),
            experiment_tag=record.get("experimentTag"),
            live_data_enabled=record.get("liveDataEnabled"),
            client_info=record.get("clientInfo"),
            time_per_step=dict(record.get("timePerStep") or {}),
            history=[list(item) for item in record.get("history") or []],
            error=record.get("error"),
            shots=record.get("shots"),
            end_date=record.get("endDate"),
            run_started=record.get("runStarted"),
            idempotency_key=row.idempotency_key,
            uploaded=bool(record.get("uploaded")),
            qobj_size=int(record.get("qobjSize") or 0),
            summary=record.get("summary"),
            has_result=bool(record.get("hasResult")),
            result_downloaded=bool(record.get("resultDownloaded")),
            queue_seq=row.queue_seq,
        )
