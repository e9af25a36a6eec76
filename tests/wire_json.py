"""JSON documents compared as the wire models must give them back.

:func:`assert_same_json` compares a model's dump with the document it was parsed from.
The dump must equal the input as a JSON value, with these tolerated differences:

* A datetime comes back as the same instant in UTC written with ``Z``: props dates sent with
  ``-05:00``/``+09:00`` offsets, configuration ``online_date`` sent with ``+00:00`` and the
  examples' ``"2018-04-02 15:00:00Z"`` (space separator) all compare as instants.
* A number comes back as the same number, but an integer-valued float field may come back
  as a float (an Nduv ``value`` of ``24`` dumps as ``24.0``, a sample ``[0, 0]`` as
  ``[0.0, 0.0]``); JSON has one number type, so they compare equal. Booleans are never
  equal to numbers.
* Key order is not significant.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

__all__ = ["assert_same_json"]

_DATETIME = TypeAdapter(datetime)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}")


def assert_same_json(expected: Any, actual: Any, path: str = "$") -> None:
    """Assert two JSON values are equal up to the tolerated differences of this module."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        assert expected is actual, f"{path}: {expected!r} != {actual!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert expected.keys() == actual.keys(), (
            f"{path}: keys differ: missing {sorted(expected.keys() - actual.keys())}, "
            f"added {sorted(actual.keys() - expected.keys())}"
        )
        for key in expected:
            assert_same_json(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        assert len(expected) == len(actual), f"{path}: {len(expected)} items != {len(actual)}"
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same_json(left, right, f"{path}[{index}]")
    elif isinstance(expected, str) and _ISO_DATETIME.match(expected):
        assert isinstance(actual, str), f"{path}: expected a datetime, got {actual!r}"
        assert actual.endswith("Z"), f"{path}: {actual!r} is not written in UTC with Z"
        assert _DATETIME.validate_python(expected) == _DATETIME.validate_python(actual), (
            f"{path}: {expected!r} and {actual!r} are not the same instant"
        )
    else:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"
