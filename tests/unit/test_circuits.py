"""QuantumCircuit -> Qobj: terra 0.46 compatibility, refusals and the optional Qiskit import.

The reference Qobjs in ``tests/data/circuits/*.qobj.json`` were produced by qiskit-terra
0.46.3's ``assemble`` for the circuits of ``cases.json`` (see ``generate_reference.py``
there). The conversion is compared with them key by key, ignoring the random ``qobj_id``;
floats are compared with a relative tolerance of 1e-12 because bound parameter expressions
are evaluated by a different engine in Qiskit 2 than in terra (in practice they agree
exactly).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm2
from qiskit.circuit import Clbit, Parameter, ParameterVector, Qubit
from qiskit.circuit.classical import expr
from qiskit.circuit.library import Initialize, RZGate, SXGate

from ibmq_async.circuits import (
    ALWAYS_SUPPORTED_INSTRUCTIONS,
    QOBJ_SCHEMA_VERSION,
    circuits_to_qasm_qobj,
    circuits_to_qobj,
    is_quantum_circuit,
)
from ibmq_async.exceptions import CircuitConversionError, IBMQInputValueError
from ibmq_async.models import QasmQobj

DATA = Path(__file__).parent.parent / "data" / "circuits"
MANIFEST = json.loads((DATA / "cases.json").read_text())
BACKEND = MANIFEST["backend"]
# ibmq_vigo's basis gates plus its supported instructions (ibmq_async/local/devices/vigo).
VIGO_SUPPORTED = ["cx", "delay", "id", "measure", "reset", "rz", "sx", "u1", "u2", "u3", "x"]
FLOAT_TOLERANCE = 1e-12


# --- helpers ----------------------------------------------------------------------------------


def build_parameterized(name: str) -> QuantumCircuit:
    """The same circuit as ``generate_reference.build_parameterized``, built with Qiskit 2."""
    theta = Parameter("theta")
    phi = Parameter("phi")
    qc = QuantumCircuit(
        QuantumRegister(2, "q"), ClassicalRegister(2, "c"), name=name, global_phase=theta / 2
    )
    qc.rx(theta, 0)
    qc.ry(2 * theta + phi, 1)
    qc.append(RZGate(phi, label="phase"), [1])
    qc.cx(0, 1)
    qc.p(theta * phi, 0)
    qc.measure([0, 1], [0, 1])
    return qc


def load_circuit(spec: dict[str, Any]) -> QuantumCircuit:
    if "qasm" in spec:
        text = (DATA / spec["qasm"]).read_text()
        qc = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    else:
        qc = build_parameterized(spec["name"])
    qc.name = spec["name"]
    if "global_phase" in spec:
        qc.global_phase = spec["global_phase"]
    if "metadata" in spec:
        qc.metadata = spec["metadata"]
    if "bind" in spec:
        qc.assign_parameters(spec["bind"], inplace=True)
    return qc


def convert_case(case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(our Qobj after a JSON round trip, terra's reference Qobj) for a case of cases.json."""
    spec = MANIFEST["cases"][case]
    circuits = [load_circuit(c) for c in spec["circuits"]]
    options = dict(spec["options"])
    run_config = options.pop("run_config", {})
    ours = circuits_to_qobj(circuits, **BACKEND, **options, **run_config)
    reference = json.loads((DATA / f"{case}.qobj.json").read_text())
    return json.loads(json.dumps(ours, allow_nan=False)), reference


