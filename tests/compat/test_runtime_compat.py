"""The unmodified qiskit-ibm-runtime 0.51.0 against ``ibmq-async serve`` (the platform API).

Each ``scenarios/runtime_*.py`` runs once, in qiskit-ibm-runtime's own environment (see
``runtime_env.py``), against one service started for the session, and reports named
checks; every check is one test here. :data:`CHECKS` lists the checks of each scenario.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from compat_env import ScenarioRun, assert_check, assert_completed, assert_log_clean
from runtime_env import RuntimeService

CHECKS: dict[str, tuple[str, ...]] = {
    "runtime_account": (
        "wrong_api_key",
        "connect_and_discover_instances",
        "instance_of_another_account",
        "backends",
        "least_busy",
        "configuration",
        "properties",
        "status",
        "target",
        "usage",
    ),
    "runtime_jobs": (
        "sampler_bell",
        "sampler_parameters_broadcast",
        "estimator_bell",
        "job_retrieve",
        "jobs_filters",
        "update_tags",
        "metrics_usage_logs",
        "session",
        "batch",
        "cancel",
        "session_cancel",
        "job_failure",
        "server_refuses_a_circuit_that_is_not_isa",
        "job_not_found_and_delete",
        "usage_limit",
        "rate_limit",
        "results_decoded_by_the_client_decoder",
    ),
    "runtime_codec": (
        "circuits_client_to_codec",
        "circuits_codec_to_client",
        "values_both_ways",
        "sampler_result_client_to_codec",
        "sampler_result_codec_to_client",
        "estimator_result_both_ways",
        "pubs_encoded_as_the_client_encodes_them",
        "int_keys",
    ),
}

pytestmark = [
    pytest.mark.compat,
    # The first test builds qiskit-ibm-runtime's environment when it is not cached.
    pytest.mark.timeout(1200),
]


@pytest.mark.parametrize(
    ("scenario", "check"),
    [(scenario, check) for scenario, checks in CHECKS.items() for check in checks],
    ids=[f"{scenario}:{check}" for scenario, checks in CHECKS.items() for check in checks],
)
def test_runtime_check(
    scenario: str, check: str, run_runtime_scenario: Callable[[str], ScenarioRun]
) -> None:
    assert_check(run_runtime_scenario(scenario), scenario, check, "qiskit-ibm-runtime")


@pytest.mark.parametrize("scenario", list(CHECKS))
def test_runtime_scenario_completed(
    scenario: str, run_runtime_scenario: Callable[[str], ScenarioRun]
) -> None:
    """The script ran to its end, exited 0 and reported exactly the listed checks."""
    assert_completed(run_runtime_scenario(scenario), CHECKS[scenario])


def test_runtime_service_log_has_no_errors(
    run_runtime_scenario: Callable[[str], ScenarioRun], runtime_service: RuntimeService
) -> None:
    """No request made the service crash (runs after every runtime scenario)."""
    for scenario in CHECKS:
        run_runtime_scenario(scenario)
    assert_log_clean(runtime_service.process, runtime_service.log_text())
