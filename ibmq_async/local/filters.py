"""The LoopBack ``filter`` of the job listings (docs/protocol.md §2.5), parsed and evaluated.

A filter is the JSON text of ``{"where": ..., "order": ..., "limit": ..., "skip": ...,
"fields": ...}``. :func:`parse_filter` checks it completely, so a bad filter is an error
before any job is looked at, and turns ``where`` into a predicate on documents.

``where`` supports the operators of the LoopBack memory connector: plain equality,
``eq``, ``neq``, ``gt``, ``gte``, ``lt``, ``lte``, ``between``, ``inq``, ``nin``, ``like``,
``nlike``, ``ilike``, ``nilike``, ``regexp`` (JavaScript syntax, ``/re/flags`` or a plain
pattern, partial match), ``exists``, nested ``and``/``or``/``nor`` and dotted paths
(``backend.name``, ``hubInfo.hub.name``). A condition on an array field (``tags``) holds
when it holds for one element. Timestamps compare as instants whatever their UTC
notation (``Z``, ``+00:00``, with or without fractions of a second).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ibmq_async.local.devices import loads, parse_datetime

__all__ = ["Filter", "FilterError", "compile_where", "get_path", "parse_filter", "sort_documents"]

Predicate = Callable[[dict[str, Any]], bool]

_MISSING: Any = object()
_MAX_DEPTH = 32
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_OPERATORS = frozenset(
    {
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "inq",
        "nin",
        "like",
        "nlike",
        "ilike",
        "nilike",
        "regexp",
        "exists",
        "options",
    }
)


class FilterError(ValueError):
    """A filter that is not valid JSON or not a valid LoopBack filter."""


@dataclass(frozen=True)
class Filter:
    """A parsed filter.

    Attributes:
        where: The predicate of ``where`` (always true without one).
        order: ``(path, descending)`` sort keys, most significant first.
        limit: How many documents to return at most; ``None`` for all.
        skip: How many matching documents to skip first.
        fields: Top-level keys to keep (``include``) or drop; ``None`` keeps all.
        include: Whether ``fields`` lists the keys to keep rather than those to drop.
        tags_any: When ``where`` can only match documents whose ``tags`` hold one of
            these strings, the strings (so a store can skip the others before building
            their documents); ``None`` when it says nothing of the kind.
        ids_any: The same for ``id``: the ids a matching document must have one of.
    """

    where: Predicate
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    skip: int = 0
    fields: frozenset[str] | None = None
    include: bool = True
    tags_any: frozenset[str] | None = None
    ids_any: frozenset[str] | None = None

    def apply(self, documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Select, sort, page and project ``documents``."""
        return [self.project(document) for document in self.select(documents)]

    def select(self, documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Select, sort and page ``documents`` (without projecting them)."""
        matched = [document for document in documents if self.where(document)]
        if self.order:
            matched = sort_documents(matched, self.order)
        end = None if self.limit is None else self.skip + self.limit
        return matched[self.skip : end]

    def project(self, document: dict[str, Any]) -> dict[str, Any]:
        """Keep only the selected ``fields`` of ``document``."""
        if self.fields is None:
            return document
        if self.include:
            return {key: value for key, value in document.items() if key in self.fields}
        return {key: value for key, value in document.items() if key not in self.fields}


def _always(document: dict[str, Any]) -> bool:
    return True


def parse_filter(text: str | None) -> Filter:
    """Parse the ``filter`` query parameter.

    Args:
        text: The JSON text of the filter, or ``None``/empty for no filter.

    Raises:
        FilterError: If the text is not JSON or not a valid filter.
    """
    if text is None or not text.strip():
        return Filter(where=_always)
    try:
        raw = loads(text)
    except ValueError as error:
        raise FilterError(f"the filter is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise FilterError("the filter must be a JSON object")
    unknown = set(raw) - {"where", "order", "limit", "skip", "offset", "fields", "include"}
    if unknown:
        raise FilterError(f"unknown filter keys: {sorted(unknown)}")
    where = raw.get("where")
    predicate = _always if where in (None, {}) else compile_where(where)
    skip = _non_negative(raw.get("skip", raw.get("offset", 0)), "skip")
    limit_value = raw.get("limit")
    limit = None if limit_value is None else _non_negative(limit_value, "limit")
    if limit == 0:
        limit = None
    fields, include = _parse_fields(raw.get("fields"))
    return Filter(
        where=predicate,
        order=_parse_order(raw.get("order")),
        limit=limit,
        skip=skip,
        fields=fields,
        include=include,
        tags_any=None if where in (None, {}) else required_values(where, "tags"),
        ids_any=None if where in (None, {}) else required_values(where, "id"),
    )


def required_values(where: dict[str, Any], field: str) -> frozenset[str] | None:
    """Strings one of which ``field`` must hold for a (valid) ``where`` to match, if any.

    With several such conditions (``and``), each must hold, so the smallest set is given.

    Looks at a top-level condition on ``field`` (a string, or ``inq`` of strings) and at
    the members of a top-level ``and``. Strings that the filters would also compare as
    timestamps or numbers are left alone (they can equal other spellings).
    """
    found: frozenset[str] | None = None
    conditions = [where.get(field, _MISSING)]
    conjuncts = where.get("and")
    if isinstance(conjuncts, list):
        conditions += [item.get(field, _MISSING) for item in conjuncts if isinstance(item, dict)]
    for condition in conditions:
        if isinstance(condition, str):
            candidates: Any = [condition]
        elif isinstance(condition, dict) and set(condition) <= {"inq", "options"}:
            candidates = condition.get("inq")
        else:
            continue
        if not isinstance(candidates, list) or not all(
            isinstance(tag, str) and _key(tag) == (3, tag) for tag in candidates
        ):
            continue
        tags = frozenset(candidates)
        if found is None or len(tags) < len(found):
            found = tags  # each condition must hold: any one of them narrows the search
    return found


def _non_negative(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise FilterError(f"{name} must be a non-negative integer")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdecimal() and len(text) <= 18):
            raise FilterError(f"{name} must be a non-negative integer, got {value!r}")
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise FilterError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _parse_order(value: Any) -> tuple[tuple[str, bool], ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise FilterError("order must be a string or a list of strings")
    keys = []
    for item in items:
        parts = item.split()
        if not parts or len(parts) > 2:
            raise FilterError(f"order item {item!r} is not 'field [ASC|DESC]'")
        direction = parts[1].upper() if len(parts) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise FilterError(f"order direction must be ASC or DESC, got {parts[1]!r}")
        keys.append((parts[0], direction == "DESC"))
    return tuple(keys)


def _parse_fields(value: Any) -> tuple[frozenset[str] | None, bool]:
    if value is None:
        return None, True
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise FilterError("fields must be a list of names or an object of booleans")
        return frozenset(value), True
    if isinstance(value, dict):
        if not all(isinstance(flag, bool) for flag in value.values()):
            raise FilterError("fields must map names to true or false")
        included = frozenset(key for key, flag in value.items() if flag)
        if included:
            return included, True
        return frozenset(value), False
    raise FilterError("fields must be a list of names or an object of booleans")


def get_path(document: Any, path: str) -> Any:
    """The value at a dotted path, or a private sentinel if absent.

    Lists along the path are flattened: ``tags`` gives the list itself, and a path through
    a list of objects gives the list of the values found.
    """
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list):
            found = [item.get(part, _MISSING) for item in value if isinstance(item, dict)]
            value = [item for item in found if item is not _MISSING]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


@functools.lru_cache(maxsize=65536)
def _timestamp(text: str) -> datetime | None:
    if not _TIMESTAMP.match(text):
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def _key(value: Any) -> tuple[int, Any] | None:
    """A sort/compare key that puts like with like, or ``None`` if not comparable."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        stamp = _timestamp(value)
        if stamp is not None:
            return (2, stamp)
        return (3, value)
    return None


def _equal(left: Any, right: Any) -> bool:
    if left == right and type(left) is type(right):
        return True
    a, b = _key(left), _key(right)
    if a is None or b is None:
        return bool(left == right)
    return a[0] == b[0] and a[1] == b[1]


def _compare(left: Any, right: Any) -> int | None:
    a, b = _key(left), _key(right)
    if a is None or b is None:
        return None
    if a[0] != b[0] and {a[0], b[0]} != {0, 1}:
        return None
    if a[1] < b[1]:
        return -1
    return 1 if a[1] > b[1] else 0


@functools.lru_cache(maxsize=1024)
def _compile_regexp(pattern: str, flags_text: str) -> re.Pattern[str]:
    flags = 0
    text = pattern
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.rfind("/") > 0:
        end = pattern.rfind("/")
        text, flags_text = pattern[1:end], flags_text + pattern[end + 1 :]
    for flag in flags_text:
        if flag == "i":
            flags |= re.IGNORECASE
        elif flag == "m":
            flags |= re.MULTILINE
        elif flag == "s":
            flags |= re.DOTALL
        elif flag not in "gyu":
            raise FilterError(f"unknown regular expression flag {flag!r}")
    try:
        return re.compile(text, flags)
    except re.error as error:
        raise FilterError(f"invalid regular expression {pattern!r}: {error}") from None


def _like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL if insensitive else 0)


