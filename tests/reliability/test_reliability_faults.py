"""Exactly-once batch submission under injected faults, through the user surface.

A fault-injecting proxy sits between the SDK and the local service. It answers 502, 503
and 429 with ``Retry-After``, resets connections before forwarding, drops answers after
the service acted, and holds answers back longer than the client's read timeout. 1,000
one-experiment jobs submitted with ``IBMQJobManager`` must make exactly 1,000 jobs, one
per chunk, and every result must come back, for the right experiment.

The service runs as its own process (``ibmq-async serve``), as it would in production:
sharing the test's interpreter, it would compete with the client for the GIL, and the
short read timeout this test needs would then also fire on answers that are merely late.
What the service made is read from its database afterwards: job rows numbered 1 to 1,000
without a gap are exactly 1,000 creations, none undone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faults import ALL_FAULTS, SLOW, FaultProxy
from reliability_helpers import (
    DEFAULT_HGP,
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    write_config,
)

from ibmq_async import IBMQFactory, IBMQJobManager
from ibmq_async.api import SUBMISSION_TAG_PREFIX, RetryPolicy
from ibmq_async.models import JobStatus

SUBMISSIONS = 1000
CONCURRENCY = 30
SHOTS = 5
SEED = 20250107
TOKEN = "faults-user-token"
USER_ID = "faults-user"
READ_TIMEOUT = 2.0
SLOW_DELAY = 3.0
RATES = {"502": 0.03, "503": 0.03, "429": 0.02, "reset": 0.03, "drop": 0.04, SLOW: 0.02}

FAST_RETRY = RetryPolicy(
    max_attempts=25, backoff_base=0.02, backoff_max=0.4, jitter=0.5, deadline=120
)
"""Short backoffs so that the thousands of injected faults cost seconds, not minutes."""

SHORT_TIMEOUT = httpx.Timeout(connect=5.0, read=READ_TIMEOUT, write=5.0, pool=60.0)
"""A read timeout shorter than the proxy's slow answers, so those fail and are retried."""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    config = write_config(
        tmp_path / "service.toml",
        users=[{"token": TOKEN, "id": USER_ID}],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 2, "max_jobs": -1}],
    )
    process = ServiceProcess(tmp_path, config)
    try:
        yield process.start()
    finally:
        process.stop()


def _is_create(method: str, path: str) -> bool:
    return method == "POST" and path.split("?")[0].endswith("/Jobs")


def _is_start(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/jobDataUploaded")


@pytest.mark.slow
@pytest.mark.asyncio
async def test_1000_submissions_through_faults_make_exactly_1000_jobs(
    service: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async")
    started = time.monotonic()
    circuits = [encoded_circuit(index) for index in range(SUBMISSIONS)]
    proxy = FaultProxy(service.port, seed=SEED, rates=RATES, slow_delay=SLOW_DELAY)
    async with proxy.running():
        provider = await IBMQFactory().enable_account(
            TOKEN, url=proxy.url("/api"), retry=FAST_RETRY, timeout=SHORT_TIMEOUT
        )
        assert provider is not None
        async with provider:
            backend = provider.get_backend(SIMULATOR)
            job_set = await IBMQJobManager().run(
                circuits,
                backend,
                name="faults",
                max_experiments_per_job=1,
                max_concurrent_jobs=CONCURRENCY,
                shots=SHOTS,
            )
            results = await job_set.results(timeout=240)
            statuses = await job_set.statuses()

    # Every kind of fault happened, many times over, and answers to the calls that create
    # and start jobs were lost after the service acted on them.
    for fault in ALL_FAULTS:
        assert proxy.injected[fault] >= 20, proxy.injected
    lost = Counter(
        ("create" if _is_create(method, path) else "start")
        for fault, method, path in proxy.events
        if fault in ("drop", SLOW) and (_is_create(method, path) or _is_start(method, path))
    )
    assert lost["create"] >= 10, lost
    assert lost["start"] >= 10, lost
    # The slow answers did run into the client's read timeout, and were retried.
    retried = [
        record.getMessage() for record in caplog.records if "; retry " in record.getMessage()
    ]
    assert sum("ReadTimeout" in message for message in retried) >= 10

    # One chunk per experiment, each with exactly one job, all done.
    chunks = job_set.managed_jobs()
    assert len(chunks) == SUBMISSIONS
    assert all(chunk.size == 1 and chunk.submit_error is None for chunk in chunks)
    jobs = job_set.jobs()
    job_ids = [job.job_id() for job in jobs if job is not None]
    assert len(job_ids) == SUBMISSIONS
    assert len(set(job_ids)) == SUBMISSIONS
    assert statuses == [JobStatus.DONE] * SUBMISSIONS

    # Every result is there, and it is the result of its own experiment.
    assert results.success
    for index, chunk in enumerate(chunks):
        assert chunk.result is not None
        assert chunk.result.job_id == job_ids[index]
        header = chunk.result.results[0].header
        assert header is not None
        assert header.name == f"c{index}"
        assert results.get_counts(index) == {expected_bits(index): SHOTS}

    # The service made exactly one job per submission, whatever the client retried: its
    # job rows are numbered 1..1000 without a gap (nothing created twice and deleted).
    rows = service.job_rows()
    assert [seq for _, seq, _, _ in rows] == list(range(1, SUBMISSIONS + 1))
    assert {user for _, _, user, _ in rows} == {USER_ID}
    assert {status for _, _, _, status in rows} == {"COMPLETED"}
    assert sorted(job_id for job_id, _, _, _ in rows) == sorted(job_ids)

    # Listed without the proxy: one job per chunk name, one submission tag per job.
    direct = await IBMQFactory().enable_account(TOKEN, url=service.url)
    assert direct is not None
    async with direct:
        listed = await direct.jobs(limit=None, job_tags=[job_set.set_tag])
    assert (direct.hub, direct.group, direct.project) == DEFAULT_HGP
    assert sorted(job.job_id() for job in listed) == sorted(job_ids)
    names = Counter(job.name() for job in listed)
    assert names == Counter(f"faults_{index}_" for index in range(SUBMISSIONS))
    submission_tags = {
        tag for job in listed for tag in job.record.tags if tag.startswith(SUBMISSION_TAG_PREFIX)
    }
    assert len(submission_tags) == SUBMISSIONS
    assert time.monotonic() - started < 180
