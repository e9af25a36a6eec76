"""The JSON of the IBM Quantum Platform's runtime API: qiskit-ibm-runtime's RuntimeEncoder form.

Job parameters (``POST /v1/jobs``) and job results (``GET /v1/jobs/{id}/results``) travel as
JSON in which values JSON has no type for are objects ``{"__type__": T, "__value__": V}``
(docs/platform.md §5, §6):

=======================  ==========================================================
``__type__``             ``__value__``
=======================  ==========================================================
``QuantumCircuit``       base64 of zlib of QPY (one circuit, QPY versions 13 to 17)
``ndarray``              base64 of zlib of ``numpy.save(allow_pickle=False)``; a list
                         for object arrays
``datetime``             ISO 8601
``complex``              ``[re, im]``
``set``                  a list
``BitArray``             ``{"array": ndarray uint8, "num_bits": n}``
``DataBin``              ``{"field_names", "field_types", "shape", "fields"}``
``SamplerPubResult``     ``{"data": DataBin, "metadata": {...}}``
``PubResult``            ``{"data": DataBin, "metadata": {...}}``
``PrimitiveResult``      ``{"pub_results": [...], "metadata": {...}}``
``ExecutionSpans``       ``{"spans": [DoubleSliceSpan, ...]}``
``DoubleSliceSpan``      ``{"start", "stop", "data_slices": {i: [shape, a0, a1, s0, s1]}}``
``ObservablesArray``     the nested lists of ``{pauli: coefficient}``
=======================  ==========================================================

and a dictionary whose keys were integers carries ``"__int_keys__": true``. A sampler PUB
is written ``[circuit, parameter_values, shots]`` and an estimator PUB
``[circuit, observables, parameter_values, precision]``, as the RuntimeEncoder writes them.

:func:`dumps` and :func:`loads` are the codec. Both sides use it: the SDK encodes PUBs and
decodes results with it; the local service decodes PUBs and encodes results. Decoding is
meant for input from the network: a malformed value raises :class:`RuntimeJSONError`
naming what is wrong, compressed data is inflated only up to a bound, and ndarrays are
never unpickled. Types this module does not know stay the dictionaries they are.

NumPy and Qiskit are imported only when a value needs them (the ``qiskit`` extra).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

__all__ = [
    "MAX_INFLATED_BYTES",
    "MAX_QPY_VERSION",
    "MIN_QPY_VERSION",
    "DoubleSliceSpan",
    "ExecutionSpans",
    "RuntimeJSONEncoder",
    "RuntimeJSONError",
    "decode",
    "decode_circuit",
    "decode_ndarray",
    "dumps",
    "encode_circuit",
    "encode_ndarray",
    "int_keys",
    "loads",
    "qpy_header",
]

MIN_QPY_VERSION = 13
"""The oldest QPY version the platform accepts for a circuit."""

MAX_QPY_VERSION = 17
"""The newest QPY version the platform accepts (qiskit-ibm-runtime's
``SERVICE_MAX_SUPPORTED_QPY_VERSION``); circuits are written in it unless asked otherwise."""

MAX_INFLATED_BYTES = 512 * 1024 * 1024
"""The default bound on what one compressed value may inflate to."""

_QPY_PREFACE = b"QISKIT"
_QPY_HEADER = struct.Struct("!6sBBBBQc")
"""The QPY file header of versions 10 and later: preface, version, the Qiskit version that
wrote it (major, minor, patch), the number of programs, the symbolic encoding."""


class RuntimeJSONError(ValueError):
    """A value of the runtime JSON that cannot be decoded; the message says which and why."""


# --- execution spans ------------------------------------------------------------------------


@dataclass(frozen=True)
class DoubleSliceSpan:
    """When a slice of the data of some PUBs was taken (qiskit-ibm-runtime's class of the name).

    Attributes:
        start: When the span started (UTC).
        stop: When it stopped (UTC).
        data_slices: PUB index to ``(shape, parameter slice, shot slice)``; ``shape`` is the
            PUB's shape followed by its shots.
    """

    start: datetime
    stop: datetime
    data_slices: dict[int, tuple[tuple[int, ...], slice, slice]]

    @property
    def duration(self) -> float:
        """Seconds between start and stop."""
        return (self.stop - self.start).total_seconds()

    @property
    def pub_idxs(self) -> list[int]:
        """The PUBs with data in this span."""
        return sorted(self.data_slices)

    @property
    def size(self) -> int:
        """How many shots of data the span covers."""
        total = 0
        for _shape, parameters, shots in self.data_slices.values():
            total += len(range(*parameters.indices(1 << 62))) * len(range(*shots.indices(1 << 62)))
        return total


@dataclass(frozen=True)
class ExecutionSpans:
    """The execution spans of a sampler job, in the order they were recorded.

    Attributes:
        spans: The spans.
    """

    spans: list[DoubleSliceSpan] = field(default_factory=list)

    def __iter__(self) -> Iterator[DoubleSliceSpan]:
        return iter(self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, index: int) -> DoubleSliceSpan:
        return self.spans[index]

    @property
    def start(self) -> datetime:
        """When the first span started.

        Raises:
            ValueError: If there is no span.
        """
        if not self.spans:
            raise ValueError("no execution spans")
        return min(span.start for span in self.spans)

    @property
    def stop(self) -> datetime:
        """When the last span stopped.

        Raises:
            ValueError: If there is no span.
        """
        if not self.spans:
            raise ValueError("no execution spans")
        return max(span.stop for span in self.spans)


# --- the pieces -----------------------------------------------------------------------------


def _inflate(data: bytes, limit: int, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, limit)
    except zlib.error as error:
        raise RuntimeJSONError(f"{what}: not zlib-compressed data ({error})") from None
    if inflater.unconsumed_tail:
        raise RuntimeJSONError(f"{what}: inflates to more than {limit} bytes")
    if not inflater.eof:
        raise RuntimeJSONError(f"{what}: the compressed data is truncated")
    return inflated


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise RuntimeJSONError(f"{what}: expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise RuntimeJSONError(f"{what}: not valid base64") from None


def encode_ndarray(array: Any) -> dict[str, Any]:
    """The ``ndarray`` object of a NumPy array (object arrays as nested lists)."""
    import numpy as np

    array = np.asarray(array)
    if array.dtype == object:
        return {"__type__": "ndarray", "__value__": array.tolist()}
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    value = base64.standard_b64encode(zlib.compress(buffer.getvalue())).decode("ascii")
    return {"__type__": "ndarray", "__value__": value}


def decode_ndarray(value: object, *, max_bytes: int = MAX_INFLATED_BYTES) -> Any:
    """The NumPy array of an ``ndarray`` object's ``__value__``.

    Raises:
        RuntimeJSONError: If the value is not a number, a list or compressed ``.npy`` data.
    """
    import numpy as np

    if isinstance(value, bool) or value is None:
        raise RuntimeJSONError(f"ndarray: unexpected {value!r}")
    if isinstance(value, (int, float, list)):
        try:
            return np.array(value)
        except (ValueError, TypeError) as error:
            raise RuntimeJSONError(f"ndarray: {error}") from None
    raw = _inflate(_b64decode(value, "ndarray"), max_bytes, "ndarray")
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as error:  # numpy raises ValueError, EOFError, OSError... on bad data
        raise RuntimeJSONError(f"ndarray: not a NumPy .npy array ({error})") from None


def qpy_header(data: bytes) -> tuple[int, int]:
    """The QPY version and the number of programs of QPY data.

    Raises:
        RuntimeJSONError: If ``data`` does not start with a QPY header of version 10 or later.
    """
    if len(data) < _QPY_HEADER.size or not data.startswith(_QPY_PREFACE):
        raise RuntimeJSONError("QuantumCircuit: the data is not QPY")
    _preface, version, _major, _minor, _patch, programs, _encoding = _QPY_HEADER.unpack_from(data)
    if version < 10:
        raise RuntimeJSONError(f"QuantumCircuit: QPY version {version} is older than 10")
    return int(version), int(programs)


def encode_circuit(circuit: Any, *, qpy_version: int = MAX_QPY_VERSION) -> dict[str, Any]:
    """The ``QuantumCircuit`` object of a circuit, in QPY ``qpy_version`` (at most what the
    installed Qiskit writes).

    Raises:
        ValueError: If Qiskit cannot write that QPY version.
    """
    from qiskit import qpy

    version = min(qpy_version, qpy.QPY_VERSION)
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer, version=version)
    value = base64.standard_b64encode(zlib.compress(buffer.getvalue())).decode("ascii")
    return {"__type__": "QuantumCircuit", "__value__": value}


def decode_circuit(
    value: object,
    *,
    min_version: int = MIN_QPY_VERSION,
    max_version: int = MAX_QPY_VERSION,
    max_bytes: int = MAX_INFLATED_BYTES,
) -> Any:
    """The circuit of a ``QuantumCircuit`` object's ``__value__``.

    Raises:
        RuntimeJSONError: If the value is not compressed QPY of exactly one circuit in a
            version from ``min_version`` to ``max_version``, or Qiskit cannot load it.
    """
    raw = _inflate(_b64decode(value, "QuantumCircuit"), max_bytes, "QuantumCircuit")
    version, programs = qpy_header(raw)
    if not min_version <= version <= max_version:
        raise RuntimeJSONError(
            f"QuantumCircuit: the QPY version is {version}; the service accepts "
            f"{min_version} to {max_version}"
        )
    if programs != 1:
        raise RuntimeJSONError(f"QuantumCircuit: expected exactly one circuit, got {programs}")
    from qiskit import qpy

    if version > qpy.QPY_VERSION:
        raise RuntimeJSONError(
            f"QuantumCircuit: QPY version {version} is newer than this Qiskit reads"
        )
    try:
        circuits = qpy.load(io.BytesIO(raw))
    except Exception as error:  # QPY raises many kinds of errors on damaged data
        raise RuntimeJSONError(f"QuantumCircuit: the QPY data cannot be loaded ({error})") from None
    if len(circuits) != 1 or not hasattr(circuits[0], "num_qubits"):
        raise RuntimeJSONError("QuantumCircuit: the QPY data does not hold one circuit")
    return circuits[0]


def _datetime_from_text(value: object) -> datetime:
    if not isinstance(value, str):
        raise RuntimeJSONError(f"datetime: expected an ISO 8601 string, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RuntimeJSONError(f"datetime: not ISO 8601: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


# --- encoding -------------------------------------------------------------------------------


def _containers() -> Any:
    """The qiskit.primitives.containers module, if Qiskit is imported at all."""
    import sys

    if "qiskit" not in sys.modules:
        return None
    import qiskit.primitives.containers as containers

    return containers


class RuntimeJSONEncoder(json.JSONEncoder):
    """A JSON encoder writing the RuntimeEncoder form (see the module docstring).

    Args:
        qpy_version: The QPY version circuits are written in.
        **kwargs: Passed on to :class:`json.JSONEncoder`.
    """

    def __init__(self, *args: Any, qpy_version: int = MAX_QPY_VERSION, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.qpy_version = qpy_version

    def default(self, o: Any) -> Any:
        """Return a JSON-able form of ``o`` (called for values JSON cannot hold)."""
        if isinstance(o, (datetime, date)):
            return {"__type__": "datetime", "__value__": o.isoformat()}
        if isinstance(o, complex):
            return {"__type__": "complex", "__value__": [o.real, o.imag]}
        if isinstance(o, (set, frozenset)):
            return {"__type__": "set", "__value__": list(o)}
        if isinstance(o, DoubleSliceSpan):
            return {
                "__type__": "DoubleSliceSpan",
                "__value__": {
                    "start": o.start,
                    "stop": o.stop,
                    "data_slices": {
                        index: [list(shape), args.start, args.stop, shots.start, shots.stop]
                        for index, (shape, args, shots) in o.data_slices.items()
                    },
                },
            }
        if isinstance(o, ExecutionSpans):
            return {"__type__": "ExecutionSpans", "__value__": {"spans": list(o.spans)}}
        numpy_form = self._numpy(o)
        if numpy_form is not None:
            return numpy_form
        qiskit_form = self._qiskit(o)
        if qiskit_form is not None:
            return qiskit_form
        return super().default(o)

    @staticmethod
    def _numpy(o: Any) -> Any:
        import sys

        if "numpy" not in sys.modules:
            return None
        import numpy as np

        if isinstance(o, np.ndarray):
            return encode_ndarray(o)
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.complexfloating):
            return {"__type__": "complex", "__value__": [float(o.real), float(o.imag)]}
        return None

    def _qiskit(self, o: Any) -> Any:
        containers = _containers()
        if containers is None:
            return None
        from qiskit import QuantumCircuit
        from qiskit.primitives.containers.estimator_pub import EstimatorPub
        from qiskit.primitives.containers.observables_array import ObservablesArray
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        if isinstance(o, QuantumCircuit):
            return encode_circuit(o, qpy_version=self.qpy_version)
        if isinstance(o, containers.BitArray):
            return {"__type__": "BitArray", "__value__": {"array": o.array, "num_bits": o.num_bits}}
        if isinstance(o, containers.DataBin):
            fields = dict(o.items())
            return {
                "__type__": "DataBin",
                "__value__": {
                    "field_names": list(fields),
                    "field_types": [type(value).__name__ for value in fields.values()],
                    "shape": list(o.shape),
                    "fields": fields,
                },
            }
        if isinstance(o, containers.SamplerPubResult):
            return {
                "__type__": "SamplerPubResult",
                "__value__": {"data": o.data, "metadata": o.metadata},
            }
        if isinstance(o, containers.PubResult):
            return {"__type__": "PubResult", "__value__": {"data": o.data, "metadata": o.metadata}}
        if isinstance(o, containers.PrimitiveResult):
            return {
                "__type__": "PrimitiveResult",
                "__value__": {"pub_results": list(o), "metadata": o.metadata},
            }
        if isinstance(o, ObservablesArray):
            return {"__type__": "ObservablesArray", "__value__": o.tolist()}
        if isinstance(o, EstimatorPub):
            return [
                o.circuit,
                o.observables.tolist(),
                o.parameter_values.as_array(o.circuit.parameters),
                o.precision,
            ]
        if isinstance(o, SamplerPub):
            return [o.circuit, o.parameter_values.as_array(o.circuit.parameters), o.shots]
        return None


def dumps(value: Any, *, qpy_version: int = MAX_QPY_VERSION) -> str:
    """Encode ``value`` as runtime JSON (``NaN`` and infinities are refused).

    Raises:
        TypeError: If ``value`` holds something this encoding has no form for.
        ValueError: If it holds ``NaN`` or an infinity.
    """
    return json.dumps(
        value,
        cls=RuntimeJSONEncoder,
        qpy_version=qpy_version,
        separators=(",", ":"),
        allow_nan=False,
    )


# --- decoding -------------------------------------------------------------------------------


def _require(value: object, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float):
        raise RuntimeJSONError(f"{what}: expected {getattr(kind, '__name__', kind)}, got a bool")
    if not isinstance(value, kind):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise RuntimeJSONError(f"{what}: expected {expected}, got {type(value).__name__}")
    return value


def _shape(value: object, what: str) -> tuple[int, ...]:
    items = _require(value, list, what)
    shape = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise RuntimeJSONError(f"{what}: a shape is a list of non-negative integers")
        shape.append(item)
    return tuple(shape)


def _index(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuntimeJSONError(f"{what}: a slice bound is an integer or null")
    return value


def _decode_double_slice_span(value: dict[str, Any]) -> DoubleSliceSpan:
    start = _require(value.get("start"), datetime, "DoubleSliceSpan.start")
    stop = _require(value.get("stop"), datetime, "DoubleSliceSpan.stop")
    raw = _require(value.get("data_slices"), dict, "DoubleSliceSpan.data_slices")
    slices: dict[int, tuple[tuple[int, ...], slice, slice]] = {}
    for key, item in raw.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise RuntimeJSONError(
                f"DoubleSliceSpan: PUB index {key!r} is not an integer"
            ) from None
        entry = _require(item, list, "DoubleSliceSpan.data_slices")
        if len(entry) != 5:
            raise RuntimeJSONError("DoubleSliceSpan: a data slice is [shape, a0, a1, s0, s1]")
        shape = _shape(entry[0], "DoubleSliceSpan shape")
        bounds = [_index(bound, "DoubleSliceSpan") for bound in entry[1:]]
        slices[index] = (shape, slice(bounds[0], bounds[1]), slice(bounds[2], bounds[3]))
    return DoubleSliceSpan(start=start, stop=stop, data_slices=slices)


def _decode_spans(value: dict[str, Any]) -> ExecutionSpans:
    spans = _require(value.get("spans"), list, "ExecutionSpans.spans")
    for span in spans:
        _require(span, DoubleSliceSpan, "ExecutionSpans.spans")
    return ExecutionSpans(spans=list(spans))


def _decode_bit_array(value: dict[str, Any]) -> Any:
    from qiskit.primitives.containers import BitArray

    num_bits = _require(value.get("num_bits"), int, "BitArray.num_bits")
    array = value.get("array")
    if not hasattr(array, "dtype"):
        raise RuntimeJSONError("BitArray.array: expected an ndarray")
    try:
        return BitArray(array, num_bits)
    except (TypeError, ValueError) as error:
        raise RuntimeJSONError(f"BitArray: {error}") from None


def _decode_data_bin(value: dict[str, Any]) -> Any:
    from qiskit.primitives.containers import DataBin

    fields = _require(value.get("fields"), dict, "DataBin.fields")
    shape = value.get("shape")
    try:
        return DataBin(shape=None if shape is None else _shape(shape, "DataBin.shape"), **fields)
    except (TypeError, ValueError) as error:
        raise RuntimeJSONError(f"DataBin: {error}") from None


def _decode_pub_result(value: dict[str, Any], sampler: bool) -> Any:
    from qiskit.primitives.containers import DataBin, PubResult, SamplerPubResult

    kind = "SamplerPubResult" if sampler else "PubResult"
    data = _require(value.get("data"), DataBin, f"{kind}.data")
    metadata = value.get("metadata") or {}
    _require(metadata, dict, f"{kind}.metadata")
    return (SamplerPubResult if sampler else PubResult)(data, metadata)


def _decode_primitive_result(value: dict[str, Any]) -> Any:
    from qiskit.primitives.containers import PrimitiveResult, PubResult

    pubs = _require(value.get("pub_results"), list, "PrimitiveResult.pub_results")
    for pub in pubs:
        _require(pub, PubResult, "PrimitiveResult.pub_results")
    metadata = value.get("metadata") or {}
    _require(metadata, dict, "PrimitiveResult.metadata")
    return PrimitiveResult(pubs, metadata)


def _decode_observables(value: object) -> Any:
    from qiskit.primitives.containers.observables_array import ObservablesArray

    try:
        return ObservablesArray(value)
    except (TypeError, ValueError) as error:
        raise RuntimeJSONError(f"ObservablesArray: {error}") from None


def _decode_complex(value: object) -> complex:
    pair = _require(value, list, "complex")
    if len(pair) != 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) for part in pair
    ):
        raise RuntimeJSONError("complex: expected [re, im]")
    return complex(pair[0], pair[1])


def _decode_set(value: object) -> set[Any]:
    items = _require(value, list, "set")
    try:
        return set(items)
    except TypeError:
        raise RuntimeJSONError("set: the items must be hashable") from None


def _cast_int_keys(value: dict[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if key == "__int_keys__":
            continue
        try:
            out[int(key)] = item
        except ValueError:
            out[key] = item
    return out


class _Decoder:
    """The object hook of :func:`loads`: turns typed objects into values, bottom-up."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "ndarray": lambda v: decode_ndarray(v, max_bytes=self.max_bytes),
            "QuantumCircuit": lambda v: decode_circuit(v, max_bytes=self.max_bytes),
            "datetime": _datetime_from_text,
            "complex": _decode_complex,
            "set": _decode_set,
            "ObservablesArray": _decode_observables,
        }
        self._dict_handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "BitArray": _decode_bit_array,
            "DataBin": _decode_data_bin,
            "SamplerPubResult": lambda v: _decode_pub_result(v, sampler=True),
            "PubResult": lambda v: _decode_pub_result(v, sampler=False),
            "PrimitiveResult": _decode_primitive_result,
            "DoubleSliceSpan": _decode_double_slice_span,
            "ExecutionSpans": _decode_spans,
        }

    def __call__(self, obj: dict[str, Any]) -> Any:
        if "__int_keys__" in obj:
            return _cast_int_keys(obj)
        kind = obj.get("__type__")
        if not isinstance(kind, str) or "__value__" not in obj:
            return obj
        value = obj["__value__"]
        handler = self._handlers.get(kind)
        dict_handler = self._dict_handlers.get(kind)
        try:
            if handler is not None:
                return handler(value)
            if dict_handler is not None:
                return dict_handler(_require(value, dict, kind))
        except RuntimeJSONError:
            raise
        except Exception as error:  # a library refusing a value is a bad value, not a crash
            raise RuntimeJSONError(f"{kind}: {error}") from None
        return obj