def _any(values: Any, test: Callable[[Any], bool]) -> bool:
    if isinstance(values, list):
        return any(test(item) for item in values)
    return test(values)


def _operator(name: str, operand: Any, options: str) -> Callable[[Any], bool]:
    """A test of one field value (``_MISSING`` if absent) for one operator."""
    if name == "eq":
        return _equality(operand)
    if name == "neq":
        equal = _equality(operand)
        return lambda value: not equal(value)
    if name in ("gt", "gte", "lt", "lte"):
        if _key(operand) is None:
            raise FilterError(f"{name} needs a number, a string or a timestamp")
        accept = {"gt": (1,), "gte": (0, 1), "lt": (-1,), "lte": (-1, 0)}[name]

        def ordered(value: Any) -> bool:
            if value is _MISSING or value is None:
                return False
            return _any(value, lambda item: _compare(item, operand) in accept)

        return ordered
    if name == "between":
        if not isinstance(operand, list) or len(operand) != 2:
            raise FilterError("between needs a list of two values")
        low, high = operand
        if _key(low) is None or _key(high) is None:
            raise FilterError("between needs numbers, strings or timestamps")

        def within(value: Any) -> bool:
            if value is _MISSING or value is None:
                return False
            return _any(
                value,
                lambda item: _compare(item, low) in (0, 1) and _compare(item, high) in (-1, 0),
            )

        return within
    if name in ("inq", "nin"):
        if not isinstance(operand, list):
            raise FilterError(f"{name} needs a list")
        candidates = list(operand)

        def member(value: Any) -> bool:
            if value is _MISSING:
                return False
            return _any(value, lambda item: any(_equal(item, other) for other in candidates))

        if name == "inq":
            return member
        return lambda value: not member(value)
    if name in ("like", "nlike", "ilike", "nilike"):
        if not isinstance(operand, str):
            raise FilterError(f"{name} needs a string")
        insensitive = name in ("ilike", "nilike") or "i" in options
        pattern = _like(operand, insensitive)

        def like(value: Any) -> bool:
            if value is _MISSING:
                return False
            return _any(value, lambda item: isinstance(item, str) and bool(pattern.match(item)))

        if name in ("like", "ilike"):
            return like
        return lambda value: not like(value)
    if name == "regexp":
        if not isinstance(operand, str):
            raise FilterError("regexp needs a string")
        regexp = _compile_regexp(operand, options)
        return lambda value: (
            value is not _MISSING
            and _any(value, lambda item: isinstance(item, str) and regexp.search(item) is not None)
        )
    if name == "exists":
        if not isinstance(operand, bool):
            raise FilterError("exists needs true or false")
        return lambda value: (value is not _MISSING and value is not None) is operand
    raise FilterError(f"unknown operator {name!r}")  # pragma: no cover - checked by caller


