"""The backend properties model: SI accessors, lookups by qubit and gate, clear errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ibmq_async.models import (
    BackendProperties,
    BackendPropertyError,
    PropertyValue,
    apply_si_prefix,
)

REPO = Path(__file__).resolve().parents[2]
VIGO_PROPS = REPO / "ibmq_async" / "local" / "devices" / "vigo" / "props.json"


@pytest.fixture(scope="module")
def payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VIGO_PROPS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def vigo(payload: dict[str, Any]) -> BackendProperties:
    return BackendProperties.model_validate(payload)


def _wire_value(payload: dict[str, Any], qubit: int, name: str) -> tuple[float, str]:
    nduv = next(item for item in payload["qubits"][qubit] if item["name"] == name)
    return nduv["value"], nduv["unit"]


def _gate_value(payload: dict[str, Any], gate: str, qubits: list[int], name: str) -> float:
    entry = next(g for g in payload["gates"] if g["gate"] == gate and g["qubits"] == qubits)
    value: float = next(p["value"] for p in entry["parameters"] if p["name"] == name)
    return value


def test_qubit_accessors_return_si_units(vigo: BackendProperties, payload: dict[str, Any]) -> None:
    t1, unit = _wire_value(payload, 0, "T1")
    assert unit == "us"
    assert vigo.t1(0) == t1 / 1e6
    assert vigo.t2(0) == _wire_value(payload, 0, "T2")[0] / 1e6
    frequency, unit = _wire_value(payload, 2, "frequency")
    assert unit == "GHz"
    assert vigo.frequency(2) == frequency * 1e9
    readout_length, unit = _wire_value(payload, 3, "readout_length")
    assert unit == "ns"
    assert vigo.readout_length(3) == pytest.approx(readout_length * 1e-9)
    assert vigo.readout_error(1) == _wire_value(payload, 1, "readout_error")[0]


def test_gate_accessors_take_a_qubit_or_a_sequence(
    vigo: BackendProperties, payload: dict[str, Any]
) -> None:
    assert vigo.gate_error("cx", [0, 1]) == _gate_value(payload, "cx", [0, 1], "gate_error")
    assert vigo.gate_error("cx", (1, 0)) == _gate_value(payload, "cx", [1, 0], "gate_error")
    assert vigo.gate_length("sx", 2) == pytest.approx(
        _gate_value(payload, "sx", [2], "gate_length") * 1e-9
    )
    assert vigo.gate_properties("x", [4]).name == "x4"


def test_qubit_property_gives_value_and_date_like_terra(vigo: BackendProperties) -> None:
    t1 = vigo.qubit_property(0, "T1")
    assert isinstance(t1, PropertyValue)
    value, date = t1
    assert value == vigo.t1(0)
    assert date == datetime(2021, 1, 20, 7, 24, 55, tzinfo=timezone.utc)  # -05:00 on the wire
    everything = vigo.qubit_property(0)
    assert set(everything) >= {"T1", "T2", "frequency", "readout_error", "readout_length"}
    assert everything["T1"] == t1
    gate = vigo.gate_property("cx", [3, 4])
    assert set(gate) == {"gate_error", "gate_length"}
    assert vigo.qubit_nduv(0, "T1").unit == "us"


def test_general_properties_are_converted_too(vigo: BackendProperties) -> None:
    coupling = vigo.general_property("jq_01")
    assert coupling.value == pytest.approx(vigo.general[0].value * 1e9)


@pytest.mark.parametrize(
    ("lookup", "words"),
    [
        (lambda p: p.t1(5), ["qubit 5", "5 qubits"]),
        (lambda p: p.qubit_property(0, "T3"), ["'T3'", "qubit 0"]),
        (lambda p: p.gate_error("cx", [0, 2]), ["'cx'", "[0, 2]"]),
        (lambda p: p.gate_error("cz", [0, 1]), ["'cz'"]),
        (lambda p: p.gate_property("rz", 0, "gate_fidelity"), ["'gate_fidelity'", "'rz'", "[0]"]),
        (lambda p: p.general_property("fridge"), ["'fridge'"]),
    ],
)
def test_a_missing_property_is_an_error_naming_what_is_missing(
    vigo: BackendProperties, lookup: Any, words: list[str]
) -> None:
    with pytest.raises(BackendPropertyError) as excinfo:
        lookup(vigo)
    assert isinstance(excinfo.value, LookupError)
    assert isinstance(excinfo.value, ValueError)  # what terra raised
    for word in words:
        assert word in str(excinfo.value)
    assert "ibmq_vigo" in str(excinfo.value)


def _document(**qubit_zero_extra: Any) -> dict[str, Any]:
    date = "2021-01-01T00:00:00Z"
    return {
        "backend_name": "b",
        "backend_version": "1.0.0",
        "last_update_date": date,
        "qubits": [
            [{"name": "T1", "date": date, "unit": "us", "value": 50}],
            [
                {"name": "T1", "date": date, "unit": "us", "value": 60},
                {"name": "operational", "date": date, "unit": "", "value": 0},
                {"name": "odd", "date": date, "unit": "degC", "value": 1},
            ],
        ],
        "gates": [
            {
                "qubits": [0, 1],
                "gate": "cx",
                "parameters": [{"name": "operational", "date": date, "unit": "", "value": 0}],
            },
            {
                "qubits": [0],
                "gate": "sx",
                "parameters": [{"name": "gate_error", "date": date, "unit": "", "value": 1e-4}],
            },
        ],
        "general": [{"name": "fridge_temperature", "date": date, "unit": "mK", "value": 10}],
        **qubit_zero_extra,
    }


def test_operational_flags_find_faulty_qubits_and_gates() -> None:
    properties = BackendProperties.model_validate(_document())
    assert properties.is_qubit_operational(0)
    assert not properties.is_qubit_operational(1)
    assert properties.faulty_qubits() == [1]
    assert not properties.is_gate_operational("cx", [0, 1])
    assert properties.is_gate_operational("sx", 0)
    assert [gate.gate for gate in properties.faulty_gates()] == ["cx"]
    assert properties.general_property("fridge_temperature").value == pytest.approx(0.01)


def test_a_unit_without_an_si_prefix_is_an_error_naming_the_property() -> None:
    properties = BackendProperties.model_validate(_document())
    with pytest.raises(BackendPropertyError, match=r"'odd' of qubit 1.*'degC'"):
        properties.qubit_property(1, "odd")


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (60, "us", 6e-05),
        (60, "µs", 6e-05),
        (35.5, "ns", 3.55e-08),
        (5.2, "GHz", 5.2e9),
        (10, "mK", 0.01),
        (0.002, "", 0.002),
        (3, "s", 3),
        (2, "kHz", 2000),
    ],
)
def test_si_prefixes_follow_terra(value: float, unit: str, expected: float) -> None:
    assert apply_si_prefix(value, unit) == pytest.approx(expected, rel=1e-15)


def test_an_unknown_prefix_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'xs'"):
        apply_si_prefix(1.0, "xs")


def test_lookup_tables_do_not_change_equality(payload: dict[str, Any]) -> None:
    used = BackendProperties.model_validate(payload)
    fresh = BackendProperties.model_validate(payload)
    used.t1(0)
    used.gate_error("cx", [0, 1])
    assert used == fresh
    assert used.to_wire() == fresh.to_wire()
