"""The sessions and batches of an instance (docs/platform.md §7): create, read, stop taking
jobs, close.

A session (``mode`` ``dedicated``) or batch (``mode`` ``batch``) groups jobs of one backend;
a job joins one with ``session_id`` (``POST /v1/jobs``). Every method is one endpoint.
Reads, ``PATCH accepting_jobs`` (setting a flag) and ``DELETE .../close`` are retried on the
policy's statuses and connection errors. Creating a session is not idempotent: it is retried
only when the request certainly did not reach the server (a connect error, 408, 429), so a
lost answer never leaves a second, unused session behind.

The user-facing context managers on these endpoints are
:class:`ibmq_async.platform.Session` and :class:`ibmq_async.platform.Batch`.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from ibmq_async.api.errors import describe_validation_error
from ibmq_async.api.platform.urls import PlatformUrls
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models.platform import Session, SessionCreateRequest, SessionMode

__all__ = ["SESSION_MODES", "Sessions"]

SESSION_MODES: tuple[str, ...] = get_args(SessionMode)
"""The modes of ``POST /v1/sessions``: ``dedicated`` (a session) and ``batch``."""


def _checked_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise IBMQInputValueError(f"a session id must be a non-empty string, got {session_id!r}")
    return session_id


class Sessions(Resource):
    """The session endpoints of the runtime API.

    Args:
        session: The HTTP session of the platform client (it sends ``Service-CRN``, so the
            sessions are those of its instance).
        urls: Where the endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, urls: PlatformUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self.urls = urls

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.urls.sessions!r})"

    async def create(
        self,
        mode: SessionMode,
        backend: str | None,
        max_ttl: int | None = None,
        *,
        instance: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Session:
        """``POST /v1/sessions``: open a session (``dedicated``) or a batch (``batch``).

        Not idempotent: retried only when the request certainly did not reach the server.

        Args:
            mode: ``"dedicated"`` for a session, ``"batch"`` for a batch.
            backend: The backend its jobs run on (``None``: its first job's).
            max_ttl: Seconds it may live once active (the service's maximum if ``None``).
            instance: The instance CRN, sent in the body (the request's ``Service-CRN``
                names it already; the platform refuses another).
            timeout: Seconds the call may take in all.
            retry: The retry policy of the call.

        Returns:
            The new session, ``open`` until its first job starts.

        Raises:
            IBMQInputValueError: ``mode`` is not ``dedicated`` or ``batch``, or ``max_ttl``
                is not a positive whole number of seconds; nothing is sent.
            ApiStatusError: The platform refused it (400: an unknown backend, a ``max_ttl``
                over its limit).
        """
        body = _create_body(mode, backend, max_ttl, instance)
        return await self._model(
            Session,
            "POST",
            self.urls.sessions,
            what="session",
            json_body=body,
            idempotent=False,
            timeout=timeout,
            retry=retry,
        )

    async def get(
        self, session_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> Session:
        """``GET /v1/sessions/{id}``: the session now (its state, ``accepting_jobs``,
        timestamps and usage). Retried.

        Raises:
            ApiNotFoundError: No such session in this instance.
        """
        return await self._model(
            Session,
            "GET",
            self.urls.session(_checked_id(session_id)),
            what="session",
            timeout=timeout,
            retry=retry,
        )

    async def update(
        self,
        session_id: str,
        accepting_jobs: bool = False,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``PATCH /v1/sessions/{id}`` with ``{"accepting_jobs": ...}``. Retried.

        With ``False`` the session takes no new job; its queued and running jobs finish,
        then it closes.

        Raises:
            IBMQInputValueError: ``accepting_jobs`` is not a bool; nothing is sent.
            ApiNotFoundError: No such session in this instance.
            ApiStatusError: 409 when asked to take jobs again once closed.
        """
        if not isinstance(accepting_jobs, bool):
            raise IBMQInputValueError(f"accepting_jobs must be a bool, got {accepting_jobs!r}")
        await self._send(
            "PATCH",
            self.urls.session(_checked_id(session_id)),
            json_body={"accepting_jobs": accepting_jobs},
            idempotent=True,
            timeout=timeout,
            retry=retry,
        )

    async def close(
        self, session_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """``DELETE /v1/sessions/{id}/close``: cancel the session's queued jobs and close it
        at once (a running job finishes). Retried.

        Raises:
            ApiNotFoundError: No such session in this instance.
        """
        await self._send(
            "DELETE",
            self.urls.session_close(_checked_id(session_id)),
            timeout=timeout,
            retry=retry,
        )


def _create_body(mode: Any, backend: Any, max_ttl: Any, instance: Any) -> dict[str, Any]:
    """The body of ``POST /v1/sessions``, as qiskit-ibm-runtime writes it (only what is set)."""
    if mode not in SESSION_MODES:
        raise IBMQInputValueError(
            f"a session's mode is 'dedicated' (a session) or 'batch', got {mode!r}"
        )
    if max_ttl is not None and (
        isinstance(max_ttl, bool) or not isinstance(max_ttl, int) or max_ttl < 1
    ):
        raise IBMQInputValueError(
            f"max_ttl must be a positive whole number of seconds, got {max_ttl!r}"
        )
    body: dict[str, Any] = {"mode": mode}
    if backend:
        body["backend"] = backend
    if instance:
        body["instance"] = instance
    if max_ttl:
        body["max_ttl"] = max_ttl
    try:
        SessionCreateRequest.model_validate(body)
    except ValidationError as error:
        raise IBMQInputValueError(
            f"invalid session request: {describe_validation_error(error)}"
        ) from None
    return body
