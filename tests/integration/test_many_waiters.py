"""More jobs waited on at once than the connection pool has connections."""

from __future__ import annotations

import anyio
import httpx
import pytest
from qiskit import QuantumCircuit

from ibmq_async import IBMQFactory, IBMQJob
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

WAITERS = 150  # more than the 32 open websockets and the 100 pooled connections


@pytest.mark.asyncio
async def test_150_waits_on_queued_jobs_all_end_with_their_results() -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="many-waiters")],
        backends=[
            BackendConfig(name="ibmq_qasm_simulator", device="simulator", workers=2, paused=True)
        ],
    )
    circuit = QuantumCircuit(1, 1, name="flip")
    circuit.x(0)
    circuit.measure(0, 0)
    with LocalService(config) as service:
        # A short pool timeout makes a wait that starves for a pooled connection fail fast.
        timeout = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=2.0)
        provider = await IBMQFactory().enable_account(
            service.token, url=service.url, timeout=timeout
        )
        assert provider is not None
        single_polls: list[str] = []
        batch_polls: list[str] = []

        async def record(request: httpx.Request) -> None:
            if request.url.path.endswith("/Jobs/status/v/1"):
                batch_polls.append(str(request.url))
            elif request.url.path.endswith("/status/v/1") and "/ws/" not in request.url.path:
                single_polls.append(str(request.url))

        provider._connection.session.client.event_hooks["request"].append(record)
        async with provider:
            backend = provider.get_backend("ibmq_qasm_simulator")
            jobs: list[IBMQJob] = []

            async def submit() -> None:
                jobs.append(await backend.run(circuit, shots=2))

            async with anyio.create_task_group() as group:
                for _ in range(WAITERS):
                    group.start_soon(submit)
            counts: list[dict[str, int]] = []

            async def wait(job: IBMQJob) -> None:
                counts.append((await job.result(timeout=120)).get_counts())

            with anyio.fail_after(150):
                async with anyio.create_task_group() as group:
                    for job in jobs:
                        group.start_soon(wait, job)
                    await anyio.sleep(4.0)
                    service.resume_backend("ibmq_qasm_simulator")
    assert counts == [{"1": 2}] * WAITERS
    # The 118 waits beyond the websockets polled together: one listing for up to 100 jobs
    # each time they fell due, rather than 118 requests each time.
    assert single_polls == []
    assert 2 <= len(batch_polls) <= 40, len(batch_polls)
