"""A batch script that a test kills with SIGKILL half-way through its job set.

Usage: python jobmanager_child.py URL TOKEN EXPERIMENTS PER_JOB

Prints ``JOB_SET_ID <id>`` as soon as the set exists, then waits for its results.
"""

from __future__ import annotations

import sys

import anyio

from ibmq_async import IBMQFactory, IBMQJobManager

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from jobmanager_circuits import numbered_circuits


async def main(url: str, token: str, experiments: int, per_job: int) -> None:
    provider = await IBMQFactory().enable_account(token, url=url)
    assert provider is not None
    backend = provider.get_backend("ibmq_qasm_simulator")
    job_set = await IBMQJobManager().run(
        numbered_circuits(experiments), backend, max_experiments_per_job=per_job, shots=4
    )
    print("JOB_SET_ID", job_set.job_set_id(), flush=True)
    await job_set.results(timeout=300)
    print("DONE", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
