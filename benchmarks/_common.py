"""What the benchmark scripts share: the machine description, the local service run as a
subprocess, worker subprocesses that answer with JSON, percentiles and charts.

Nothing here is timed itself. Every script prints one JSON document on stdout (progress
goes to stderr) and can draw a PNG with ``--chart``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
"""Scratch output (ignored by git)."""

SIMULATOR = "ibmq_qasm_simulator"
TOKEN = "benchmark-api-token-0123456789abcdef"
PROJECT = ("ibm-q", "open", "main")
SERVICE_START_TIMEOUT = 90.0


def log(message: str) -> None:
    """Progress for the person running the script (stderr; stdout is the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def versions(*names: str) -> dict[str, str | None]:
    """Installed versions of distributions (``None`` when absent)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy it was when the script started."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is in the dev extra
        pass
    info["versions"] = versions(
        "ibmq-async",
        "httpx",
        "httpcore",
        "httpx-ws",
        "aiohttp",
        "httpx-aiohttp",
        "pydantic",
        "anyio",
        "tenacity",
        "qiskit",
        "qiskit-aer",
    )
    return info


def emit(document: dict[str, Any]) -> None:
    """Print the script's JSON document on stdout."""
    print(json.dumps(document, indent=1, default=str))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of child processes: no venv or Qiskit settings leaking in, and the
    loopback service never reached through a configured proxy."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
        and not key.startswith(("QE_", "QISKIT_"))
    }
    env["PYTHONNOUSERSITE"] = "1"
    loopback = "127.0.0.1,localhost,::1"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), loopback]))
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the local service as a subprocess ----------------------------------------------------


def service_toml(*, workers: int = 8, paused: bool = False, queue_delay: float = 0.0) -> str:
    """One user and the simulator: no job limit, ``workers`` jobs run at a time."""
    return f"""\
# Written by benchmarks/_common.py.
[[users]]
token = "{TOKEN}"
projects = ["{"/".join(PROJECT)}"]
id = "benchmark-user"

[[backends]]
name = "{SIMULATOR}"
device = "simulator"
max_jobs = -1
workers = {workers}
paused = {"true" if paused else "false"}
queue_delay = {queue_delay}
"""


@dataclass
class Service:
    """A running ``ibmq-async serve``."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    workdir: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the service process has used so far."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        import psutil

        return int(psutil.Process(self.process.pid).memory_info().rss)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200 and "api-auth" in json.load(response))
    except (OSError, ValueError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def local_service(toml: str | None = None) -> Iterator[Service]:
    """``ibmq-async serve`` on a free loopback port, in its own process, with a fresh
    database in a temporary directory; stopped (SIGINT) on exit."""
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
        workdir = Path(tmp)
        config = workdir / "service.toml"
        config.write_text(toml or service_toml(), encoding="utf-8")
        log_path = workdir / "service.log"
        port = free_port()
        command = [
            sys.executable, "-m", "ibmq_async.cli", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--config", str(config), "--db", str(workdir / "service.db"),
        ]  # fmt: skip
        with log_path.open("ab") as handle:
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=child_env(PYTHONPATH=str(REPO_ROOT)),
            )
        url = f"http://127.0.0.1:{port}/api"
        try:
            deadline = time.monotonic() + SERVICE_START_TIMEOUT
            while not _answers(f"{url}/version"):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                    raise RuntimeError(f"ibmq-async serve did not start:\n{tail}")
                time.sleep(0.1)
            yield Service(url, TOKEN, process, workdir)
        finally:
            _stop(process)


# --- workers ------------------------------------------------------------------------------


@dataclass
class WorkerRun:
    """What a worker subprocess reported (its last stdout line that is a JSON object)."""

    report: dict[str, Any]
    returncode: int | None
    wall_seconds: float
    stderr: str


def run_worker(
    command: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> WorkerRun:
    """Run a worker that prints a JSON object as its last stdout line; kill it after
    ``timeout`` seconds (the report is then whatever it printed, usually nothing)."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env or child_env(PYTHONPATH=str(REPO_ROOT)),
        cwd=REPO_ROOT,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    wall = time.monotonic() - started
    report: dict[str, Any] = {}
    for line in reversed(out.decode(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                report = json.loads(line)
                break
    return WorkerRun(report, process.returncode, wall, err.decode(errors="replace")[-4000:])


def client_usage() -> dict[str, float]:
    """CPU seconds and peak RSS of the calling process so far (for worker reports)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_bytes": usage.ru_maxrss * 1024,
    }


# --- charts -------------------------------------------------------------------------------


def save_chart(figure: Any, path: str | Path) -> str:
    """Write a matplotlib figure as a PNG (small: 100 dpi) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    log(f"chart written to {path}")
    return str(path)


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
