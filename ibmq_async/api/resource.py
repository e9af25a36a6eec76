"""The base of every API resource: a group of endpoints on a connection's session.

A resource method only assembles the path, the parameters and the body of its endpoint
and names the model of the answer; :class:`Resource` sends it through the session (which
retries, times out, authenticates and maps errors) and validates the answer.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import BaseModel

from ibmq_async.api.errors import protocol_error, validate_model, validate_model_json
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiTimeoutError

__all__ = ["Resource", "within"]

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def within(timeout: float | None, what: str, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()`` (several calls), or :class:`ApiTimeoutError` after ``timeout``
    seconds in all."""
    with anyio.move_on_after(math.inf if timeout is None else timeout):
        return await work()
    raise ApiTimeoutError(f"{what} did not complete within {timeout:g} s")


class Resource:
    """Endpoints of one API on the session of a connection.

    Args:
        session: The session of the connection.
        retry: The default retry policy of the resource (the session's if ``None``).
    """

    def __init__(self, session: HttpSession, *, retry: RetryPolicy | None = None) -> None:
        self._session = session
        self._retry = retry

    @property
    def session(self) -> HttpSession:
        """The session the resource sends its requests through."""
        return self._session

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of the resource."""
        return self._retry or self._session.retry

    async def _send(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> httpx.Response:
        return await self._session.request(
            method, url, timeout=timeout, retry=retry or self.retry, **kwargs
        )

    async def _json(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> tuple[Any, httpx.Response]:
        response = await self._send(method, url, timeout=timeout, retry=retry, **kwargs)
        return self._session.decode_json(response), response

    async def _model(
        self,
        model: type[M],
        method: str,
        url: str,
        *,
        what: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> M:
        response = await self._send(method, url, timeout=timeout, retry=retry, **kwargs)
        return validate_model_json(model, response, what=what)

    async def _optional_model(
        self,
        model: type[M],
        url: str,
        *,
        what: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        overrides: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> M | None:
        """GET a document the server answers empty (``{}``, ``null``) when there is none."""
        data, response = await self._json("GET", url, timeout=timeout, retry=retry, **kwargs)
        if not data:
            return None
        if overrides and isinstance(data, dict):
            data = {**data, **overrides}
        return validate_model(model, data, what=what, response=response)

    async def _list(
        self,
        url: str,
        *,
        what: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> tuple[list[Any], httpx.Response]:
        """GET a JSON list (an empty body is an empty list)."""
        data, response = await self._json("GET", url, timeout=timeout, retry=retry, **kwargs)
        if data is None:
            return [], response
        if not isinstance(data, list):
            raise protocol_error(f"The {what} is not a JSON list", response)
        return data, response
