"""Exactly-once submission on the platform channel under injected faults, through the user
surface: 1,000 ``backend.run`` calls through the fault-injecting proxy (502, 503, 429 with
``Retry-After``, resets, answers dropped after the service acted, answers held back past the
client's read timeout) make exactly 1,000 jobs, and every result is its own circuit's.

As ``test_reliability_faults.py`` proves it of the classic channel. The service runs as its
own process; what it made is read from its database afterwards.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
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

from ibmq_async import IBMQFactory, PlatformJob, PlatformProvider
from ibmq_async.api import SUBMISSION_TAG_PREFIX, RetryPolicy
from ibmq_async.models import Result

SUBMISSIONS = 1000
CONCURRENCY = 30
SHOTS = 5
SEED = 20261202
API_KEY = "faults-channel-key"
USER_ID = "faults-channel-user"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/fault0acct:fault0inst::"
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
        users=[
            {
                "token": "faults-channel-classic",
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


def _is_create(method: str, path: str) -> bool:
    return method == "POST" and path.split("?")[0].endswith("/v1/jobs")


def _platform_rows(db: Path) -> list[tuple[str, int, str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        rows = connection.execute(
            "SELECT id, seq, user_id, status FROM platform_jobs ORDER BY seq"
        ).fetchall()
    return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_1000_runs_through_faults_make_exactly_1000_jobs(
    service: ServiceProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async")
    started = time.monotonic()
    circuits = [encoded_circuit(index) for index in range(SUBMISSIONS)]
    root = f"http://127.0.0.1:{service.port}"
    proxy = FaultProxy(service.port, seed=SEED, rates=RATES, slow_delay=SLOW_DELAY, retry_after="0")
    jobs: list[PlatformJob | None] = [None] * SUBMISSIONS
    results: list[Result | None] = [None] * SUBMISSIONS
    async with proxy.running():
        provider = await IBMQFactory().enable_account(
            API_KEY,
            channel="ibm_quantum_platform",
            instance=INSTANCE,
            url=proxy.url("/api"),
            iam_url=proxy.url(""),
            retry=FAST_RETRY,
            timeout=SHORT_TIMEOUT,
        )
        assert isinstance(provider, PlatformProvider)
        async with provider:
            backend = provider.get_backend(SIMULATOR)
            limiter = anyio.CapacityLimiter(CONCURRENCY)

            async def run(index: int) -> None:
                async with limiter:
                    job = jobs[index] = await backend.run(circuits[index], shots=SHOTS)
                results[index] = await job.result(timeout=240)

            with anyio.fail_after(300):
                async with anyio.create_task_group() as group:
                    for index in range(SUBMISSIONS):
                        group.start_soon(run, index)

    # Every kind of fault happened, many times over, and answers to job creations were
    # lost after the service acted on them.
    for fault in ALL_FAULTS:
        assert proxy.injected[fault] >= 20, proxy.injected
    lost = Counter(
        "create"
        for fault, method, path in proxy.events
        if fault in ("drop", SLOW) and _is_create(method, path)
    )
    assert lost["create"] >= 10, lost
    retried = [
        record.getMessage() for record in caplog.records if "; retry " in record.getMessage()
    ]
    assert sum("ReadTimeout" in message for message in retried) >= 10

    # One job per run, each with its own result.
    job_ids = [job.job_id() for job in jobs if job is not None]
    assert len(set(job_ids)) == SUBMISSIONS
    for index, result in enumerate(results):
        assert result is not None
        assert result.job_id == job_ids[index]
        assert result.results[0].header.name == f"c{index}"
        assert result.get_counts(0) == {expected_bits(index): SHOTS}

    # The service made exactly one job per run, whatever the client retried: its job rows
    # are numbered without a gap (nothing created twice and deleted), all completed.
    rows = _platform_rows(service.db)
    assert len(rows) == SUBMISSIONS
    seqs = [seq for _, seq, _, _ in rows]
    assert seqs == list(range(seqs[0], seqs[0] + SUBMISSIONS))
    assert {user for _, _, user, _ in rows} == {USER_ID}
    assert {status for _, _, _, status in rows} == {"Completed"}
    assert sorted(job_id for job_id, _, _, _ in rows) == sorted(job_ids)

    # Listed without the proxy: one submission tag per job.
    direct = await IBMQFactory().enable_account(
        API_KEY, channel="ibm_quantum_platform", instance=INSTANCE, url=service.url, iam_url=root
    )
    async with direct:
        listed = await direct.jobs(limit=None)
    assert sorted(job.job_id() for job in listed) == sorted(job_ids)
    submission_tags = {
        tag for job in listed for tag in job.record.tags if tag.startswith(SUBMISSION_TAG_PREFIX)
    }
    assert len(submission_tags) == SUBMISSIONS
    assert time.monotonic() - started < 240
