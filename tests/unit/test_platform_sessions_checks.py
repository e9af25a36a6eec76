"""Sessions and batches without a service: their ``max_time``, the body of
``POST /v1/sessions``, their status words, and what they refuse before any request."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models.platform import Session as SessionDocument
from ibmq_async.platform.sessions import (
    Batch,
    Session,
    SessionClosedError,
    SessionError,
    _status_words,
    max_time_seconds,
)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (None, None),
        (1, 1),
        (600, 600),
        ("600s", 600),
        ("10m", 600),
        ("2h 30m 40s", 2 * 3600 + 30 * 60 + 40),
        ("1d", 86_400),
        (" 1h30m ", 5400),
    ],
)
def test_max_time_is_seconds_or_a_duration(given: Any, seconds: int | None) -> None:
    assert max_time_seconds(given) == seconds


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        (0, "at least 1 second"),
        (-5, "at least 1 second"),
        ("0s", "at least 1 second"),
        (True, "whole seconds"),
        (1.5, "whole seconds"),
        ("ten minutes", "not a duration"),
        ("10", "not a duration"),
        ("10m x", "not a duration"),
        ("", "not a duration"),
    ],
)
def test_a_bad_max_time_is_refused_with_what_it_was(given: Any, fragment: str) -> None:
    with pytest.raises(IBMQInputValueError, match=fragment) as caught:
        max_time_seconds(given)
    assert repr(given) in str(caught.value)


def _document(state: str, accepting_jobs: bool = True) -> SessionDocument:
    return SessionDocument(
        id="s1",
        backend_name="ibm_fez",
        mode="dedicated",
        state=state,
        accepting_jobs=accepting_jobs,
        max_ttl=600,
        interactive_ttl=60,
        active_ttl=600,
        started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


@pytest.mark.parametrize(
    ("state", "accepting", "words"),
    [
        ("open", True, "Pending"),
        ("inactive", True, "Pending"),
        ("active", True, "In progress, accepting new jobs"),
        ("pending_inactive", True, "In progress, accepting new jobs"),
        ("active", False, "In progress, not accepting new jobs"),
        ("pending_closed", False, "In progress, not accepting new jobs"),
        ("closed", False, "Closed"),
    ],
)
def test_status_has_qiskit_ibm_runtimes_words(state: str, accepting: bool, words: str) -> None:
    assert _status_words(_document(state, accepting)) == words


@pytest.mark.parametrize("kind", [Session, Batch])
@pytest.mark.parametrize("backend", [None, "ibm_fez", object()])
def test_a_session_needs_a_platform_backend(kind: type[Session], backend: Any) -> None:
    with pytest.raises(IBMQInputValueError, match="PlatformBackend") as caught:
        kind(backend)
    assert kind.__name__ in str(caught.value)


def test_session_errors_are_ibmq_errors_that_carry_the_id() -> None:
    from ibmq_async.exceptions import IBMQError

    error = SessionClosedError("closed", session_id="s1")
    assert isinstance(error, SessionError)
    assert isinstance(error, IBMQError)
    assert error.session_id == "s1"
    assert Session.mode == "dedicated"
    assert Batch.mode == "batch"
