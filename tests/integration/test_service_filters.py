"""The LoopBack ``filter`` of the job listings: every operator, order, paging, fields."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.filters import parse_filter

SIM = "ibmq_qasm_simulator"
PAUSED = "ibmq_vigo"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token="filters-token", projects=["hub-f/group-f/project-f"])],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=PAUSED, device="vigo", paused=True),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(scope="module")
def jobs(service: LocalService, service_api: Callable[..., Any], qobjs: Any) -> dict[str, Any]:
    """Ten jobs in known states, oldest first, plus the api to query them."""
    api = service_api(service, hgp=("hub-f", "group-f", "project-f"))
    made = []
    for index in range(6):
        tags = ["even" if index % 2 == 0 else "odd", f"n{index}"]
        made.append(api.submit(qobjs.flip(), name=f"Alpha-{index}", tags=tags))
    made.append(api.submit(qobjs.flip(simulate_failure="x"), name="failing", tags=["bad"]))
    made.append(api.submit({"qobj_id": "q", "type": "QASM"}, name="invalid", tags=["bad"]))
    made.append(api.submit(qobjs.flip(), backend=PAUSED, name="waiting", experimentTag="exp"))
    made.append(api.create(SIM, name="creating").json())
    for job in made[:8]:
        api.wait(job["id"])
    api.wait(made[8]["id"], until=lambda status: status == "QUEUED")
    return {"api": api, "jobs": made, "ids": [job["id"] for job in made]}


def ids_of(jobs: dict[str, Any], query: dict[str, Any]) -> list[str]:
    response = jobs["api"].list_jobs(query)
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()]


def newest_first(jobs: dict[str, Any], *indices: int) -> list[str]:
    return [jobs["ids"][index] for index in sorted(indices, reverse=True)]


def test_without_a_filter_every_job_newest_first(jobs: dict[str, Any]) -> None:
    assert ids_of(jobs, {}) == list(reversed(jobs["ids"]))
    assert jobs["api"].list_jobs(None).json()[0]["id"] == jobs["ids"][-1]


def test_equality_on_plain_and_dotted_fields(jobs: dict[str, Any]) -> None:
    assert ids_of(jobs, {"where": {"status": "QUEUED"}}) == newest_first(jobs, 8)
    assert ids_of(jobs, {"where": {"backend.name": PAUSED}}) == newest_first(jobs, 8)
    assert len(ids_of(jobs, {"where": {"hubInfo.hub.name": "hub-f"}})) == 10
    assert ids_of(jobs, {"where": {"hubInfo.hub.name": "ibm-q"}}) == []
    assert ids_of(jobs, {"where": {"experimentTag": "exp"}}) == newest_first(jobs, 8)
    assert ids_of(jobs, {"where": {"name": "Alpha-3"}}) == newest_first(jobs, 3)


def test_equality_on_an_array_means_contains(jobs: dict[str, Any]) -> None:
    assert ids_of(jobs, {"where": {"tags": "odd"}}) == newest_first(jobs, 1, 3, 5)
    both = {"where": {"and": [{"tags": "even"}, {"tags": "n4"}]}}
    assert ids_of(jobs, both) == newest_first(jobs, 4)


def test_inq_and_nin(jobs: dict[str, Any]) -> None:
    initializing = {"where": {"status": {"inq": ["CREATING", "CREATED"]}}}
    assert ids_of(jobs, initializing) == newest_first(jobs, 9)
    assert ids_of(jobs, {"where": {"tags": {"inq": ["n0", "n5"]}}}) == newest_first(jobs, 0, 5)
    final = ["COMPLETED", "CANCELLED", "ERROR_VALIDATING_JOB", "ERROR_RUNNING_JOB"]
    unfinished = {"where": {"status": {"nin": final}}}
    assert ids_of(jobs, unfinished) == newest_first(jobs, 8, 9)
    not_tagged = {"where": {"tags": {"nin": ["even", "odd"]}}}
    assert ids_of(jobs, not_tagged) == newest_first(jobs, 6, 7, 8, 9)


def test_regexp(jobs: dict[str, Any]) -> None:
    assert ids_of(jobs, {"where": {"status": {"regexp": "^ERROR"}}}) == newest_first(jobs, 6, 7)
    assert ids_of(jobs, {"where": {"name": {"regexp": "pha-[12]"}}}) == newest_first(jobs, 1, 2)
    assert ids_of(jobs, {"where": {"name": {"regexp": "^alpha"}}}) == []
    insensitive = {"where": {"name": {"regexp": "/^alpha-0$/i"}}}
    assert ids_of(jobs, insensitive) == newest_first(jobs, 0)
    assert ids_of(jobs, {"where": {"name": {"regexp": "^alpha-5", "options": "i"}}}) == (
        newest_first(jobs, 5)
    )
    assert ids_of(jobs, {"where": {"tags": {"regexp": "^n[34]$"}}}) == newest_first(jobs, 3, 4)


def test_comparisons_and_between_on_creation_dates(jobs: dict[str, Any]) -> None:
    dates = [job["creationDate"] for job in jobs["jobs"]]
    assert ids_of(jobs, {"where": {"creationDate": {"gte": dates[7]}}}) == newest_first(
        jobs, 7, 8, 9
    )
    assert ids_of(jobs, {"where": {"creationDate": {"gt": dates[7]}}}) == newest_first(jobs, 8, 9)
    assert ids_of(jobs, {"where": {"creationDate": {"lte": dates[1]}}}) == newest_first(jobs, 0, 1)
    assert ids_of(jobs, {"where": {"creationDate": {"lt": dates[1]}}}) == newest_first(jobs, 0)
    window = {"where": {"creationDate": {"between": [dates[2], dates[4]]}}}
    assert ids_of(jobs, window) == newest_first(jobs, 2, 3, 4)
    # The original client sends +00:00 offsets; they compare as the same instants.
    offset = dates[3].replace("Z", "+00:00")
    assert ids_of(jobs, {"where": {"creationDate": {"lte": offset}}}) == newest_first(
        jobs, 0, 1, 2, 3
    )


def test_neq_like_exists(jobs: dict[str, Any]) -> None:
    assert len(ids_of(jobs, {"where": {"status": {"neq": "COMPLETED"}}})) == 4
    assert ids_of(jobs, {"where": {"name": {"like": "Alpha-_"}}}) == newest_first(jobs, *range(6))
    assert ids_of(jobs, {"where": {"name": {"ilike": "WAIT%"}}}) == newest_first(jobs, 8)
    assert ids_of(jobs, {"where": {"name": {"nlike": "Alpha%"}}}) == newest_first(jobs, 6, 7, 8, 9)
    assert ids_of(jobs, {"where": {"error": {"exists": True}}}) == newest_first(jobs, 6, 7)
    assert ids_of(jobs, {"where": {"experimentTag": {"exists": True}}}) == newest_first(jobs, 8)


def test_nested_and_or(jobs: dict[str, Any]) -> None:
    query = {
        "where": {
            "or": [
                {"and": [{"tags": "odd"}, {"name": {"regexp": "[13]$"}}]},
                {"status": "QUEUED"},
            ]
        }
    }
    assert ids_of(jobs, query) == newest_first(jobs, 1, 3, 8)
    active = {
        "where": {
            "or": [
                {"status": {"inq": ["CREATING", "CREATED"]}},
                {"status": {"inq": ["VALIDATING", "VALIDATED"]}},
                {"status": "QUEUED"},
                {"status": "RUNNING"},
            ]
        }
    }
    assert ids_of(jobs, active) == newest_first(jobs, 8, 9)
    assert ids_of(jobs, {"where": {"nor": [{"tags": "even"}, {"tags": "odd"}]}}) == (
        newest_first(jobs, 6, 7, 8, 9)
    )


def test_order_limit_skip(jobs: dict[str, Any]) -> None:
    ids = jobs["ids"]
    assert ids_of(jobs, {"order": "creationDate ASC"}) == ids
    assert ids_of(jobs, {"order": "creationDate DESC", "limit": 3}) == ids[::-1][:3]
    assert ids_of(jobs, {"order": "creationDate DESC", "limit": 3, "skip": 2}) == ids[::-1][2:5]
    assert ids_of(jobs, {"order": "creationDate ASC", "skip": 8}) == ids[8:]
    assert ids_of(jobs, {"order": "creationDate ASC", "skip": 50}) == []
    by_name = ids_of(jobs, {"order": ["name DESC"], "where": {"tags": {"inq": ["n1", "n2"]}}})
    assert by_name == [ids[2], ids[1]]


def test_fields(jobs: dict[str, Any]) -> None:
    api = jobs["api"]
    query = {"fields": {"id": True, "creationDate": True}, "limit": 2}
    listed = api.list_jobs(query, ids_only=True).json()
    assert [set(job) for job in listed] == [{"id", "creationDate"}] * 2
    as_list = api.list_jobs({"fields": ["id", "status"], "limit": 1}).json()
    assert set(as_list[0]) == {"id", "status"}
    dropped = api.list_jobs({"fields": {"timePerStep": False}, "limit": 1}).json()
    assert "timePerStep" not in dropped[0]
    assert "status" in dropped[0]


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("page_size", [1, 3, 4])
def test_the_original_clients_pagination_has_no_duplicates(
    jobs: dict[str, Any], descending: bool, page_size: int
) -> None:
    """docs/protocol.md §2.5: later pages add creationDate lte/gte the last one and id nin it."""
    base_where: dict[str, Any] = {"tags": {"inq": ["even", "odd", "bad"]}}
    order = "creationDate DESC" if descending else "creationDate ASC"
    seen: list[str] = []
    limit = 100
    query: dict[str, Any] = {"order": order, "limit": page_size, "skip": 0, "where": base_where}
    while True:
        page = jobs["api"].list_jobs(query).json()
        if not page:
            break
        seen += [job["id"] for job in page]
        last = page[-1]
        where = dict(base_where)
        where["creationDate"] = {"lte" if descending else "gte": last["creationDate"]}
        where["id"] = {"nin": [last["id"]]}
        query = {"order": order, "limit": min(page_size, limit - len(seen)), "where": where}
        assert len(seen) < limit
    expected = jobs["ids"][:8]
    assert seen == (expected[::-1] if descending else expected)
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '"where"',
        '{"where": {"status": {"inq": ["QUEUED"], "frobnicate": 1}}}',
        '{"where": {"name": {"regexp": "("}}}',
        '{"where": {"name": {"regexp": "/a/q"}}}',
        '{"where": {"creationDate": {"between": ["2020-01-01"]}}}',
        '{"where": {"creationDate": {"gte": {"a": 1}}}}',
        '{"where": {"or": {"status": "QUEUED"}}}',
        '{"where": {"status": {"inq": "QUEUED"}}}',
        '{"where": "status"}',
        '{"limit": -1}',
        '{"limit": "ten"}',
        '{"skip": true}',
        '{"order": "creationDate SIDEWAYS"}',
        '{"order": 5}',
        '{"fields": {"id": "yes"}}',
        '{"unknown": 1}',
        '{"where": ' + '{"and": [' * 40 + "{}" + "]}" * 40 + "}",
        "[" * 5000 + "]" * 5000,
    ],
)
def test_a_bad_filter_is_a_400_with_an_error_body(jobs: dict[str, Any], text: str) -> None:
    api = jobs["api"]
    for suffix in ("/Jobs/status/v/1", "/Jobs/v/1"):
        response = api.get(api.path(suffix), params={"filter": text})
        assert response.status_code == 400, (text, response.text)
        error = response.json()["error"]
        assert error["code"] == 3216
        assert error["statusCode"] == 400
        assert "uber-trace-id" in response.headers


def test_filters_on_another_project_are_refused(
    jobs: dict[str, Any], service_api: Callable[..., Any]
) -> None:
    response = jobs["api"].list_jobs({}, hgp=("ibm-q", "open", "main"))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"tags": "even"}, {"even"}),
        ({"tags": {"inq": ["n1", "n2"]}}, {"n1", "n2"}),
        ({"and": [{"tags": {"inq": ["n1", "n2"]}}, {"tags": "n3"}]}, {"n3"}),
        ({"and": [{"tags": "even"}, {"tags": "n4"}]}, {"even"}),
        ({"tags": {"inq": ["n1"]}, "name": "Alpha-1"}, {"n1"}),
        ({"or": [{"tags": "n1"}, {"name": "x"}]}, None),
        ({"tags": {"nin": ["n1"]}}, None),
        ({"tags": {"inq": ["2020-01-01T00:00:00Z"]}}, None),  # also equals other spellings
        ({"tags": {"inq": ["1", 1]}}, None),
        ({"name": "Alpha-1"}, None),
    ],
)
def test_tag_conditions_are_found_for_the_store_to_skip_other_jobs(
    where: dict[str, Any], expected: set[str] | None
) -> None:
    found = parse_filter(json.dumps({"where": where})).tags_any
    assert found == (None if expected is None else frozenset(expected))
    by_id = json.loads(json.dumps(where).replace('"tags"', '"id"'))
    assert parse_filter(json.dumps({"where": by_id})).ids_any == found


def test_the_tag_shortcut_gives_what_the_full_filter_gives(jobs: dict[str, Any]) -> None:
    assert ids_of(jobs, {"where": {"tags": "even"}}) == newest_first(jobs, 0, 2, 4)
    assert ids_of(jobs, {"where": {"tags": {"inq": ["n1", "bad"]}}}) == newest_first(jobs, 1, 6, 7)
    assert ids_of(
        jobs, {"where": {"and": [{"tags": {"inq": ["n1", "n3"]}}, {"name": "Alpha-3"}]}}
    ) == newest_first(jobs, 3)
    assert ids_of(jobs, {"where": {"tags": "no-such-tag"}}) == []
    some = [jobs["ids"][index] for index in (2, 5)]
    assert ids_of(jobs, {"where": {"id": {"inq": [*some, "0" * 24]}}}) == newest_first(jobs, 2, 5)
    assert ids_of(
        jobs, {"where": {"and": [{"id": {"inq": some}}, {"tags": "odd"}]}}
    ) == newest_first(jobs, 5)
