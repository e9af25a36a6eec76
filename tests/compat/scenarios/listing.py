"""Job listing: jobs() and job_ids() with status, name, tag, date, backend and db filters,
and the client's pagination (creationDate + id.nin) across several pages.

The scenario makes 25 finished jobs on the simulator, 2 cancelled ones on the paused
backend and 1 failed one on ibmq_vigo, all tagged with a tag of this run only, so every
expectation is exact. The test runs it in a time zone far from UTC (TZ=IST-5:30): the
client sends date filters converted from local time.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from datetime import datetime, timezone

from _harness import Scenario, connect, expect, expect_equal

N_SIMULATOR = 25
PAGE_CAP = 4  # a server may return fewer jobs than asked; the client pages on

scenario = Scenario()
ctx = scenario.context
tag = f"compat-list-{uuid.uuid4().hex[:8]}"
state: dict = {}
pages: list = []  # (limit asked, limit sent, skip, filter, jobs returned) per request
cap: dict = {"limit": None}


def _instrument_pages() -> None:
    """Record every page request of jobs(); optionally cap its size like a server might."""
    from qiskit.providers.ibmq.api.clients.account import AccountClient

    original = AccountClient.list_jobs_statuses

    def list_jobs_statuses(self, limit=10, skip=0, descending=True, extra_filter=None):  # type: ignore[no-untyped-def]
        sent = limit if cap["limit"] is None else min(limit, cap["limit"])
        page = original(
            self, limit=sent, skip=skip, descending=descending, extra_filter=extra_filter
        )
        pages.append(
            {
                "asked": limit,
                "sent": sent,
                "skip": skip,
                "filter": extra_filter,
                "ids": [job["job_id"] for job in page],
            }
        )
        return page

    AccountClient.list_jobs_statuses = list_jobs_statuses


def _ids(jobs: list) -> list:
    return [job.job_id() for job in jobs]


def _sim(indices) -> list:  # type: ignore[no-untyped-def]
    return [state["sim"][i].job_id() for i in indices]


def _expect_same_set(jobs: list, expected: list, what: str) -> None:
    ids = _ids(jobs)
    expect(len(ids) == len(set(ids)), f"{what}: duplicates in {ids}")
    missing, extra = set(expected) - set(ids), set(ids) - set(expected)
    expect(not missing and not extra, f"{what}: missing {sorted(missing)}, extra {sorted(extra)}")


def _paged(function, limit_cap):  # type: ignore[no-untyped-def]
    pages.clear()
    cap["limit"] = limit_cap
    try:
        return function()
    finally:
        cap["limit"] = None


@scenario.check("make_jobs")
def _() -> dict:
    from qiskit import QuantumCircuit, assemble
    from qiskit.providers.jobstatus import JobStatus

    provider = state["provider"] = connect(scenario)
    _instrument_pages()
    simulator = provider.get_backend(ctx["simulator"])
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    sim = []
    for i in range(N_SIMULATOR):
        tags = [tag]
        if i % 2 == 0:
            tags.append(f"{tag}-even")
        if i % 3 == 0:
            tags.append(f"{tag}-three")
        kind = "alpha" if i % 3 == 0 else "beta"
        sim.append(simulator.run(circuit, shots=8, job_name=f"{tag}-{kind}-{i:02d}", job_tags=tags))
    for job in sim:
        job.wait_for_final_state(timeout=60)
        expect_equal(job.status(), JobStatus.DONE, f"status of simulator job {job.job_id()}")
    limited = provider.get_backend(ctx["limited_backend"])
    cancelled = []
    for _ in range(2):  # one at a time: the backend allows two unfinished jobs
        job = limited.run(circuit, shots=8, job_tags=[tag, f"{tag}-cancelled"])
        expect(job.cancel(), f"cancel() of {job.job_id()} returned False")
        cancelled.append(job)
    big = QuantumCircuit(7, 7)
    big.measure(range(7), range(7))
    failed = provider.get_backend("ibmq_vigo").run(assemble(big, shots=8), job_tags=[tag])
    failed.wait_for_final_state(timeout=60)
    expect_equal(failed.status(), JobStatus.ERROR, "status of the failing job")
    for job in cancelled:
        expect_equal(job.status(), JobStatus.CANCELLED, f"status of {job.job_id()}")
    dates = [job.creation_date() for job in sim]
    expect(dates == sorted(dates), "creation dates do not follow the submission order")
    expect(len(set(dates)) == len(dates), "two jobs share a creation date")
    state.update(sim=sim, cancelled=cancelled, failed=failed)
    return {"tag": tag, "first": dates[0].isoformat(), "last": dates[-1].isoformat()}


@scenario.check("pagination_small_pages", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    jobs = _paged(
        lambda: backend.jobs(limit=30, backend_name=ctx["simulator"], job_tags=[tag]), PAGE_CAP
    )
    expected = list(reversed(_sim(range(N_SIMULATOR))))
    expect_equal(_ids(jobs), expected, "jobs(limit=30) in pages of 4, newest first")
    expect_equal(len(set(_ids(jobs))), N_SIMULATOR, "unique job ids")
    # 7 pages hold the 25 jobs; the client stops at the first empty page.
    expect_equal(len(pages), math.ceil(N_SIMULATOR / PAGE_CAP) + 1, "page requests")
    expect_equal([len(p["ids"]) for p in pages], [4, 4, 4, 4, 4, 4, 1, 0], "page sizes")
    for before, page in itertools.pairwise(pages):
        where = page["filter"]
        expect_equal(where.get("id"), {"nin": [before["ids"][-1]]}, "id filter of a next page")
        expect("lte" in where.get("creationDate", {}), f"no creationDate.lte in {where}")
    return {"pages": [len(p["ids"]) for p in pages], "second_filter": pages[1]["filter"]}


@scenario.check("pagination_ascending", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    jobs = _paged(
        lambda: backend.jobs(
            limit=30, backend_name=ctx["simulator"], job_tags=[tag], descending=False
        ),
        PAGE_CAP,
    )
    expect_equal(_ids(jobs), _sim(range(N_SIMULATOR)), "jobs(descending=False), pages of 4")
    for page in pages[1:]:
        expect("gte" in page["filter"].get("creationDate", {}), f"no gte in {page['filter']}")
    return {"pages": [len(p["ids"]) for p in pages]}


@scenario.check("pagination_server_pages", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    # limit=None: the client asks for pages of 20 until one comes back empty.
    jobs = _paged(
        lambda: backend.jobs(limit=None, backend_name=ctx["simulator"], job_tags=[tag]), None
    )
    expect_equal(_ids(jobs), list(reversed(_sim(range(N_SIMULATOR)))), "jobs(limit=None)")
    expect_equal([len(p["ids"]) for p in pages], [20, 5, 0], "page sizes")
    return {"pages": [len(p["ids"]) for p in pages]}


@scenario.check("pagination_skip", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    newest_first = list(reversed(_sim(range(N_SIMULATOR))))
    jobs = _paged(
        lambda: backend.jobs(limit=6, skip=10, backend_name=ctx["simulator"], job_tags=[tag]),
        PAGE_CAP,
    )
    expect_equal(_ids(jobs), newest_first[10:16], "jobs(limit=6, skip=10) in pages of 4")
    expect_equal([p["skip"] for p in pages], [10, 0], "skip of each page")
    sizes = [len(p["ids"]) for p in pages]
    few = backend.jobs(limit=3, backend_name=ctx["simulator"], job_tags=[tag])
    expect_equal(_ids(few), newest_first[:3], "jobs(limit=3)")
    return {"pages": sizes}


@scenario.check("job_ids", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    # 0.20.2 returns the raw items of GET /Jobs/v/1: {"id", "creationDate", "liveDataEnabled"}.
    items = backend.job_ids(limit=None, backend_name=ctx["simulator"], job_tags=[tag])
    ids = [item["id"] for item in items]
    expect_equal(ids, list(reversed(_sim(range(N_SIMULATOR)))), "job_ids(limit=None)")
    created = {job.job_id(): job.creation_date() for job in state["sim"]}
    for item in items:
        when = datetime.fromisoformat(item["creationDate"].replace("Z", "+00:00"))
        expect_equal(when, created[item["id"]], f"creationDate of {item['id']} in job_ids()")
    oldest = backend.job_ids(limit=2, job_tags=[tag], descending=False)
    expect_equal([item["id"] for item in oldest], _sim(range(2)), "job_ids(limit=2, ascending)")
    return {"count": len(ids), "keys": sorted(items[0])}


@scenario.check("filter_status", needs=("make_jobs",))
def _() -> dict:
    from qiskit.providers.jobstatus import JobStatus

    backend = state["provider"].backend
    cancelled = _ids(state["cancelled"])
    failed = state["failed"].job_id()
    done = backend.jobs(limit=50, status=JobStatus.DONE, job_tags=[tag])
    _expect_same_set(done, _sim(range(N_SIMULATOR)), "status=DONE")
    expect(all(job.status() == JobStatus.DONE for job in done), "a listed job is not DONE")
    _expect_same_set(
        backend.jobs(limit=50, status="CANCELLED", job_tags=[tag]), cancelled, "status=CANCELLED"
    )
    _expect_same_set(
        backend.jobs(limit=50, status=JobStatus.ERROR, job_tags=[tag]), [failed], "status=ERROR"
    )
    _expect_same_set(
        backend.jobs(limit=50, status=[JobStatus.CANCELLED, JobStatus.ERROR], job_tags=[tag]),
        [*cancelled, failed],
        "status=[CANCELLED, ERROR]",
    )
    expect_equal(backend.jobs(limit=50, status=JobStatus.QUEUED, job_tags=[tag]), [], "QUEUED")
    expect_equal(backend.jobs(limit=50, status="RUNNING", job_tags=[tag]), [], "RUNNING")
    return {"done": len(done), "cancelled": len(cancelled)}


@scenario.check("filter_name", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    alpha = backend.jobs(limit=50, job_name="alpha", job_tags=[tag])
    _expect_same_set(alpha, _sim(range(0, N_SIMULATOR, 3)), "job_name='alpha' (partial match)")
    expect(all("alpha" in job.name() for job in alpha), "a listed job's name lacks 'alpha'")
    exact = backend.jobs(limit=50, job_name=f"^{tag}-beta-0[12]$")
    _expect_same_set(exact, _sim([1, 2]), "job_name with a regular expression")
    expect_equal(backend.jobs(limit=50, job_name=f"^{tag}-gamma"), [], "job_name no match")
    return {"alpha": len(alpha)}


@scenario.check("filter_tags", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    even, three = f"{tag}-even", f"{tag}-three"
    _expect_same_set(
        backend.jobs(limit=50, job_tags=[even]), _sim(range(0, N_SIMULATOR, 2)), "tag even"
    )
    union = sorted(i for i in range(N_SIMULATOR) if i % 2 == 0 or i % 3 == 0)
    _expect_same_set(backend.jobs(limit=50, job_tags=[even, three]), _sim(union), "tags OR")
    both = backend.jobs(limit=50, job_tags=[even, three], job_tags_operator="AND")
    _expect_same_set(both, _sim(range(0, N_SIMULATOR, 6)), "tags AND")
    _expect_same_set(
        backend.jobs(limit=50, job_tags=[f"{tag}-cancelled"]),
        _ids(state["cancelled"]),
        "tag cancelled",
    )
    everything = backend.jobs(limit=50, job_tags=[tag])
    expect_equal(len(everything), N_SIMULATOR + 3, "every job of the run")
    for job in everything[:3]:
        expect(tag in job.tags(), f"listed job {job.job_id()} lacks the tag: {job.tags()}")
    return {"and": len(both), "or": len(union)}


@scenario.check("filter_dates", needs=("make_jobs",))
def _() -> dict:
    backend = state["provider"].backend
    expect(time.timezone != 0, "the scenario should run in a time zone other than UTC")
    dates = [job.creation_date() for job in state["sim"]]

    def naive_local(when: datetime) -> datetime:
        return when.astimezone().replace(tzinfo=None)

    start, end = naive_local(dates[5]), naive_local(dates[14])
    window = backend.jobs(
        limit=50, start_datetime=start, end_datetime=end, job_tags=[tag], descending=False
    )
    expect_equal(_ids(window), _sim(range(5, 15)), "jobs between the 6th and 15th creation dates")
    after = backend.jobs(limit=50, start_datetime=naive_local(dates[20]), job_tags=[tag])
    _expect_same_set(
        [job for job in after if job.backend().name() == ctx["simulator"]],
        _sim(range(20, N_SIMULATOR)),
        "start_datetime only",
    )
    before = backend.jobs(limit=50, end_datetime=naive_local(dates[2]), job_tags=[tag])
    _expect_same_set(before, _sim(range(3)), "end_datetime only")
    aware = backend.jobs(
        limit=50,
        start_datetime=dates[7].astimezone(timezone.utc),
        end_datetime=dates[9].astimezone(timezone.utc),
        job_tags=[tag],
    )
    _expect_same_set(aware, _sim(range(7, 10)), "aware UTC datetimes")
    # A date window combined with the client's own paging (creationDate merged as 'and').
    paged = _paged(
        lambda: backend.jobs(limit=20, start_datetime=start, end_datetime=end, job_tags=[tag]),
        PAGE_CAP,
    )
    expect_equal(_ids(paged), list(reversed(_sim(range(5, 15)))), "date window in pages of 4")
    return {"start": start.isoformat(), "end": end.isoformat(), "tz_offset_s": -time.timezone}


@scenario.check("filter_backend", needs=("make_jobs",))
def _() -> dict:
    provider = state["provider"]
    limited = provider.get_backend(ctx["limited_backend"])
    _expect_same_set(
        limited.jobs(limit=50, job_tags=[tag]), _ids(state["cancelled"]), "backend.jobs() lima"
    )
    vigo_jobs = provider.get_backend("ibmq_vigo").jobs(limit=50, job_tags=[tag])
    _expect_same_set(vigo_jobs, [state["failed"].job_id()], "backend.jobs() vigo")
    simulator = provider.get_backend(ctx["simulator"])
    _expect_same_set(
        simulator.jobs(limit=50, job_tags=[tag]), _sim(range(N_SIMULATOR)), "simulator jobs()"
    )
    return {"lima": 2, "vigo": 1}


@scenario.check("filter_db_filter", needs=("make_jobs",))
def _() -> dict:
    from qiskit.providers.jobstatus import JobStatus

    backend = state["provider"].backend
    hub = ctx["project"].split("/")[0]
    mine = backend.jobs(limit=50, job_tags=[tag], db_filter={"hubInfo.hub.name": hub})
    expect_equal(len(mine), N_SIMULATOR + 3, "db_filter on hubInfo.hub.name")
    other = backend.jobs(limit=50, job_tags=[tag], db_filter={"hubInfo.hub.name": "no-hub"})
    expect_equal(other, [], "db_filter on another hub")
    combined = backend.jobs(
        limit=50,
        status=JobStatus.DONE,
        job_name="alpha",
        job_tags=[f"{tag}-even"],
        db_filter={"or": [{"backend.name": ctx["simulator"]}, {"backend.name": "ibmq_vigo"}]},
    )
    _expect_same_set(combined, _sim(range(0, N_SIMULATOR, 6)), "status + name + tag + db_filter")
    return {"hub": len(mine), "combined": len(combined)}


@scenario.check("filter_db_filter_summary", needs=("make_jobs",))
def _() -> dict:
    # The original client's test_retrieve_jobs_db_filter: a filter on the Qobj summary
    # that job records carry (summaryData.summary.qobj_config.n_qubits).
    from qiskit import QuantumCircuit, transpile

    provider = state["provider"]
    simulator = provider.get_backend(ctx["simulator"])
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.measure([0, 1, 2], [0, 1, 2])
    summary_tag = f"{tag}-summary"
    job = simulator.run(transpile(circuit, backend=simulator), job_tags=[summary_tag])
    job.wait_for_final_state(timeout=60)
    my_filter = {
        "backend.name": simulator.name(),
        "summaryData.summary.qobj_config.n_qubits": 3,
        "status": "COMPLETED",
    }
    found = provider.backend.jobs(
        backend_name=simulator.name(), limit=2, skip=0, db_filter=my_filter,
        job_tags=[summary_tag],
    )  # fmt: skip
    _expect_same_set(found, [job.job_id()], "db_filter on summaryData.summary n_qubits")
    for listed in found:
        listed.refresh()
        n_qubits = listed.summary_data_["summary"]["qobj_config"]["n_qubits"]
        expect_equal(n_qubits, 3, f"n_qubits of the summary of {listed.job_id()}")
    one_qubit = dict(my_filter, **{"summaryData.summary.qobj_config.n_qubits": 1})
    ones = simulator.jobs(limit=50, db_filter=one_qubit, job_tags=[tag])
    _expect_same_set(ones, _sim(range(N_SIMULATOR)), "db_filter on 1-qubit summaries")
    return {"three": len(found), "one": len(ones)}


@scenario.check("refresh", needs=("make_jobs",))
def _() -> dict:
    # The original client's test_refresh: a listed job has no time_per_step until it is
    # refreshed, and then the same as the job that ran.
    provider = state["provider"]
    job = state["sim"][0]
    job.wait_for_final_state(timeout=60)
    if "COMPLETED" not in job.time_per_step():
        job.refresh()
    listed = provider.backend.jobs(db_filter={"id": job.job_id()})[0]
    expect(not listed._time_per_step, f"a listed job has time_per_step {listed._time_per_step}")
    listed.refresh()
    expect_equal(listed._time_per_step, job._time_per_step, "time_per_step after refresh()")
    return sorted(listed._time_per_step)


scenario.finish()
