"""The pulse defaults model: complex samples and amplitudes, command and pulse lookups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ibmq_async.models import (
    Command,
    ParametricPulseParameters,
    PulseDefaults,
    PulseLibraryItem,
    PulseQobjInstruction,
)

REPO = Path(__file__).resolve().parents[2]
LIMA_DEFS = REPO / "ibmq_async" / "local" / "devices" / "lima" / "defs.json"


@pytest.fixture(scope="module")
def payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LIMA_DEFS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def lima(payload: dict[str, Any]) -> PulseDefaults:
    return PulseDefaults.model_validate(payload)


def test_frequencies_are_ghz_on_the_wire_and_hz_on_request(lima: PulseDefaults) -> None:
    assert lima.qubit_freq_est[0] == pytest.approx(5.02968554992376)
    assert lima.qubit_freq_est_hz[0] == pytest.approx(5.02968554992376e9)
    assert lima.meas_freq_est_hz == pytest.approx([f * 1e9 for f in lima.meas_freq_est])


def test_commands_are_schedules_of_typed_instructions(lima: PulseDefaults) -> None:
    cx = lima.command("cx", [0, 1])
    assert cx.sequence is not None
    pulses = [i for i in cx.sequence if i.name == "parametric_pulse"]
    assert pulses
    assert pulses[0].parameters is not None
    assert isinstance(pulses[0].parameters.amp, complex)
    assert pulses[0].pulse_shape in {"drag", "gaussian_square"}
    frame_changes = [i for i in cx.sequence if i.name == "fc"]
    assert all(isinstance(i.phase, float) for i in frame_changes)
    measure = lima.command("measure", range(5))
    assert measure.sequence is not None
    acquire = next(i for i in measure.sequence if i.name == "acquire")
    assert acquire.qubits == [0, 1, 2, 3, 4]
    assert acquire.memory_slot == [0, 1, 2, 3, 4]
    assert lima.has_command("x", 0)
    assert not lima.has_command("x", 7)
    with pytest.raises(KeyError, match=r"'cx' on qubits \[1, 4\]"):
        lima.command("cx", [1, 4])


def test_the_pulse_library_holds_complex_samples(lima: PulseDefaults, payload: Any) -> None:
    item = payload["pulse_library"][0]
    pulse = lima.pulse(item["name"])
    assert len(pulse.samples) == len(item["samples"])
    assert pulse.samples[5] == complex(*item["samples"][5])
    with pytest.raises(KeyError, match="no pulse 'nothing'"):
        lima.pulse("nothing")
    assert lima.meas_kernel is not None
    assert lima.meas_kernel.name == "hw_boxcar"
    assert lima.model_extra == {"_data": {}}


def test_defaults_built_in_python_dump_complex_numbers_as_pairs() -> None:
    defaults = PulseDefaults(
        qubit_freq_est=[5.0],
        meas_freq_est=[7.0],
        buffer=0,
        pulse_library=[PulseLibraryItem(name="p", samples=[0.5 + 0.25j, 1, -1j])],
        cmd_def=[
            Command(
                name="x",
                qubits=[0],
                sequence=[
                    PulseQobjInstruction(
                        name="parametric_pulse",
                        t0=0,
                        ch="d0",
                        pulse_shape="drag",
                        parameters=ParametricPulseParameters(
                            amp=0.1 + 0.2j, duration=160, sigma=40, beta=1.5
                        ),
                    ),
                    PulseQobjInstruction(name="pv", t0=10, ch="d0", val=0.5j),
                    PulseQobjInstruction(name="fc", t0=10, ch="d0", phase="P0"),
                ],
            )
        ],
    )
    wire = defaults.to_wire()
    assert wire["pulse_library"] == [
        {"name": "p", "samples": [[0.5, 0.25], [1.0, 0.0], [0.0, -1.0]]}
    ]
    sequence = wire["cmd_def"][0]["sequence"]
    assert sequence[0]["parameters"] == {
        "amp": [0.1, 0.2],
        "duration": 160,
        "sigma": 40.0,
        "beta": 1.5,
    }
    assert sequence[1] == {"name": "pv", "t0": 10, "ch": "d0", "val": [0.0, 0.5]}
    assert sequence[2]["phase"] == "P0"
    assert PulseDefaults.model_validate(wire) == defaults


@pytest.mark.parametrize(
    ("amp", "expected"),
    [([0.1, -0.2], 0.1 - 0.2j), (0.3, 0.3), (1, 1.0), ("amp_param", "amp_param")],
)
def test_a_pulse_amplitude_is_complex_real_or_a_parameter_name(amp: Any, expected: Any) -> None:
    parameters = ParametricPulseParameters.model_validate({"amp": amp, "angle": 0.5})
    assert parameters.amp == expected
    assert type(parameters.amp) is type(expected)
    assert ParametricPulseParameters.model_validate(parameters.to_wire()) == parameters


@pytest.mark.parametrize(
    ("samples", "where"),
    [
        ([[0.1, 0.2], "0.3"], "item 1"),
        ([[0.1, 0.2], [0.3]], "item 1"),
        ([[0.1, 0.2, 0.3]], "item 0"),
        ("not a list", "a list"),
    ],
)
def test_samples_that_are_not_complex_are_an_error_naming_the_field(
    samples: Any, where: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        PulseDefaults.model_validate(
            {
                "qubit_freq_est": [5.0],
                "meas_freq_est": [7.0],
                "buffer": 0,
                "pulse_library": [{"name": "p", "samples": samples}],
            }
        )
    text = str(excinfo.value)
    assert "PulseDefaults" in text
    assert "pulse_library.0.samples" in text
    assert where in text
