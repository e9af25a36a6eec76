"""Running the local service: in a background thread (:class:`LocalService`, :func:`serve`)
or in the foreground (:func:`run_forever`, used by ``ibmq-async serve``).

The service runs uvicorn on its own asyncio loop in a thread, bound to a loopback socket
(an ephemeral port unless one is asked for), so the REST API and the websocket work over
real HTTP from any client and any event loop (asyncio, uvloop, trio) of the caller.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import uvicorn

from ibmq_async.local.app import API_PREFIX, create_app
from ibmq_async.local.config import LocalServiceConfig
from ibmq_async.local.engine import Engine
from ibmq_async.local.logs import (
    SERVER_THREAD_PREFIX,
    QuietConfig,
    configure_foreground_logging,
    divert_server_logs,
    restore_server_logs,
)
from ibmq_async.local.stats import ServiceStats

__all__ = ["LocalService", "run_forever", "serve"]

logger = logging.getLogger("ibmq_async.local")

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Any) -> Any:
    # QuietConfig leaves logging alone: levels and handlers belong to the program.
    return QuietConfig(
        app,
        log_config=None,
        log_level=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        ws_ping_interval=None,
        backlog=4096,
    )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}{API_PREFIX}"


class LocalService:
    """The local IBM Quantum service, served over loopback HTTP from a background thread.

    Usable as a (synchronous) context manager, or with :meth:`start` and :meth:`close`::

        with LocalService(config) as service:
            IBMQ.enable_account(service.token, url=service.url)

    Args:
        config: A configuration, the path of a TOML file, or ``None`` for
            :meth:`LocalServiceConfig.default`.
        host: The address to bind (loopback by default).
        port: The port to bind; ``0`` for an ephemeral one.
        log_level: The least level of what the service's HTTP server (uvicorn) logs to
            pass on, to the ``ibmq_async.local.server`` logger. The program's own loggers,
            uvicorn's included, are left as they are (see :mod:`ibmq_async.local.logs`).
    """

    def __init__(
        self,
        config: LocalServiceConfig | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.config = LocalServiceConfig.coerce(config)
        self.host = host
        self.log_level = log_level
        self._port = port
        self._engine: Engine | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self._temp_dir: str | None = None
        if self.config.db is None:
            self._temp_dir = tempfile.mkdtemp(prefix="ibmq-local-")
            self.config = self.config.model_copy(update={"db": Path(self._temp_dir) / "service.db"})
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._temp_dir, True)

    # --- life cycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the service is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LocalService:
        """Open the database, start the workers and serve; return once it accepts requests.

        Raises:
            RuntimeError: If it is already running or does not start.
            OSError: If the address cannot be bound.
        """
        if self._engine is not None:
            raise RuntimeError("the service is already running")
        engine = Engine(self.config)
        try:
            sock = _bind(self.host, self._port)
        except BaseException:
            engine.close()
            raise
        self._port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(create_app(engine)))
        self._engine, self._server, self._socket, self._error = engine, server, sock, None
        name = f"{SERVER_THREAD_PREFIX}{self._port}"
        divert_server_logs(name, self.log_level)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                error = self._error
                self.stop()
                raise RuntimeError(f"the local service did not start: {error!r}") from error
            time.sleep(0.005)
        logger.info("local IBM Quantum service at %s", self.url)
        return self

    def _serve(self) -> None:
        try:
            assert self._socket is not None
            self._server.run(sockets=[self._socket])
        except BaseException as error:  # SystemExit from a failed startup included
            self._error = error

    def stop(self) -> None:
        """Stop serving and close the database; the data stays (see :meth:`close`)."""
        server, thread, engine, sock = self._server, self._thread, self._engine, self._socket
        name = thread.name if thread is not None else None
        self._server = self._thread = self._engine = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(_STOP_TIMEOUT)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if engine is not None:
            engine.close()
        if name is not None:
            restore_server_logs(name)

    def restart(self) -> LocalService:
        """Stop and start again on the same database and port."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop, and remove the database if it is a temporary one."""
        self.stop()
        if self._temp_dir is not None:
            self._finalizer()

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- where and who ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port served on (the ephemeral one once started)."""
        return self._port

    @property
    def url(self) -> str:
        """The auth URL to give ``enable_account`` (``http://127.0.0.1:PORT/api``)."""
        return _url(self.host, self._port)

    @property
    def root(self) -> str:
        """The service's root URL (``http://127.0.0.1:PORT``): ``IAM_URL`` and the ``url`` of
        qiskit-ibm-runtime; the platform API is under ``ROOT/api/v1``."""
        return self.url.removesuffix(API_PREFIX)

    @property
    def platform_url(self) -> str:
        """The platform API's base (``http://127.0.0.1:PORT/api/v1``), the ``url_resolver``'s
        answer."""
        return self.root + "/api/v1"

    @property
    def api_key(self) -> str:
        """The platform API key of the first user that has one.

        Raises:
            RuntimeError: If no user has one.
        """
        for user in self.engine.auth.users:
            if user.api_key:
                return user.api_key
        raise RuntimeError("no user of the service has a platform API key")

    @property
    def instance(self) -> str:
        """The first platform instance (CRN) of the user of :attr:`api_key`."""
        for user in self.engine.auth.users:
            if user.api_key and user.instances:
                return user.instances[0]
        raise RuntimeError("no user of the service has a platform instance")

    @property
    def engine(self) -> Engine:
        """The running engine.

        Raises:
            RuntimeError: If the service is not running.
        """
        if self._engine is None:
            raise RuntimeError("the service is not running")
        return self._engine

    @property
    def tokens(self) -> list[str]:
        """The API tokens of every user, in configured order."""
        return [user.token for user in self.engine.auth.users]

    @property
    def token(self) -> str:
        """The API token of the first user."""
        return self.tokens[0]

    def user_id(self, token: str) -> str:
        """The user id of an API token.

        Raises:
            KeyError: If no user has this token.
        """
        user = self.engine.auth.user_for_api_token(token)
        if user is None:
            raise KeyError("no user has this token")
        return user.id

    @property
    def stats(self) -> ServiceStats:
        """Counters for tests: creations, replays, the most active/running jobs seen."""
        return self.engine.stats

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        assert self.config.db is not None
        return Path(self.config.db)

    # --- knobs for tests ----------------------------------------------------------------

    def pause_backend(self, name: str) -> None:
        """Keep the backend's jobs QUEUED until :meth:`resume_backend`."""
        self.engine.pause_backend(name)

    def resume_backend(self, name: str) -> None:
        """Let the backend run its queued jobs again."""
        self.engine.resume_backend(name)

    def set_delays(
        self, name: str, *, run_delay: float | None = None, queue_delay: float | None = None
    ) -> None:
        """Change how long the backend's jobs stay RUNNING / QUEUED at least (seconds)."""
        self.engine.set_delays(name, run_delay=run_delay, queue_delay=queue_delay)

    def add_reservation(
        self,
        backend: str,
        start: datetime,
        end: datetime,
        project: str = "ibm-q/open/main",
        mode: str = "dedicated",
    ) -> dict[str, Any]:
        """Book a backend for a project; returns the reservation as the wire shows it."""
        return self.engine.catalog.add_reservation(backend, start, end, project, mode)

    def recalibrate(
        self,
        backend: str,
        at: datetime | None = None,
        properties: dict[str, Any] | None = None,
    ) -> str:
        """Add a calibration to a device's properties history; returns its date."""
        return self.engine.catalog.recalibrate(backend, at, properties)

    def job_status(self, job_id: str) -> str | None:
        """The API status of a job, whoever owns it (``None`` if unknown)."""
        job = self.engine.job_by_id(job_id)
        return None if job is None else job.status.value

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalService({self.url!r}, {state})"


@contextlib.asynccontextmanager
async def serve(
    config: LocalServiceConfig | str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[LocalService]:
    """Run the local service for the duration of an ``async with`` block.

    Works from any event loop (asyncio, uvloop, trio): the service has its own loop in a
    background thread and starts and stops in a worker thread.

    Args:
        config: A configuration, the path of a TOML file, or ``None`` for the default.
        host: The address to bind (loopback by default).
        port: The port to bind; ``0`` for an ephemeral one.

    Yields:
        The running service: ``service.url`` is the auth URL, ``service.token`` the first
        user's API token.
    """
    service = LocalService(config, host=host, port=port)
    await anyio.to_thread.run_sync(service.start)
    try:
        yield service
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(service.close)


def run_forever(
    config: LocalServiceConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[str, Engine], None] | None = None,
    log_level: str = "info",
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C), logging to stderr.

    Args:
        config: The configuration.
        host: The address to bind.
        port: The port to bind.
        on_ready: Called with ``(url, engine)`` once the socket is bound.
        log_level: ``debug``, ``info`` (one line per REST request), ``warning`` or
            ``error`` (see :func:`ibmq_async.local.logs.configure_foreground_logging`).

    Raises:
        ValueError: If a backend names an unknown device (or the level is unknown).
        OSError: If the address cannot be bound.
    """
    configure_foreground_logging(log_level)
    engine = Engine(config)
    try:
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        if on_ready is not None:
            on_ready(_url(host, bound), engine)
        server = uvicorn.Server(_uvicorn_config(create_app(engine)))
        server.run(sockets=[sock])
    finally:
        engine.close()
