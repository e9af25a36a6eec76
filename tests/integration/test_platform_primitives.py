"""The SDK's Sampler and Estimator against the local platform service over real HTTP, on
asyncio and on trio: counts of a Bell pair, expectation values close to the exact ones,
options on the wire, and bad PUBs and options refused before any request."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import numpy as np
import pytest
from primitives_support import (
    DEVICE,
    SIMULATOR,
    bell,
    isa,
    platform_provider,
    recorded_requests,
    service_config,
)

from ibmq_async import runtime_json
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.local import LocalService
from ibmq_async.platform import (
    Estimator,
    EstimatorOptions,
    ExecutionLimitError,
    NotISACircuitError,
    OptionsError,
    PubError,
    Sampler,
    SamplerOptions,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(service_config()) as running:
        yield running


# --- results ------------------------------------------------------------------------------


async def test_a_sampler_on_a_bell_pair_gives_counts(service: LocalService) -> None:
    from qiskit.primitives import PrimitiveResult

    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        job = await Sampler(mode=backend).run([isa(bell(), backend)], shots=600)
        assert job.session_id is None
        result = await job.result()
    assert isinstance(result, PrimitiveResult)
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 600
    assert set(counts) <= {"00", "11"}, counts
    assert min(counts.get("00", 0), counts.get("11", 0)) > 200, counts


async def test_pub_shots_parameter_sets_and_default_shots(service: LocalService) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    flip = QuantumCircuit(1, 1, name="flip")
    flip.ry(theta, 0)
    flip.measure(0, 0)
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        sampler = Sampler(mode=backend, options={"default_shots": 30})
        circuit = isa(flip, backend)
        job = await sampler.run([(circuit, [[0.0], [math.pi]], 50), isa(bell(), backend)])
        result = await job.result()
    flips = result[0].data.c
    assert flips.shape == (2,)
    assert flips[0].get_counts() == {"0": 50}
    assert flips[1].get_counts() == {"1": 50}
    assert sum(result[1].data.meas.get_counts().values()) == 30  # options.default_shots


async def test_an_estimator_gives_expectation_values_close_to_the_exact_ones(
    service: LocalService,
) -> None:
    from qiskit.quantum_info import SparsePauliOp, Statevector

    labels = ["ZZ", "XX", "YY", "ZI", "XY"]
    logical = bell(measure=False)
    exact = [Statevector(logical).expectation_value(SparsePauliOp(label)).real for label in labels]
    assert np.allclose(exact, [1, 1, -1, 0, 0])
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(logical, backend)
        observables = [SparsePauliOp(label).apply_layout(circuit.layout) for label in labels]
        job = await Estimator(mode=backend).run([(circuit, observables)], precision=0.02)
        result = await job.result()
    data = result[0].data
    assert data.evs.shape == (len(labels),)
    # 2500 shots a term: within 5 standard deviations of the exact values.
    assert np.all(np.abs(data.evs - exact) < 5 * 0.02 + 1e-9), data.evs
    assert np.all(data.stds <= 0.03), data.stds
    assert result[0].metadata["target_precision"] == 0.02


async def test_an_estimator_broadcasts_parameter_values(service: LocalService) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    rotation = QuantumCircuit(1)
    rotation.ry(theta, 0)
    angles = np.array([[0.0], [math.pi / 2], [math.pi]])
    async with platform_provider(service) as provider:
        backend = provider.get_backend(SIMULATOR)
        estimator = Estimator(mode=backend, options={"default_precision": 0.02})
        job = await estimator.run([(rotation, [["Z"], ["X"]], angles)])
        result = await job.result()
    evs = result[0].data.evs
    assert evs.shape == (2, 3)  # observables (2, 1) broadcast with the values (3,)
    assert np.allclose(evs, [np.cos(angles[:, 0]), np.sin(angles[:, 0])], atol=0.1), evs


async def test_runs_gathered_make_one_job_each(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        sampler = Sampler(mode=backend)
        circuit = isa(bell(), backend)
        jobs: list[Any] = [None] * 6

        async def run(index: int) -> None:
            jobs[index] = await sampler.run([circuit], shots=10 + index)

        async with anyio.create_task_group() as group:
            for index in range(len(jobs)):
                group.start_soon(run, index)
        assert len({job.job_id() for job in jobs}) == len(jobs)
        for index, job in enumerate(jobs):
            counts = (await job.result())[0].data.meas.get_counts()
            assert sum(counts.values()) == 10 + index


# --- options on the wire -----------------------------------------------------------------


async def test_sampler_options_reach_the_wire_as_qiskit_ibm_runtime_sends_them(
    service: LocalService,
) -> None:
    given = {
        "default_shots": 64,
        "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        "twirling": {"enable_gates": True, "num_randomizations": 4},
        "execution": {"init_qubits": True},
        "environment": {"job_tags": ["wire-a"]},
        "max_execution_time": 300,
    }
    options = SamplerOptions.coerce(given)
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        sampler = Sampler(mode=backend, options=options)
        sampler.options.simulator.seed_simulator = 5  # a change after construction counts
        job = await sampler.run([isa(bell(), backend)])
        await job.result()
        record = await provider.api.jobs.get(job.job_id())
    expected = SamplerOptions.coerce({**given, "simulator": {"seed_simulator": 5}})
    assert record.program.id == "sampler"
    assert record.backend == DEVICE
    assert record.params is not None
    assert record.params["options"] == expected.program_inputs()["options"]
    assert record.params["options"]["dynamical_decoupling"] == {
        "enable": True,
        "sequence_type": "XY4",
    }
    assert record.params["version"] == 2
    assert record.params["support_qiskit"] is True
    assert record.cost == 300
    assert "wire-a" in record.tags
    assert job.tags() == ["wire-a"]  # the submission tag is hidden


async def test_the_job_body_is_the_one_the_request_describes(service: LocalService) -> None:
    from ibmq_async.platform import sampler_request

    options = {
        "environment": {"log_level": "INFO", "job_tags": ["body"]},
        "max_execution_time": 100,
        "experimental": {"image": "runtime:latest"},
    }
    async with platform_provider(service) as provider:
        backend = provider.get_backend(SIMULATOR)
        with recorded_requests(provider) as log:
            job = await Sampler(mode=backend, options=options).run([bell()], shots=5)
        sent = json.loads(log.body_of("POST", "/v1/jobs"))
        expected = json.loads(
            runtime_json.dumps(
                sampler_request([bell()], shots=5, options=options).job_body(SIMULATOR)
            )
        )
        sent["tags"] = [tag for tag in sent["tags"] if tag in expected["tags"]]
        assert sent == expected
        await job.result()


async def test_estimator_options_reach_the_wire(service: LocalService) -> None:
    given = {
        "resilience_level": 2,
        "default_precision": 0.1,
        "resilience": {"measure_mitigation": True, "zne_mitigation": True},
        "environment": {"log_level": "INFO"},
    }
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        circuit = isa(bell(measure=False), backend)
        from qiskit.quantum_info import SparsePauliOp

        observable = SparsePauliOp("ZZ").apply_layout(circuit.layout)
        job = await Estimator(mode=backend, options=given).run([(circuit, observable)])
        result = await job.result()
        record = await provider.api.jobs.get(job.job_id())
    assert record.program.id == "estimator"
    assert record.params is not None
    inputs = EstimatorOptions.coerce(given).program_inputs()
    assert record.params["options"] == inputs["options"]
    assert record.params["resilience_level"] == 2
    assert result[0].metadata["target_precision"] == 0.1


async def test_replacing_options_checks_them(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        sampler = Sampler(mode=provider.get_backend(SIMULATOR))
        sampler.options = {"default_shots": 7}
        assert sampler.options.default_shots == 7
        with pytest.raises(OptionsError, match="default_shots"):
            sampler.options = {"default_shots": 0}
        with pytest.raises(ValueError, match="default_shots"):
            sampler.options.default_shots = -1
        assert sampler.options.default_shots == 7


# --- bad input, before any request -------------------------------------------------------


async def test_bad_pubs_are_refused_before_any_request(service: LocalService) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        simulator = provider.get_backend(SIMULATOR)
        sampler = Sampler(mode=backend)
        estimator = Estimator(mode=backend)
        cases: list[tuple[Callable[[], Awaitable[Any]], type[Exception], str]] = [
            (lambda: sampler.run(bell()), PubError, "takes a list of PUBs"),
            (lambda: sampler.run([]), PubError, "no PUBs"),
            (lambda: sampler.run(["OPENQASM 3.0;"]), PubError, "PUB 0: the circuit must be"),
            (lambda: sampler.run([bell()], shots=0), PubError, "shots must be a positive"),
            (lambda: sampler.run([isa(bell(), backend), bell()]), NotISACircuitError, "PUB 1"),
            (
                lambda: Sampler(mode=simulator).run([(bell(), None, 10_000_001)]),
                ExecutionLimitError,
                "10,000,000",
            ),
            (lambda: Sampler(mode=simulator).run([(bell(), [1.0])]), PubError, "PUB 0"),
            (lambda: estimator.run([(bell(False), "ZZ")]), NotISACircuitError, "PUB 0"),
            (lambda: estimator.run([(bell(False), "AB")]), PubError, "PUB 0"),
            (lambda: estimator.run([(bell(False), "ZZ")], precision=0), PubError, "precision"),
        ]
        with recorded_requests(provider) as log:
            for call, error, fragment in cases:
                with pytest.raises(error, match=fragment):
                    await call()
            assert len(log) == 0, log.sent


async def test_bad_options_and_modes_are_refused_before_any_request(
    service: LocalService,
) -> None:
    async with platform_provider(service) as provider:
        backend = provider.get_backend(DEVICE)
        with recorded_requests(provider) as log:
            with pytest.raises(OptionsError, match="default_shots"):
                Sampler(mode=backend, options={"default_shots": 0})
            with pytest.raises(OptionsError, match="shots: unknown option"):
                Sampler(mode=backend, options={"shots": 10})
            with pytest.raises(OptionsError, match="resilience_level"):
                Estimator(mode=backend, options={"resilience_level": 3})
            with pytest.raises(OptionsError, match="EstimatorOptions given where SamplerOptions"):
                Sampler(mode=backend, options=EstimatorOptions())
            with pytest.raises(IBMQInputValueError, match="PlatformBackend"):
                Sampler(mode=DEVICE)  # type: ignore[arg-type]
            dynamic = bell()
            with dynamic.if_test((dynamic.clbits[0], 1)):
                dynamic.x(0)
            sampler = Sampler(mode=backend, options={"dynamical_decoupling": {"enable": True}})
            with pytest.raises(IBMQInputValueError, match="dynamical decoupling"):
                await sampler.run([isa(dynamic, backend)])
            assert len(log) == 0, log.sent


async def test_a_circuit_too_large_for_a_simulator_is_refused(service: LocalService) -> None:
    from qiskit import QuantumCircuit

    async with platform_provider(service) as provider:
        simulator = provider.get_backend(SIMULATOR)
        size = simulator.configuration().n_qubits + 1
        circuit = QuantumCircuit(size)
        circuit.measure_all()
        with recorded_requests(provider) as log:
            with pytest.raises(NotISACircuitError, match=f"{size} qubits"):
                await Sampler(mode=simulator).run([circuit])
            assert len(log) == 0
