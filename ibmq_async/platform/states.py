"""The platform's job states as the :class:`~ibmq_async.models.JobStatus` users know.

The runtime API reports a job's state as ``state.status`` (docs/platform.md §4): ``Queued``,
``Running``, ``Completed``, ``Cancelled``, ``Cancelled - Ran too long`` or ``Failed``, with
``reason`` and ``reason_code`` when it ended badly. They map to :class:`JobStatus` as
qiskit-ibm-runtime maps them, with one correction: ``Cancelled - Ran too long`` is an
error state (qiskit-ibm-runtime 0.51 leaves it out of its table, so its waits on such a
job never end). ``Cancelled`` with reason code 1305 (the job exceeded its
``max_execution_time``) is an error as well, as qiskit-ibm-runtime maps it.

States are matched without regard to case (qiskit-ibm-runtime upper-cases them). A state
that is not one of these raises :class:`~ibmq_async.platform.errors.PlatformJobStateError`:
it is never taken for a state a job may still leave, so no wait hangs on it.

The classic API's mapping is beside its status strings in ``ibmq_async.models.job``; this
one lives with the platform channel because it raises the channel's own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ibmq_async.models.job import JobStatus
from ibmq_async.models.platform import JobState
from ibmq_async.platform.errors import PlatformJobStateError

__all__ = [
    "PLATFORM_TO_JOB_STATUS",
    "RAN_TOO_LONG_REASON_CODE",
    "RAN_TOO_LONG_STATE",
    "job_error_message",
    "job_status",
]

RAN_TOO_LONG_STATE = "Cancelled - Ran too long"
"""The state of a job cancelled because it exceeded its ``max_execution_time``."""

RAN_TOO_LONG_REASON_CODE = 1305
"""The reason code of a job that exceeded its ``max_execution_time``."""

PLATFORM_TO_JOB_STATUS: Mapping[str, JobStatus] = MappingProxyType(
    {
        "Queued": JobStatus.QUEUED,
        "Running": JobStatus.RUNNING,
        "Completed": JobStatus.DONE,
        "Cancelled": JobStatus.CANCELLED,
        RAN_TOO_LONG_STATE: JobStatus.ERROR,
        "Failed": JobStatus.ERROR,
    }
)
"""Each platform state (as the wire spells it) and the :class:`JobStatus` it maps to."""

_BY_FOLDED_NAME = {name.casefold(): name for name in PLATFORM_TO_JOB_STATUS}


def _state_name(state: object) -> str:
    status = state.status if isinstance(state, JobState) else state
    if isinstance(status, str):
        name = _BY_FOLDED_NAME.get(" ".join(status.split()).casefold())
        if name is not None:
            return name
    raise PlatformJobStateError(
        f"the platform reported the job state {status!r}, which this client does not know "
        f"(known: {', '.join(PLATFORM_TO_JOB_STATUS)})",
        state=status,
    )


def _reason_code(state: JobState) -> int | None:
    """The state's reason code, spelt ``reason_code`` or, as older answers do, ``reasonCode``."""
    if state.reason_code is not None:
        return state.reason_code
    legacy = (state.model_extra or {}).get("reasonCode")
    return legacy if isinstance(legacy, int) and not isinstance(legacy, bool) else None


def job_status(state: JobState | str, reason_code: int | None = None) -> JobStatus:
    """The :class:`JobStatus` of a platform job state.

    Args:
        state: The job's ``state`` (its ``status``, ``reason_code`` are read), or its
            ``state.status`` string.
        reason_code: The reason code, when ``state`` is a string.

    Returns:
        The status; ``ERROR`` for ``Failed``, ``Cancelled - Ran too long`` and
        ``Cancelled`` with reason code 1305.

    Raises:
        PlatformJobStateError: The state is not one the platform defines.
    """
    name = _state_name(state)
    if isinstance(state, JobState) and reason_code is None:
        reason_code = _reason_code(state)
    if name == "Cancelled" and reason_code == RAN_TOO_LONG_REASON_CODE:
        return JobStatus.ERROR
    return PLATFORM_TO_JOB_STATUS[name]


def job_error_message(state: JobState) -> str | None:
    """Why a job ended in error or was cancelled, as ``job.error_message()`` tells it.

    Returns:
        ``None`` for a job that is not in an error or cancelled state; otherwise the state,
        the platform's reason and, when there is one, its reason code and suggested
        solution (``"Failed: the simulation failed. Error code: 1517."``).

    Raises:
        PlatformJobStateError: The state is not one the platform defines.
    """
    status = job_status(state)
    if status not in (JobStatus.ERROR, JobStatus.CANCELLED):
        return None
    message = _state_name(state)
    if state.reason:
        message = f"{message}: {state.reason.rstrip('.')}."
    code = _reason_code(state)
    if code is not None:
        message = f"{message.rstrip('.')}. Error code: {code}."
    if state.reason_solution:
        message = f"{message} {state.reason_solution}"
    return message
