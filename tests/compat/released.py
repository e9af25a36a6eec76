"""The device snapshots that Qiskit's releases ship, found without committing them.

Two releases carry the fake providers' snapshots (``conf_*.json``, ``props_*.json``,
``defs_*.json`` per device, about 15 MB each):

* qiskit-terra 0.46, installed in the compat environment (``compat_env.ensure_compat_venv``)
  that the original client's tests build anyway: its ``qiskit/providers/fake_provider``;
* qiskit-ibm-runtime 0.51: its wheel, fetched once per machine with ``pip download
  --no-deps`` into ``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/wheels`` (under a file lock;
  later runs read the cached file) and read straight from the zip, never installed.

A missing package index fails the tests that need them, as the compat environment does.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from compat_env import _clean_env, _file_lock

RUNTIME_RELEASE = ("qiskit-ibm-runtime", "0.51.0")
KINDS = {"conf": "configuration", "props": "properties", "defs": "defaults"}
DOWNLOAD_TIMEOUT = 300.0


@dataclass(frozen=True)
class Snapshot:
    """One snapshot document of a release."""

    release: str
    device: str
    kind: str  # "configuration", "properties" or "defaults"
    data: bytes

    @property
    def label(self) -> str:
        return f"{self.release}:{self.device}:{self.kind}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _kind(file_name: str) -> str | None:
    prefix = file_name.split("_", 1)[0]
    return KINDS.get(prefix) if file_name.endswith(".json") else None


def terra_snapshots(compat_python: Path) -> Iterator[Snapshot]:
    """The snapshots of qiskit-terra 0.46's fake provider, from the compat environment."""
    venv = compat_python.parent.parent
    found = sorted(venv.glob("lib/python*/site-packages/qiskit/providers/fake_provider/backends"))
    if not found:
        pytest.fail(f"no qiskit/providers/fake_provider/backends in {venv}", pytrace=False)
    for path in sorted(found[0].glob("*/*.json")):
        kind = _kind(path.name)
        if kind is not None:
            yield Snapshot("qiskit-terra 0.46", path.parent.name, kind, path.read_bytes())


def runtime_wheel() -> Path:
    """The cached qiskit-ibm-runtime 0.51 wheel, downloaded the first time."""
    name, version = RUNTIME_RELEASE
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = cache / "ibmq-async" / "wheels"
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    with _file_lock(directory / ".download.lock"):
        existing = sorted(directory.glob(pattern))
        if existing:
            return existing[0]
        command = [
            sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
            "--no-input", "--no-deps", "--only-binary=:all:", f"{name}=={version}",
            "--dest", str(directory),
        ]  # fmt: skip
        try:
            completed = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=DOWNLOAD_TIMEOUT,
                check=False,
                env=_clean_env(),
            )
        except (subprocess.TimeoutExpired, OSError) as error:
            pytest.fail(f"pip download {name}=={version} did not run: {error}", pytrace=False)
        existing = sorted(directory.glob(pattern))
        if completed.returncode != 0 or not existing:
            pytest.fail(
                f"could not download {name}=={version} (the package index must be "
                f"reachable):\n{completed.stderr[-3000:]}",
                pytrace=False,
            )
        return existing[0]


def runtime_snapshots(wheel: Path) -> Iterator[Snapshot]:
    """The snapshots of qiskit-ibm-runtime 0.51's fake provider, read from its wheel."""
    with zipfile.ZipFile(wheel) as archive:
        for member in sorted(archive.namelist()):
            parts = member.split("/")
            if parts[:3] != ["qiskit_ibm_runtime", "fake_provider", "backends"] or len(parts) != 5:
                continue
            kind = _kind(parts[4])
            if kind is not None:
                yield Snapshot("qiskit-ibm-runtime 0.51", parts[3], kind, archive.read(member))
