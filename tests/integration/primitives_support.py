"""What the tests of the SDK's primitives, sessions and batches share: the local service
they run against, a platform provider on it, ISA circuits, and a record of the requests
a provider sends (to prove that bad input is refused before any)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

API_KEY = "primitives-api-key-0123456789"
OTHER_API_KEY = "primitives-other-key-9876543210"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/prim0account:prim0main::"
OTHER_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/prim0other:prim0other::"
DEVICE = "ibm_fez"
PAUSED = "ibm_paused"
SIMULATOR = "ibmq_qasm_simulator"


def service_config() -> LocalServiceConfig:
    """One user per instance, no creation limit; ``ibm_fez``, a simulator, and a paused
    device whose jobs stay queued."""
    return LocalServiceConfig(
        users=[
            UserConfig(
                token="primitives-classic",
                id="primitives-user",
                api_key=API_KEY,
                instances=[INSTANCE],
                jobs_per_minute=0,
            ),
            UserConfig(
                token="primitives-other-classic",
                id="primitives-other",
                api_key=OTHER_API_KEY,
                instances=[OTHER_INSTANCE],
                jobs_per_minute=0,
            ),
        ],
        backends=[
            BackendConfig(name=DEVICE, device="fez", workers=2),
            BackendConfig(name=SIMULATOR, device="simulator", workers=2),
            BackendConfig(name=PAUSED, device="lima", paused=True),
        ],
    )


@contextlib.asynccontextmanager
async def platform_provider(
    service: LocalService, api_key: str = API_KEY, instance: str = INSTANCE
) -> AsyncIterator[Any]:
    """A provider of the platform channel on ``service`` (of a factory of its own, so two
    accounts can be in use at once), closed on exit."""
    from ibmq_async import IBMQFactory

    provider = await IBMQFactory().enable_account(
        api_key,
        channel="ibm_quantum_platform",
        instance=instance,
        url=f"{service.root}/api",
        iam_url=service.root,
    )
    try:
        yield provider
    finally:
        await provider.aclose()


@dataclass
class RequestLog:
    """The requests of the runtime API a provider sent (``METHOD path``, and their bodies),
    in order."""

    sent: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sent)

    def body_of(self, method: str, path_end: str) -> bytes:
        """The body of the one request with this method whose path ends with ``path_end``."""
        found = [
            body
            for line, body in zip(self.sent, self.bodies, strict=True)
            if line.startswith(f"{method} ") and line.endswith(path_end)
        ]
        assert len(found) == 1, self.sent
        return found[0]

    def matching(self, method: str, fragment: str) -> list[str]:
        """The requests with this method whose path contains ``fragment``."""
        return [line for line in self.sent if line.startswith(f"{method} ") and fragment in line]


@contextlib.contextmanager
def recorded_requests(provider: Any) -> Iterator[RequestLog]:
    """Record every ``/api/v1`` request the provider's HTTP client sends in the block."""
    log = RequestLog()
    client: httpx.AsyncClient = provider.api.session.client

    async def record(request: httpx.Request) -> None:
        if "/api/v1" in request.url.path:
            log.sent.append(f"{request.method} {request.url.path}")
            log.bodies.append(request.content)

    hooks = client.event_hooks
    hooks.setdefault("request", []).append(record)
    client.event_hooks = hooks
    try:
        yield log
    finally:
        hooks["request"].remove(record)
        client.event_hooks = hooks


def bell(measure: bool = True, name: str = "bell") -> Any:
    """A Bell pair on two qubits, measured into ``meas`` unless asked otherwise."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, name=name)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure_all()
    return circuit


def isa(circuit: Any, backend: Any) -> Any:
    """``circuit`` transpiled for ``backend`` (an ISA circuit of its target)."""
    from qiskit.transpiler import generate_preset_pass_manager

    manager = generate_preset_pass_manager(
        target=backend.target, optimization_level=1, seed_transpiler=7
    )
    return manager.run(circuit)
