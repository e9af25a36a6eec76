"""The SDK's runtime JSON codec (``ibmq_async/runtime_json.py``) against qiskit-ibm-runtime
0.51's own ``RuntimeEncoder`` and ``RuntimeDecoder``, in both directions: what the client
writes, the codec reads to the same values; what the codec writes, the client reads to
the same values. The module is loaded from its file (it needs nothing but the standard
library, NumPy and Qiskit)."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import zlib
from datetime import datetime, timezone

from _harness import Scenario, expect, expect_equal

scenario = Scenario()
ctx = scenario.context

_spec = importlib.util.spec_from_file_location("runtime_json", ctx["runtime_json"])
assert _spec is not None
assert _spec.loader is not None
rj = importlib.util.module_from_spec(_spec)
sys.modules["runtime_json"] = rj
_spec.loader.exec_module(rj)


def _client_dumps(value):
    from qiskit_ibm_runtime import RuntimeEncoder

    return json.dumps(value, cls=RuntimeEncoder)


def _client_loads(text):
    from qiskit_ibm_runtime import RuntimeDecoder

    return json.loads(text, cls=RuntimeDecoder)


def _circuits():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit.circuit.classical import expr

    bell = QuantumCircuit(2, name="bell", metadata={"experiment": 1})
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    theta = Parameter("theta")
    parametric = QuantumCircuit(1, 1)
    parametric.rx(theta, 0)
    parametric.measure(0, 0)
    dynamic = QuantumCircuit(2, 2)
    dynamic.h(0)
    dynamic.measure(0, 0)
    with dynamic.if_test(expr.equal(dynamic.clbits[0], True)):
        dynamic.x(1)
    dynamic.measure(1, 1)
    return [bell, parametric, dynamic]


@scenario.check("circuits_client_to_codec")
def _() -> list:
    names = []
    for circuit in _circuits():
        decoded = rj.loads(_client_dumps({"c": circuit}))["c"]
        expect_equal(decoded, circuit, f"circuit {circuit.name}")
        names.append(decoded.name)
    return names


@scenario.check("circuits_codec_to_client")
def _() -> list:
    versions = []
    for circuit in _circuits():
        text = rj.dumps({"c": circuit})
        expect_equal(_client_loads(text)["c"], circuit, f"circuit {circuit.name}")
        value = json.loads(text)["c"]["__value__"]
        versions.append(rj.qpy_header(zlib.decompress(base64.b64decode(value)))[0])
    expect(all(version == rj.MAX_QPY_VERSION for version in versions), f"QPY {versions}")
    return versions


@scenario.check("values_both_ways")
def _() -> list:
    import numpy as np

    values = {
        "float": np.linspace(0, 1, 7).reshape(7, 1),
        "uint8": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "bool": np.array([True, False]),
        "complex_array": np.array([1 + 2j, 3 - 1j]),
        "empty": np.zeros((0,)),
        "scalar": np.float64(2.5),
        "complex": 1.5 - 2j,
        "set": {1, 2, 3},
        "when": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    }
    checked = []
    for name, value in values.items():
        for direction, text, loads in (
            ("client->codec", _client_dumps({"v": value}), rj.loads),
            ("codec->client", rj.dumps({"v": value}), _client_loads),
        ):
            decoded = loads(text)["v"]
            if isinstance(value, np.ndarray):
                expect_equal(decoded.dtype, value.dtype, f"{name} {direction} dtype")
                expect(np.array_equal(decoded, value), f"{name} {direction}: {decoded!r}")
            else:
                expect_equal(decoded, value, f"{name} {direction}")
            checked.append(f"{name} {direction}")
    return checked


def _sampler_result():
    import numpy as np
    from qiskit.primitives.containers import BitArray, DataBin, PrimitiveResult, SamplerPubResult
    from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans

    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    stop = datetime(2026, 3, 1, 12, 0, 1, tzinfo=timezone.utc)
    meas = BitArray(np.random.default_rng(1).integers(0, 4, (2, 10, 1), dtype=np.uint8), 2)
    extra = BitArray(np.ones((2, 10, 1), dtype=np.uint8), 1)
    pub = SamplerPubResult(DataBin(meas=meas, extra=extra, shape=(2,)), {"circuit_metadata": {}})
    spans = ExecutionSpans(
        [DoubleSliceSpan(start, stop, {0: ((2, 10), slice(0, 2), slice(0, 10))})]
    )
    return PrimitiveResult([pub], {"execution": {"execution_spans": spans}, "version": 2})


def _estimator_result():
    import numpy as np
    from qiskit.primitives.containers import DataBin, PrimitiveResult, PubResult

    data = DataBin(evs=np.array([1.0, -0.5]), stds=np.array([0.01, 0.02]), shape=(2,))
    return PrimitiveResult([PubResult(data, {"target_precision": 0.01})], {"version": 2})


@scenario.check("sampler_result_client_to_codec")
def _() -> dict:
    original = _sampler_result()
    decoded = rj.loads(_client_dumps(original))
    expect_equal(decoded[0].data.meas, original[0].data.meas, "meas")
    expect_equal(decoded[0].data.extra, original[0].data.extra, "extra")
    expect_equal(decoded[0].data.shape, (2,), "DataBin shape")
    span = decoded.metadata["execution"]["execution_spans"][0]
    expect(isinstance(span, rj.DoubleSliceSpan), f"span {type(span)}")
    expect_equal(span.data_slices, {0: ((2, 10), slice(0, 2), slice(0, 10))}, "data_slices")
    expect_equal(span.start, datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc), "start")
    return {"fields": list(decoded[0].data)}


@scenario.check("sampler_result_codec_to_client")
def _() -> dict:
    from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans

    original = _sampler_result()
    ours = rj.loads(_client_dumps(original))
    decoded = _client_loads(rj.dumps(ours))
    expect_equal(decoded[0].data.meas, original[0].data.meas, "meas")
    expect_equal(decoded[0].data.shape, (2,), "DataBin shape")
    spans = decoded.metadata["execution"]["execution_spans"]
    expect(isinstance(spans, ExecutionSpans), f"spans {type(spans)}")
    expect(isinstance(spans[0], DoubleSliceSpan), f"span {type(spans[0])}")
    expect_equal(spans[0].size, 20, "span size")
    return {"spans": len(spans)}


@scenario.check("estimator_result_both_ways")
def _() -> dict:
    import numpy as np

    original = _estimator_result()
    for label, text, loads in (
        ("client->codec", _client_dumps(original), rj.loads),
        ("codec->client", rj.dumps(rj.loads(_client_dumps(original))), _client_loads),
    ):
        decoded = loads(text)
        expect(np.array_equal(decoded[0].data.evs, original[0].data.evs), f"evs {label}")
        expect(np.array_equal(decoded[0].data.stds, original[0].data.stds), f"stds {label}")
        expect_equal(decoded[0].metadata, {"target_precision": 0.01}, f"metadata {label}")
    return {"evs": original[0].data.evs.tolist()}


@scenario.check("pubs_encoded_as_the_client_encodes_them")
def _() -> list:
    import numpy as np
    from qiskit.primitives.containers.estimator_pub import EstimatorPub
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    bell, parametric, _dynamic = _circuits()
    pubs = [
        SamplerPub.coerce(bell, 100),
        SamplerPub.coerce((parametric, np.array([[0.1], [0.2]]), 50)),
        EstimatorPub.coerce((bell.remove_final_measurements(inplace=False), ["ZZ", "XX"])),
        EstimatorPub.coerce((parametric.remove_final_measurements(inplace=False), "Z",
                             np.array([[0.3]]), 0.05)),
    ]  # fmt: skip
    shapes = []
    for pub in pubs:
        ours = json.loads(rj.dumps(pub))
        theirs = json.loads(_client_dumps(pub))
        expect_equal(len(ours), len(theirs), "PUB length")
        expect_equal(ours[1:], theirs[1:], "PUB fields after the circuit")
        expect_equal(rj.loads(json.dumps(ours[0])), rj.loads(json.dumps(theirs[0])), "circuit")
        shapes.append(len(ours))
    return shapes


@scenario.check("int_keys")
def _() -> dict:
    flagged = rj.loads(json.dumps(rj.int_keys({1: "a", 2: "b"})))
    expect_equal(flagged, {1: "a", 2: "b"}, "__int_keys__ decoded")
    return flagged


scenario.finish()