def assert_same(ours: Any, reference: Any, path: str = "qobj") -> None:
    """Deep equality, floats within FLOAT_TOLERANCE, with the path of the first difference."""
    if isinstance(reference, dict):
        assert isinstance(ours, dict), path
        assert sorted(ours) == sorted(reference), f"{path}: keys differ"
        for key in reference:
            assert_same(ours[key], reference[key], f"{path}.{key}")
    elif isinstance(reference, list):
        assert isinstance(ours, list), path
        assert len(ours) == len(reference), f"{path}: lengths differ"
        for i, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
            assert_same(mine, theirs, f"{path}[{i}]")
    elif isinstance(reference, float) and not isinstance(ours, bool):
        assert isinstance(ours, (int, float)), path
        assert math.isclose(ours, reference, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE), (
            f"{path}: {ours!r} != {reference!r}"
        )
    else:
        assert ours == reference, f"{path}: {ours!r} != {reference!r}"
        assert type(ours) is type(reference) or {type(ours), type(reference)} <= {int, float}


def convert(circuits: Any, **kwargs: Any) -> dict[str, Any]:
    return circuits_to_qobj(circuits, **{**BACKEND, **kwargs})


def instructions(circuit: QuantumCircuit, **kwargs: Any) -> list[dict[str, Any]]:
    experiments: list[dict[str, Any]] = convert(circuit, **kwargs)["experiments"]
    return experiments[0]["instructions"]  # type: ignore[no-any-return]


def bell(name: str = "bell") -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name=name)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


# --- the terra 0.46 reference -----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(MANIFEST["cases"]))
def test_matches_terra_assemble(case: str) -> None:
    ours, reference = convert_case(case)
    if "qobj_id" not in MANIFEST["cases"][case]["options"]:
        ours["qobj_id"] = reference["qobj_id"]  # random on both sides
    if MANIFEST["cases"][case].get("experiment_names_differ"):
        # terra named each bound copy "<name>-<process-wide instance counter>" ("swept-169");
        # the conversion uses the binding's index instead.
        assert [e["header"]["name"] for e in ours["experiments"]] == ["swept-0", "swept-1"]
        for experiment in ours["experiments"] + reference["experiments"]:
            assert re.fullmatch(r"swept-\d+", experiment["header"]["name"])
            experiment["header"]["name"] = None
    assert_same(ours, reference)


def test_reference_data_is_terra_output_for_the_bell_circuit() -> None:
    # A readable spot check of what the reference files hold (docs/protocol.md §7.5).
    _, reference = convert_case("bell")
    assert reference["schema_version"] == QOBJ_SCHEMA_VERSION
    assert reference["header"] == {"backend_name": "ibmq_vigo", "backend_version": "1.3.6"}
    assert reference["experiments"][0]["instructions"] == [
        {"name": "h", "qubits": [0]},
        {"name": "cx", "qubits": [0, 1]},
        {"name": "measure", "qubits": [0], "memory": [0]},
        {"name": "measure", "qubits": [1], "memory": [1]},
    ]


def test_measurements_into_the_second_register_use_global_memory_slots() -> None:
    ours, _ = convert_case("multi_creg")
    experiment = ours["experiments"][0]
    assert experiment["header"]["creg_sizes"] == [["a", 1], ["b", 2]]
    assert experiment["header"]["clbit_labels"] == [["a", 0], ["b", 0], ["b", 1]]
    measures = [i for i in experiment["instructions"] if i["name"] == "measure"]
    assert [(m["qubits"], m["memory"]) for m in measures] == [([0], [0]), ([2], [1]), ([1], [2])]
    assert all("register" not in m for m in measures)


def test_a_single_circuit_and_a_list_of_one_give_the_same_qobj() -> None:
    single = convert(bell(), qobj_id="x")
    listed = convert([bell()], qobj_id="x")
    assert single == listed


def test_qobj_id_is_a_fresh_uuid4_by_default() -> None:
    first = convert(bell())["qobj_id"]
    second = convert(bell())["qobj_id"]
    assert first != second
    assert uuid.UUID(first).version == 4


def test_config_takes_the_largest_experiment() -> None:
    small = QuantumCircuit(1, 3)
    large = QuantumCircuit(4, 1)
    qobj = convert([small, large])
    assert qobj["config"]["memory_slots"] == 3
    assert qobj["config"]["n_qubits"] == 4
    assert [e["config"] for e in qobj["experiments"]] == [
        {"n_qubits": 1, "memory_slots": 3},
        {"n_qubits": 4, "memory_slots": 1},
    ]


