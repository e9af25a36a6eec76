"""The service's logging: embedded, it leaves the host's loggers as it found them; as
``ibmq-async serve``, one access line per REST request and websocket lines only at DEBUG."""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from ibmq_async import IBMQFactory
from ibmq_async.local import LocalService, LocalServiceConfig, UserConfig, create_app

REPO = Path(__file__).resolve().parents[2]
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nx q[0];\nmeasure q -> c;\n'


def _state(name: str) -> tuple[Any, ...]:
    logger = logging.getLogger(name)
    return (
        logger.level,
        tuple(logger.handlers),
        logger.propagate,
        logger.disabled,
        tuple(logger.filters),
    )


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def host_uvicorn_logging() -> Iterator[Capture]:
    """The process's logging configured as a uvicorn host does, restored afterwards."""
    saved = {name: _state(name) for name in LOGGERS}
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    capture = Capture()
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addHandler(capture)
    yield capture
    for name, (level, handlers, propagate, disabled, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers = list(handlers)
        logger.propagate = propagate
        logger.disabled = disabled
        logger.filters = list(filters)


def test_an_embedded_service_leaves_the_hosts_loggers_as_it_found_them(
    host_uvicorn_logging: Capture,
) -> None:
    before = {name: _state(name) for name in LOGGERS}
    with LocalService(LocalServiceConfig(users=[UserConfig(token="embedded")])) as service:
        for name in LOGGERS:  # levels and handlers untouched while it runs
            assert _state(name)[:4] == before[name][:4], name
        logging.getLogger("uvicorn.error").info("the host's own line")

        async def use_it() -> None:
            provider = await IBMQFactory().enable_account(service.token, url=service.url)
            assert provider is not None
            async with provider:
                backend = provider.get_backend("ibmq_qasm_simulator")
                from qiskit import qasm2

                job = await backend.run(qasm2.loads(BELL), shots=5)
                await job.wait_for_final_state(timeout=60)  # a status websocket

        anyio.run(use_it)
    assert {name: _state(name) for name in LOGGERS} == before
    messages = [record.getMessage() for record in host_uvicorn_logging.records]
    assert messages == ["the host's own line"], messages  # none of the embedded server's


def test_the_embedded_servers_warnings_go_to_the_services_logger(
    host_uvicorn_logging: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ibmq_async.local.server")
    with LocalService(LocalServiceConfig(users=[UserConfig(token="t")]), log_level="info"):
        pass
    diverted = [r.getMessage() for r in caplog.records if r.name == "ibmq_async.local.server"]
    assert "Application startup complete." in diverted, diverted
    assert not host_uvicorn_logging.records


@pytest.mark.asyncio
async def test_each_rest_request_gets_one_access_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ibmq_async.local.access")
    app = create_app(LocalServiceConfig(users=[UserConfig(token="t")]))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://local"
        ) as client:
            assert (await client.get("/api/version")).status_code == 200
            assert (await client.get("/api/Network")).status_code == 401
            assert (await client.get("/api/nowhere?secret=1")).status_code == 404
    finally:
        app.state.engine.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "ibmq_async.local.access"]
    assert len(lines) == 3, lines
    for line, expected in zip(
        lines,
        ("GET /api/version 200 ", "GET /api/Network 401 ", "GET /api/nowhere 404 "),
        strict=False,
    ):
        assert line.startswith(expected), line
        assert line.endswith(" ms")
    assert "secret" not in " ".join(lines)  # no query strings: they carry signatures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Output:
    """The lines a subprocess writes to one stream, read in a thread."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen in:\n" + "\n".join(self.lines[-40:]))


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_the_async_service_example_keeps_its_uvicorn_logs_and_refuses_bad_shots() -> None:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("QE_TOKEN", "QE_URL")}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "async_service.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**environment, "PORT": str(port)},
    )
    assert process.stdout is not None
    output = Output(process.stdout)
    try:
        output.wait_for(f"Uvicorn running on http://127.0.0.1:{port}")
        base = f"http://127.0.0.1:{port}"
        bad = httpx.get(f"{base}/bell", params={"shots": "abc"}, timeout=30)
        assert bad.status_code == 400
        assert bad.json() == {"error": "shots must be an integer from 1 to 8192, got 'abc'"}
        assert httpx.get(f"{base}/bell", params={"shots": "0"}, timeout=30).status_code == 400
        good = httpx.get(f"{base}/bell", params={"shots": "16"}, timeout=60)
        assert good.status_code == 200
        assert sum(good.json()["counts"].values()) == 16
        output.wait_for('"GET /bell?shots=16 HTTP/1.1" 200')  # the host's access log
        output.wait_for('"GET /bell?shots=abc HTTP/1.1" 400')
    finally:
        _stop(process)
    text = "\n".join(output.lines)
    assert "Traceback" not in text
    assert text.count("Uvicorn running on") == 1  # the embedded server's line is not there


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Output, str, str]:
    command = [sys.executable, "-m", "ibmq_async.cli", "serve", "--port", "0"]
    command += ["--db", str(tmp_path / "serve.db"), *extra]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        url = process.stdout.readline().split(" on ")[1].strip()
        process.stdout.readline()
        process.stdout.readline()
        token = process.stdout.readline().split(":", 1)[1].strip()
        errors = Output(process.stderr)
        errors.wait_for("Application startup complete")
    except BaseException:
        _stop(process)
        raise
    return process, errors, url, token


async def _run_one_job(url: str, token: str) -> None:
    from qiskit import qasm2

    provider = await IBMQFactory().enable_account(token, url=url)
    assert provider is not None
    async with provider:
        job = await provider.get_backend("ibmq_qasm_simulator").run(qasm2.loads(BELL), shots=5)
        await job.wait_for_final_state(timeout=60)  # over the status websocket
        await job.result()


@pytest.mark.parametrize("level", ["info", "debug"])
def test_serve_logs_one_line_per_rest_request_and_websockets_at_debug(
    tmp_path: Path, level: str
) -> None:
    process, errors, url, token = _serve(tmp_path, "--log-level", level)
    try:
        anyio.run(_run_one_job, url, token)
        errors.wait_for("resultDownloaded 200")
    finally:
        _stop(process)
    access = [line for line in errors.lines if "ibmq_async.local.access" in line]
    rest = [line for line in access if "WebSocket" not in line]
    assert any(" INFO    ibmq_async.local.access: POST /api/users/loginWithToken 200 " in line
               for line in rest), rest  # fmt: skip
    assert all(line.endswith(" ms") for line in rest)
    jobs = [line for line in rest if "/Jobs" in line and " POST " in line]
    assert jobs, rest
    assert not [line for line in errors.lines if "connection open" in line]
    assert not [line for line in errors.lines if "[accepted]" in line]
    websocket = [line for line in access if "WebSocket" in line]
    if level == "info":
        assert websocket == []
    else:
        assert any("WebSocket /api/ws/jobs/" in line and " open" in line for line in websocket)
        assert any(" closed " in line for line in websocket), websocket
        assert all(" DEBUG " in line for line in websocket)


def test_serve_refuses_an_unknown_log_level(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ibmq_async.cli", "serve", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 2
    assert "--log-level" in completed.stderr
    assert "Traceback" not in completed.stderr
