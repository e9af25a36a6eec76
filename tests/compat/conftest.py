"""Fixtures of the compatibility tests (the machinery is in ``compat_env.py``).

* ``compat_python``: the python of the cached environment holding qiskit-ibmq-provider
  0.20.2 on qiskit-terra 0.46, built on first use.
* ``compat_service``: ``ibmq-async serve`` in a subprocess for the whole session.
* ``run_scenario``: ``run_scenario(name)`` runs ``scenarios/<name>.py`` in the compat
  environment against the service (once a session) and returns its report.
* ``runtime_python``, ``runtime_service``, ``run_runtime_scenario``: the same for
  qiskit-ibm-runtime 0.51 and the platform API (``runtime_env.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_env import (
    CompatService,
    ScenarioRunner,
    ensure_compat_venv,
    scenario_context,
    start_service,
    stop_service,
)
from runtime_env import (
    RuntimeService,
    ensure_runtime_venv,
    runtime_context,
    runtime_environment,
    start_runtime_service,
)


@pytest.fixture(scope="session")
def compat_python() -> Path:
    """The python of the environment holding the original client."""
    return ensure_compat_venv()


@pytest.fixture(scope="session")
def compat_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompatService]:
    """``ibmq-async serve`` in a subprocess, for the whole session."""
    service = start_service(tmp_path_factory.mktemp("compat-service"))
    try:
        yield service
    finally:
        stop_service(service.process)


@pytest.fixture(scope="session")
def run_scenario(
    compat_python: Path,
    compat_service: CompatService,
    tmp_path_factory: pytest.TempPathFactory,
) -> ScenarioRunner:
    """Runs a scenario once and returns its :class:`compat_env.ScenarioRun`."""
    return ScenarioRunner(
        compat_python, scenario_context(compat_service), tmp_path_factory.mktemp("compat-runs")
    )


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    """The python of the environment holding qiskit-ibm-runtime 0.51.0."""
    return ensure_runtime_venv()


@pytest.fixture(scope="session")
def runtime_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeService]:
    """``ibmq-async serve`` for the runtime scenarios, for the whole session."""
    service = start_runtime_service(tmp_path_factory.mktemp("runtime-service"))
    try:
        yield service
    finally:
        stop_service(service.process)


@pytest.fixture(scope="session")
def run_runtime_scenario(
    runtime_python: Path,
    runtime_service: RuntimeService,
    tmp_path_factory: pytest.TempPathFactory,
) -> ScenarioRunner:
    """Runs a runtime scenario once and returns its :class:`compat_env.ScenarioRun`."""
    return ScenarioRunner(
        runtime_python,
        runtime_context(runtime_service),
        tmp_path_factory.mktemp("runtime-runs"),
        runtime_environment(runtime_service),
    )
