"""Benchmark: jobs per second, submitted and collected against ``ibmq-async serve`` on
loopback, in six ways in the same run.

Each run gets a fresh service (``ibmq-async serve`` in its own process, the simulator with 8
workers and no job limit, a new database) and a fresh client process, and makes N jobs of a
trivial circuit (one qubit, ``x`` then ``measure``, 100 shots), so the service does little
work per job. The ways:

* ``ibmq_async``: the SDK with its defaults: ``asyncio.gather`` over all N coroutines, each
  ``job = await backend.run(qobj)`` then ``await job.result()`` (so N jobs in flight at
  once; the SDK sends at most 32 requests at once and keeps at most 32 status websockets
  open). ``qobj`` is a ``QasmQobj`` model parsed once, as the original is given terra's
  ``QasmQobj``.
* ``ibmq_async_32``: the same with at most 32 jobs in flight (an ``asyncio.Semaphore``
  around run + result), the concurrency of the original's 32 threads.
* ``ibmq_async_jobmanager``: ``IBMQJobManager().run(circuits, max_experiments_per_job=1)``
  then ``results()``, with its default concurrency (32 active jobs: the simulator has no
  job limit). The input is N ``QuantumCircuit``s, so it includes circuit conversion.
* ``original``: qiskit-ibmq-provider 0.20.2 in its own environment, a pool of 32 threads
  each doing ``backend.run(qobj)`` then ``job.result()`` (its websocket wait; the script
  counts websocket waits and polling fallbacks to show it used the websocket).
* ``floor``: bare httpx making the same calls with no SDK logic, at the same concurrency as
  ``ibmq_async``: all N jobs at once on one ``httpx.AsyncClient`` with the SDK's pool
  limits; login once, then per job ``POST Jobs``, ``PUT`` the Qobj, ``POST
  jobDataUploaded``, the status websocket until a final status, ``GET
  resultDownloadUrl``, ``GET`` the result, ``POST resultDownloaded``.
* ``floor_httpx``: the same calls with at most 8 jobs in flight (a semaphore), 8 pooled
  connections kept alive, and status polling (20 ms, doubling up to 1 s) instead of the
  websocket, on httpx's own transport: the least client CPU per job found for bare httpx
  on this machine.
* ``floor_aiohttp``: ``floor_httpx`` on the transport the SDK uses on asyncio
  (``ibmq_async.api.aiohttp_transport.AiohttpTransport``: aiohttp under httpx).
* ``floor_httpx_aiohttp``: ``floor_httpx`` on the ``httpx-aiohttp`` package's
  ``AiohttpTransport``, for comparison with the SDK's adapter.
* ``--before PATH``: the SDK ways once more (``ibmq_async_before``, ``ibmq_async_32_before``,
  ``ibmq_async_jobmanager_before``) with ``import ibmq_async`` taken from another checkout
  of the repository (``PYTHONPATH=PATH``), against the same services: the SDK before a
  change and after it, side by side in one run. With it, ``floor_protocol`` runs too:
  ``floor_httpx`` on the SDK's former hand-written HTTP/1.1 transport
  (``ibmq_async.api.transport.ProtocolTransport``), which only such a checkout has (the
  "before" figures of ``benchmarks/README.md``).

``floor_*`` make the same calls as the SDK with no SDK logic at all, so the distance from
the floor on the transport the SDK uses to ``ibmq_async`` is the SDK's own work.

Every run reports the client's and the service's CPU time per job besides jobs per
second: on a small machine both processes share the same cores, so the client's CPU per
job is what limits the rate, and it is steadier than the rate when the machine is busy.

A run that does not finish within ``--cap`` seconds is stopped; its rate is then reported
as an upper bound (``jobs_per_s_below``: N jobs take longer than the cap).

Usage::

    python benchmarks/throughput.py                 # N = 100, 500, 2000 (about 10 minutes)
    python benchmarks/throughput.py --quick         # N = 50, 200 (about 2 minutes)
    python benchmarks/throughput.py --chart benchmarks/charts/throughput.png
    git worktree add /tmp/before <commit>
    python benchmarks/throughput.py --before /tmp/before   # before and after in one run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    SIMULATOR,
    child_env,
    client_usage,
    emit,
    local_service,
    log,
    machine,
    pyplot,
    rounded,
    run_worker,
    save_chart,
)

FLOORS = ("floor_httpx", "floor_aiohttp", "floor_httpx_aiohttp", "floor_protocol")
"""The tuned floors (8 jobs in flight, polling), one per transport."""
SDK_WAYS = ("ibmq_async", "ibmq_async_32", "ibmq_async_jobmanager")
BEFORE_WAYS = tuple(f"{way}_before" for way in SDK_WAYS)
"""The SDK ways run on the checkout given by ``--before``."""
NEEDS_BEFORE = (*BEFORE_WAYS, "floor_protocol")
WAYS = ("original", *FLOORS, *SDK_WAYS, *BEFORE_WAYS, "floor")
DEFAULT_WAYS = tuple(way for way in WAYS if way != "floor" and way not in NEEDS_BEFORE)
SDK_TRANSPORT_FLOOR = "floor_aiohttp"
"""The floor on the transport the SDK uses for REST calls on asyncio."""
FULL_N = (100, 500, 2000)
QUICK_N = (50, 200)
SHOTS = 100
JOB_MANAGER_CONCURRENCY = 32
ORIGINAL_THREADS = 32
TUNED_IN_FLIGHT = 8
BOUNDED_IN_FLIGHT = 32
FINAL_STATUSES = frozenset(
    {"COMPLETED", "CANCELLED", "ERROR_CREATING_JOB", "ERROR_VALIDATING_JOB",
     "ERROR_TRANSPILING_JOB", "ERROR_RUNNING_JOB"}
)  # fmt: skip


def trivial_qobj() -> dict[str, Any]:
    """One experiment: ``x`` then ``measure`` on one qubit, as terra 0.46 would assemble it."""
    header = {
        "name": "trivial",
        "n_qubits": 1,
        "memory_slots": 1,
        "qreg_sizes": [["q", 1]],
        "creg_sizes": [["c", 1]],
        "qubit_labels": [["q", 0]],
        "clbit_labels": [["c", 0]],
        "global_phase": 0.0,
        "metadata": {},
    }
    return {
        "qobj_id": "benchmark-trivial",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {"backend_name": SIMULATOR, "backend_version": "0.1.547"},
        "config": {"shots": SHOTS, "memory": False, "memory_slots": 1, "n_qubits": 1},
        "experiments": [
            {
                "header": header,
                "config": {"n_qubits": 1, "memory_slots": 1},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }


# --- workers (each runs in a process of its own) ------------------------------------------


async def _timed(
    work: Callable[[], Awaitable[Any]], deadline: float
) -> dict[str, float | str | None]:
    """Run ``work`` until it ends or ``deadline`` seconds pass: the client's CPU seconds
    before, the elapsed seconds and the first error (``None`` at the deadline or done)."""
    cpu_before = client_usage()["cpu_seconds"]
    start = time.perf_counter()
    error = None
    try:
        await asyncio.wait_for(work(), deadline)
    except TimeoutError:
        pass
    except Exception as failure:
        error = repr(failure)
    return {
        "elapsed_seconds": time.perf_counter() - start,
        "cpu_before": cpu_before,
        "first_error": error,
    }


async def _gated(gate: asyncio.Semaphore | None, job: Callable[[], Awaitable[None]]) -> None:
    """``job()``, inside ``gate`` if there is one."""
    if gate is None:
        await job()
    else:
        async with gate:
            await job()


async def _worker_ibmq_async(args: argparse.Namespace, qobj: dict[str, Any]) -> dict[str, Any]:
    from ibmq_async import IBMQFactory
    from ibmq_async.models import QasmQobj

    model = QasmQobj.model_validate(qobj)  # parsed once, as the original's QasmQobj.from_dict
    factory = IBMQFactory()
    provider = await factory.enable_account(args.token, url=args.url)
    assert provider is not None
    backend = provider.get_backend(SIMULATOR)
    completed = 0

    gate = asyncio.Semaphore(args.bound) if args.bound else None

    async def run_and_collect() -> None:
        nonlocal completed
        job = await backend.run(model)
        result = await job.result()
        if not result.success:
            raise RuntimeError(f"job {job.job_id()} did not succeed")
        completed += 1

    timing = await _timed(
        lambda: asyncio.gather(*(_gated(gate, run_and_collect) for _ in range(args.n))),
        args.deadline,
    )
    return {
        "completed": completed,
        **timing,
        "concurrency": (
            f"asyncio.gather over all N, at most {args.bound} jobs in flight (a semaphore)"
            if args.bound
            else "asyncio.gather over all N (run then result); SDK default pool"
        ),
    }


async def _worker_jobmanager(args: argparse.Namespace, qobj: dict[str, Any]) -> dict[str, Any]:
    from qiskit import QuantumCircuit

    from ibmq_async import IBMQFactory, IBMQJobManager

    factory = IBMQFactory()
    provider = await factory.enable_account(args.token, url=args.url)
    assert provider is not None
    backend = provider.get_backend(SIMULATOR)
    circuits = []
    for index in range(args.n):
        circuit = QuantumCircuit(1, 1, name=f"trivial-{index}")
        circuit.x(0)
        circuit.measure(0, 0)
        circuits.append(circuit)
    done = 0

    def on_progress(counts: Any) -> None:
        nonlocal done
        done = int(counts.get("DONE", 0))

    async def work() -> None:
        nonlocal done
        job_set = await IBMQJobManager().run(
            circuits,
            backend=backend,
            max_experiments_per_job=1,
            shots=SHOTS,
            on_progress=on_progress,
        )
        results = await job_set.results()
        if not results.success:
            raise RuntimeError("the job set did not succeed")
        done = args.n

    timing = await _timed(work, args.deadline)
    return {
        "completed": done,
        **timing,
        "concurrency": f"IBMQJobManager default ({JOB_MANAGER_CONCURRENCY} active jobs)",
    }


def _floor_transport(way: str, limits: Any) -> Any:
    """The transport of a floor (``None``: the client makes httpx's own)."""
    if way == "floor_aiohttp":
        import httpx

        from ibmq_async.api.aiohttp_transport import AiohttpTransport

        return AiohttpTransport(limits=limits, timeout=httpx.Timeout(120.0))
    if way == "floor_httpx_aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    if way == "floor_protocol":
        from ibmq_async.api.transport import ProtocolTransport

        return ProtocolTransport(limits=limits)
    return None


async def _worker_floor(
    args: argparse.Namespace, qobj: dict[str, Any], *, way: str
) -> dict[str, Any]:
    import httpx
    from httpx_ws import aconnect_ws

    tuned = way in FLOORS
    if tuned:
        limits = httpx.Limits(
            max_connections=TUNED_IN_FLIGHT, max_keepalive_connections=TUNED_IN_FLIGHT
        )
        gate: asyncio.Semaphore | None = asyncio.Semaphore(TUNED_IN_FLIGHT)
    else:
        from ibmq_async.api.transports import DEFAULT_LIMITS  # the same pool as the SDK's

        limits, gate = DEFAULT_LIMITS, None
    body = json.dumps(qobj).encode()
    transport = _floor_transport(way, limits)
    async with httpx.AsyncClient(limits=limits, timeout=120.0, transport=transport) as client:
        login = await client.post(f"{args.url}/users/loginWithToken", json={"apiToken": args.token})
        token = login.raise_for_status().json()["id"]
        headers = {"X-Access-Token": token}
        urls = (await client.get(f"{args.url}/users/me", headers=headers)).json()["urls"]
        hub, group, project = "ibm-q", "open", "main"
        jobs = f"{urls['http']}/Network/{hub}/Groups/{group}/Projects/{project}/Jobs"

        json_headers = {**headers, "Content-Type": "application/json"}

        async def call(
            method: str, url: str, *, json_type: bool = False, **kwargs: Any
        ) -> httpx.Response:
            sent = json_headers if json_type else headers
            response = await client.request(method, url, headers=sent, **kwargs)
            return response.raise_for_status()

        async def wait_websocket(job_id: str) -> None:
            url = f"{urls['ws'].rstrip('/')}/jobs/{job_id}/status/v/1"
            async with aconnect_ws(url, client) as ws:
                await ws.send_text(json.dumps({"type": "authentication", "data": token}))
                await ws.receive_text()  # {"type": "authenticated"}
                while True:
                    message = json.loads(await ws.receive_text())
                    if message["data"]["status"] in FINAL_STATUSES:
                        return

        async def wait_polling(job_id: str) -> None:
            pause = 0.02
            while True:
                status = (await call("GET", f"{jobs}/{job_id}/status/v/1")).json()["status"]
                if status in FINAL_STATUSES:
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

        completed = 0

        async def submit_and_collect() -> None:
            nonlocal completed
            created = (
                await call(
                    "POST",
                    jobs,
                    json={"backend": {"name": SIMULATOR}, "allowObjectStorage": True},
                )
            ).json()
            job_id = created["id"]
            await call(
                "PUT", created["objectStorageInfo"]["uploadUrl"], content=body, json_type=True
            )
            await call("POST", f"{jobs}/{job_id}/jobDataUploaded")
            await (wait_polling(job_id) if tuned else wait_websocket(job_id))
            link = (await call("GET", f"{jobs}/{job_id}/resultDownloadUrl")).json()["url"]
            result = (await call("GET", link)).json()
            await call("POST", f"{jobs}/{job_id}/resultDownloaded")
            if not result.get("success"):
                raise RuntimeError(f"job {job_id} did not succeed")
            completed += 1

        timing = await _timed(
            lambda: asyncio.gather(*(_gated(gate, submit_and_collect) for _ in range(args.n))),
            args.deadline,
        )
    return {
        "completed": completed,
        **timing,
        "concurrency": (
            f"at most {TUNED_IN_FLIGHT} jobs in flight (a semaphore), {TUNED_IN_FLIGHT} pooled "
            "connections, status polling (20 ms doubling to 1 s)"
            + f", transport {type(transport).__name__ if transport else 'AsyncHTTPTransport'}"
            if tuned
            else "all N at once (asyncio.gather), the SDK's pool limits, status websocket"
        ),
    }


def worker_main(args: argparse.Namespace) -> None:
    args.n = args.n[0]
    qobj = json.loads(Path(args.qobj_file).read_text(encoding="utf-8"))
    way = args.worker.removesuffix("_before")  # the same client code on the other checkout
    if way in ("ibmq_async", "ibmq_async_32"):
        args.bound = BOUNDED_IN_FLIGHT if way == "ibmq_async_32" else None
        report = asyncio.run(_worker_ibmq_async(args, qobj))
    elif way == "ibmq_async_jobmanager":
        report = asyncio.run(_worker_jobmanager(args, qobj))
    else:
        report = asyncio.run(_worker_floor(args, qobj, way=way))
    usage = client_usage()
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
                "client_cpu_seconds": round(usage["cpu_seconds"] - report["cpu_before"], 3),
                "client_max_rss_bytes": usage["max_rss_bytes"],
                "concurrency": report["concurrency"],
            }
        ),
        flush=True,
    )
    import os

    os._exit(0)  # tasks cancelled at the deadline may still hold connections


