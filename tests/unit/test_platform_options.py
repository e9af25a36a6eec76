"""Primitive options: what is sent (only what was set, as qiskit-ibm-runtime sends it), the
experimental merge, the job fields, and bad options named by their path."""

from __future__ import annotations

from typing import Any

import pytest

from ibmq_async.platform import EstimatorOptions, OptionsError, SamplerOptions
from ibmq_async.platform.options import TwirlingOptions


def test_nothing_set_sends_empty_options_version_2() -> None:
    assert SamplerOptions().program_inputs() == {
        "options": {},
        "version": 2,
        "support_qiskit": True,
    }
    assert EstimatorOptions.coerce(None).program_inputs() == {
        "options": {},
        "version": 2,
        "support_qiskit": True,
    }
    assert SamplerOptions().job_fields() == {"log_level": "WARNING"}


def test_only_what_was_set_is_sent_nested_or_assigned() -> None:
    options = SamplerOptions(default_shots=100, dynamical_decoupling={"enable": True})
    options.twirling.enable_gates = True
    options.execution.meas_type = "classified"
    options.simulator.seed_simulator = 7
    assert options.program_inputs()["options"] == {
        "default_shots": 100,
        "dynamical_decoupling": {"enable": True},
        "twirling": {"enable_gates": True},
        "simulator": {"seed_simulator": 7},
        "execution": {"meas_type": "classified"},
    }


def test_estimator_resilience_level_sits_beside_the_options() -> None:
    options = EstimatorOptions.coerce(
        {
            "resilience_level": 2,
            "default_precision": 0.01,
            "seed_estimator": 3,
            "resilience": {"zne_mitigation": True, "zne": {"noise_factors": [1, 3, 5]}},
            "twirling": {"num_randomizations": "auto", "strategy": "active-accum"},
        }
    )
    inputs = options.program_inputs()
    assert inputs["resilience_level"] == 2
    assert "resilience_level" not in inputs["options"]
    assert inputs["options"] == {
        "default_precision": 0.01,
        "seed_estimator": 3,
        "resilience": {"zne_mitigation": True, "zne": {"noise_factors": [1.0, 3.0, 5.0]}},
        "twirling": {"num_randomizations": "auto", "strategy": "active-accum"},
    }


def test_an_explicit_none_is_sent_as_null() -> None:
    # qiskit-ibm-runtime sends every value that is not Unset, None included.
    options = EstimatorOptions(default_shots=None)
    assert options.program_inputs()["options"] == {"default_shots": None}


def test_experimental_keys_merge_into_known_options_and_image_becomes_runtime() -> None:
    options = SamplerOptions(
        twirling={"enable_gates": True},
        experimental={
            "twirling": {"strategy": "all"},
            "execution": {"init_qubits": False},
            "image": "runtime:1.2",
            "my_flag": 1,
            "nested": {"a": {}},
        },
    )
    assert options.program_inputs()["options"] == {
        "twirling": {"enable_gates": True, "strategy": "all"},
        "execution": {"init_qubits": False},
        "experimental": {"my_flag": 1},
    }
    assert options.job_fields()["runtime"] == "runtime:1.2"


def test_runtime_options_become_job_fields() -> None:
    options = SamplerOptions(
        max_execution_time=300,
        environment={"log_level": "INFO", "job_tags": ["a", "b"], "private": True},
    )
    assert options.job_fields() == {
        "log_level": "INFO",
        "cost": 300,
        "tags": ["a", "b"],
        "private": True,
    }
    # They are not program options.
    assert options.program_inputs()["options"] == {}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"shots": 5}, "shots: unknown option"),
        ({"twirling": {"gates": True}}, "twirling.gates: unknown option"),
        ({"twirling": {"num_randomizations": 0}}, "twirling.num_randomizations: Value error"),
        ({"twirling": {"num_randomizations": "many"}}, "twirling.num_randomizations"),
        ({"default_shots": 0}, "default_shots"),
        ({"default_shots": True}, "default_shots: Input should be a valid integer"),
        ({"default_shots": "100"}, "default_shots: Input should be a valid integer"),
        ({"dynamical_decoupling": {"sequence_type": "XZ"}}, "dynamical_decoupling.sequence_type"),
        ({"execution": {"meas_type": "iq"}}, "execution.meas_type"),
        ({"environment": {"log_level": "LOUD"}}, "environment.log_level"),
        ({"max_execution_time": 0}, "max_execution_time"),
        ({"experimental": "on"}, "experimental"),
        ({"dynamical_decoupling": 3}, "dynamical_decoupling"),
    ],
)
def test_bad_sampler_options_name_the_option(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(OptionsError) as caught:
        SamplerOptions.coerce(options)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("invalid SamplerOptions: ")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"resilience_level": 3}, "resilience_level"),
        ({"default_precision": 0}, "default_precision"),
        ({"default_shots": 0}, "default_shots"),
        ({"resilience": {"zne": {"noise_factors": [0.5, 1]}}}, "noise factor must be >= 1"),
        (
            {"resilience": {"zne": {"extrapolator": "double_exponential"}}},
            "double_exponential needs at least 4 noise factors",
        ),
        (
            {"resilience": {"measure_noise_learning": {"num_randomizations": 4}}},
            "measure_mitigation is not True",
        ),
        (
            {"resilience": {"pec_mitigation": True, "zne_mitigation": True}},
            "cannot both be enabled",
        ),
        ({"resilience": {"pec": {"max_overhead": 0}}}, "resilience.pec.max_overhead"),
        ({"resilience": {"layer_noise_model": []}}, "layer_noise_model: unknown option"),
        ({"execution": {"meas_type": "classified"}}, "execution.meas_type: unknown option"),
    ],
)
def test_bad_estimator_options_name_the_option(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(OptionsError, match="invalid EstimatorOptions") as caught:
        EstimatorOptions.coerce(options)
    assert fragment in str(caught.value)


def test_assignment_is_checked_too() -> None:
    twirling = TwirlingOptions()
    with pytest.raises(ValueError, match="at least 1"):
        twirling.num_randomizations = 0


def test_coerce_keeps_instances_apart_and_refuses_the_other_kind() -> None:
    options = SamplerOptions(default_shots=10)
    copied = SamplerOptions.coerce(options)
    assert copied == options
    assert copied is not options
    copied.twirling.enable_gates = True
    assert options.twirling.enable_gates is None
    with pytest.raises(OptionsError, match="sampler and estimator options differ"):
        EstimatorOptions.coerce(options)  # type: ignore[arg-type]
    with pytest.raises(OptionsError, match="a mapping"):
        SamplerOptions.coerce([("default_shots", 1)])  # type: ignore[arg-type]
