"""``ibmq-async serve``: the command starts the service and prints what to connect with."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ibmq_async.cli import build_parser, main


def test_the_serve_arguments() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.config, args.db) == ("127.0.0.1", 8080, None, None)
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9", "--config", "c.toml", "--db", "x.db"]
    )
    assert (args.host, args.port, args.config, args.db) == (
        "0.0.0.0",
        9,
        Path("c.toml"),
        Path("x.db"),
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_a_bad_configuration_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[backends]]\nname = 'x'\ndevice = 'nowhere'\nworkers = 0\n")
    assert main(["serve", "--config", str(path)]) == 2
    assert "bad configuration" in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "missing.toml")]) == 2


def test_serve_prints_the_url_and_a_token_and_serves(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ibmq_async.cli", "serve", "--port", "0"]
    command += ["--db", str(tmp_path / "cli.db")]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[0].split(" on ")[1].strip()
        token = lines[3].split(":", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/api")
        for _ in range(100):  # the socket is bound; uvicorn starts answering shortly
            try:
                login = httpx.post(url + "/users/loginWithToken", json={"apiToken": token})
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert login.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "cli.db").exists()