def _no_constant(name: str) -> Any:
    raise RuntimeJSONError(f"{name} is not valid JSON")


def loads(text: str | bytes, *, max_bytes: int = MAX_INFLATED_BYTES) -> Any:
    """Decode runtime JSON into Python values (circuits, arrays, results...).

    Args:
        text: The JSON document.
        max_bytes: The most bytes one compressed value may inflate to.

    Raises:
        RuntimeJSONError: If the document is not strict JSON, nests too deeply, or holds a
            typed value that cannot be decoded.
    """
    try:
        return json.loads(text, object_hook=_Decoder(max_bytes), parse_constant=_no_constant)
    except RuntimeJSONError:
        raise
    except RecursionError:
        raise RuntimeJSONError("the JSON document nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise RuntimeJSONError(f"not valid JSON: {error}") from None


def decode(value: Any, *, max_bytes: int = MAX_INFLATED_BYTES) -> Any:
    """Decode the typed values inside an already parsed JSON value (what :func:`loads` does
    after parsing).

    Raises:
        RuntimeJSONError: If a typed value cannot be decoded, or the value nests too deeply.
    """
    hook = _Decoder(max_bytes)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return hook({key: walk(inner) for key, inner in item.items()})
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    try:
        return walk(value)
    except RecursionError:
        raise RuntimeJSONError("the JSON document nests too deeply") from None


def int_keys(mapping: Mapping[int, Any]) -> dict[str, Any]:
    """A dictionary with integer keys as runtime JSON writes it (``__int_keys__`` set)."""
    out: dict[str, Any] = {str(key): value for key, value in mapping.items()}
    out["__int_keys__"] = True
    return out
