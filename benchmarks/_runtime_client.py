"""qiskit-ibm-runtime's side of the platform benchmarks. Runs in qiskit-ibm-runtime 0.51's
environment (see ``_original_env.py``), never in the project's: it imports nothing of
``ibmq_async`` and nothing of ``benchmarks``.

It connects as docs/platform.md "Connecting" says: ``IAM_URL``, ``GLOBAL_SEARCH_URL`` and
``GLOBAL_CATALOG_URL`` in the environment (set by the orchestrator), then
``QiskitRuntimeService(channel="ibm_quantum_platform", token=KEY, instance=CRN, url=ROOT,
url_resolver=lambda *args, **kwargs: f"{ROOT}/api/v1")``. Every job is a ``SamplerV2`` job
of one qubit (``x``, ``measure``), as its users write it: ``SamplerV2(mode=backend).run([circuit],
shots=S)`` then ``job.result()``.

Subcommands (each prints ``MARK <name>`` lines at the moments measured, and one JSON object
as its last line):

* ``throughput ROOT KEY CRN N``: N jobs, each task of a pool of ``--threads`` threads doing
  ``run`` then ``result()``; marks ``start`` and ``end`` around them (after a warm-up job).
* ``paced ROOT KEY CRN N``: the same, but every job is tried whatever the others did, and
  each failure is recorded (``run()`` raises on a 429: it does not retry a ``POST``);
  with ``--retry-429 S``, a ``run()`` that raised on a 429 is tried again after S seconds,
  as a careful user would write it.
* ``polling ROOT KEY CRN N --hold S``: N jobs submitted (the pool), then one thread per
  job blocked in ``job.result()`` (each polls its job every 0.5 s, the library's default);
  marks ``hold_start``, ``steady`` (``--settle`` seconds later) and ``hold_end``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
import warnings
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

warnings.filterwarnings("ignore")
logging.getLogger("qiskit_ibm_runtime").setLevel(logging.CRITICAL)

SIMULATOR = "ibmq_qasm_simulator"
SETTLE = 0.2
"""Seconds before each mark, outside what is timed (as ``_platform.SETTLE``)."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mark(name: str) -> None:
    sys.stdout.write(f"MARK {name}\n")
    sys.stdout.flush()


def connect(args: argparse.Namespace) -> Any:
    from qiskit_ibm_runtime import QiskitRuntimeService

    root = args.root
    service = QiskitRuntimeService(
        channel="ibm_quantum_platform",
        token=args.key,
        instance=args.crn,
        url=root,
        url_resolver=lambda *_, **__: f"{root}/api/v1",
    )
    return service.backend(SIMULATOR)


def circuit() -> Any:
    from qiskit import QuantumCircuit

    trivial = QuantumCircuit(1, 1)
    trivial.x(0)
    trivial.measure(0, 0)
    return trivial


def _run_and_collect(backend: Any, trivial: Any, shots: int, retry_429: float = 0.0) -> None:
    from qiskit_ibm_runtime import SamplerV2

    while True:
        try:
            job = SamplerV2(mode=backend).run([trivial], shots=shots)
            break
        except Exception as error:
            # What a careful user adds: run() raises on a 429 and keeps no Retry-After.
            if not retry_429 or "429" not in str(error):
                raise
            time.sleep(retry_429)
    result = job.result()
    if result[0].data.c.num_shots != shots:
        raise RuntimeError(f"job {job.job_id()}: {result[0].data.c.num_shots} shots")


def record_creations() -> list[list[Any]]:
    """Record every ``POST /v1/jobs`` where requests sends it, as ``[sent, answered,
    status]`` (``time.monotonic()``), into the list returned."""
    from requests.adapters import HTTPAdapter

    entries: list[list[Any]] = []
    lock = threading.Lock()
    send = HTTPAdapter.send

    def recorded(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.method != "POST" or not request.path_url.split("?")[0].endswith("/v1/jobs"):
            return send(self, request, *args, **kwargs)
        sent = time.monotonic()
        response = send(self, request, *args, **kwargs)
        with lock:
            entries.append([sent, time.monotonic(), response.status_code])
        return response

    HTTPAdapter.send = recorded  # type: ignore[method-assign]
    return entries


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:300]}"


