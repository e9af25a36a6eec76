"""Logging of the local service.

* **Access lines.** :class:`AccessLogMiddleware` logs one line per REST request on the
  ``ibmq_async.local.access`` logger at INFO (method, path, status, milliseconds; never
  the query string, which holds signatures) and the opening and closing of each status
  websocket at DEBUG. uvicorn's own access log and its websocket lines stay off.
* **Embedded in another program** (:class:`~ibmq_async.local.LocalService`, ``serve()``):
  the service changes no logger of the host. uvicorn normally configures the ``uvicorn.*``
  loggers (their levels, their handlers) when a server is made, which silenced a host's
  own uvicorn; :class:`QuietConfig` does not. What the embedded server itself logs on the
  ``uvicorn.*`` loggers, from its own thread, is taken off them by a filter that only
  sees records of that thread (the host's records pass untouched) and passed on to the
  ``ibmq_async.local.server`` logger, from the service's ``log_level`` up. The filter is
  on those loggers only while an embedded service runs.
* **``ibmq-async serve``** owns its process: :func:`configure_foreground_logging` sends
  the service's and uvicorn's records to stderr at the level of ``--log-level``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ACCESS_LOGGER",
    "LOG_LEVELS",
    "SERVER_LOGGER",
    "SERVER_THREAD_PREFIX",
    "AccessLogMiddleware",
    "QuietConfig",
    "configure_foreground_logging",
    "divert_server_logs",
    "restore_server_logs",
]

ACCESS_LOGGER = "ibmq_async.local.access"
"""The logger of the access lines."""

SERVER_LOGGER = "ibmq_async.local.server"
"""Where what an embedded server logs on uvicorn's loggers goes."""

SERVER_THREAD_PREFIX = "ibmq-local-http-"
"""The name of the thread of an embedded server starts with this."""

LOG_LEVELS = ("debug", "info", "warning", "error")
"""The levels ``ibmq-async serve --log-level`` takes."""

_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_WEBSOCKET_CHATTER = frozenset(
    {'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"}
)

access_logger = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    """One INFO line per HTTP request, DEBUG lines when a websocket opens and closes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and access_logger.isEnabledFor(logging.INFO):
            await self._http(scope, receive, send)
        elif kind == "websocket" and access_logger.isEnabledFor(logging.DEBUG):
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            access_logger.info(
                "%s %s %d %.1f ms",
                scope.get("method"),
                scope.get("path"),
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope.get("path")
        code: Any = None

        async def send_seen(message: Message) -> None:
            nonlocal code
            if message["type"] == "websocket.accept":
                access_logger.debug("WebSocket %s open", path)
            elif message["type"] == "websocket.close":
                code = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            access_logger.debug(
                "WebSocket %s closed (code %s) after %.1f s",
                path,
                code if code is not None else "from the client",
                time.perf_counter() - started,
            )


class QuietConfig(uvicorn.Config):
    """A uvicorn configuration that leaves the process's logging alone.

    uvicorn's ``Config`` sets the levels of the ``uvicorn.*`` loggers and empties the
    handlers of ``uvicorn.access`` when it is made; this one configures nothing.
    """

    def configure_logging(self) -> None:
        """Nothing: logging belongs to the program (or to :func:`configure_foreground_logging`)."""


class _EmbeddedServerFilter(logging.Filter):
    """Takes the records of embedded servers' threads off uvicorn's loggers."""

    def __init__(self) -> None:
        super().__init__("ibmq_async.local.embedded")
        self.levels: dict[str, int] = {}  # thread name -> the least level passed on

    def filter(self, record: logging.LogRecord) -> bool:
        least = self.levels.get(record.threadName or "")
        if least is None:
            return True  # the host's own record
        if record.msg not in _WEBSOCKET_CHATTER and record.levelno >= least:
            target = logging.getLogger(SERVER_LOGGER)
            if target.isEnabledFor(record.levelno):
                record.name = SERVER_LOGGER
                target.handle(record)
        return False


_filter = _EmbeddedServerFilter()
_filter_lock = threading.Lock()


def divert_server_logs(thread_name: str, level: str | int = "warning") -> None:
    """Take what the embedded server of thread ``thread_name`` logs off uvicorn's loggers.

    Its records from ``level`` up go to ``ibmq_async.local.server``; the others, and its
    websocket lines, are dropped. Undone by :func:`restore_server_logs`.
    """
    least = level if isinstance(level, int) else logging.getLevelName(level.upper())
    with _filter_lock:
        if not _filter.levels:
            for name in _UVICORN_LOGGERS:
                logging.getLogger(name).addFilter(_filter)
        _filter.levels[thread_name] = least


def restore_server_logs(thread_name: str) -> None:
    """Stop diverting the records of ``thread_name``; the last one out removes the filter."""
    with _filter_lock:
        _filter.levels.pop(thread_name, None)
        if not _filter.levels:
            for name in _UVICORN_LOGGERS:
                logging.getLogger(name).removeFilter(_filter)


class _NoWebsocketChatter(logging.Filter):
    """Drops uvicorn's lines for each websocket (the access log has them at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in _WEBSOCKET_CHATTER


def configure_foreground_logging(level: str = "info") -> None:
    """Log the service and uvicorn to stderr at ``level`` (for ``ibmq-async serve``).

    Args:
        level: One of :data:`LOG_LEVELS`: ``info`` shows one line per REST request,
            ``debug`` adds websocket openings and closings and the engine's details.

    Raises:
        ValueError: If the level is not one of :data:`LOG_LEVELS`.
    """
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LOG_LEVELS)})")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    numeric = logging.getLevelName(level.upper())
    for name in ("ibmq_async", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(numeric)
        logger.propagate = False
    quiet = _NoWebsocketChatter()
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(quiet)
    logging.getLogger("uvicorn.access").disabled = True  # the access log is ours
