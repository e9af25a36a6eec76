"""Property-based tests of the wire models: a malformed document is refused with a
``ValidationError`` that names the model and the field, and nothing else escapes.

Each case starts from a valid document (the IBM Quantum schema examples, the bundled
device snapshots, and a document of every REST answer shape of docs/protocol.md §2). Hypothesis
walks to a random place in it and deletes the key there or puts a value of another type
in its place. Whatever the model makes of it, it must either accept the document or raise
``ValidationError`` (never ``TypeError``, ``KeyError``, ``OverflowError`` ...), titled with
the model's name, with an error located at the changed field. The field of a value inside
a list that is validated as a whole (complex vectors, memory) is that list; changing a
field that selects the kind of document (``open_pulse``) may make it another model, whose
own required fields are then named.

``tests/unit/test_models_validation_errors.py`` pins hand-picked cases; these properties
cover every field of every document.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ibmq_async.api.errors import validate_model
from ibmq_async.exceptions import ApiProtocolError
from ibmq_async.models import (
    BackendJobLimit,
    BackendProperties,
    BackendReservation,
    BackendStatus,
    CancelResponse,
    JobCreateResponse,
    JobDataUploadedResponse,
    JobIdRecord,
    JobRecord,
    JobStatusResponse,
    LoginResponse,
    NetworkHubs,
    PulseDefaults,
    QueueInfo,
    QueueStatusResponse,
    Result,
    UrlResponse,
    UserInfo,
    VersionInfo,
    parse_backend_configuration,
    parse_qobj,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "tests" / "data" / "schemas"
DEVICES = REPO / "ibmq_async" / "local" / "devices"

SETTINGS = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Parse = Callable[[Any], BaseModel]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


JOB = {
    "id": "6b04fbbf7bf3bc00157d061a",
    "creationDate": "2021-01-01T00:00:00Z",
    "status": "QUEUED",
    "kind": "q-object-external-storage",
    "backend": {"name": "ibmq_qasm_simulator"},
    "name": "faults_1_",
    "tags": ["a", "ibmq_jobset_x_"],
    "timePerStep": {"CREATING": "2021-01-01T00:00:00Z", "QUEUED": "2021-01-01T00:00:01Z"},
    "infoQueue": {
        "status": "PENDING_IN_QUEUE",
        "position": 2,
        "estimatedStartTime": "2021-01-01T00:00:00Z",
        "estimatedCompleteTime": "2021-01-01T00:01:00Z",
        "hubPriority": 1.0,
        "groupPriority": 1.0,
        "projectPriority": 1.0,
    },
    "error": {"code": 1234, "message": "m"},
    "hubInfo": {"hub": {"name": "h"}, "group": {"name": "g"}, "project": {"name": "p"}},
    "liveDataEnabled": False,
    "client_info": {"name": "ibmq-async", "version": "0.1.0"},
}
RESERVATION = {
    "backendName": "ibmq_vigo",
    "initialDate": "2021-01-01T00:00:00Z",
    "endDate": "2021-01-01T01:00:00Z",
    "creationDate": "2020-12-01T00:00:00Z",
    "mode": "dedicated",
    "id": "r1",
    "hubInfo": {"hub": {"name": "h"}, "group": {"name": "g"}, "project": {"name": "p"}},
}

CASES: list[tuple[str, Parse, Any, frozenset[str]]] = [
    # (case, parser, valid document, names the error may be titled with)
    (
        "result example",
        Result.model_validate,
        _load(SCHEMAS / "result_openqasm_example.json"),
        frozenset({"Result"}),
    ),
    (
        "properties example",
        BackendProperties.model_validate,
        _load(SCHEMAS / "backend_properties_example.json"),
        frozenset({"BackendProperties"}),
    ),
    (
        "pulse defaults example",
        PulseDefaults.model_validate,
        _load(SCHEMAS / "default_pulse_configuration_example.json"),
        frozenset({"PulseDefaults"}),
    ),
    (
        "pulse configuration example",
        parse_backend_configuration,
        _load(SCHEMAS / "backend_configuration_openpulse_example.json"),
        frozenset({"PulseBackendConfiguration", "QasmBackendConfiguration"}),
    ),
    (
        "qasm configuration example",
        parse_backend_configuration,
        _load(SCHEMAS / "backend_configuration_openqasm_example.json"),
        frozenset({"PulseBackendConfiguration", "QasmBackendConfiguration"}),
    ),
    (
        "qobj example",
        parse_qobj,
        _load(SCHEMAS / "qobj_openqasm_example.json"),
        frozenset({"QasmQobj", "PulseQobj"}),
    ),
    (
        "backend status example",
        BackendStatus.model_validate,
        _load(SCHEMAS / "backend_status_example.json"),
        frozenset({"BackendStatus"}),
    ),
    (
        "lima configuration",
        parse_backend_configuration,
        _load(DEVICES / "lima" / "conf.json"),
        frozenset({"PulseBackendConfiguration", "QasmBackendConfiguration"}),
    ),
    (
        "lima properties",
        BackendProperties.model_validate,
        _load(DEVICES / "lima" / "props.json"),
        frozenset({"BackendProperties"}),
    ),
    (
        "lima defaults",
        PulseDefaults.model_validate,
        _load(DEVICES / "lima" / "defs.json"),
        frozenset({"PulseDefaults"}),
    ),
    (
        "fez configuration",
        parse_backend_configuration,
        _load(DEVICES / "fez" / "conf.json"),
        frozenset({"PulseBackendConfiguration", "QasmBackendConfiguration"}),
    ),
    ("job", JobRecord.model_validate, JOB, frozenset({"JobRecord"})),
    (
        "job status",
        JobStatusResponse.model_validate,
        {
            "id": "j",
            "status": "QUEUED",
            "creationDate": "2021-01-01T00:00:00Z",
            "infoQueue": JOB["infoQueue"],
        },
        frozenset({"JobStatusResponse"}),
    ),
    ("queue info", QueueInfo.model_validate, JOB["infoQueue"], frozenset({"QueueInfo"})),
    (
        "job id record",
        JobIdRecord.model_validate,
        {"id": "j", "creationDate": "2021-01-01T00:00:00Z", "liveDataEnabled": False},
        frozenset({"JobIdRecord"}),
    ),
    (
        "job creation answer",
        JobCreateResponse.model_validate,
        {"id": "j", "objectStorageInfo": {"uploadUrl": "http://127.0.0.1/api/x"}},
        frozenset({"JobCreateResponse"}),
    ),
    (
        "upload confirmation",
        JobDataUploadedResponse.model_validate,
        {"job": JOB},
        frozenset({"JobDataUploadedResponse"}),
    ),
    (
        "job limit",
        BackendJobLimit.model_validate,
        {"maximumJobs": 5, "runningJobs": 1},
        frozenset({"BackendJobLimit"}),
    ),
    (
        "queue status",
        QueueStatusResponse.model_validate,
        {"state": True, "status": "active", "lengthQueue": 3, "backend_version": "1.0.0"},
        frozenset({"QueueStatusResponse"}),
    ),
    (
        "reservation",
        BackendReservation.model_validate,
        RESERVATION,
        frozenset({"BackendReservation"}),
    ),
    (
        "user info",
        UserInfo.model_validate,
        {"urls": {"http": "http://127.0.0.1/api", "ws": "ws://127.0.0.1/api/ws", "services": {}}},
        frozenset({"UserInfo"}),
    ),
    (
        "hubs",
        NetworkHubs.model_validate,
        [
            {
                "name": "ibm-q",
                "groups": {"open": {"name": "open", "projects": {"main": {"isDefault": True}}}},
            }
        ],
        frozenset({"NetworkHubs"}),
    ),
    (
        "login answer",
        LoginResponse.model_validate,
        {"id": "access", "ttl": 3600, "created": "2021-01-01T00:00:00Z", "userId": "u"},
        frozenset({"LoginResponse"}),
    ),
    ("version", VersionInfo.model_validate, {"api-auth": "0.1.0"}, frozenset({"VersionInfo"})),
    ("url answer", UrlResponse.model_validate, {"url": "http://x"}, frozenset({"UrlResponse"})),
    (
        "cancel answer",
        CancelResponse.model_validate,
        {"cancelled": True},
        frozenset({"CancelResponse"}),
    ),
]

KIND_SWITCHES = frozenset({"open_pulse", "type"})
"""Keys whose value selects the kind of document (pulse or QASM configuration and Qobj)."""

WRONG_VALUES = st.sampled_from(
    [{"x": 1}, "text", "", [1, "a"], [], None, True, -1.5, 10**30, [[1, 2], "x"]]
)


@st.composite
def places(draw: st.DrawFn, document: Any) -> tuple[Any, ...]:
    """A path to a random node of ``document`` (never the root)."""
    path: list[Any] = []
    node = document
    while True:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            break
        path.append(key)
        node = node[key]
        if draw(st.integers(0, 2)) == 0:
            break
    if not path:
        return draw(places(document))
    return tuple(path)


def _changed(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def _field(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """The field a change at ``path`` belongs to: list items belong to their list."""
    field = list(path)
    while len(field) > 1 and isinstance(field[-1], int):
        field.pop()
    return tuple(field)


def _located(location: tuple[Any, ...], field: tuple[Any, ...]) -> bool:
    """Whether ``location`` reaches ``field`` (it may hold union tags in between)."""
    position = 0
    for part in location:
        if position < len(field) and part == field[position]:
            position += 1
    return position == len(field)


def _names(error: ValidationError, field: tuple[Any, ...]) -> bool:
    """Whether some error is located at ``field``, or at the object that holds it with a
    message that names it (what a check of the whole object reports)."""
    for detail in error.errors():
        location = tuple(detail["loc"])
        if _located(location, field):
            return True
        key = field[-1]
        if isinstance(key, str) and _located(location, field[:-1]) and key in detail["msg"]:
            return True
    return False


def _check(parse: Parse, document: Any, titles: frozenset[str], path: tuple[Any, ...]) -> None:
    error: ValidationError | None = None
    try:
        parse(document)
    except ValidationError as raised:
        error = raised
    if error is None:
        return
    assert error.title in titles, error.title
    count = error.error_count()
    assert f"validation error{'s' if count > 1 else ''} for {error.title}" in str(error)
    if not set(path) & KIND_SWITCHES:
        assert _names(error, _field(path)), (path, error.errors())


@pytest.mark.parametrize(
    ("parse", "document", "titles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_starting_documents_are_valid(
    parse: Parse, document: Any, titles: frozenset[str]
) -> None:
    assert type(parse(copy.deepcopy(document))).__name__ in titles


@pytest.mark.parametrize(
    ("parse", "document", "titles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
@settings(SETTINGS, max_examples=80)
@given(data=st.data())
def test_a_changed_field_is_accepted_or_named_in_a_validation_error(
    parse: Parse, document: Any, titles: frozenset[str], data: st.DataObject
) -> None:
    path = data.draw(places(document), label="path")
    delete = isinstance(_container(document, path), dict) and data.draw(st.booleans())
    value = None if delete else data.draw(WRONG_VALUES, label="value")
    _check(parse, _changed(document, path, value, delete=delete), titles, path)


def _container(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


@pytest.mark.parametrize(
    ("parse", "document", "titles"),
    [c[1:] for c in CASES if isinstance(c[2], dict)],
    ids=[c[0] for c in CASES if isinstance(c[2], dict)],
)
@settings(SETTINGS, max_examples=15)
@given(
    key=st.text(min_size=1, max_size=12).map(lambda text: "x_" + text),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=6,
    ),
)
def test_an_unknown_top_level_field_is_kept_not_refused(
    parse: Parse, document: dict[str, Any], titles: frozenset[str], key: str, value: Any
) -> None:
    model = parse({**copy.deepcopy(document), key: value})
    assert type(model).__name__ in titles
    assert model.model_extra is not None
    assert model.model_extra[key] == value


# --- dates that once escaped validation as OverflowError --------------------------------------

EXTREME_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
DATED: list[tuple[str, Parse, Any, str]] = [
    ("job creationDate", JobRecord.model_validate, JOB, "creationDate"),
    ("reservation initialDate", BackendReservation.model_validate, RESERVATION, "initialDate"),
    (
        "queue info estimatedStartTime",
        QueueInfo.model_validate,
        JOB["infoQueue"],
        "estimatedStartTime",
    ),
    (
        "result date",
        Result.model_validate,
        _load(SCHEMAS / "result_openqasm_example.json"),
        "date",
    ),
]


@pytest.mark.parametrize("date", EXTREME_DATES)
@pytest.mark.parametrize(
    ("parse", "document", "key"), [c[1:] for c in DATED], ids=[c[0] for c in DATED]
)
def test_a_date_out_of_range_in_utc_is_a_validation_error_naming_the_field(
    parse: Parse, document: dict[str, Any], key: str, date: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse({**document, key: date})
    assert _names(excinfo.value, (key,))


def test_a_server_date_out_of_range_is_a_protocol_error() -> None:
    with pytest.raises(ApiProtocolError, match="creationDate"):
        validate_model(JobRecord, {**JOB, "creationDate": EXTREME_DATES[0]}, what="job")