# --- the orchestrator ---------------------------------------------------------------------


def _one_run(
    way: str, n: int, args: argparse.Namespace, original: Path | None, qobj_file: Path
) -> dict[str, Any]:
    with local_service() as service:
        cpu_before = service.cpu_seconds()
        if way == "original":
            assert original is not None
            command = [
                str(original), str(BENCH_DIR / "_original_client.py"), "throughput",
                service.url, service.token, str(qobj_file), str(n),
                "--threads", str(ORIGINAL_THREADS), "--deadline", str(args.cap),
            ]  # fmt: skip
            env = child_env()
        else:
            command = [
                sys.executable, __file__, "--worker", way, "--url", service.url,
                "--token", service.token, "--qobj-file", str(qobj_file), "--n", str(n),
                "--deadline", str(args.cap),
            ]  # fmt: skip
            env = child_env(PYTHONPATH=args.before) if way in NEEDS_BEFORE else None
        run = run_worker(command, timeout=args.cap + 120, env=env)
        server_cpu = service.cpu_seconds() - cpu_before
    report = dict(run.report)
    if not report:
        report = {
            "n": n,
            "completed": 0,
            "finished": False,
            "errors": 1,
            "first_error": f"worker exited {run.returncode}: {run.stderr[-1500:]}",
        }
    report["server_cpu_seconds"] = round(server_cpu, 3)
    _classify(report, n, args.cap)
    completed = report.get("completed") or 0
    if completed:
        report["client_cpu_ms_per_job"] = rounded(
            1000 * report["client_cpu_seconds"] / completed, 2
        )
        report["server_cpu_ms_per_job"] = rounded(1000 * server_cpu / completed, 2)
    return report


