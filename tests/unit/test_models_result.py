"""The Result model: generated results round-trip; counts and memory match Qiskit's formatting."""

from __future__ import annotations

import copy
import json
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibmq_async.models import (
    ExperimentFailedError,
    ExperimentResult,
    ExperimentResultData,
    Result,
    ResultDataError,
    format_outcome,
)

qiskit_result = pytest.importorskip("qiskit.result")
np = pytest.importorskip("numpy")

REPO = Path(__file__).resolve().parents[2]
RESULT_SCHEMA = jsonschema.Draft4Validator(
    json.loads((REPO / "tests" / "data" / "schemas" / "result_schema.json").read_text("utf-8"))
)

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ---------------------------------------------------------------------------

identifiers = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8)
reals = st.floats(allow_nan=False, allow_infinity=False)
complex_pairs = st.lists(reals, min_size=2, max_size=2)
versions = st.tuples(*[st.integers(0, 20)] * 3).map(lambda v: ".".join(map(str, v)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | reals | identifiers,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(identifiers, inner, max_size=3),
    max_leaves=6,
)
dates = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=0))
offsets = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


def _hex(value: int, upper: bool) -> str:
    text = hex(value)
    return "0x" + text[2:].upper() if upper else text


@st.composite
def registers(draw: st.DrawFn, memory_slots: int) -> list[list[Any]]:
    sizes: list[int] = []
    left = memory_slots
    while left:
        size = draw(st.integers(1, left))
        sizes.append(size)
        left -= size
    return [[f"c{index}", size] for index, size in enumerate(sizes)]


@st.composite
def experiment_headers(draw: st.DrawFn) -> dict[str, Any] | None:
    """Headers as a backend carries them back: some lack memory_slots, creg_sizes, or all."""
    memory_slots = draw(st.integers(0, 6))
    header: dict[str, Any] = {
        "name": draw(identifiers),
        "memory_slots": memory_slots,
        "creg_sizes": draw(registers(memory_slots)),
        "n_qubits": draw(st.integers(1, 6)),
        "metadata": draw(st.dictionaries(identifiers, json_values, max_size=2)),
    }
    keep = draw(st.sets(st.sampled_from(sorted(header))))
    if not keep and draw(st.booleans()):
        return None
    return {key: value for key, value in header.items() if key in keep}


@st.composite
def level_two_data(draw: st.DrawFn, width: int) -> dict[str, Any]:
    upper = draw(st.booleans())
    outcomes = st.integers(0, 2**width - 1) if width else st.just(0)
    counts = draw(st.dictionaries(outcomes.map(lambda v: _hex(v, upper)), st.integers(0, 10**6)))
    data: dict[str, Any] = {"counts": counts}
    if draw(st.booleans()):
        data["memory"] = draw(st.lists(outcomes.map(lambda v: _hex(v, upper)), min_size=1))
    return data


