"""The machinery of the compatibility tests: the original client's environment, the
service, and the scenario runner (the fixtures in ``conftest.py`` wrap them).

* :func:`ensure_compat_venv`: the interpreter of a virtual environment holding the original client,
  qiskit-ibmq-provider 0.20.2 on qiskit-terra 0.46 (``requirements.txt`` beside this file,
  docs/protocol.md §9), built by ``venv_builder.py`` once per machine and per requirements
  under ``$IBMQ_ASYNC_COMPAT_VENV`` if set, else under
  ``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/compat-venv-<digest of the requirements>``. A
  missing package index fails the tests: compatibility must be proven, not skipped.
* :func:`start_service`: ``ibmq-async serve`` run as a subprocess of the project's
  environment on a free loopback port, with the configuration of :data:`SERVICE_CONFIG`
  and its own database; :func:`stop_service` stops it.
* :class:`ScenarioRunner`: runs ``scenarios/<name>.py`` with the compat interpreter against
  the service, once each, and returns its report.

``python tests/compat/compat_env.py`` builds (or finds) the environment and prints its path.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from venv_builder import VenvError, VenvSpec, clean_env, ensure_venv, tail

COMPAT_DIR = Path(__file__).resolve().parent
SCENARIOS_DIR = COMPAT_DIR / "scenarios"
REQUIREMENTS = COMPAT_DIR / "requirements.txt"
REPO_ROOT = COMPAT_DIR.parents[1]
DEVICES_DIR = REPO_ROOT / "ibmq_async" / "local" / "devices"

SERVICE_START_TIMEOUT = 60.0
SCENARIO_TIMEOUT = 240.0

TOKEN = "compat-api-token-0123456789abcdef"
PROJECT = "ibm-q/open/main"
SIMULATOR = "ibmq_qasm_simulator"
PULSE_BACKEND = "ibmq_lima"
"""Paused, with a limit of 2 unfinished jobs: jobs stay QUEUED, the 3rd gets error 3458."""
VIGO_MAX_JOBS = 5
LIMITED_MAX_JOBS = 2
PROPERTIES_HISTORY = 7


# The versions docs/protocol.md §9 needs; checked by importing them in the built environment
# (psutil and the JSON encoder for the benchmarks, which run the original client from it too).
_PROBE = """
import json, warnings
warnings.filterwarnings("ignore")
import pkg_resources, requests, websocket, qiskit, psutil
from qiskit import IBMQ
from qiskit.providers.ibmq import IBMQBackend
from qiskit.providers.ibmq.managed import IBMQJobManager
from qiskit.providers.ibmq.utils.json_encoder import IQXJsonEncoder
from importlib.metadata import version
names = ["qiskit-ibmq-provider", "qiskit-terra", "requests", "websocket-client",
         "websockets", "setuptools", "numpy"]