def test_circuit_without_classical_bits_has_no_memory_slots() -> None:
    qc = QuantumCircuit(2)
    qc.h(0)
    header = convert(qc)["experiments"][0]["header"]
    assert header["memory_slots"] == 0
    assert header["creg_sizes"] == []
    assert header["clbit_labels"] == []


@pytest.mark.parametrize("case", sorted(MANIFEST["cases"]))
def test_the_qobj_model_accepts_the_conversion_and_dumps_it_back(case: str) -> None:
    spec = MANIFEST["cases"][case]
    circuits = [load_circuit(c) for c in spec["circuits"]]
    options = dict(spec["options"])
    run_config = options.pop("run_config", {})
    model = circuits_to_qasm_qobj(
        circuits, **BACKEND, **{**options, "qobj_id": "fixed"}, **run_config
    )
    assert isinstance(model, QasmQobj)
    document = circuits_to_qobj(
        circuits, **BACKEND, **{**options, "qobj_id": "fixed"}, **run_config
    )
    assert model.to_wire() == json.loads(json.dumps(document))


@pytest.mark.parametrize("case", sorted(MANIFEST["cases"]))
def test_the_conversion_is_valid_against_the_ibm_qobj_schema(case: str) -> None:
    schema = json.loads((DATA.parent / "schemas" / "qobj_schema.json").read_text("utf-8"))
    ours, _ = convert_case(case)
    errors = [error.message for error in jsonschema.Draft4Validator(schema).iter_errors(ours)]
    assert errors == []


def test_the_qobj_model_refuses_out_of_range_run_options() -> None:
    with pytest.raises(IBMQInputValueError, match="the converted Qobj is not valid"):
        circuits_to_qasm_qobj(bell(), **BACKEND, rep_delay=-1.0)


# --- run options and header -------------------------------------------------------------------


def test_run_options_none_values_are_left_out_and_given_values_kept() -> None:
    config = convert(
        bell(),
        shots=10,
        memory=True,
        seed_simulator=None,
        rep_delay=250.0,
        use_measure_esp=None,
        noise_model=None,
        method="statevector",
        parametric_pulses=["gaussian"],
    )["config"]
    assert config == {
        "shots": 10,
        "memory": True,
        "parameter_binds": [],
        "meas_level": 2,
        "init_qubits": True,
        "rep_delay": 250.0,
        "method": "statevector",
        "parametric_pulses": ["gaussian"],
        "memory_slots": 2,
        "n_qubits": 2,
    }


def test_lo_frequencies_go_out_in_ghz_and_ranges_are_dropped() -> None:
    config = convert(
        bell(),
        qubit_lo_freq=[5.0e9, 5.1e9],
        meas_lo_freq=[np.float64(7.0e9)],
        qubit_lo_range=[[4e9, 6e9]],
        meas_lo_range=[[6e9, 8e9]],
    )["config"]
    assert config["qubit_lo_freq"] == pytest.approx([5.0, 5.1])
    assert config["meas_lo_freq"] == [7.0]
    assert "qubit_lo_range" not in config
    assert "meas_lo_range" not in config


def test_meas_return_is_sent_only_below_meas_level_2() -> None:
    assert "meas_return" not in convert(bell())["config"]
    config = convert(bell(), meas_level=1, meas_return="single")["config"]
    assert (config["meas_level"], config["meas_return"]) == (1, "single")


def test_config_sizes_come_from_the_circuits() -> None:
    # n_qubits is the backend's size (a bound for the check); memory_slots as a run option
    # is overwritten, as terra did.
    config = convert(bell(), memory_slots=99, n_qubits=5)["config"]
    assert (config["memory_slots"], config["n_qubits"]) == (2, 2)


