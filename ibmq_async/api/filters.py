"""The LoopBack ``where`` filter of the job listings (docs/protocol.md §2.5).

:func:`build_job_where` turns the arguments of ``jobs()``/``job_ids()`` into exactly the
``where`` fragments the original client sent; :class:`JobFilter` is the same as a value.
:func:`paginate_where` adds the ``creationDate``/``id.nin`` conditions of the pagination
algorithm to a ``where``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models import ApiJobStatus, JobStatus

__all__ = [
    "JobFilter",
    "StatusArgument",
    "build_job_where",
    "format_query_datetime",
    "paginate_where",
    "status_fragment",
]

StatusLike = JobStatus | ApiJobStatus | str
StatusArgument = StatusLike | Sequence[StatusLike]

_JOB_STATUS_FRAGMENTS: dict[JobStatus, dict[str, Any]] = {
    JobStatus.INITIALIZING: {"status": {"inq": ["CREATING", "CREATED"]}},
    JobStatus.VALIDATING: {"status": {"inq": ["VALIDATING", "VALIDATED"]}},
    JobStatus.RUNNING: {"status": "RUNNING"},
    JobStatus.QUEUED: {"status": "QUEUED"},
    JobStatus.CANCELLED: {"status": "CANCELLED"},
    JobStatus.DONE: {"status": "COMPLETED"},
    JobStatus.ERROR: {"status": {"regexp": "^ERROR"}},
}


def format_query_datetime(value: datetime) -> str:
    """A datetime as the UTC ISO string of query parameters (``...+00:00``).

    A naive datetime is taken as local time, as the original client did.
    """
    return value.astimezone(timezone.utc).isoformat()


def status_fragment(status: StatusLike) -> dict[str, Any]:
    """The ``where`` fragment of one status.

    A :class:`JobStatus` (or its name, any case) gives the fragment of §2.5; an
    :class:`ApiJobStatus` (or its exact string) gives ``{"status": "<string>"}``.

    Raises:
        IBMQInputValueError: The string names no status.
    """
    if isinstance(status, JobStatus):
        return copy.deepcopy(_JOB_STATUS_FRAGMENTS[status])
    if isinstance(status, ApiJobStatus):
        return {"status": status.value}
    if isinstance(status, str):
        try:
            return copy.deepcopy(_JOB_STATUS_FRAGMENTS[JobStatus[status.upper()]])
        except KeyError:
            pass
        try:
            return {"status": ApiJobStatus(status.upper()).value}
        except ValueError:
            pass
    raise IBMQInputValueError(f"{status!r} is not a job status")


def build_job_where(
    *,
    backend_name: str | None = None,
    status: StatusArgument | None = None,
    job_name: str | None = None,
    start_datetime: datetime | None = None,
    end_datetime: datetime | None = None,
    job_tags: Sequence[str] | None = None,
    job_tags_operator: Literal["OR", "AND"] | str = "OR",
    experiment_id: str | None = None,
    db_filter: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``where`` of a job listing, fragment for fragment as in docs/protocol.md §2.5.

    Args:
        backend_name: ``"backend.name": name``.
        status: One status (merged in) or a sequence (an ``or`` of their fragments).
        job_name: A regular expression matched against the job name.
        start_datetime: Jobs created at or after this (naive = local time).
        end_datetime: Jobs created at or before this (naive = local time).
        job_tags: Tags to match.
        job_tags_operator: ``"OR"`` (any tag) or ``"AND"`` (every tag).
        experiment_id: ``"experimentTag": id``.
        db_filter: Extra LoopBack conditions. Its ``and``/``or`` lists are extended with the
            generated ones; for other keys the generated fragment wins.

    Raises:
        IBMQInputValueError: An unknown status or tag operator.
    """
    where: dict[str, Any] = {}
    if backend_name:
        where["backend.name"] = backend_name
    if status is not None:
        if isinstance(status, (str, JobStatus, ApiJobStatus)):
            where.update(status_fragment(status))
        else:
            fragments = [status_fragment(item) for item in status]
            if fragments:
                where["or"] = fragments
    if job_name:
        where["name"] = {"regexp": job_name}
    if start_datetime is not None and end_datetime is not None:
        where["creationDate"] = {
            "between": [format_query_datetime(start_datetime), format_query_datetime(end_datetime)]
        }
    elif start_datetime is not None:
        where["creationDate"] = {"gte": format_query_datetime(start_datetime)}
    elif end_datetime is not None:
        where["creationDate"] = {"lte": format_query_datetime(end_datetime)}
    if job_tags:
        operator = job_tags_operator.upper()
        if operator == "OR":
            where["tags"] = {"inq": list(job_tags)}
        elif operator == "AND":
            where["and"] = [{"tags": tag} for tag in job_tags]
        else:
            raise IBMQInputValueError(
                f"job_tags_operator must be 'OR' or 'AND', not {job_tags_operator!r}"
            )
    if experiment_id:
        where["experimentTag"] = experiment_id
    if db_filter:
        merged = copy.deepcopy(dict(db_filter))
        for key in ("and", "or"):
            if key in where and key in merged:
                merged[key] = [*merged[key], *where.pop(key)]
        merged.update(where)
        where = merged
    return where


@dataclass(frozen=True)
class JobFilter:
    """The arguments of :func:`build_job_where`, as a value."""

    backend_name: str | None = None
    status: StatusArgument | None = None
    job_name: str | None = None
    start_datetime: datetime | None = None
    end_datetime: datetime | None = None
    job_tags: Sequence[str] | None = None
    job_tags_operator: str = "OR"
    experiment_id: str | None = None
    db_filter: Mapping[str, Any] | None = None

    def where(self) -> dict[str, Any]:
        """The LoopBack ``where`` of this filter."""
        return build_job_where(
            backend_name=self.backend_name,
            status=self.status,
            job_name=self.job_name,
            start_datetime=self.start_datetime,
            end_datetime=self.end_datetime,
            job_tags=self.job_tags,
            job_tags_operator=self.job_tags_operator,
            experiment_id=self.experiment_id,
            db_filter=self.db_filter,
        )


def _add_condition(where: dict[str, Any], key: str, condition: Any) -> None:
    if key in where:
        where["and"] = [*where.get("and", []), {key: condition}]
    else:
        where[key] = condition


def paginate_where(
    where: Mapping[str, Any] | None,
    *,
    last_creation_date: str,
    seen_ids: Sequence[str],
    descending: bool,
) -> dict[str, Any]:
    """The ``where`` of the next page: the original plus creation date and id conditions.

    ``creationDate`` is bounded by the last job's creation date string (``lte`` when
    descending, ``gte`` otherwise) and ``id`` excludes ``seen_ids`` (the jobs already
    returned with that same creation date, so that ties never come back twice). A key the
    original ``where`` already constrains is combined through ``and``.
    """
    result = copy.deepcopy(dict(where or {}))
    _add_condition(result, "creationDate", {"lte" if descending else "gte": last_creation_date})
    _add_condition(result, "id", {"nin": list(seen_ids)})
    return result
