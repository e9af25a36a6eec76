"""The backend configuration models: picking the kind, SI properties, coupling helpers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ibmq_async.models import (
    PulseBackendConfiguration,
    QasmBackendConfiguration,
    UchannelLO,
    parse_backend_configuration,
)

REPO = Path(__file__).resolve().parents[2]
DEVICES = REPO / "ibmq_async" / "local" / "devices"
SCHEMAS = REPO / "tests" / "data" / "schemas"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vigo() -> QasmBackendConfiguration:
    return QasmBackendConfiguration.model_validate(_load(DEVICES / "vigo" / "conf.json"))


@pytest.fixture(scope="module")
def washington() -> PulseBackendConfiguration:
    return PulseBackendConfiguration.model_validate(_load(DEVICES / "washington" / "conf.json"))


def _minimal_qasm(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "backend_name": "local_simulator",
        "backend_version": "1.0.0",
        "n_qubits": 3,
        "basis_gates": ["u3", "cx"],
        "gates": [{"name": "cx", "parameters": [], "qasm_def": "gate cx q1,q2 { CX q1,q2; }"}],
        "local": True,
        "simulator": True,
        "conditional": True,
        "memory": True,
        "max_shots": 8192,
        "open_pulse": False,
    }
    payload.update(changes)
    return payload


def test_the_kind_is_picked_by_open_pulse() -> None:
    assert type(parse_backend_configuration(_minimal_qasm())) is QasmBackendConfiguration
    without_flag = _minimal_qasm()
    del without_flag["open_pulse"]
    assert type(parse_backend_configuration(without_flag)) is QasmBackendConfiguration
    pulse = _load(SCHEMAS / "backend_configuration_openpulse_example.json")
    assert type(parse_backend_configuration(pulse)) is PulseBackendConfiguration


def test_a_pulse_configuration_without_its_pulse_fields_names_them() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_backend_configuration(_minimal_qasm(open_pulse=True))
    text = str(excinfo.value)
    assert "PulseBackendConfiguration" in text
    for field in ("hamiltonian", "u_channel_lo", "meas_levels", "dt", "rep_times"):
        assert field in {error["loc"][0] for error in excinfo.value.errors()}, field
    assert "hamiltonian" in text


def test_wire_units_are_kept_and_si_values_are_offered(
    washington: PulseBackendConfiguration,
) -> None:
    assert washington.dt == pytest.approx(2 / 9)  # ns, as on the wire
    assert washington.dt_seconds == pytest.approx(2 / 9 * 1e-9)
    assert washington.dtm_seconds == pytest.approx(2 / 9 * 1e-9)
    assert washington.rep_times == [1000.0]  # µs
    assert washington.rep_times_seconds == pytest.approx([1e-3])
    assert washington.default_rep_delay_seconds == pytest.approx(150e-6)
    assert washington.rep_delay_range_seconds == pytest.approx((0.0, 500e-6))
    low, high = washington.qubit_lo_range[0]
    assert washington.qubit_lo_range_hz is not None
    assert washington.qubit_lo_range_hz[0] == pytest.approx((low * 1e9, high * 1e9))
    assert washington.meas_lo_range_hz is not None
    assert len(washington.meas_lo_range_hz) == washington.num_qubits == 127


def test_the_schema_shape_of_rep_delay_range_is_also_read() -> None:
    configuration = parse_backend_configuration(
        _minimal_qasm(rep_delay_range=[[0.0, 100.0], [50.0, 250.0]], default_rep_delay=100.0)
    )
    assert configuration.rep_delay_range_seconds == pytest.approx((0.0, 250e-6))
    assert configuration.to_wire()["rep_delay_range"] == [[0.0, 100.0], [50.0, 250.0]]
    assert parse_backend_configuration(_minimal_qasm()).rep_delay_range_seconds is None


def test_pulse_fields_are_typed(washington: PulseBackendConfiguration) -> None:
    assert washington.processor_type is not None
    assert washington.processor_type.family == "Eagle"
    assert washington.timing_constraints is not None
    assert washington.timing_constraints.granularity == 16
    assert washington.meas_levels == [1, 2]
    assert washington.hamiltonian.h_latex.startswith("\\begin{align}")
    assert washington.channels is not None
    assert washington.channels["acquire0"].operates == {"qubits": [0]}
    assert washington.control_channel_lo(0) == [UchannelLO(q=1, scale=1 + 0j)]
    assert isinstance(washington.u_channel_lo[0][0].scale, complex)
    assert washington.online_date == datetime(2021, 9, 16, 4, tzinfo=timezone.utc)
    assert washington.input_allowed == ["job"]
    assert washington.measure_esp_enabled is False
    assert washington.max_experiments == 300
    with pytest.raises(IndexError, match="no U channel 284"):
        washington.control_channel_lo(284)


def test_unknown_fields_are_kept(washington: PulseBackendConfiguration) -> None:
    assert washington.model_extra is not None
    assert washington.model_extra["clops"] == 850
    assert washington.model_extra["live_data"] is False
    assert washington.to_wire()["pulse_num_qubits"] == 3


def test_coupling_helpers(vigo: QasmBackendConfiguration) -> None:
    assert vigo.coupling_edges is not None
    assert (0, 1) in vigo.coupling_edges
    assert len(vigo.coupling_edges) == 8
    assert vigo.is_coupled(1, 3)
    assert not vigo.is_coupled(0, 2)
    assert vigo.qubit_neighbors(1) == [0, 2, 3]
    assert vigo.qubit_neighbors(4) == [3]
    assert vigo.gate_config("cx").coupling_map is not None
    with pytest.raises(KeyError, match="no gate 'cz'"):
        vigo.gate_config("cz")


def test_a_simulator_has_no_coupling_map_and_couples_everything() -> None:
    simulator = parse_backend_configuration(_minimal_qasm(coupling_map=None))
    assert simulator.coupling_map is None
    assert simulator.coupling_edges is None
    assert simulator.is_coupled(0, 2)
    assert simulator.qubit_neighbors(1) == [0, 2]
    # Set explicitly, the null coupling map is on the wire (the original client needs the key).
    assert simulator.to_wire()["coupling_map"] is None


def test_open_pulse_is_always_dumped_even_when_not_given() -> None:
    payload = _minimal_qasm()
    del payload["open_pulse"]
    built = QasmBackendConfiguration(**payload)
    assert built.to_wire()["open_pulse"] is False
    assert "coupling_map" not in built.to_wire()


def test_a_gate_without_parameters_or_definition_is_accepted_as_devices_send_it() -> None:
    configuration = parse_backend_configuration(
        _minimal_qasm(gates=[{"name": "reset", "parameters": None, "qasm_def": None}])
    )
    assert configuration.gates[0].parameters is None
    with pytest.raises(ValidationError, match=r"gates\.0\.qasm_def"):
        parse_backend_configuration(_minimal_qasm(gates=[{"name": "reset", "parameters": []}]))


@pytest.mark.parametrize("revision", [4, "4", 1.2, 5.11])
def test_processor_revision_is_kept_as_sent_whether_a_string_an_integer_or_a_float(
    revision: Any,
) -> None:
    payload = _load(DEVICES / "lima" / "conf.json")
    payload["processor_type"] = {"family": "Falcon", "revision": revision, "segment": "T"}
    configuration = parse_backend_configuration(payload)
    assert configuration.processor_type is not None
    assert configuration.processor_type.revision == revision
    assert type(configuration.to_wire()["processor_type"]["revision"]) is type(revision)
