"""The body of ``POST /v1/sessions`` and what the session resource refuses before it sends
anything."""

from __future__ import annotations

from typing import Any

import pytest

from ibmq_async.api.platform.sessions import SESSION_MODES, _create_body
from ibmq_async.exceptions import IBMQInputValueError


def test_the_create_body_is_what_qiskit_ibm_runtime_sends() -> None:
    # RuntimeSession.create: mode, backend, instance, max_ttl, each only when set.
    assert _create_body("dedicated", "ibm_fez", 600, "crn:x") == {
        "mode": "dedicated",
        "backend": "ibm_fez",
        "instance": "crn:x",
        "max_ttl": 600,
    }
    assert _create_body("batch", None, None, None) == {"mode": "batch"}
    assert SESSION_MODES == ("dedicated", "batch")


@pytest.mark.parametrize(
    ("mode", "backend", "max_ttl", "fragment"),
    [
        ("session", "ibm_fez", None, "'dedicated' \\(a session\\) or 'batch'"),
        (None, "ibm_fez", None, "'dedicated' \\(a session\\) or 'batch'"),
        ("batch", "ibm_fez", 0, "max_ttl must be a positive"),
        ("batch", "ibm_fez", "600", "max_ttl must be a positive"),
        ("batch", "ibm_fez", True, "max_ttl must be a positive"),
        ("batch", 5, None, "backend"),
    ],
)
def test_a_bad_session_request_is_refused_before_it_is_sent(
    mode: Any, backend: Any, max_ttl: Any, fragment: str
) -> None:
    with pytest.raises(IBMQInputValueError, match=fragment):
        _create_body(mode, backend, max_ttl, None)
