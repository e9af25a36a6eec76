"""Quickstart: run a random 5-qubit circuit on ibmq_vigo, on the embedded local service.

No account and no network are needed: ``ibmq_async.local.serve()`` starts a local IBM
Quantum service (real HTTP on loopback, circuits simulated by Qiskit Aer) and the SDK talks
to it exactly as it would talk to IBM Quantum. To use IBM Quantum instead, pass your token
and the default URL to ``IBMQ.enable_account``.

Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

import anyio
from qiskit import transpile
from qiskit.circuit.random import random_circuit

from ibmq_async import IBMQ
from ibmq_async.local import serve


async def main() -> None:
    async with serve() as service:
        provider = await IBMQ.enable_account(service.token, url=service.url)
        assert provider is not None
        async with provider:
            backend = provider.get_backend("ibmq_vigo")
            status = await backend.status()
            print(f"{backend.name()}: {status.status_msg}, {status.pending_jobs} pending jobs")

            circuit = random_circuit(5, depth=4, measure=True, seed=1234)
            config = backend.configuration()
            transpiled = transpile(
                circuit,
                basis_gates=config.basis_gates,
                coupling_map=config.coupling_map,
                seed_transpiler=1234,
            )

            job = await backend.run(transpiled, shots=1024, job_name="quickstart")
            print(f"submitted job {job.job_id()}")

            retrieved = await backend.retrieve_job(job.job_id())
            result = await retrieved.result(timeout=120)
            counts = result.get_counts()
            print(f"job {retrieved.job_id()} is {(await retrieved.status()).name}")
            print("counts:", dict(sorted(counts.items(), key=lambda item: -item[1])))


if __name__ == "__main__":
    anyio.run(main)
