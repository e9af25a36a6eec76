"""A batch script: hundreds of circuits as one job set, with progress, partial results and resume.

Runs 240 random circuits on ``ibmq_vigo`` (a job limit of 5 jobs per user), 10 circuits per
job, with a progress bar. The job set id is written to ``batch-state.json`` as soon as the
set exists: if the script is interrupted (Ctrl-C, a crash, a laptop that sleeps), running it
again finishes the same set, submitting only the jobs it lacks. Ctrl-C says so in one line.

It runs on a local service whose database (``batch-example.db``) survives between runs, so
resuming works without an account. With ``QE_TOKEN`` and ``QE_URL`` set it uses that account.

Run it with ``python examples/batch.py [--circuits N]``; ``--fresh`` forgets the saved set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from qiskit import transpile
from qiskit.circuit.random import random_circuit

from ibmq_async import AccountProvider, IBMQFactory, IBMQJobManager
from ibmq_async.local import LocalServiceConfig, serve

STATE = anyio.Path("batch-state.json")
DATABASE = Path("batch-example.db")


@contextlib.asynccontextmanager
async def account() -> AsyncIterator[AccountProvider]:
    async with contextlib.AsyncExitStack() as stack:
        token, url = os.environ.get("QE_TOKEN"), os.environ.get("QE_URL")
        if not (token and url):
            service = await stack.enter_async_context(serve(LocalServiceConfig(db=DATABASE)))
            token, url = service.token, service.url
        provider = await IBMQFactory().enable_account(token, url=url)
        assert provider is not None
        yield await stack.enter_async_context(provider)


async def main(circuit_count: int, fresh: bool, manager: IBMQJobManager) -> None:
    if fresh:
        await STATE.unlink(missing_ok=True)
    saved = json.loads(await STATE.read_text()) if await STATE.exists() else None
    async with account() as provider:
        backend = provider.get_backend("ibmq_vigo")
        config = backend.configuration()
        circuits = [
            random_circuit(5, depth=3, measure=True, seed=seed) for seed in range(circuit_count)
        ]
        transpiled = transpile(
            circuits,
            basis_gates=config.basis_gates,
            coupling_map=config.coupling_map,
            seed_transpiler=1,
        )
        job_set = await manager.run(
            transpiled,
            backend,
            name="random-circuits",
            max_experiments_per_job=10,
            job_set_id=saved["job_set_id"] if saved else None,
            progress=True,
            shots=256,
        )
        await STATE.write_text(json.dumps({"job_set_id": job_set.job_set_id()}))
        print(f"job set {job_set.job_set_id()}: {len(job_set.jobs())} jobs")

        results = await job_set.results(timeout=1800, partial=True)
        failures = job_set.error_messages()
        if failures:
            print("Some jobs failed (their experiments have no counts):")
            print(failures)
            print("Retrying them...")
            await job_set.retry_failed(timeout=1800)
            results = await job_set.results(partial=True)
        for index in (0, 1, circuit_count - 1):
            counts = results.get_counts(index)
            top = max(counts, key=counts.__getitem__)
            print(f"circuit {index}: {len(counts)} outcomes, most frequent {top} ({counts[top]})")
        print(f"all {circuit_count} circuits done: {results.success}")
        await STATE.unlink(missing_ok=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=240)
    parser.add_argument("--fresh", action="store_true")
    arguments = parser.parse_args()
    manager = IBMQJobManager()  # keeps the set it makes, even when interrupted
    try:
        anyio.run(main, arguments.circuits, arguments.fresh, manager)
    except KeyboardInterrupt:
        job_sets = manager.job_sets()
        if job_sets:
            set_id = job_sets[-1].job_set_id()
            Path(STATE).write_text(json.dumps({"job_set_id": set_id}))
            message = (
                f"interrupted: job set {set_id} is saved in {STATE}; "
                f"'python {sys.argv[0]} --circuits {arguments.circuits}' finishes it"
            )
        else:
            message = "interrupted before the job set was made; nothing was submitted"
        print(message, file=sys.stderr)
        sys.exit(130)