def throughput(args: argparse.Namespace, *, paced: bool) -> dict[str, Any]:
    backend = connect(args)
    trivial = circuit()
    creations = record_creations() if paced else None
    if not paced:
        _run_and_collect(backend, trivial, args.shots)  # warm-up: the first job's imports
    completed = 0
    last_result = None
    lock = threading.Lock()
    failures: list[str] = []
    start = 0.0

    def one(_: int) -> None:
        nonlocal completed, last_result
        try:
            _run_and_collect(backend, trivial, args.shots, args.retry_429)
        except Exception as error:
            with lock:
                failures.append(_describe(error))
            raise
        with lock:
            completed += 1
            last_result = time.perf_counter() - start

    time.sleep(SETTLE)
    mark("start")
    cpu_before = _cpu()
    start = time.perf_counter()
    start_monotonic = time.monotonic()
    pool = ThreadPoolExecutor(args.threads)
    futures = [pool.submit(one, index) for index in range(args.n)]
    _, pending = wait(
        futures, timeout=args.deadline, return_when="ALL_COMPLETED" if paced else FIRST_EXCEPTION
    )
    elapsed = time.perf_counter() - start
    cpu = _cpu() - cpu_before
    time.sleep(SETTLE)
    mark("end")
    pool.shutdown(wait=False, cancel_futures=True)
    kinds: dict[str, int] = {}
    for failure in failures:
        kind = failure.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "n": args.n,
        "completed": completed,
        "finished": completed == args.n,
        "elapsed_seconds": round(elapsed, 3),
        "seconds_to_last_result": None if last_result is None else round(last_result, 3),
        "errors": len(failures),
        "failed_jobs": len(failures),
        "failures_by_kind": kinds,
        "first_error": failures[0] if failures else None,
        "not_done_at_deadline": len(pending),
        "creations": None
        if creations is None
        else [
            [round(sent - start_monotonic, 4), round(answered - start_monotonic, 4), status]
            for sent, answered, status in creations
        ],
        "client_cpu_seconds": round(cpu, 3),
        "client_max_rss_bytes": _max_rss(),
        "concurrency": f"{args.threads} threads, each SamplerV2(mode=backend).run([circuit])"
        " then job.result() (polls every 0.5 s)",
    }


def polling(args: argparse.Namespace) -> None:
    from qiskit_ibm_runtime import SamplerV2

    backend = connect(args)
    trivial = circuit()
    report: dict[str, Any] = {"n": args.n}
    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        jobs = list(
            pool.map(
                lambda _: SamplerV2(mode=backend).run([trivial], shots=args.shots), range(args.n)
            )
        )
    report["submit_seconds"] = round(time.perf_counter() - started, 2)
    ended_early: list[str] = []

    def wait_for(job: Any) -> None:
        try:
            job.result()
            ended_early.append("result")
        except Exception as error:
            ended_early.append(_describe(error))

    started = time.perf_counter()
    threads = [threading.Thread(target=wait_for, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    report["threads_started_seconds"] = round(time.perf_counter() - started, 2)
    mark("hold_start")
    cpu_start = _cpu()
    time.sleep(args.settle)
    mark("steady")
    cpu_steady = _cpu()
    time.sleep(max(0.0, args.hold - args.settle))
    cpu_end = _cpu()
    mark("hold_end")
    report.update(
        {
            "hold_cpu_seconds": round(cpu_end - cpu_start, 3),
            "steady_cpu_seconds": round(cpu_end - cpu_steady, 3),
            "threads": threading.active_count(),
            "waits_ended_early": len(ended_early),
            "first_early_end": ended_early[0] if ended_early else None,
            "client_max_rss_bytes": _max_rss(),
            "concurrency": f"{args.n} threads, each in job.result() (polls every 0.5 s)",
        }
    )
    print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("throughput", "paced", "polling"))
    parser.add_argument("root")
    parser.add_argument("key")
    parser.add_argument("crn")
    parser.add_argument("n", type=int)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument(
        "--retry-429", type=float, default=0.0, help="paced: sleep this long and retry on a 429"
    )
    args = parser.parse_args()
    try:
        if args.command == "polling":
            polling(args)
        else:
            report = throughput(args, paced=args.command == "paced")
            print(json.dumps(report), flush=True)
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    # Threads still waiting on a job would keep the process alive.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
