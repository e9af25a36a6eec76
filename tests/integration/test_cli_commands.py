"""The ``ibmq-async`` command as a user runs it: every expected failure is one line on
stderr and a non-zero status (a traceback only with ``--debug``), ``backends`` and ``jobs``
look before submitting, and Ctrl-C during ``batch`` says how to resume. Each case runs the
command as a subprocess."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ibmq_async import __version__
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

TOKEN = "cli-token"
HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
# A finder that makes a package look uninstalled, put first on sys.meta_path.
BLOCKER = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocked())
"""
BLOCK = BLOCKER + "from ibmq_async.cli import main\nsys.exit(main({argv!r}))\n"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[UserConfig(token=TOKEN)],
        backends=[
            BackendConfig(name="ibmq_qasm_simulator", device="simulator", workers=2),
            BackendConfig(name="ibmq_vigo", device="vigo", max_jobs=3),
            BackendConfig(name="ibmq_lima", device="lima", max_jobs=2, paused=True),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with no account."""
    return no_account(tmp_path)


def no_account(tmp_path: Path) -> dict[str, str]:
    """An environment with no account: no QE_*/QISKIT_IBM_* variables, no saved account
    (of this SDK or of qiskit-ibm-runtime)."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("QE_", "QISKIT_IBM_", "IAM_URL"))
    }
    environment["HOME"] = str(tmp_path)
    environment["IBMQ_ASYNC_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials.json")
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def qasm(tmp_path: Path, name: str, qubits: int = 2, body: str = "x q[0];\n") -> Path:
    path = tmp_path / f"{name}.qasm"
    path.write_text(
        f"{HEADER}qreg q[{qubits}];\ncreg c[{qubits}];\n{body}measure q -> c;\n", encoding="utf-8"
    )
    return path


