"""The usage budget of a platform job set: what an instance's usage leaves it, what a job
is expected to cost, and one submission at a time until the first job tells."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import anyio
import pytest

from ibmq_async.jobmanager import _UsageBudget
from ibmq_async.models.platform import InstanceUsage, UsagePeriod

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _usage(consumed: float, **limits: Any) -> InstanceUsage:
    now = datetime.now(timezone.utc)
    return InstanceUsage(
        instance_id="crn:v1:bluemix:public:quantum-computing:us-east:a/acct:inst::",
        plan_id="open",
        usage_consumed_seconds=consumed,
        usage_period=UsagePeriod(start_time=now, end_time=now),
        usage_limit_reached=limits.pop("reached", False),
        **limits,
    )


async def test_an_instance_without_a_limit_never_stops_a_set() -> None:
    budget = _UsageBudget(_usage(100.0))
    assert not budget.limited
    assert await budget.reserve(0, 10) is None
    assert await budget.reserve(1, 10) is None


async def test_the_smaller_of_the_limit_and_the_allocation_counts() -> None:
    budget = _UsageBudget(_usage(2.0, usage_allocation_seconds=10.0, usage_limit_seconds=5.0))
    assert budget.limit == 5.0
    assert budget.left() == 3.0
    reached = _UsageBudget(_usage(1.0, usage_allocation_seconds=10.0, reached=True))
    assert reached.left() == 0.0
    assert await reached.reserve(0, 1) == (0.0, None)


async def test_jobs_are_counted_at_their_estimate_and_the_one_that_would_not_fit_is_refused() -> (
    None
):
    budget = _UsageBudget(_usage(0.0, usage_allocation_seconds=3.5))
    assert await budget.reserve(0, 10) is None  # the first job tells what a job costs
    budget.learn(0, 10, 1.0)
    budget.release(0)
    assert budget.need(10) == 1.0
    assert budget.need(5) == 0.5
    for index in (1, 2):
        assert await budget.reserve(index, 10) is None
        budget.learn(index, 10, 1.0)
        budget.release(index)
    assert budget.left() == pytest.approx(0.5)
    assert await budget.reserve(3, 10) == (pytest.approx(0.5), 1.0)
    assert await budget.reserve(4, 5) is None  # a smaller last chunk still fits
    assert budget.left() == pytest.approx(0.0)


async def test_until_the_first_job_tells_its_cost_one_submission_goes_at_a_time() -> None:
    budget = _UsageBudget(_usage(0.0, usage_allocation_seconds=3.5))
    in_flight: list[int] = []
    most_in_flight_before_an_estimate = 0
    outcomes: list[str] = []

    async def submit(index: int) -> None:
        nonlocal most_in_flight_before_an_estimate
        refused = await budget.reserve(index, 1)
        outcomes.append("refused" if refused else "go")
        if refused is None:
            in_flight.append(index)
            if budget.per_experiment is None:
                most_in_flight_before_an_estimate = max(
                    most_in_flight_before_an_estimate, len(in_flight)
                )
            await anyio.sleep(0.01)
            budget.learn(index, 1, 1.0)
            in_flight.remove(index)
            budget.release(index)

    async with anyio.create_task_group() as group:
        for index in range(4):
            group.start_soon(submit, index)
    # The first went alone; then two more fit (1 s each of 3.5 s) and the last did not.
    assert most_in_flight_before_an_estimate == 1
    assert outcomes == ["go", "go", "go", "refused"]


async def test_a_platform_that_gives_no_estimate_is_not_waited_on() -> None:
    budget = _UsageBudget(_usage(0.0, usage_allocation_seconds=1.0))
    assert await budget.reserve(0, 1) is None
    budget.learn(0, 1, None)
    budget.release(0)
    assert budget.blind
    with anyio.fail_after(1):
        assert await budget.reserve(1, 1) is None
        assert await budget.reserve(2, 1) is None  # no wait for an estimate that never comes
