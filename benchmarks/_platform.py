"""What the platform benchmarks share (``platform_throughput.py``, ``platform_polling.py``,
``platform_paced.py``, ``platform_memory.py``): the local service configured for the IBM
Quantum Platform API, the requests it served counted from its access log, worker processes
that mark the moments the orchestrator measures, and the guard around the SDK's platform
channel.

The service is ``ibmq-async serve`` in its own process (``_common.local_service``), with one
user holding an API key and an instance, and the simulator. Its access log (one line per
REST request, ``--log-level info``, the default) is where requests are counted: the service
sees every request of every client, so no proxy stands in between to add its own cost.

A worker prints ``MARK <name>`` lines on stdout at the moments that matter (the timed part
starts, the hold starts, ...); :func:`run_marked` reads them as they come and records, at
each, the service's CPU time and how far its access log had got, so the requests and the
service CPU of any interval between two marks are known exactly. The last stdout line that
is a JSON object is the worker's report.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import inspect
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, TOKEN, Service, local_service
from _original_env import COMPAT_DIR  # noqa: F401  (puts tests/compat on sys.path)
from memory import START_PHASE, Watch
from venv_builder import clean_env

API_KEY = "benchmark-platform-api-key-0123456789"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/bench0account:bench0main::"
SIMULATOR = "ibmq_qasm_simulator"
SHOTS = 100
RUNTIME_THREADS = 32
"""The pool of qiskit-ibm-runtime's way: what its users do for concurrency."""
API_VERSION = "2026-04-15"
"""The ``IBM-API-Version`` the floor sends (any date is accepted; docs/platform.md §2)."""

SETTLE = 0.2
"""Seconds a worker waits, outside what it times, before it prints a mark: the service
writes a request's access line just after its answer, so this lets the log catch up."""

CIRCUIT = "1 qubit: x then measure into a 1-bit register c"


def platform_toml(
    *,
    jobs_per_minute: int = 0,
    rate_window_seconds: float = 60.0,
    paused: bool = False,
    workers: int = 8,
) -> str:
    """One platform user (an API key, one instance, ``jobs_per_minute`` jobs per window, 0
    for no limit) and the simulator (``workers`` jobs at a time, its queue paused or not)."""
    return f"""\
# Written by benchmarks/_platform.py.
rate_window_seconds = {rate_window_seconds}

[[users]]
token = "{TOKEN}"
id = "benchmark-user"
api_key = "{API_KEY}"
instances = ["{INSTANCE}"]
jobs_per_minute = {jobs_per_minute}

[[instances]]
crn = "{INSTANCE}"
name = "benchmark"
plan = "premium"

[[backends]]
name = "{SIMULATOR}"
device = "simulator"
max_jobs = -1
workers = {workers}
paused = {"true" if paused else "false"}
"""


