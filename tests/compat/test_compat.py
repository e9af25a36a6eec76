"""The original client, qiskit-ibmq-provider 0.20.2, against ``ibmq-async serve``.

Each scenario under ``scenarios/`` runs once, in the original client's own environment
(see ``conftest.py``), against one service started for the session, and reports named
checks; every check is one test here, so a failure names the call of the original client
that broke and says why. :data:`CHECKS` lists the checks each scenario must report.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from compat_env import CompatService, ScenarioRun, assert_check, assert_completed, assert_log_clean

CHECKS: dict[str, tuple[str, ...]] = {
    "account": (
        "enable_account_bad_token",
        "enable_account",
        "backend_list",
        "backends_input_allowed",
        "status",
        "properties",
        "properties_datetime",
        "defaults",
        "job_limit",
        "reservations",
        "least_busy",
        "load_account_from_environment",
    ),
    "run": (
        "enable_account",
        "transpile_assemble",
        "run",
        "wait_for_final_state_websocket",
        "result_counts",
        "retrieve_job",
        "update_name",
        "update_tags",
        "wait_by_polling",
        "experiment_id",
        "memory_and_experiments",
        "failed_job",
    ),
    "listing": (
        "make_jobs",
        "pagination_small_pages",
        "pagination_ascending",
        "pagination_server_pages",
        "pagination_skip",
        "job_ids",
        "filter_status",
        "filter_name",
        "filter_tags",
        "filter_dates",
        "filter_backend",
        "filter_db_filter",
        "filter_db_filter_summary",
        "refresh",
    ),
    "cancel_limit": (
        "idle_backend",
        "queued_jobs",
        "job_limit_reached",
        "error_3458_job_limit",
        "cancel_queued_job",
        "limit_freed",
    ),
    "job_manager": (
        "manager_run",
        "manager_results",
        "manager_job_attributes",
        "retrieve_job_set",
        "manager_waits_on_job_limit",
    ),
}

pytestmark = [
    pytest.mark.compat,
    # The first test builds the compat environment when it is not cached (pip install).
    pytest.mark.timeout(1200),
]


@pytest.mark.parametrize(
    ("scenario", "check"),
    [(scenario, check) for scenario, checks in CHECKS.items() for check in checks],
    ids=[f"{scenario}:{check}" for scenario, checks in CHECKS.items() for check in checks],
)
def test_check(scenario: str, check: str, run_scenario: Callable[[str], ScenarioRun]) -> None:
    assert_check(run_scenario(scenario), scenario, check, "the original client")


@pytest.mark.parametrize("scenario", list(CHECKS))
def test_scenario_completed(scenario: str, run_scenario: Callable[[str], ScenarioRun]) -> None:
    """The script ran to its end, exited 0 and reported exactly the listed checks."""
    assert_completed(run_scenario(scenario), CHECKS[scenario])


def test_service_log_has_no_errors(
    run_scenario: Callable[[str], ScenarioRun], compat_service: CompatService
) -> None:
    """No request made the service crash (runs after every scenario of this module)."""
    for scenario in CHECKS:
        run_scenario(scenario)
    assert_log_clean(compat_service.process, compat_service.log_text())
