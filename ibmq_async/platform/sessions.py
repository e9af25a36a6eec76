"""Sessions and batches of the platform channel, as async context managers.

A :class:`Session` (the platform's ``dedicated`` mode) groups iterative jobs on one
backend; a :class:`Batch` groups independent ones. Both are made on entering
``async with`` (``POST /v1/sessions``) and closed on leaving it
(``PATCH accepting_jobs=false``: the jobs already in it run to their end, then it
closes), even when the block fails or is cancelled::

    async with Session(backend, max_time=600) as session:
        sampler = Sampler(mode=session)
        job = await sampler.run([isa_circuit])   # the job carries session.session_id

:meth:`Session.cancel` closes it at once and cancels its queued jobs;
:meth:`Session.details`, :meth:`Session.status` and :meth:`Session.usage` read it;
:meth:`Session.from_id` attaches to one made elsewhere (another process, a job's
``session_id``). A closed session refuses jobs before any request
(:class:`SessionClosedError`); one closed by the platform (its ``max_time`` ran out) is
refused by it, with the same error.

As in qiskit-ibm-runtime 0.51, ``details()`` has the keys its ``Session.details()`` has
and ``status()`` the same words; unlike it, a session is made on simulators too (the
local service runs them), and only in ``async with`` or :meth:`Session.open`, not in
the constructor (which cannot wait for the platform).
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109
from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from ibmq_async.exceptions import ApiError, ApiNotFoundError, IBMQError, IBMQInputValueError
from ibmq_async.models.platform import Session as SessionDocument
from ibmq_async.models.platform import SessionMode

if TYPE_CHECKING:
    from typing_extensions import Self

    from ibmq_async.api.platform.client import PlatformClient
    from ibmq_async.platform.backend import PlatformBackend
    from ibmq_async.platform.provider import PlatformProvider

__all__ = ["Batch", "Session", "SessionClosedError", "SessionError"]

logger = logging.getLogger("ibmq_async")

CLOSE_SECONDS = 10.0
"""How long closing a session on leaving a block that was cancelled may take."""

SESSION_CLOSED_CODE = 1222
"""The platform's error code for a job sent to a session that is closed or takes no jobs."""

_DURATION = re.compile(r"\s*(\d+)\s*([dhms])\s*")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


class SessionError(IBMQError):
    """A session or batch cannot do what was asked in its state (not open yet, for example).

    Attributes:
        session_id: The session's id, if it has one.
    """

    def __init__(self, message: str, *, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionClosedError(SessionError):
    """The session or batch is closed, or takes no more jobs: make a new one."""


def max_time_seconds(max_time: int | str | None) -> int | None:
    """``max_time`` in seconds: a whole number of seconds, or a duration such as
    ``"2h 30m 40s"`` (days ``d``, hours ``h``, minutes ``m``, seconds ``s``).

    Raises:
        IBMQInputValueError: Not a positive number of seconds, or not such a duration.
    """
    if max_time is None:
        return None
    if isinstance(max_time, str):
        text = max_time.strip()
        parts = _DURATION.findall(text)
        if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text):
            raise IBMQInputValueError(
                f"max_time {max_time!r} is not a duration such as '2h 30m 40s' or a number of "
                "seconds"
            )
        seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    elif isinstance(max_time, int) and not isinstance(max_time, bool):
        seconds = max_time
    else:
        raise IBMQInputValueError(
            f"max_time must be whole seconds or a duration such as '2h 30m', got {max_time!r}"
        )
    if seconds < 1:
        raise IBMQInputValueError(f"max_time must be at least 1 second, got {max_time!r}")
    return seconds


def _platform_backend(backend: Any, what: str) -> PlatformBackend:
    from ibmq_async.platform.backend import PlatformBackend

    if not isinstance(backend, PlatformBackend):
        raise IBMQInputValueError(
            f"a {what} runs on a backend of the platform channel (a PlatformBackend, from "
            f"IBMQ.enable_account(..., channel='ibm_quantum_platform')), got "
            f"{type(backend).__name__}"
        )
    return backend


