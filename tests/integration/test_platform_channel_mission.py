"""The mission's script, written once for the classic channel, runs unchanged on the platform
channel: a backend, a random 5-qubit circuit transpiled for it with ``backend.target``,
``run``, ``retrieve_job``, counts. Both channels of one local service, on asyncio and trio.

And a job of ``backend.run`` is retrieved, with its classic result, by another process.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from platform_channel import (
    API_KEY,
    CLASSIC_TOKEN,
    INSTANCE,
    VIGO,
    channel_config,
    platform_provider,
    registers_circuit,
)

from ibmq_async import IBMQFactory
from ibmq_async.local import LocalService

pytestmark = pytest.mark.anyio

SHOTS = 1024


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(channel_config()) as running:
        yield running


def mission_circuit() -> Any:
    from qiskit.circuit.random import random_circuit

    return random_circuit(5, depth=4, measure=True, seed=1234)


async def mission(provider: Any) -> tuple[str, str, dict[str, int]]:
    """The script: it knows nothing of the channel its provider is on."""
    from qiskit import transpile

    backend = provider.get_backend(VIGO)
    status = await backend.status()
    assert status.operational
    transpiled = transpile(mission_circuit(), target=backend.target, seed_transpiler=1234)
    job = await backend.run(transpiled, shots=SHOTS)
    retrieved = await backend.retrieve_job(job.job_id())
    result = await retrieved.result(timeout=120)
    counts = result.get_counts()
    return retrieved.job_id(), (await retrieved.status()).name, counts


def _possible_outcomes() -> set[str]:
    """The outcomes the mission's circuit can give (ideal simulation), as Qiskit keys them."""
    from qiskit.quantum_info import Statevector

    circuit = mission_circuit().remove_final_measurements(inplace=False)
    probabilities = Statevector(circuit).probabilities_dict()
    return {key for key, p in probabilities.items() if p > 1e-9}


@pytest.mark.parametrize("channel", ["classic", "platform"])
async def test_the_missions_script_runs_unchanged_on_both_channels(
    service: LocalService, channel: str
) -> None:
    if channel == "classic":
        provider = await IBMQFactory().enable_account(CLASSIC_TOKEN, url=service.url)
        assert provider is not None
        async with provider:
            job_id, status, counts = await mission(provider)
    else:
        async with platform_provider(service) as platform:
            job_id, status, counts = await mission(platform)
    assert job_id
    assert status == "DONE"
    assert sum(counts.values()) == SHOTS
    assert all(len(key) == 5 and set(key) <= {"0", "1"} for key in counts)
    assert set(counts) <= _possible_outcomes()
    assert len(counts) > 1  # the random circuit is not a basis state


RETRIEVE = """
import json, sys
import anyio
from ibmq_async import IBMQFactory, PlatformJob

async def main():
    handle, url, root = sys.argv[1:4]
    provider = await IBMQFactory().enable_account(
        {key!r}, channel="ibm_quantum_platform", instance={instance!r}, url=url, iam_url=root
    )
    async with provider:
        job = await PlatformJob.from_handle(handle, provider)
        result = await job.result(timeout=60)
        print(json.dumps({{
            "names": [experiment.header.name for experiment in result.results],
            "counts": [result.get_counts(i) for i in range(len(result.results))],
            "memory": result.get_memory(0)[:3],
            "tags": job.tags(),
            "name": job.name(),
        }}))

anyio.run(main)
"""


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # one other process is enough
async def test_another_process_retrieves_the_job_and_its_classic_result(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        circuits = [registers_circuit("first"), registers_circuit("second")]
        job = await provider.get_backend(VIGO).run(
            circuits, shots=16, job_tags=["elsewhere"], job_name="far"
        )
        await job.wait_for_final_state(timeout=60)
        handle = job.to_json()
    script = textwrap.dedent(RETRIEVE.format(key=API_KEY, instance=INSTANCE))
    with anyio.fail_after(120):
        completed = await anyio.run_process(
            [sys.executable, "-c", script, handle, service.url, service.root], check=False
        )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    seen = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    assert seen == {
        "names": ["first", "second"],
        "counts": [{"1 01": 16}, {"1 01": 16}],
        "memory": ["1 01"] * 3,
        "tags": ["elsewhere"],
        "name": "far",
    }
