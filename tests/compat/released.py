"""The device snapshots that Qiskit's releases ship, found without committing them.

Two releases carry the fake providers' snapshots (``conf_*.json``, ``props_*.json``,
``defs_*.json`` per device, about 15 MB each), and the compat tests install both anyway:

* qiskit-terra 0.46, in the original client's environment (``compat_env.ensure_compat_venv``):
  its ``qiskit/providers/fake_provider/backends``;
* qiskit-ibm-runtime 0.51, in its own environment (``runtime_env.ensure_runtime_venv``):
  its ``qiskit_ibm_runtime/fake_provider/backends``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KINDS = {"conf": "configuration", "props": "properties", "defs": "defaults"}


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


def _fake_provider_snapshots(python: Path, package_path: str, release: str) -> Iterator[Snapshot]:
    venv = python.parent.parent
    found = sorted(venv.glob(f"lib/python*/site-packages/{package_path}"))
    if not found:
        pytest.fail(f"no {package_path} in {venv}", pytrace=False)
    for path in sorted(found[0].glob("*/*.json")):
        kind = _kind(path.name)
        if kind is not None:
            yield Snapshot(release, path.parent.name, kind, path.read_bytes())


def terra_snapshots(compat_python: Path) -> Iterator[Snapshot]:
    """The snapshots of qiskit-terra 0.46's fake provider, from the compat environment."""
    return _fake_provider_snapshots(
        compat_python, "qiskit/providers/fake_provider/backends", "qiskit-terra 0.46"
    )


def runtime_snapshots(runtime_python: Path) -> Iterator[Snapshot]:
    """The snapshots of qiskit-ibm-runtime 0.51's fake provider, from its environment."""
    return _fake_provider_snapshots(
        runtime_python, "qiskit_ibm_runtime/fake_provider/backends", "qiskit-ibm-runtime 0.51"
    )
