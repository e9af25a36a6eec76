"""``ibmq-async batch``: OpenQASM 2 files in, counts out, on a service or the embedded one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ibmq_async.cli import main
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
BODIES = {"zero": "", "one": "x q[0];\n", "bell": "h q[0];\ncx q[0],q[1];\n"}


@pytest.fixture
def qasm_files(tmp_path: Path) -> list[Path]:
    files = []
    for name, body in BODIES.items():
        path = tmp_path / f"{name}.qasm"
        path.write_text(HEADER + body + "measure q -> c;\n")
        files.append(path)
    return files


def test_batch_on_a_running_service_prints_the_counts_of_every_file(
    qasm_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="batch-token")],
        backends=[BackendConfig(name="ibmq_vigo", device="vigo", max_jobs=1, workers=1)],
    )
    with LocalService(config) as service:
        status = main(
            [
                "batch",
                *map(str, qasm_files),
                "--backend",
                "ibmq_vigo",
                "--shots",
                "200",
                "--max-per-job",
                "1",
                "--url",
                service.url,
                "--token",
                service.token,
                "--json",
                "--no-progress",
            ]
        )
        assert service.stats.created(service.token) == 3
        assert service.stats.max_active(service.token, "ibmq_vigo") == 1
    assert status == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts[str(qasm_files[0])] == {"00": 200}
    assert counts[str(qasm_files[1])] == {"01": 200}
    assert set(counts[str(qasm_files[2])]) <= {"00", "11"}
    assert sum(counts[str(qasm_files[2])].values()) == 200


def test_batch_without_an_account_runs_on_the_embedded_service(
    qasm_files: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(qasm_files[0].parent / "none.json"))
    monkeypatch.delenv("QE_TOKEN", raising=False)
    monkeypatch.delenv("QE_URL", raising=False)
    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    status = main(
        ["batch", str(qasm_files[1]), "--backend", "ibmq_qasm_simulator", "--shots", "10"]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert f'{qasm_files[1]}: {{"01": 10}}' in captured.out
    assert "embedded local service" in captured.err


def test_an_unreadable_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.qasm"
    broken.write_text("OPENQASM 2.0;\nqreg q[1];\nfrobnicate q[0];\n")
    assert main(["batch", str(broken), "--backend", "ibmq_qasm_simulator", "--local"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"ibmq-async batch: {broken} is not valid OpenQASM 2: ")
    assert "\n" not in error
