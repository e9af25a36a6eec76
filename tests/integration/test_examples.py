"""Every example runs: the quickstart, the async service, the batch script and the notebook."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QE_", "QISKIT_IBM_"))}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=environment,
        check=False,
    )


def test_quickstart_prints_the_counts_of_the_retrieved_job() -> None:
    completed = _run("quickstart.py")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("ibmq_vigo: active")
    assert lines[1].startswith("submitted job ")
    job_id = lines[1].split()[-1]
    assert lines[2] == f"job {job_id} is DONE"
    counts = ast.literal_eval(lines[3].removeprefix("counts: "))
    assert sum(counts.values()) == 1024
    assert all(len(key) == 5 and set(key) <= {"0", "1"} for key in counts)


def test_platform_quickstart_runs_the_flow_then_the_primitives_and_a_session() -> None:
    completed = _run("platform_quickstart.py")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 7, completed.stdout
    assert lines[0].startswith("ibmq_vigo: active")
    job_id = lines[1].removeprefix("submitted job ")
    assert lines[2] == f"job {job_id} is DONE"
    counts = ast.literal_eval(lines[3].removeprefix("counts: "))
    assert sum(counts.values()) == 1024
    assert all(len(key) == 5 and set(key) <= {"0", "1"} for key in counts)
    sampled = ast.literal_eval(lines[4].removeprefix("sampler counts: "))
    assert set(sampled) <= {"00", "11"}
    assert sum(sampled.values()) == 1000
    assert lines[5] == "estimator <ZZ>: 1.000"  # a Bell pair, simulated without noise
    assert lines[6].startswith("session ")
    assert lines[6].endswith(": 2 jobs, both in it: True")


def test_batch_script_completes_and_resumes_a_saved_set(tmp_path: Path) -> None:
    completed = _run("batch.py", "--circuits", "30", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "all 30 circuits done: True" in completed.stdout
    assert "3/3" in completed.stderr  # the progress bar the script promises
    assert "needs tqdm" not in completed.stderr
    assert not (tmp_path / "batch-state.json").exists()
    assert (tmp_path / "batch-example.db").exists()


def test_batch_script_finishes_the_set_named_in_its_state_file(tmp_path: Path) -> None:
    first = _run("batch.py", "--circuits", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    set_id = next(
        line.split()[2].rstrip(":")
        for line in first.stdout.splitlines()
        if line.startswith("job set ")
    )
    (tmp_path / "batch-state.json").write_text(json.dumps({"job_set_id": set_id}))
    again = _run("batch.py", "--circuits", "20", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"job set {set_id}: 2 jobs" in again.stdout
    assert "all 20 circuits done: True" in again.stdout


@pytest.mark.asyncio
@pytest.mark.parametrize("channel", ["ibm_quantum", "ibm_quantum_platform"])
async def test_async_service_answers_concurrent_requests_with_one_provider(
    channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("QE_TOKEN", "QE_URL", "QISKIT_IBM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", channel)  # the embedded service's API to use
    sys.path.insert(0, str(EXAMPLES))
    try:
        import async_service
    finally:
        sys.path.remove(str(EXAMPLES))
    app = async_service.app
    transport = httpx.ASGITransport(app=app)
    async with (
        async_service.lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://example") as client,
    ):
        backend = app.state.backend
        platform = channel == "ibm_quantum_platform"
        assert type(backend).__name__ == ("PlatformBackend" if platform else "IBMQBackend")
        qasm = (
            'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
            "qreg q[1];\ncreg c[1];\nx q[0];\nmeasure q -> c;\n"
        )
        async with anyio.create_task_group() as group:
            answers: list[httpx.Response] = []

            async def ask(method: str, path: str, **kwargs: Any) -> None:
                answers.append(await client.request(method, path, **kwargs))

            for _ in range(4):
                group.start_soon(lambda: ask("GET", "/bell", params={"shots": 300}))
            group.start_soon(lambda: ask("POST", "/run", params={"shots": 50}, content=qasm))
        bells = [a.json()["counts"] for a in answers if a.request.url.path == "/bell"]
        assert len(bells) == 4
        for counts in bells:
            assert set(counts) <= {"00", "11"}
            assert sum(counts.values()) == 300
        ran = next(a for a in answers if a.request.url.path == "/run")
        assert ran.json()["counts"] == {"1": 50}
        assert (await client.post("/run", content="not qasm")).status_code == 400
        bad = await client.get("/bell", params={"shots": "abc"})
        assert bad.status_code == 400
        assert bad.json() == {"error": "shots must be an integer from 1 to 8192, got 'abc'"}
        assert (await client.post("/run?shots=-2", content=qasm)).status_code == 400
        assert app.state.backend is backend


def test_notebook_runs_top_to_bottom_with_top_level_await() -> None:
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    texts = "\n".join(
        output.get("text", "") or output.get("data", {}).get("text/plain", "") for output in outputs
    )
    assert "'111'" in texts
    assert "DONE" in texts
    # The job manager's bar: a text bar on purpose where ipywidgets is not installed,
    # without tqdm's "IProgress not found" warning.
    assert "IProgress not found" not in texts
    assert "TqdmWarning" not in texts
    assert "job set " in texts
    assert "5/5" in texts
    # The platform channel's cells: the same run, then the primitives and a session.
    assert "<PlatformProvider" in texts
    assert "'notebook-ghz', <JobStatus.DONE" in texts
    assert "'111'" in texts.split("<PlatformProvider", 1)[1]
    assert ": True" in texts.split("session ", 1)[1].splitlines()[0]
    assert "{'ZZI': 1.0, 'IZZ': 1.0, 'XXX': 1.0}" in texts