def test_numpy_run_options_become_plain_json() -> None:
    config = convert(bell(), shots=np.int64(100), seed_simulator=np.int32(7), memory=np.bool_(1))[
        "config"
    ]
    assert (config["shots"], config["seed_simulator"], config["memory"]) == (100, 7, True)
    assert [type(config[k]) for k in ("shots", "seed_simulator", "memory")] == [int, int, bool]


def test_lo_frequencies_must_be_a_list_of_numbers() -> None:
    with pytest.raises(IBMQInputValueError, match="'qubit_lo_freq' must be a list"):
        convert(bell(), qubit_lo_freq=5e9)


def test_header_user_keys_are_added_and_none_values_dropped() -> None:
    header = convert(bell(), header={"tag": "t", "empty": None, "count": np.int64(3)})["header"]
    assert header == {
        "backend_name": "ibmq_vigo",
        "backend_version": "1.3.6",
        "tag": "t",
        "count": 3,
    }
    assert type(header["count"]) is int


def test_schedule_los_is_refused_for_circuits() -> None:
    with pytest.raises(IBMQInputValueError, match="schedule_los"):
        convert(bell(), schedule_los=[{"q0": 5e9}])


@pytest.mark.parametrize("shots", [0, -1, 1.5, True, "100"])
def test_invalid_shots_are_refused(shots: Any) -> None:
    with pytest.raises(IBMQInputValueError, match="shots must be a positive integer"):
        convert(bell(), shots=shots)


def test_run_option_that_is_not_json_is_refused() -> None:
    with pytest.raises(IBMQInputValueError, match="run option 'callback'"):
        convert(bell(), callback=object())


def test_metadata_and_options_are_made_json_compatible() -> None:
    qc = bell()
    qc.metadata = {"array": np.arange(3), "pair": (1, 2.5), "scalar": np.float32(0.5), 3: "x"}
    qobj = convert(qc, amplitudes=np.array([1 + 2j]))
    assert qobj["experiments"][0]["header"]["metadata"] == {
        "array": [0, 1, 2],
        "pair": [1, 2.5],
        "scalar": 0.5,
        "3": "x",
    }
    assert qobj["config"]["amplitudes"] == [[1.0, 2.0]]
    json.dumps(qobj, allow_nan=False)


def test_metadata_that_is_not_json_names_the_circuit() -> None:
    qc = bell("with_object")
    qc.metadata = {"handle": object()}
    with pytest.raises(CircuitConversionError, match=r"circuit 'with_object' \(index 0\)"):
        convert(qc)


# --- parameters -------------------------------------------------------------------------------


def test_bound_parameters_numpy_values_and_labels_become_plain_json() -> None:
    theta = Parameter("θ")
    qc = QuantumCircuit(1, global_phase=theta)
    qc.rz(theta * 2, 0)
    qc.append(SXGate(label="pulse"), [0])
    qc.rx(np.float32(0.25), 0)
    qc.assign_parameters({theta: np.float64(0.5)}, inplace=True)
    experiment = convert(qc)["experiments"][0]
    assert experiment["header"]["global_phase"] == 0.5
    assert experiment["instructions"] == [
        {"name": "rz", "params": [1.0], "qubits": [0]},
        {"name": "sx", "qubits": [0], "label": "pulse"},
        {"name": "rx", "params": [0.25], "qubits": [0]},
    ]
    params = experiment["instructions"][0]["params"] + experiment["instructions"][2]["params"]
    assert all(type(p) is float for p in params)


