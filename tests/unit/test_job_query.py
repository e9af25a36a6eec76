"""JobQuery and its LoopBack translation: every fragment of docs/protocol.md §2.5, db_filter
merging, paging."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ibmq_async.api import JobQuery
from ibmq_async.api.classic.loopback import format_query_datetime, loopback_where, paginate_where
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models import ApiJobStatus, JobStatus


def build_job_where(**filters: Any) -> dict[str, Any]:
    return loopback_where(JobQuery(**filters))


START = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
END = datetime(2024, 3, 2, 12, 0, tzinfo=timezone.utc)


def test_no_arguments_give_an_empty_where() -> None:
    assert build_job_where() == {}


def test_backend_name() -> None:
    assert build_job_where(backend_name="ibmq_lima") == {"backend.name": "ibmq_lima"}


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        (JobStatus.INITIALIZING, {"status": {"inq": ["CREATING", "CREATED"]}}),
        (JobStatus.VALIDATING, {"status": {"inq": ["VALIDATING", "VALIDATED"]}}),
        (JobStatus.RUNNING, {"status": "RUNNING"}),
        (JobStatus.QUEUED, {"status": "QUEUED"}),
        (JobStatus.CANCELLED, {"status": "CANCELLED"}),
        (JobStatus.DONE, {"status": "COMPLETED"}),
        (JobStatus.ERROR, {"status": {"regexp": "^ERROR"}}),
        ("DONE", {"status": "COMPLETED"}),
        ("error", {"status": {"regexp": "^ERROR"}}),
        (ApiJobStatus.PENDING_IN_QUEUE, {"status": "PENDING_IN_QUEUE"}),
        ("ERROR_RUNNING_JOB", {"status": "ERROR_RUNNING_JOB"}),
    ],
)
def test_each_status_fragment(status: JobStatus | ApiJobStatus | str, fragment: dict) -> None:
    assert build_job_where(status=status) == fragment


def test_a_list_of_statuses_is_an_or() -> None:
    assert build_job_where(status=[JobStatus.QUEUED, JobStatus.RUNNING, "DONE"]) == {
        "or": [{"status": "QUEUED"}, {"status": "RUNNING"}, {"status": "COMPLETED"}]
    }


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(IBMQInputValueError):
        build_job_where(status="SLEEPING")


def test_job_name_is_a_regexp() -> None:
    assert build_job_where(job_name="^bell") == {"name": {"regexp": "^bell"}}


def test_dates_are_utc_iso_with_offset() -> None:
    assert build_job_where(start_datetime=START) == {
        "creationDate": {"gte": "2024-03-01T12:00:00+00:00"}
    }
    assert build_job_where(end_datetime=END) == {
        "creationDate": {"lte": "2024-03-02T12:00:00+00:00"}
    }
    assert build_job_where(start_datetime=START, end_datetime=END) == {
        "creationDate": {"between": ["2024-03-01T12:00:00+00:00", "2024-03-02T12:00:00+00:00"]}
    }


def test_an_offset_is_converted_and_a_naive_datetime_is_local_time() -> None:
    plus_two = datetime(2024, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_query_datetime(plus_two) == "2024-03-01T12:00:00+00:00"
    naive = datetime(2024, 3, 1, 12, 0)
    assert format_query_datetime(naive) == naive.astimezone(timezone.utc).isoformat()


def test_tags_or_and() -> None:
    assert build_job_where(job_tags=["a", "b"]) == {"tags": {"inq": ["a", "b"]}}
    assert build_job_where(job_tags=["a", "b"], job_tags_operator="AND") == {
        "and": [{"tags": "a"}, {"tags": "b"}]
    }
    with pytest.raises(IBMQInputValueError):
        build_job_where(job_tags=["a"], job_tags_operator="XOR")


def test_experiment_id() -> None:
    assert build_job_where(experiment_id="exp-1") == {"experimentTag": "exp-1"}


def test_db_filter_lists_are_extended_and_generated_keys_win() -> None:
    where = build_job_where(
        backend_name="ibmq_lima",
        status=[JobStatus.QUEUED, JobStatus.RUNNING],
        job_tags=["x", "y"],
        job_tags_operator="AND",
        db_filter={
            "hubInfo.hub.name": "ibm-q",
            "backend.name": "ignored",
            "or": [{"name": "a"}],
            "and": [{"shots": 100}],
        },
    )
    assert where == {
        "hubInfo.hub.name": "ibm-q",
        "backend.name": "ibmq_lima",
        "or": [{"name": "a"}, {"status": "QUEUED"}, {"status": "RUNNING"}],
        "and": [{"shots": 100}, {"tags": "x"}, {"tags": "y"}],
    }


def test_db_filter_is_not_mutated() -> None:
    db_filter = {"or": [{"name": "a"}]}
    build_job_where(status=[JobStatus.DONE], db_filter=db_filter)
    assert db_filter == {"or": [{"name": "a"}]}


def test_a_query_is_a_value_checked_when_made() -> None:
    query = JobQuery(backend_name="ibmq_lima", status="done", job_tags_operator="and")
    assert query == JobQuery(backend_name="ibmq_lima", status="done", job_tags_operator="AND")
    assert query.statuses == (JobStatus.DONE,)
    assert query.job_tags_operator == "AND"
    with pytest.raises(IBMQInputValueError, match="job_tags"):
        JobQuery(job_tags="not-a-list")
    with pytest.raises(IBMQInputValueError, match="datetime"):
        JobQuery(start_datetime="yesterday")  # type: ignore[arg-type]


def test_paginate_where_adds_date_and_ids() -> None:
    assert paginate_where(
        {"backend.name": "lima"},
        last_creation_date="2024-01-01T00:00:00.120Z",
        seen_ids=["j1", "j2"],
        descending=True,
    ) == {
        "backend.name": "lima",
        "creationDate": {"lte": "2024-01-01T00:00:00.120Z"},
        "id": {"nin": ["j1", "j2"]},
    }
    assert paginate_where(None, last_creation_date="d", seen_ids=["j"], descending=False) == {
        "creationDate": {"gte": "d"},
        "id": {"nin": ["j"]},
    }


def test_paginate_where_keeps_an_existing_date_range_through_and() -> None:
    where = build_job_where(start_datetime=START, end_datetime=END)
    paged = paginate_where(
        {**where, "id": {"inq": ["a", "b"]}},
        last_creation_date="d",
        seen_ids=["a"],
        descending=True,
    )
    assert paged["creationDate"] == where["creationDate"]
    assert paged["id"] == {"inq": ["a", "b"]}
    assert paged["and"] == [{"creationDate": {"lte": "d"}}, {"id": {"nin": ["a"]}}]
