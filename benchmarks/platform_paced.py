"""Benchmark: job creation under the platform's rate limit. N = 60 sampler jobs under IBM's
5 jobs per minute, simulated fast: the same ratio on a tenth of the clock (5 jobs per 6 s,
the service's ``jobs_per_minute = 5`` with ``rate_window_seconds = 6``). How many 429s each
client meets, how many jobs fail, and the time to the last result.

Each way gets a fresh service (its own process, the simulator with 8 workers) and a fresh
client process that submits and collects N jobs of a trivial circuit at once, with no
warm-up job (it would take a place in the window):

* ``runtime``: qiskit-ibm-runtime 0.51, a pool of 32 threads each doing
  ``SamplerV2(mode=backend).run([circuit]).result()``. Its ``run()`` raises on a 429 (it
  retries a ``POST`` on 5xx answers only), so each 429 is a failed job; every job is tried.
* ``runtime_retry``: the same, with what a careful user adds around ``run()``: on an error
  that names a 429, sleep the limit's window (6 s; the exception keeps no ``Retry-After``)
  and try again.
* ``ibmq_async``: the SDK's platform channel with its defaults, ``asyncio.gather`` of N
  ``run`` + ``result()`` (``return_exceptions=True``, so every failure is counted). The
  SDK knows no rate at first: its pacer learns it from the first 429's ``Retry-After``.
* ``ibmq_async_rate``: the same with the rate given (``job_rate=(5, 6.0)`` to
  ``enable_account``), when the SDK takes one: then no 429 at all is expected.

429s are counted on the service side (its access log, ``POST /api/v1/jobs 429``), between
the worker's ``start`` and ``end`` marks, with the jobs created (``POST /api/v1/jobs 200``:
a job created twice would show here). A 429 is *avoidable* when its request was sent after
the client had received a 429 (and its ``Retry-After``): each worker records when its
transport sent every ``POST /v1/jobs`` and when the answer came (the SDK's
``AiohttpTransport``, requests' ``HTTPAdapter``: patched in the benchmark's process only),
so the 429s of requests already in flight before the first 429 came back, which no client
could avoid without knowing the rate, are counted apart. The ideal time to the last
result is ``(ceil(N / 5) - 1) * 6`` seconds plus one job's turnaround.

The SDK ways need the platform channel; until it is there they are reported as skipped.

Usage::

    python benchmarks/platform_paced.py                    # N = 60, 5 per 6 s
    python benchmarks/platform_paced.py --quick            # N = 20
    python benchmarks/platform_paced.py --chart benchmarks/charts/platform_paced.png
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import sys
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
    SETTLE,
    SHOTS,
    PlatformService,
    mark,
    platform_service,
    project_env,
    record_sdk_creations,
    run_marked,
    runtime_env,
    sdk_backend,
    sdk_note,
    sdk_platform_missing,
    trivial_circuit,
)

WAYS = ("runtime", "runtime_retry", "ibmq_async", "ibmq_async_rate")
SDK_WAYS = ("ibmq_async", "ibmq_async_rate")
RATE = 5
WINDOW = 6.0
"""IBM's 5 jobs per 60 s, on a tenth of the clock."""
CREATE = "POST /api/v1/jobs"


def sdk_rate_missing() -> str | None:
    """Why the SDK cannot be given the rate (``None`` if ``enable_account`` takes
    ``job_rate=``)."""
    from ibmq_async.provider import IBMQFactory

    if "job_rate" not in inspect.signature(IBMQFactory.enable_account).parameters:
        return "IBMQ.enable_account() takes no job_rate="
    return None


