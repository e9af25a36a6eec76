"""The Qobj models: generated QASM and pulse Qobj round-trip and fit the schema."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ibmq_async.models import (
    PulseQobj,
    QasmQobj,
    QasmQobjConfig,
    QasmQobjExperiment,
    QasmQobjInstruction,
    QobjHeader,
    parse_qobj,
)

REPO = Path(__file__).resolve().parents[2]
QOBJ_SCHEMA = jsonschema.Draft4Validator(
    json.loads((REPO / "tests" / "data" / "schemas" / "qobj_schema.json").read_text("utf-8"))
)

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ---------------------------------------------------------------------------

identifiers = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8)
reals = st.floats(allow_nan=False, allow_infinity=False)
non_negative_reals = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
complex_pairs = st.lists(reals, min_size=2, max_size=2)
versions = st.tuples(*[st.integers(0, 20)] * 3).map(lambda v: ".".join(map(str, v)))
json_scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | reals | identifiers
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(identifiers, inner, max_size=3),
    max_leaves=6,
)
hex_numbers = st.integers(0, 2**12).map(hex)

# name -> (number of qubits, number of parameters)
GATES = {
    "id": (1, 0),
    "x": (1, 0),
    "h": (1, 0),
    "sx": (1, 0),
    "rz": (1, 1),
    "u1": (1, 1),
    "u2": (1, 2),
    "u3": (1, 3),
    "cx": (2, 0),
    "cz": (2, 0),
    "rzz": (2, 1),
    "ccx": (3, 0),
}
N_QUBITS = 4


def _sizes(total: int) -> st.SearchStrategy[list[list[Any]]]:
    """Registers ``[name, size]`` whose sizes add up to ``total`` (none if ``total`` is 0)."""

    @st.composite
    def build(draw: st.DrawFn) -> list[list[Any]]:
        sizes: list[int] = []
        left = total
        while left:
            size = draw(st.integers(1, left))
            sizes.append(size)
            left -= size
        return [[f"r{index}", size] for index, size in enumerate(sizes)]

    return build()


@st.composite
def experiment_headers(draw: st.DrawFn, n_qubits: int = N_QUBITS) -> dict[str, Any]:
    memory_slots = draw(st.integers(0, 5))
    creg_sizes = draw(_sizes(memory_slots))
    qreg_sizes = draw(_sizes(n_qubits))
    header: dict[str, Any] = {
        "qubit_labels": [[name, i] for name, size in qreg_sizes for i in range(size)],
        "n_qubits": n_qubits,
        "qreg_sizes": qreg_sizes,
        "clbit_labels": [[name, i] for name, size in creg_sizes for i in range(size)],
        "memory_slots": memory_slots,
        "creg_sizes": creg_sizes,
        "name": draw(identifiers),
        "global_phase": draw(reals),
        "metadata": draw(st.dictionaries(identifiers, json_values, max_size=3)),
    }
    keep = draw(st.sets(st.sampled_from(sorted(header)), min_size=1))
    return {key: value for key, value in header.items() if key in keep}


def _qubits(count: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, N_QUBITS - 1), min_size=count, max_size=count, unique=True)


@st.composite
def qasm_instructions(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["gate", "measure", "barrier", "reset", "delay", "bfunc", "snapshot", "unitary"]
        )
    )
    if kind == "gate":
        name = draw(st.sampled_from(sorted(GATES)))
        n_qubits, n_params = GATES[name]
        instruction: dict[str, Any] = {"name": name, "qubits": draw(_qubits(n_qubits))}
        if n_params:
            instruction["params"] = draw(st.lists(reals, min_size=n_params, max_size=n_params))
        if draw(st.booleans()):
            instruction["conditional"] = draw(st.integers(0, 10))
        return instruction
    if kind == "measure":
        instruction = {
            "name": "measure",
            "qubits": draw(_qubits(1)),
            "memory": [draw(st.integers(0, 4))],
        }
        if draw(st.booleans()):
            instruction["register"] = [draw(st.integers(0, 10))]
        return instruction
    if kind == "barrier":
        qubits = draw(st.lists(st.integers(0, N_QUBITS - 1), min_size=1, unique=True))
        return {"name": "barrier", "qubits": qubits}
    if kind == "reset":
        return {"name": "reset", "qubits": draw(_qubits(1))}
    if kind == "delay":
        return {
            "name": "delay",
            "qubits": draw(_qubits(1)),
            "params": [draw(st.integers(0, 10**6))],
        }
    if kind == "bfunc":
        instruction = {
            "name": "bfunc",
            "mask": draw(hex_numbers),
            "relation": draw(st.sampled_from(["==", "!="])),
            "val": draw(hex_numbers),
            "register": draw(st.integers(0, 10)),
        }
        if draw(st.booleans()):
            instruction["memory"] = draw(st.integers(0, 4))
        return instruction
    if kind == "snapshot":
        return {
            "name": "snapshot",
            "label": draw(identifiers),
            "snapshot_type": draw(st.sampled_from(["statevector", "probabilities"])),
        }
    matrix = draw(st.lists(st.lists(complex_pairs, min_size=2, max_size=2), min_size=2, max_size=2))
    return {"name": "unitary", "qubits": draw(_qubits(1)), "params": [matrix], "label": "u"}


def _optional(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=strategies)


qobj_headers = _optional(backend_name=identifiers, backend_version=versions, note=json_values)

qasm_configs = _optional(
    shots=st.integers(1, 100_000),
    memory=st.booleans(),
    memory_slots=st.integers(0, 5),
    n_qubits=st.integers(1, N_QUBITS),
    seed_simulator=st.integers(0, 2**31),
    parameter_binds=st.just([]),
    meas_level=st.sampled_from([1, 2]),
    rep_delay=non_negative_reals,
    init_qubits=st.booleans(),
    use_measure_esp=st.booleans(),
    parametric_pulses=st.lists(identifiers, max_size=2),
    qubit_lo_freq=st.lists(non_negative_reals, min_size=1, max_size=3),
)


@st.composite
def qasm_qobjs(draw: st.DrawFn) -> dict[str, Any]:
    experiments = []
    for _ in range(draw(st.integers(1, 3))):
        experiment: dict[str, Any] = {
            "instructions": draw(st.lists(qasm_instructions(), max_size=8)),
        }
        if draw(st.booleans()):
            experiment["header"] = draw(experiment_headers())
        if draw(st.booleans()):
            experiment["config"] = draw(
                _optional(n_qubits=st.integers(1, N_QUBITS), memory_slots=st.integers(0, 5))
            )
        experiments.append(experiment)
    return {
        "qobj_id": draw(identifiers),
        "schema_version": draw(versions),
        "type": "QASM",
        "experiments": experiments,
        "config": draw(qasm_configs),
        "header": draw(qobj_headers),
    }


channels = st.builds(
    lambda kind, index: f"{kind}{index}", st.sampled_from("dum"), st.integers(0, 9)
)
measurement_options = st.fixed_dictionaries(
    {"name": identifiers, "params": st.dictionaries(identifiers, json_values, max_size=2)}
)


@st.composite
def pulse_instructions(draw: st.DrawFn, library: list[str]) -> dict[str, Any]:
    t0 = draw(st.integers(0, 10**6))
    kinds = ["fc", "setp", "shiftp", "setf", "shiftf", "pv", "delay", "parametric", "acquire"]
    kind = draw(st.sampled_from([*kinds, "library"] if library else kinds))
    if kind == "library":
        return {"name": draw(st.sampled_from(library)), "t0": t0, "ch": draw(channels)}
    if kind == "fc":
        phase = draw(reals | identifiers)
        return {"name": "fc", "t0": t0, "ch": draw(channels), "phase": phase}
    if kind in ("setp", "shiftp"):
        return {"name": kind, "t0": t0, "ch": draw(channels), "phase": draw(reals)}
    if kind in ("setf", "shiftf"):
        return {"name": kind, "t0": t0, "ch": draw(channels), "frequency": draw(reals)}
    if kind == "pv":
        return {"name": "pv", "t0": t0, "ch": draw(channels), "val": draw(complex_pairs)}
    if kind == "delay":
        duration = draw(st.integers(0, 10**5))
        return {"name": "delay", "t0": t0, "ch": draw(channels), "duration": duration}
    if kind == "parametric":
        parameters = draw(
            st.fixed_dictionaries(
                {"amp": complex_pairs, "duration": st.integers(1, 10**4)},
                optional={"sigma": reals, "beta": reals, "width": reals},
            )
        )
        return {
            "name": "parametric_pulse",
            "t0": t0,
            "ch": draw(channels),
            "pulse_shape": draw(st.sampled_from(["gaussian", "drag", "gaussian_square"])),
            "parameters": parameters,
        }
    qubits = draw(st.lists(st.integers(0, 9), min_size=1, max_size=4, unique=True))
    acquire: dict[str, Any] = {
        "name": "acquire",
        "t0": t0,
        "duration": draw(st.integers(1, 10**5)),
        "qubits": qubits,
        "memory_slot": list(range(len(qubits))),
    }
    if draw(st.booleans()):
        acquire["kernels"] = [draw(measurement_options)]
        acquire["discriminators"] = [draw(measurement_options)]
    return acquire


@st.composite
def pulse_qobjs(draw: st.DrawFn) -> dict[str, Any]:
    library: list[dict[str, Any]] = [
        {"name": f"pulse_{index}", "samples": draw(st.lists(complex_pairs, min_size=1, max_size=6))}
        for index in range(draw(st.integers(0, 3)))
    ]
    names = [item["name"] for item in library]
    experiments = []
    for _ in range(draw(st.integers(1, 3))):
        experiment: dict[str, Any] = {
            "instructions": draw(st.lists(pulse_instructions(names), max_size=8))
        }
        if draw(st.booleans()):
            experiment["header"] = draw(experiment_headers())
        if draw(st.booleans()):
            experiment["config"] = {
                "qubit_lo_freq": draw(st.lists(non_negative_reals, min_size=1, max_size=3))
            }
        experiments.append(experiment)
    config = {
        "meas_level": draw(st.sampled_from([0, 1, 2])),
        "meas_return": draw(st.sampled_from(["single", "avg"])),
        "pulse_library": library,
        "qubit_lo_freq": draw(st.lists(non_negative_reals, min_size=1, max_size=3)),
        "meas_lo_freq": draw(st.lists(non_negative_reals, min_size=1, max_size=3)),
        **draw(
            _optional(
                memory_slot_size=st.integers(0, 1000),
                rep_time=st.integers(1, 1000),
                shots=st.integers(1, 10**5),
                memory_slots=st.integers(0, 5),
            )
        ),
    }
    return {
        "qobj_id": draw(identifiers),
        "schema_version": draw(versions),
        "type": "PULSE",
        "experiments": experiments,
        "config": config,
        "header": draw(qobj_headers),
    }


# --- properties ---------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(qasm_qobjs())
def test_a_qasm_qobj_round_trips_and_its_dump_fits_the_schema(payload: dict[str, Any]) -> None:
    QOBJ_SCHEMA.validate(payload)  # the generator makes valid documents
    qobj = parse_qobj(payload)
    assert isinstance(qobj, QasmQobj)
    wire = qobj.to_wire()
    assert wire == payload
    again = parse_qobj(wire)
    assert again == qobj
    assert again.to_wire() == wire
    assert json.loads(qobj.to_wire_json()) == wire
    QOBJ_SCHEMA.validate(wire)


@PROPERTY_SETTINGS
@given(pulse_qobjs())
def test_a_pulse_qobj_round_trips_and_its_dump_fits_the_schema(payload: dict[str, Any]) -> None:
    QOBJ_SCHEMA.validate(payload)
    qobj = parse_qobj(payload)
    assert isinstance(qobj, PulseQobj)
    wire = qobj.to_wire()
    assert wire == payload
    again = parse_qobj(wire)
    assert again == qobj
    assert again.to_wire() == wire
    QOBJ_SCHEMA.validate(wire)


# --- examples -----------------------------------------------------------------------------


def test_instructions_are_typed() -> None:
    qobj = parse_qobj(
        {
            "qobj_id": "q",
            "schema_version": "1.3.0",
            "type": "QASM",
            "header": {"backend_name": "ibmq_vigo", "user_key": [1, 2]},
            "config": {"shots": 100, "memory_slots": 1},
            "experiments": [
                {
                    "header": {"creg_sizes": [["c", 1]], "name": "bell"},
                    "instructions": [
                        {"name": "rz", "qubits": [0], "params": [1.5708]},
                        {"name": "measure", "qubits": [0], "memory": [0], "register": [2]},
                        {
                            "name": "bfunc",
                            "mask": "0x1",
                            "relation": "==",
                            "val": "0x1",
                            "register": 3,
                        },
                        {"name": "x", "qubits": [1], "conditional": 3},
                        {"name": "delay", "qubits": [0], "params": [160]},
                        {"name": "snapshot", "label": "s", "snapshot_type": "statevector"},
                    ],
                }
            ],
        }
    )
    assert isinstance(qobj, QasmQobj)
    rz, measure, bfunc, x, delay, snapshot = qobj.experiments[0].instructions
    assert rz.params == [1.5708]
    assert measure.memory == [0]
    assert measure.register_slots == [2]
    assert bfunc.register_slots == 3
    assert bfunc.mask == "0x1"
    assert x.conditional == 3
    assert delay.params == [160]
    assert snapshot.snapshot_type == "statevector"
    assert qobj.experiments[0].header is not None
    assert qobj.experiments[0].header.creg_sizes == [("c", 1)]
    assert qobj.header.model_extra == {"user_key": [1, 2]}
    assert qobj.to_wire()["experiments"][0]["instructions"][1]["register"] == [2]


def test_a_qobj_built_in_python_dumps_its_type_and_schema_version() -> None:
    qobj = QasmQobj(
        qobj_id="q",
        experiments=[
            QasmQobjExperiment(
                instructions=[
                    QasmQobjInstruction(name="h", qubits=[0]),
                    QasmQobjInstruction(name="measure", qubits=[0], memory=[0]),
                ]
            )
        ],
        config=QasmQobjConfig(shots=10),
        header=QobjHeader(backend_name="ibmq_vigo"),
    )
    wire = qobj.to_wire()
    assert wire["type"] == "QASM"
    assert wire["schema_version"] == "1.3.0"
    assert wire["experiments"][0]["instructions"][1] == {
        "name": "measure",
        "qubits": [0],
        "memory": [0],
    }
    QOBJ_SCHEMA.validate(wire)


@pytest.mark.parametrize(
    ("instruction", "missing"),
    [
        ({"name": "measure", "qubits": [0]}, "'memory'"),
        ({"name": "bfunc", "mask": "0x1", "val": "0x1"}, "'relation'"),
        ({"name": "snapshot", "label": "s"}, "'snapshot_type'"),
    ],
)
def test_an_instruction_without_what_its_kind_needs_is_an_error(
    instruction: dict[str, Any], missing: str
) -> None:
    payload = {
        "qobj_id": "q",
        "type": "QASM",
        "schema_version": "1.3.0",
        "config": {},
        "header": {},
        "experiments": [{"instructions": [instruction]}],
    }
    with pytest.raises(ValidationError) as excinfo:
        parse_qobj(payload)
    text = str(excinfo.value)
    assert "QasmQobj" in text
    assert "experiments.0.instructions.0" in text
    assert missing in text


def test_a_qobj_of_an_unknown_type_is_an_error_naming_the_type_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_qobj(
            {
                "qobj_id": "q",
                "type": "QASM3",
                "schema_version": "1.3.0",
                "config": {},
                "header": {},
                "experiments": [{"instructions": []}],
            }
        )
    assert excinfo.value.title == "QasmQobj"
    assert [error["loc"] for error in excinfo.value.errors()] == [("type",)]


def test_a_pulse_qobj_needs_its_pulse_config() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_qobj(
            {
                "qobj_id": "q",
                "type": "PULSE",
                "schema_version": "1.3.0",
                "config": {"meas_level": 2, "meas_return": "avg"},
                "header": {},
                "experiments": [{"instructions": []}],
            }
        )
    assert excinfo.value.title == "PulseQobj"
    locations = {error["loc"] for error in excinfo.value.errors()}
    assert locations == {
        ("config", "pulse_library"),
        ("config", "qubit_lo_freq"),
        ("config", "meas_lo_freq"),
    }
