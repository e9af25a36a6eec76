"""The websocket job status stream (docs/protocol.md §4).

``{WS}/jobs/{id}/status/v/1``: the client's first frame is
``{"type": "authentication", "data": "<access token>"}``; the service answers
``{"type": "authenticated"}``, then sends ``{"type": "job-status", "data": {"status": ...,
"infoQueue": ...}}`` now and on every change (queue position included), and closes with
code 4002 after the final status. An unknown or invisible job closes with 4003 (after
authentication); a failed authentication closes with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ibmq_async.local.engine import Engine
from ibmq_async.local.errors import ClassicApiError
from ibmq_async.models import API_FINAL_STATUSES

__all__ = ["CLOSE_JOB_DONE", "CLOSE_JOB_NOT_FOUND", "LoopWaker", "job_status_stream"]

logger = logging.getLogger("ibmq_async.local")

CLOSE_JOB_DONE = 4002
"""Close code after the final status."""
CLOSE_JOB_NOT_FOUND = 4003
"""Close code for an unknown job."""
CLOSE_POLICY_VIOLATION = 1008
"""Close code for a failed authentication."""
CLOSE_INTERNAL_ERROR = 4001
"""Close code for a stream that failed inside the service (clients reconnect, §4)."""
AUTHENTICATION_TIMEOUT = 30.0
"""Seconds the service waits for the authentication frame."""

_FINAL = frozenset(status.value for status in API_FINAL_STATUSES)


class LoopWaker:
    """Wakes a coroutine of the current event loop from any thread, without blocking.

    Works under asyncio (and uvloop) and trio. ``arm`` before reading the state,
    ``wait`` after: a change between the two wakes the wait at once.
    """

    def __init__(self) -> None:
        call_soon: Callable[[Callable[[], None]], Any]
        try:
            call_soon = asyncio.get_running_loop().call_soon_threadsafe
        except RuntimeError:
            import trio

            call_soon = trio.lowlevel.current_trio_token().run_sync_soon
        self._call_soon = call_soon
        self._event = anyio.Event()

    def arm(self) -> None:
        """Start a new wait (call on the loop, before reading what is waited for)."""
        self._event = anyio.Event()

    def notify(self) -> None:
        """Wake the current wait (any thread; ignored once the loop is gone)."""
        try:
            self._call_soon(self._set)
        except Exception:  # the loop has closed: nobody is waiting any more
            return

    def _set(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        """Wait until notified after the last :meth:`arm`."""
        await self._event.wait()


async def _authenticate(websocket: WebSocket, engine: Engine) -> Any:
    with anyio.fail_after(AUTHENTICATION_TIMEOUT):
        message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    try:
        frame = json.loads(text or "")
    except ValueError:
        frame = None
    if not isinstance(frame, dict) or frame.get("type") != "authentication":
        raise ClassicApiError.unauthorized("The first frame must be the authentication frame.")
    token = frame.get("data")
    return engine.auth.authenticate(token if isinstance(token, str) else None)


async def _drain(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    """Read (and ignore) client frames until the client goes, then stop the stream."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except Exception:  # the connection broke: same as a disconnect
        pass
    scope.cancel()


async def job_status_stream(websocket: WebSocket) -> None:
    """Serve one job status stream."""
    engine: Engine = websocket.app.state.engine
    job_id = websocket.path_params["job_id"]
    await websocket.accept()
    try:
        try:
            user = await _authenticate(websocket, engine)
        except (ClassicApiError, TimeoutError) as error:
            reason = (
                error.message if isinstance(error, ClassicApiError) else "authentication timed out"
            )
            await websocket.close(code=CLOSE_POLICY_VIOLATION, reason=reason)
            return
        await websocket.send_text('{"type":"authenticated"}')
        if engine.job_for_user(user, job_id) is None:
            await websocket.close(code=CLOSE_JOB_NOT_FOUND, reason="Job not found.")
            return
        await _stream(websocket, engine, job_id)
    except WebSocketDisconnect:
        return
    except Exception:
        if websocket.application_state is not WebSocketState.DISCONNECTED:
            logger.debug("websocket of job %s ended", job_id, exc_info=True)
            with contextlib.suppress(Exception):
                await websocket.close(code=CLOSE_INTERNAL_ERROR, reason="Internal error.")


async def _stream(websocket: WebSocket, engine: Engine, job_id: str) -> None:
    waker = LoopWaker()
    engine.subscribe(job_id, waker)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_drain, websocket, group.cancel_scope)
            last: dict[str, Any] | None = None
            while True:
                waker.arm()
                data = None if engine.closed else engine.stream_data(job_id)
                if data is None:
                    await websocket.close(code=CLOSE_JOB_NOT_FOUND, reason="Job not found.")
                    break
                if data != last:
                    await websocket.send_text(json.dumps({"type": "job-status", "data": data}))
                    last = data
                if data["status"] in _FINAL:
                    await websocket.close(code=CLOSE_JOB_DONE, reason="Job done.")
                    break
                await waker.wait()
            group.cancel_scope.cancel()
    finally:
        engine.unsubscribe(job_id, waker)