async def _worker_sdk(args: argparse.Namespace) -> dict[str, Any]:
    from ibmq_async.platform import Sampler

    options = {"job_rate": (RATE, WINDOW)} if args.worker == "ibmq_async_rate" else {}
    backend = await sdk_backend(args.root, **options)
    creations = record_sdk_creations()
    circuit = trivial_circuit()
    finished: list[float] = []
    started = 0.0

    async def one() -> None:
        job = await Sampler(mode=backend).run([circuit], shots=SHOTS)
        result = await job.result()
        if result[0].data.c.num_shots != SHOTS:
            raise RuntimeError(f"job {job.job_id()}: {result[0].data.c.num_shots} shots")
        finished.append(time.perf_counter() - started)

    await asyncio.sleep(SETTLE)
    mark("start")
    cpu_before = client_usage()["cpu_seconds"]
    started = time.perf_counter()
    started_monotonic = time.monotonic()
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(args.n)), return_exceptions=True),
            args.deadline,
        )
    except TimeoutError:
        outcomes = []
    elapsed = time.perf_counter() - started
    cpu = client_usage()["cpu_seconds"] - cpu_before
    await asyncio.sleep(SETTLE)
    mark("end")
    failures = [
        f"{type(o).__name__}: {str(o)[:300]}" for o in outcomes if isinstance(o, BaseException)
    ]
    kinds: dict[str, int] = {}
    for failure in failures:
        kind = failure.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "n": args.n,
        "completed": len(finished),
        "finished": len(finished) == args.n,
        "elapsed_seconds": round(elapsed, 3),
        "seconds_to_last_result": round(max(finished), 3) if finished else None,
        "failed_jobs": len(failures),
        "failures_by_kind": kinds,
        "first_error": failures[0] if failures else None,
        "not_done_at_deadline": args.n - len(finished) - len(failures),
        "creations": [
            [round(sent - started_monotonic, 4), round(answered - started_monotonic, 4), status]
            for sent, answered, status in creations
        ],
        "client_cpu_seconds": round(cpu, 3),
        "concurrency": "asyncio.gather over all N (run then result)"
        + (f", job_rate=({RATE}, {WINDOW})" if options else ", the SDK's defaults"),
    }


def worker_main(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(_worker_sdk(args))), flush=True)
    os._exit(0)


# --- the orchestrator ---------------------------------------------------------------------


def creations(service: PlatformService, start: int, end: int) -> dict[str, Any]:
    """The job creations the service answered between two log offsets: their statuses in
    the order answered (``"200x5 429x15 ..."``), how many created a job, how many 429s."""
    with service.log.open("rb") as handle:
        handle.seek(start)
        text = handle.read(end - start).decode(errors="replace")
    statuses = []
    for line in text.splitlines():
        if f"access: {CREATE} " in line:
            statuses.append(line.split(f"access: {CREATE} ", 1)[1].split(" ", 1)[0])
    runs: list[list[Any]] = []
    for status in statuses:
        if runs and runs[-1][0] == status:
            runs[-1][1] += 1
        else:
            runs.append([status, 1])
    return {
        "answers_in_order": " ".join(f"{status}x{count}" for status, count in runs),
        "created": statuses.count("200"),
        "rate_limited_429": statuses.count("429"),
        "other_answers": len(statuses) - statuses.count("200") - statuses.count("429"),
    }


def told(creations: list[list[Any]]) -> dict[str, Any]:
    """Which 429s the client could have avoided, from its own record of its creations
    (``[sent, answered, status]``): a 429 is avoidable when its request was sent after the
    client had received a 429 (and with it ``Retry-After``); the others were already in
    flight, sent before the client could know the rate."""
    answered_429 = [answered for _, answered, status in creations if status == 429]
    if not answered_429:
        return {"client_saw_429": 0, "avoidable_429": 0, "in_flight_429": 0}
    first = min(answered_429)
    after = sum(1 for sent, _, status in creations if status == 429 and sent >= first)
    return {
        "client_saw_429": len(answered_429),
        "avoidable_429": after,
        "in_flight_429": len(answered_429) - after,
        "first_429_answered_after_seconds": round(first, 3),
    }


