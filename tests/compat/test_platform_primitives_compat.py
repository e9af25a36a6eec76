"""The SDK's Sampler, Estimator, Session and Batch put on the wire what qiskit-ibm-runtime
0.51's ``SamplerV2``, ``EstimatorV2``, ``Session`` and ``Batch`` put there, for the same
inputs on the same service.

``scenarios/runtime_primitives.py`` runs the cases of ``scenarios/_primitive_cases.py``
with the unmodified client; here the SDK runs them again, with the circuits the client
sent (read back from its jobs), and the two jobs of each case are compared as the service
keeps them: the ``params`` (PUBs decoded: circuits, parameter values, shots, observables,
precision; the options, ``version``, ``support_qiskit``, ``resilience_level``), the
program, backend, tags, ``cost``, ``private`` and ``runtime`` of the job, and the mode,
``max_ttl`` and backend of the session it ran in.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from compat_env import ScenarioRun, assert_check, assert_completed
from runtime_env import DEVICE, OTHER_API_KEY, OTHER_INSTANCE, RuntimeService

from ibmq_async import runtime_json
from ibmq_async.api.submission import SUBMISSION_TAG_PREFIX

_spec = importlib.util.spec_from_file_location(
    "_primitive_cases", Path(__file__).with_name("scenarios") / "_primitive_cases.py"
)
assert _spec is not None
assert _spec.loader is not None
_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cases)
CASES: dict[str, list[dict[str, Any]]] = _cases.CASES

SCENARIO = "runtime_primitives"
CHECKS = tuple(CASES)

pytestmark = [pytest.mark.compat, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def client_run(run_runtime_scenario: Any) -> tuple[ScenarioRun, Path]:
    return run_runtime_scenario(SCENARIO), Path(run_runtime_scenario.workdir)


def test_the_scenario_completed(client_run: tuple[ScenarioRun, Path]) -> None:
    assert_completed(client_run[0], CHECKS)


@pytest.mark.parametrize("check", CHECKS)
def test_the_client_ran_the_cases(client_run: tuple[ScenarioRun, Path], check: str) -> None:
    assert_check(client_run[0], SCENARIO, check, "qiskit-ibm-runtime")


# --- the SDK's runs of the same cases -------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """The job each client made for one case, as the service keeps it, and its session."""

    kind: str
    case: dict[str, Any]
    theirs: dict[str, Any]
    ours: dict[str, Any]
    their_session: dict[str, Any] | None
    our_session: dict[str, Any] | None


@pytest.fixture(scope="module")
def wire(runtime_service: RuntimeService) -> Iterator[httpx.Client]:
    """Plain HTTP to the service, as the account the scenario ran on."""
    with httpx.Client(base_url=runtime_service.root, timeout=60.0) as http:
        token = http.post(
            "/identity/token",
            data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": OTHER_API_KEY},
        ).json()["access_token"]
        http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Service-CRN": OTHER_INSTANCE,
                "IBM-API-Version": "2026-04-15",
            }
        )
        yield http


def _get(http: httpx.Client, path: str) -> dict[str, Any]:
    response = http.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _pub(kind: str, spec: list[Any], circuit: Any) -> tuple[Any, ...]:
    """A PUB as the scenario gives it to qiskit-ibm-runtime, on ``circuit``."""
    from qiskit.quantum_info import SparsePauliOp

    rest = list(spec[1:])
    if kind == "estimator":
        rest[0] = [SparsePauliOp(label).apply_layout(circuit.layout) for label in rest[0]]
        if len(rest) > 1 and rest[1] is not None:
            rest[1] = np.array(rest[1])
    elif rest and rest[0] is not None:
        rest[0] = np.array(rest[0])
    return (circuit, *rest)


async def _sdk_runs(root: str, theirs: dict[tuple[str, str], dict[str, Any]]) -> dict[Any, Any]:
    """Each case again with the SDK, on the circuits the client sent; the job and session
    ids by case."""
    from ibmq_async import IBMQ
    from ibmq_async.platform import Batch, Estimator, Sampler, Session

    provider = await IBMQ.enable_account(
        OTHER_API_KEY,
        channel="ibm_quantum_platform",
        instance=OTHER_INSTANCE,
        url=f"{root}/api",
        iam_url=root,
    )
    made: dict[Any, Any] = {}
    try:
        backend = provider.get_backend(DEVICE)
        for kind, cases in CASES.items():
            primitive = Sampler if kind == "sampler" else Estimator
            for case in cases:
                params = runtime_json.loads(json.dumps(theirs[kind, case["name"]]["params"]))
                circuits = [pub[0] for pub in params["pubs"]]
                pubs = [_pub(kind, spec, circuits[i]) for i, spec in enumerate(case["pubs"])]
                if case["mode"] == "job":
                    job = await primitive(mode=backend, options=case["options"]).run(
                        pubs, **case["run"]
                    )
                else:
                    kind_of_session = Session if case["mode"] == "session" else Batch
                    async with kind_of_session(backend, max_time=case["max_time"]) as session:
                        job = await primitive(mode=session, options=case["options"]).run(
                            pubs, **case["run"]
                        )
                await job.result()
                made[kind, case["name"]] = (job.job_id(), job.session_id)
    finally:
        await provider.aclose()
    return made


@pytest.fixture(scope="module")
def pairs(
    client_run: tuple[ScenarioRun, Path], runtime_service: RuntimeService, wire: httpx.Client
) -> dict[tuple[str, str], Pair]:
    run, workdir = client_run
    theirs: dict[tuple[str, str], dict[str, Any]] = {}
    their_sessions: dict[tuple[str, str], str | None] = {}
    for kind in CASES:
        entry = run.checks[kind]
        assert entry["ok"], entry
        for item in json.loads((workdir / entry["detail"]["file"]).read_text("utf-8")):
            theirs[kind, item["name"]] = _get(wire, f"/jobs/{item['job']}")
            their_sessions[kind, item["name"]] = item["session"]
    ours = anyio.run(_sdk_runs, runtime_service.root, theirs)
    out = {}
    for kind, cases in CASES.items():
        for case in cases:
            key = (kind, case["name"])
            job_id, session_id = ours[key]
            their_session = their_sessions[key]
            out[key] = Pair(
                kind,
                case,
                theirs[key],
                _get(wire, f"/jobs/{job_id}"),
                None if their_session is None else _get(wire, f"/sessions/{their_session}"),
                None if session_id is None else _get(wire, f"/sessions/{session_id}"),
            )
    return out


def _same_value(ours: Any, theirs: Any, where: str) -> None:
    from qiskit import QuantumCircuit

    if isinstance(theirs, QuantumCircuit):
        assert isinstance(ours, QuantumCircuit), where
        assert ours == theirs, f"{where}: the circuits differ"
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: {type(ours).__name__}"
        assert ours.shape == theirs.shape, f"{where}: {ours.shape} != {theirs.shape}"
        assert np.array_equal(ours, theirs), where
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert sorted(ours) == sorted(theirs), f"{where}: {sorted(ours)} != {sorted(theirs)}"
        for key in theirs:
            _same_value(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)), where
        assert len(ours) == len(theirs), f"{where}: {len(ours)} != {len(theirs)} items"
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            _same_value(mine, other, f"{where}[{index}]")
    else:
        assert type(ours) is type(theirs), f"{where}: {ours!r} != {theirs!r}"
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


CASE_KEYS = [(kind, case["name"]) for kind, cases in CASES.items() for case in cases]
CASE_IDS = [f"{kind}:{name}" for kind, name in CASE_KEYS]


@pytest.mark.parametrize("key", CASE_KEYS, ids=CASE_IDS)
def test_the_params_are_those_of_qiskit_ibm_runtime(
    pairs: dict[tuple[str, str], Pair], key: tuple[str, str]
) -> None:
    pair = pairs[key]
    assert pair.theirs["params"] is not None
    assert pair.ours["params"] is not None
    ours = runtime_json.loads(json.dumps(pair.ours["params"]))
    theirs = runtime_json.loads(json.dumps(pair.theirs["params"]))
    _same_value(ours, theirs, "params")


@pytest.mark.parametrize("key", CASE_KEYS, ids=CASE_IDS)
def test_the_job_fields_are_those_of_qiskit_ibm_runtime(
    pairs: dict[tuple[str, str], Pair], key: tuple[str, str]
) -> None:
    pair = pairs[key]
    for field in ("backend", "program", "cost", "private", "runtime"):
        assert pair.ours[field] == pair.theirs[field], field
    ours = [tag for tag in pair.ours["tags"] if not tag.startswith(SUBMISSION_TAG_PREFIX)]
    assert ours == pair.theirs["tags"]
    assert (pair.ours["session_id"] is None) == (pair.theirs["session_id"] is None)


SESSION_KEYS = [
    (kind, case["name"]) for kind, cases in CASES.items() for case in cases if case["mode"] != "job"
]


@pytest.mark.parametrize("key", SESSION_KEYS, ids=[f"{kind}:{name}" for kind, name in SESSION_KEYS])
def test_sessions_and_batches_are_made_as_qiskit_ibm_runtime_makes_them(
    pairs: dict[tuple[str, str], Pair], key: tuple[str, str]
) -> None:
    pair = pairs[key]
    assert pair.our_session is not None
    assert pair.their_session is not None
    for field in ("mode", "max_ttl", "backend_name", "state", "accepting_jobs"):
        assert pair.our_session[field] == pair.their_session[field], field
    assert pair.our_session["mode"] == {"session": "dedicated", "batch": "batch"}[pair.case["mode"]]
