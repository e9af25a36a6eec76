"""Exactly-once job sets on the platform channel under injected faults.

The fault-injecting proxy of ``tests/integration/faults.py`` sits between the SDK and the
local service's platform API (IAM included): it answers 502, 503 and 429 with
``Retry-After``, resets connections before forwarding, drops answers after the service
acted, and holds answers back longer than the client's read timeout. 1,000 one-circuit
jobs submitted with ``IBMQJobManager`` must make exactly 1,000 jobs, one per chunk, and
every result must come back, for the right circuit.

As in ``test_reliability_faults.py`` (the classic channel), the service runs as its own
process, and what it made is read from its database afterwards: platform job rows
numbered 1 to 1,000 without a gap are exactly 1,000 creations, none undone.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faults import ALL_FAULTS, SLOW, FaultProxy
from reliability_helpers import (
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    write_config,
)

from ibmq_async import IBMQFactory, IBMQJobManager, PlatformProvider
from ibmq_async.api import SUBMISSION_TAG_PREFIX, RetryPolicy
from ibmq_async.models import JobStatus

SUBMISSIONS = 1000
CONCURRENCY = 30
SHOTS = 5
SEED = 20261202
API_KEY = "platform-faults-key"
USER_ID = "platform-faults-user"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/fault1acct:fault1inst::"
READ_TIMEOUT = 2.0
SLOW_DELAY = 3.0
JOB_RATE = (1000, 1.0)
"""The service limits no creation rate; told so (as many as it takes), the set sends up to
its ``CONCURRENCY`` creations at once rather than the 5 of an unknown rate."""
RATES = {"502": 0.03, "503": 0.03, "429": 0.02, "reset": 0.03, "drop": 0.04, SLOW: 0.02}
CAUTION = 0.0
"""Seconds the pacer sends one creation at a time after a 429 has been waited out (a minute
by default, IBM's window). The proxy answers 429 to one creation in fifty, so with the
default the whole run would go one creation at a time, each slow answer holding up the
rest for the read timeout: minutes that prove nothing more about exactly-once. Each 429's
``Retry-After`` (1 s) still holds every creation back."""

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
        users=[
            {
                "token": "platform-faults-classic",
                "id": USER_ID,
                "api_key": API_KEY,
                "instances": [INSTANCE],
                "jobs_per_minute": 0,
            }
        ],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 2}],
    )
    process = ServiceProcess(tmp_path, config)
    try:
        yield process.start()
    finally:
        process.stop()


def _platform_job_rows(db: Path) -> list[tuple[str, int, str, str]]:
    """``(id, seq, user_id, status)`` of every stored platform job, by creation."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        rows = connection.execute(
            "SELECT id, seq, user_id, status FROM platform_jobs ORDER BY seq"
        ).fetchall()
    return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]


def _is_create(method: str, path: str) -> bool:
    return method == "POST" and path.split("?")[0].endswith("/v1/jobs")


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_1000_submissions_through_faults_make_exactly_1000_platform_jobs(
    service: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async")
    started = time.monotonic()
    circuits = [encoded_circuit(index) for index in range(SUBMISSIONS)]
    proxy = FaultProxy(service.port, seed=SEED, rates=RATES, slow_delay=SLOW_DELAY)
    async with proxy.running():
        provider = await IBMQFactory().enable_account(
            API_KEY,
            channel="ibm_quantum_platform",
            instance=INSTANCE,
            url=proxy.url("/api"),
            iam_url=proxy.url(""),
            retry=FAST_RETRY,
            timeout=SHORT_TIMEOUT,
            job_rate=JOB_RATE,
        )
        assert isinstance(provider, PlatformProvider)
        provider.api.pacer.caution = CAUTION
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
            results = await job_set.results(timeout=300)
            statuses = await job_set.statuses()
            refusals = provider.api.pacer.refusals

    # Every kind of fault happened, many times over, and answers to job creations were
    # lost after the service made the job.
    for fault in ALL_FAULTS:
        assert proxy.injected[fault] >= 20, proxy.injected
    lost = sum(
        1
        for fault, method, path in proxy.events
        if fault in ("drop", SLOW) and _is_create(method, path)
    )
    assert lost >= 10, proxy.events
    created_429 = sum(
        1 for fault, method, path in proxy.events if fault == "429" and _is_create(method, path)
    )
    assert refusals >= created_429 >= 3  # the pacer honoured each creation's 429
    retried = [
        record.getMessage() for record in caplog.records if "; retry " in record.getMessage()
    ]
    assert sum("ReadTimeout" in message for message in retried) >= 10

    # One chunk per circuit, each with exactly one job, all done.
    chunks = job_set.managed_jobs()
    assert len(chunks) == SUBMISSIONS
    assert all(chunk.size == 1 and chunk.submit_error is None for chunk in chunks)
    job_ids = [job.job_id() for job in job_set.jobs() if job is not None]
    assert len(job_ids) == SUBMISSIONS
    assert len(set(job_ids)) == SUBMISSIONS
    assert statuses == [JobStatus.DONE] * SUBMISSIONS

    # Every result is there, and it is the result of its own circuit.
    assert results.success
    for index, chunk in enumerate(chunks):
        assert chunk.result is not None
        assert chunk.result.job_id == job_ids[index]
        header = chunk.result.results[0].header
        assert header is not None
        assert header.name == f"c{index}"
        assert results.get_counts(index) == {expected_bits(index): SHOTS}

    # The service made exactly one job per submission, whatever the client retried: its
    # platform job rows are numbered 1..1000 without a gap (nothing made twice and deleted).
    rows = _platform_job_rows(service.db)
    assert [seq for _, seq, _, _ in rows] == list(range(1, SUBMISSIONS + 1))
    assert {user for _, _, user, _ in rows} == {USER_ID}
    assert {status for _, _, _, status in rows} == {"Completed"}
    assert sorted(job_id for job_id, _, _, _ in rows) == sorted(job_ids)

    # Listed without the proxy: one job per chunk name, one submission tag per job.
    direct = await IBMQFactory().enable_account(
        API_KEY,
        channel="ibm_quantum_platform",
        instance=INSTANCE,
        url=service.url,
        iam_url=f"http://127.0.0.1:{service.port}",
    )
    assert isinstance(direct, PlatformProvider)
    async with direct:
        listed = await direct.jobs(limit=None, job_tags=[job_set.set_tag])
    assert sorted(job.job_id() for job in listed) == sorted(job_ids)
    names = Counter(job.name() for job in listed)
    assert names == Counter(f"faults_{index}_" for index in range(SUBMISSIONS))
    submission_tags = {
        tag for job in listed for tag in job.record.tags if tag.startswith(SUBMISSION_TAG_PREFIX)
    }
    assert len(submission_tags) == SUBMISSIONS
    assert time.monotonic() - started < 240
