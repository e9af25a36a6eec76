"""``ibmq-async batch`` on IBM Quantum Platform: OpenQASM 2 files in, counts out, through the
job manager under the service's job creation rate; Ctrl-C says how to resume and the
resumed command finishes the set with no job made twice; the embedded service's platform
API keeps its jobs with ``--db``; a set that would exceed the instance's usage prints what
ran and what is left. Each case runs the command as a subprocess."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_channel import (
    API_KEY,
    INSTANCE,
    PAUSED,
    SIMULATOR,
    SLOW,
    SPENT_INSTANCE,
    channel_config,
)
from test_cli_commands import _interrupt_after, cli, no_account, qasm

from ibmq_async.local import LocalService
from ibmq_async.local.config import InstanceConfig

PLATFORM = "ibm_quantum_platform"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    """The platform user may create 2 jobs per 2 s (IBM's 5 a minute, on a faster clock)."""
    config = channel_config(rate_window_seconds=2.0)
    config.users[0].jobs_per_minute = 2
    with LocalService(config) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """No account but the API key in QISKIT_IBM_TOKEN."""
    return {**no_account(tmp_path), "QISKIT_IBM_TOKEN": API_KEY}


def options(service: LocalService) -> list[str]:
    return ["--channel", PLATFORM, "--instance", INSTANCE, "--url", service.url,
            "--iam-url", service.root]  # fmt: skip


def made_on(service: LocalService, backend: str) -> list[Any]:
    """The platform jobs the service made on a backend (none is deleted by these tests)."""
    return [job for job in service.engine.platform.jobs.values() if job.backend == backend]


def files(tmp_path: Path, prefix: str, count: int) -> list[Path]:
    """OpenQASM 2 files whose counts tell them apart: file i flips qubit i % 2."""
    return [
        qasm(tmp_path, f"{prefix}{index}", body=f"x q[{index % 2}];\n") for index in range(count)
    ]


def expected(index: int, shots: int) -> dict[str, int]:
    return {"01" if index % 2 == 0 else "10": shots}


def test_batch_on_the_platform_runs_every_file_under_the_creation_rate(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    circuits = files(tmp_path, "rate", 5)
    before = len(made_on(service, SIMULATOR))
    completed = cli(
        "batch", *circuits, "--backend", SIMULATOR, "--max-per-job", "1", "--shots", "20",
        "--name", "paced", "--json", "--no-progress", *options(service), env=home,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    counts = json.loads(completed.stdout)
    assert counts == {str(path): expected(i, 20) for i, path in enumerate(circuits)}
    assert len(made_on(service, SIMULATOR)) - before == 5  # one job per file, none twice
    listed = json.loads(cli("jobs", "--json", "--limit", "5", *options(service), env=home).stdout)
    assert sorted(entry["name"] for entry in listed) == [f"paced_{i}_" for i in range(5)]
    assert {entry["status"] for entry in listed} == {"DONE"}


def test_ctrl_c_during_a_platform_batch_prints_the_command_that_finishes_the_set(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    circuits = files(tmp_path, "stop", 4)
    argv = ["batch", *map(str, circuits), "--backend", PAUSED, "--max-per-job", "1",
            "--shots", "10", "--json", *options(service)]  # fmt: skip
    status, errors = _interrupt_after(
        [sys.executable, "-m", "ibmq_async.cli", *argv], "job set ", home
    )  # the backend is paused: the set's jobs wait
    assert status == 130
    text = "\n".join(errors.lines)
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    last = errors.lines[-1]
    assert "is not finished; resume it with: ibmq-async batch " in last
    assert API_KEY not in last
    command = last.split("resume it with: ", 1)[1]
    set_id = command.rsplit("--job-set-id ", 1)[1]
    made = len(made_on(service, PAUSED))
    assert 0 < made <= 4
    service.resume_backend(PAUSED)
    try:
        words = shlex.split(command)
        assert words[0] == "ibmq-async"
        resumed = cli(*words[1:], env=home)
    finally:
        service.pause_backend(PAUSED)
    assert resumed.returncode == 0, resumed.stderr
    assert f"job set {set_id} (4 jobs)" in resumed.stderr
    counts = json.loads(resumed.stdout)
    assert counts == {str(path): expected(i, 10) for i, path in enumerate(circuits)}
    assert len(made_on(service, PAUSED)) == 4  # what was made before Ctrl-C, not made again


def test_the_embedded_platform_service_keeps_a_batch_for_jobs_with_db(
    tmp_path: Path,
) -> None:
    environment = no_account(tmp_path)
    db = tmp_path / "platform.db"
    circuits = files(tmp_path, "kept", 2)
    ran = cli("batch", *circuits, "--backend", "ibmq_vigo", "--channel", PLATFORM, "--db", db,
              "--shots", "30", "--max-per-job", "1", "--no-progress", env=environment)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "embedded local service (IBM Quantum Platform API) (database " in ran.stderr
    assert ran.stdout.splitlines() == [
        f"{path}: {json.dumps(expected(i, 30))}" for i, path in enumerate(circuits)
    ]
    kept = cli("jobs", "--json", "--channel", PLATFORM, "--db", db, env=environment)
    assert kept.returncode == 0, kept.stderr
    entries = json.loads(kept.stdout)
    assert [entry["status"] for entry in entries] == ["DONE", "DONE"]
    assert {entry["backend"] for entry in entries} == {"ibmq_vigo"}


def test_a_batch_that_would_exceed_the_usage_prints_what_ran_and_what_is_left(
    tmp_path: Path, home: dict[str, str]
) -> None:
    config = channel_config()
    metered = InstanceConfig(crn=SPENT_INSTANCE, name="metered", allocation_seconds=2.5)
    config = config.model_copy(
        update={"instances": [i for i in config.instances if i.crn != SPENT_INSTANCE] + [metered]}
    )  # each job of 100 shots on SLOW costs 1 s: two fit, the third would not
    circuits = files(tmp_path, "usage", 3)
    with LocalService(config) as metered_service:
        argv = ["--channel", PLATFORM, "--instance", SPENT_INSTANCE, "--url", metered_service.url,
                "--iam-url", metered_service.root]  # fmt: skip
        completed = cli("batch", *circuits, "--backend", SLOW, "--shots", "100",
                        "--max-per-job", "1", "--no-progress", *argv, env=home)  # fmt: skip
        made = len(made_on(metered_service, SLOW))
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout.splitlines() == [
        f"{circuits[0]}: {json.dumps(expected(0, 100))}",
        f"{circuits[1]}: {json.dumps(expected(1, 100))}",
        f"{circuits[2]}: failed",
    ]
    assert "would exceed the instance's usage limit" in completed.stderr
    assert "of its 2.5 s left" in completed.stderr
    assert made == 2
