"""Real device snapshots and the schema examples parse, dump back, and satisfy the schemas.

Round trips compare the dump with the input as JSON values, with the tolerated differences
of :func:`wire_json.assert_same_json` (``tests/wire_json.py``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import TypeAdapter
from wire_json import assert_same_json

from ibmq_async.models import (
    BackendProperties,
    BackendStatus,
    JobStatusResponse,
    PulseBackendConfiguration,
    PulseDefaults,
    QasmBackendConfiguration,
    QasmQobj,
    Result,
    WireModel,
    parse_backend_configuration,
    parse_qobj,
)

REPO = Path(__file__).resolve().parents[2]
DEVICES = REPO / "ibmq_async" / "local" / "devices"
SCHEMAS = REPO / "tests" / "data" / "schemas"
DEVICE_NAMES = ["vigo", "lima", "montreal", "washington", "fez"]
PULSE_DEVICES = {"lima", "montreal", "washington", "fez"}

_DATETIME = TypeAdapter(datetime)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _format_checker() -> jsonschema.FormatChecker:
    """A format checker that really checks ``date-time`` (RFC 3339), without extra packages."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time")
    def _is_rfc3339(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        _DATETIME.validate_python(value)
        return True

    return checker


def _validator(schema_name: str, schema: dict[str, Any] | None = None) -> jsonschema.Validator:
    document = schema if schema is not None else _load(SCHEMAS / schema_name)
    return jsonschema.Draft4Validator(document, format_checker=_format_checker())


def assert_round_trip(model: WireModel, payload: Any) -> dict[str, Any]:
    """The dump equals the input; the JSON text dump is the same document."""
    wire = model.to_wire()
    assert_same_json(payload, wire)
    assert json.loads(model.to_wire_json()) == wire
    assert type(model).model_validate(wire) == model
    return wire


# --- schema violations of the real snapshots ----------------------------------------------

Violation = tuple[tuple[str | int, ...], str]

# The snapshots are what IBM Quantum served; they break the schema in these places, each
# identified by (JSON path, failing schema keyword). Everything else must validate.
_FLAT_REP_DELAY_RANGE: set[Violation] = {
    # [0.0, 500.0] where the schema wants a list of [min, max] pairs.
    (("rep_delay_range", 0), "type"),
    (("rep_delay_range", 1), "type"),
}
_NULL_RESET_GATE: set[Violation] = {
    # The `reset` gate (gates[5]) has "parameters": null and "qasm_def": null.
    (("gates", 5, "parameters"), "type"),
    (("gates", 5, "qasm_def"), "type"),
}
_EMPTY_LATENCIES: set[Violation] = {
    # "acquisition_latency": [] and "conditional_latency": [] where the schema has minItems 1.
    (("acquisition_latency",), "minItems"),
    (("conditional_latency",), "minItems"),
}
_NUMERIC_REVISION: set[Violation] = {
    (("processor_type", "revision"), "type")
}  # "revision": 4, not "4"
_NULL_QUANTUM_VOLUME: set[Violation] = {(("quantum_volume",), "type")}  # "quantum_volume": null

KNOWN_CONFIGURATION_VIOLATIONS: dict[str, set[Violation]] = {
    "vigo": _FLAT_REP_DELAY_RANGE,
    "lima": _FLAT_REP_DELAY_RANGE | _NULL_RESET_GATE | _EMPTY_LATENCIES | _NUMERIC_REVISION,
    "montreal": _FLAT_REP_DELAY_RANGE | _NULL_RESET_GATE | _EMPTY_LATENCIES | _NUMERIC_REVISION,
    "washington": _FLAT_REP_DELAY_RANGE | _NULL_RESET_GATE | _EMPTY_LATENCIES | _NUMERIC_REVISION,
    "fez": _FLAT_REP_DELAY_RANGE | _NULL_RESET_GATE | _EMPTY_LATENCIES | _NULL_QUANTUM_VOLUME,
}


def _configuration_branch_validator(open_pulse: bool) -> jsonschema.Validator:
    """The schema's ``oneOf`` branch for this kind of configuration, as its own schema.

    ``oneOf`` only reports that no branch matched; validating against the branch that
    applies reports each violation with its path.
    """
    schema = _load(SCHEMAS / "backend_configuration_schema.json")
    branch = schema.pop("oneOf")[0 if open_pulse else 1]
    schema.update(branch)
    return _validator("backend_configuration_schema.json", schema)


def _violations(validator: jsonschema.Validator, document: Any) -> set[Violation]:
    return {
        (tuple(error.absolute_path), str(error.validator))
        for error in validator.iter_errors(document)
    }


# --- device snapshots ---------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICE_NAMES)
def test_every_device_configuration_parses_into_its_kind_and_round_trips(device: str) -> None:
    payload = _load(DEVICES / device / "conf.json")
    configuration = parse_backend_configuration(payload)
    expected = PulseBackendConfiguration if device in PULSE_DEVICES else QasmBackendConfiguration
    assert type(configuration) is expected
    assert configuration.num_qubits == payload["n_qubits"]
    wire = assert_round_trip(configuration, payload)

    validator = _configuration_branch_validator(configuration.open_pulse)
    known = KNOWN_CONFIGURATION_VIOLATIONS[device]
    assert _violations(validator, payload) == known, "the snapshot's own violations changed"
    assert _violations(validator, wire) == known


@pytest.mark.parametrize("device", DEVICE_NAMES)
def test_every_device_configuration_with_its_known_violations_repaired_fits_the_schema(
    device: str,
) -> None:
    wire = parse_backend_configuration(_load(DEVICES / device / "conf.json")).to_wire()
    wire["rep_delay_range"] = [wire["rep_delay_range"]]
    if device in PULSE_DEVICES:
        wire["gates"][5].update(parameters=[], qasm_def="reset q;")
        wire["acquisition_latency"] = [[0]]
        wire["conditional_latency"] = [[0]]
    if "revision" in wire.get("processor_type", {}):
        wire["processor_type"]["revision"] = str(wire["processor_type"]["revision"])
    if wire.get("quantum_volume", 0) is None:
        del wire["quantum_volume"]
    # The whole schema, oneOf included.
    _validator("backend_configuration_schema.json").validate(wire)


@pytest.mark.parametrize("device", DEVICE_NAMES)
def test_every_device_properties_parse_round_trip_and_fit_the_schema(device: str) -> None:
    payload = _load(DEVICES / device / "props.json")
    properties = BackendProperties.model_validate(payload)
    assert properties.backend_name == payload["backend_name"]
    assert properties.num_qubits == len(payload["qubits"])
    assert properties.last_update_date.utcoffset() is not None
    assert properties.last_update_date.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    wire = assert_round_trip(properties, payload)
    _validator("backend_properties_schema.json").validate(wire)


@pytest.mark.parametrize("device", sorted(PULSE_DEVICES - {"fez"}))
def test_every_device_pulse_defaults_parse_round_trip_and_fit_the_schema(device: str) -> None:
    payload = _load(DEVICES / device / "defs.json")
    defaults = PulseDefaults.model_validate(payload)
    assert len(defaults.qubit_freq_est) == len(payload["qubit_freq_est"])
    first_sample = payload["pulse_library"][0]["samples"][0]
    assert defaults.pulse_library[0].samples[0] == complex(*first_sample)
    wire = assert_round_trip(defaults, payload)
    _validator("default_pulse_configuration_schema.json").validate(wire)
    assert PulseDefaults.model_validate_json(json.dumps(payload)) == defaults


def test_the_fez_snapshot_has_no_pulse_defaults() -> None:
    assert not (DEVICES / "fez" / "defs.json").exists()


# --- schema examples ----------------------------------------------------------------------


def _parse_example(name: str, payload: dict[str, Any]) -> WireModel:
    if name.startswith("backend_configuration"):
        return parse_backend_configuration(payload)
    if name.startswith("backend_properties"):
        return BackendProperties.model_validate(payload)
    if name.startswith("backend_status"):
        return BackendStatus.model_validate(payload)
    if name.startswith("default_pulse_configuration"):
        return PulseDefaults.model_validate(payload)
    if name.startswith("qobj"):
        return parse_qobj(payload)
    if name.startswith("result"):
        return Result.model_validate(payload)
    raise AssertionError(f"no model for {name}")


EXAMPLE_SCHEMAS = {
    "backend_configuration_openpulse_example.json": "backend_configuration_schema.json",
    "backend_configuration_openqasm_example.json": "backend_configuration_schema.json",
    "backend_configuration_openqasm_simulator_example.json": "backend_configuration_schema.json",
    "backend_properties_example.json": "backend_properties_schema.json",
    "backend_status_example.json": "backend_status_schema.json",
    "default_pulse_configuration_example.json": "default_pulse_configuration_schema.json",
    "qobj_openqasm_example.json": "qobj_schema.json",
    "result_openqasm_example.json": "result_schema.json",
}


def test_every_schema_example_is_covered() -> None:
    examples = {path.name for path in SCHEMAS.glob("*_example.json")}
    assert examples == set(EXAMPLE_SCHEMAS) | {"job_status_example.json"}


@pytest.mark.parametrize(("example", "schema"), sorted(EXAMPLE_SCHEMAS.items()))
def test_every_schema_example_parses_round_trips_and_fits_its_schema(
    example: str, schema: str
) -> None:
    payload = _load(SCHEMAS / example)
    model = _parse_example(example, payload)
    wire = assert_round_trip(model, payload)
    _validator(schema).validate(wire)


def test_the_example_models_are_the_expected_kinds() -> None:
    pulse = parse_backend_configuration(
        _load(SCHEMAS / "backend_configuration_openpulse_example.json")
    )
    simulator = parse_backend_configuration(
        _load(SCHEMAS / "backend_configuration_openqasm_simulator_example.json")
    )
    assert isinstance(pulse, PulseBackendConfiguration)
    assert type(simulator) is QasmBackendConfiguration
    assert simulator.coupling_map is None
    assert isinstance(parse_qobj(_load(SCHEMAS / "qobj_openqasm_example.json")), QasmQobj)


def test_the_generic_job_status_example_is_read_by_the_job_status_response() -> None:
    # job_status_schema.json is a generic document, not what the REST API answers (its
    # job id is "id" there, docs/protocol.md §7.7): JobStatusResponse reads it, takes "job_id"
    # by its Python name, keeps "status_msg", and dumps the REST shape.
    payload = _load(SCHEMAS / "job_status_example.json")
    status = JobStatusResponse.model_validate(payload)
    assert status.status.value == payload["status"]
    assert status.job_id == payload["job_id"]
    assert status.model_extra == {"status_msg": payload["status_msg"]}
    assert status.to_wire() == {
        "status": "RUNNING",
        "id": payload["job_id"],
        "status_msg": payload["status_msg"],
    }
