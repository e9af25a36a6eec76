"""Cached virtual environments for the compatibility tests: one builder for every client.

A :class:`VenvSpec` names a client's environment: its pinned requirements, the variable
that may point at one made by hand, and an import check. :func:`ensure_venv` returns the
interpreter of a complete environment, building it when needed:

* where: ``$<env_var>`` if set, else
  ``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/<name>-<digest>``; the digest covers the
  requirements file and the Python version, so changing either builds a new one;
* once per machine: built in a temporary directory (``pip install --only-binary=:all:``),
  import-checked, marked and renamed into place under a file lock, so parallel runs build
  it once and later runs reuse it;
* a missing package index or a failed import check raises :class:`VenvError` (the compat
  suites turn it into a failed test, never a skip: compatibility is proven, not assumed);
* a directory at the path that has no marker (made by hand) is import-checked and used as
  it is, never modified.

Both compat suites use it: ``compat_env.py`` (qiskit-ibmq-provider 0.20.2, the classic
API) and ``runtime_env.py`` (qiskit-ibm-runtime 0.51, the platform API); so do the
benchmarks (``benchmarks/_original_env.py``), with the same specs and the same cached
environments. Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

MARKER = ".ibmq-async-compat-ready"
"""Written last into an environment, with the digest of what it was built from."""

INSTALL_TIMEOUT = 900.0


class VenvError(RuntimeError):
    """An environment could not be built, or does not hold what its spec checks."""


@dataclass(frozen=True)
class VenvSpec:
    """What a client's environment is built from and how it is checked.

    Attributes:
        name: The cache directory's name (before the digest).
        requirements: The pinned requirements file.
        env_var: The variable that may name the environment's directory.
        probe: Python code run in the environment; its last line of output is a JSON object
            of package versions.
        check: The problems with those versions (an empty list when they are right).
        what: What the environment holds, for messages.
    """

    name: str
    requirements: Path
    env_var: str
    probe: str
    check: Callable[[dict[str, str]], list[str]]
    what: str

    def digest(self) -> str:
        """What the environment depends on: the requirements and the interpreter."""
        digest = hashlib.sha256(self.requirements.read_bytes())
        digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
        digest.update(sys.platform.encode())
        return digest.hexdigest()[:16]

    def path(self) -> Path:
        """Where the environment is (or will be) built."""
        configured = os.environ.get(self.env_var)
        if configured:
            return Path(configured).expanduser().resolve()
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "ibmq-async" / f"{self.name}-{self.digest()}"


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    if sys.platform == "win32":  # pragma: no cover
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of child processes, without this interpreter's venv leaking in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
        and not key.startswith(("QE_", "QISKIT_", "IBM_", "IAM_", "GLOBAL_"))
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The service is on loopback: never send its requests through a configured proxy.
    loopback = "127.0.0.1,localhost,::1"
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), loopback]))
    env.update(extra)
    return env


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ready(venv: Path, digest: str) -> bool:
    try:
        recorded = json.loads((venv / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded.get("digest") == digest and venv_python(venv).exists()


def _run_logged(command: list[str], log: Path, timeout: float) -> None:
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        subprocess.run(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=True,
            env=clean_env(),
        )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def probe(spec: VenvSpec, python: Path) -> dict[str, str]:
    """Run the spec's import check with ``python``; the versions it found.

    Raises:
        VenvError: The check does not import, or the versions are wrong.
    """
    try:
        result = subprocess.run(
            [str(python), "-c", spec.probe],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=clean_env(),
        )
    except (subprocess.TimeoutExpired, OSError) as error:
        result = subprocess.CompletedProcess([], 1, "", f"the import check did not run: {error}")
    if result.returncode != 0:
        raise VenvError(f"{python} does not import {spec.what}:\n{result.stderr[-3000:]}")
    versions: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    problems = spec.check(versions)
    if problems:
        raise VenvError(f"wrong versions in the environment {python}: {problems}")
    return versions


def ensure_venv(spec: VenvSpec) -> Path:
    """Build the spec's environment unless a complete one is there; return its python.

    Raises:
        VenvError: The build failed (the package index is needed), or the environment at
            the path does not pass the import check.
    """
    venv = spec.path()
    digest = spec.digest()
    if _ready(venv, digest):
        return venv_python(venv)
    if venv.exists() and not (venv / MARKER).exists():
        # Not built here (ours appear whole, marker included, by a rename): use, never touch.
        probe(spec, venv_python(venv))
        return venv_python(venv)
    with _file_lock(venv.parent / f"{venv.name}.lock"):
        if _ready(venv, digest):  # another run built it while this one waited
            return venv_python(venv)
        for stale in venv.parent.glob(f"{venv.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{venv.name}.tmp-", dir=venv.parent))
        log = venv.parent / f"{venv.name}.install.log"
        log.write_text(f"building {venv} from {spec.requirements}\n", encoding="utf-8")
        python = venv_python(staging)
        started = time.monotonic()
        failure: Exception | None = None
        try:
            _run_logged([sys.executable, "-m", "venv", str(staging)], log, 120)
            # pip is always run as `python -m pip`: console scripts keep the staging path
            # in their shebang line once the directory is renamed. Wheels only: an
            # interpreter the pins have no wheels for fails at once instead of compiling.
            _run_logged(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check",
                 "--no-input", "--only-binary=:all:", "-r", str(spec.requirements)],
                log,
                INSTALL_TIMEOUT,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            failure = error
        if failure is not None:
            shutil.rmtree(staging, ignore_errors=True)
            raise VenvError(
                f"could not build the environment of {spec.what} at {venv} ({failure}). It "
                f"installs {spec.requirements.name} from the package index, which must be "
                f"reachable. Install log {log}, last lines:\n{tail(log)}"
            )
        try:
            versions = probe(spec, python)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        (staging / MARKER).write_text(
            json.dumps(
                {
                    "digest": digest,
                    "versions": versions,
                    "built_seconds": round(time.monotonic() - started, 1),
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        if venv.exists():  # an outdated environment of ours (its marker has another digest)
            shutil.rmtree(venv)
        staging.rename(venv)
    return venv_python(venv)
