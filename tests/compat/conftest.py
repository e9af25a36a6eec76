"""Fixtures of the compatibility tests (the machinery is in ``compat_env.py``).

* ``compat_python``: the python of the cached environment holding qiskit-ibmq-provider
  0.20.2 on qiskit-terra 0.46, built on first use.
* ``compat_service``: ``ibmq-async serve`` in a subprocess for the whole session.
* ``run_scenario``: ``run_scenario(name)`` runs ``scenarios/<name>.py`` in the compat
  environment against the service (once a session) and returns its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_env import (
    CompatService,
    ScenarioRunner,
    ensure_compat_venv,
    start_service,
    stop_service,
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
    return ScenarioRunner(compat_python, compat_service, tmp_path_factory.mktemp("compat-runs"))
