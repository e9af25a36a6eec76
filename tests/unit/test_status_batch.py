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
