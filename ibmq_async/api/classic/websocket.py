"""The classic API's job status websocket (docs/protocol.md §4), as a stream for the waits.

``{ws_url}/jobs/{id}/status/v/1``, opened by the session (aiohttp on asyncio, httpx-ws
elsewhere): the first frame sends the access token, the server answers
``{"type": "authenticated"}`` and then pushes ``{"type": "job-status", "data": {...}}``
frames. Close code 4002 means the job is done, 4003 that it does not exist. A failure
before authentication, a refused token, a 4003, a frame that is not a status, or too many
drops make the stream unavailable for the job (:class:`~ibmq_async.exceptions.WebsocketError`),
and the waits poll it instead.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from ibmq_async.api.auth import TokenAuth
from ibmq_async.api.errors import describe_validation_error
from ibmq_async.api.session import HttpSession
from ibmq_async.api.transports import SocketClosed, StatusSocket
from ibmq_async.api.waits import FetchOne, PollingPolicy
from ibmq_async.exceptions import (
    WebsocketAuthenticationError,
    WebsocketError,
    WebsocketProtocolError,
)
from ibmq_async.models import JobStatusResponse

__all__ = ["CLOSE_JOB_DONE", "CLOSE_JOB_NOT_FOUND", "ClassicStatusStream", "websocket_url"]

logger = logging.getLogger("ibmq_async")

CLOSE_JOB_DONE = 4002
CLOSE_JOB_NOT_FOUND = 4003
_NORMAL_CLOSES = frozenset({1000, CLOSE_JOB_DONE})


def websocket_url(ws_base: str, job_id: str) -> str:
    """The status websocket URL of a job (§4)."""
    return f"{ws_base.rstrip('/')}/jobs/{job_id}/status/v/1"


class _Outcome:
    """How one websocket session ended (decided inside the session, acted on outside)."""

    def __init__(self) -> None:
        self.done = False
        self.authenticated = False
        self.close_code: int | None = None
        self.error: BaseException | None = None
        self.callback_error: BaseException | None = None


class ClassicStatusStream:
    """Follows jobs on the status websocket of a classic API connection.

    Args:
        session: The session (its ``auth`` gives the access token).
        ws_url: The websocket base URL (``urls.ws`` of ``/users/me``).
        fetch_status: One status poll, for a websocket silent longer than
            ``policy.websocket_check_interval``.
        policy: Reconnection backoff, timeouts and pings.
    """

    def __init__(
        self,
        session: HttpSession,
        ws_url: str,
        fetch_status: FetchOne[JobStatusResponse],
        policy: PollingPolicy,
    ) -> None:
        self._session = session
        self.ws_url = ws_url
        self._fetch_status = fetch_status
        self.policy = policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ws_url={self.ws_url!r})"

    async def follow(
        self, job_id: str, publish: Callable[[JobStatusResponse], Awaitable[bool]]
    ) -> bool:
        """Follow the job until ``publish`` says the wait is over (True), or the socket
        closes normally without saying (False).

        Raises:
            WebsocketError: The websocket cannot be used for this job (poll it instead).
        """
        auth = self._session.auth
        if not isinstance(auth, TokenAuth):
            raise WebsocketError("The status websocket needs a logged-in connection")
        url = websocket_url(self.ws_url, job_id)
        reconnects = 0
        while True:
            outcome = await self._session_once(url, job_id, auth, publish)
            if outcome.callback_error is not None:
                raise outcome.callback_error
            if outcome.done:
                return True
            if outcome.close_code == CLOSE_JOB_NOT_FOUND:
                raise WebsocketError(f"The websocket reports that job {job_id} does not exist")
            if outcome.close_code in _NORMAL_CLOSES and outcome.error is None:
                return False  # closed without what we wait for: poll to find out
            if not outcome.authenticated:
                if isinstance(outcome.error, WebsocketError):
                    raise outcome.error
                raise WebsocketError(
                    f"The status websocket of job {job_id} failed before authentication: "
                    f"{_describe(outcome)}"
                ) from outcome.error
            reconnects += 1
            if reconnects > self.policy.websocket_reconnects:
                raise WebsocketError(
                    f"The status websocket of job {job_id} dropped "
                    f"{reconnects} times: {_describe(outcome)}"
                ) from outcome.error
            wait = min(0.5 * 2 ** (reconnects - 1), 8.0)
            logger.info(
                "Job %s: status websocket dropped (%s); reconnect %d of %d in %.1f s",
                job_id,
                _describe(outcome),
                reconnects,
                self.policy.websocket_reconnects,
                wait,
            )
            await self.policy.pause(wait)

    async def _session_once(
        self,
        url: str,
        job_id: str,
        auth: TokenAuth,
        publish: Callable[[JobStatusResponse], Awaitable[bool]],
    ) -> _Outcome:
        outcome = _Outcome()
        token = auth.access_token
        try:
            async with self._session.websocket(
                url, ping_interval=self.policy.websocket_ping_interval
            ) as ws:
                # Exceptions leaving this block may come out of httpx-ws's task group
                # wrapped in an exception group, so the conversation records how it ended.
                try:
                    await ws.send_text(json.dumps({"type": "authentication", "data": token}))
                    first = await _receive(ws, timeout=self.policy.websocket_auth_timeout)
                    if not (isinstance(first, dict) and first.get("type") == "authenticated"):
                        outcome.error = WebsocketAuthenticationError(
                            "The status websocket did not accept the access token"
                        )
                        return outcome
                    outcome.authenticated = True
                    logger.debug("Job %s: following the status websocket", job_id)
                    while True:
                        try:
                            message = await _receive(
                                ws, timeout=self.policy.websocket_check_interval
                            )
                            status = _status_from_message(message)
                        except TimeoutError:
                            status = await self._fetch_status(job_id)
                        try:
                            over = await publish(status)
                        except Exception as exc:
                            outcome.callback_error = exc
                            return outcome
                        if over:
                            outcome.done = True
                            return outcome
                except SocketClosed as exc:
                    outcome.close_code = exc.code
                except Exception as exc:
                    outcome.error = exc
        except Exception as exc:
            if outcome.error is None and not outcome.done and outcome.callback_error is None:
                outcome.error = exc
        return outcome


async def _receive(ws: StatusSocket, *, timeout: float | None) -> Any:
    text = await ws.receive_text(timeout)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WebsocketProtocolError("The status websocket sent a frame that is not JSON") from exc


def _status_from_message(message: Any) -> JobStatusResponse:
    data = message.get("data") if isinstance(message, dict) else None
    try:
        return JobStatusResponse.model_validate(data)
    except ValidationError as exc:
        raise WebsocketProtocolError(
            "The status websocket sent a frame that is not a job status: "
            + describe_validation_error(exc)
        ) from exc


def _describe(outcome: _Outcome) -> str:
    if outcome.error is not None:
        error = outcome.error
        if not str(error):
            return type(error).__name__
        return f"{type(error).__name__}: {error}"
    if outcome.close_code is not None:
        return f"closed with code {outcome.close_code}"
    return "closed"
