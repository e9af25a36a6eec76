"""The filters of a job listing, as one value every listing takes.

``IBMQBackend.jobs``, ``iter_jobs``, ``AccountProvider.jobs`` and the id listings all
filter jobs the same way; :class:`JobQuery` is that filter, checked once when it is made.
Each API translates it into its own query (the classic API's LoopBack ``where`` is
:func:`ibmq_async.api.classic.loopback.loopback_where`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models import ApiJobStatus, JobStatus

__all__ = ["JobQuery", "StatusArgument", "StatusLike", "parse_status"]

StatusLike = JobStatus | ApiJobStatus | str
StatusArgument = StatusLike | Sequence[StatusLike]


def parse_status(status: StatusLike) -> JobStatus | ApiJobStatus:
    """A :class:`JobStatus` (or its name, any case), else an :class:`ApiJobStatus` (or its
    exact string).

    Raises:
        IBMQInputValueError: The string names no status.
    """
    if isinstance(status, (JobStatus, ApiJobStatus)):
        return status
    if isinstance(status, str):
        try:
            return JobStatus[status.upper()]
        except KeyError:
            pass
        try:
            return ApiJobStatus(status.upper())
        except ValueError:
            pass
    raise IBMQInputValueError(f"{status!r} is not a job status")


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a listing returns, and in which order.

    Attributes:
        backend_name: Only jobs of this backend.
        status: One status, or any of several (a sequence); names are accepted.
        job_name: A regular expression the job name must match.
        start_datetime: Jobs created at or after this (naive = local time).
        end_datetime: Jobs created at or before this (naive = local time).
        job_tags: Tags to match.
        job_tags_operator: ``"OR"`` (any tag) or ``"AND"`` (every tag).
        experiment_id: Only jobs with this experiment id.
        db_filter: Extra conditions in the API's own query language (the classic
            API's LoopBack ``where``).
        descending: Newest first.

    Raises:
        IBMQInputValueError: An unknown status or tag operator, or tags that are not
            strings.
    """

    backend_name: str | None = None
    status: StatusArgument | None = None
    job_name: str | None = None
    start_datetime: datetime | None = None
    end_datetime: datetime | None = None
    job_tags: Sequence[str] | None = None
    job_tags_operator: str = "OR"
    experiment_id: str | None = None
    db_filter: Mapping[str, Any] | None = None
    descending: bool = True
    statuses: tuple[JobStatus | ApiJobStatus, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        status = self.status
        if status is None:
            statuses: tuple[JobStatus | ApiJobStatus, ...] = ()
        elif isinstance(status, (str, JobStatus, ApiJobStatus)):
            statuses = (parse_status(status),)
        else:
            statuses = tuple(parse_status(item) for item in status)
        object.__setattr__(self, "statuses", statuses)
        operator = self.job_tags_operator.upper() if isinstance(self.job_tags_operator, str) else ""
        if operator not in ("OR", "AND"):
            raise IBMQInputValueError(
                f"job_tags_operator must be 'OR' or 'AND', not {self.job_tags_operator!r}"
            )
        object.__setattr__(self, "job_tags_operator", operator)
        tags = self.job_tags
        if tags is not None and (
            isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags)
        ):
            raise IBMQInputValueError(f"job_tags must be a list of strings, got {tags!r}")
        for name in ("start_datetime", "end_datetime"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise IBMQInputValueError(f"{name} must be a datetime, got {value!r}")

    @property
    def several_statuses(self) -> bool:
        """Whether ``status`` was a sequence (any of them matches)."""
        return self.status is not None and not isinstance(
            self.status, (str, JobStatus, ApiJobStatus)
        )
