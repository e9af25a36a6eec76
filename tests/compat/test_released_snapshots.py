"""Every device snapshot that Qiskit's releases ship parses into the wire models and dumps
back to what came in (with the tolerated differences of ``tests/wire_json.py``).

The snapshots are qiskit-terra 0.46's fake provider (in the compat environment:
configurations, properties and pulse defaults) and qiskit-ibm-runtime 0.51's (in its compat
environment: configurations and properties, the release has no pulse defaults);
``released.py`` finds them. Documents that both releases ship unchanged are checked once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from released import Snapshot, runtime_snapshots, terra_snapshots
from wire_json import assert_same_json

from ibmq_async.models import (
    BackendProperties,
    PulseBackendConfiguration,
    PulseDefaults,
    WireModel,
    parse_backend_configuration,
)

pytestmark = [pytest.mark.compat, pytest.mark.timeout(900)]

PARSERS: dict[str, Callable[[Any], WireModel]] = {
    "configuration": parse_backend_configuration,
    "properties": BackendProperties.model_validate,
    "defaults": PulseDefaults.model_validate,
}
# The snapshots whose processor_type.revision is a float (1.2, 5.11, 1.1, 5.1).
FLOAT_REVISIONS = {"armonk", "kolkata", "melbourne", "mumbai"}

_checked: dict[str, str | None] = {}


def _check(snapshot: Snapshot) -> str | None:
    """Why the snapshot does not parse or dump back, or ``None``; once per document."""
    if snapshot.digest in _checked:
        return _checked[snapshot.digest]
    problem = None
    try:
        payload = json.loads(snapshot.data)
        model = PARSERS[snapshot.kind](payload)
        assert_same_json(payload, model.to_wire())
        if snapshot.kind == "configuration":
            expected = payload.get("open_pulse") is True
            assert isinstance(model, PulseBackendConfiguration) is expected, "wrong model kind"
    except Exception as error:  # every failure is reported, with the document it came from
        problem = f"{type(error).__name__}: {str(error)[:400]}"
    _checked[snapshot.digest] = problem
    return problem


def _assert_all_round_trip(snapshots: list[Snapshot], kind: str) -> None:
    selected = [snapshot for snapshot in snapshots if snapshot.kind == kind]
    assert selected, f"no {kind} snapshots found"
    failures = [f"{s.label}: {problem}" for s in selected if (problem := _check(s)) is not None]
    assert not failures, f"{len(failures)} of {len(selected)} snapshots fail:\n" + "\n".join(
        failures
    )


@pytest.fixture(scope="module")
def terra(compat_python: Path) -> list[Snapshot]:
    return list(terra_snapshots(compat_python))


@pytest.fixture(scope="module")
def runtime(runtime_python: Path) -> list[Snapshot]:
    return list(runtime_snapshots(runtime_python))


@pytest.mark.parametrize("kind", list(PARSERS))
def test_every_qiskit_terra_046_snapshot_parses_and_dumps_back(
    terra: list[Snapshot], kind: str
) -> None:
    _assert_all_round_trip(terra, kind)


@pytest.mark.parametrize("kind", ["configuration", "properties"])  # 0.51 ships no defaults
def test_every_qiskit_ibm_runtime_051_snapshot_parses_and_dumps_back(
    runtime: list[Snapshot], kind: str
) -> None:
    _assert_all_round_trip(runtime, kind)


def test_the_releases_ship_the_devices_they_are_known_to(
    terra: list[Snapshot], runtime: list[Snapshot]
) -> None:
    for snapshots, at_least in ((terra, 45), (runtime, 60)):
        configured = {s.device for s in snapshots if s.kind == "configuration"}
        assert len(configured) >= at_least
        assert configured >= FLOAT_REVISIONS | {"vigo", "lima", "washington"}
    assert sum(s.kind == "defaults" for s in terra) >= 30
    assert not [s.label for s in runtime if s.kind == "defaults"]  # pulse left with 0.51
    revisions = {
        s.device: json.loads(s.data)["processor_type"]["revision"]
        for s in terra + runtime
        if s.kind == "configuration" and s.device in FLOAT_REVISIONS
    }
    assert all(isinstance(value, float) for value in revisions.values()), revisions
