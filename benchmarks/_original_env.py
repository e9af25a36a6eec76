"""The original client's environment: qiskit-ibmq-provider 0.20.2 on qiskit-terra 0.46, in a
virtual environment of its own (it cannot share one with Qiskit 2.x).

:func:`original_python` returns its interpreter, in this order of preference:

1. ``--original-python`` of a script, or ``$IBMQ_ASYNC_ORIGINAL_PYTHON``;
2. the benchmarks' own cached environment,
   ``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/original-client-venv-<digest>``, where the digest
   covers ``requirements-original.txt`` and the Python version;
3. an environment the compatibility tests (``tests/compat``) built under the same cache
   directory, when it holds the right versions and psutil;
4. otherwise it builds (2): ``python -m venv`` then ``pip install -r requirements-original.txt``
   in a staging directory renamed into place once an import check passed, under a file
   lock. That takes about a minute and needs the package index.

``python benchmarks/_original_env.py`` builds (or finds) it and prints the interpreter.
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
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

BENCH_DIR = Path(__file__).resolve().parent
REQUIREMENTS = BENCH_DIR / "requirements-original.txt"
MARKER = ".ibmq-async-original-ready"
COMPAT_MARKER = ".ibmq-async-compat-ready"
INSTALL_TIMEOUT = 900.0

_PROBE = """
import json, warnings
warnings.filterwarnings("ignore")
import pkg_resources, requests, websocket, psutil
from qiskit.providers.ibmq import IBMQ, IBMQBackend
from qiskit.providers.ibmq.utils.json_encoder import IQXJsonEncoder
from importlib.metadata import version
names = ["qiskit-ibmq-provider", "qiskit-terra", "requests", "websocket-client",
         "websockets", "numpy", "psutil"]
print(json.dumps({name: version(name) for name in names}))
"""


class OriginalEnvError(RuntimeError):
    """The original client's environment could not be found or built."""


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ibmq-async"


def _digest() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    digest.update(sys.platform.encode())
    return digest.hexdigest()[:16]


def venv_path() -> Path:
    """Where the benchmarks' own environment is (or will be) built."""
    return _cache_dir() / f"original-client-venv-{_digest()}"


def _python(venv: Path) -> Path:
    if sys.platform == "win32":  # pragma: no cover
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _clean_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    return env


def probe(python: Path) -> dict[str, str]:
    """The versions in an environment, checked against what the benchmarks need.

    Raises:
        OriginalEnvError: The original client does not import, or the versions are wrong.
    """
    try:
        completed = subprocess.run(
            [str(python), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=_clean_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OriginalEnvError(f"{python}: {error}") from error
    if completed.returncode != 0:
        raise OriginalEnvError(
            f"{python} does not import the original client:\n{completed.stderr[-2000:]}"
        )
    found: dict[str, str] = json.loads(completed.stdout.strip().splitlines()[-1])

    def release(name: str) -> tuple[int, ...]:
        return tuple(int(part) for part in found[name].split(".")[:2])

    problems = []
    if found["qiskit-ibmq-provider"] != "0.20.2":
        problems.append(f"qiskit-ibmq-provider {found['qiskit-ibmq-provider']} is not 0.20.2")
    if release("qiskit-terra") != (0, 46):
        problems.append(f"qiskit-terra {found['qiskit-terra']} is not 0.46.x")
    if release("requests") >= (2, 34):
        problems.append(f"requests {found['requests']} >= 2.34 breaks result downloads")
    if release("websockets") >= (14,):
        problems.append(f"websockets {found['websockets']} is not below 14")
    if problems:
        raise OriginalEnvError(f"{python}: {'; '.join(problems)}")
    return found


def _marked(venv: Path, marker: str) -> bool:
    return (venv / marker).is_file() and _python(venv).exists()


def _compat_candidates() -> list[Path]:
    """Environments the compatibility tests built (newest first)."""
    found = [
        path.parent
        for path in _cache_dir().glob(f"compat-venv-*/{COMPAT_MARKER}")
        if path.is_file()
    ]
    return sorted(found, key=lambda path: (path / COMPAT_MARKER).stat().st_mtime, reverse=True)


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
            env=_clean_env(),
        )


def _build(venv: Path) -> None:
    for stale in venv.parent.glob(f"{venv.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{venv.name}.tmp-", dir=venv.parent))
    log = venv.parent / f"{venv.name}.install.log"
    log.write_text(f"building {venv} from {REQUIREMENTS}\n", encoding="utf-8")
    python = _python(staging)
    started = time.monotonic()
    print(f"building the original client's environment in {venv} (about a minute)", file=sys.stderr)
    try:
        _run_logged([sys.executable, "-m", "venv", str(staging)], log, 120)
        # `python -m pip`: console scripts would keep the staging path in their shebang.
        _run_logged(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
             "-r", str(REQUIREMENTS)],
            log,
            INSTALL_TIMEOUT,
        )  # fmt: skip
        found = probe(python)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise OriginalEnvError(
            f"could not build {venv} ({error}); it installs {REQUIREMENTS.name} from the package "
            f"index. Install log {log}:\n{tail}"
        ) from error
    except OriginalEnvError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    record = {
        "digest": _digest(),
        "versions": found,
        "built_seconds": round(time.monotonic() - started, 1),
    }
    (staging / MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")
    if venv.exists():
        shutil.rmtree(venv)
    staging.rename(venv)


def original_python(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The interpreter of an environment holding the original client (built if needed).

    Raises:
        OriginalEnvError: An explicit interpreter is not suitable, or the build failed.
    """
    chosen = explicit or os.environ.get("IBMQ_ASYNC_ORIGINAL_PYTHON")
    if chosen:
        python = Path(chosen)
        probe(python)
        return python
    venv = venv_path()
    if _marked(venv, MARKER):
        return _python(venv)
    for candidate in _compat_candidates():
        try:
            probe(_python(candidate))
        except OriginalEnvError:
            continue
        return _python(candidate)
    with _file_lock(venv.parent / f"{venv.name}.lock"):
        if not _marked(venv, MARKER):  # another run may have built it meanwhile
            _build(venv)
    return _python(venv)


if __name__ == "__main__":
    try:
        print(original_python(sys.argv[1] if len(sys.argv) > 1 else None))
    except OriginalEnvError as failure:
        sys.exit(str(failure))
