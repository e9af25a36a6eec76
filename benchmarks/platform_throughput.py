"""Benchmark: jobs per second on the IBM Quantum Platform API, submitted and collected against
``ibmq-async serve`` on loopback, by qiskit-ibm-runtime 0.51, a bare-httpx floor and
``ibmq_async``'s platform channel, in the same run.

Each (way, N) gets a fresh service (its own process: the simulator with 8 workers, no job
limit, the platform rate limit off, a new database) and a fresh client process, and makes N
sampler jobs of a trivial circuit (one qubit, ``x`` then ``measure``, 100 shots). Every way
first runs one job untimed (the first job's imports, on both sides), then the timed N:

* ``runtime``: qiskit-ibm-runtime 0.51 in its own environment, a pool of 32 threads each
  doing ``SamplerV2(mode=backend).run([circuit], shots=100)`` then ``job.result()`` (which
  polls the job every 0.5 s): what its users do for concurrency.
* ``floor_httpx``: bare httpx making the same calls with no SDK logic: an IAM token once,
  then per job ``POST /v1/jobs`` (the body the SDK sends, encoded once), ``GET
  /v1/jobs/{id}`` every 20 ms doubling to 1 s until a final state, ``GET
  /v1/jobs/{id}/results`` (parsed as JSON, not decoded into Qiskit objects); 32 jobs in
  flight, 32 pooled connections, httpx's own transport.
* ``floor_aiohttp``: the same on the transport the SDK uses on asyncio
  (``ibmq_async.api.aiohttp_transport.AiohttpTransport``: aiohttp under httpx).
* ``ibmq_async``: the SDK with its defaults: ``IBMQ.enable_account(key,
  channel="ibm_quantum_platform", instance=crn, url=ROOT/api, iam_url=ROOT)``, then
  ``asyncio.gather`` over all N coroutines, each ``job = await
  Sampler(mode=backend).run([circuit], shots=100)`` then ``await job.result()``.
* ``ibmq_async_32``: the same with at most 32 jobs in flight (an ``asyncio.Semaphore``),
  the concurrency of qiskit-ibm-runtime's 32 threads.

The SDK ways need the platform channel (``ibmq_async.platform.Sampler``); until it is
there they are reported as skipped, with why, and the other ways still run.

Every run reports jobs per second, the client's CPU per job, the service's CPU per job and
the requests per job, the last three measured between the worker's ``start`` and ``end``
marks (``_platform.run_marked``; requests from the service's access log).

Usage::

    python benchmarks/platform_throughput.py               # N = 100, 500, 2000
    python benchmarks/platform_throughput.py --quick       # N = 50, 200
    python benchmarks/platform_throughput.py --chart benchmarks/charts/platform_throughput.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, client_usage, emit, log, machine, pyplot, rounded, save_chart
from _platform import (
    API_KEY,
    CIRCUIT,
    FINAL_STATES,
    INSTANCE,
    RUNTIME_THREADS,
    SETTLE,
    SHOTS,
    floor_headers,
    floor_token,
    job_body,
    mark,
    platform_service,
    project_env,
    run_marked,
    runtime_env,
    sdk_backend,
    sdk_note,
    sdk_platform_missing,
    trivial_circuit,
)
from throughput import _classify, _cpu_ratio, _gated, _rate, _ratio

FLOORS = ("floor_httpx", "floor_aiohttp")
SDK_WAYS = ("ibmq_async", "ibmq_async_32")
WAYS = ("runtime", *FLOORS, *SDK_WAYS)
SDK_TRANSPORT_FLOOR = "floor_aiohttp"
FULL_N = (100, 500, 2000)
QUICK_N = (50, 200)
IN_FLIGHT = 32


# --- workers (each runs in a process of its own) ------------------------------------------


async def _timed(work: Callable[[], Awaitable[Any]], deadline: float) -> dict[str, Any]:
    """Run ``work`` between the ``start`` and ``end`` marks, for ``deadline`` seconds at
    most: its elapsed seconds, the client's CPU seconds and the first error. Each mark
    comes :data:`SETTLE` seconds after what precedes it (so the service's access log holds
    every request answered before it), outside the timed part."""
    await asyncio.sleep(SETTLE)
    mark("start")
    cpu_before = client_usage()["cpu_seconds"]
    started = time.perf_counter()
    error = None
    try:
        await asyncio.wait_for(work(), deadline)
    except TimeoutError:
        pass
    except Exception as failure:
        error = repr(failure)[:600]
    elapsed = time.perf_counter() - started
    cpu = client_usage()["cpu_seconds"] - cpu_before
    await asyncio.sleep(SETTLE)
    mark("end")
    return {"elapsed_seconds": elapsed, "client_cpu_seconds": cpu, "first_error": error}


async def _worker_sdk(args: argparse.Namespace) -> dict[str, Any]:
    from ibmq_async.platform import Sampler

    backend = await sdk_backend(args.root)
    circuit = trivial_circuit()
    completed = 0

    async def run_and_collect() -> None:
        nonlocal completed
        job = await Sampler(mode=backend).run([circuit], shots=SHOTS)
        result = await job.result()
        if result[0].data.c.num_shots != SHOTS:
            raise RuntimeError(f"job {job.job_id()}: {result[0].data.c.num_shots} shots")
        completed += 1

    await run_and_collect()  # warm-up
    completed = 0
    gate = asyncio.Semaphore(IN_FLIGHT) if args.worker == "ibmq_async_32" else None
    timing = await _timed(
        lambda: asyncio.gather(*(_gated(gate, run_and_collect) for _ in range(args.n))),
        args.deadline,
    )
    return {
        "completed": completed,
        **timing,
        "concurrency": (
            f"asyncio.gather over all N, at most {IN_FLIGHT} jobs in flight (a semaphore)"
            if gate
            else "asyncio.gather over all N (run then result); the SDK's defaults"
        ),
    }


async def _worker_floor(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    transport = None
    if args.worker == "floor_aiohttp":
        from ibmq_async.api.aiohttp_transport import AiohttpTransport

        transport = AiohttpTransport(limits=limits, timeout=httpx.Timeout(120.0))
    body: bytes = args.body
    api = f"{args.root}/api/v1"
    completed = 0
    async with httpx.AsyncClient(limits=limits, timeout=120.0, transport=transport) as client:
        headers = floor_headers(await floor_token(client, args.root))
        post_headers = {**headers, "Content-Type": "application/json"}

        async def submit_and_collect() -> None:
            nonlocal completed
            created = await client.post(f"{api}/jobs", content=body, headers=post_headers)
            job_id = created.raise_for_status().json()["id"]
            pause = 0.02
            while True:
                await asyncio.sleep(pause)
                record = await client.get(f"{api}/jobs/{job_id}", headers=headers)
                if record.raise_for_status().json()["status"] in FINAL_STATES:
                    break
                pause = min(pause * 2, 1.0)
            result = await client.get(f"{api}/jobs/{job_id}/results", headers=headers)
            if result.raise_for_status().json().get("__type__") != "PrimitiveResult":
                raise RuntimeError(f"job {job_id} has no PrimitiveResult")
            completed += 1

        await submit_and_collect()  # warm-up
        completed = 0
        gate = asyncio.Semaphore(IN_FLIGHT)
        timing = await _timed(
            lambda: asyncio.gather(*(_gated(gate, submit_and_collect) for _ in range(args.n))),
            args.deadline,
        )
    return {
        "completed": completed,
        **timing,
        "concurrency": f"at most {IN_FLIGHT} jobs in flight (a semaphore), {IN_FLIGHT} pooled "
        "connections, polling 20 ms doubling to 1 s, transport "
        + (type(transport).__name__ if transport else "AsyncHTTPTransport"),
    }


def worker_main(args: argparse.Namespace) -> None:
    args.body = Path(args.body_file).read_bytes()
    work = _worker_sdk if args.worker in SDK_WAYS else _worker_floor
    report = asyncio.run(work(args))
    completed = report["completed"]
    print(
        json.dumps(
            {
                "n": args.n,
                "completed": completed,
                "finished": completed == args.n and report["first_error"] is None,
                "elapsed_seconds": round(report["elapsed_seconds"], 3),
                "errors": 0 if report["first_error"] is None else 1,
                "first_error": report["first_error"],
                "client_cpu_seconds": round(report["client_cpu_seconds"], 3),
                "client_max_rss_bytes": client_usage()["max_rss_bytes"],
                "concurrency": report["concurrency"],
            }
        ),
        flush=True,
    )
    os._exit(0)  # tasks cancelled at the deadline may still hold connections


# --- the orchestrator ---------------------------------------------------------------------


def _one_run(
    way: str, n: int, args: argparse.Namespace, runtime: Path | None, body_file: Path
) -> dict[str, Any]:
    with platform_service() as service:
        if way == "runtime":
            assert runtime is not None
            command = [
                str(runtime), str(BENCH_DIR / "_runtime_client.py"), "throughput",
                service.root, API_KEY, INSTANCE, str(n), "--threads", str(RUNTIME_THREADS),
                "--shots", str(SHOTS), "--deadline", str(args.cap),
            ]  # fmt: skip
            env = runtime_env(service)
        else:
            command = [
                sys.executable, __file__, "--worker", way, "--root", service.root,
                "--body-file", str(body_file), "--n", str(n), "--deadline", str(args.cap),
            ]  # fmt: skip
            env = project_env()
        run = run_marked(command, service, timeout=args.cap + 180, env=env)
        report = dict(run.report)
        if not report or "start" not in run.marks or "end" not in run.marks:
            return {
                "n": n,
                "completed": 0,
                "finished": False,
                "errors": 1,
                "first_error": f"worker exited {run.returncode}: {run.stderr[-1500:]}",
                "jobs_per_s": None,
                "failed": True,
            }
        timed = run.between(service, "start", "end")
    report["server_cpu_seconds"] = timed["service_cpu_seconds"]
    report["requests"] = timed["requests"]
    report["requests_by_route"] = timed["requests_by_route"]
    _classify(report, n, args.cap)
    completed = report.get("completed") or 0
    if completed:
        report["client_cpu_ms_per_job"] = rounded(
            1000 * report["client_cpu_seconds"] / completed, 2
        )
        report["server_cpu_ms_per_job"] = rounded(
            1000 * timed["service_cpu_seconds"] / completed, 2
        )
        report["requests_per_job"] = rounded(timed["requests"] / completed, 2)
    return report


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rates over rates (``*_over_*``) and client CPU per job over client CPU per job
    (``cpu_*_over_*``). The goals: ``ibmq_async_over_runtime`` at least 2 and
    ``cpu_runtime_over_ibmq_async`` at least 2 (half the client CPU per job)."""
    ratios: dict[str, Any] = {}
    ran = {way: report for way, report in runs.items() if not report.get("skipped")}
    for way in (*SDK_WAYS, *FLOORS):
        if way not in ran:
            continue
        if "runtime" in ran:
            ratios[f"{way}_over_runtime"] = _ratio(ran[way], ran["runtime"])
            ratios[f"cpu_runtime_over_{way}"] = _cpu_ratio(ran["runtime"], ran[way])
        if way in SDK_WAYS:
            for floor in FLOORS:
                if floor in ran:
                    ratios[f"cpu_{way}_over_{floor}"] = _cpu_ratio(ran[way], ran[floor])
                    ratios[f"{way}_over_{floor}"] = _ratio(ran[way], ran[floor])
    ratios["sdk_transport_floor"] = SDK_TRANSPORT_FLOOR
    return ratios


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    ways = document["ways"]
    sizes = [int(n) for n in document["results"]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    width = 0.8 / len(ways)
    colors = {"runtime": "#d62728", "floor_httpx": "#7f7f7f", "floor_aiohttp": "#bcbd22",
              "ibmq_async": "#1f77b4", "ibmq_async_32": "#aec7e8"}  # fmt: skip
    tops = [0.0, 0.0]
    for index, way in enumerate(ways):
        for axis, side in ((left, 0), (right, 1)):
            xs, heights, labels = [], [], []
            for position, n in enumerate(sizes):
                report = document["results"][str(n)]["runs"].get(way) or {}
                if report.get("skipped"):
                    value, label = 0.0, "n/a"
                elif side == 0:
                    rate, kind = _rate(report)
                    value = rate or 0.0
                    label = {"exact": f"{value:.0f}", "bound": f"<{value:.0f}"}.get(kind, "err")
                else:
                    value = report.get("client_cpu_ms_per_job") or 0.0
                    label = f"{value:.1f}"
                xs.append(position + (index - (len(ways) - 1) / 2) * width)
                heights.append(value)
                labels.append(label)
                tops[side] = max(tops[side], value)
            bars = axis.bar(xs, heights, width, label=way, color=colors.get(way))
            for bar, label in zip(bars, labels, strict=True):
                anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
                axis.annotate(label, anchor, ha="center", va="bottom", fontsize=7)
    for axis, top, ylabel in (
        (left, tops[0], "jobs per second (higher is better)"),
        (right, tops[1], "client CPU ms per job (lower is better)"),
    ):
        axis.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
        axis.set_ylabel(ylabel)
        axis.set_ylim(0, top * 1.3 or 1)
    left.legend(fontsize=8, loc="upper left")
    cpus = document["machine"].get("cpus")
    figure.suptitle(
        f"Platform API: submit + collect N trivial sampler jobs on loopback ({cpus} CPUs); "
        "n/a: not measured",
        fontsize=10,
    )
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 50, 200 and a 90 s cap")
    parser.add_argument("--n", type=int, nargs="+", help="job counts (default 100 500 2000)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, help="default: all")
    parser.add_argument("--cap", type=float, help="seconds a run may take (default 300)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per way and N (median kept)")
    parser.add_argument("--runtime-python", help="interpreter holding qiskit-ibm-runtime 0.51")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--replot", help="redraw --chart from a JSON document of this script")
    parser.add_argument("--worker", choices=(*FLOORS, *SDK_WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--body-file", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=300.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.n = args.n[0]
        worker_main(args)
        return
    if args.replot:
        document = json.loads(Path(args.replot).read_text(encoding="utf-8"))
        if args.chart:
            document["chart"] = chart(document, args.chart)
        emit(document)
        return

    ways = list(args.ways or WAYS)
    sizes = args.n or (QUICK_N if args.quick else FULL_N)
    args.cap = args.cap or (90.0 if args.quick else 300.0)
    missing = sdk_platform_missing()
    if missing:
        log(f"the SDK ways are skipped: {missing}")
    runtime = None
    if "runtime" in ways:
        from _original_env import runtime_python

        runtime = runtime_python(args.runtime_python)
    info = machine()
    started = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
        body_file = Path(tmp) / "job.json"
        body_file.write_bytes(job_body())
        for round_index, n in enumerate(sizes):
            shift = round_index % len(ways)  # no way always runs first
            order = ways[shift:] + ways[:shift]
            samples: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
            for repeat in range(args.repeat):
                for way in order:
                    if way in SDK_WAYS and missing:
                        samples[way].append(sdk_note(missing))
                        continue
                    log(f"N={n} {way} (run {repeat + 1} of {args.repeat})")
                    report = _one_run(way, n, args, runtime, body_file)
                    rate, kind = _rate(report)
                    shown = {"exact": f"{rate}", "bound": f"< {rate}", "failed": "failed"}[kind]
                    error = report.get("first_error")
                    log(
                        f"  {shown} jobs/s, client {report.get('client_cpu_ms_per_job')} ms/job, "
                        f"service {report.get('server_cpu_ms_per_job')} ms/job, "
                        f"{report.get('requests_per_job')} requests/job"
                        + (f"  error: {error[:300]}" if error else "")
                    )
                    samples[way].append(report)
            runs = {}
            for way, reports in samples.items():
                reports.sort(key=lambda r: _rate(r)[0] or 0.0 if not r.get("skipped") else 0.0)
                runs[way] = reports[len(reports) // 2]
                if len(reports) > 1 and not runs[way].get("skipped"):
                    runs[way]["jobs_per_s_all_runs"] = [_rate(r)[0] for r in reports]
                    runs[way]["client_cpu_ms_per_job_all_runs"] = sorted(
                        r.get("client_cpu_ms_per_job") or 0.0 for r in reports
                    )
            results[str(n)] = {"runs": runs, "ratios": _ratios(runs)}
    document = {
        "benchmark": "platform_throughput",
        "machine": info,
        "settings": {
            "job": f"SamplerV2 job, {CIRCUIT}, {SHOTS} shots",
            "service": "ibmq-async serve subprocess per run: simulator, 8 workers, no job "
            "limit, platform rate limit off",
            "cap_seconds": args.cap,
            "repeat": args.repeat,
            "runtime_python": str(runtime) if runtime else None,
            "runtime_threads": RUNTIME_THREADS,
            "sdk_missing": missing,
        },
        "ways": ways,
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
