"""Benchmark: the local service itself. Jobs per second and turnaround of a trivial circuit
over loopback HTTP, against running the same circuit on Aer directly.

In this process, before the service starts (nothing else running):

* ``aer_direct``: ``AerSimulator().run(circuit, shots=100).result()`` on the ``QuantumCircuit``
  (``x`` then ``measure`` on one qubit), one after the other, with the options the
  service uses for small circuits (one thread);
* ``service_executor``: the service's own execution path without HTTP, database or queue:
  ``prepare(qobj, device)`` (Qobj checks and conversion to a circuit) then ``execute``
  (Aer and the Result document), one after the other.
* ``noise``: the same path on ``ibmq_vigo`` for a Bell pair and the quickstart's random
  5-qubit circuit (1024 shots, transpiled for the device), ideal and with the device's
  noise model (``noise = true``), alternating: the simulation cost of noise as the ratio
  of the noisy p50 to the ideal one.

Against ``ibmq-async serve`` (its own process: the simulator with 8 workers), from a client
process that uses bare httpx (the protocol, no SDK logic):

* ``service_sequential``: one job at a time: ``POST Jobs``, ``PUT`` the Qobj, ``POST
  jobDataUploaded``, the status websocket until COMPLETED, then the result download and
  ``resultDownloaded``. Turnaround = from ``POST Jobs`` to the result in hand, as the
  client sees it; the service's own view comes from each job's ``timePerStep``
  (CREATING to COMPLETED, and its stages).
* ``service_loaded``: N jobs with 8 in flight, the same calls: jobs per second, and the
  turnaround under load.

Overheads reported: the service's sequential turnaround over Aer's time per circuit, the
service's jobs per second (loaded) over Aer's, and the noisy executor's p50 over the ideal
one. The client runs on the same machine,
so its CPU time is part of every service figure; it is reported.

Usage::

    python benchmarks/service.py                 # 300 sequential, 2000 loaded (about 1.5 min)
    python benchmarks/service.py --quick         # 50 sequential, 300 loaded
    python benchmarks/service.py --chart benchmarks/charts/service.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SIMULATOR,
    client_usage,
    emit,
    local_service,
    log,
    machine,
    percentile,
    pyplot,
    run_worker,
    save_chart,
)
from throughput import FINAL_STATUSES, SHOTS, trivial_qobj

IN_FLIGHT = 8
STAGES = (
    ("upload_and_validation", "CREATING", "QUEUED"),
    ("queued", "QUEUED", "RUNNING"),
    ("running", "RUNNING", "COMPLETED"),
)


def _stats(seconds: list[float]) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p90_ms": ms(percentile(seconds, 90)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


# --- in-process: Aer directly and the service's executor ----------------------------------


def measure_aer(n: int) -> dict[str, Any]:
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    simulator = AerSimulator()
    for _ in range(5):  # warm-up
        simulator.run(circuit, shots=SHOTS, max_parallel_threads=1).result()
    times = []
    start = time.perf_counter()
    for _ in range(n):
        began = time.perf_counter()
        result = simulator.run(circuit, shots=SHOTS, max_parallel_threads=1).result()
        times.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    assert result.get_counts() == {"1": SHOTS}
    return {"jobs_per_s": round(n / elapsed, 1), "per_job": _stats(times)}


def measure_executor(n: int) -> dict[str, Any]:
    from ibmq_async.local.config import BackendConfig
    from ibmq_async.local.devices import load_device
    from ibmq_async.local.executor import execute, prepare

    device = load_device(BackendConfig(name=SIMULATOR, device="simulator"))
    qobj = trivial_qobj()

    def once() -> Any:
        prepared = prepare(qobj, device)
        return execute(prepared, job_id="bench", backend_name=SIMULATOR, backend_version="1")

    for _ in range(5):
        once()
    times = []
    start = time.perf_counter()
    for _ in range(n):
        began = time.perf_counter()
        once()
        times.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    return {"jobs_per_s": round(n / elapsed, 1), "per_job": _stats(times)}


def _vigo_qobjs(shots: int) -> dict[str, dict[str, Any]]:
    """A Bell pair and the quickstart's random 5-qubit circuit, transpiled for ibmq_vigo."""
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit.random import random_circuit

    from ibmq_async.circuits import circuits_to_qobj
    from ibmq_async.local.devices import DEVICES_DIR

    configuration = json.loads((DEVICES_DIR / "vigo" / "conf.json").read_text())
    bell = QuantumCircuit(2, 2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    circuits = {
        "bell_2q": bell,
        "random_5q_depth4": random_circuit(5, depth=4, measure=True, seed=1234),
    }
    qobjs = {}
    for name, circuit in circuits.items():
        transpiled = transpile(
            circuit,
            basis_gates=configuration["basis_gates"],
            coupling_map=configuration["coupling_map"],
            seed_transpiler=1234,
        )
        qobjs[name] = circuits_to_qobj(
            [transpiled], backend_name="ibmq_vigo", backend_version="1", n_qubits=5, shots=shots
        )
    return qobjs


def measure_noise(n: int) -> dict[str, Any]:
    """The service's executor on ibmq_vigo, ideal and with its noise model, alternating."""
    from ibmq_async.local.config import BackendConfig
    from ibmq_async.local.devices import load_device
    from ibmq_async.local.executor import execute, prepare
    from ibmq_async.local.noise import device_noise

    backend = BackendConfig(name="ibmq_vigo", device="vigo", noise=True)
    device = load_device(backend)
    noise = device_noise(backend, device)
    shots = 1024
    report: dict[str, Any] = {"shots": shots}
    for name, qobj in _vigo_qobjs(shots).items():
        times: dict[str, list[float]] = {"ideal": [], "noisy": []}

        def once(kind: str, qobj: dict[str, Any] = qobj, name: str = name) -> None:
            prepared = prepare(qobj, device)
            model = noise if kind == "noisy" else None
            outcome = execute(
                prepared, job_id="bench", backend_name="ibmq_vigo", backend_version="1",
                noise=model,
            )  # fmt: skip
            if not outcome.success:
                raise RuntimeError(f"{name} ({kind}) failed: {outcome.error_message}")

        for _ in range(3):  # warm-up: Aer, and the noise model of the circuit's qubits
            once("ideal")
            once("noisy")
        for _ in range(n):  # alternating, so both see the same machine load
            for kind in ("ideal", "noisy"):
                began = time.perf_counter()
                once(kind)
                times[kind].append(time.perf_counter() - began)
        ideal, noisy = _stats(times["ideal"]), _stats(times["noisy"])
        report[name] = {
            "ideal": ideal,
            "noisy": noisy,
            "noisy_p50_over_ideal_p50": round(noisy["p50_ms"] / ideal["p50_ms"], 2),
        }
    return report


# --- the client process ---------------------------------------------------------------------


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def _client(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from httpx_ws import aconnect_ws

    qobj = trivial_qobj()
    body = json.dumps(qobj).encode()
    sequential = args.worker == "sequential"
    limits = httpx.Limits(max_connections=IN_FLIGHT + 2, max_keepalive_connections=IN_FLIGHT + 2)
    async with httpx.AsyncClient(limits=limits, timeout=120.0) as client:
        login = await client.post(f"{args.url}/users/loginWithToken", json={"apiToken": args.token})
        token = login.raise_for_status().json()["id"]
        headers = {"X-Access-Token": token}
        json_headers = {**headers, "Content-Type": "application/json"}
        urls = (await client.get(f"{args.url}/users/me", headers=headers)).json()["urls"]
        jobs = f"{urls['http']}/Network/ibm-q/Groups/open/Projects/main/Jobs"

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await client.request(method, url, **kwargs)
            return response.raise_for_status()

        async def wait_websocket(job_id: str) -> None:
            url = f"{urls['ws'].rstrip('/')}/jobs/{job_id}/status/v/1"
            async with aconnect_ws(url, client) as ws:
                await ws.send_text(json.dumps({"type": "authentication", "data": token}))
                await ws.receive_text()
                while True:
                    message = json.loads(await ws.receive_text())
                    if message["data"]["status"] in FINAL_STATUSES:
                        return

        turnarounds: list[float] = []
        job_ids: list[str] = []

        async def one() -> None:
            began = time.perf_counter()
            created = (
                await call(
                    "POST",
                    jobs,
                    headers=headers,
                    json={"backend": {"name": SIMULATOR}, "allowObjectStorage": True},
                )
            ).json()
            job_id = created["id"]
            upload = created["objectStorageInfo"]["uploadUrl"]
            await call("PUT", upload, content=body, headers=json_headers)
            await call("POST", f"{jobs}/{job_id}/jobDataUploaded", headers=headers)
            await wait_websocket(job_id)
            link = await call("GET", f"{jobs}/{job_id}/resultDownloadUrl", headers=headers)
            result = (await call("GET", link.json()["url"], headers=headers)).json()
            await call("POST", f"{jobs}/{job_id}/resultDownloaded", headers=headers)
            turnarounds.append(time.perf_counter() - began)
            if not result.get("success"):
                raise RuntimeError(f"job {job_id} did not succeed")
            job_ids.append(job_id)

        for _ in range(3):  # warm-up: connections, the service's first Aer run
            await one()
        turnarounds.clear()
        job_ids.clear()
        cpu_before = client_usage()["cpu_seconds"]
        start = time.perf_counter()
        if sequential:
            for _ in range(args.n):
                await one()
        else:
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def gated() -> None:
                async with gate:
                    await one()

            await asyncio.gather(*(gated() for _ in range(args.n)))
        elapsed = time.perf_counter() - start
        cpu = client_usage()["cpu_seconds"] - cpu_before

        # The service's view, read after the timed part.
        stages: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
        server_turnaround: list[float] = []
        for job_id in job_ids:
            record = (await call("GET", f"{jobs}/{job_id}/v/1", headers=headers)).json()
            steps = {key: _parse(value) for key, value in record["timePerStep"].items()}
            server_turnaround.append((steps["COMPLETED"] - steps["CREATING"]).total_seconds())
            for name, first, last in STAGES:
                if first in steps and last in steps:
                    stages[name].append((steps[last] - steps[first]).total_seconds())
    return {
        "n": args.n,
        "elapsed_seconds": round(elapsed, 3),
        "jobs_per_s": round(args.n / elapsed, 1),
        "turnaround_client": _stats(turnarounds),
        "turnaround_service": _stats(server_turnaround),
        "service_stages": {name: _stats(values) for name, values in stages.items()},
        "client_cpu_ms_per_job": round(1000 * cpu / args.n, 2),
        "concurrency": "1 job at a time" if sequential else f"{IN_FLIGHT} jobs in flight",
    }


def worker_main(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(_client(args))), flush=True)
    os._exit(0)


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    results = document["results"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    names = ["aer_direct", "service_executor", "service_sequential", "service_loaded"]
    labels = [
        "Aer\ndirect",
        "service\nexecutor",
        "service\n1 at a time",
        f"service\n{IN_FLIGHT} in flight",
    ]

    def figure_of(name: str, quantile: str) -> float:
        entry = results[name]
        return float((entry.get("per_job") or entry["turnaround_client"])[quantile])

    p50 = [figure_of(name, "p50_ms") for name in names]
    p99 = [figure_of(name, "p99_ms") for name in names]
    xs = range(len(names))
    left.bar([x - 0.2 for x in xs], p50, 0.4, label="p50", color="#1f77b4")
    left.bar([x + 0.2 for x in xs], p99, 0.4, label="p99", color="#aec7e8")
    for x, value in zip(xs, p50, strict=True):
        left.annotate(f"{value:.1f}", (x - 0.2, value), ha="center", va="bottom", fontsize=8)
    for x, value in zip(xs, p99, strict=True):
        left.annotate(f"{value:.1f}", (x + 0.2, value), ha="center", va="bottom", fontsize=8)
    left.set_xticks(list(xs), labels, fontsize=8)
    left.set_yscale("log")
    left.set_ylabel("ms per job (turnaround; log scale)")
    left.set_title("Time per trivial job", fontsize=10)
    left.legend(fontsize=8)
    rates = [results[name]["jobs_per_s"] for name in names]
    bars = right.bar(labels, rates, color=["#7f7f7f", "#bcbd22", "#2ca02c", "#1f77b4"])
    for bar, value in zip(bars, rates, strict=True):
        top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        right.annotate(f"{value:.0f}", top, ha="center", va="bottom", fontsize=8)
    right.tick_params(axis="x", labelsize=8)
    right.set_ylabel("jobs per second")
    right.set_title("Throughput", fontsize=10)
    figure.suptitle(
        f"The local service against Aer directly ({document['machine'].get('cpus')} CPUs)"
    )
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50 sequential, 300 loaded")
    parser.add_argument("--sequential", type=int, help="jobs one at a time (default 300)")
    parser.add_argument("--loaded", type=int, help="jobs under load (default 2000)")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--worker", choices=("sequential", "loaded"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    sequential = args.sequential or (50 if args.quick else 300)
    loaded = args.loaded or (300 if args.quick else 2000)
    info = machine()
    started = time.monotonic()
    results: dict[str, Any] = {}
    log(f"Aer directly, {sequential} circuits")
    results["aer_direct"] = measure_aer(sequential)
    log(f"the service's executor in process, {sequential} Qobjs")
    results["service_executor"] = measure_executor(sequential)
    log(f"the cost of noise: ibmq_vigo ideal and noisy, {sequential} Qobjs each")
    results["noise"] = measure_noise(sequential)
    for mode, n in (("sequential", sequential), ("loaded", loaded)):
        with local_service() as service:
            log(f"the service over HTTP, {mode}: {n} jobs")
            cpu_before = service.cpu_seconds()
            command = [
                sys.executable, __file__, "--worker", mode, "--url", service.url,
                "--token", service.token, "--n", str(n),
            ]  # fmt: skip
            run = run_worker(command, timeout=900)
            if not run.report:
                raise RuntimeError(f"the {mode} client failed:\n{run.stderr}")
            report = run.report
            report["service_cpu_ms_per_job"] = round(
                1000 * (service.cpu_seconds() - cpu_before) / (n + 3), 2
            )
            results[f"service_{mode}"] = report
    aer = results["aer_direct"]
    overhead = {
        "sequential_turnaround_p50_over_aer_p50": round(
            results["service_sequential"]["turnaround_client"]["p50_ms"] / aer["per_job"]["p50_ms"],
            1,
        ),
        "sequential_turnaround_p50_minus_aer_p50_ms": round(
            results["service_sequential"]["turnaround_client"]["p50_ms"] - aer["per_job"]["p50_ms"],
            2,
        ),
        "service_view_p50_minus_aer_p50_ms": round(
            results["service_sequential"]["turnaround_service"]["p50_ms"]
            - aer["per_job"]["p50_ms"],
            2,
        ),
        "executor_p50_over_aer_p50": round(
            results["service_executor"]["per_job"]["p50_ms"] / aer["per_job"]["p50_ms"], 2
        ),
        "loaded_jobs_per_s_over_aer": round(
            results["service_loaded"]["jobs_per_s"] / aer["jobs_per_s"], 3
        ),
        "noise_bell_p50_over_ideal": results["noise"]["bell_2q"]["noisy_p50_over_ideal_p50"],
        "noise_random_5q_p50_over_ideal": results["noise"]["random_5q_depth4"][
            "noisy_p50_over_ideal_p50"
        ],
    }
    document = {
        "benchmark": "service",
        "machine": info,
        "settings": {
            "job": f"1 qubit, x + measure, {SHOTS} shots",
            "service": "ibmq-async serve subprocess per mode: simulator, 8 workers, no job limit",
            "sequential_jobs": sequential,
            "loaded_jobs": loaded,
            "loaded_in_flight": IN_FLIGHT,
        },
        "results": results,
        "overhead": overhead,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
