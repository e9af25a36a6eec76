"""Benchmark: what waiting costs on the IBM Quantum Platform API. N = 1,000 jobs wait on a
paused queue for 60 s; the requests per second each client sends the service meanwhile,
its CPU, and for ``ibmq_async`` the stalls of its event loop.

Each way gets a fresh service (its own process; the simulator's queue paused, so every job
stays ``Queued``; the platform rate limit off) and a fresh client process, which submits N
sampler jobs of a trivial circuit, then waits on all of them at once for ``--hold`` seconds:

* ``runtime``: qiskit-ibm-runtime 0.51 in its own environment: N jobs submitted by a pool
  of 32 threads (``SamplerV2(mode=backend).run``), then one thread per job blocked in
  ``job.result()``, which polls ``GET /v1/jobs/{id}`` every 0.5 s (its default). A pool
  of 32 threads could wait on 32 of the jobs only: waiting on N with this library takes N
  threads.
* ``floor_per_job``: bare httpx on asyncio (the SDK's aiohttp transport) with
  qiskit-ibm-runtime's policy: each job polled every 0.5 s by a task of its own. Its
  requests are what that policy costs without threads.
* ``ibmq_async``: the SDK's platform channel with its defaults: ``asyncio.gather`` of N
  ``Sampler(mode=backend).run(...)``, then N tasks each awaiting ``job.result()``. Its event
  loop is watched as ``memory.py`` watches it (``memory.Watch``: a 10 ms heartbeat and a
  sampling thread; stalls by phase: submission, the first 5 s of the waits, the rest).

Requests are counted on the service side, from its access log, between the worker's marks
(``_platform.run_marked``): over the whole hold, and over its steady part (after the first
``--settle`` seconds, when every wait has started). The service's CPU is measured between the
same marks, and each client reports its own CPU over them.

The ``ibmq_async`` way needs the platform channel; until it is there it is reported as
skipped, with why.

Usage::

    python benchmarks/platform_polling.py                  # N = 1,000, 60 s hold
    python benchmarks/platform_polling.py --quick          # N = 200, 15 s hold
    python benchmarks/platform_polling.py --chart benchmarks/charts/platform_polling.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, client_usage, emit, log, machine, pyplot, save_chart
from _platform import (
    API_KEY,
    CIRCUIT,
    INSTANCE,
    RUNTIME_THREADS,
    SHOTS,
    MarkedWatch,
    floor_headers,
    floor_token,
    job_body,
    mark,
    platform_service,
    project_env,
    ratio,
    run_marked,
    runtime_env,
    sdk_backend,
    sdk_note,
    sdk_platform_missing,
    trivial_circuit,
)
from memory import START_PHASE

WAYS = ("runtime", "floor_per_job", "ibmq_async")
RUNTIME_POLL_SECONDS = 0.5
SUBMIT_IN_FLIGHT = 32


async def _worker_sdk(args: argparse.Namespace) -> None:
    from ibmq_async.platform import Sampler

    watch = MarkedWatch(args.hold)
    backend = await sdk_backend(args.root)
    circuit = trivial_circuit()
    beating = asyncio.ensure_future(watch.heartbeat())
    watch.report["rss_after_login"] = watch.rss()
    threading.Thread(target=watch.thread, daemon=True).start()
    watch.phase = "submission"
    started = time.monotonic()
    jobs = await asyncio.gather(
        *(Sampler(mode=backend).run([circuit], shots=SHOTS) for _ in range(args.n))
    )
    watch.report["n"] = args.n
    watch.report["submit_seconds"] = round(time.monotonic() - started, 1)
    watch.report["concurrency"] = "asyncio.gather of N Sampler.run, then N job.result() tasks"
    watch.start_hold([asyncio.ensure_future(job.result()) for job in jobs])
    await asyncio.sleep(args.hold + 3600)  # the watch's thread ends the process
    beating.cancel()


async def _worker_floor(args: argparse.Namespace) -> None:
    import httpx

    from ibmq_async.api.aiohttp_transport import AiohttpTransport

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=32)
    transport = AiohttpTransport(limits=limits, timeout=httpx.Timeout(120.0))
    body: bytes = args.body
    api = f"{args.root}/api/v1"
    report: dict[str, Any] = {"n": args.n}
    ended: list[str] = []
    async with httpx.AsyncClient(limits=limits, timeout=120.0, transport=transport) as client:
        headers = floor_headers(await floor_token(client, args.root))
        post_headers = {**headers, "Content-Type": "application/json"}
        gate = asyncio.Semaphore(SUBMIT_IN_FLIGHT)

        async def submit() -> str:
            async with gate:
                created = await client.post(f"{api}/jobs", content=body, headers=post_headers)
                return str(created.raise_for_status().json()["id"])

        started = time.monotonic()
        ids = await asyncio.gather(*(submit() for _ in range(args.n)))
        report["submit_seconds"] = round(time.monotonic() - started, 1)

        async def wait(job_id: str) -> None:
            while True:
                await asyncio.sleep(RUNTIME_POLL_SECONDS)
                record = await client.get(f"{api}/jobs/{job_id}", headers=headers)
                if record.raise_for_status().json()["status"] != "Queued":
                    ended.append(record.json()["status"])
                    return

        waits = [asyncio.ensure_future(wait(job_id)) for job_id in ids]
        mark("hold_start")
        cpu_start = client_usage()["cpu_seconds"]
        await asyncio.sleep(args.settle)
        mark("steady")
        cpu_steady = client_usage()["cpu_seconds"]
        await asyncio.sleep(max(0.0, args.hold - args.settle))
        cpu_end = client_usage()["cpu_seconds"]
        mark("hold_end")
        failed = [task for task in waits if task.done() and task.exception() is not None]
        report.update(
            {
                "hold_cpu_seconds": round(cpu_end - cpu_start, 3),
                "steady_cpu_seconds": round(cpu_end - cpu_steady, 3),
                "waits_ended_early": len(ended) + len(failed),
                "first_early_end": repr(failed[0].exception())[:300] if failed else None,
                "client_max_rss_bytes": client_usage()["max_rss_bytes"],
                "concurrency": f"N tasks, each polling its job every {RUNTIME_POLL_SECONDS} s",
            }
        )
    print(json.dumps(report), flush=True)
    os._exit(0)


def worker_main(args: argparse.Namespace) -> None:
    args.body = Path(args.body_file).read_bytes() if args.body_file else b""
    asyncio.run(_worker_sdk(args) if args.worker == "ibmq_async" else _worker_floor(args))


# --- the orchestrator ---------------------------------------------------------------------


def _one_run(
    way: str, args: argparse.Namespace, runtime: Path | None, body: Path
) -> dict[str, Any]:
    with platform_service(paused=True) as service:
        if way == "runtime":
            assert runtime is not None
            command = [
                str(runtime), str(BENCH_DIR / "_runtime_client.py"), "polling", service.root,
                API_KEY, INSTANCE, str(args.n), "--threads", str(RUNTIME_THREADS),
                "--shots", str(SHOTS), "--hold", str(args.hold), "--settle", str(args.settle),
            ]  # fmt: skip
            env = runtime_env(service)
        else:
            command = [
                sys.executable, __file__, "--worker", way, "--root", service.root,
                "--body-file", str(body), "--n", str(args.n), "--hold", str(args.hold),
                "--settle", str(args.settle),
            ]  # fmt: skip
            env = project_env()
        run = run_marked(command, service, timeout=args.hold + 600, env=env)
        report = dict(run.report)
        if not report or not {"hold_start", "steady", "hold_end"} <= set(run.marks):
            return {"failed": True, "error": f"worker exited {run.returncode}: {run.stderr}"}
        hold = run.between(service, "hold_start", "hold_end")
        steady = run.between(service, "steady", "hold_end")
        report["service_rss_bytes"] = service.rss_bytes()
    report.pop("rss_samples", None)
    report["service"] = {
        "hold": hold,
        "steady": steady,
        "requests_per_second": round(hold["requests"] / hold["seconds"], 1),
        "steady_requests_per_second": round(steady["requests"] / steady["seconds"], 1),
        "steady_requests_per_second_per_job": round(
            steady["requests"] / steady["seconds"] / args.n, 4
        ),
        "cpu_fraction_of_a_core": round(hold["service_cpu_seconds"] / hold["seconds"], 3),
    }
    cpu = report.get("hold_cpu_seconds")
    if cpu is not None:
        report["client_cpu_fraction_of_a_core"] = round(cpu / hold["seconds"], 3)
    steady_cpu = report.get("steady_cpu_seconds")
    if steady_cpu is None and report.get("hold_cpu_fraction_of_a_core_after_start") is not None:
        report["client_steady_cpu_fraction_of_a_core"] = report[
            "hold_cpu_fraction_of_a_core_after_start"
        ]
    elif steady_cpu is not None:
        report["client_steady_cpu_fraction_of_a_core"] = round(steady_cpu / steady["seconds"], 3)
    return report


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The goal: ``requests_ibmq_async_over_runtime`` at most 0.1 (a tenth)."""

    def steady_rate(way: str) -> float | None:
        report = runs.get(way) or {}
        return (report.get("service") or {}).get("steady_requests_per_second")

    def cpu(way: str) -> float | None:
        return (runs.get(way) or {}).get("client_steady_cpu_fraction_of_a_core")

    ratios: dict[str, Any] = {
        "requests_ibmq_async_over_runtime": ratio(
            steady_rate("ibmq_async"), steady_rate("runtime"), 4
        ),
        "requests_floor_per_job_over_runtime": ratio(
            steady_rate("floor_per_job"), steady_rate("runtime"), 3
        ),
        "cpu_runtime_over_ibmq_async": ratio(cpu("runtime"), cpu("ibmq_async")),
        "cpu_floor_per_job_over_ibmq_async": ratio(cpu("floor_per_job"), cpu("ibmq_async")),
    }
    return ratios


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    runs = document["results"]["runs"]
    ways = [way for way in document["ways"] if not runs[way].get("skipped")]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    colors = {"runtime": "#d62728", "floor_per_job": "#bcbd22", "ibmq_async": "#1f77b4"}
    rates = [runs[way]["service"]["steady_requests_per_second"] for way in ways]
    bars = left.bar(ways, rates, color=[colors[way] for way in ways])
    for bar, value in zip(bars, rates, strict=True):
        anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        left.annotate(f"{value:.1f}", anchor, ha="center", va="bottom", fontsize=8)
    left.set_yscale("log")
    left.set_ylabel("requests per second to the service (log scale)")
    left.set_title("Requests while waiting (steady part of the hold)", fontsize=10)
    cpu = [100 * (runs[way].get("client_steady_cpu_fraction_of_a_core") or 0) for way in ways]
    service_cpu = [100 * runs[way]["service"]["cpu_fraction_of_a_core"] for way in ways]
    xs = range(len(ways))
    left_bars = right.bar([x - 0.2 for x in xs], cpu, 0.4, label="client", color="#1f77b4")
    right_bars = right.bar([x + 0.2 for x in xs], service_cpu, 0.4, label="service", color="#aaa")
    for bar in (*left_bars, *right_bars):
        anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        right.annotate(f"{bar.get_height():.0f}", anchor, ha="center", va="bottom", fontsize=8)
    right.set_xticks(list(xs), ways)
    right.set_ylabel("% of one core")
    right.set_title("CPU while waiting", fontsize=10)
    right.legend(fontsize=8)
    settings = document["settings"]
    figure.suptitle(
        f"{settings['n']} platform jobs waiting on a paused queue for {settings['hold_seconds']} s"
        f" ({document['machine'].get('cpus')} CPUs)"
    )
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 200 and a 15 s hold")
    parser.add_argument("--n", type=int, help="waiting jobs (default 1,000)")
    parser.add_argument("--hold", type=float, help="seconds the waits are held (default 60)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, help="default: all")
    parser.add_argument("--runtime-python", help="interpreter holding qiskit-ibm-runtime 0.51")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--worker", choices=("floor_per_job", "ibmq_async"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--body-file", help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=START_PHASE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n or (200 if args.quick else 1000)
    args.hold = args.hold if args.hold is not None else (15.0 if args.quick else 60.0)
    if args.worker:
        worker_main(args)
        return
    ways = list(args.ways or WAYS)
    missing = sdk_platform_missing()
    if missing:
        log(f"the ibmq_async way is skipped: {missing}")
    runtime = None
    if "runtime" in ways:
        from _original_env import runtime_python

        runtime = runtime_python(args.runtime_python)
    info = machine()
    started = time.monotonic()
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
        body = Path(tmp) / "job.json"
        body.write_bytes(job_body())
        for way in ways:
            if way == "ibmq_async" and missing:
                runs[way] = sdk_note(missing)
                continue
            log(f"{way}: {args.n} jobs, then a {args.hold} s hold")
            report = _one_run(way, args, runtime, body)
            runs[way] = report
            service = report.get("service") or {}
            log(
                f"  {service.get('steady_requests_per_second')} requests/s, client "
                f"{report.get('client_steady_cpu_fraction_of_a_core')} of a core, service "
                f"{service.get('cpu_fraction_of_a_core')}; early ends "
                f"{report.get('waits_ended_early')}; {report.get('error', '')[:300]}"
            )
    document = {
        "benchmark": "platform_polling",
        "machine": info,
        "settings": {
            "n": args.n,
            "hold_seconds": args.hold,
            "steady_after_seconds": args.settle,
            "job": f"SamplerV2 job, {CIRCUIT}, {SHOTS} shots",
            "service": "ibmq-async serve subprocess per way: the simulator's queue paused, "
            "platform rate limit off",
            "runtime_python": str(runtime) if runtime else None,
            "sdk_missing": missing,
        },
        "ways": ways,
        "results": {"runs": runs, "ratios": _ratios(runs)},
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