@st.composite
def experiment_results(draw: st.DrawFn) -> dict[str, Any]:
    header = draw(experiment_headers())
    meas_level = draw(st.sampled_from([None, 0, 1, 2]))
    if meas_level in (None, 2):
        width = (header or {}).get("memory_slots") or draw(st.integers(1, 4))
        data = draw(level_two_data(width))
    elif meas_level == 1:
        slots = st.lists(complex_pairs, min_size=1, max_size=3)
        data = {"memory": draw(slots | st.lists(slots, min_size=1, max_size=3))}
    else:
        samples = st.lists(st.lists(complex_pairs, min_size=1, max_size=3), min_size=1, max_size=2)
        data = {"memory": draw(samples | st.lists(samples, min_size=1, max_size=2))}
    if draw(st.booleans()):
        data["statevector"] = draw(st.lists(complex_pairs, min_size=1, max_size=4))
    if draw(st.booleans()):
        row = st.lists(complex_pairs, min_size=2, max_size=2)
        data["unitary"] = draw(st.lists(row, min_size=2, max_size=2))
    if draw(st.booleans()):
        data["snapshots"] = draw(st.dictionaries(identifiers, json_values, max_size=2))
    result: dict[str, Any] = {
        "shots": draw(
            st.integers(1, 10**5) | st.lists(st.integers(1, 100), min_size=2, max_size=2)
        ),
        "success": draw(st.booleans()),
        "data": data,
    }
    optional = {
        "status": draw(st.sampled_from(["DONE", "ERROR"])),
        "seed": draw(st.integers(0, 2**31)),
        "meas_return": draw(st.sampled_from(["single", "avg"])),
        "time_taken": draw(st.floats(0, 100)),
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        result[key] = optional[key]
    if meas_level is not None:
        result["meas_level"] = meas_level
    if header is not None:
        result["header"] = header
    return result


@st.composite
def results(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "backend_name": draw(identifiers),
        "backend_version": draw(versions),
        "qobj_id": draw(identifiers),
        "job_id": draw(identifiers),
        "success": draw(st.booleans()),
        "results": draw(st.lists(experiment_results(), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        payload["date"] = draw(dates).astimezone(draw(offsets)).isoformat()
    if draw(st.booleans()):
        payload["status"] = draw(st.sampled_from(["COMPLETED", "ERROR"]))
    if draw(st.booleans()):
        payload["header"] = draw(
            st.fixed_dictionaries({}, optional={"backend_name": identifiers, "note": json_values})
        )
    if draw(st.booleans()):
        payload["client_version"] = {"qiskit": "2.0.0"}
    return payload


# --- round trips --------------------------------------------------------------------------


def _without_date(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "date"}


@PROPERTY_SETTINGS
@given(results())
def test_a_result_round_trips_and_its_dump_fits_the_schema(payload: dict[str, Any]) -> None:
    RESULT_SCHEMA.validate(payload)  # the generator makes valid documents
    result = Result.model_validate(payload)
    wire = result.to_wire()
    # The only tolerated difference: the date comes back as the same instant, in UTC.
    assert _without_date(wire) == _without_date(payload)
    if "date" in payload:
        assert wire["date"].endswith("Z")
        assert datetime.fromisoformat(wire["date"].replace("Z", "+00:00")) == (
            datetime.fromisoformat(payload["date"])
        )
    again = Result.model_validate(wire)
    assert again == result
    assert again.to_wire() == wire
    assert json.loads(result.to_wire_json()) == wire
    assert result.to_dict() == wire
    RESULT_SCHEMA.validate(wire)


# --- counts and memory against Qiskit -----------------------------------------------------


def _qiskit(payload: dict[str, Any]) -> Any:
    return qiskit_result.Result.from_dict(copy.deepcopy(payload))


@st.composite
def successful_level_two_results(draw: st.DrawFn) -> dict[str, Any]:
    payload = draw(results())
    payload["success"] = True
    experiments = []
    for experiment in payload["results"]:
        experiment = dict(experiment, success=True)
        experiment.pop("meas_level", None)
        width = (experiment.get("header") or {}).get("memory_slots") or 3
        experiment["data"] = draw(level_two_data(width))
        experiments.append(experiment)
    payload["results"] = experiments
    return payload


@PROPERTY_SETTINGS
@given(successful_level_two_results())
def test_counts_and_memory_are_formatted_exactly_as_qiskit_formats_them(
    payload: dict[str, Any],
) -> None:
    ours = Result.model_validate(payload)
    theirs = _qiskit(payload)
    for index, experiment in enumerate(payload["results"]):
        assert ours.get_counts(index) == dict(theirs.get_counts(index))
        if "memory" in experiment["data"]:
            assert ours.get_memory(index) == theirs.get_memory(index)
    every = ours.get_counts()
    expected = theirs.get_counts()
    if isinstance(expected, list):
        assert isinstance(every, list)
        assert every == [dict(counts) for counts in expected]
    else:
        assert every == dict(expected)


def _several_registers() -> dict[str, Any]:
    return {
        "backend_name": "ibmq_vigo",
        "backend_version": "1.3.6",
        "qobj_id": "q",
        "job_id": "j",
        "success": True,
        "results": [
            {
                "shots": 10,
                "success": True,
                "header": {
                    "name": "three_registers",
                    "memory_slots": 6,
                    "creg_sizes": [["a", 1], ["b", 2], ["c", 3]],
                },
                "data": {
                    "counts": {"0x0": 1, "0x5": 4, "0x2d": 5},
                    "memory": ["0x5", "0x2d", "0x0", "0x2d"],
                },
            },
            {
                "shots": 10,
                "success": True,
                "header": {"name": "one_register", "memory_slots": 2, "creg_sizes": [["c", 2]]},
                "data": {"counts": {"0x1": 6, "0x3": 4}},
            },
            {
                "shots": 10,
                "success": True,
                "header": {"name": "no_creg_sizes", "memory_slots": 4},
                "data": {"counts": {"0x1": 10}, "memory": ["0x1"]},
            },
            {
                "shots": 10,
                "success": True,
                "data": {"counts": {"0xa": 10}, "memory": ["0xa", "0x0"]},
            },
        ],
    }


def test_counts_by_index_and_by_name_split_registers_last_register_first() -> None:
    payload = _several_registers()
    ours = Result.model_validate(payload)
    theirs = _qiskit(payload)
    expected = {"000 00 0": 1, "000 10 1": 4, "101 10 1": 5}
    assert ours.get_counts(0) == expected
    assert ours.get_counts("three_registers") == expected
    assert ours.get_counts("three_registers") == dict(theirs.get_counts("three_registers"))
    assert ours.get_memory("three_registers") == ["000 10 1", "101 10 1", "000 00 0", "101 10 1"]
    assert ours.get_memory(0) == theirs.get_memory(0)
    assert ours.get_counts("one_register") == {"01": 6, "11": 4}
    # Without creg_sizes: padded to memory_slots, no spaces; without a header: bare binary.
    assert ours.get_counts("no_creg_sizes") == {"0001": 10} == dict(theirs.get_counts(2))
    assert ours.get_memory(3) == ["1010", "0"] == theirs.get_memory(3)
    # Several experiments and no selection: a list, as Qiskit gives.
    assert ours.get_counts() == [dict(counts) for counts in theirs.get_counts()]


def test_level_one_memory_is_complex_as_qiskit_gives_it() -> None:
    single = [[[0.5, -1.0], [2.0, 0.25]], [[1.0, 1.0], [0.0, 0.0]]]
    average = [[0.5, -1.0], [2.0, 0.25]]
    raw = [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]]
    payload = {
        "backend_name": "b",
        "backend_version": "1.0.0",
        "qobj_id": "q",
        "job_id": "j",
        "success": True,
        "results": [
            {"shots": 2, "success": True, "meas_level": 1, "data": {"memory": single}},
            {"shots": 2, "success": True, "meas_level": 1, "data": {"memory": average}},
            {"shots": 2, "success": True, "meas_level": 0, "data": {"memory": raw}},
        ],
    }
    ours = Result.model_validate(payload)
    theirs = _qiskit(payload)
    for index in range(3):
        memory = ours.get_memory(index)
        np.testing.assert_array_equal(np.asarray(memory), theirs.get_memory(index))
    assert ours.get_memory(1) == [0.5 - 1j, 2 + 0.25j]


def test_level_one_memory_of_the_wrong_shape_is_an_error() -> None:
    experiment = ExperimentResult(
        shots=1,
        success=True,
        meas_level=1,
        data=ExperimentResultData(memory=[[[[0.1, 0.2]]]]),
    )
    with pytest.raises(ResultDataError, match="3 dimensions, expected 1 or 2"):
        experiment.get_memory()


# --- selection and errors -----------------------------------------------------------------


def test_selecting_an_experiment_that_is_not_there_is_an_error() -> None:
    result = Result.model_validate(_several_registers())
    with pytest.raises(ResultDataError, match="no experiment named 'nope'"):
        result.get_counts("nope")
    with pytest.raises(ResultDataError, match="no experiment 9: the result has 4"):
        result.get_counts(9)
    with pytest.raises(ResultDataError, match="select one by index or by name"):
        result.get_memory()
    with pytest.raises(ResultDataError, match="no memory for experiment 'one_register'"):
        result.get_memory("one_register")
    assert result.experiment_names == ["three_registers", "one_register", "no_creg_sizes", None]
    assert result.data(1).counts == {"0x1": 6, "0x3": 4}


def test_data_of_a_failed_experiment_is_an_error_carrying_its_status() -> None:
    payload = _several_registers()
    payload["status"] = "PARTIAL"
    payload["results"][1].update(success=False, status="ERROR: out of memory")
    result = Result.model_validate(payload)
    with pytest.raises(ExperimentFailedError) as excinfo:
        result.get_counts("one_register")
    assert excinfo.value.experiment_status == "ERROR: out of memory"
    assert excinfo.value.result_status == "PARTIAL"
    assert "out of memory" in str(excinfo.value)
    with pytest.raises(ExperimentFailedError):
        result.get_counts()
    assert result.get_counts(0)  # the others are still there


def test_a_duplicated_name_selects_the_first_with_a_warning() -> None:
    payload = _several_registers()
    payload["results"][1]["header"]["name"] = "three_registers"
    result = Result.model_validate(payload)
    with pytest.warns(UserWarning, match="2 experiments named 'three_registers'"):
        counts = result.get_counts("three_registers")
    assert counts == result.get_counts(0)


def test_an_experiment_without_counts_is_an_error() -> None:
    result = Result.model_validate(
        {
            "backend_name": "b",
            "backend_version": "1.0.0",
            "qobj_id": "q",
            "job_id": "j",
            "success": True,
            "results": [{"shots": 1, "success": True, "data": {"statevector": [[1, 0]]}}],
        }
    )
    with pytest.raises(ResultDataError, match="no counts"):
        result.get_counts()
    assert result.data().statevector == [1 + 0j]


@pytest.mark.parametrize(
    ("outcome", "memory_slots", "creg_sizes", "expected"),
    [
        ("0x5", None, None, "101"),
        ("0x5", 5, None, "00101"),
        ("0x5", 5, [("a", 2), ("b", 3)], "001 01"),
        ("0x0", 0, [("a", 1)], "0"),
        ("0x1F", 3, None, "11111"),
        ("101", 4, [("a", 4)], "0101"),
    ],
)
def test_format_outcome(
    outcome: str, memory_slots: int | None, creg_sizes: Any, expected: str
) -> None:
    assert format_outcome(outcome, memory_slots, creg_sizes) == expected
    header = {"memory_slots": memory_slots, "creg_sizes": creg_sizes}
    assert qiskit_result.postprocess.format_counts_memory(outcome, header) == expected
