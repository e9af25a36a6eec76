"""The Target of a backend from its configuration and properties (the device snapshots the
local service serves), the ISA check of circuits against it, and its agreement with the
local service's own check (``ibmq_async.local.platform.primitives``)."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pytest
from isa_corpus import isa_corpus
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter

from ibmq_async import runtime_json
from ibmq_async.exceptions import IBMQBackendValueError
from ibmq_async.local.config import BackendConfig
from ibmq_async.local.devices import BUNDLED_DEVICES, Device, load_device
from ibmq_async.local.platform import primitives
from ibmq_async.models import BackendProperties, parse_backend_configuration
from ibmq_async.platform import NotISACircuitError, backend_target, check_circuit, check_circuits


@pytest.fixture(scope="module", params=BUNDLED_DEVICES)
def device(request: pytest.FixtureRequest) -> Device:
    name = str(request.param)
    return load_device(BackendConfig(name=f"ibm_{name}", device=name))


@pytest.fixture(scope="module")
def fez() -> Device:
    return load_device(BackendConfig(name="ibm_fez", device="fez"))


@pytest.fixture(scope="module")
def vigo() -> Device:
    return load_device(BackendConfig(name="ibmq_vigo", device="vigo"))


def _target(device: Device, properties: bool = True) -> Any:
    return backend_target(
        device.configuration, device.properties_document() if properties else None
    )


# --- the target -----------------------------------------------------------------------------


def test_the_target_has_the_devices_instructions_on_their_qubits(device: Device) -> None:
    conf = device.configuration
    target = _target(device)
    listed = set(conf["supported_instructions"])
    control_flow = listed & {"if_else", "for_loop", "switch_case", "while_loop"}
    assert target.num_qubits == conf["n_qubits"]
    assert target.description == device.name
    assert set(target.operation_names) == (
        set(conf["basis_gates"]) | {"measure", "reset", "delay"} | control_flow
    )
    for gate in conf["gates"]:
        if gate.get("coupling_map"):
            expected = {tuple(qubits) for qubits in gate["coupling_map"]}
            assert set(target.qargs_for_operation_name(gate["name"])) == expected, gate["name"]
    edges = {tuple(edge) for edge in conf["coupling_map"]}
    assert set(target.build_coupling_map().get_edges()) == edges
    assert target.dt == pytest.approx(conf["dt"] * 1e-9)


def test_the_target_carries_the_calibration(device: Device) -> None:
    properties = BackendProperties.model_validate(device.properties_document())
    target = _target(device)
    two = next(gate for gate in ("cx", "cz") if gate in target.operation_names)
    entry = next(gate for gate in properties.gates if gate.gate == two)
    qubits = tuple(entry.qubits)
    assert target[two][qubits].error == pytest.approx(properties.gate_error(two, qubits))
    assert target[two][qubits].duration == pytest.approx(properties.gate_length(two, qubits))
    assert target["measure"][(0,)].error == pytest.approx(properties.readout_error(0))
    assert target["measure"][(0,)].duration == pytest.approx(properties.readout_length(0))
    assert target.qubit_properties[0].t1 == pytest.approx(properties.t1(0))
    assert target.qubit_properties[0].t2 == pytest.approx(properties.t2(0))


def test_models_and_json_give_the_same_target(vigo: Device) -> None:
    from_json = backend_target(vigo.configuration, vigo.properties_document())
    from_models = backend_target(
        parse_backend_configuration(vigo.configuration),
        BackendProperties.model_validate(vigo.properties_document()),
    )
    assert from_json.operation_names == from_models.operation_names
    assert {qargs: (p.error, p.duration) for qargs, p in from_json["cx"].items()} == {
        qargs: (p.error, p.duration) for qargs, p in from_models["cx"].items()
    }
    # No calibration: the same instructions on the same qubits, without errors.
    bare = backend_target(vigo.configuration, {})
    assert set(bare["cx"]) == set(from_json["cx"])
    assert bare["cx"][(0, 1)] is None


def test_faulty_qubits_and_gates_are_left_out(vigo: Device) -> None:
    document = vigo.properties_document()
    down = {"date": document["last_update_date"], "name": "operational", "unit": "", "value": 0}
    document["qubits"][2].append(down)
    for gate in document["gates"]:
        if gate["gate"] == "cx" and gate["qubits"] == [3, 4]:
            gate["parameters"].append(down)
    target = backend_target(vigo.configuration, document)
    assert (2,) not in target["x"]
    assert (2,) not in target["measure"]
    assert (1, 2) not in target["cx"]
    assert (3, 4) not in target["cx"]
    assert (4, 3) in target["cx"]
    kept = backend_target(vigo.configuration, document, filter_faulty=False)
    assert (2,) in kept["x"]
    assert (3, 4) in kept["cx"]


def test_transpiled_circuits_are_isa_circuits(device: Device) -> None:
    from qiskit.circuit.random import random_circuit

    target = _target(device)
    circuits = [random_circuit(5, 6, max_operands=2, measure=True, seed=seed) for seed in range(3)]
    isa = transpile(circuits, target=target, seed_transpiler=3)
    check_circuits(isa, target)
    with pytest.raises(NotISACircuitError):
        check_circuits(circuits, target)


def test_a_two_qubit_gate_without_its_own_qubits_follows_the_coupling_map(vigo: Device) -> None:
    conf = dict(vigo.configuration)
    conf["gates"] = [gate for gate in conf["gates"] if gate["name"] != "cx"]
    target = backend_target(conf)
    assert set(target["cx"]) == {tuple(edge) for edge in conf["coupling_map"]}


def test_a_simulator_takes_any_pair() -> None:
    simulator = load_device(BackendConfig(name="ibmq_qasm_simulator", device="simulator"))
    target = backend_target(simulator.configuration)
    assert target.num_qubits == 32
    assert target.instruction_supported("cx", (0, 31))
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 2)
    circuit.ccx(0, 1, 2)
    circuit.measure_all()
    check_circuit(circuit, target)


def test_control_flow_and_fractional_gates_can_be_left_out(fez: Device) -> None:
    assert "if_else" in _target(fez).operation_names
    without = backend_target(fez.configuration, include_control_flow=False)
    assert not {"if_else", "for_loop", "switch_case"} & set(without.operation_names)
    conf = dict(fez.configuration)
    conf["basis_gates"] = [*conf["basis_gates"], "rzz", "rx"]
    plain = backend_target(conf)  # a device's fractional gates only when asked for
    assert not {"rzz", "rx"} & set(plain.operation_names)
    assert "rz" in plain.operation_names  # virtual, not fractional
    assert {"rzz", "rx"} <= set(backend_target(conf, include_fractional_gates=True).operation_names)
    simulator = load_device(BackendConfig(name="ibmq_qasm_simulator", device="simulator"))
    assert {"rzz", "rx", "u3"} <= set(backend_target(simulator.configuration).operation_names)


def test_an_instruction_without_a_definition_is_left_out_with_a_warning(vigo: Device) -> None:
    conf = dict(vigo.configuration)
    conf["basis_gates"] = [*conf["basis_gates"], "mystery"]
    with pytest.warns(RuntimeWarning, match="no definition of instruction 'mystery'"):
        target = backend_target(conf)
    assert "mystery" not in target.operation_names


# --- the ISA check --------------------------------------------------------------------------


def test_the_error_names_the_circuit_and_the_first_offending_instruction(fez: Device) -> None:
    target = _target(fez)
    good = transpile(QuantumCircuit(2), target=target)
    bad = QuantumCircuit(3, name="uncoupled")
    bad.sx(0)
    bad.cz(0, 2)
    bad.h(1)
    with pytest.raises(NotISACircuitError) as caught:
        check_circuits([good, good, bad], target)
    error = caught.value
    assert error.index == 2
    assert error.circuit_name == "uncoupled"
    assert error.instruction == "cz"
    assert error.qubits == (0, 2)
    assert str(error).startswith("circuit 2 ('uncoupled'): not an ISA circuit: instruction 1")
    assert "qubits 0 and 2 are not coupled for cz on ibm_fez" in str(error)
    assert "transpile(circuit, target=backend.target)" in str(error)
    assert isinstance(error, IBMQBackendValueError)


def test_a_gate_outside_the_basis_lists_what_the_backend_has(vigo: Device) -> None:
    circuit = QuantumCircuit(1, name="h")
    circuit.h(0)
    with pytest.raises(NotISACircuitError, match=r"ibmq_vigo has no h \(its instructions: cx,"):
        check_circuit(circuit, _target(vigo), what="PUB", index=4)
    with pytest.raises(NotISACircuitError, match=r"^PUB 4 \('h'\)"):
        check_circuit(circuit, _target(vigo), what="PUB", index=4)


def test_an_offending_instruction_inside_a_body_is_located(fez: Device) -> None:
    circuit = QuantumCircuit(2, 1, name="dynamic")
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], True)):
        circuit.x(1)
        circuit.h(1)
    with pytest.raises(NotISACircuitError) as caught:
        check_circuit(circuit, _target(fez))
    assert "instruction 1 (if_else on qubits [1]), in its body: instruction 1 (h on qubits" in (
        str(caught.value)
    )
    assert caught.value.instruction == "h"


def test_too_many_qubits_and_unbound_parameters(vigo: Device) -> None:
    target = _target(vigo)
    wide = QuantumCircuit(6, name="wide")
    with pytest.raises(NotISACircuitError, match=r"it has 6 qubits, more than the 5 of ibmq_vigo"):
        check_circuit(wide, target, isa=False)
    theta = Parameter("theta")
    parametric = QuantumCircuit(1, name="rotation")
    parametric.rz(theta, 0)
    check_circuit(parametric, target)  # the primitives take parameter values
    with pytest.raises(NotISACircuitError, match=r"unbound parameters \(theta\)") as caught:
        check_circuit(parametric, target, require_bound=True)
    assert caught.value.instruction is None


def test_barriers_and_non_isa_circuits_on_simulators(vigo: Device) -> None:
    circuit = QuantumCircuit(5)
    circuit.barrier()
    circuit.measure_all()
    check_circuit(circuit, _target(vigo))
    circuit.h(0)
    check_circuit(circuit, _target(vigo), isa=False)


def test_rzz_angles_out_of_range_are_refused(fez: Device) -> None:
    conf = dict(fez.configuration)
    conf["basis_gates"] = [*conf["basis_gates"], "rzz"]
    conf["gates"] = [
        *conf["gates"],
        {"name": "rzz", "parameters": ["theta"], "qasm_def": None, "coupling_map": None},
    ]
    target = backend_target(conf, include_fractional_gates=True)
    a, b = fez.configuration["coupling_map"][0]
    fine = QuantumCircuit(fez.n_qubits)
    fine.rzz(math.pi / 2, a, b)
    fine.rzz(Parameter("t"), a, b)
    check_circuit(fine, target)
    wrong = QuantumCircuit(fez.n_qubits)
    wrong.rzz(-0.1, a, b)
    with pytest.raises(NotISACircuitError, match=r"rzz takes angles from 0 to pi/2, got -0\.1"):
        check_circuit(wrong, target)


# --- agreement with the local service -------------------------------------------------------


def _service_accepts(circuit: Any, device: Device) -> bool:
    params = json.loads(runtime_json.dumps({"pubs": [[circuit, None, 10]], "version": 2}))
    try:
        primitives.prepare("sampler", params, device)
    except primitives.PrimitiveError as error:
        refused: primitives.PrimitiveError = error
    else:
        return True
    assert refused.code == 1010, refused.message  # refused as not ISA, not for another reason
    return False


def _client_accepts(circuit: Any, target: Any) -> bool:
    try:
        check_circuit(circuit, target)
    except NotISACircuitError:
        return False
    return True


@pytest.mark.parametrize("calibrated", [True, False], ids=["with properties", "configuration"])
def test_the_client_and_the_service_accept_the_same_circuits(
    device: Device, calibrated: bool
) -> None:
    target = _target(device, properties=calibrated)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transpiling the corpus may warn
        cases = isa_corpus(device.configuration, target)
    for case in cases:
        client = _client_accepts(case.circuit, target)
        service = _service_accepts(case.circuit, device)
        verdict = {
            (True, True): "both",
            (False, False): "neither",
            (True, False): "client only",
            (False, True): "service only",
        }[(client, service)]
        assert verdict == case.verdict, f"{device.name}: {case.label}: {verdict} ({case.why})"
        seen.append(verdict)
    assert seen.count("both") >= 7
    assert seen.count("neither") >= 4