def _status_words(document: SessionDocument) -> str:
    """``status()`` as qiskit-ibm-runtime words it."""
    state = document.state
    if state in ("open", "inactive"):
        return "Pending"
    if (state == "active" and document.accepting_jobs) or state == "pending_inactive":
        return "In progress, accepting new jobs"
    if state in ("active", "pending_closed"):
        return "In progress, not accepting new jobs"
    return state.capitalize()


class Session:
    """A session on one backend of the platform channel (the ``dedicated`` mode).

    Args:
        backend: The backend its jobs run on.
        max_time: How long it may stay active, in seconds or as a duration such as
            ``"2h 30m"`` (the platform's maximum when ``None``).

    Raises:
        IBMQInputValueError: ``backend`` is not a platform backend, or ``max_time`` is not
            a positive duration.
    """

    mode: ClassVar[SessionMode] = "dedicated"
    """The platform's mode of this kind of session."""

    def __init__(self, backend: PlatformBackend, max_time: int | str | None = None) -> None:
        self._backend = _platform_backend(backend, type(self).__name__)
        self._max_time = max_time_seconds(max_time)
        self._session_id: str | None = None
        self._closed = False
        self._opening: anyio.Event | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._session_id else "not open"
        return (
            f"{type(self).__name__}(backend={self._backend.name()!r}, "
            f"session_id={self._session_id!r}, {state})"
        )

    @property
    def session_id(self) -> str | None:
        """The platform's id of the session (``None`` until it is open)."""
        return self._session_id

    @property
    def max_time(self) -> int | None:
        """The ``max_time`` asked for, in seconds."""
        return self._max_time

    @property
    def closed(self) -> bool:
        """Whether this client closed or cancelled it, or found it closed (jobs are then
        refused before any request)."""
        return self._closed

    def backend(self) -> str:
        """The name of its backend (as qiskit-ibm-runtime's ``Session.backend()``)."""
        return str(self._backend.name())

    @property
    def _client(self) -> PlatformClient:
        client: PlatformClient = self._backend.provider().api
        return client

    # --- opening and closing ----------------------------------------------------------------

    async def open(self, *, timeout: float | None = None) -> Self:
        """Make the session on the platform (``POST /v1/sessions``), unless it is open.

        ``async with`` calls it; call it yourself to use the session outside a block
        (then :meth:`close` it). Not retried after the request may have reached the
        platform (so a lost answer leaves no second session).

        Returns:
            The session itself.

        Raises:
            SessionClosedError: It was closed already.
            ApiError: The platform refused it (an unknown backend, a ``max_time`` over its
                limit) or could not be reached.
        """
        if self._closed:
            raise SessionClosedError(
                f"{type(self).__name__} {self._session_id or '(never opened)'} is closed; make "
                "a new one",
                session_id=self._session_id,
            )
        while self._opening is not None:  # another task is opening it
            await self._opening.wait()
        if self._session_id is not None:
            return self
        self._opening = opening = anyio.Event()
        try:
            client = self._client
            document = await client.sessions.create(
                self.mode,
                self.backend(),
                self._max_time,
                instance=client.instance,  # in the body too, as qiskit-ibm-runtime sends it
                timeout=timeout,
            )
            self._session_id = document.id
            logger.info("%s %s opened on %s", type(self).__name__, document.id, self.backend())
        finally:
            self._opening = None
            opening.set()
        return self

    async def close(self, *, timeout: float | None = None) -> None:
        """Take no more jobs (``PATCH accepting_jobs=false``): the jobs already in the
        session run to their end, then the platform closes it. Retried.

        Leaving ``async with`` calls it. Closing twice, or a session the platform no
        longer has, is not an error.

        Raises:
            ApiError: The platform could not be reached or refused it.
        """
        session_id = self._session_id
        self._closed = True
        if session_id is None:
            return
        try:
            await self._client.sessions.update(session_id, accepting_jobs=False, timeout=timeout)
        except ApiNotFoundError:
            logger.info("%s %s was gone when closed", type(self).__name__, session_id)

    async def cancel(self, *, timeout: float | None = None) -> None:
        """Close the session at once and cancel its queued jobs
        (``DELETE /v1/sessions/{id}/close``); a running job finishes. Retried.

        Raises:
            SessionError: It was never opened.
            ApiError: The platform could not be reached or refused it.
        """
        session_id = self._require_id("cancel")
        self._closed = True
        await self._client.sessions.close(session_id, timeout=timeout)

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._closed:
            return
        # Closed even when the block was cancelled, within CLOSE_SECONDS then.
        with anyio.CancelScope(shield=True) as scope:
            if exc_type is not None:
                scope.deadline = anyio.current_time() + CLOSE_SECONDS
            try:
                await self.close()
            except ApiError as error:
                if exc_type is None:
                    raise
                logger.warning(
                    "%s %s could not be closed: %s", type(self).__name__, self._session_id, error
                )

    # --- reading ----------------------------------------------------------------------------

    async def document(self, *, timeout: float | None = None) -> SessionDocument:
        """The platform's session document now (``GET /v1/sessions/{id}``). Retried.

        Raises:
            SessionError: It was never opened.
            ApiNotFoundError: The platform has no such session in this instance.
        """
        document = await self._client.sessions.get(self._require_id("read"), timeout=timeout)
        if document.state == "closed":
            self._closed = True
        return document

    async def details(self, *, timeout: float | None = None) -> dict[str, Any] | None:
        """The session's details, with the keys of qiskit-ibm-runtime's
        ``Session.details()``: ``id``, ``backend_name``, ``interactive_timeout``,
        ``max_time``, ``active_timeout``, ``state``, ``accepting_jobs``,
        ``last_job_started``, ``last_job_completed``, ``started_at``, ``closed_at``,
        ``activated_at`` (timezone-aware datetimes or ``None``), ``mode``, ``usage_time``
        (seconds) and ``timestamps`` (``[{"status", "timestamp"}]``). Retried.

        Returns:
            The details, or ``None`` if the session was never opened.

        Raises:
            ApiError: The platform could not be reached or has no such session.
        """
        if self._session_id is None:
            return None
        document = await self.document(timeout=timeout)
        return {
            "id": document.id,
            "backend_name": document.backend_name,
            "interactive_timeout": document.interactive_ttl,
            "max_time": document.max_ttl,
            "active_timeout": document.active_ttl,
            "state": document.state,
            "accepting_jobs": document.accepting_jobs,
            "last_job_started": document.last_job_started,
            "last_job_completed": document.last_job_completed,
            "started_at": document.started_at,
            "closed_at": document.closed_at,
            "activated_at": document.activated_at,
            "mode": document.mode,
            "usage_time": document.elapsed_time,
            "timestamps": [
                {"status": stamp.status, "timestamp": stamp.timestamp}
                for stamp in document.timestamps
            ],
        }

    async def status(self, *, timeout: float | None = None) -> str | None:
        """The session's status in qiskit-ibm-runtime's words. Retried.

        Returns:
            ``"Pending"`` (made, no job started yet, or idle), ``"In progress, accepting
            new jobs"``, ``"In progress, not accepting new jobs"``, ``"Closed"``; ``None``
            if it was never opened.

        Raises:
            ApiError: The platform could not be reached or has no such session.
        """
        if self._session_id is None:
            return None
        return _status_words(await self.document(timeout=timeout))

    async def usage(self, *, timeout: float | None = None) -> float | None:
        """Seconds of usage: for a session, from its first job's start to its last job's
        end; for a batch, the quantum seconds of its jobs. ``None`` if never opened.
        Retried.

        Raises:
            ApiError: The platform could not be reached or has no such session.
        """
        if self._session_id is None:
            return None
        return (await self.document(timeout=timeout)).elapsed_time

    @classmethod
    async def from_id(
        cls,
        session_id: str,
        backend: PlatformBackend | PlatformProvider,
        *,
        timeout: float | None = None,
    ) -> Self:
        """Attach to a session made elsewhere (another process, or a job's
        ``session_id``). Leaving ``async with`` on it closes it, as for any session.

        Args:
            session_id: The session's id.
            backend: Its backend, or the provider to find it with (by the session's
                ``backend_name``).
            timeout: Seconds the lookup may take.

        Returns:
            The session (``closed`` if the platform closed it).

        Raises:
            IBMQInputValueError: No such session in the instance, or it is a batch where a
                session was asked for (or the other way round), or on another backend than
                ``backend``.
            SessionError: The session has no backend yet (no job ran in it): pass the
                backend.
            ApiError: The platform could not be reached.
        """
        from ibmq_async.platform.provider import PlatformProvider

        given: PlatformBackend | None = None
        if isinstance(backend, PlatformProvider):
            provider = backend
        else:
            given = _platform_backend(backend, cls.__name__)
            provider = given.provider()
        client = provider.api
        try:
            document = await client.sessions.get(session_id, timeout=timeout)
        except ApiNotFoundError as error:
            raise IBMQInputValueError(
                f"no session {session_id} in instance {client.instance}: {error.error_message}"
            ) from error
        if document.mode != cls.mode:
            kind = "Session" if document.mode == "dedicated" else "Batch"
            raise IBMQInputValueError(
                f"{session_id} is a {document.mode} session, open it with "
                f"{kind}.from_id, not {cls.__name__}.from_id"
            )
        if given is not None:
            known = given
            if document.backend_name and document.backend_name != known.name():
                raise IBMQInputValueError(
                    f"session {session_id} runs on {document.backend_name}, not {known.name()}"
                )
        elif not document.backend_name:
            raise SessionError(
                f"session {session_id} has no backend yet (no job ran in it); pass its "
                "backend to from_id",
                session_id=session_id,
            )
        else:
            known = _platform_backend(provider.get_backend(document.backend_name), cls.__name__)
        session = cls(known)
        session._session_id = document.id
        session._max_time = document.max_ttl
        session._closed = document.state == "closed" or not document.accepting_jobs
        return session

    # --- what the primitives use ------------------------------------------------------------

    def _require_id(self, action: str) -> str:
        if self._session_id is None:
            raise SessionError(
                f"cannot {action} a {type(self).__name__} that was never opened: use "
                f"'async with {type(self).__name__}(backend) as ...' or 'await ....open()'"
            )
        return self._session_id

    def _job_session_id(self) -> str:
        """The id a new job of the session carries, once the session takes jobs.

        Raises:
            SessionError: It was never opened.
            SessionClosedError: It is closed (or takes no more jobs).
        """
        session_id = self._require_id("run a job in")
        if self._closed:
            raise SessionClosedError(
                f"{type(self).__name__} {session_id} is closed and takes no more jobs; make a "
                f"new {type(self).__name__}",
                session_id=session_id,
            )
        return session_id

    def _refused(self, error: BaseException) -> SessionClosedError | None:
        """The :class:`SessionClosedError` a refused job of the session becomes, if the
        platform refused it because the session is closed."""
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, ApiError) and str(cause.error_code) == str(SESSION_CLOSED_CODE):
                self._closed = True
                return SessionClosedError(
                    f"the platform refused the job: {type(self).__name__} {self._session_id} "
                    f"is closed or takes no more jobs ({cause.error_message or cause.message}); "
                    f"make a new {type(self).__name__}",
                    session_id=self._session_id,
                )
            cause = cause.__cause__ or cause.__context__
        return None


class Batch(Session):
    """A batch on one backend of the platform channel: independent jobs run together.

    Takes what :class:`Session` takes and works the same way.
    """

    mode: ClassVar[SessionMode] = "batch"
