"""The platform channel's client-side pieces against the real local service over HTTP:
sampler and estimator params built by ``ibmq_async.platform`` are accepted and run; a
sampler result becomes the same classic ``Result`` that ``backend.run`` gets on the classic
channel for the same circuits; the ISA check and the execution limit refuse what the
service refuses and accept what it accepts; the job states map."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from platform_client import PlatformClient
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp

from ibmq_async import IBMQFactory, JobStatus, runtime_json
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig
from ibmq_async.models import Result, ResultDataError
from ibmq_async.models.platform import Job
from ibmq_async.platform import (
    ExecutionLimitError,
    NotISACircuitError,
    backend_target,
    check_circuits,
    estimator_request,
    job_error_message,
    job_status,
    sampler_request,
    sampler_result_to_result,
)

TOKEN = "pieces-classic-token"
API_KEY = "pieces-platform-key"
CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/pieces0account:pieces0main::"
FEZ = "ibm_fez"
SIM = "ibmq_qasm_simulator"
PAUSED = "ibm_paused"
SHOTS = 200

# The unmeasured circuit is run on purpose: the classic channel and Aer's sampler (in the
# service) warn about it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The 0-th pub's circuit has no output"),
    pytest.mark.filterwarnings("ignore:circuit 'unmeasured' has no measurements"),
]


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token=TOKEN, api_key=API_KEY, instances=[CRN], jobs_per_minute=0)],
        instances=[InstanceConfig(crn=CRN, name="pieces")],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=FEZ, device="fez", workers=2),
            BackendConfig(name=PAUSED, device="simulator", paused=True),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture
def client(service: LocalService) -> Iterator[PlatformClient]:
    with PlatformClient(service.root, API_KEY, CRN) as platform:
        yield platform


def _target(client: PlatformClient, backend: str) -> Any:
    configuration = client.ok("GET", f"/backends/{backend}/configuration")
    properties = client.ok("GET", f"/backends/{backend}/properties")
    return backend_target(configuration, properties)


@pytest.fixture(scope="module")
def fez_target(service: LocalService) -> Any:
    with PlatformClient(service.root, API_KEY, CRN) as platform:
        return _target(platform, FEZ)


def _post(client: PlatformClient, body: dict[str, Any]) -> Any:
    return client.request(
        "POST",
        "/jobs",
        content=runtime_json.dumps(body),
        headers={"Content-Type": "application/json"},
    )


def _submit(client: PlatformClient, request: Any, backend: str, **body: Any) -> str:
    response = _post(client, request.job_body(backend, **body))
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


# --- the circuits both channels run ---------------------------------------------------------


def _deterministic() -> list[QuantumCircuit]:
    two = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(1, "a"), name="two")
    two.add_register(ClassicalRegister(2, "c"))
    two.x(0)
    two.x(2)
    two.measure(0, 0)
    two.measure([1, 2], [1, 2])
    shuffled = QuantumCircuit(3, 3, name="shuffled")
    shuffled.x(0)
    shuffled.measure(0, 2)
    shuffled.measure(1, 0)
    shuffled.measure(2, 1)
    three = QuantumCircuit(QuantumRegister(4, "q"), name="three")
    for name, size in (("low", 2), ("mid", 1), ("high", 3)):
        three.add_register(ClassicalRegister(size, name))
    three.x([1, 3])
    three.measure([0, 1], three.cregs[0])
    three.measure([2], three.cregs[1])
    three.measure([3, 3, 0], three.cregs[2])
    unmeasured = QuantumCircuit(2, name="unmeasured")
    unmeasured.x(0)
    return [two, shuffled, three, unmeasured]


def _random() -> list[QuantumCircuit]:
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    mission = random_circuit(5, 4, measure=True, seed=5)
    mission.name = "random5"
    return [bell, mission]


def _read_as_classic_code_does(result: Result, names: list[str]) -> dict[str, Any]:
    """What code written for the classic Result reads: counts by index and by name, memory,
    totals, and the experiment headers."""
    out: dict[str, Any] = {}
    for index, name in enumerate(names):
        header = result.results[index].header
        assert header is not None
        if not header.creg_sizes:
            with pytest.raises(ResultDataError, match=f"'{name}' measured nothing") as caught:
                result.get_counts(name)
            out[name] = {"counts": str(caught.value), "memory": None}
            out[name].update(header=header.to_wire(), shots=result.results[index].shots)
            continue
        counts = result.get_counts(index)
        assert counts == result.get_counts(name)
        memory = result.get_memory(index)
        assert len(memory) == sum(counts.values()) == SHOTS
        assert dict(sorted((key, memory.count(key)) for key in set(memory))) == dict(
            sorted(counts.items())
        )
        out[name] = {
            "counts": counts,
            "memory": memory,
            "header": header.to_wire(),
            "shots": result.results[index].shots,
        }
    return out


async def _classic_result(service: LocalService, backend: str, circuits: list[Any]) -> Result:
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        job = await provider.get_backend(backend).run(circuits, shots=SHOTS, memory=True)
        return await job.result(timeout=120)


def _platform_result(
    client: PlatformClient, backend: str, circuits: list[Any]
) -> tuple[Result, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unmeasured circuit warns
        request = sampler_request(circuits, shots=SHOTS)
    job_id = _submit(client, request, backend)
    assert client.wait(job_id, timeout=120) == "Completed"
    result = sampler_result_to_result(
        client.result(job_id),
        job_id=job_id,
        backend_name=backend,
        circuits=[pub.circuit for pub in request.pubs],
    )
    return result, job_id


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", [SIM, FEZ])
async def test_backend_run_results_read_the_same_on_both_channels(
    service: LocalService, client: PlatformClient, fez_target: Any, backend: str
) -> None:
    target = fez_target if backend == FEZ else _target(client, backend)
    circuits = transpile(_deterministic() + _random(), target=target, seed_transpiler=3)
    # The simulator takes any circuit: as the channel will, check only qubits and parameters.
    check_circuits(circuits, target, require_bound=True, isa=backend != SIM)
    names = [circuit.name for circuit in circuits]
    classic = _read_as_classic_code_does(await _classic_result(service, backend, circuits), names)
    platform_result, job_id = _platform_result(client, backend, circuits)
    assert platform_result.job_id == job_id
    assert platform_result.backend_name == backend
    assert platform_result.experiment_names == names
    platform = _read_as_classic_code_does(platform_result, names)
    for name in names:
        assert platform[name]["header"] == classic[name]["header"], name
        assert platform[name]["shots"] == classic[name]["shots"] == SHOTS
    for name in ["two", "shuffled", "three", "unmeasured"]:
        # Deterministic circuits: the very same counts and memory (the unmeasured one: the
        # same error).
        assert platform[name]["counts"] == classic[name]["counts"], name
        assert platform[name]["memory"] == classic[name]["memory"], name
    assert classic["two"]["counts"] == {"10 1": SHOTS}
    assert classic["three"]["counts"] == {"011 0 10": SHOTS}
    assert set(platform["bell"]["counts"]) <= {"00", "11"}
    assert set(classic["bell"]["counts"]) <= {"00", "11"}
    # Random circuits: outcomes of the same widths, split in the same places.
    for name in ["bell", "random5"]:
        shapes = {tuple(len(part) for part in key.split(" ")) for key in classic[name]["counts"]}
        assert {tuple(len(p) for p in key.split(" ")) for key in platform[name]["counts"]} == (
            shapes
        )


# --- the platform's answers to what the pieces build ----------------------------------------


def test_options_and_parameter_sets_are_accepted_and_run(
    client: PlatformClient, fez_target: Any
) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, name="rotation")
    circuit.rx(theta, 0)
    circuit.measure_all()
    isa = transpile(circuit, target=fez_target, seed_transpiler=1)
    request = sampler_request(
        [(isa, np.array([[0.0], [np.pi]]), 50)],
        options={
            "default_shots": 64,
            "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
            "twirling": {"enable_gates": True, "num_randomizations": "auto"},
            "execution": {"init_qubits": True, "meas_type": "classified"},
            "simulator": {"seed_simulator": 3},
            "environment": {"job_tags": ["pieces"]},
            "max_execution_time": 300,
        },
    )
    job_id = _submit(client, request, FEZ, tags=["extra"])
    assert client.wait(job_id) == "Completed"
    job = Job.model_validate(client.job(job_id))
    assert job.tags == ["pieces", "extra"]
    assert job.cost == 300
    assert job_status(job.state) is JobStatus.DONE
    result = sampler_result_to_result(
        client.result(job_id), job_id=job_id, backend_name=FEZ, circuits=[isa]
    )
    assert result.experiment_names == ["rotation-0", "rotation-1"]
    assert result.get_counts("rotation-0") == {"0": 50}
    assert result.get_counts("rotation-1") == {"1": 50}


def test_an_estimator_request_is_accepted_and_run(client: PlatformClient, fez_target: Any) -> None:
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    isa = transpile(bell, target=fez_target, seed_transpiler=1)
    observables = [SparsePauliOp(label).apply_layout(isa.layout) for label in ("ZZ", "XX")]
    request = estimator_request(
        [(isa, observables, None, 0.05)],
        options={"resilience_level": 1, "twirling": {"enable_measure": True}},
    )
    job_id = _submit(client, request, FEZ)
    assert client.wait(job_id) == "Completed"
    evs = client.result(job_id)[0].data.evs
    np.testing.assert_allclose(evs, [1.0, 1.0], atol=0.2)


def test_what_the_client_refuses_as_not_isa_the_service_refuses(
    client: PlatformClient, fez_target: Any
) -> None:
    uncoupled = QuantumCircuit(3, name="uncoupled")
    uncoupled.cz(0, 2)
    outside = QuantumCircuit(2, name="outside")
    outside.h(0)
    wide = QuantumCircuit(157, name="wide")
    for circuit in (uncoupled, outside, wide):
        circuit.measure_all()
        with pytest.raises(NotISACircuitError):
            check_circuits([circuit], fez_target)
        response = _post(client, sampler_request([circuit], shots=10).job_body(FEZ))
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["code"] == 1010


def test_the_execution_limit_is_the_services(client: PlatformClient) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    values = np.zeros((2500, 1))
    with pytest.raises(ExecutionLimitError) as caught:
        sampler_request([(circuit, values, 4000), (circuit, [0.0], 1)])
    assert caught.value.executions == 10_000_001
    # The same job, sent without the client's check, is refused by the service too...
    over = sampler_request([(circuit, values, 4000)]).job_body(SIM)
    over["params"]["pubs"].append([circuit, np.zeros(1), 1])
    response = _post(client, over)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == 1012
    # ...and exactly the limit is accepted (on a paused backend, then cancelled: ten million
    # shots are not worth simulating here).
    at_limit = sampler_request([(circuit, values, 4000)])
    assert at_limit.executions == 10_000_000
    job_id = _submit(client, at_limit, PAUSED)
    cancelled = client.request("POST", f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 204, cancelled.text
    assert client.wait(job_id) == "Cancelled"
    assert job_status(Job.model_validate(client.job(job_id)).state) is JobStatus.CANCELLED


def test_a_failed_job_maps_to_an_error_with_its_reason(client: PlatformClient) -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    request = sampler_request(
        [circuit], shots=10, options={"experimental": {"simulate_failure": "boom"}}
    )
    job_id = _submit(client, request, SIM)
    assert client.wait(job_id) == "Failed"
    job = Job.model_validate(client.job(job_id))
    assert job_status(job.state) is JobStatus.ERROR
    message = job_error_message(job.state)
    assert message is not None
    assert message.startswith("Failed: ")
    assert "boom" in message


# --- the account reaches the service --------------------------------------------------------


def test_a_platform_account_reaches_the_local_service(
    service: LocalService, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import httpx

    from ibmq_async.credentials import (
        PlatformCredentials,
        load_platform_credentials,
        save_platform_credentials,
    )

    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL", "IAM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    saved = PlatformCredentials(
        token=API_KEY, instance=CRN, url=service.platform_url, iam_url=service.root
    )
    save_platform_credentials(saved)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", API_KEY)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", CRN)
    monkeypatch.setenv("QISKIT_IBM_URL", f"{service.root}/api")
    monkeypatch.setenv("IAM_URL", service.root)
    from_environment = load_platform_credentials()
    for account in (saved, from_environment):
        assert account.api_url == f"{service.root}/api"
        with httpx.Client(timeout=30) as http:
            token = http.post(
                f"{account.resolved_iam_url()}/identity/token",
                data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": API_KEY},
            )
            assert token.status_code == 200, token.text
            backends = http.get(
                f"{account.api_url}/v1/backends",
                headers={
                    "Authorization": f"Bearer {token.json()['access_token']}",
                    "Service-CRN": str(account.instance),
                },
            )
        assert backends.status_code == 200, backends.text
        assert {device["name"] for device in backends.json()["devices"]} == {SIM, FEZ, PAUSED}


def test_a_job_that_ran_too_long_is_an_error_not_a_wait(client: PlatformClient) -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    # 8000 shots at the simulator's 250 us a shot are 2 quantum seconds, over a cost of 1.
    request = sampler_request([circuit], shots=8000, options={"max_execution_time": 1})
    job_id = _submit(client, request, SIM)
    assert client.wait(job_id) == "Cancelled - Ran too long"
    job = Job.model_validate(client.job(job_id))
    status = job_status(job.state)
    assert status is JobStatus.ERROR
    assert status.is_final
    message = job_error_message(job.state)
    assert message is not None
    assert message.startswith("Cancelled - Ran too long")
    assert "Error code: 1305." in message
