"""Benchmark: the client's memory with N = 10,000 platform jobs awaiting their results at
once, through ``ibmq_async``'s platform channel: ``memory.py``'s measurement on the IBM
Quantum Platform API.

The service (``ibmq-async serve`` in its own process, the platform rate limit off) has the
simulator's queue paused, so every job stays ``Queued`` and every ``job.result()`` keeps
waiting. Three client processes, one after the other, against the same service:

* the baseline: the same imports (``ibmq_async.platform``, Qiskit for the circuit) and
  ``enable_account(..., channel="ibm_quantum_platform")`` as the measured process, no jobs;
* the bare tasks: the same, then N tasks each awaiting an ``asyncio.Event`` (what starting
  N tasks costs, whatever they do);
* the measured one: submits N jobs (``Sampler(mode=backend).run([circuit])``, 32
  submissions in flight at a time, as ``memory.py`` does), then starts N tasks each
  awaiting ``job.result()`` and holds them ``--hold`` seconds.

Reported as ``memory.py`` reports (its ``Watch``, ``_results`` and chart): bytes per
waiting job, ``(peak RSS of the measured process - peak RSS of the baseline) / N``; the RSS
after submission (the N ``PlatformJob`` objects alone); the client's CPU while it only
waits, as a fraction of one core; the longest event-loop stall of each phase. Also the
requests per second the waits cost, counted on the service side during the steady part of
the hold.

Needs the SDK's platform channel: until it is there, the script says so in its JSON and
measures nothing.

Usage::

    python benchmarks/platform_memory.py                   # N = 10,000, 30 s hold
    python benchmarks/platform_memory.py --quick           # N = 1,000, 10 s hold
    python benchmarks/platform_memory.py --chart benchmarks/charts/platform_memory.png
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, log, machine
from _platform import (
    CIRCUIT,
    SHOTS,
    MarkedWatch,
    platform_service,
    project_env,
    run_marked,
    sdk_backend,
    sdk_platform_missing,
    trivial_circuit,
)
from memory import START_PHASE, SUBMIT_IN_FLIGHT, _results, chart

WORKERS = ("baseline", "bare_tasks", "jobs")


async def _worker(args: argparse.Namespace) -> None:
    from ibmq_async.platform import Sampler

    watch = MarkedWatch(args.hold)
    backend = await sdk_backend(args.root)
    circuit = trivial_circuit()
    beating = asyncio.ensure_future(watch.heartbeat())
    watch.report["rss_after_login"] = watch.rss()
    threading.Thread(target=watch.thread, daemon=True).start()
    if args.worker == "jobs":
        watch.phase = "submission"
        gate = asyncio.Semaphore(SUBMIT_IN_FLIGHT)

        async def submit() -> Any:
            async with gate:
                return await Sampler(mode=backend).run([circuit], shots=SHOTS)

        started = time.monotonic()
        jobs = await asyncio.gather(*(submit() for _ in range(args.n)))
        watch.report["submit_seconds"] = round(time.monotonic() - started, 1)
        watch.report["rss_after_submit"] = watch.rss()
        if args.gc_freeze:
            gc.freeze()
        log(f"worker: {len(jobs)} jobs submitted in {watch.report['submit_seconds']} s")
        watch.start_hold([asyncio.ensure_future(job.result()) for job in jobs])
    elif args.worker == "bare_tasks":
        never = asyncio.Event()
        watch.start_hold([asyncio.ensure_future(never.wait()) for _ in range(args.n)])
    else:
        watch.start_hold([])
    await asyncio.sleep(args.hold + 3600)  # the watch's thread ends the process
    beating.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and a 10 s hold")
    parser.add_argument("--n", type=int, help="waiting jobs (default 10,000)")
    parser.add_argument("--hold", type=float, help="seconds the waits are held (default 30)")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() once the jobs are submitted"
    )
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n or (1000 if args.quick else 10_000)
    args.hold = args.hold if args.hold is not None else (10.0 if args.quick else 30.0)
    if args.worker:
        asyncio.run(_worker(args))
        return
    info = machine()
    started = time.monotonic()
    settings = {
        "n": args.n,
        "hold_seconds": args.hold,
        "job": f"SamplerV2 job, {CIRCUIT}, {SHOTS} shots",
        "submission": f"Sampler(mode=backend).run([circuit]), {SUBMIT_IN_FLIGHT} at a time",
        "waits": "one asyncio task per job awaiting job.result(), all at once",
        "service": "ibmq-async serve subprocess, simulator queue paused, rate limit off",
        "gc_freeze_after_submission": args.gc_freeze,
    }
    missing = sdk_platform_missing()
    if missing:
        log(f"nothing to measure: {missing}")
        emit({"benchmark": "platform_memory", "machine": info, "settings": settings,
              "skipped": True, "why": missing})  # fmt: skip
        return
    documents: dict[str, Any] = {}
    waiting: dict[str, Any] = {}
    with platform_service(paused=True) as service:
        for worker in WORKERS:
            log(f"{worker} process" + (f": {args.n} jobs" if worker == "jobs" else ""))
            hold = START_PHASE + 1 if worker == "bare_tasks" else args.hold
            command = [
                sys.executable, __file__, "--worker", worker, "--root", service.root,
                "--n", str(args.n), "--hold", str(hold),
                *(["--gc-freeze"] if args.gc_freeze else []),
            ]  # fmt: skip
            run = run_marked(command, service, timeout=args.hold + 1800, env=project_env())
            if not run.report:
                raise RuntimeError(f"the {worker} worker failed:\n{run.stderr}")
            documents[worker] = run.report
            if worker == "jobs" and {"steady", "hold_end"} <= set(run.marks):
                steady = run.between(service, "steady", "hold_end")
                waiting = {
                    "steady_requests_per_second": round(steady["requests"] / steady["seconds"], 2),
                    "steady": steady,
                }
        documents["service_rss"] = service.rss_bytes()
    results = _results(documents, documents["bare_tasks"], args.n)
    results["service_requests_while_waiting"] = waiting
    document = {
        "benchmark": "platform_memory",
        "machine": info,
        "settings": settings,
        "results": results,
        "baseline": documents["baseline"],
        "measured": documents["jobs"],
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
