"""Helpers of the reliability tests: circuits whose results name their experiment, and the
local service run as a separate process (``ibmq-async serve``) that can be killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

SIMULATOR = "ibmq_qasm_simulator"
DEFAULT_HGP = ("ibm-q", "open", "main")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def encoded_circuit(index: int, width: int = 3) -> Any:
    """A circuit named ``c<index>`` that writes ``index mod 2**width`` to its classical bits.

    Its counts are all the one bitstring ``expected_bits(index)``, so a result that comes
    back for the wrong experiment is noticed.
    """
    from qiskit import QuantumCircuit

    value = index % (2**width)
    circuit = QuantumCircuit(width, width, name=f"c{index}")
    for qubit in range(width):
        if value >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(width), range(width))
    return circuit


def expected_bits(index: int, width: int = 3) -> str:
    """The only outcome of ``encoded_circuit(index, width)``, as Qiskit formats it."""
    return format(index % (2**width), f"0{width}b")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    path: Path,
    *,
    users: Iterable[dict[str, Any]],
    backends: Iterable[dict[str, Any]],
    **settings: Any,
) -> Path:
    """Write a service configuration TOML (``[[users]]``, ``[[backends]]``, settings)."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    for table, items in (("users", users), ("backends", backends)):
        for item in items:
            lines.append(f"\n[[{table}]]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in item.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ServiceProcess:
    """``python -m ibmq_async.cli serve`` on a fixed port and database, killable at will.

    Args:
        workdir: Where the configuration, database and logs go.
        config: The configuration TOML file.
        port: The port to serve on (the same one after every restart).
        host: The address to bind; ``None`` leaves ``--host`` out (the command's default).
    """

    def __init__(
        self,
        workdir: Path,
        config: Path,
        port: int | None = None,
        host: str | None = "127.0.0.1",
    ) -> None:
        self.workdir = workdir
        self.config = config
        self.db = workdir / "service.db"
        self.port = port or free_port()
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """The auth URL (``http://127.0.0.1:PORT/api``)."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        """Start serving; return once ``/api/health`` answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        log = self.workdir / f"serve-{self.starts}.log"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ibmq_async.cli",
                    "serve",
                    *(["--host", self.host] if self.host is not None else []),
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db),
                    "--config",
                    str(self.config),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited: {log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the service did not start: {log.read_text(errors='replace')}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the service (no shutdown of any kind) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the service gracefully (SIGINT, as Ctrl-C), killing it if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        """Everything the service printed, over every start."""
        return "\n".join(
            (self.workdir / f"serve-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
        )

    def job_rows(self) -> list[tuple[str, int, str, str]]:
        """``(id, seq, user_id, status)`` of every stored job, read from the database."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as db:
            rows = db.execute("SELECT id, seq, user_id, status FROM jobs ORDER BY seq").fetchall()
        return [(str(a), int(b), str(c), str(d)) for a, b, c, d in rows]
