"""The big wire models print one short line; their data stays a call away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ibmq_async.models import BackendProperties, PulseDefaults, parse_backend_configuration

DEVICES = Path(__file__).resolve().parents[2] / "ibmq_async" / "local" / "devices"
SHORT = 300


def _load(device: str, name: str) -> Any:
    return json.loads((DEVICES / device / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("device", ["vigo", "lima", "washington", "fez"])
def test_a_configuration_prints_its_name_version_qubits_and_counts(device: str) -> None:
    payload = _load(device, "conf.json")
    configuration = parse_backend_configuration(payload)
    for text in (repr(configuration), str(configuration)):
        assert len(text) < SHORT, text
        assert "\n" not in text
        assert repr(payload["backend_name"]) in text
        assert f"v{payload['backend_version']}" in text
        assert f"{payload['n_qubits']} qubits" in text
        assert f"{len(payload['gates'])} gates" in text
    assert configuration.to_wire()["coupling_map"] == payload["coupling_map"]


@pytest.mark.parametrize("device", ["vigo", "washington"])
def test_properties_print_the_backend_the_last_update_and_the_counts(device: str) -> None:
    payload = _load(device, "props.json")
    properties = BackendProperties.model_validate(payload)
    text = repr(properties)
    assert len(text) < SHORT, text
    assert str(properties) == text
    assert repr(payload["backend_name"]) in text
    assert properties.last_update_date.strftime("%Y-%m-%dT%H:%M:%S") in text
    assert f"{len(payload['qubits'])} qubits" in text
    assert f"{len(payload['gates'])} gate entries" in text
    assert properties.t1(0) > 0  # the data is a call away
    assert len(properties.to_wire_json()) > 10_000


def test_pulse_defaults_print_counts_not_samples() -> None:
    payload = _load("washington", "defs.json")
    defaults = PulseDefaults.model_validate(payload)
    text = repr(defaults)
    assert len(text) < SHORT, text
    assert str(defaults) == text
    assert f"{len(payload['qubit_freq_est'])} qubits" in text
    assert f"{len(payload['cmd_def'])} commands" in text
    assert f"{len(payload['pulse_library'])} pulses" in text
    assert defaults.command("x", 0).name == "x"


def test_a_simulator_configuration_counts_its_many_basis_gates() -> None:
    payload = _load("vigo", "conf.json")
    payload.update(simulator=True, coupling_map=None, basis_gates=[f"g{i}" for i in range(40)])
    text = repr(parse_backend_configuration(payload))
    assert "40 basis gates" in text
    assert "all-to-all" in text
    assert "simulator" in text