def _equality(operand: Any) -> Callable[[Any], bool]:
    if isinstance(operand, (dict, list)):
        return lambda value: value is not _MISSING and value == operand
    if operand is None:
        return lambda value: value is _MISSING or value is None
    return lambda value: value is not _MISSING and _any(value, lambda item: _equal(item, operand))


def _field_predicate(path: str, condition: Any) -> Predicate:
    if isinstance(condition, dict) and set(condition) & _OPERATORS:
        unknown = set(condition) - _OPERATORS
        if unknown:
            raise FilterError(f"unknown operators for {path!r}: {sorted(unknown)}")
        options = condition.get("options", "")
        if not isinstance(options, str):
            raise FilterError("options must be a string of regular expression flags")
        tests = [
            _operator(name, operand, options)
            for name, operand in condition.items()
            if name != "options"
        ]
        if not tests:
            raise FilterError(f"no operator for {path!r}")
        return lambda document: all(test(get_path(document, path)) for test in tests)
    test = _equality(condition)
    return lambda document: test(get_path(document, path))


def compile_where(where: Any, depth: int = 0) -> Predicate:
    """Turn a ``where`` object into a predicate on documents.

    Raises:
        FilterError: If ``where`` uses an unknown operator or a malformed condition.
    """
    if depth > _MAX_DEPTH:
        raise FilterError("the filter is nested too deeply")
    if not isinstance(where, dict):
        raise FilterError("where must be an object")
    predicates: list[Predicate] = []
    for key, condition in where.items():
        if not isinstance(key, str) or not key:
            raise FilterError("where keys must be field names")
        if key in ("and", "or", "nor"):
            if not isinstance(condition, list):
                raise FilterError(f"{key} needs a list of conditions")
            parts = [compile_where(item, depth + 1) for item in condition]
            predicates.append(_combine(key, parts))
        else:
            predicates.append(_field_predicate(key, condition))
    if len(predicates) == 1:
        return predicates[0]
    return lambda document: all(predicate(document) for predicate in predicates)


def _combine(kind: str, parts: Sequence[Predicate]) -> Predicate:
    if kind == "and":
        return lambda document: all(part(document) for part in parts)
    if kind == "or":
        return lambda document: any(part(document) for part in parts)
    return lambda document: not any(part(document) for part in parts)


def sort_documents(
    documents: list[dict[str, Any]], order: Sequence[tuple[str, bool]]
) -> list[dict[str, Any]]:
    """Sort documents by ``(path, descending)`` keys; missing values always come last."""
    result = list(documents)
    for path, descending in reversed(order):
        present = []
        missing = []
        for document in result:
            key = _key(get_path(document, path))
            if key is None:
                missing.append(document)
            else:
                present.append((key, document))
        present.sort(key=lambda pair: pair[0], reverse=descending)
        result = [document for _, document in present] + missing
    return result
