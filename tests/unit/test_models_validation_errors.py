"""An invalid document is a ValidationError that names the document (model) and the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ibmq_async.models import (
    BackendProperties,
    JobRecord,
    JobStatusResponse,
    PulseDefaults,
    Result,
    parse_backend_configuration,
    parse_qobj,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "tests" / "data" / "schemas"
DEVICES = REPO / "ibmq_async" / "local" / "devices"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def _without(document: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return changed


def _with(document: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


RESULT = _example("result_openqasm_example.json")
PROPERTIES = _example("backend_properties_example.json")
CONFIGURATION = _example("backend_configuration_openpulse_example.json")
QOBJ = _example("qobj_openqasm_example.json")
DEFAULTS = _example("default_pulse_configuration_example.json")

Parse = Callable[[dict[str, Any]], BaseModel]

CASES: list[tuple[str, Parse, dict[str, Any], str, str]] = [
    # (case, parser, document, model named, field named)
    ("missing job_id", Result.model_validate, _without(RESULT, "job_id"), "Result", "job_id"),
    (
        "counts key not hex",
        Result.model_validate,
        _with(RESULT, {"0x0": 1, "01": 2}, "results", 0, "data", "counts"),
        "Result",
        "results.0.data.counts.01",
    ),
    (
        "negative count",
        Result.model_validate,
        _with(RESULT, {"0x0": -1}, "results", 0, "data", "counts"),
        "Result",
        "results.0.data.counts.0x0",
    ),
    (
        "memory mixing outcomes and numbers",
        Result.model_validate,
        _with(RESULT, ["0x1", 5], "results", 0, "data", "memory"),
        "Result",
        "results.0.data.memory.1",
    ),
    (
        "memory of [re, im] with a string in it",
        Result.model_validate,
        _with(RESULT, [["a", 0.5]], "results", 0, "data", "memory"),
        "Result",
        "results.0.data.memory",
    ),
    (
        "success not a boolean",
        Result.model_validate,
        _with(RESULT, "sometimes", "results", 1, "success"),
        "Result",
        "results.1.success",
    ),
    (
        "meas_level out of range",
        Result.model_validate,
        _with(RESULT, 3, "results", 0, "meas_level"),
        "Result",
        "results.0.meas_level",
    ),
    (
        "missing last_update_date",
        BackendProperties.model_validate,
        _without(PROPERTIES, "last_update_date"),
        "BackendProperties",
        "last_update_date",
    ),
    (
        "Nduv value not a number",
        BackendProperties.model_validate,
        _with(PROPERTIES, "long", "qubits", 0, 0, "value"),
        "BackendProperties",
        "qubits.0.0.value",
    ),
    (
        "Nduv date not a date",
        BackendProperties.model_validate,
        _with(PROPERTIES, "yesterday", "gates", 2, "parameters", 0, "date"),
        "BackendProperties",
        "gates.2.parameters.0.date",
    ),
    (
        "missing hamiltonian",
        parse_backend_configuration,
        _without(CONFIGURATION, "hamiltonian"),
        "PulseBackendConfiguration",
        "hamiltonian",
    ),
    (
        "n_qubits not a number",
        parse_backend_configuration,
        _with(CONFIGURATION, "three", "n_qubits"),
        "PulseBackendConfiguration",
        "n_qubits",
    ),
    (
        "u_channel_lo scale not complex",
        parse_backend_configuration,
        _with(CONFIGURATION, "1+0j", "u_channel_lo", 0, 0, "scale"),
        "PulseBackendConfiguration",
        "u_channel_lo.0.0.scale",
    ),
    (
        "missing gates on a QASM configuration",
        parse_backend_configuration,
        _without(_example("backend_configuration_openqasm_example.json"), "gates"),
        "QasmBackendConfiguration",
        "gates",
    ),
    (
        "missing qobj_id",
        parse_qobj,
        _without(QOBJ, "qobj_id"),
        "QasmQobj",
        "qobj_id",
    ),
    (
        "qubits not integers",
        parse_qobj,
        _with(QOBJ, ["q0"], "experiments", 0, "instructions", 0, "qubits"),
        "QasmQobj",
        "experiments.0.instructions.0.qubits",
    ),
    (
        "missing buffer",
        PulseDefaults.model_validate,
        _without(DEFAULTS, "buffer"),
        "PulseDefaults",
        "buffer",
    ),
    (
        "unknown job status",
        JobStatusResponse.model_validate,
        {"status": "SLEEPING"},
        "JobStatusResponse",
        "status",
    ),
    (
        "unknown job status in a job record",
        JobRecord.model_validate,
        {"id": "j", "creationDate": "2021-01-01T00:00:00Z", "status": "PAUSED_FOREVER"},
        "JobRecord",
        "status",
    ),
]


@pytest.mark.parametrize(
    ("parse", "document", "model", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_an_invalid_document_is_an_error_naming_the_model_and_the_field(
    parse: Parse, document: dict[str, Any], model: str, field: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse(document)
    error = excinfo.value
    assert error.title == model
    text = str(error)
    assert f"validation error for {model}\n" in text
    locations = [".".join(str(part) for part in e["loc"]) for e in error.errors()]
    assert any(location.startswith(field) for location in locations), locations
    assert field in text


def test_the_examples_used_here_are_valid() -> None:
    Result.model_validate(RESULT)
    BackendProperties.model_validate(PROPERTIES)
    parse_backend_configuration(CONFIGURATION)
    parse_qobj(QOBJ)
    PulseDefaults.model_validate(DEFAULTS)


def test_unknown_fields_are_kept_not_rejected() -> None:
    result = Result.model_validate(
        _with(_with(RESULT, "0.1", "client_version"), 1.5, "results", 0, "time_taken")
    )
    assert result.model_extra == {"client_version": "0.1", "sample_name": "sample1"}
    assert result.results[0].model_extra == {"time_taken": 1.5}
    assert result.to_wire()["results"][0]["time_taken"] == 1.5