def cli(
    *argv: str | Path, env: dict[str, str], timeout: float = 120, python: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", python] if python else [sys.executable, "-m", "ibmq_async.cli"]
    return subprocess.run(
        [*command, *map(str, argv)] if not python else command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def assert_one_line(completed: subprocess.CompletedProcess[str], *fragments: str) -> str:
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert completed.returncode != 0, completed
    assert "Traceback" not in completed.stderr, completed.stderr
    assert len(lines) == 1, completed.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _account(service: LocalService, token: str = TOKEN) -> list[str]:
    return ["--url", service.url, "--token", token]


# --- expected failures: one line --------------------------------------------------------------


def test_a_wrong_token_is_one_line_that_names_the_token_and_the_service(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    file = qasm(tmp_path, "one")
    args = ["batch", file, "--backend", "ibmq_qasm_simulator", *_account(service, "wrong")]
    line = assert_one_line(cli(*args, env=home), "token from --token", "refused", service.url)
    assert line.startswith("ibmq-async batch: ")
    assert "wrong" not in line  # the token is not printed
    debug = cli(*args, "--debug", env=home)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "ApiAuthenticationError" in debug.stderr


def test_a_wrong_token_from_the_environment_says_qe_token(
    service: LocalService, home: dict[str, str]
) -> None:
    environment = {**home, "QE_TOKEN": "wrong", "QE_URL": service.url}
    assert_one_line(cli("backends", env=environment), "token from QE_TOKEN", "refused")


def test_an_unreachable_url_is_one_line(tmp_path: Path, home: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    assert_one_line(
        cli("jobs", "--url", url, "--token", "x", env=home, timeout=180),
        f"cannot reach {url}",
        "check the URL (from --url)",
    )


def test_an_unknown_job_set_is_one_line(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    file = qasm(tmp_path, "one")
    args = ["batch", file, "--backend", "ibmq_qasm_simulator", "--job-set-id", "nope"]
    assert_one_line(cli(*args, *_account(service), env=home), "no job set 'nope'", "check the id")


def test_a_circuit_wider_than_the_backend_is_one_line(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    wide = qasm(tmp_path, "wide", qubits=6)
    completed = cli("batch", wide, "--backend", "ibmq_vigo", *_account(service), env=home)
    assert_one_line(completed, f"{wide} uses 6 qubits but ibmq_vigo has 5", "ibmq-async backends")


def test_qiskit_missing_is_one_line_naming_the_extra(tmp_path: Path, home: dict[str, str]) -> None:
    file = qasm(tmp_path, "one")
    program = BLOCK.format(module="qiskit", argv=["batch", str(file), "--backend", "x", "--local"])
    assert_one_line(
        cli(env=home, python=program), "qiskit is not installed", "pip install 'ibmq-async[qiskit]'"
    )


def test_serve_without_the_local_extra_is_one_line(home: dict[str, str]) -> None:
    program = BLOCK.format(module="starlette", argv=["serve", "--port", "0"])
    assert_one_line(cli(env=home, python=program), "pip install 'ibmq-async[local]'", "starlette")


def test_importing_the_local_service_without_the_extra_names_the_extra() -> None:
    program = BLOCKER.format(module="starlette") + "from ibmq_async.local import serve\n"
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 1
    last = completed.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: ibmq_async.local needs the 'local' extra (starlette is not "
        "installed): pip install 'ibmq-async[local]'"
    )


def test_serve_with_an_unknown_device_is_one_line(tmp_path: Path, home: dict[str, str]) -> None:
    config = tmp_path / "service.toml"
    config.write_text('[[backends]]\nname = "ibmq_vigo"\ndevice = "vigoo"\n', encoding="utf-8")
    completed = cli("serve", "--port", "0", "--config", config, "--db", tmp_path / "x.db", env=home)
    assert completed.returncode == 2
    assert_one_line(completed, "bad configuration", "unknown device 'vigoo'", "bundled: vigo, lima")


def test_serve_with_a_missing_configuration_file_is_one_line(
    tmp_path: Path, home: dict[str, str]
) -> None:
    missing = tmp_path / "nothere.toml"
    assert_one_line(cli("serve", "--config", missing, env=home), f"{missing}: no such file")


def test_the_small_ones(service: LocalService, tmp_path: Path, home: dict[str, str]) -> None:
    version = cli("--version", env=home)
    assert (version.returncode, version.stdout.strip()) == (0, f"ibmq-async {__version__}")
    file = qasm(tmp_path, "one")
    shots = cli("batch", file, "--backend", "b", "--shots", "abc", env=home)
    assert shots.returncode == 2
    assert "argument --shots: must be a positive integer, got 'abc'" in shots.stderr
    assert "_positive" not in shots.stderr
    missing = cli("batch", "nothere.qasm", "--backend", "ibmq_qasm_simulator", env=home)
    assert missing.returncode == 2
    assert_one_line(missing, "nothere.qasm: no such file")
    unknown = cli("batch", file, "--backend", "ibmq_nope", *_account(service), env=home)
    assert_one_line(unknown, "no backend matches name='ibmq_nope'; available: ibmq_lima,")
    both = cli("jobs", "--url", service.url, env=home)
    assert_one_line(both, "give both --url and --token")


# --- looking before submitting ----------------------------------------------------------------


def test_backends_lists_name_qubits_status_pending_and_job_limit(
    service: LocalService, home: dict[str, str]
) -> None:
    table = cli("backends", *_account(service), env=home)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["BACKEND", "QUBITS", "STATUS", "PENDING", "JOBS/LIMIT"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["ibmq_vigo"][1:3] == ["5", "active"]
    assert rows["ibmq_vigo"][4] == "0/3"
    assert rows["ibmq_qasm_simulator"][4] == "none"
    listed = json.loads(cli("backends", "--json", *_account(service), env=home).stdout)
    by_name = {entry["name"]: entry for entry in listed}
    assert set(by_name) == {"ibmq_qasm_simulator", "ibmq_vigo", "ibmq_lima"}
    assert by_name["ibmq_lima"] | {"pending_jobs": 0} == {
        "name": "ibmq_lima",
        "qubits": 5,
        "simulator": False,
        "operational": True,
        "status": "active",
        "pending_jobs": 0,
        "job_limit": 2,
        "active_jobs": 0,
    }


def test_jobs_lists_recent_jobs_after_a_batch(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    files = [qasm(tmp_path, f"j{index}") for index in range(3)]
    batch = cli(
        "batch", *files, "--backend", "ibmq_qasm_simulator", "--max-per-job", "1",
        "--name", "looked", "--no-progress", *_account(service), env=home,
    )  # fmt: skip
    assert batch.returncode == 0, batch.stderr
    listed = json.loads(cli("jobs", "--json", "--limit", "3", *_account(service), env=home).stdout)
    assert len(listed) == 3
    assert {entry["name"] for entry in listed} == {f"looked_{index}_" for index in range(3)}
    for entry in listed:
        assert set(entry) == {"id", "backend", "status", "name", "created"}
        assert entry["backend"] == "ibmq_qasm_simulator"
        assert entry["status"] == "DONE"
        assert entry["created"].endswith("Z")
    table = cli("jobs", "--limit", "2", "--backend", "ibmq_qasm_simulator", *_account(service),
                env=home)  # fmt: skip
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["JOB", "BACKEND", "STATUS", "NAME", "CREATED", "(UTC)"]
    assert len(lines) == 3
    assert lines[1].split()[0] == listed[0]["id"]
    nope = cli("jobs", "--backend", "ibmq_nope", *_account(service), env=home)
    assert_one_line(nope, "no backend matches name='ibmq_nope'")


def test_backends_and_jobs_run_on_the_embedded_service_without_an_account(
    tmp_path: Path, home: dict[str, str]
) -> None:
    listed = cli("backends", "--json", env=home)
    assert listed.returncode == 0, listed.stderr
    assert "embedded local service" in listed.stderr
    assert {"ibmq_vigo", "ibmq_qasm_simulator"} <= {e["name"] for e in json.loads(listed.stdout)}
    db = tmp_path / "kept.db"
    file = qasm(tmp_path, "kept")
    ran = cli("batch", file, "--backend", "ibmq_qasm_simulator", "--db", db, "--no-progress",
              env=home)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    kept = json.loads(cli("jobs", "--json", "--db", db, env=home).stdout)
    assert [entry["status"] for entry in kept] == ["DONE"]


# --- Ctrl-C -------------------------------------------------------------------------------------


class Lines:
    """The lines of a subprocess stream, read in a thread."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, process: subprocess.Popen[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if process.poll() is not None:
                time.sleep(0.2)
                break
            time.sleep(0.01)
        raise AssertionError(f"{text!r} not seen:\n" + "\n".join(self.lines[-30:]))


def _interrupt_after(command: list[str], marker: str, env: dict[str, str]) -> tuple[int, Lines]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stderr is not None
    Lines(process.stdout)
    errors = Lines(process.stderr)
    try:
        errors.wait_for(marker, process)
        process.send_signal(signal.SIGINT)
        status = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    time.sleep(0.2)  # the reader thread takes the last lines
    return status, errors


def test_ctrl_c_during_batch_prints_the_command_that_resumes_the_set(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    files = [qasm(tmp_path, f"r{index}") for index in range(4)]
    argv = ["batch", *map(str, files), "--backend", "ibmq_lima", "--max-per-job", "1",
            "--shots", "10", "--json", *_account(service)]  # fmt: skip
    created = service.stats.created(TOKEN)
    status, errors = _interrupt_after(
        [sys.executable, "-m", "ibmq_async.cli", *argv], "job set ", home
    )  # ibmq_lima is paused: its two jobs wait, the others wait for a slot
    assert status == 130
    text = "\n".join(errors.lines)
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    last = errors.lines[-1]
    assert "interrupted; job set " in last
    assert "(2 of 4 jobs submitted) is not finished; resume it with: ibmq-async batch " in last
    command = last.split("resume it with: ", 1)[1]
    set_id = command.rsplit("--job-set-id ", 1)[1]
    assert f"--token <token> --job-set-id {set_id}" in command
    assert TOKEN not in last
    service.resume_backend("ibmq_lima")
    try:
        words = [TOKEN if word == "<token>" else word for word in shlex.split(command)]
        assert words[0] == "ibmq-async"
        resumed = cli(*words[1:], env=home)
    finally:
        service.pause_backend("ibmq_lima")
    assert resumed.returncode == 0, resumed.stderr
    assert f"job set {set_id} (4 jobs)" in resumed.stderr
    counts = json.loads(resumed.stdout)
    assert all(counts[str(file)] == {"01": 10} for file in files)
    assert service.stats.created(TOKEN) - created == 4  # two before Ctrl-C, two after: none twice


def test_ctrl_c_on_the_embedded_service_says_the_set_cannot_be_resumed_and_what_to_do(
    tmp_path: Path, home: dict[str, str]
) -> None:
    files = [qasm(tmp_path, f"e{index}") for index in range(100)]
    command = [sys.executable, "-m", "ibmq_async.cli", "batch", *map(str, files),
               "--backend", "ibmq_vigo", "--max-per-job", "1", "--shots", "10"]  # fmt: skip
    status, errors = _interrupt_after(command, "job set ", home)
    assert status == 130
    text = "\n".join(errors.lines)
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    last = errors.lines[-1]
    assert "ran on the embedded local service, whose temporary database is gone" in last
    assert "cannot be resumed" in last
    assert "--db FILE" in last
    assert "ibmq-async serve" in last


def test_ctrl_c_during_the_batch_example_says_how_to_finish_the_set(
    tmp_path: Path, home: dict[str, str]
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "batch.py"
    process = subprocess.Popen(
        [sys.executable, str(example), "--circuits", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=home,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out = Lines(process.stdout)
    errors = Lines(process.stderr)
    try:
        out.wait_for("job set ", process)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    time.sleep(0.2)
    text = "\n".join(errors.lines)
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    set_id = out.lines[0].split()[2].rstrip(":")
    assert errors.lines[-1] == (
        f"interrupted: job set {set_id} is saved in batch-state.json; "
        f"'python {example} --circuits 200' finishes it"
    )
    assert json.loads((tmp_path / "batch-state.json").read_text()) == {"job_set_id": set_id}
    again = subprocess.run(
        [sys.executable, str(example), "--circuits", "200"],
        capture_output=True,
        text=True,
        env=home,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert f"job set {set_id}: 20 jobs" in again.stdout
    assert "all 200 circuits done: True" in again.stdout
