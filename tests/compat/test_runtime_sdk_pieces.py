"""The SDK's platform pieces agree with qiskit-ibm-runtime 0.51 itself on the same inputs
(``scenarios/runtime_sdk_pieces.py`` runs the client; this side runs the SDK):

* ``ibmq_async.platform.backend_target`` gives the Target ``convert_to_target`` gives, for
  every bundled device with and without its properties, and the one ``backend.target``
  gives for a device the local service hosts: the same instructions on the same qubits
  with the same errors and durations, the same qubit properties, ``dt`` and timing;
* sampler and estimator options give the ``params`` options and the job's fields that
  qiskit-ibm-runtime sends;
* the accounts qiskit-ibm-runtime saves are read with its names, its choice of default
  and the API URL its resolver gives.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest
from compat_env import ScenarioRun, assert_completed

from ibmq_async.credentials import DEFAULT_PLATFORM_URL, read_qiskit_runtime_credentials
from ibmq_async.local.config import BackendConfig
from ibmq_async.local.devices import DEVICES_DIR, load_device
from ibmq_async.platform import EstimatorOptions, SamplerOptions, backend_target

_spec = importlib.util.spec_from_file_location(
    "_target_summary", Path(__file__).with_name("scenarios") / "_target_summary.py"
)
assert _spec is not None
assert _spec.loader is not None
_summaries = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_summaries)

SCENARIO = "runtime_sdk_pieces"
CHECKS = ("targets", "options", "accounts")

pytestmark = [pytest.mark.compat, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def pieces(run_runtime_scenario: Any) -> tuple[ScenarioRun, Path]:
    return run_runtime_scenario(SCENARIO), Path(run_runtime_scenario.workdir)


def _output(pieces: tuple[ScenarioRun, Path], check: str) -> Any:
    run, workdir = pieces
    entry = run.checks.get(check)
    assert entry is not None, run.describe()
    assert entry["ok"], f"{check}: {entry['detail']}\n{entry.get('traceback', '')}"
    return json.loads((workdir / entry["detail"]["file"]).read_text(encoding="utf-8"))


def test_the_scenario_completed(pieces: tuple[ScenarioRun, Path]) -> None:
    assert_completed(pieces[0], CHECKS)


def _same(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, float) or isinstance(ours, float):
        assert ours is not None, where
        assert theirs is not None, where
        assert math.isclose(ours, theirs, rel_tol=1e-12), f"{where}: {ours} != {theirs}"
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert set(ours) == set(theirs), f"{where}: {sorted(set(ours) ^ set(theirs))[:8]}"
        for key in theirs:
            _same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        assert len(ours) == len(theirs), where
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            _same(mine, other, f"{where}[{index}]")
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def test_targets_are_those_of_convert_to_target(pieces: tuple[ScenarioRun, Path]) -> None:
    theirs = _output(pieces, "targets")
    compared = 0
    for key, target in theirs.items():
        kind, detail = key.split(":")
        if kind == "served":
            device = load_device(BackendConfig(name=detail, device=detail.removeprefix("ibm_")))
            ours = backend_target(device.configuration, device.properties_document())
        else:
            configuration = json.loads((DEVICES_DIR / kind / "conf.json").read_text())
            properties = json.loads((DEVICES_DIR / kind / "props.json").read_text())
            ours = backend_target(configuration, properties if detail == "True" else None)
        _same(json.loads(json.dumps(_summaries.target_summary(ours))), target, key)
        compared += 1
    assert compared == 11


def _job_fields(runtime: dict[str, Any]) -> dict[str, Any]:
    """The fields of POST /v1/jobs qiskit-ibm-runtime's ``program_run`` sends from these
    runtime options."""
    fields: dict[str, Any] = {}
    if runtime.get("image"):
        fields["runtime"] = runtime["image"]
    if runtime.get("log_level"):
        fields["log_level"] = runtime["log_level"]
    if runtime.get("job_tags"):
        fields["tags"] = runtime["job_tags"]
    if runtime.get("max_execution_time"):
        fields["cost"] = runtime["max_execution_time"]
    if runtime.get("private"):
        fields["private"] = True
    return fields


def test_options_are_sent_as_qiskit_runtime_sends_them(pieces: tuple[ScenarioRun, Path]) -> None:
    cases = _output(pieces, "options")
    assert len(cases) == 17
    for case in cases:
        kind = SamplerOptions if case["kind"] == "sampler" else EstimatorOptions
        options = kind.coerce(case["given"])
        where = f"{case['kind']} {case['given']}"
        assert json.loads(json.dumps(options.program_inputs())) == case["inputs"], where
        assert options.job_fields() == _job_fields(case["runtime"]), where


def test_saved_accounts_are_read_as_qiskit_runtime_reads_them(
    pieces: tuple[ScenarioRun, Path],
) -> None:
    saved = _output(pieces, "accounts")
    path = Path(saved["file"])
    for name, theirs in saved["accounts"].items():
        ours = read_qiskit_runtime_credentials(path, name=name, environ={})
        assert ours is not None, name
        assert ours.token == theirs["token"], name
        assert ours.instance == theirs["instance"], name
        assert ours.channel == theirs["channel"], name
        if theirs["instance"].startswith("crn:"):
            assert f"{ours.api_url}/v1" == theirs["api"], name
        else:
            # qiskit-ibm-runtime resolves a name to its CRN first; until then the SDK
            # takes the default root.
            assert ours.api_url == DEFAULT_PLATFORM_URL
    default = read_qiskit_runtime_credentials(path, environ={})
    assert default is not None
    assert default.instance == saved["chosen"]["default"]
    assert default.instance is not None
    assert default.instance.endswith(":sdk0marked::")  # the account marked default
    cloud = read_qiskit_runtime_credentials(path, channel="ibm_cloud", environ={})
    assert cloud is not None
    assert cloud.token == saved["chosen"]["ibm_cloud"]
