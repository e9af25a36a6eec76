"""StatusBatcher: many polls, few requests, and nobody left waiting when a leader leaves."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from ibmq_async.api.status_batch import StatusBatcher, aligned_wait
from ibmq_async.exceptions import ApiServerError
from ibmq_async.models import JobStatusResponse

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def status(job_id: str) -> JobStatusResponse:
    return JobStatusResponse.model_validate({"id": job_id, "status": "QUEUED"})


class FakeListing:
    """Answers listings for every job id except those in ``unknown``."""

    def __init__(self, *, unknown: frozenset[str] = frozenset(), delay: float = 0.01) -> None:
        self.calls: list[list[str]] = []
        self.unknown = unknown
        self.delay = delay
        self.fail_next = False

    async def __call__(self, job_ids: Sequence[str]) -> dict[str, JobStatusResponse]:
        self.calls.append(list(job_ids))
        await anyio.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise ApiServerError("listing failed", status_code=503)
        return {job_id: status(job_id) for job_id in job_ids if job_id not in self.unknown}


async def test_polls_due_together_share_requests_of_at_most_the_batch_size() -> None:
    listing = FakeListing(unknown=frozenset({"j7"}))
    batcher = StatusBatcher(listing, batch_size=10)
    answers: dict[str, JobStatusResponse | None] = {}

    async def poll(job_id: str) -> None:
        answers[job_id] = await batcher.status(job_id)

    async with anyio.create_task_group() as group:
        for index in range(25):
            group.start_soon(poll, f"j{index}")
    assert len(listing.calls) == 3
    assert sorted(len(call) for call in listing.calls) == [5, 10, 10]
    assert sorted(job for call in listing.calls for job in call) == sorted(answers)
    assert answers["j7"] is None  # left out of the answer: the caller asks on its own
    assert all(answers[f"j{i}"] == status(f"j{i}") for i in range(25) if i != 7)
    assert batcher.requests == 3


async def test_a_failed_listing_fails_every_poll_of_its_batch_and_no_other() -> None:
    listing = FakeListing()
    batcher = StatusBatcher(listing, batch_size=3)
    listing.fail_next = True
    outcomes: dict[str, str] = {}

    async def poll(job_id: str) -> None:
        try:
            await batcher.status(job_id)
            outcomes[job_id] = "ok"
        except ApiServerError:
            outcomes[job_id] = "failed"

    async with anyio.create_task_group() as group:
        for index in range(6):
            group.start_soon(poll, f"j{index}")
    assert sorted(outcomes.values()) == ["failed"] * 3 + ["ok"] * 3
    assert len(listing.calls) == 2


async def test_a_cancelled_leader_hands_over_and_every_other_poll_is_answered() -> None:
    listing = FakeListing(delay=0.2)
    batcher = StatusBatcher(listing, batch_size=100)
    answers: dict[str, JobStatusResponse | None] = {}

    async def poll(job_id: str) -> None:
        answers[job_id] = await batcher.status(job_id)

    async def leader() -> None:
        with anyio.move_on_after(0.1):  # cancelled while its request is in flight
            await batcher.status("leader")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(leader)
            await anyio.sleep(0.005)
            for index in range(5):
                group.start_soon(poll, f"j{index}")
    assert sorted(answers) == [f"j{i}" for i in range(5)]
    assert len(listing.calls) == 2  # the first, abandoned; the second, without the leader
    assert "leader" in listing.calls[0]
    assert "leader" not in listing.calls[1]


async def test_one_poll_alone_is_one_request() -> None:
    listing = FakeListing()
    batcher = StatusBatcher(listing)
    assert await batcher.status("only") == status("only")
    assert listing.calls == [["only"]]
    assert "requests=1" in repr(batcher)


def test_the_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        StatusBatcher(FakeListing(), batch_size=0)


@pytest.mark.parametrize("wait", [0.1, 0.2, 0.8, 1.6, 5.0])
@pytest.mark.parametrize("now", [0.0, 0.03, 12.345, 1000.999])
def test_aligned_waits_end_on_the_grid_and_stretch_less_than_one_step(
    wait: float, now: float
) -> None:
    stretched = aligned_wait(wait, now)
    grid = min(wait, 1.0)
    assert wait - 1e-9 <= stretched < wait + grid + 1e-9
    end = (now + stretched) / grid
    assert abs(end - round(end)) < 1e-6


async def test_two_callers_of_one_job_survive_the_leader_among_them_leaving() -> None:
    listing = FakeListing(delay=0.2)
    batcher = StatusBatcher(listing)
    answers: list[JobStatusResponse | None] = []

    async def leader() -> None:
        with anyio.move_on_after(0.1):
            await batcher.status("shared")

    async def follower() -> None:
        answers.append(await batcher.status("shared"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(leader)
            await anyio.sleep(0.005)
            group.start_soon(follower)
    assert answers == [status("shared")]
    assert listing.calls == [["shared"], ["shared"]]


async def test_a_batch_wakes_only_the_callers_it_answered() -> None:
    listing = FakeListing()
    batcher = StatusBatcher(listing, batch_size=10)
    woken: list[str] = []

    async def poll(job_id: str) -> None:
        await batcher.status(job_id)
        woken.append(job_id)

    async with anyio.create_task_group() as group:
        for index in range(30):
            group.start_soon(poll, f"j{index}")
    assert len(listing.calls) == 3
    # Callers return batch by batch: those of a batch before any of the next.
    assert [set(woken[i * 10 : i * 10 + 10]) for i in range(3)] == [
        set(call) for call in listing.calls
    ]


def queued(position: int) -> JobStatusResponse:
    info = {"status": "PENDING_IN_QUEUE", "position": position}
    return JobStatusResponse.model_validate({"id": "j", "status": "QUEUED", "infoQueue": info})


def test_a_watch_keeps_only_the_statuses_a_user_has_not_seen_yet() -> None:
    from ibmq_async.api.websocket import _Watch

    watch = _Watch("j")
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
