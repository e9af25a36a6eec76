"""A chunk's state changes only through ManagedJob.set_state, which tells the set."""

from __future__ import annotations

from ibmq_async.exceptions import IBMQError
from ibmq_async.jobmanager import ManagedJob
from ibmq_async.models import JobStatus


def test_set_state_reports_each_change_of_state_once() -> None:
    changes: list[tuple[str, str]] = []
    chunk = ManagedJob(index=0, start=0, end=5, on_state_change=lambda a, b: changes.append((a, b)))
    assert chunk.state == "PENDING"
    chunk.set_state(status=JobStatus.QUEUED)  # no job yet: still pending
    assert changes == []
    chunk.set_state(job=object(), status=JobStatus.QUEUED)  # type: ignore[arg-type]
    chunk.set_state(status=JobStatus.QUEUED)  # no change
    chunk.set_state(status=JobStatus.DONE)
    chunk.set_state(job=None, status=None, submit_error=IBMQError("refused"))
    assert changes == [
        ("PENDING", "QUEUED"),
        ("QUEUED", "DONE"),
        ("DONE", "FAILED_SUBMISSION"),
    ]


def test_plain_attribute_writes_do_not_report() -> None:
    changes: list[tuple[str, str]] = []
    chunk = ManagedJob(index=0, start=0, end=1, on_state_change=lambda a, b: changes.append((a, b)))
    chunk.attempt = 3
    chunk.may_exist = True
    assert changes == []
