"""Sampler results as the classic Result: counts and memory keyed as Qiskit keys them
(registers in the circuit's order, the last first, split by spaces), the headers, several
parameter sets, circuits without registers, and results of the wrong shape refused."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.primitives.containers import BitArray, DataBin, PrimitiveResult, SamplerPubResult

from ibmq_async import runtime_json
from ibmq_async.exceptions import ApiProtocolError
from ibmq_async.models import Result, ResultDataError, format_outcome
from ibmq_async.platform import PlatformResultError, sampler_result_to_result
from ibmq_async.runtime_json import DoubleSliceSpan, ExecutionSpans


def two_registers() -> QuantumCircuit:
    circuit = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(1, "a"), name="two")
    circuit.add_register(ClassicalRegister(2, "c"))
    circuit.x(0)
    circuit.x(2)
    circuit.measure(0, 0)
    circuit.measure([1, 2], [1, 2])
    return circuit


def pub_result(shape: tuple[int, ...] = (), **registers: list[str]) -> SamplerPubResult:
    fields = {}
    for name, samples in registers.items():
        bits = BitArray.from_samples(samples, num_bits=len(samples[0]))
        if shape:
            bits = bits.reshape(*shape, bits.num_shots // int(np.prod(shape)))
        fields[name] = bits
    return SamplerPubResult(DataBin(shape=shape, **fields), {"circuit_metadata": {"k": 1}})


def primitive(*pubs: SamplerPubResult, shots: int | None = None) -> PrimitiveResult:
    metadata: dict[str, Any] = {"version": 2}
    if shots is not None:
        now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        slices = {i: ((shots,), slice(0, 1), slice(0, shots)) for i in range(len(pubs))}
        spans = ExecutionSpans([DoubleSliceSpan(start=now, stop=now, data_slices=slices)])
        metadata["execution"] = {"execution_spans": spans}
    return PrimitiveResult(list(pubs), metadata)


def test_counts_and_memory_are_keyed_as_qiskit_keys_them() -> None:
    # a = 1 every shot; c = "10" (bit 1 set) then "01".
    result = sampler_result_to_result(
        primitive(pub_result(a=["1", "1", "1"], c=["10", "10", "01"])),
        job_id="job-1",
        backend_name="ibm_fez",
        backend_version="1.2.3",
        circuits=[two_registers()],
    )
    assert isinstance(result, Result)
    assert result.get_counts() == {"10 1": 2, "01 1": 1}
    assert result.get_counts(0) == result.get_counts("two")
    assert result.get_memory("two") == ["10 1", "10 1", "01 1"]
    experiment = result.results[0]
    assert experiment.shots == 3
    assert experiment.success
    assert experiment.data.counts == {"0x5": 2, "0x3": 1}
    header = experiment.header
    assert header is not None
    assert header.name == "two"
    assert header.memory_slots == 3
    assert header.to_wire()["creg_sizes"] == [["a", 1], ["c", 2]]
    assert header.to_wire()["clbit_labels"] == [["a", 0], ["c", 0], ["c", 1]]
    assert header.to_wire()["qreg_sizes"] == [["q", 3]]
    assert header.n_qubits == 3
    assert header.metadata == {"k": 1}
    assert result.job_id == result.qobj_id == "job-1"
    assert result.backend_name == "ibm_fez"
    assert result.backend_version == "1.2.3"
    assert result.success
    assert result.status == "COMPLETED"


def test_hex_outcomes_format_like_the_classic_services() -> None:
    # The classic service writes an outcome as the memory slots in hex: register a in slot
    # 0, c in slots 1 and 2; Qiskit's formatting splits it back by register.
    assert format_outcome("0x5", 3, [("a", 1), ("c", 2)]) == "10 1"


def test_the_register_order_is_the_circuits_not_the_results() -> None:
    circuit = two_registers()
    data = {"c": ["11"], "a": ["0"]}  # listed the other way round
    result = sampler_result_to_result(
        primitive(pub_result(**data)), job_id="j", backend_name="b", circuits=[circuit]
    )
    assert result.get_counts() == {"11 0": 1}


def test_without_the_circuits_the_results_register_order_is_used() -> None:
    result = sampler_result_to_result(
        primitive(pub_result(a=["1"], c=["10"])), job_id="j", backend_name="b"
    )
    assert result.get_counts() == {"10 1": 1}
    header = result.results[0].header
    assert header is not None
    assert header.name is None
    assert header.to_wire()["creg_sizes"] == [["a", 1], ["c", 2]]
    assert header.qreg_sizes is None


def test_each_parameter_set_is_an_experiment_named_as_classic_bound_circuits() -> None:
    circuit = QuantumCircuit(1, 1, name="rot")
    samples = ["0", "0", "1", "1", "1", "0"]  # 2 parameter sets x 3 shots
    result = sampler_result_to_result(
        primitive(pub_result((2,), c=samples)), job_id="j", backend_name="b", circuits=[circuit]
    )
    assert result.experiment_names == ["rot-0", "rot-1"]
    assert result.get_counts("rot-0") == {"0": 2, "1": 1}
    assert result.get_counts(1) == {"1": 2, "0": 1}
    assert result.get_counts() == [{"0": 2, "1": 1}, {"1": 2, "0": 1}]


def test_a_circuit_without_registers_has_no_counts_as_on_the_classic_channel() -> None:
    circuit = QuantumCircuit(1, name="unmeasured")
    circuit.x(0)
    result = sampler_result_to_result(
        primitive(SamplerPubResult(DataBin(), {}), shots=10),
        job_id="j",
        backend_name="b",
        circuits=[circuit],
    )
    with pytest.raises(ResultDataError, match="'unmeasured' measured nothing"):
        result.get_counts()
    assert result.results[0].shots == 10
    assert result.results[0].data.to_wire() == {}


def test_wide_registers_keep_every_bit() -> None:
    bits = "1" + "0" * 68 + "1"  # 70 bits
    circuit = QuantumCircuit(QuantumRegister(70), ClassicalRegister(70, "wide"), name="wide")
    result = sampler_result_to_result(
        primitive(pub_result(wide=[bits, bits])), job_id="j", backend_name="b", circuits=[circuit]
    )
    assert result.get_counts() == {bits: 2}


def test_memory_can_be_left_out() -> None:
    result = sampler_result_to_result(
        primitive(pub_result(c=["1"])), job_id="j", backend_name="b", memory=False
    )
    assert result.get_counts() == {"1": 1}
    assert result.results[0].data.memory is None


def test_a_result_through_the_wire_converts_the_same() -> None:
    original = primitive(pub_result(a=["1", "0"], c=["10", "01"]), shots=2)
    decoded = runtime_json.loads(runtime_json.dumps(original))
    date = datetime(2026, 5, 1, tzinfo=timezone.utc)
    result = sampler_result_to_result(
        decoded, job_id="j", backend_name="b", circuits=[two_registers()], date=date
    )
    assert result.get_memory(0) == ["10 1", "01 0"]
    assert result.date == date
    assert Result.model_validate(result.to_wire()).get_counts() == result.get_counts()


@pytest.mark.parametrize(
    ("value", "circuits", "fragment"),
    [
        ({"pub_results": []}, None, "expected the PrimitiveResult of a sampler job, got dict"),
        (primitive(pub_result(c=["1"])), [], "1 PUB results for 0 circuits"),
        (
            primitive(pub_result(a=["1"])),
            [two_registers()],
            "PUB 0 has nothing for classical register 'c'",
        ),
        (
            primitive(pub_result(a=["1"], c=["101"])),
            [two_registers()],
            "PUB 0 has 3 bits for classical register 'c' of 2",
        ),
        (
            primitive(SamplerPubResult(DataBin(a=np.zeros((3, 1)), c=np.zeros((3, 2))), {})),
            [two_registers()],
            "has ndarray for classical register 'a', not a BitArray",
        ),
    ],
)
def test_a_result_of_the_wrong_shape_is_refused(
    value: Any, circuits: list[Any] | None, fragment: str
) -> None:
    with pytest.raises(PlatformResultError, match=fragment) as caught:
        sampler_result_to_result(value, job_id="j", backend_name="b", circuits=circuits)
    assert isinstance(caught.value, ApiProtocolError)