def test_parameter_binds_expand_each_circuit_once_per_binding() -> None:
    theta = Parameter("theta")
    vector = ParameterVector("v", 2)
    circuits = []
    for name in ("a", "b"):
        qc = QuantumCircuit(1, 1, name=name)
        qc.rx(theta, 0)
        qc.ry(vector[0] + vector[1], 0)
        circuits.append(qc)
    qobj = convert(
        circuits, parameter_binds=[{theta: 0.1, vector: [1, 2]}, {"theta": 0.2, vector: [0, 0]}]
    )
    got = [
        (e["header"]["name"], e["instructions"][0]["params"], e["instructions"][1]["params"])
        for e in qobj["experiments"]
    ]
    assert got == [
        ("a-0", [0.1], [3.0]),
        ("a-1", [0.2], [0.0]),
        ("b-0", [0.1], [3.0]),
        ("b-1", [0.2], [0.0]),
    ]
    assert qobj["config"]["parameter_binds"] == []


def test_unbound_parameters_are_listed_by_name_with_the_circuit() -> None:
    theta, phi = Parameter("theta"), Parameter("phi")
    qc = QuantumCircuit(1, name="ansatz")
    qc.rx(theta, 0)
    qc.rz(phi, 0)
    with pytest.raises(CircuitConversionError) as info:
        convert([bell(), qc])
    message = str(info.value)
    assert "circuit 'ansatz' (index 1)" in message
    assert "unbound parameters: phi, theta" in message


def test_unbound_global_phase_is_refused() -> None:
    qc = QuantumCircuit(1, global_phase=Parameter("gamma"), name="phase")
    with pytest.raises(CircuitConversionError, match="unbound parameters: gamma"):
        convert(qc)


def test_partial_parameter_binds_leave_the_rest_unbound() -> None:
    theta, phi = Parameter("theta"), Parameter("phi")
    qc = QuantumCircuit(1, name="half")
    qc.rx(theta, 0)
    qc.rz(phi, 0)
    with pytest.raises(CircuitConversionError) as info:
        convert(qc, parameter_binds=[{theta: 1.0}])
    assert "circuit 'half' (index 0, parameter_binds[0]) has unbound parameters: phi" in str(
        info.value
    )


def test_parameter_binds_naming_an_unknown_parameter_are_refused() -> None:
    qc = QuantumCircuit(1, name="plain")
    qc.rx(Parameter("theta"), 0)
    with pytest.raises(CircuitConversionError, match=r"parameter_binds\[1\].*cannot bind"):
        convert(qc, parameter_binds=[{"theta": 1.0}, {"nope": 2.0}])


def test_a_complex_parameter_value_goes_out_as_re_im() -> None:
    # Qiskit 2 gates refuse complex parameters, so this path is only reachable through a
    # bound expression evaluated by the encoder itself.
    from ibmq_async.circuits import _parameter, _qiskit

    a = Parameter("a")
    assert _parameter((a * 1j).bind({a: 2.0}), "p", _qiskit()) == [0.0, 2.0]
    assert _parameter(np.complex128(1 + 2j), "p", _qiskit()) == [1.0, 2.0]


# --- delay ------------------------------------------------------------------------------------


def test_delay_in_dt_is_sent_as_is() -> None:
    qc = QuantumCircuit(1)
    qc.delay(160, 0)
    assert instructions(qc) == [{"name": "delay", "params": [160], "qubits": [0]}]


def test_delay_in_seconds_is_converted_with_the_backend_dt() -> None:
    qc = QuantumCircuit(2)
    qc.delay(1.0, 0, unit="us")
    qc.delay(2.0e-9, 1, unit="s")
    got = instructions(qc, dt=0.2222222222222222e-9)
    assert got == [
        {"name": "delay", "params": [4500], "qubits": [0]},
        {"name": "delay", "params": [9], "qubits": [1]},
    ]
    assert all(type(i["params"][0]) is int for i in got)


def test_delay_in_seconds_without_dt_is_refused() -> None:
    qc = QuantumCircuit(1, name="wait")
    qc.delay(100, 0, unit="ns")
    with pytest.raises(CircuitConversionError) as info:
        convert(qc)
    message = str(info.value)
    assert "circuit 'wait' (index 0): instruction 'delay'" in message
    assert "'ns'" in message
    assert "dt" in message


