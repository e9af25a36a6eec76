"""Rebuilding circuits from a Qobj: the inverse of circuits_to_qobj on terra's own Qobjs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ibmq_async.circuits import circuits_to_qobj, qobj_to_circuits
from ibmq_async.exceptions import CircuitConversionError

REFERENCES = sorted((Path(__file__).parent.parent / "data" / "circuits").glob("*.qobj.json"))


def _has_conditionals(qobj: dict[str, Any]) -> bool:
    return any(
        "conditional" in instruction or instruction.get("name") == "bfunc"
        for experiment in qobj["experiments"]
        for instruction in experiment["instructions"]
    )


@pytest.mark.parametrize("path", REFERENCES, ids=lambda path: path.name.split(".")[0])
def test_terra_qobjs_rebuild_into_circuits_that_convert_back_unchanged(path: Path) -> None:
    qobj = json.loads(path.read_text())
    if _has_conditionals(qobj):
        with pytest.raises(CircuitConversionError, match="conditional"):
            qobj_to_circuits(qobj)
        return
    circuits = qobj_to_circuits(qobj)
    assert [c.name for c in circuits] == [e["header"]["name"] for e in qobj["experiments"]]
    again = circuits_to_qobj(circuits, backend_name="b", backend_version="1.0.0")
    for before, after in zip(qobj["experiments"], again["experiments"], strict=True):
        assert after["instructions"] == before["instructions"]
        for key in ("qreg_sizes", "creg_sizes", "memory_slots", "global_phase", "metadata"):
            assert after["header"].get(key) == before["header"].get(key), key


def test_unknown_instructions_and_pulse_qobjs_are_refused_with_the_place_named() -> None:
    qobj = {
        "type": "QASM",
        "experiments": [
            {
                "header": {"name": "odd", "n_qubits": 1, "memory_slots": 0},
                "instructions": [{"name": "frobnicate", "qubits": [0]}],
            }
        ],
    }
    with pytest.raises(CircuitConversionError, match=r"experiment 0 \('odd'\), instruction 0"):
        qobj_to_circuits(qobj)
    with pytest.raises(CircuitConversionError, match="PULSE"):
        qobj_to_circuits({"type": "PULSE", "experiments": []})


@pytest.mark.parametrize("path", REFERENCES, ids=lambda path: path.name.split(".")[0])
def test_the_client_and_the_local_service_convert_with_the_same_converter(path: Path) -> None:
    from ibmq_async.local.config import BackendConfig
    from ibmq_async.local.devices import load_device
    from ibmq_async.local.executor import prepare

    qobj = json.loads(path.read_text())
    device = load_device(BackendConfig(name="ibmq_qasm_simulator", device="simulator"))
    prepared = prepare(qobj, device)
    if _has_conditionals(qobj):
        assert any(
            item.operation.name == "if_else"
            for experiment in prepared.experiments
            for item in experiment.circuit.data
        )
        return
    rebuilt = qobj_to_circuits(qobj)
    for client, service in zip(rebuilt, prepared.experiments, strict=True):
        # The same operations with the same parameters; only the registers differ (the
        # service renumbers qubits to those used and drops delays).
        ours = [(i.operation.name, list(i.operation.params)) for i in client.data]
        theirs = [(i.operation.name, list(i.operation.params)) for i in service.circuit.data]
        assert [op for op in ours if op[0] != "delay"] == theirs
