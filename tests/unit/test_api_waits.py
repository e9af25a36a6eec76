"""The shared poller of the job waits: many waits, few requests, nobody woken for nothing,
and nobody left waiting when the waiter that leads the polls leaves.

The waits run against fake fetches (no I/O): ``FakeListing`` answers the batched status
listing, ``FakeStatus`` the one-job poll; each job is final after a given number of polls.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import httpx
import pytest

from ibmq_async.api import JobWaits, PollingPolicy
from ibmq_async.api.classic import CLASSIC_STATUS
from ibmq_async.api.session import HttpSession
from ibmq_async.api.waits import _Watch, aligned_wait
from ibmq_async.exceptions import ApiNotFoundError, ApiServerError
from ibmq_async.models import JobStatusResponse

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def status(job_id: str, name: str = "QUEUED") -> JobStatusResponse:
    return JobStatusResponse.model_validate({"id": job_id, "status": name})


class Jobs:
    """Job ``j`` is QUEUED for its first ``polls[j]`` polls (default ``queued``), then
    COMPLETED; ids in ``unknown`` are missing from listings and 404 alone."""

    def __init__(self, *, queued: int = 1, unknown: frozenset[str] = frozenset()) -> None:
        self.queued = queued
        self.unknown = unknown
        self.polls: dict[str, int] = {}
        self.listings: list[list[str]] = []
        self.singles: list[str] = []
        self.fail_next_listing = False

    def _answer(self, job_id: str) -> JobStatusResponse:
        seen = self.polls.get(job_id, 0)
        self.polls[job_id] = seen + 1
        return status(job_id, "QUEUED" if seen < self.queued else "COMPLETED")

    async def listing(self, job_ids: Sequence[str]) -> dict[str, JobStatusResponse]:
        self.listings.append(list(job_ids))
        await anyio.sleep(0.001)
        if self.fail_next_listing:
            self.fail_next_listing = False
            raise ApiServerError("listing failed", status_code=503)
        return {job_id: self._answer(job_id) for job_id in job_ids if job_id not in self.unknown}

    async def single(self, job_id: str) -> JobStatusResponse:
        self.singles.append(job_id)
        await anyio.sleep(0.001)
        if job_id in self.unknown:
            raise ApiNotFoundError("Job not found", status_code=404)
        return self._answer(job_id)


def waits_for(
    jobs: Jobs, *, batched: bool = True, **policy: float | None
) -> JobWaits[JobStatusResponse]:
    session = HttpSession(httpx.AsyncClient())
    polling = PollingPolicy(**{"initial": 0.01, "maximum": 0.02, **policy})
    return JobWaits(
        session,
        jobs.single,
        kind=CLASSIC_STATUS,
        policy=polling,
        fetch_statuses=jobs.listing if batched else None,
        batch_size=10,
    )


async def test_waits_due_together_share_requests_of_at_most_the_batch_size() -> None:
    jobs = Jobs(unknown=frozenset({"j7"}))
    waits = waits_for(jobs)
    finals: dict[str, str] = {}
    errors: dict[str, BaseException] = {}

    async def wait(job_id: str) -> None:
        try:
            finals[job_id] = (await waits.wait_for_final(job_id, timeout=10)).status.value
        except ApiNotFoundError as error:
            errors[job_id] = error

    async with anyio.create_task_group() as group:
        for index in range(25):
            group.start_soon(wait, f"j{index}")
    assert all(len(call) <= 10 for call in jobs.listings)
    first_round = jobs.listings[:3]
    assert sorted(job for call in first_round for job in call) == sorted(f"j{i}" for i in range(25))
    assert len(jobs.listings) <= 7  # two rounds of at most 3 requests, plus a straggler
    assert finals == {f"j{i}": "COMPLETED" for i in range(25) if i != 7}
    assert jobs.singles.count("j7") == 1  # left out of the listing: asked alone, then 404
    assert isinstance(errors["j7"], ApiNotFoundError)
    assert waits.active_watches == 0


async def test_one_wait_alone_polls_its_job_alone() -> None:
    jobs = Jobs(queued=2)
    waits = waits_for(jobs)
    final = await waits.wait_for_final("only", timeout=10)
    assert final.status.value == "COMPLETED"
    assert jobs.listings == []
    assert jobs.singles == ["only"] * 3


async def test_a_failed_listing_fails_the_waits_of_its_batch_and_no_other() -> None:
    jobs = Jobs(queued=3)
    waits = waits_for(jobs)
    outcomes: dict[str, str] = {}

    async def wait(job_id: str, delay: float) -> None:
        await anyio.sleep(delay)
        try:
            await waits.wait_for_final(job_id, timeout=10)
            outcomes[job_id] = "done"
        except ApiServerError:
            outcomes[job_id] = "failed"

    jobs.fail_next_listing = True
    async with anyio.create_task_group() as group:
        for index in range(5):
            group.start_soon(wait, f"a{index}", 0.0)
        for index in range(5):
            group.start_soon(wait, f"b{index}", 0.005)  # due later: another batch
    failed = {job for job, outcome in outcomes.items() if outcome == "failed"}
    assert failed == set(jobs.listings[0])
    assert {job for job, outcome in outcomes.items() if outcome == "done"} == (
        set(outcomes) - failed
    )
    assert len(outcomes) == 10


async def test_when_the_leader_leaves_another_waiter_leads_and_every_wait_ends() -> None:
    jobs = Jobs(queued=5)
    waits = waits_for(jobs)
    finals: list[str] = []

    async def impatient() -> None:
        with anyio.move_on_after(0.015):  # it leads the first polls, then gives up
            await waits.wait_for_final("leader")

    async def patient(job_id: str) -> None:
        await anyio.sleep(0.001)
        finals.append((await waits.wait_for_final(job_id, timeout=10)).status.value)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(impatient)
            for index in range(20):
                group.start_soon(patient, f"p{index}")
    assert finals == ["COMPLETED"] * 20
    assert waits.active_watches == 0


async def test_a_poll_wakes_only_the_waiters_whose_job_changed() -> None:
    jobs = Jobs(queued=1_000_000)  # queued for ever
    waits = waits_for(jobs, initial=0.005, maximum=0.005, max_polls_per_second=None)
    deliveries: dict[str, int] = {}

    async def wait(job_id: str) -> None:
        def seen(_: JobStatusResponse) -> None:
            deliveries[job_id] = deliveries.get(job_id, 0) + 1

        with anyio.move_on_after(0.2):
            await waits.wait_for_final(job_id, on_status=seen)

    async with anyio.create_task_group() as group:
        for index in range(30):
            group.start_soon(wait, f"q{index}")
    assert sum(jobs.polls.values()) > 30 * 5  # polled many times over
    assert deliveries == {f"q{index}": 1 for index in range(30)}  # told once: QUEUED


async def test_without_a_listing_each_due_job_is_polled_alone() -> None:
    jobs = Jobs(queued=1)
    waits = waits_for(jobs, batched=False)
    async with anyio.create_task_group() as group:
        for index in range(5):
            group.start_soon(waits.wait_for_final, f"s{index}")
    assert jobs.listings == []
    assert sorted(jobs.singles) == sorted([f"s{i}" for i in range(5)] * 2)


def test_the_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        JobWaits(
            HttpSession(httpx.AsyncClient()),
            Jobs().single,
            kind=CLASSIC_STATUS,
            batch_size=0,
        )


@pytest.mark.parametrize(("wait", "now"), [(0.1, 12.34), (1.6, 7.0), (5.0, 3.2), (0.4, 0.0)])
def test_aligned_waits_end_on_the_grid_and_stretch_less_than_one_step(
    wait: float, now: float
) -> None:
    aligned = aligned_wait(wait, now)
    grid = min(wait, 1.0)
    assert wait <= aligned < wait + grid + 1e-9
    assert abs(((now + aligned) / grid) - round((now + aligned) / grid)) < 1e-6


def queued(position: int) -> JobStatusResponse:
    info = {"status": "PENDING_IN_QUEUE", "position": position}
    return JobStatusResponse.model_validate({"id": "j", "status": "QUEUED", "infoQueue": info})


def test_a_watch_keeps_only_the_statuses_a_user_has_not_seen_yet() -> None:
    watch = _Watch("j", CLASSIC_STATUS)
    first = watch.add_cursor()
    for position in range(200, 100, -1):  # a long wait: the queue position keeps changing
        assert watch.publish(queued(position))
        assert watch.next_for(first) == queued(position)
    assert len(watch.history) == 1  # not 100
    late = watch.add_cursor()  # a user joining now still sees the latest status
    assert watch.publish(queued(100))
    assert watch.next_for(first) == queued(100)
    assert len(watch.history) == 2  # the late user has not seen either
    assert watch.next_for(late) == queued(101)
    assert watch.next_for(late) == queued(100)
    assert watch.next_for(late) is None
    assert len(watch.history) == 1
    watch.remove_cursor(late)
    watch.remove_cursor(first)
    assert watch.history == [queued(100)]  # the last status is always kept


def test_many_polled_jobs_share_a_bounded_rate_of_polls() -> None:
    policy = PollingPolicy(initial=0.1, maximum=5.0, max_polls_per_second=1000)
    assert policy.next_wait(None) == 0.1
    assert policy.next_wait(None, polled=50) == 0.1  # few jobs: the usual backoff
    assert policy.next_wait(4.0, polled=100) == 5.0
    assert policy.next_wait(None, polled=2_000) == 2.0  # 2,000 jobs: 1,000 polls a second
    assert policy.next_wait(16.0, polled=10_000) == 10.0
    assert PollingPolicy(max_polls_per_second=None).next_wait(16.0, polled=10_000) == 5.0


async def test_the_waits_signal_wakes_every_waiter_and_forgets_cancelled_ones() -> None:
    from ibmq_async.api.waits import _Signal

    signal = _Signal()
    woken: list[int] = []

    async def waiter(number: int) -> None:
        await signal.wait()
        woken.append(number)

    async with anyio.create_task_group() as group:
        for number in range(3):
            group.start_soon(waiter, number)
        with anyio.move_on_after(0.01):  # a waiter that gives up leaves nothing behind
            await signal.wait()
        await anyio.wait_all_tasks_blocked()
        assert signal._waiters is not None
        assert len(signal._waiters) == 3
        signal.set()
    assert sorted(woken) == [0, 1, 2]
    assert signal.is_set()
    assert signal._waiters is None
    with anyio.fail_after(1):
        await signal.wait()  # already set: returns at once
