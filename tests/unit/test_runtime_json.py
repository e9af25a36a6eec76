"""The runtime JSON codec (``ibmq_async.runtime_json``): values round-trip, and input that is
malformed or hostile is refused with an error that names it. Its agreement with
qiskit-ibm-runtime's own RuntimeEncoder and RuntimeDecoder is proven in
``tests/compat/scenarios/runtime_codec.py``."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from datetime import datetime, timezone

import numpy as np
import pytest
from qiskit import QuantumCircuit, qpy
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from ibmq_async import runtime_json as rj


def _bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def _compressed(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode()


def test_circuits_are_written_in_qpy_17_and_read_back() -> None:
    text = rj.dumps(_bell())
    value = json.loads(text)["__value__"]
    assert rj.qpy_header(zlib.decompress(base64.b64decode(value))) == (17, 1)
    assert rj.loads(text) == _bell()


@pytest.mark.parametrize("version", [12, 18])
def test_qpy_versions_outside_13_to_17_are_refused(version: int) -> None:
    buffer = io.BytesIO()
    qpy.dump(_bell(), buffer, version=17)
    raw = bytearray(buffer.getvalue())
    raw[6] = version
    document = {"__type__": "QuantumCircuit", "__value__": _compressed(bytes(raw))}
    with pytest.raises(rj.RuntimeJSONError, match=f"QPY version is {version}"):
        rj.decode(document)


def test_a_qpy_file_of_two_circuits_is_refused() -> None:
    buffer = io.BytesIO()
    qpy.dump([_bell(), _bell()], buffer, version=17)
    document = {"__type__": "QuantumCircuit", "__value__": _compressed(buffer.getvalue())}
    with pytest.raises(rj.RuntimeJSONError, match="exactly one circuit"):
        rj.decode(document)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("!!!", "base64"),
        (base64.b64encode(b"plain").decode(), "zlib"),
        (_compressed(b"QISKIT"), "not QPY"),
        (
            _compressed(struct.pack("!6sBBBBQc", b"QISKIT", 17, 2, 0, 0, 1, b"p") + b"junk"),
            "cannot be loaded",
        ),
        (42, "base64 string"),
    ],
)
def test_damaged_circuits_are_refused(value: object, fragment: str) -> None:
    with pytest.raises(rj.RuntimeJSONError, match=fragment):
        rj.decode({"__type__": "QuantumCircuit", "__value__": value})


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(0, 1, 6).reshape(2, 3),
        np.arange(10, dtype=np.uint8),
        np.array([True, False]),
        np.array([1 + 1j, -2j]),
        np.zeros((0, 4)),
    ],
)
def test_arrays_round_trip(array: np.ndarray) -> None:
    decoded = rj.loads(rj.dumps({"a": array}))["a"]
    assert decoded.dtype == array.dtype
    assert np.array_equal(decoded, array)


def test_object_arrays_are_lists_and_pickles_are_refused() -> None:
    assert json.loads(rj.dumps(np.array([1, "a"], dtype=object)))["__value__"] == [1, "a"]
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(rj.RuntimeJSONError, match="npy"):
        rj.decode({"__type__": "ndarray", "__value__": _compressed(buffer.getvalue())})


def test_a_decompression_bomb_is_refused() -> None:
    bomb = _compressed(b"\0" * (4 * 1024 * 1024))
    with pytest.raises(rj.RuntimeJSONError, match="inflates to more than 1024 bytes"):
        rj.decode({"__type__": "ndarray", "__value__": bomb}, max_bytes=1024)


def test_truncated_compressed_data_is_refused() -> None:
    data = base64.b64encode(zlib.compress(b"x" * 100)[:-4]).decode()
    with pytest.raises(rj.RuntimeJSONError, match="truncated"):
        rj.decode({"__type__": "ndarray", "__value__": data})


def test_scalars_sets_complex_and_dates() -> None:
    when = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    value = {"i": np.int64(3), "f": np.float32(0.5), "c": 2 - 1j, "s": {1, 2}, "t": when}
    decoded = rj.loads(rj.dumps(value))
    assert decoded == {"i": 3, "f": 0.5, "c": 2 - 1j, "s": {1, 2}, "t": when}
    assert rj.loads('{"__type__": "datetime", "__value__": "2026-05-06T07:08:09Z"}') == when
    with pytest.raises(rj.RuntimeJSONError, match="ISO 8601"):
        rj.loads('{"__type__": "datetime", "__value__": "soon"}')


def test_results_round_trip_with_execution_spans() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    spans = rj.ExecutionSpans(
        [rj.DoubleSliceSpan(start, start, {0: ((4,), slice(0, 1), slice(0, 4))})]
    )
    meas = BitArray(np.array([[0], [3], [3], [0]], dtype=np.uint8), 2)
    sampler = PrimitiveResult(
        [SamplerPubResult(DataBin(meas=meas, shape=()), {"circuit_metadata": {}})],
        {"execution": {"execution_spans": spans}, "version": 2},
    )
    decoded = rj.loads(rj.dumps(sampler))
    assert decoded[0].data.meas == meas
    assert decoded.metadata["execution"]["execution_spans"] == spans
    assert spans[0].size == 4
    estimator = PrimitiveResult(
        [PubResult(DataBin(evs=np.array([0.5]), stds=np.array([0.1]), shape=(1,)))]
    )
    back = rj.loads(rj.dumps(estimator))
    assert isinstance(back[0], PubResult)
    assert not isinstance(back[0], SamplerPubResult)
    assert back[0].data.evs.tolist() == [0.5]


def test_pubs_are_written_as_the_client_writes_them() -> None:
    sampler = json.loads(rj.dumps(SamplerPub.coerce(_bell(), 100)))
    assert len(sampler) == 3
    assert sampler[2] == 100
    estimator = json.loads(
        rj.dumps(EstimatorPub.coerce((_bell().remove_final_measurements(inplace=False), ["ZZ"])))
    )
    assert estimator[1] == [{"ZZ": 1.0}]
    assert estimator[3] is None


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ('{"__type__": "BitArray", "__value__": {"array": 1, "num_bits": 2}}', "BitArray"),
        ('{"__type__": "BitArray", "__value__": []}', "BitArray"),
        ('{"__type__": "DataBin", "__value__": {"fields": [], "shape": []}}', "DataBin.fields"),
        ('{"__type__": "complex", "__value__": [1]}', "complex"),
        ('{"__type__": "set", "__value__": [[1]]}', "hashable"),
        ('{"__type__": "PrimitiveResult", "__value__": {"pub_results": [1]}}', "pub_results"),
        ('{"__type__": "DoubleSliceSpan", "__value__": {"start": 1}}', "DoubleSliceSpan"),
        ('{"__type__": "ObservablesArray", "__value__": "QQ"}', "ObservablesArray"),
        ("[NaN]", "NaN"),
        ("{", "not valid JSON"),
        ("[" * 100000 + "]" * 100000, "nests too deeply"),
    ],
)
def test_malformed_documents_are_refused_naming_the_value(document: str, fragment: str) -> None:
    with pytest.raises(rj.RuntimeJSONError, match=fragment):
        rj.loads(document)


def test_unknown_types_stay_dictionaries_and_int_keys_are_integers() -> None:
    unknown = {"__type__": "Mystery", "__value__": 1}
    assert rj.loads(json.dumps(unknown)) == unknown
    assert rj.loads(json.dumps(rj.int_keys({3: "x"}))) == {3: "x"}


def test_nan_and_unknown_objects_are_not_encoded() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        rj.dumps({"x": float("nan")})
    with pytest.raises(TypeError):
        rj.dumps(object())
