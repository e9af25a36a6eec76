"""Exactly-once submission under injected faults: a proxy between the client and the local
service answers 502, 503 and 429 with Retry-After, resets connections, and drops answers
after the service acted on the request. 200 submissions must make exactly 200 jobs, and
every result must come back."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from faults import FAULTS, FaultProxy

from ibmq_async.api import SUBMISSION_TAG_PREFIX, PollingPolicy, RetryPolicy
from ibmq_async.api.classic import Connection
from ibmq_async.local import BackendConfig, LocalServiceConfig, serve
from ibmq_async.models import ApiJobStatus

SIMULATOR = "ibmq_qasm_simulator"
HGP = ("ibm-q", "open", "main")
SUBMISSIONS = 200
CONCURRENCY = 20
RATES = {"502": 0.04, "503": 0.04, "429": 0.02, "reset": 0.04, "drop": 0.06}


def tiny_qobj(index: int) -> dict[str, Any]:
    return {
        "qobj_id": f"fault-{index}",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {},
        "config": {"shots": 4, "memory_slots": 1, "n_qubits": 1},
        "experiments": [
            {
                "header": {"name": f"e{index}", "memory_slots": 1, "n_qubits": 1},
                "config": {"n_qubits": 1, "memory_slots": 1},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }


def assert_pool_idle(connection: Connection) -> None:
    network = connection.session.network
    assert network.kind == "aiohttp"
    assert network.requests_in_flight == 0, "a request is still being sent or answered"


@pytest.mark.slow
@pytest.mark.asyncio
async def test_200_submissions_through_faults_make_exactly_200_jobs() -> None:
    started = time.monotonic()
    config = LocalServiceConfig.default().model_copy(
        update={"backends": [BackendConfig(name=SIMULATOR, device="simulator", workers=4)]}
    )
    policy = RetryPolicy(
        max_attempts=15, backoff_base=0.05, backoff_max=0.5, jitter=0.5, deadline=60
    )
    async with serve(config) as service:
        user = service.user_id(service.token)
        async with FaultProxy(service.port, seed=20240611, rates=RATES).running() as proxy:
            async with await Connection.connect(
                service.token,
                proxy.url("/api"),
                retry=policy,
                polling=PollingPolicy(initial=0.05, maximum=0.5),
            ) as conn:
                client = conn.project(*HGP)
                limiter = anyio.CapacityLimiter(CONCURRENCY)
                counts: dict[int, dict[str, int]] = {}
                job_ids: dict[int, str] = {}

                async def one(index: int) -> None:
                    async with limiter:
                        job = await client.submit(SIMULATOR, tiny_qobj(index))
                        job_ids[index] = job.job_id
                        final = await client.waits.wait_for_final(job.job_id, timeout=60)
                        assert final.status is ApiJobStatus.COMPLETED
                        result = await client.storage.result(job.job_id)
                        assert result.job_id == job.job_id
                        assert result.results[0].header is not None
                        assert result.results[0].header.name == f"e{index}"
                        counts[index] = dict(result.results[0].data.counts or {})

                async with anyio.create_task_group() as tg:
                    for index in range(SUBMISSIONS):
                        tg.start_soon(one, index)

                assert_pool_idle(conn)

            # Every kind of fault happened, many times over.
            for fault in FAULTS:
                assert proxy.injected[fault] >= 5, proxy.injected

        # Counted by the service itself, and listed without the proxy in the way.
        assert service.stats.jobs_created[user] == SUBMISSIONS
        async with await Connection.connect(service.token, service.url) as direct:
            listed = await direct.project(*HGP).jobs.id_listing(limit=None)
            records = await direct.project(*HGP).jobs.listing(limit=None)

    assert len(job_ids) == SUBMISSIONS
    assert len(set(job_ids.values())) == SUBMISSIONS
    assert sorted(record.job_id for record in listed) == sorted(job_ids.values())
    submission_tags = [
        tag for record in records for tag in record.tags if tag.startswith(SUBMISSION_TAG_PREFIX)
    ]
    assert len(set(submission_tags)) == SUBMISSIONS
    assert all(count == {"0x1": 4} for count in counts.values())
    assert len(counts) == SUBMISSIONS
    assert time.monotonic() - started < 60