@dataclass
class PlatformService:
    """A running ``ibmq-async serve`` with the platform user of :func:`platform_toml`."""

    service: Service

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT``: the host of ``/identity/token`` and ``/api/v1``."""
        return self.service.url.removesuffix("/api")

    @property
    def log(self) -> Path:
        return self.service.workdir / "service.log"

    def cpu_seconds(self) -> float:
        return self.service.cpu_seconds()

    def rss_bytes(self) -> int:
        return self.service.rss_bytes()

    def log_offset(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def requests(self, start: int, end: int | None = None) -> collections.Counter[str]:
        """The REST requests the access log shows between two offsets, counted by
        ``"METHOD /route STATUS"`` (ids and names in the path replaced by ``{id}``)."""
        with self.log.open("rb") as handle:
            handle.seek(start)
            text = handle.read(None if end is None else max(0, end - start))
        counts: collections.Counter[str] = collections.Counter()
        for line in text.decode(errors="replace").splitlines():
            found = _ACCESS.search(line)
            if found:
                method, path, status = found.groups()
                counts[f"{method} {_route(path)} {status}"] += 1
        return counts

    def environment(self) -> dict[str, str]:
        """What qiskit-ibm-runtime's process needs to reach the service (docs/platform.md,
        "Connecting"): the IBM Cloud endpoints on the service, no usage data sent."""
        root = self.root
        return {
            "IAM_URL": root,
            "GLOBAL_SEARCH_URL": f"{root}/global-search",
            "GLOBAL_CATALOG_URL": f"{root}/global-catalog/api/v1",
            "USAGE_DATA_OPT_OUT": "True",
        }


_ACCESS = re.compile(r"ibmq_async\.local\.access: (\w+) (\S+) (\d{3}) ")
_NAMED = re.compile(r"^(/api/v1/(?:jobs|sessions|backends))/([^/]+)")


def _route(path: str) -> str:
    return _NAMED.sub(r"\1/{id}", path)


def total(counts: collections.Counter[str], *, status: str | None = None) -> int:
    """How many requests ``counts`` holds (with that status only, if given)."""
    if status is None:
        return sum(counts.values())
    return sum(n for key, n in counts.items() if key.rsplit(" ", 1)[1] == status)


@contextlib.contextmanager
def platform_service(**settings: Any) -> Iterator[PlatformService]:
    """``ibmq-async serve`` with :func:`platform_toml` (``settings`` are its arguments)."""
    with local_service(platform_toml(**settings)) as service:
        yield PlatformService(service)


# --- workers that mark moments ------------------------------------------------------------


@dataclass
class Mark:
    """What was measured on the service when a worker printed ``MARK <name>``."""

    name: str
    at: float
    service_cpu: float
    log_offset: int


@dataclass
class MarkedRun:
    """A worker's report and the marks it printed."""

    report: dict[str, Any]
    returncode: int | None
    wall_seconds: float
    stderr: str
    marks: dict[str, Mark] = field(default_factory=dict)

    def between(self, service: PlatformService, first: str, last: str) -> dict[str, Any]:
        """Seconds, service CPU and requests (by route and status) between two marks."""
        a, b = self.marks[first], self.marks[last]
        counts = service.requests(a.log_offset, b.log_offset)
        return {
            "seconds": round(b.at - a.at, 3),
            "service_cpu_seconds": round(b.service_cpu - a.service_cpu, 3),
            "requests": total(counts),
            "requests_by_route": dict(counts.most_common()),
        }


def mark(name: str) -> None:
    """In a worker: tell the orchestrator that the moment ``name`` is now."""
    sys.stdout.write(f"MARK {name}\n")
    sys.stdout.flush()


def run_marked(
    command: list[str], service: PlatformService, *, timeout: float, env: dict[str, str]
) -> MarkedRun:
    """Run a worker; at each ``MARK`` line it prints, record the service's CPU time and its
    access log's length; kill it after ``timeout`` seconds."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO_ROOT,
    )
    errors: collections.deque[bytes] = collections.deque(maxlen=200)
    drain = threading.Thread(target=lambda: errors.extend(process.stderr or ()), daemon=True)
    drain.start()
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    marks: dict[str, Mark] = {}
    report: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("MARK "):
                name = line[5:]
                marks[name] = Mark(
                    name, time.monotonic(), service.cpu_seconds(), service.log_offset()
                )
            elif line.startswith("{"):
                with contextlib.suppress(ValueError):
                    report = json.loads(line)
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    drain.join(5)
    stderr = b"".join(errors).decode(errors="replace")[-4000:]
    return MarkedRun(report, process.returncode, time.monotonic() - started, stderr, marks)


class MarkedWatch(Watch):
    """``memory.Watch`` (event-loop stalls, RSS, CPU of a hold) that also marks the hold's
    start (``hold_start``), its steady part (``steady``, after ``memory.START_PHASE``
    seconds) and its end (``hold_end``)."""

    def start_hold(self, waits: list[Any]) -> None:
        super().start_hold(waits)
        mark("hold_start")
        threading.Timer(START_PHASE, mark, args=("steady",)).start()

    def finish(self) -> None:
        mark("hold_end")
        super().finish()


def project_env() -> dict[str, str]:
    """The environment of a worker of this project (ibmq_async, the floor)."""
    return clean_env(PYTHONPATH=str(REPO_ROOT))


def runtime_env(service: PlatformService) -> dict[str, str]:
    """The environment of qiskit-ibm-runtime's worker."""
    return clean_env(**service.environment())