def test_bound_parametric_delay_is_converted() -> None:
    t = Parameter("t")
    qc = QuantumCircuit(1)
    qc.delay(t * 4, 0)
    qc.assign_parameters({t: 40}, inplace=True)
    assert instructions(qc) == [{"name": "delay", "params": [160], "qubits": [0]}]


def test_delay_with_a_stretch_duration_is_refused() -> None:
    qc = QuantumCircuit(1, name="stretchy")
    stretch = qc.add_stretch("s")
    qc.delay(stretch, 0)
    with pytest.raises(CircuitConversionError, match="delay whose duration is an expression"):
        convert(qc)


# --- conditionals -----------------------------------------------------------------------------


def test_if_test_on_a_bit_matches_terra_c_if_encoding() -> None:
    qc = QuantumCircuit(2, 2)
    qc.measure(0, 1)
    with qc.if_test((qc.clbits[1], 1)):
        qc.x(0)
    assert instructions(qc) == [
        {"name": "measure", "qubits": [0], "register": [1], "memory": [1]},
        {"name": "bfunc", "register": 2, "mask": "0x2", "relation": "==", "val": "0x2"},
        {"name": "x", "qubits": [0], "conditional": 2},
    ]


def test_if_test_with_a_block_and_an_else_branch() -> None:
    creg = ClassicalRegister(2, "m")
    qc = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(1, "first"), creg)
    qc.measure([0, 1], [1, 2])
    with qc.if_test((creg, 2)) as else_:
        qc.x(2)
        qc.barrier()
        qc.measure(2, 0)
        qc.rz(0.5, 1)
    with else_:
        qc.reset(2)
    assert instructions(qc) == [
        {"name": "measure", "qubits": [0], "register": [1], "memory": [1]},
        {"name": "measure", "qubits": [1], "register": [2], "memory": [2]},
        # Both conditions are evaluated before either branch, into fresh register slots.
        {"name": "bfunc", "register": 3, "mask": "0x6", "relation": "==", "val": "0x4"},
        {"name": "bfunc", "register": 4, "mask": "0x6", "relation": "!=", "val": "0x4"},
        {"name": "x", "qubits": [2], "conditional": 3},
        {"name": "barrier", "qubits": [0, 1, 2]},
        {"name": "measure", "qubits": [2], "register": [0], "memory": [0], "conditional": 3},
        {"name": "rz", "params": [0.5], "qubits": [1], "conditional": 3},
        {"name": "reset", "qubits": [2], "conditional": 4},
    ]


def test_if_test_needs_if_else_in_the_supported_instructions() -> None:
    qc = QuantumCircuit(1, 1, name="dynamic")
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(0)
    with pytest.raises(CircuitConversionError, match="'if_else'"):
        convert(qc, supported_instructions=VIGO_SUPPORTED)
    assert convert(qc, supported_instructions=[*VIGO_SUPPORTED, "if_else"])


def test_if_test_on_a_classical_expression_is_refused() -> None:
    qc = QuantumCircuit(1, 2, name="expr")
    with qc.if_test(expr.logic_and(qc.clbits[0], qc.clbits[1])):
        qc.x(0)
    with pytest.raises(CircuitConversionError) as info:
        convert(qc)
    assert "circuit 'expr' (index 0): instruction 'if_else'" in str(info.value)
    assert "classical expression" in str(info.value)


def test_nested_if_test_is_refused() -> None:
    qc = QuantumCircuit(1, 1, name="nested")
    with qc.if_test((qc.clbits[0], 1)), qc.if_test((qc.clbits[0], 1)):
        qc.x(0)
    with pytest.raises(CircuitConversionError, match="nested control flow"):
        convert(qc)