def _classify(report: dict[str, Any], n: int, cap: float) -> None:
    """Set ``jobs_per_s`` (finished), ``failed`` with ``completed_per_s_before_failure`` (an
    error ended the run), or ``jobs_per_s_below`` (stopped at the cap)."""
    elapsed = report.get("elapsed_seconds")
    completed = report.get("completed") or 0
    report["jobs_per_s"] = None
    report.pop("jobs_per_s_below", None)
    if report.get("finished") and elapsed:
        report["jobs_per_s"] = round(n / elapsed, 2)
    elif report.get("first_error"):
        report["failed"] = True
        if elapsed:
            report["completed_per_s_before_failure"] = round(completed / elapsed, 2)
    else:
        report["jobs_per_s_below"] = round(n / cap, 2)


def _rate(report: dict[str, Any]) -> tuple[float | None, str]:
    """(jobs per second, kind): ``"exact"`` for a finished run, ``"bound"`` for a run stopped
    at the cap (the rate is an upper bound), ``"failed"`` for a run that ended with an error
    (the rate is then the completed jobs per second until it did)."""
    if report.get("finished") and report.get("jobs_per_s"):
        return report["jobs_per_s"], "exact"
    if report.get("first_error"):
        completed, elapsed = report.get("completed") or 0, report.get("elapsed_seconds")
        return (round(completed / elapsed, 2) if elapsed else None), "failed"
    return report.get("jobs_per_s_below"), "bound"


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> str | float | None:
    """``a``'s rate over ``b``'s; a string with ``<`` or ``>`` when a side is a bound, and
    ``"failed"`` when ``a`` failed."""
    rate_a, kind_a = _rate(a)
    rate_b, kind_b = _rate(b)
    if kind_a == "failed":
        return "failed"
    if rate_a is None or rate_b is None or kind_b == "failed":
        return None
    value = round(rate_a / rate_b, 2)
    if kind_a == kind_b == "exact":
        return value
    if kind_a == "bound" and kind_b == "exact":
        return f"<{value}"
    if kind_a == "exact" and kind_b == "bound":
        return f">{value}"
    return None