def _one_run(way: str, args: argparse.Namespace, runtime: Path | None) -> dict[str, Any]:
    settings = {"jobs_per_minute": RATE, "rate_window_seconds": WINDOW}
    with platform_service(**settings) as service:
        if way.startswith("runtime"):
            assert runtime is not None
            command = [
                str(runtime), str(BENCH_DIR / "_runtime_client.py"), "paced", service.root,
                API_KEY, INSTANCE, str(args.n), "--threads", str(RUNTIME_THREADS),
                "--shots", str(SHOTS), "--deadline", str(args.deadline),
                "--retry-429", str(WINDOW if way == "runtime_retry" else 0.0),
            ]  # fmt: skip
            env = runtime_env(service)
        else:
            command = [
                sys.executable, __file__, "--worker", way, "--root", service.root,
                "--n", str(args.n), "--deadline", str(args.deadline),
            ]  # fmt: skip
            env = project_env()
        run = run_marked(command, service, timeout=args.deadline + 180, env=env)
        report = dict(run.report)
        if not report or not {"start", "end"} <= set(run.marks):
            return {"failed": True, "error": f"worker exited {run.returncode}: {run.stderr}"}
        timed = run.between(service, "start", "end")
        counted = creations(service, run.marks["start"].log_offset, run.marks["end"].log_offset)
    report.update(counted)
    report.update(told(report.get("creations") or []))
    report["requests"] = timed["requests"]
    report["requests_by_route"] = timed["requests_by_route"]
    report["server_cpu_seconds"] = timed["service_cpu_seconds"]
    return report


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    runs = document["results"]["runs"]
    ways = [way for way in document["ways"] if not runs[way].get("skipped")]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    xs = range(len(ways))
    series = (
        ("429s met", "rate_limited_429", "#ff7f0e", -0.27),
        ("avoidable 429s", "avoidable_429", "#d62728", 0.0),
        ("failed jobs", "failed_jobs", "#7f7f7f", 0.27),
    )
    for label, key, color, offset in series:
        values = [runs[way].get(key) or 0 for way in ways]
        bars = left.bar([x + offset for x in xs], values, 0.27, label=label, color=color)
        for bar, value in zip(bars, values, strict=True):
            anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
            left.annotate(str(value), anchor, ha="center", va="bottom", fontsize=8)
    left.set_xticks(list(xs), ways)
    left.set_ylabel(f"count (of {document['settings']['n']} jobs)")
    left.legend(fontsize=8)
    left.set_title("429s and failures", fontsize=10)
    seconds = [runs[way].get("seconds_to_last_result") or 0 for way in ways]
    bars = right.bar(ways, seconds, color="#1f77b4")
    for bar, value, way in zip(bars, seconds, ways, strict=True):
        done = runs[way].get("completed")
        anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        right.annotate(
            f"{value:.1f} s\n{done} results", anchor, ha="center", va="bottom", fontsize=8
        )
    ideal = document["settings"]["ideal_seconds"]
    right.axhline(ideal, color="#2ca02c", linestyle="--", label=f"the limit's minimum ({ideal} s)")
    right.set_ylabel("seconds to the last result")
    right.legend(fontsize=8)
    right.set_title("Time to the last result", fontsize=10)
    settings = document["settings"]
    figure.suptitle(
        f"{settings['n']} jobs under {RATE} jobs per {WINDOW:g} s "
        f"({document['machine'].get('cpus')} CPUs)"
    )
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 20")
    parser.add_argument("--n", type=int, help="jobs (default 60)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, help="default: all")
    parser.add_argument("--runtime-python", help="interpreter holding qiskit-ibm-runtime 0.51")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds a run may take")
    parser.add_argument("--worker", choices=SDK_WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n or (20 if args.quick else 60)
    if args.worker:
        worker_main(args)
        return
    ways = list(args.ways or WAYS)
    missing = sdk_platform_missing()
    rate_missing = missing or sdk_rate_missing()
    if missing:
        log(f"the SDK ways are skipped: {missing}")
    elif rate_missing:
        log(f"ibmq_async_rate is skipped: {rate_missing}")
    runtime = None
    if {"runtime", "runtime_retry"} & set(ways):
        from _original_env import runtime_python

        runtime = runtime_python(args.runtime_python)
    info = machine()
    started = time.monotonic()
    runs: dict[str, dict[str, Any]] = {}
    for way in ways:
        why = missing if way == "ibmq_async" else rate_missing if way == "ibmq_async_rate" else None
        if why:
            runs[way] = sdk_note(why)
            continue
        log(f"{way}: {args.n} jobs under {RATE} per {WINDOW:g} s")
        report = _one_run(way, args, runtime)
        runs[way] = report
        log(
            f"  {report.get('completed')} results, {report.get('failed_jobs')} failed, "
            f"{report.get('rate_limited_429')} 429s ({report.get('avoidable_429')} avoidable), "
            f"last result after {report.get('seconds_to_last_result')} s"
            + (f"; {report['error'][:300]}" if report.get("error") else "")
        )
    ideal = round((math.ceil(args.n / RATE) - 1) * WINDOW, 1)
    document = {
        "benchmark": "platform_paced",
        "machine": info,
        "settings": {
            "n": args.n,
            "rate": f"{RATE} jobs per {WINDOW:g} s (jobs_per_minute = {RATE}, "
            f"rate_window_seconds = {WINDOW:g})",
            "ideal_seconds": ideal,
            "job": f"SamplerV2 job, {CIRCUIT}, {SHOTS} shots",
            "runtime_python": str(runtime) if runtime else None,
            "sdk_missing": missing,
            "sdk_rate_missing": rate_missing,
        },
        "ways": ways,
        "results": {"runs": runs},
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