@pytest.mark.parametrize("kind", ["for_loop", "while_loop", "switch_case", "box"])
def test_other_control_flow_is_refused(kind: str) -> None:
    qc = QuantumCircuit(1, 1, name="loop")
    if kind == "for_loop":
        with qc.for_loop(range(2)):
            qc.x(0)
    elif kind == "while_loop":
        with qc.while_loop((qc.clbits[0], 0)):
            qc.x(0)
    elif kind == "switch_case":
        with qc.switch(qc.cregs[0]) as case, case(0):
            qc.x(0)
    else:
        with qc.box():
            qc.x(0)
    with pytest.raises(CircuitConversionError) as info:
        convert(qc)
    assert f"circuit 'loop' (index 0): instruction '{kind}'" in str(info.value)
    assert "cannot express" in str(info.value)


def test_store_of_a_classical_variable_is_refused() -> None:
    qc = QuantumCircuit(1, 1, name="vars")
    qc.add_var("flag", expr.lift(True))
    with pytest.raises(CircuitConversionError, match="instruction 'store'"):
        convert(qc)


# --- refusals ---------------------------------------------------------------------------------


def test_unsupported_instructions_are_named_with_the_supported_list() -> None:
    qc = QuantumCircuit(3, 3, name="textbook")
    qc.h(0)
    qc.ccx(0, 1, 2)
    qc.barrier()
    qc.cx(0, 1)
    qc.measure([0, 1, 2], [0, 1, 2])
    with pytest.raises(CircuitConversionError) as info:
        convert([bell("ok"), qc], supported_instructions=[*VIGO_SUPPORTED, "h"])
    message = str(info.value)
    assert "circuit 'textbook' (index 1) uses instruction 'ccx'" in message
    assert "supported: barrier, cx, delay, h, id, measure, reset, rz, sx, u1, u2, u3, x" in (
        message
    )
    assert "transpile" in message


def test_all_unsupported_instructions_are_listed_at_once() -> None:
    qc = QuantumCircuit(2, name="two")
    qc.h(0)
    qc.swap(0, 1)
    with pytest.raises(CircuitConversionError, match="instructions 'h', 'swap'"):
        convert(qc, supported_instructions=VIGO_SUPPORTED)


def test_barrier_is_always_supported() -> None:
    assert "barrier" in ALWAYS_SUPPORTED_INSTRUCTIONS
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.barrier()
    qc.measure(0, 0)
    assert len(instructions(qc, supported_instructions=["x", "measure"])) == 3


def test_more_qubits_than_the_backend_is_refused() -> None:
    qc = QuantumCircuit(6, name="wide")
    with pytest.raises(CircuitConversionError) as info:
        convert([bell(), qc], n_qubits=5)
    assert "circuit 'wide' (index 1) has 6 qubits, more than the 5 of the backend" in str(
        info.value
    )
    assert convert(qc, n_qubits=6)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda qc: qc.unitary(np.eye(2), [0]), "unitary"),
        (lambda qc: qc.append(Initialize([0, 1]), [0]), "initialize"),
        (lambda qc: qc.prepare_state([0, 1], [0]), "state_preparation"),
    ],
)
def test_matrix_and_state_payloads_are_refused(build: Any, name: str) -> None:
    qc = QuantumCircuit(1, name="payload")
    build(qc)
    with pytest.raises(CircuitConversionError) as info:
        convert(qc)
    assert f"circuit 'payload' (index 0): instruction '{name}'" in str(info.value)
    assert "transpile" in str(info.value)


def test_loose_bits_outside_registers_are_refused() -> None:
    qc = QuantumCircuit([Qubit(), Qubit()], [Clbit()], name="loose")
    qc.measure(0, 0)
    with pytest.raises(CircuitConversionError, match="exactly one register"):
        convert(qc)


@pytest.mark.parametrize("bad", [{"qobj": 1}, "OPENQASM 2.0;", 3])
def test_something_that_is_not_a_circuit_is_refused(bad: Any) -> None:
    with pytest.raises(CircuitConversionError, match="QuantumCircuit"):
        convert(bad)


