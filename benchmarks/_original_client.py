"""The original client's side of the benchmarks. Runs in the original client's environment
(qiskit-ibmq-provider 0.20.2 on qiskit-terra 0.46, see ``_original_env.py``), never in the
project's: it imports nothing of ``ibmq_async`` and nothing of ``benchmarks``.

Subcommands (each prints one JSON object as its last line):

* ``throughput URL TOKEN QOBJ_FILE N --threads 32 --deadline S``: N jobs of the Qobj,
  each thread of the pool doing ``backend.run(qobj)`` then ``job.result()``; also counts
  how the client waited (websocket sessions, polling fallbacks).
* ``serialize QOBJ_FILE RESULT_FILE --repeat R``: the original's Qobj encoding
  (``json.dumps(QasmQobj.to_dict(), cls=IQXJsonEncoder)``) and Result decoding
  (``json.loads``, ``decode_result``, ``Result.from_dict``), best of R.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

# The original client and terra 0.46 warn about their own deprecation on import and on most
# calls (the IBMQ entry point, Qobj input to run()); that is noise here.
warnings.filterwarnings("ignore")

SIMULATOR = "ibmq_qasm_simulator"


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_bytes": usage.ru_maxrss * 1024,
    }


def _count_waits() -> dict[str, int]:
    """Count the websocket waits and polling fallbacks of the original client."""
    from qiskit.providers.ibmq.api.clients.account import AccountClient

    counts = {"websocket": 0, "websocket_failed": 0, "polling": 0}
    lock = threading.Lock()
    websocket = AccountClient._job_final_status_websocket
    polling = AccountClient._job_final_status_polling

    def websocket_wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            counts["websocket"] += 1
        try:
            return websocket(self, *args, **kwargs)
        except Exception:
            with lock:
                counts["websocket_failed"] += 1
            raise

    def polling_wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            counts["polling"] += 1
        return polling(self, *args, **kwargs)

    AccountClient._job_final_status_websocket = websocket_wait
    AccountClient._job_final_status_polling = polling_wait
    return counts


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    from qiskit import IBMQ
    from qiskit.qobj import QasmQobj

    with open(args.qobj_file, encoding="utf-8") as handle:
        qobj = QasmQobj.from_dict(json.load(handle))
    provider = IBMQ.enable_account(args.token, url=args.url)
    backend = provider.get_backend(SIMULATOR)
    waits = _count_waits()
    completed = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal completed
        job = backend.run(qobj)
        result = job.result()
        if not result.success:
            raise RuntimeError(f"job {job.job_id()} did not succeed")
        with lock:
            completed += 1

    cpu_before = _usage()["cpu_seconds"]
    start = time.perf_counter()
    pool = ThreadPoolExecutor(args.threads)
    futures = [pool.submit(one, index) for index in range(args.n)]
    done, pending = wait(futures, timeout=args.deadline, return_when=FIRST_EXCEPTION)
    elapsed = time.perf_counter() - start
    errors = [repr(f.exception()) for f in done if f.exception() is not None]
    pool.shutdown(wait=not pending and not errors, cancel_futures=True)
    usage = _usage()
    return {
        "n": args.n,
        "completed": completed,
        "finished": completed == args.n,
        "elapsed_seconds": round(elapsed, 3),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "client_cpu_seconds": round(usage["cpu_seconds"] - cpu_before, 3),
        "client_max_rss_bytes": usage["max_rss_bytes"],
        "waits": waits,
        "concurrency": f"{args.threads} threads, each backend.run(qobj) then job.result()",
    }


def _best_of(repeat: int, work: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def serialize(args: argparse.Namespace) -> dict[str, Any]:
    from qiskit.providers.ibmq.utils.json_decoder import decode_result
    from qiskit.providers.ibmq.utils.json_encoder import IQXJsonEncoder
    from qiskit.qobj import QasmQobj
    from qiskit.result import Result

    with open(args.qobj_file, encoding="utf-8") as handle:
        qobj = QasmQobj.from_dict(json.load(handle))
    with open(args.result_file, "rb") as handle:
        body = handle.read()

    def encode() -> bytes:
        # IBMQBackend._submit_job, then Job.put_object_storage (requests sends the str).
        return json.dumps(qobj.to_dict(), cls=IQXJsonEncoder).encode()

    def decode() -> Any:
        # Job.get_object_storage (requests' response.json()), then IBMQJob._set_result.
        raw = json.loads(body)
        raw["client_version"] = {"qiskit-ibmq-provider": "0.20.2"}
        decode_result(raw)
        return Result.from_dict(raw)

    encoded = encode()
    result = decode()
    checks = {
        "encoded_bytes": len(encoded),
        "experiments": len(result.results),
        "first_memory_length": len(result.get_memory(0)),
    }
    gc.collect()
    return {
        "qobj_encode_seconds": round(_best_of(args.repeat, encode), 5),
        "result_decode_seconds": round(_best_of(args.repeat, decode), 5),
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("throughput")
    run.add_argument("url")
    run.add_argument("token")
    run.add_argument("qobj_file")
    run.add_argument("n", type=int)
    run.add_argument("--threads", type=int, default=32)
    run.add_argument("--deadline", type=float, default=300.0)
    ser = commands.add_parser("serialize")
    ser.add_argument("qobj_file")
    ser.add_argument("result_file")
    ser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    report = throughput(args) if args.command == "throughput" else serialize(args)
    print(json.dumps(report), flush=True)
    # Threads still waiting on a job after the deadline would keep the process alive.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
