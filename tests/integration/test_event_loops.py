"""The main flow on asyncio, uvloop and trio; a provider used on the wrong loop says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from qiskit import QuantumCircuit

from ibmq_async import IBMQFactory
from ibmq_async.exceptions import EventLoopMismatchError
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

TOKEN = "event-loop-token"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token=TOKEN, projects=["ibm-q/open/main"])],
        backends=[
            BackendConfig(name="ibmq_vigo", device="vigo", max_jobs=10, workers=1),
            BackendConfig(name="ibmq_lima", device="lima", max_jobs=10, workers=1),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


def native_bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


@pytest.mark.anyio
async def test_main_flow_runs_on_every_event_loop(service: LocalService) -> None:
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        backend = provider.get_backend("ibmq_vigo")
        assert (await backend.status()).operational
        job = await backend.run(native_bell(), shots=128)
        retrieved = await backend.retrieve_job(job.job_id())
        counts = (await retrieved.result(timeout=60)).get_counts()
        assert sum(counts.values()) == 128
        assert set(counts) <= {"00", "11"}


@pytest.mark.anyio
async def test_cancelled_result_wait_returns_at_once_on_every_loop(service: LocalService) -> None:
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        backend = provider.get_backend("ibmq_lima")
        service.pause_backend("ibmq_lima")
        try:
            job = await backend.run(native_bell(), shots=8)
            started = anyio.current_time()
            with anyio.move_on_after(0.2):
                await job.result()
            assert anyio.current_time() - started < 2
            assert service.job_status(job.job_id()) == "QUEUED"
        finally:
            service.resume_backend("ibmq_lima")
        assert sum((await job.result(timeout=60)).get_counts().values()) == 8


def test_a_provider_used_on_another_event_loop_raises_a_clear_error(
    service: LocalService,
) -> None:
    factory = IBMQFactory()

    async def connect() -> Any:
        return await factory.enable_account(TOKEN, url=service.url)

    provider = asyncio.run(connect())
    assert provider is not None

    async def use() -> None:
        await provider.get_backend("ibmq_vigo").status()

    with pytest.raises(EventLoopMismatchError, match="event loop"):
        asyncio.run(use())


def test_cancelling_a_result_wait_leaves_no_task_behind(service: LocalService) -> None:
    async def main() -> None:
        factory = IBMQFactory()
        provider = await factory.enable_account(TOKEN, url=service.url)
        assert provider is not None
        async with provider:
            backend = provider.get_backend("ibmq_lima")
            service.pause_backend("ibmq_lima")
            try:
                job = await backend.run(native_bell(), shots=8)
                baseline = asyncio.all_tasks()
                waiter = asyncio.ensure_future(job.result())
                await asyncio.sleep(0.3)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                await asyncio.sleep(0.1)
                assert asyncio.all_tasks() <= baseline
            finally:
                service.resume_backend("ibmq_lima")
            await job.wait_for_final_state(timeout=60)

    asyncio.run(main())