print(json.dumps({name: version(name) for name in names}))
"""


def _check_versions(versions: dict[str, str]) -> list[str]:
    problems = []

    def release(name: str) -> tuple[int, ...]:
        return tuple(int(part) for part in versions[name].split(".")[:2])

    if versions["qiskit-ibmq-provider"] != "0.20.2":
        problems.append(f"qiskit-ibmq-provider {versions['qiskit-ibmq-provider']} != 0.20.2")
    if release("qiskit-terra") != (0, 46):
        problems.append(f"qiskit-terra {versions['qiskit-terra']} is not 0.46.x")
    if release("requests") >= (2, 34):
        problems.append(f"requests {versions['requests']} >= 2.34 breaks result downloads")
    if release("websockets") >= (14,):
        problems.append(f"websockets {versions['websockets']} >= 14")
    return problems


SPEC = VenvSpec(
    name="compat-venv",
    requirements=REQUIREMENTS,
    env_var="IBMQ_ASYNC_COMPAT_VENV",
    probe=_PROBE,
    check=_check_versions,
    what="the original client (qiskit-ibmq-provider 0.20.2)",
)
"""The environment of the original client."""


def compat_venv_path() -> Path:
    """Where the compat environment is (or will be) built."""
    return SPEC.path()


def ensure_or_fail(spec: VenvSpec) -> Path:
    """The interpreter of the spec's environment (built if needed); the test fails (it is
    never skipped) when it cannot be built."""
    try:
        return ensure_venv(spec)
    except VenvError as error:
        pytest.fail(str(error), pytrace=False)


def ensure_compat_venv() -> Path:
    """Build the compat environment unless a complete one is there; return its python."""
    return ensure_or_fail(SPEC)


# --- the service --------------------------------------------------------------------------


def _reservation_window() -> tuple[datetime, datetime]:
    """A booking of ibmq_vigo two days ahead (so it never blocks the checks' jobs)."""
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(
        minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(hours=1)


def _toml_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_config(reservation: tuple[datetime, datetime]) -> str:
    """The TOML configuration of the service the scenarios talk to."""
    start, end = reservation
    return f"""\
# Written by tests/compat/conftest.py.
properties_history = {PROPERTIES_HISTORY}

[[users]]
token = "{TOKEN}"
projects = ["{PROJECT}"]
id = "compat-user"

# The device of the main checks. run_delay keeps each job RUNNING for a second, so the
# websocket has a status change to push before the final one.
[[backends]]
name = "ibmq_vigo"
device = "vigo"
max_jobs = {VIGO_MAX_JOBS}
workers = 1
run_delay = 1.0

[[backends]]
name = "{SIMULATOR}"
device = "simulator"
workers = 2

# Paused: its jobs stay QUEUED (cancel of a queued job), and with {LIMITED_MAX_JOBS} unfinished
# jobs the next creation fails with error 3458.
[[backends]]
name = "{PULSE_BACKEND}"
device = "lima"
max_jobs = {LIMITED_MAX_JOBS}
paused = true

[[reservations]]
backend = "ibmq_vigo"
start = {_toml_datetime(start)}
end = {_toml_datetime(end)}
project = "{PROJECT}"
mode = "dedicated"
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200 and "api-auth" in json.load(response))
    except (OSError, ValueError):
        return False


@dataclass
class CompatService:
    """A running ``ibmq-async serve`` subprocess."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path
    reservation: tuple[datetime, datetime]
    workdir: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def launch_service(
    workdir: Path, config_text: str, ready: Callable[[int], bool]
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``ibmq-async serve`` from the project's environment with a configuration of
    its own and a database in ``workdir``; wait until ``ready(port)`` holds.

    Returns:
        The process, its port and its log file.
    """
    config = workdir / "service.toml"
    config.write_text(config_text, encoding="utf-8")
    log = workdir / "service.log"
    attempts = []
    for _ in range(3):
        port = _free_port()
        command = [
            sys.executable, "-m", "ibmq_async.cli", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--config", str(config), "--db", str(workdir / "service.db"),
        ]  # fmt: skip
        with log.open("ab") as handle:
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=clean_env(PYTHONPATH=str(REPO_ROOT)),
            )
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if ready(port):
                return process, port, log
            time.sleep(0.1)
        stop_service(process)
        attempts.append(f"port {port}: exit status {process.returncode}")
    pytest.fail(
        f"ibmq-async serve did not start ({'; '.join(attempts)}); log {log}:\n{tail(log)}",
        pytrace=False,
    )


def start_service(workdir: Path) -> CompatService:
    """Start ``ibmq-async serve`` for the classic scenarios; wait until it answers."""
    reservation = _reservation_window()
    process, port, log = launch_service(
        workdir,
        service_config(reservation),
        lambda port: _answers(f"http://127.0.0.1:{port}/api/version"),
    )
    url = f"http://127.0.0.1:{port}/api"
    return CompatService(url, TOKEN, process, log, reservation, workdir)


# --- scenarios ----------------------------------------------------------------------------


def _vigo_snapshot_date() -> str:
    properties = json.loads((DEVICES_DIR / "vigo" / "props.json").read_text(encoding="utf-8"))
    text = str(properties["last_update_date"])
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()


def scenario_context(service: CompatService) -> dict[str, Any]:
    """What every scenario is told: where the service is and what it was configured with."""
    start, end = service.reservation
    return {
        "url": service.url,
        "token": service.token,
        "project": PROJECT,
        "backends": ["ibmq_vigo", SIMULATOR, PULSE_BACKEND],
        "simulator": SIMULATOR,
        "pulse_backend": PULSE_BACKEND,
        "limited_backend": PULSE_BACKEND,
        "limited_max_jobs": LIMITED_MAX_JOBS,
        "vigo": {
            "max_jobs": VIGO_MAX_JOBS,
            "last_update_date": _vigo_snapshot_date(),
            "properties_history": PROPERTIES_HISTORY,
        },
        "reservation": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "mode": "dedicated",
        },
    }


@dataclass
class ScenarioRun:
    """The outcome of one scenario script."""

    name: str
    returncode: int | None
    output: str
    report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        return {entry["name"]: entry for entry in self.report.get("checks", [])}

    def describe(self) -> str:
        return (
            f"scenario {self.name!r}: exit status {self.returncode}, "
            f"report complete: {self.report.get('complete', False)}, {self.seconds:.1f} s\n"
            f"--- output (last lines) ---\n" + "\n".join(self.output.splitlines()[-60:])
        )


# Per-scenario environment: the listing scenario runs in a time zone far from UTC so the
# client's local-to-UTC conversion of date filters is exercised.
SCENARIO_ENV: dict[str, dict[str, str]] = {
    "listing": {"TZ": "IST-5:30"},
}


class ScenarioRunner:
    """Runs ``scenarios/<name>.py`` with a compat python against a service, once each.

    Args:
        python: The interpreter of the client's environment.
        context: What every scenario is told (written to its context file).
        workdir: Where context files, reports and the scenarios' home go.
        env: Extra environment variables per scenario name (``"*"``: for all).
    """

    def __init__(
        self,
        python: Path,
        context: dict[str, Any],
        workdir: Path,
        env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.python = python
        self.context = context
        self.env = SCENARIO_ENV if env is None else env
        self.workdir = workdir
        self.home = workdir / "home"  # no ~/.qiskit of the user's in the way
        self.home.mkdir(exist_ok=True)
        self.runs: dict[str, ScenarioRun] = {}

    def __call__(self, name: str) -> ScenarioRun:
        if name not in self.runs:
            self.runs[name] = self._run(name)
        return self.runs[name]

    def _run(self, name: str) -> ScenarioRun:
        context = self.workdir / f"{name}.context.json"
        context.write_text(json.dumps(self.context, indent=1), "utf-8")
        report_path = self.workdir / f"{name}.report.json"
        extra = {**self.env.get("*", {}), **self.env.get(name, {})}
        env = clean_env(HOME=str(self.home), **extra)
        command = [str(self.python), str(SCENARIOS_DIR / f"{name}.py"), str(context),
                   str(report_path)]  # fmt: skip
        started = time.monotonic()
        returncode: int | None
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=SCENARIO_TIMEOUT,
                check=False,
                env=env,
                cwd=self.workdir,
            )
            returncode = completed.returncode
            output = completed.stdout + completed.stderr
        except subprocess.TimeoutExpired as error:
            returncode = None
            output = _text(error.stdout) + _text(error.stderr)
            output += f"\n(killed after {SCENARIO_TIMEOUT} s)"
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
        return ScenarioRun(name, returncode, output, report, time.monotonic() - started)


def assert_check(run: ScenarioRun, scenario: str, check: str, client: str) -> None:
    """Fail the test unless the scenario reported the check as passed (with what the
    client saw, and its traceback, when not)."""
    entry = run.checks.get(check)
    if entry is None:
        pytest.fail(f"check {check!r} was not reported.\n{run.describe()}", pytrace=False)
    if not entry["ok"]:
        message = f"{scenario}:{check} failed: {entry['detail']}"
        if entry.get("traceback"):
            message += f"\n--- traceback in {client} ---\n{entry['traceback']}"
        pytest.fail(message, pytrace=False)


def assert_completed(run: ScenarioRun, checks: tuple[str, ...]) -> None:
    """The script ran to its end, exited 0 and reported exactly ``checks``."""
    assert run.returncode == 0, run.describe()
    assert run.report.get("complete"), run.describe()
    reported = [entry["name"] for entry in run.report["checks"]]
    assert reported == list(checks), f"reported checks differ: {reported}"


def assert_log_clean(process: subprocess.Popen[bytes], text: str) -> None:
    """The service still runs and logged no crash."""
    assert process.poll() is None, f"the service exited:\n{text[-5000:]}"
    for marker in ("Traceback (most recent call last)", "Exception in ASGI application"):
        assert marker not in text, f"the service logged an error:\n{text[-5000:]}"


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


if __name__ == "__main__":
    print(ensure_compat_venv())