def test_a_qobj_dict_in_a_list_of_circuits_is_refused_by_position() -> None:
    with pytest.raises(CircuitConversionError, match="item 1 is a dict, not a QuantumCircuit"):
        convert([bell(), {"qobj_id": "x"}])


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(CircuitConversionError, match="no circuits"):
        convert([])


def test_conversion_errors_are_value_errors() -> None:
    assert issubclass(CircuitConversionError, IBMQInputValueError)
    assert issubclass(CircuitConversionError, ValueError)


# --- random circuits --------------------------------------------------------------------------

_GATES: dict[str, tuple[int, int]] = {  # name: (qubits, parameters)
    "h": (1, 0),
    "x": (1, 0),
    "sx": (1, 0),
    "rz": (1, 1),
    "u": (1, 3),
    "cx": (2, 0),
    "cz": (2, 0),
    "rzz": (2, 1),
    "ccx": (3, 0),
}
_ANGLES = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


@st.composite
def random_circuits(draw: st.DrawFn) -> QuantumCircuit:
    n_qubits = draw(st.integers(min_value=3, max_value=6))
    n_clbits = draw(st.integers(min_value=0, max_value=4))
    qc = QuantumCircuit(n_qubits, n_clbits)
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        kind = draw(st.sampled_from([*_GATES, "measure", "barrier", "reset"]))
        if kind == "measure":
            if n_clbits:
                qubit = draw(st.integers(0, n_qubits - 1))
                qc.measure(qubit, draw(st.integers(0, n_clbits - 1)))
            continue
        if kind == "barrier":
            qc.barrier(*draw(st.sets(st.integers(0, n_qubits - 1), min_size=1)))
            continue
        if kind == "reset":
            qc.reset(draw(st.integers(0, n_qubits - 1)))
            continue
        width, n_params = _GATES[kind]
        qubits = draw(st.permutations(range(n_qubits)))[:width]
        params = [draw(_ANGLES) for _ in range(n_params)]
        getattr(qc, kind)(*params, *qubits)
    return qc


@settings(max_examples=60, deadline=None)
@given(random_circuits())
def test_random_circuits_convert_instruction_by_instruction(qc: QuantumCircuit) -> None:
    qobj = json.loads(json.dumps(convert(qc, supported_instructions=[*_GATES, "measure", "reset"])))
    experiment = qobj["experiments"][0]
    assert experiment["header"]["n_qubits"] == qc.num_qubits
    assert experiment["header"]["memory_slots"] == qc.num_clbits
    assert len(experiment["instructions"]) == len(qc.data)
    for encoded, original in zip(experiment["instructions"], qc.data, strict=True):
        assert encoded["name"] == original.operation.name
        assert encoded["qubits"] == [qc.find_bit(bit).index for bit in original.qubits]
        assert encoded.get("memory", []) == [qc.find_bit(bit).index for bit in original.clbits]
        assert encoded.get("params", []) == pytest.approx(original.operation.params)


# --- Qiskit is optional -----------------------------------------------------------------------


def test_is_quantum_circuit() -> None:
    assert is_quantum_circuit(bell())
    assert not is_quantum_circuit({"qobj_id": "x"})
    assert not is_quantum_circuit([bell()])
    assert not is_quantum_circuit(None)


def _run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_and_dispatching_does_not_import_qiskit() -> None:
    result = _run_isolated(
        "import sys\n"
        "import ibmq_async.circuits as c\n"
        "assert not c.is_quantum_circuit({'qobj_id': 'x'})\n"
        "print(sorted(m for m in sys.modules if m == 'qiskit' or m.startswith('qiskit.')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_converting_without_qiskit_says_how_to_install_it() -> None:
    result = _run_isolated(
        "import sys\n"
        "sys.modules['qiskit'] = None  # what an absent package looks like to import\n"
        "from ibmq_async.circuits import circuits_to_qobj\n"
        "try:\n"
        "    circuits_to_qobj([], backend_name='b', backend_version='1')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'ibmq-async[qiskit]'" in result.stdout
