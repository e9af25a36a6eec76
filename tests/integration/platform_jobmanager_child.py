"""A batch script on the platform channel that a test kills with SIGKILL half-way.

Usage: python platform_jobmanager_child.py URL IAM_URL API_KEY CRN CIRCUITS PER_JOB COUNT,SECONDS

Prints ``JOB_SET_ID <id>`` as soon as the set exists, then waits for its results; job
creation is paced to ``COUNT`` per ``SECONDS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from ibmq_async import IBMQFactory, IBMQJobManager

sys.path.insert(0, str(Path(__file__).parent))
from jobmanager_circuits import numbered_circuits


async def main(
    url: str, iam_url: str, api_key: str, crn: str, circuits: int, per_job: int, rate: str
) -> None:
    count, seconds = rate.split(",")
    provider = await IBMQFactory().enable_account(
        api_key,
        channel="ibm_quantum_platform",
        instance=crn,
        url=url,
        iam_url=iam_url,
        job_rate=(int(count), float(seconds)),
    )
    assert provider is not None
    backend = provider.get_backend("ibmq_qasm_simulator")
    job_set = await IBMQJobManager().run(
        numbered_circuits(circuits),
        backend,
        name="killed",
        max_experiments_per_job=per_job,
        shots=4,
    )
    print("JOB_SET_ID", job_set.job_set_id(), flush=True)
    await job_set.results(timeout=300)
    print("DONE", flush=True)


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:5], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
