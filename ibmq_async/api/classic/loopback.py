"""The classic API's job listings: LoopBack filters and the paging of docs/protocol.md §2.5.

:func:`loopback_where` turns a :class:`~ibmq_async.api.query.JobQuery` into exactly the
``where`` fragments the original client sent. :class:`LoopBackPages` fetches a listing a
page at a time for a :class:`~ibmq_async.api.pager.Pager`: the next page asks for jobs at
or beyond the last one's creation date, excluding the ids already returned at that date
(``id.nin``), so a job is never returned twice even when many share a timestamp.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from ibmq_async.api.errors import protocol_error
from ibmq_async.api.pager import Page
from ibmq_async.api.query import JobQuery
from ibmq_async.models import ApiJobStatus, JobStatus

__all__ = [
    "JOB_ID_FIELDS",
    "LoopBackPages",
    "format_query_datetime",
    "loopback_where",
    "paginate_where",
    "status_fragment",
]

logger = logging.getLogger("ibmq_async")

M = TypeVar("M", bound=BaseModel)

JOB_ID_FIELDS = {"id": True, "liveDataEnabled": True, "creationDate": True}
"""The ``fields`` of the id listing (``GET .../Jobs/v/1``)."""

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


def status_fragment(status: JobStatus | ApiJobStatus) -> dict[str, Any]:
    """The ``where`` fragment of one status: §2.5's for a :class:`JobStatus`,
    ``{"status": "<string>"}`` for an :class:`ApiJobStatus`."""
    if isinstance(status, JobStatus):
        return copy.deepcopy(_JOB_STATUS_FRAGMENTS[status])
    return {"status": status.value}


def loopback_where(query: JobQuery) -> dict[str, Any]:
    """The ``where`` of a job listing, fragment for fragment as in docs/protocol.md §2.5.

    One status is merged in, several become an ``or`` of their fragments; ``db_filter``'s
    ``and``/``or`` lists are extended with the generated ones, and for its other keys the
    generated fragment wins.
    """
    where: dict[str, Any] = {}
    if query.backend_name:
        where["backend.name"] = query.backend_name
    if query.several_statuses:
        if query.statuses:
            where["or"] = [status_fragment(status) for status in query.statuses]
    elif query.statuses:
        where.update(status_fragment(query.statuses[0]))
    if query.job_name:
        where["name"] = {"regexp": query.job_name}
    start, end = query.start_datetime, query.end_datetime
    if start is not None and end is not None:
        where["creationDate"] = {
            "between": [format_query_datetime(start), format_query_datetime(end)]
        }
    elif start is not None:
        where["creationDate"] = {"gte": format_query_datetime(start)}
    elif end is not None:
        where["creationDate"] = {"lte": format_query_datetime(end)}
    if query.job_tags:
        if query.job_tags_operator == "OR":
            where["tags"] = {"inq": list(query.job_tags)}
        else:
            where["and"] = [{"tags": tag} for tag in query.job_tags]
    if query.experiment_id:
        where["experimentTag"] = query.experiment_id
    if query.db_filter:
        merged = copy.deepcopy(dict(query.db_filter))
        for key in ("and", "or"):
            if key in where and key in merged:
                merged[key] = [*merged[key], *where.pop(key)]
        merged.update(where)
        where = merged
    return where


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


GetList = Callable[[str, Mapping[str, str]], Awaitable[tuple[Any, httpx.Response]]]
"""``get(url, params)``: one GET of a listing, its decoded JSON and its response."""


@dataclass
class _Cursor:
    where: Mapping[str, Any] | None
    skip: int
    seen: set[str] = field(default_factory=set)
    tie_date: str | None = None
    tie_ids: list[str] = field(default_factory=list)
    first_date: str | None = None
    skipped_ties: list[str] | None = None


class LoopBackPages(Generic[M]):
    """The page fetcher of one LoopBack job listing.

    Args:
        get: Sends one listing request (retried as a call).
        url: The listing's URL (``.../Jobs/status/v/1`` or ``.../Jobs/v/1``).
        model: The model of each item; an item that does not fit is dropped with a
            warning, as the original client did.
        where: The LoopBack ``where``.
        skip: Jobs to skip first.
        descending: Newest first.
        fields: The ``fields`` filter, if any.
        id_url: The id listing's URL, to find skipped jobs that share a timestamp.
    """

    def __init__(
        self,
        get: GetList,
        url: str,
        model: type[M],
        where: Mapping[str, Any] | None,
        *,
        skip: int = 0,
        descending: bool = True,
        fields: Mapping[str, bool] | None = None,
        id_url: str,
    ) -> None:
        self._get = get
        self._url = url
        self._model = model
        self._where = where or None
        self._skip = skip
        self._descending = descending
        self._fields = fields
        self._id_url = id_url

    def _filter(self, where: Mapping[str, Any] | None, limit: int, skip: int) -> dict[str, str]:
        query: dict[str, Any] = {
            "order": f"creationDate {'DESC' if self._descending else 'ASC'}",
            "limit": limit,
            "skip": skip,
        }
        if self._fields:
            query["fields"] = dict(self._fields)
        if where:
            query["where"] = where
        return {"filter": json.dumps(query)}

    async def __call__(self, size: int, cursor: _Cursor | None) -> Page[M]:
        state = cursor or _Cursor(self._where, self._skip)
        data, response = await self._get(self._url, self._filter(state.where, size, state.skip))
        if data is None:
            return Page([])
        if not isinstance(data, list):
            raise protocol_error("The job list is not a JSON list", response)
        items: list[M] = []
        fresh = 0
        for item in data:
            job_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(job_id, str) or job_id in state.seen:
                continue
            state.seen.add(job_id)
            fresh += 1
            try:
                items.append(self._model.model_validate(item))
            except ValueError as exc:
                logger.warning("Discarding job %s: invalid data (%s)", job_id, _first_line(exc))
        if not data:
            return Page(items)
        if state.first_date is None and isinstance(data[0], dict):
            state.first_date = data[0].get("creationDate")
        last = data[-1]
        last_date = last.get("creationDate") if isinstance(last, dict) else None
        if fresh == 0 or not isinstance(last_date, str):
            if fresh == 0:
                logger.warning("The job listing repeated a page; stopping (filter ignored?)")
            return Page(items)
        page_ties = [
            str(item["id"])
            for item in data
            if isinstance(item, dict) and item.get("creationDate") == last_date
        ]
        state.tie_ids = [*state.tie_ids, *page_ties] if last_date == state.tie_date else page_ties
        state.tie_date = last_date
        excluded = state.tie_ids
        if self._skip and last_date == state.first_date:
            # Skipped jobs created at that same instant would come back: exclude them too.
            if state.skipped_ties is None:
                state.skipped_ties = await self._skipped_ids_at(last_date)
            excluded = [*state.skipped_ties, *state.tie_ids]
        state.where = paginate_where(
            self._where,
            last_creation_date=last_date,
            seen_ids=excluded,
            descending=self._descending,
        )
        state.skip = 0
        return Page(items, next=state)

    async def _skipped_ids_at(self, creation_date: str) -> list[str]:
        """Ids of the first ``skip`` jobs of the listing that were created at ``creation_date``."""
        query: dict[str, Any] = {
            "order": f"creationDate {'DESC' if self._descending else 'ASC'}",
            "limit": self._skip,
            "skip": 0,
            "fields": dict(JOB_ID_FIELDS),
        }
        if self._where:
            query["where"] = self._where
        data, response = await self._get(self._id_url, {"filter": json.dumps(query)})
        if not isinstance(data, list):
            raise protocol_error("The job id list is not a JSON list", response)
        return [
            str(item["id"])
            for item in data
            if isinstance(item, dict) and "id" in item and item.get("creationDate") == creation_date
        ]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
