"""An async web service that runs circuits on request, sharing one provider.

A Starlette app: the provider is created once in the lifespan and shared by every request;
each request awaits its job without blocking the event loop, so many requests run at once.
If the client goes away, the wait is cancelled (the job itself keeps running).

It serves either channel. With ``QE_TOKEN`` and ``QE_URL`` set it uses that classic
account; with ``QISKIT_IBM_TOKEN`` and ``QISKIT_IBM_INSTANCE`` (IBM Quantum Platform, as
qiskit-ibm-runtime reads them) that platform account; otherwise it starts the embedded
local service, and talks to its IBM Quantum Platform API when
``QISKIT_IBM_CHANNEL=ibm_quantum_platform``, to its classic API otherwise. The embedded
service leaves the program's logging as it is (uvicorn's start-up lines and access log
still show). Run it with ``python examples/async_service.py`` (``PORT`` picks another port
than 8000; ``QISKIT_IBM_CHANNEL=ibm_quantum_platform python examples/async_service.py``
for the platform) and try::

    curl 'http://127.0.0.1:8000/bell?shots=512'
    curl -X POST --data-binary @circuit.qasm 'http://127.0.0.1:8000/run?shots=100'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from qiskit import QuantumCircuit, qasm2, transpile
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ibmq_async import (
    AccountProvider,
    IBMQBackend,
    IBMQError,
    IBMQFactory,
    PlatformBackend,
    PlatformProvider,
)
from ibmq_async.local import serve

BACKEND = os.environ.get("BACKEND", "ibmq_qasm_simulator")
MAX_SHOTS = 8192
PLATFORM = "ibm_quantum_platform"


async def connect(stack: contextlib.AsyncExitStack) -> AccountProvider | PlatformProvider:
    """The provider of the account in the environment, else of the embedded service."""
    factory = IBMQFactory()
    if os.environ.get("QE_TOKEN") and os.environ.get("QE_URL"):
        provider = await factory.load_account(channel="ibm_quantum")
    elif os.environ.get("QISKIT_IBM_TOKEN"):
        provider = await factory.load_account(channel=PLATFORM)
    else:
        service = await stack.enter_async_context(serve())
        if os.environ.get("QISKIT_IBM_CHANNEL") == PLATFORM:
            provider = await factory.enable_account(
                service.api_key,
                channel=PLATFORM,
                instance=service.instance,
                url=service.url,
                iam_url=service.root,
            )
        else:
            provider = await factory.enable_account(service.token, url=service.url)
    assert provider is not None, "the account has no hub/group/project"
    return provider


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        provider = await connect(stack)
        await stack.enter_async_context(provider)  # closes the provider's connection at exit
        app.state.backend = provider.get_backend(BACKEND)
        yield


async def run_and_count(
    backend: IBMQBackend | PlatformBackend, circuit: QuantumCircuit, shots: int
) -> JSONResponse:
    transpiled = transpile(circuit, target=backend.target)  # the same on both channels
    try:
        job = await backend.run(transpiled, shots=shots)
        result = await job.result(timeout=60)
    except IBMQError as error:
        return JSONResponse({"error": str(error)}, status_code=502)
    return JSONResponse({"job_id": job.job_id(), "counts": result.get_counts()})


class BadRequest(Exception):
    """A request the service cannot serve; answered with a 400 and the reason."""


def shots_of(request: Request) -> int:
    text = request.query_params.get("shots", "1024")
    try:
        shots = int(text)
    except ValueError:
        raise BadRequest(f"shots must be an integer from 1 to {MAX_SHOTS}, got {text!r}") from None
    if not 1 <= shots <= MAX_SHOTS:
        raise BadRequest(f"shots must be an integer from 1 to {MAX_SHOTS}, got {shots}")
    return shots


async def bad_request(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=400)


async def bell(request: Request) -> JSONResponse:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return await run_and_count(request.app.state.backend, circuit, shots_of(request))


async def run_qasm(request: Request) -> JSONResponse:
    shots = shots_of(request)
    try:
        circuit = qasm2.loads(
            (await request.body()).decode(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
    except (UnicodeDecodeError, qasm2.QASM2ParseError) as error:
        return JSONResponse({"error": f"not OpenQASM 2: {error}"}, status_code=400)
    return await run_and_count(request.app.state.backend, circuit, shots)


app = Starlette(
    routes=[Route("/bell", bell), Route("/run", run_qasm, methods=["POST"])],
    lifespan=lifespan,
    exception_handlers={BadRequest: bad_request},
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