def _cpu_ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """``a``'s client CPU per job over ``b``'s (both must have completed jobs)."""
    cpu_a, cpu_b = a.get("client_cpu_ms_per_job"), b.get("client_cpu_ms_per_job")
    if not cpu_a or not cpu_b:
        return None
    return round(cpu_a / cpu_b, 2)


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rates over rates (``*_over_*``) and client CPU per job over client CPU per job
    (``cpu_*_over_*``): the goals are ``cpu_ibmq_async_over_<the SDK's floor>`` at most 1.3
    and ``cpu_original_over_ibmq_async`` at least 2."""
    ratios: dict[str, Any] = {}
    for way in (*SDK_WAYS, *BEFORE_WAYS):
        if way not in runs:
            continue
        for other in ("original", "floor", *FLOORS):
            if other in runs:
                ratios[f"{way}_over_{other}"] = _ratio(runs[way], runs[other])
        for other in FLOORS:
            if other in runs:
                ratios[f"cpu_{way}_over_{other}"] = _cpu_ratio(runs[way], runs[other])
        if "original" in runs:
            ratios[f"cpu_original_over_{way}"] = _cpu_ratio(runs["original"], runs[way])
    for way in SDK_WAYS:  # after over before: the change's effect
        before = f"{way}_before"
        if way in runs and before in runs:
            ratios[f"{way}_over_{before}"] = _ratio(runs[way], runs[before])
            ratios[f"cpu_{before}_over_{way}"] = _cpu_ratio(runs[before], runs[way])
    ratios["sdk_transport_floor"] = SDK_TRANSPORT_FLOOR
    return ratios


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    ways = document["ways"]
    sizes = [int(n) for n in document["results"]]
    figure, axis = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / len(ways)
    colors = [plt.get_cmap("tab20")(index) for index in range(20)]
    top = 0.0
    for index, way in enumerate(ways):
        xs, heights, labels, hatches = [], [], [], []
        for position, n in enumerate(sizes):
            report = document["results"][str(n)]["runs"].get(way)
            if report is None:
                continue
            rate, kind = _rate(report)
            xs.append(position + (index - (len(ways) - 1) / 2) * width)
            heights.append(rate or 0)
            if kind == "exact":
                labels.append(f"{rate:.0f}")
            elif kind == "bound":
                labels.append(f"<{rate:.0f}")
            else:
                labels.append(f"err\n{report.get('completed', 0)}/{n}")
            hatches.append({"exact": "", "bound": "//", "failed": "xx"}[kind])
            top = max(top, rate or 0)
        bars = axis.bar(xs, heights, width, label=way, color=colors[index % len(colors)])
        for bar, label, hatch in zip(bars, labels, hatches, strict=True):
            bar.set_hatch(hatch)
            anchor = (bar.get_x() + bar.get_width() / 2, bar.get_height())
            axis.annotate(label, anchor, ha="center", va="bottom", fontsize=7)
    axis.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
    axis.set_ylabel("jobs per second (higher is better)")
    axis.set_ylim(0, top * 1.35)
    cpus = document["machine"].get("cpus")
    axis.set_title(
        f"Submit + collect N trivial jobs on loopback ({cpus} CPUs)\n"
        "// stopped at the cap (rate is an upper bound); xx failed with an error "
        "(jobs completed per second until then)",
        fontsize=10,
    )
    axis.legend(fontsize=8, loc="upper center", ncol=3)
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 50, 200 and a 60 s cap")
    parser.add_argument("--n", type=int, nargs="+", help="job counts (default 100 500 2000)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, help="default: all but floor")
    parser.add_argument(
        "--before",
        help="a checkout of the SDK to run as the *_before ways and floor_protocol (its path)",
    )
    parser.add_argument("--cap", type=float, help="seconds a run may take (default 150; quick 60)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per way and N (median kept)")
    parser.add_argument("--original-python", help="interpreter holding the original client")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--replot", help="redraw --chart from a JSON document of this script")
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--qobj-file", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=300.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    if args.replot:
        document = json.loads(Path(args.replot).read_text(encoding="utf-8"))
        for n, entry in document["results"].items():
            for report in entry["runs"].values():
                _classify(report, int(n), document["settings"]["cap_seconds"])
            entry["ratios"] = _ratios(entry["runs"])
        if args.chart:
            document["chart"] = chart(document, args.chart)
        emit(document)
        return

    if args.ways is None:
        args.ways = [w for w in WAYS if w in DEFAULT_WAYS or (args.before and w in NEEDS_BEFORE)]
    if args.before is None and set(args.ways) & set(NEEDS_BEFORE):
        parser.error(f"{', '.join(NEEDS_BEFORE)} need --before")
    if args.before is not None:
        args.before = str(Path(args.before).resolve())
    sizes = args.n or (QUICK_N if args.quick else FULL_N)
    args.cap = args.cap or (60.0 if args.quick else 150.0)
    original = None
    if "original" in args.ways:
        from _original_env import original_python

        original = original_python(args.original_python)
    info = machine()
    started = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
        qobj_file = Path(tmp) / "qobj.json"
        qobj_file.write_text(json.dumps(trivial_qobj()), encoding="utf-8")
        for round_index, n in enumerate(sizes):
            # Rotate the order from one N to the next, so no way always runs first.
            shift = round_index % len(args.ways)
            order = list(args.ways[shift:]) + list(args.ways[:shift])
            samples: dict[str, list[dict[str, Any]]] = {way: [] for way in args.ways}
            for repeat in range(args.repeat):
                for way in order:
                    log(f"N={n} {way} (run {repeat + 1} of {args.repeat})")
                    report = _one_run(way, n, args, original, qobj_file)
                    rate, kind = _rate(report)
                    shown = {"exact": f"{rate}", "bound": f"< {rate}", "failed": "failed"}[kind]
                    error = report.get("first_error")
                    log(f"  {shown} jobs/s" + (f"  error: {error[:300]}" if error else ""))
                    samples[way].append(report)
            runs = {}
            for way, reports in samples.items():
                reports.sort(key=lambda r: _rate(r)[0] or 0.0)
                runs[way] = reports[len(reports) // 2]  # the median run
                if len(reports) > 1:
                    runs[way]["jobs_per_s_all_runs"] = [_rate(r)[0] for r in reports]
            ratios = _ratios(runs)
            results[str(n)] = {"runs": runs, "ratios": ratios}
    document = {
        "benchmark": "throughput",
        "machine": info,
        "settings": {
            "job": f"1 qubit, x + measure, {SHOTS} shots (Qobj; circuits for the job manager)",
            "service": "ibmq-async serve subprocess per run: simulator, 8 workers, no job limit",
            "cap_seconds": args.cap,
            "repeat": args.repeat,
            "original_python": str(original) if original else None,
            "before": args.before,
        },
        "ways": list(args.ways),
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
