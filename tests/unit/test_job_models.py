"""The job models: status mapping, final states, the job record and small response shapes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from ibmq_async.models import (
    API_FINAL_STATUSES,
    JOB_FINAL_STATES,
    ApiJobStatus,
    BackendJobLimit,
    BackendReservation,
    BackendStatus,
    JobRecord,
    JobStatus,
    JobStatusResponse,
    QueueStatusResponse,
)


@pytest.mark.parametrize(
    ("api", "job"),
    [
        ("CREATING", JobStatus.INITIALIZING),
        ("CREATED", JobStatus.INITIALIZING),
        ("TRANSPILING", JobStatus.INITIALIZING),
        ("TRANSPILED", JobStatus.INITIALIZING),
        ("VALIDATING", JobStatus.VALIDATING),
        ("VALIDATED", JobStatus.VALIDATING),
        ("QUEUED", JobStatus.QUEUED),
        ("PENDING_IN_QUEUE", JobStatus.QUEUED),
        ("RUNNING", JobStatus.RUNNING),
        ("COMPLETED", JobStatus.DONE),
        ("CANCELLED", JobStatus.CANCELLED),
        ("ERROR_CREATING_JOB", JobStatus.ERROR),
        ("ERROR_VALIDATING_JOB", JobStatus.ERROR),
        ("ERROR_TRANSPILING_JOB", JobStatus.ERROR),
        ("ERROR_RUNNING_JOB", JobStatus.ERROR),
    ],
)
def test_every_api_status_maps_to_the_job_status_of_the_protocol(api: str, job: JobStatus) -> None:
    assert ApiJobStatus(api).job_status is job


def test_final_states_are_done_cancelled_and_error() -> None:
    assert {JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR} == JOB_FINAL_STATES
    assert {s for s in ApiJobStatus if s.is_final} == API_FINAL_STATUSES
    assert ApiJobStatus.COMPLETED.is_final
    assert not ApiJobStatus.PENDING_IN_QUEUE.is_final


def test_an_unknown_api_status_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        JobStatusResponse.model_validate({"status": "SLEEPING"})
    errors = excinfo.value.errors()
    assert errors[0]["loc"] == ("status",)
    assert "JobStatusResponse" in str(excinfo.value)


def test_job_record_maps_wire_names_and_keeps_unknown_fields() -> None:
    record = JobRecord.model_validate(
        {
            "id": "job-1",
            "creationDate": "2021-01-20T03:30:10-05:00",
            "status": "QUEUED",
            "backend": {"name": "ibmq_vigo"},
            "timePerStep": {"CREATING": "2021-01-20T08:30:10Z"},
            "infoQueue": {"position": 3, "estimatedStartTime": "2021-01-20T09:00:00Z"},
            "experimentTag": "exp",
            "client_info": {"name": "qiskit", "version": "2.0"},
            "summaryData": {"size": 1},
        }
    )
    assert record.job_id == "job-1"
    assert record.creation_date == datetime(2021, 1, 20, 8, 30, 10, tzinfo=timezone.utc)
    assert record.backend_name == "ibmq_vigo"
    assert record.info_queue is not None
    assert record.info_queue.position == 3
    assert record.experiment_id == "exp"
    assert record.job_status is JobStatus.QUEUED
    wire = record.to_wire()
    assert wire["id"] == "job-1"
    assert wire["creationDate"] == "2021-01-20T08:30:10Z"
    assert wire["experimentTag"] == "exp"
    assert wire["summaryData"] == {"size": 1}


def test_queue_info_is_only_reported_while_exactly_queued() -> None:
    queued = JobStatusResponse.model_validate({"status": "QUEUED", "infoQueue": {"position": 2}})
    running = JobStatusResponse.model_validate({"status": "RUNNING", "infoQueue": {"position": 2}})
    assert queued.queue_info is not None
    assert queued.queue_info.position == 2
    assert running.queue_info is None


def test_job_limit_minus_one_means_unlimited_and_round_trips() -> None:
    unlimited = BackendJobLimit.model_validate({"maximumJobs": -1, "runningJobs": 4})
    assert unlimited.maximum_jobs is None
    assert unlimited.active_jobs == 4
    assert unlimited.remaining_jobs is None
    assert unlimited.to_wire() == {"maximumJobs": -1, "runningJobs": 4}
    limited = BackendJobLimit.model_validate({"maximumJobs": 5, "runningJobs": 2})
    assert limited.remaining_jobs == 3


def test_backend_status_is_built_from_the_queue_status_shape() -> None:
    payload = QueueStatusResponse.model_validate(
        {"state": True, "status": "active", "lengthQueue": -3}
    )
    status = BackendStatus.from_queue_status("ibmq_vigo", payload)
    assert status.operational is True
    assert status.status_msg == "active"
    assert status.pending_jobs == 0
    assert status.backend_version == "0.0.0"


def test_reservation_duration_does_not_wrap_at_a_day() -> None:
    reservation = BackendReservation.model_validate(
        {
            "backendName": "ibmq_vigo",
            "initialDate": "2021-01-01T00:00:00Z",
            "endDate": "2021-01-02T01:00:00Z",
            "hubInfo": {"hub": {"name": "h"}, "group": {"name": "g"}, "project": {"name": "p"}},
        }
    )
    assert reservation.duration == 25 * 60
    assert (reservation.hub, reservation.group, reservation.project) == ("h", "g", "p")
