"""Helpers of the platform channel's surface tests: a local service with a platform user,
providers of it over real loopback HTTP, a transport that counts requests, circuits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ibmq_async import IBMQFactory, PlatformProvider
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig

API_KEY = "channel-api-key-3c9f2e1d7b"
CLASSIC_TOKEN = "channel-classic-token-8a7b6c"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/chan0acct:chan0inst::"
OTHER_INSTANCE = "crn:v1:bluemix:public:quantum-computing:eu-de:a/chan0acct:chan0other::"
SPENT_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/chan0acct:chan0spent::"
"""An instance whose allocation (0 s) is used up: job creation is refused."""
SIMULATOR = "ibmq_qasm_simulator"
VIGO = "ibmq_vigo"
LIMA = "ibmq_lima"
PAUSED = "ibmq_paused"
SLOW = "ibmq_slow"
"""A simulator whose shots are charged 10 ms each: a job of 200 shots runs 2 quantum
seconds, too long for ``max_execution_time=1``."""


def channel_config(**settings: Any) -> LocalServiceConfig:
    """One user with a classic token and a platform API key of :data:`INSTANCE`."""
    return LocalServiceConfig(
        users=[
            UserConfig(
                token=CLASSIC_TOKEN,
                id="channel-user",
                api_key=API_KEY,
                instances=[INSTANCE, OTHER_INSTANCE, SPENT_INSTANCE],
                jobs_per_minute=0,
            )
        ],
        instances=[
            InstanceConfig(crn=INSTANCE, name="channel"),
            InstanceConfig(crn=OTHER_INSTANCE, name="other"),
            InstanceConfig(crn=SPENT_INSTANCE, name="spent", allocation_seconds=0.0),
        ],
        backends=[
            BackendConfig(name=SIMULATOR, device="simulator", workers=2),
            BackendConfig(name=VIGO, device="vigo", workers=1),
            BackendConfig(name=LIMA, device="lima", workers=1),
            BackendConfig(name=PAUSED, device="vigo", paused=True),
            BackendConfig(name=SLOW, device="simulator", seconds_per_shot=0.01),
        ],
        **settings,
    )


class CountingTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over real HTTP, counting the requests it sends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


@asynccontextmanager
async def platform_provider(
    service: LocalService, *, instance: str = INSTANCE, **kwargs: Any
) -> AsyncIterator[PlatformProvider]:
    """A provider of the service's platform API (``url`` ROOT/api, ``iam_url`` ROOT)."""
    provider = await IBMQFactory().enable_account(
        API_KEY,
        channel="ibm_quantum_platform",
        instance=instance,
        url=service.url,
        iam_url=service.root,
        **kwargs,
    )
    async with provider:
        yield provider


def registers_circuit(name: str = "two_registers") -> Any:
    """X on qubit 0 and 2, measured into two registers: ``a`` (qubits 0, 1), ``b`` (qubit 2).

    Qiskit keys its only outcome ``"1 01"`` (the last register first, split by a space).
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    qubits = QuantumRegister(3, "q")
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    circuit = QuantumCircuit(qubits, a, b, name=name)
    circuit.x(0)
    circuit.x(2)
    circuit.measure([0, 1], a)
    circuit.measure([2], b)
    return circuit


def native_bell(name: str = "bell") -> Any:
    """A Bell pair in vigo's basis gates (rz, sx, cx), measured into ``c``."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2, name=name)
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def flip(name: str = "flip", width: int = 1) -> Any:
    """X on every qubit, measured: the only outcome is all ones."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(width, width, name=name)
    circuit.x(range(width))
    circuit.measure(range(width), range(width))
    return circuit
