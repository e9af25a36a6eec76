"""PUBs: coerced as Qiskit's primitives define them, refused with the PUB's index before any
request, written in the wire form, counted against the 10 million executions of a job
(and counted as the local service counts them)."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp

from ibmq_async import runtime_json
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.local.config import BackendConfig
from ibmq_async.local.devices import load_device
from ibmq_async.local.platform import primitives
from ibmq_async.platform import (
    MAX_EXECUTIONS,
    EstimatorOptions,
    ExecutionLimitError,
    OptionsError,
    PubError,
    SamplerOptions,
    coerce_estimator_pubs,
    coerce_sampler_pubs,
    estimator_request,
    sampler_request,
)
from ibmq_async.platform.pubs import estimator_executions, sampler_executions


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def rotation() -> QuantumCircuit:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, name="rotation")
    circuit.rx(theta, 0)
    circuit.measure_all()
    return circuit


def unmeasured() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="state")
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


# --- coercion -------------------------------------------------------------------------------


def test_sampler_pub_likes_coerce_as_qiskit_defines_them() -> None:
    pubs = coerce_sampler_pubs(
        [
            bell(),
            (bell(),),
            (rotation(), [0.1, 0.2, 0.3]),
            (rotation(), [[0.1], [0.2]], 50),
            SamplerPub.coerce(bell(), 7),
        ],
        shots=100,
    )
    assert [pub.shots for pub in pubs] == [100, 100, 100, 50, 7]
    assert [pub.shape for pub in pubs] == [(), (), (3,), (2,), ()]


def test_without_shots_the_pub_leaves_them_to_the_options() -> None:
    (pub,) = coerce_sampler_pubs([bell()])
    assert pub.shots is None
    request = sampler_request([bell()], options={"default_shots": 123})
    assert request.params["pubs"][0][2] is None
    assert request.params["options"] == {"default_shots": 123}
    assert request.executions == 123


def test_estimator_pub_likes_coerce_as_qiskit_defines_them() -> None:
    pubs = coerce_estimator_pubs(
        [
            (unmeasured(), "ZZ"),
            (unmeasured(), ["ZZ", "XX", "IZ"]),
            (unmeasured(), SparsePauliOp(["ZZ", "XX"], [0.5, 0.5]), None, 0.05),
            EstimatorPub.coerce((unmeasured(), "XI"), 0.1),
        ],
        precision=0.02,
    )
    assert [pub.precision for pub in pubs] == [0.02, 0.02, 0.05, 0.1]
    assert [pub.shape for pub in pubs] == [(), (3,), (), ()]


# --- the wire form --------------------------------------------------------------------------


def test_sampler_params_are_the_wire_form_runtime_json_reads_back() -> None:
    parametric = rotation()
    request = sampler_request(
        [bell(), (parametric, [[0.1], [0.2]], 50)],
        shots=100,
        options={"twirling": {"enable_gates": True}},
    )
    assert request.program_id == "sampler"
    params = runtime_json.loads(runtime_json.dumps(request.params))
    assert params["version"] == 2
    assert params["support_qiskit"] is True
    assert params["options"] == {"twirling": {"enable_gates": True}}
    circuit, values, shots = params["pubs"][0]
    assert circuit == bell()
    assert values.shape == (0,)
    assert shots == 100
    circuit, values, shots = params["pubs"][1]
    assert circuit == parametric
    np.testing.assert_allclose(values, [[0.1], [0.2]])
    assert shots == 50


def test_estimator_params_are_the_wire_form_runtime_json_reads_back() -> None:
    request = estimator_request(
        [(unmeasured(), ["ZZ", "XX"], None, 0.05)], options={"resilience_level": 1}
    )
    params = runtime_json.loads(runtime_json.dumps(request.params))
    circuit, observables, values, precision = params["pubs"][0]
    assert circuit == unmeasured()
    assert observables == [{"ZZ": 1.0}, {"XX": 1.0}]
    assert values.shape == (0,)
    assert precision == 0.05
    assert params["resilience_level"] == 1
    assert params["options"] == {}


def test_job_body_merges_the_tags_and_carries_the_session() -> None:
    request = sampler_request(
        [bell()], options={"environment": {"job_tags": ["mine"]}, "max_execution_time": 60}
    )
    body = request.job_body("ibm_fez", session_id="s1", tags=["key:123", "mine"])
    assert body["program_id"] == "sampler"
    assert body["backend"] == "ibm_fez"
    assert body["tags"] == ["mine", "key:123"]
    assert body["session_id"] == "s1"
    assert body["cost"] == 60
    assert body["log_level"] == "WARNING"
    assert "calibration_id" not in body
    # The body is what the platform's request model takes.
    from ibmq_async.models.platform import JobCreateRequest

    JobCreateRequest.model_validate(json.loads(runtime_json.dumps(body)))


# --- refused before any request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pubs", "fragment"),
    [
        ([bell(), (bell(), None, 0)], "PUB 1: shots must be positive"),
        ([bell(), bell(), (bell(), None, 2.5)], "PUB 2: shots must be an integer"),
        ([bell(), rotation()], "PUB 1: The number of values (0) does not match"),
        (["OPENQASM 3.0;"], "PUB 0: the circuit must be a QuantumCircuit, got text"),
        ([bell(), ("OPENQASM 3.0;", None)], "PUB 1: the circuit must be a QuantumCircuit"),
        ([bell(), (bell(), "x")], "PUB 1: "),
        ([(bell(), None, 10, 4)], "PUB 0: The length of pub must be 1, 2 or 3"),
        ([(rotation(), [math.nan])], "PUB 0: parameter values must be finite"),
        ([(rotation(), [[0.1], [math.inf]])], "PUB 0: parameter values must be finite"),
    ],
)
def test_a_bad_sampler_pub_is_named_by_its_index(pubs: list[Any], fragment: str) -> None:
    with pytest.raises(PubError) as caught:
        coerce_sampler_pubs(pubs)
    assert fragment in str(caught.value)
    assert caught.value.index == int(fragment.split()[1].rstrip(":"))
    assert isinstance(caught.value, IBMQInputValueError)


def test_classical_registers_the_result_cannot_name_are_refused() -> None:
    spaced = QuantumCircuit(QuantumRegister(1), ClassicalRegister(1, "my bits"))
    spaced.measure(0, 0)
    keyword = QuantumCircuit(QuantumRegister(1), ClassicalRegister(1, "class"))
    keyword.measure(0, 0)
    empty = QuantumCircuit(QuantumRegister(1), ClassicalRegister(1, "c"), ClassicalRegister(0))
    empty.measure(0, 0)
    with pytest.raises(PubError, match=r"PUB 1: classical register 'my bits' cannot name"):
        coerce_sampler_pubs([bell(), spaced])
    with pytest.raises(PubError, match=r"PUB 0: classical register 'class' cannot name"):
        coerce_sampler_pubs([keyword])
    with pytest.raises(PubError, match=r"PUB 0: classical register '\w+' has no bits"):
        coerce_sampler_pubs([empty])


def test_a_circuit_without_classical_registers_warns_with_its_index() -> None:
    with pytest.warns(UserWarning, match=r"PUB 1: circuit 'state' has no classical register"):
        coerce_sampler_pubs([bell(), unmeasured()])


@pytest.mark.parametrize(
    ("pubs", "shots", "fragment"),
    [
        (bell(), None, "takes a list of PUBs, got a single QuantumCircuit"),
        ("bell", None, "takes a list of PUBs"),
        ([], None, "no PUBs were given"),
        ([bell()], 0, "shots must be a positive integer, got 0"),
        ([bell()], True, "shots must be a positive integer, got True"),
    ],
)
def test_problems_with_the_pubs_as_a_whole(pubs: Any, shots: Any, fragment: str) -> None:
    with pytest.raises(PubError, match=fragment) as caught:
        coerce_sampler_pubs(pubs, shots=shots)
    assert caught.value.index is None
    assert not str(caught.value).startswith("PUB")


@pytest.mark.parametrize(
    ("pubs", "fragment"),
    [
        ([(unmeasured(), "ZZ"), unmeasured()], "PUB 1: An invalid Estimator pub-like"),
        ([(unmeasured(), "ZZZ")], "PUB 0: The number of qubits of the circuit (2)"),
        ([(unmeasured(), "ZZ", None, 0)], "PUB 0: precision must be positive, got 0"),
        ([(unmeasured(), "ZZ", None, -1)], "PUB 0: precision must be non-negative"),
        ([(unmeasured(), [])], "PUB 0: the observables are empty"),
        ([(unmeasured(), "0Z")], "PUB 0: observable term '0Z' is not a Pauli string"),
        ([(unmeasured(), {"ZZ": math.nan})], "PUB 0: observable term 'ZZ' has coefficient nan"),
        ([(unmeasured(), "AB")], "PUB 0: labels must only contain"),
        ([(unmeasured(), SparsePauliOp("ZZ", 1j))], "PUB 0: Non-Hermitian"),
    ],
)
def test_a_bad_estimator_pub_is_named_by_its_index(pubs: list[Any], fragment: str) -> None:
    with pytest.raises(PubError) as caught:
        coerce_estimator_pubs(pubs)
    assert fragment in str(caught.value)


def test_a_bad_run_precision_is_refused() -> None:
    with pytest.raises(PubError, match="precision must be a positive number, got 0"):
        coerce_estimator_pubs([(unmeasured(), "ZZ")], precision=0)


def test_bad_options_are_refused_before_the_pubs_are_built() -> None:
    with pytest.raises(OptionsError, match="default_shots"):
        sampler_request([bell()], options={"default_shots": -1})
    with pytest.raises(OptionsError, match="resilience_level"):
        estimator_request([(unmeasured(), "ZZ")], options={"resilience_level": 9})


# --- the execution limit --------------------------------------------------------------------


def test_sampler_executions_count_shots_times_parameter_sets() -> None:
    pubs = coerce_sampler_pubs([bell(), (rotation(), np.zeros((3, 4, 1)), 10), (bell(), None, 7)])
    assert sampler_executions(pubs) == [4096, 120, 7]
    assert sampler_executions(pubs, SamplerOptions(default_shots=100)) == [100, 120, 7]


def test_estimator_executions_count_as_the_precision_asks() -> None:
    pubs = coerce_estimator_pubs([(unmeasured(), ["ZZ", "XX"]), (unmeasured(), "ZZ", None, 0.1)])
    assert estimator_executions(pubs) == [2 * 4096, 100]
    assert estimator_executions(pubs, EstimatorOptions(default_precision=0.05)) == [800, 100]
    # default_shots overrides default_precision, not the PUB's own precision; the shots
    # are ceil(1 / precision**2) of precision 1 / sqrt(default_shots), in floating point,
    # as the service counts them (1001 here).
    shots = math.ceil(1.0 / (1.0 / math.sqrt(1000)) ** 2)
    assert estimator_executions(pubs, EstimatorOptions(default_shots=1000)) == [2 * shots, 100]


def test_ten_million_executions_pass_one_more_does_not() -> None:
    values = np.zeros((2500, 1))
    request = sampler_request([(rotation(), values, 4000)])
    assert request.executions == MAX_EXECUTIONS
    with pytest.raises(ExecutionLimitError) as caught:
        sampler_request([(rotation(), values, 4000), (bell(), None, 1)])
    assert caught.value.executions == MAX_EXECUTIONS + 1
    assert caught.value.limit == MAX_EXECUTIONS
    assert "10,000,001 executions" in str(caught.value)
    assert "PUB 0 alone has 10,000,000" in str(caught.value)
    with pytest.raises(ExecutionLimitError, match="more than the 10,000,000"):
        estimator_request([(unmeasured(), ["ZZ"] * 1001, None, 0.01)])


# --- as the local service reads them --------------------------------------------------------


@pytest.fixture(scope="module")
def fez() -> Any:
    return load_device(BackendConfig(name="ibm_fez", device="fez"))


def _as_sent(request: Any) -> Any:
    return json.loads(runtime_json.dumps(request.params))


def test_the_service_reads_the_sampler_params_and_counts_the_same_executions(fez: Any) -> None:
    from qiskit import transpile

    from ibmq_async.platform import backend_target

    target = backend_target(fez.configuration)
    circuits = transpile([bell(), rotation()], target=target, seed_transpiler=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        request = sampler_request(
            [circuits[0], (circuits[1], np.linspace(0, 1, 6).reshape(3, 2, 1), 30)],
            options={"default_shots": 256, "dynamical_decoupling": {"enable": True}},
        )
    prepared = primitives.prepare("sampler", _as_sent(request), fez)
    assert prepared.executions == request.executions == 256 + 6 * 30
    assert [item.shots for item in prepared.pubs] == [256, 30]


def test_the_service_reads_the_estimator_params_and_counts_the_same_executions(
    fez: Any,
) -> None:
    from qiskit import transpile

    from ibmq_async.platform import backend_target

    target = backend_target(fez.configuration)
    circuit = transpile(unmeasured(), target=target, seed_transpiler=1)
    layout = circuit.layout
    observables = [SparsePauliOp(label).apply_layout(layout) for label in ("ZZ", "XX", "YY")]
    request = estimator_request(
        [(circuit, observables), (circuit, observables[0], None, 0.1)],
        options={"default_precision": 0.05, "resilience_level": 0},
    )
    prepared = primitives.prepare("estimator", _as_sent(request), fez)
    assert prepared.executions == request.executions == 3 * 400 + 100
