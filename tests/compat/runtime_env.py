"""The machinery of the platform compatibility tests: qiskit-ibm-runtime 0.51's environment
and the service its scenarios talk to (the fixtures in ``conftest.py`` wrap them).

* :func:`ensure_runtime_venv`: the interpreter of an environment holding the unmodified
  qiskit-ibm-runtime 0.51.0 (``runtime-requirements.txt``), built by ``venv_builder.py``
  under ``$IBMQ_ASYNC_RUNTIME_VENV`` if set, else
  ``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/runtime-venv-<digest>``.
* :func:`start_runtime_service`: ``ibmq-async serve`` with :func:`runtime_service_config`.
* :func:`runtime_context` and :data:`RUNTIME_ENV`: what the scenarios are told, and the
  environment that points the client at the service: ``IAM_URL``, ``GLOBAL_SEARCH_URL``
  and ``GLOBAL_CATALOG_URL`` (the client then connects with
  ``QiskitRuntimeService(channel="ibm_quantum_platform", token=API_KEY, instance=CRN,
  url=ROOT, url_resolver=lambda *args, **kwargs: f"{ROOT}/api/v1")``).

``python tests/compat/runtime_env.py`` builds (or finds) the environment and prints its path.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat_env import COMPAT_DIR, REPO_ROOT, ensure_or_fail, launch_service
from venv_builder import VenvSpec

RUNTIME_REQUIREMENTS = COMPAT_DIR / "runtime-requirements.txt"

API_KEY = "runtime-compat-api-key-0123456789"
OTHER_API_KEY = "runtime-compat-other-key-9876543210"
LIMITED_API_KEY = "runtime-compat-limited-key-5555555"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/compat0account:compat0main::"
SMALL_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/compat0account:compat0small::"
OTHER_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/other0account:other0main::"
DEVICE = "ibm_fez"
SMALL_DEVICE = "ibmq_vigo"
PAUSED = "ibm_paused"
SIMULATOR = "ibmq_qasm_simulator"
RATE_LIMIT = 2
RATE_WINDOW = 4.0
SMALL_ALLOCATION = 0.5

_PROBE = """
import json, warnings
warnings.filterwarnings("ignore")
import qiskit, qiskit_ibm_runtime
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2, EstimatorV2, Session, Batch
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder
from importlib.metadata import version
names = ["qiskit-ibm-runtime", "qiskit", "ibm-cloud-sdk-core", "ibm-platform-services",
         "requests", "numpy"]
print(json.dumps({name: version(name) for name in names}))
"""


def _check_versions(versions: dict[str, str]) -> list[str]:
    problems = []
    if versions["qiskit-ibm-runtime"] != "0.51.0":
        problems.append(f"qiskit-ibm-runtime {versions['qiskit-ibm-runtime']} != 0.51.0")
    if not versions["qiskit"].startswith("2."):
        problems.append(f"qiskit {versions['qiskit']} is not 2.x")
    return problems


RUNTIME_SPEC = VenvSpec(
    name="runtime-venv",
    requirements=RUNTIME_REQUIREMENTS,
    env_var="IBMQ_ASYNC_RUNTIME_VENV",
    probe=_PROBE,
    check=_check_versions,
    what="qiskit-ibm-runtime 0.51.0",
)
"""The environment of qiskit-ibm-runtime 0.51.0."""


def ensure_runtime_venv() -> Path:
    """Build qiskit-ibm-runtime's environment unless a complete one is there; its python."""
    return ensure_or_fail(RUNTIME_SPEC)


def runtime_service_config() -> str:
    """The TOML configuration of the service the runtime scenarios talk to."""
    return f"""\
# Written by tests/compat/conftest.py for the qiskit-ibm-runtime scenarios.
rate_window_seconds = {RATE_WINDOW}
session_interactive_ttl = 30

[[users]]
token = "runtime-compat-classic-token"
id = "runtime-compat-user"
api_key = "{API_KEY}"
instances = ["{INSTANCE}", "{SMALL_INSTANCE}"]
jobs_per_minute = 0

[[users]]
token = "runtime-compat-other-token"
id = "runtime-compat-other"
api_key = "{OTHER_API_KEY}"
instances = ["{OTHER_INSTANCE}"]
jobs_per_minute = 0

# {RATE_LIMIT} jobs per {RATE_WINDOW} s: the next creation gets 429.
[[users]]
token = "runtime-compat-limited-token"
id = "runtime-compat-limited"
api_key = "{LIMITED_API_KEY}"
instances = ["{INSTANCE}"]
jobs_per_minute = {RATE_LIMIT}

[[instances]]
crn = "{INSTANCE}"
name = "compat-main"
plan = "open"

# A tiny allocation: one job uses it up, then job creation answers 409.
[[instances]]
crn = "{SMALL_INSTANCE}"
name = "compat-small"
plan = "premium"
allocation_seconds = {SMALL_ALLOCATION}

[[backends]]
name = "{DEVICE}"
device = "fez"
workers = 1

[[backends]]
name = "{SMALL_DEVICE}"
device = "vigo"
workers = 1

# Paused: its jobs stay queued (cancel, a session's queued jobs).
[[backends]]
name = "{PAUSED}"
device = "lima"
paused = true
instances = ["{INSTANCE}", "{OTHER_INSTANCE}"]

[[backends]]
name = "{SIMULATOR}"
device = "simulator"
workers = 2
"""


def _versions_answer(port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{port}/api/v1/versions"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200 and "versions" in json.load(response))
    except (OSError, ValueError):
        return False


@dataclass
class RuntimeService:
    """A running ``ibmq-async serve`` for the runtime scenarios."""

    root: str
    process: subprocess.Popen[bytes]
    log: Path
    workdir: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_runtime_service(workdir: Path) -> RuntimeService:
    """Start the service for the runtime scenarios; wait until ``/api/v1/versions`` answers."""
    process, port, log = launch_service(workdir, runtime_service_config(), _versions_answer)
    return RuntimeService(f"http://127.0.0.1:{port}", process, log, workdir)


def runtime_environment(service: RuntimeService) -> dict[str, dict[str, str]]:
    """The environment of every runtime scenario: the IBM Cloud endpoints on the service."""
    root = service.root
    return {
        "*": {
            "IAM_URL": root,
            "GLOBAL_SEARCH_URL": f"{root}/global-search",
            "GLOBAL_CATALOG_URL": f"{root}/global-catalog/api/v1",
            "USAGE_DATA_OPT_OUT": "True",
        },
        "runtime_jobs": {"TZ": "IST-5:30"},
    }


def runtime_context(service: RuntimeService) -> dict[str, Any]:
    """What every runtime scenario is told."""
    return {
        "root": service.root,
        "api_key": API_KEY,
        "other_api_key": OTHER_API_KEY,
        "limited_api_key": LIMITED_API_KEY,
        "instance": INSTANCE,
        "small_instance": SMALL_INSTANCE,
        "other_instance": OTHER_INSTANCE,
        "device": DEVICE,
        "small_device": SMALL_DEVICE,
        "paused": PAUSED,
        "simulator": SIMULATOR,
        "rate_limit": RATE_LIMIT,
        "rate_window": RATE_WINDOW,
        "small_allocation": SMALL_ALLOCATION,
        "runtime_json": str(REPO_ROOT / "ibmq_async" / "runtime_json.py"),
    }


if __name__ == "__main__":
    print(ensure_runtime_venv())