# --- the SDK's platform channel -----------------------------------------------------------


def sdk_platform_missing() -> str | None:
    """Why ``ibmq_async``'s platform channel cannot be benchmarked yet (``None`` if it can):
    ``IBMQ.enable_account(..., channel="ibm_quantum_platform")`` and
    ``ibmq_async.platform.Sampler``, as the platform channel's contract names them."""
    from ibmq_async.provider import IBMQFactory

    if "channel" not in inspect.signature(IBMQFactory.enable_account).parameters:
        return "IBMQ.enable_account() takes no channel= (the platform channel is not merged)"
    if importlib.util.find_spec("ibmq_async.platform.primitives") is None:
        return "ibmq_async.platform has no primitives (Sampler) yet"
    platform = importlib.import_module("ibmq_async.platform")
    if not hasattr(platform, "Sampler"):
        return "ibmq_async.platform exports no Sampler yet"
    return None


async def sdk_backend(root: str, **options: Any) -> Any:
    """In a worker: the simulator's ``PlatformBackend``, through the platform channel."""
    from ibmq_async import IBMQFactory

    provider = await IBMQFactory().enable_account(
        API_KEY,
        channel="ibm_quantum_platform",
        instance=INSTANCE,
        url=f"{root}/api",
        iam_url=root,
        **options,
    )
    return provider.get_backend(SIMULATOR)


def trivial_circuit() -> Any:
    """The job of every platform benchmark: :data:`CIRCUIT`."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    return circuit


def job_body() -> bytes:
    """``POST /v1/jobs`` of the trivial sampler job, encoded once for the floor: what the
    SDK sends (its PUB coerced and written as runtime JSON, the circuit as QPY)."""
    from ibmq_async import runtime_json
    from ibmq_async.platform.pubs import sampler_request

    request = sampler_request([trivial_circuit()], shots=SHOTS)
    return runtime_json.dumps(request.job_body(SIMULATOR)).encode()


def record_sdk_creations() -> list[list[Any]]:
    """In an SDK worker: record every ``POST /v1/jobs`` where the SDK's transport sends it,
    as ``[sent, answered, status]`` (``time.monotonic()``), into the list returned. Only
    the benchmark's process is patched; the SDK's code is not changed."""
    from ibmq_async.api.aiohttp_transport import AiohttpTransport

    entries: list[list[Any]] = []
    send = AiohttpTransport.handle_async_request

    async def recorded(self: AiohttpTransport, request: Any) -> Any:
        if request.method != "POST" or not request.url.path.endswith("/v1/jobs"):
            return await send(self, request)
        sent = time.monotonic()
        response = await send(self, request)
        entries.append([sent, time.monotonic(), response.status_code])
        return response

    AiohttpTransport.handle_async_request = recorded  # type: ignore[method-assign]
    return entries


def floor_headers(token: str) -> dict[str, str]:
    """What every runtime API request carries (docs/platform.md §2)."""
    return {
        "Authorization": f"Bearer {token}",
        "Service-CRN": INSTANCE,
        "IBM-API-Version": API_VERSION,
    }


async def floor_token(client: Any, root: str) -> str:
    """In a worker: an IAM access token for the API key (``POST /identity/token``)."""
    response = await client.post(
        f"{root}/identity/token",
        data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": API_KEY},
    )
    return str(response.raise_for_status().json()["access_token"])


FINAL_STATES = frozenset({"Completed", "Failed", "Cancelled", "Cancelled - Ran too long"})


def sdk_note(missing: str | None) -> dict[str, Any]:
    """The report of an SDK way that could not run."""
    return {"skipped": True, "why": missing}


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    """``a / b`` rounded, ``None`` when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)
