"""Quickstart on IBM Quantum Platform: the quickstart's flow, then the primitives and a session.

The embedded local service serves IBM Quantum Platform's API too (the REST API of
qiskit-ibm-runtime), so no account and no network are needed. First the quickstart's flow
on the platform channel: a random 5-qubit circuit transpiled for ibmq_vigo's ``target``,
``run``, ``retrieve_job`` by id, counts. Then the platform's own surface: a ``Sampler`` and
an ``Estimator`` call, and two jobs in a ``Session``. To use IBM Quantum Platform, give
``IBMQ.enable_account`` your API key and your instance's CRN, and leave ``url`` and
``iam_url`` out.

Run it with ``python examples/platform_quickstart.py``.
"""

from __future__ import annotations

import anyio
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp

from ibmq_async import IBMQ
from ibmq_async.local import serve
from ibmq_async.platform import Estimator, Sampler, Session


async def main() -> None:
    async with serve() as service:
        provider = await IBMQ.enable_account(
            service.api_key,  # an IBM Cloud API key
            channel="ibm_quantum_platform",
            instance=service.instance,  # the instance's CRN
            url=service.url,
            iam_url=service.root,
        )
        async with provider:
            backend = provider.get_backend("ibmq_vigo")
            status = await backend.status()
            print(f"{backend.name()}: {status.status_msg}, {status.pending_jobs} pending jobs")

            circuit = random_circuit(5, depth=4, measure=True, seed=1234)
            transpiled = transpile(circuit, target=backend.target, seed_transpiler=1234)
            job = await backend.run(transpiled, shots=1024, job_name="quickstart")
            print(f"submitted job {job.job_id()}")

            retrieved = await backend.retrieve_job(job.job_id())
            result = await retrieved.result(timeout=120)
            counts = result.get_counts()
            print(f"job {retrieved.job_id()} is {(await retrieved.status()).name}")
            print("counts:", dict(sorted(counts.items(), key=lambda item: -item[1])))

            bell = QuantumCircuit(2)
            bell.h(0)
            bell.cx(0, 1)
            measured = bell.copy()
            measured.measure_all()
            isa_measured = transpile(measured, target=backend.target, seed_transpiler=1)
            isa_bell = transpile(bell, target=backend.target, seed_transpiler=1)
            zz = SparsePauliOp("ZZ").apply_layout(isa_bell.layout)

            sampled = await (await Sampler(mode=backend).run([isa_measured], shots=1000)).result()
            print("sampler counts:", sampled[0].data.meas.get_counts())

            estimated = await (await Estimator(mode=backend).run([(isa_bell, zz)])).result()
            print(f"estimator <ZZ>: {float(estimated[0].data.evs):.3f}")

            async with Session(backend, max_time=600) as session:
                sampler_job = await Sampler(mode=session).run([isa_measured], shots=100)
                estimator_job = await Estimator(mode=session).run([(isa_bell, zz)])
                in_session = [sampler_job.session_id, estimator_job.session_id]
                await sampler_job.result()
                await estimator_job.result()
                print(
                    f"session {session.session_id}: 2 jobs, "
                    f"both in it: {in_session == [session.session_id] * 2}"
                )


if __name__ == "__main__":
    anyio.run(main)
