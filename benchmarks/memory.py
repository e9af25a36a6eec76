"""Benchmark: the client's memory with many jobs awaiting their results at once.

The service (``ibmq-async serve`` in its own process) hosts the simulator with its queue
paused, so every job stays QUEUED and every ``job.result()`` keeps waiting. Three client
processes, one after the other:

* the baseline: the same imports and ``enable_account`` as the measured process, no jobs;
* the bare tasks: the same, then N tasks each awaiting an ``asyncio.Event``, the way the
  measured process starts its waits, with no SDK in them: the stall that starting N tasks
  at once costs whatever they do;
* the measured one: submits N jobs (``backend.run(qobj)``, 32 submissions in flight at a
  time), then starts N tasks each awaiting ``job.result()``, holds them for ``--hold``
  seconds while sampling its RSS every 0.25 s, then cancels them.

Reported: the peak RSS of each process (``psutil`` samples and ``getrusage``), the RSS after
submission (the N ``IBMQJob`` objects alone), and bytes per in-flight job:
``(peak RSS of the measured process - peak RSS of the baseline) / N``. Also the client's CPU
time during the hold (a waiting client should be idle) as a fraction of one core, the
longest stall of the event loop in each phase (submission, the start of the waits: the
first ``START_PHASE`` seconds after the N tasks are made, the rest of the hold), how many
waits ended early and why, and the service's RSS with N queued jobs.

CPython's cyclic garbage collector stops the process while it walks every tracked object,
so with thousands of jobs alive its full collections are stalls of their own, whatever the
SDK does: they are recorded from ``gc.callbacks`` (the longest per phase, and the number of
tracked objects), and each stall is also reported without the collections inside it.

A stall is measured two ways: a heartbeat coroutine sleeps ``BEAT`` seconds at a time and
records how much later than asked it woke (exact, but only known once the loop runs it
again), and a thread checks every ``SAMPLE_EVERY`` seconds how long ago the heartbeat last
ran (so a loop that never comes back is still seen). The thread also samples RSS and ends
the hold on time, so the figures come out even when the event loop is saturated.

Usage::

    python benchmarks/memory.py                   # N = 10,000 (about 5 minutes)
    python benchmarks/memory.py --quick           # N = 1,000
    python benchmarks/memory.py --chart benchmarks/charts/memory.png
    python benchmarks/memory.py --before /tmp/before   # and the SDK of another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SIMULATOR,
    child_env,
    client_usage,
    emit,
    local_service,
    log,
    machine,
    pyplot,
    run_worker,
    save_chart,
    service_toml,
)
from throughput import trivial_qobj

SUBMIT_IN_FLIGHT = 32
SAMPLE_EVERY = 0.25
BEAT = 0.01
START_PHASE = 5.0
PHASES = ("login", "submission", "start of the waits", "hold")


class Watch:
    """Samples this process from a thread, so that it keeps measuring (and ends the hold on
    time) even when the event loop is too busy to run anything: RSS every
    ``SAMPLE_EVERY`` seconds, and how late the loop's heartbeat is (its lag)."""

    def __init__(self, hold: float) -> None:
        import psutil

        self._process = psutil.Process()
        self.hold = hold
        self.started = time.monotonic()
        self.samples: list[tuple[float, int]] = []
        self.beat = time.monotonic()
        self.max_lag = 0.0
        self.phase = "login"
        self.stalls: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.stalls_without_gc: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.gc_pauses: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.gc_counts: collections.Counter[str] = collections.Counter()
        self._gc_started = 0.0
        self._gc_intervals: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=100_000
        )
        gc.callbacks.append(self._on_gc)
        self.hold_started: float | None = None
        self.report: dict[str, Any] = {}
        self.waits: list[asyncio.Future[Any]] = []
        self.cpu_at_hold = 0.0
        self.cpu_after_start: float | None = None
        self._lock = threading.Lock()

    def rss(self) -> int:
        rss = int(self._process.memory_info().rss)
        with self._lock:
            self.samples.append((round(time.monotonic() - self.started, 2), rss))
        return rss

    def current_phase(self, now: float) -> str:
        if self.hold_started is not None and now - self.hold_started >= START_PHASE:
            return "hold"
        return self.phase

    def record_stall(self, phase: str, stall: float) -> None:
        self.stalls[phase] = max(self.stalls[phase], stall)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_started = now
            return
        pause = now - self._gc_started
        self._gc_intervals.append((self._gc_started, now))
        current = self.current_phase(self._gc_started)
        self.gc_pauses[current] = max(self.gc_pauses[current], pause)
        if info.get("generation") == 2:
            self.gc_counts[current] += 1

    def gc_time_between(self, start: float, end: float) -> float:
        """Seconds of collections between ``start`` and ``end`` (recent: read from the end,
        so that a heartbeat costs next to nothing however many collections came before)."""
        while True:
            try:
                total = 0.0
                for began, ended in reversed(self._gc_intervals):
                    if ended <= start:
                        break
                    total += max(0.0, min(end, ended) - max(start, began))
                return total
            except RuntimeError:  # a collection in the sampling thread appended meanwhile
                continue

    async def heartbeat(self) -> None:
        while True:
            asked = time.monotonic()
            self.beat = asked
            await asyncio.sleep(BEAT)
            woke = time.monotonic()
            phase = self.current_phase(asked)
            late = woke - asked - BEAT
            self.record_stall(phase, late)
            without = late - self.gc_time_between(asked, woke)
            self.stalls_without_gc[phase] = max(self.stalls_without_gc[phase], without)

    def start_hold(self, waits: list[asyncio.Future[Any]]) -> None:
        self.waits = waits
        self.cpu_at_hold = client_usage()["cpu_seconds"]
        self.phase = "start of the waits"
        self.hold_started = time.monotonic()

    def thread(self) -> None:
        while True:
            time.sleep(SAMPLE_EVERY)
            self.rss()
            now = time.monotonic()
            lag = now - self.beat - BEAT
            self.record_stall(self.current_phase(self.beat), lag)
            if self.hold_started is not None:
                if self.cpu_after_start is None and now - self.hold_started >= START_PHASE:
                    self.cpu_after_start = client_usage()["cpu_seconds"]
                self.max_lag = max(self.max_lag, lag)
                if now - self.hold_started >= self.hold:
                    self.finish()

    def finish(self) -> None:
        """End the hold: write the report and leave (the waits are never awaited)."""
        report = self.report
        assert self.hold_started is not None
        report["hold_seconds"] = round(time.monotonic() - self.hold_started, 1)
        report["hold_cpu_seconds"] = round(client_usage()["cpu_seconds"] - self.cpu_at_hold, 2)
        report["hold_cpu_fraction_of_a_core"] = round(
            report["hold_cpu_seconds"] / report["hold_seconds"], 3
        )
        if self.cpu_after_start is not None:
            steady = client_usage()["cpu_seconds"] - self.cpu_after_start
            report["hold_cpu_fraction_of_a_core_after_start"] = round(
                steady / max(report["hold_seconds"] - START_PHASE, 1e-9), 3
            )
        report["max_event_loop_lag_seconds"] = round(self.max_lag, 3)
        report["max_stall_seconds_by_phase"] = {k: round(v, 3) for k, v in self.stalls.items()}
        report["max_stall_without_gc_seconds_by_phase"] = {
            k: round(v, 3) for k, v in self.stalls_without_gc.items()
        }
        report["max_gc_pause_seconds_by_phase"] = {
            k: round(v, 3) for k, v in self.gc_pauses.items()
        }
        report["full_collections_by_phase"] = dict(self.gc_counts)
        report["gc_tracked_objects_at_end"] = len(gc.get_objects())
        report["rss_at_end_of_hold"] = self.rss()
        with self._lock:
            samples = list(self.samples)
        report["peak_rss"] = max(rss for _, rss in samples)
        report["max_rss_getrusage"] = client_usage()["max_rss_bytes"]
        reasons: collections.Counter[str] = collections.Counter()
        first = None
        for wait in list(self.waits):
            if wait.done() and not wait.cancelled():
                error = wait.exception()
                reasons[type(error).__name__ if error else "result"] += 1
                first = first or error
        report["waits_still_pending"] = len(self.waits) - sum(reasons.values())
        report["waits_ended_early"] = dict(reasons)
        report["first_error"] = None if first is None else repr(first)[:600]
        report["rss_samples"] = samples[:: max(1, len(samples) // 200)]
        print(json.dumps(report), flush=True)
        os._exit(0)  # the pending waits are not worth a clean shutdown


async def _worker(args: argparse.Namespace, qobj: dict[str, Any]) -> None:
    from ibmq_async import IBMQFactory

    watch = Watch(args.hold)
    factory = IBMQFactory()
    provider = await factory.enable_account(args.token, url=args.url)
    assert provider is not None
    backend = provider.get_backend(SIMULATOR)
    beating = asyncio.ensure_future(watch.heartbeat())
    watch.report["rss_after_login"] = watch.rss()
    threading.Thread(target=watch.thread, daemon=True).start()
    if args.worker == "jobs":
        watch.phase = "submission"
        gate = asyncio.Semaphore(SUBMIT_IN_FLIGHT)

        async def submit() -> Any:
            async with gate:
                return await backend.run(qobj)

        started = time.monotonic()
        jobs = await asyncio.gather(*(submit() for _ in range(args.n)))
        watch.report["submit_seconds"] = round(time.monotonic() - started, 1)
        watch.report["rss_after_submit"] = watch.rss()
        if args.gc_freeze:
            gc.freeze()  # the jobs are long-lived: the collector stops walking them
        log(f"worker: {len(jobs)} jobs submitted in {watch.report['submit_seconds']} s")
        watch.start_hold([asyncio.ensure_future(job.result()) for job in jobs])
    elif args.worker == "bare_tasks":
        # What the start of N waits costs with no SDK at all: N tasks awaiting an event.
        never = asyncio.Event()
        watch.start_hold([asyncio.ensure_future(never.wait()) for _ in range(args.n)])
    else:
        watch.start_hold([])
    await asyncio.sleep(args.hold + 3600)  # the watch thread ends the process
    beating.cancel()


def worker_main(args: argparse.Namespace) -> None:
    qobj = json.loads(Path(args.qobj_file).read_text(encoding="utf-8"))
    asyncio.run(_worker(args, qobj))


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    measured = document["measured"]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    xs = [t for t, _ in measured["rss_samples"]]
    ys = [rss / 2**20 for _, rss in measured["rss_samples"]]
    axis.plot(xs, ys, color="#1f77b4", label=f"{document['settings']['n']} jobs")
    before = document.get("before_measured")
    if before is not None:
        axis.plot(
            [t for t, _ in before["rss_samples"]],
            [rss / 2**20 for _, rss in before["rss_samples"]],
            color="#ff7f0e",
            label=f"{document['settings']['n']} jobs, the SDK before (--before)",
        )
    axis.axhline(
        document["baseline"]["peak_rss"] / 2**20,
        color="#7f7f7f",
        linestyle="--",
        label="baseline (same imports, no jobs)",
    )
    submitted = measured["submit_seconds"]
    axis.axvline(submitted, color="#2ca02c", linestyle=":", label="all submitted; waits start")
    axis.set_xlabel("seconds since login")
    axis.set_ylabel("client RSS, MiB")
    per_job = document["results"]["bytes_per_in_flight_job"]
    axis.set_title(
        f"Client RSS with {document['settings']['n']} jobs awaiting results "
        f"({per_job / 1024:.1f} KiB per in-flight job)"
    )
    axis.legend(fontsize=8, loc="lower right")
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and a 10 s hold")
    parser.add_argument("--n", type=int, help="jobs in flight (default 10,000)")
    parser.add_argument("--hold", type=float, help="seconds the waits are held (default 30)")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="call gc.freeze() once the jobs are submitted (what a service holding many "
        "jobs can do so that full collections do not walk them)",
    )
    parser.add_argument(
        "--before",
        help="also measure the SDK of this checkout (its path), against a fresh service",
    )
    parser.add_argument(
        "--worker", choices=("baseline", "bare_tasks", "jobs"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--qobj-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n or (1000 if args.quick else 10_000)
    args.hold = args.hold if args.hold is not None else (10.0 if args.quick else 30.0)
    if args.worker:
        worker_main(args)
        return

    if args.before is not None:
        args.before = str(Path(args.before).resolve())
    info = machine()
    started = time.monotonic()
    sides = {"after": None} if args.before is None else {"after": None, "before": args.before}
    measurements: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
        qobj_file = Path(tmp) / "qobj.json"
        qobj_file.write_text(json.dumps(trivial_qobj()), encoding="utf-8")
        for side, checkout in sides.items():
            workers = (
                ("baseline", "bare_tasks", "jobs") if side == "after" else ("baseline", "jobs")
            )
            measurements[side] = _measure(args, qobj_file, workers, checkout)
    after = measurements["after"]
    results = _results(after, after["bare_tasks"], args.n)
    document = {
        "benchmark": "memory",
        "machine": info,
        "settings": {
            "n": args.n,
            "hold_seconds": args.hold,
            "submission": f"backend.run(qobj), {SUBMIT_IN_FLIGHT} at a time",
            "waits": "one asyncio task per job awaiting job.result(), all at once",
            "service": "ibmq-async serve subprocess, simulator queue paused (jobs stay QUEUED)",
            "gc_freeze_after_submission": args.gc_freeze,
            "before": args.before,
        },
        "results": results,
        "baseline": after["baseline"],
        "measured": after["jobs"],
        "seconds": round(time.monotonic() - started, 1),
    }
    if "before" in measurements:
        before = measurements["before"]
        document["results_before"] = _results(before, after["bare_tasks"], args.n)
        document["before_baseline"] = before["baseline"]
        document["before_measured"] = before["jobs"]
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


def _measure(
    args: argparse.Namespace, qobj_file: Path, workers: tuple[str, ...], checkout: str | None
) -> dict[str, Any]:
    """Run ``workers`` one after the other against a fresh service, ``import ibmq_async``
    from ``checkout`` if given (the ``--before`` side)."""
    documents: dict[str, Any] = {}
    env = None if checkout is None else child_env(PYTHONPATH=checkout)
    with local_service(service_toml(paused=True)) as service:
        for worker in workers:
            side = "" if checkout is None else " (before)"
            log(f"{worker} process{side}" + (f": {args.n} jobs" if worker == "jobs" else ""))
            command = [
                sys.executable, __file__, "--worker", worker, "--url", service.url,
                "--token", service.token, "--qobj-file", str(qobj_file),
                "--n", str(args.n),
                "--hold", str(START_PHASE + 1 if worker == "bare_tasks" else args.hold),
                *(["--gc-freeze"] if args.gc_freeze else []),
            ]  # fmt: skip
            run = run_worker(command, timeout=args.hold + 1800, env=env)
            if not run.report:
                raise RuntimeError(f"the {worker} worker{side} failed:\n{run.stderr}")
            documents[worker] = run.report
        documents["service_rss"] = service.rss_bytes()
    return documents


def _results(documents: dict[str, Any], bare_tasks: dict[str, Any], n: int) -> dict[str, Any]:
    baseline, measured = documents["baseline"], documents["jobs"]
    delta = measured["peak_rss"] - baseline["peak_rss"]
    service_rss = documents["service_rss"]
    return {
        "baseline_peak_rss_mib": round(baseline["peak_rss"] / 2**20, 1),
        "peak_rss_mib": round(measured["peak_rss"] / 2**20, 1),
        "rss_after_submit_mib": round(measured["rss_after_submit"] / 2**20, 1),
        "bytes_per_in_flight_job": round(delta / n),
        "bytes_per_submitted_job_before_waits": round(
            (measured["rss_after_submit"] - measured["rss_after_login"]) / n
        ),
        "submit_seconds": measured["submit_seconds"],
        "hold_seconds": measured["hold_seconds"],
        "client_cpu_seconds_during_hold": measured["hold_cpu_seconds"],
        "client_cpu_fraction_of_a_core_during_hold": measured["hold_cpu_fraction_of_a_core"],
        "client_cpu_fraction_of_a_core_after_the_start": measured.get(
            "hold_cpu_fraction_of_a_core_after_start"
        ),
        "baseline_cpu_fraction_of_a_core_during_hold": baseline["hold_cpu_fraction_of_a_core"],
        "max_event_loop_lag_seconds": measured["max_event_loop_lag_seconds"],
        "max_stall_seconds_by_phase": measured["max_stall_seconds_by_phase"],
        "max_stall_without_gc_seconds_by_phase": measured["max_stall_without_gc_seconds_by_phase"],
        "max_gc_pause_seconds_by_phase": measured["max_gc_pause_seconds_by_phase"],
        "full_collections_by_phase": measured["full_collections_by_phase"],
        "gc_tracked_objects_at_end": measured["gc_tracked_objects_at_end"],
        "baseline_gc_tracked_objects": baseline["gc_tracked_objects_at_end"],
        "baseline_max_event_loop_lag_seconds": baseline["max_event_loop_lag_seconds"],
        "bare_tasks_start_stall_seconds": bare_tasks["max_stall_seconds_by_phase"][
            "start of the waits"
        ],
        "waits_still_pending_at_end": measured["waits_still_pending"],
        "waits_ended_early": measured["waits_ended_early"],
        "first_error": measured["first_error"],
        "service_rss_mib_with_jobs_queued": round(service_rss / 2**20, 1),
    }


if __name__ == "__main__":
    main()
