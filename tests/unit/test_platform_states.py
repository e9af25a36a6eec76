"""The platform's job states as JobStatus: every state, the ran-too-long errors, unknown
states refused (never a wait that does not end), and the error message of a job."""

from __future__ import annotations

import pytest

from ibmq_async.exceptions import ApiProtocolError
from ibmq_async.models import JobStatus
from ibmq_async.models.platform import FINAL_JOB_STATES, JOB_STATES, Job, JobState
from ibmq_async.platform import PlatformJobStateError, job_error_message, job_status
from ibmq_async.platform.states import PLATFORM_TO_JOB_STATUS


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("Queued", JobStatus.QUEUED),
        ("Running", JobStatus.RUNNING),
        ("Completed", JobStatus.DONE),
        ("Cancelled", JobStatus.CANCELLED),
        ("Cancelled - Ran too long", JobStatus.ERROR),
        ("Failed", JobStatus.ERROR),
    ],
)
def test_every_platform_state_maps(state: str, expected: JobStatus) -> None:
    assert job_status(state) is expected
    assert job_status(JobState(status=state)) is expected
    # qiskit-ibm-runtime upper-cases the states; both spellings are the same state.
    assert job_status(state.upper()) is expected


def test_the_table_covers_exactly_the_states_of_the_platform_models() -> None:
    assert set(PLATFORM_TO_JOB_STATUS) == set(JOB_STATES)
    finals = {name for name, status in PLATFORM_TO_JOB_STATUS.items() if status.is_final}
    assert finals == FINAL_JOB_STATES


def test_ran_too_long_is_a_final_error_not_a_wait() -> None:
    status = job_status(JobState(status="Cancelled - Ran too long", reason_code=1305))
    assert status is JobStatus.ERROR
    assert status.is_final


def test_cancelled_with_reason_code_1305_is_an_error() -> None:
    assert job_status(JobState(status="Cancelled", reason_code=1305)) is JobStatus.ERROR
    assert job_status("Cancelled", reason_code=1305) is JobStatus.ERROR
    assert job_status(JobState(status="Cancelled", reason_code=1212)) is JobStatus.CANCELLED
    # Older answers spell it reasonCode (qiskit-ibm-runtime reads both).
    legacy = JobState.model_validate({"status": "Cancelled", "reasonCode": 1305})
    assert job_status(legacy) is JobStatus.ERROR
    assert job_error_message(legacy) == "Cancelled. Error code: 1305."


@pytest.mark.parametrize("state", ["Paused", "", "Queued!", None, 3, "Completed-ish"])
def test_an_unknown_state_is_an_error_naming_it(state: object) -> None:
    with pytest.raises(PlatformJobStateError) as caught:
        job_status(state)  # type: ignore[arg-type]
    assert caught.value.state == state
    assert repr(state) in str(caught.value)
    assert "Queued" in str(caught.value)  # the known states are listed
    assert isinstance(caught.value, ApiProtocolError)


def test_the_state_of_a_job_document_maps() -> None:
    job = Job.model_validate(
        {
            "id": "j1",
            "backend": "ibm_fez",
            "state": {"status": "Failed", "reason": "Simulation failed", "reason_code": 1517},
            "status": "Failed",
            "program": {"id": "sampler"},
            "created": "2026-01-01T00:00:00Z",
        }
    )
    assert job_status(job.state) is JobStatus.ERROR


def test_error_message_carries_reason_code_and_solution() -> None:
    failed = JobState(status="Failed", reason="the simulation failed", reason_code=1517)
    assert job_error_message(failed) == "Failed: the simulation failed. Error code: 1517."
    too_long = JobState(
        status="Cancelled - Ran too long",
        reason="ran longer than its max_execution_time",
        reason_code=1305,
        reason_solution="Raise max_execution_time.",
    )
    assert job_error_message(too_long) == (
        "Cancelled - Ran too long: ran longer than its max_execution_time. "
        "Error code: 1305. Raise max_execution_time."
    )
    assert job_error_message(JobState(status="Cancelled")) == "Cancelled"
    assert job_error_message(JobState(status="Completed")) is None
    assert job_error_message(JobState(status="Running")) is None
    with pytest.raises(PlatformJobStateError):
        job_error_message(JobState(status="Exploded"))
