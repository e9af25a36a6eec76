"""The HTTP routes of the local service (docs/protocol.md §1 and §2), as a Starlette app;
the platform API's routes (docs/platform.md) come from ``ibmq_async.local.platform.routes``.

Every route lives under ``/api``: that prefix is both the auth URL and the REST base
(``urls.http``); the websocket base (``urls.ws``) is ``/api/ws``; Qobjs and results are
served as object storage under ``/api/objectstorage`` through signed URLs (a signature and
an expiry, never a token). Every answer carries an ``uber-trace-id`` header; every error
answer has the body of docs/protocol.md §5.2, and no bad input gets a 500.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ibmq_async._version import __version__
from ibmq_async.local.auth import User
from ibmq_async.local.config import LocalServiceConfig
from ibmq_async.local.devices import dumps, loads, parse_datetime
from ibmq_async.local.engine import Engine
from ibmq_async.local.errors import ClassicApiError, ErrorCode
from ibmq_async.local.filters import FilterError, parse_filter
from ibmq_async.local.jobs import Job
from ibmq_async.local.logs import AccessLogMiddleware
from ibmq_async.local.platform.errors import ErrorCodes as PlatformCodes
from ibmq_async.local.platform.errors import IamApiError, PlatformApiError
from ibmq_async.local.platform.routes import (
    iam_error_response,
    is_platform_path,
    platform_error_response,
    platform_routes,
)
from ibmq_async.local.queue import BackendRuntime
from ibmq_async.local.websocket import job_status_stream
from ibmq_async.models._base import format_utc

__all__ = ["API_PREFIX", "create_app"]

logger = logging.getLogger("ibmq_async.local")

API_PREFIX = "/api"
HGP = API_PREFIX + "/Network/{hub}/Groups/{group}/Projects/{project}"
_JSON = "application/json"
_INLINE_UPLOAD = 256 * 1024

Handler = Callable[[Request], Awaitable[Response]]


# --- plumbing ------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type=_JSON)


def _raw(data: bytes) -> Response:
    return Response(data, media_type=_JSON)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _access_token(request: Request) -> str | None:
    token = request.headers.get("x-access-token")
    if token:
        return token
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return authorization.strip() or None


def _user(request: Request) -> User:
    return _engine(request).auth.authenticate(_access_token(request))


def _hgp(request: Request, user: User) -> tuple[str, str, str]:
    params = request.path_params
    hgp = (params["hub"], params["group"], params["project"])
    _engine(request).require_project(user, *hgp)
    return hgp


def _job(request: Request) -> Job:
    user = _user(request)
    hgp = _hgp(request, user)
    return _engine(request).job(user, hgp, request.path_params["job_id"])


def _base_url(request: Request) -> str:
    public = _engine(request).config.public_url
    if public:
        return public
    return str(request.base_url).rstrip("/")


async def _body(request: Request) -> bytes:
    limit = _engine(request).config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    too_large = ClassicApiError(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than the maximum size ({limit} bytes).",
        "PAYLOAD_TOO_LARGE",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request) -> Any:
    data = await _body(request)
    if not data.strip():
        raise ClassicApiError.bad_request("The request needs a JSON body.")
    try:
        return loads(data)
    except ValueError:
        raise ClassicApiError.bad_request("The request body is not valid JSON.") from None


def _date_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise ClassicApiError.bad_request(f"{name} is not an ISO 8601 date: {value!r}") from None


def _object_url(request: Request, job: Job, kind: str, purpose: str) -> str:
    expires, signature = _engine(request).signer.sign(job.id, purpose)
    query = urlencode({"expires": expires, "signature": signature})
    return f"{_base_url(request)}{API_PREFIX}/objectstorage/jobs/{job.id}/{kind}?{query}"


# --- authentication (§1) -------------------------------------------------------------------


async def version(request: Request) -> Response:
    """``GET /version``: marks an IBM Quantum auth service (``api-auth``)."""
    return _json({"new_api": True, "api-auth": "0.1.0", "version": __version__})


async def login(request: Request) -> Response:
    """``POST /users/loginWithToken``: an API token for an access token."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ClassicApiError.bad_request("The body must be a JSON object with apiToken.")
    result = _engine(request).auth.login(body.get("apiToken"))
    return _json(
        {
            "id": result.access_token,
            "ttl": round(result.expires - result.created),
            "created": format_utc(datetime.fromtimestamp(result.created, timezone.utc)),
            "userId": result.user.id,
        }
    )


async def me(request: Request) -> Response:
    """``GET /users/me``: where the REST API and the websocket are."""
    user = _user(request)
    base = _base_url(request)
    ws_base = "ws" + base[4:] if base.startswith("http") else base
    return _json(
        {
            "id": user.id,
            "email": user.email,
            "username": user.email or user.id,
            "urls": {
                "http": base + API_PREFIX,
                "ws": ws_base + API_PREFIX + "/ws",
                "services": {},
            },
        }
    )


async def network(request: Request) -> Response:
    """``GET /Network``: the user's hubs, groups and projects, keyed by name."""
    user = _user(request)
    hubs: dict[str, dict[str, Any]] = {}
    for hub, group, project in user.projects:
        entry = hubs.setdefault(hub, {"name": hub, "title": hub, "groups": {}})
        groups = entry["groups"].setdefault(group, {"name": group, "title": group, "projects": {}})
        groups["projects"][project] = {
            "name": project,
            "title": project,
            "isDefault": (hub, group, project) == user.default,
        }
    return _json(list(hubs.values()))


# --- reservations (§2.1, §2.2) -------------------------------------------------------------


async def my_reservations(request: Request) -> Response:
    """``GET /Network/bookings/v2``: reservations of the user's projects."""
    user = _user(request)
    engine = _engine(request)
    return _json(engine.catalog.reservations(set(user.projects)))


async def backend_reservations(request: Request) -> Response:
    """``GET /Network/devices/{name}/bookings/v2``: a backend's reservations in a window."""
    user = _user(request)
    engine = _engine(request)
    name = request.path_params["name"]
    if name not in engine.backends:
        raise ClassicApiError.backend_not_found(name)
    start = _date_param(request, "initialDate")
    end = _date_param(request, "endDate")
    return _json(engine.catalog.reservations(set(user.projects), name, start, end))


# --- backends (§2.2) -----------------------------------------------------------------------


async def list_backends(request: Request) -> Response:
    """``GET {HGP}/devices/v/1``: the configurations of the project's backends."""
    user = _user(request)
    hgp = _hgp(request, user)
    parts = [
        runtime.device.configuration_bytes for runtime in _engine(request).backends_visible(hgp)
    ]
    return _raw(b"[" + b",".join(parts) + b"]")


def _backend(request: Request) -> tuple[User, BackendRuntime]:
    user = _user(request)
    hgp = _hgp(request, user)
    return user, _engine(request).backend_for(user, hgp, request.path_params["name"])


async def properties(request: Request) -> Response:
    """``GET .../properties``: the calibration now, or in force at a ``filter`` time."""
    _, runtime = _backend(request)
    if runtime.device.simulator:
        return _raw(b"{}")
    where = None
    text = request.query_params.get("filter")
    if text:
        parsed = parse_filter(text)
        where = parsed.where
    engine = _engine(request)
    return _raw(engine.catalog.properties(runtime.config.name, where))


async def defaults(request: Request) -> Response:
    """``GET .../defaults``: pulse defaults, ``{}`` for backends without them."""
    _, runtime = _backend(request)
    return _raw(runtime.device.defaults_bytes)


async def queue_status(request: Request) -> Response:
    """``GET .../queue/status``."""
    _, runtime = _backend(request)
    return _json(_engine(request).queue_status(runtime))


async def jobs_limit(request: Request) -> Response:
    """``GET .../jobsLimit``: the user's maximum and current unfinished jobs."""
    user, runtime = _backend(request)
    return _json(_engine(request).job_limit(user, runtime))


# --- jobs (§2.3) ---------------------------------------------------------------------------


async def create_job(request: Request) -> Response:
    """``POST {HGP}/Jobs``: a new job and the URL to upload its Qobj to."""
    user = _user(request)
    hgp = _hgp(request, user)
    body = await _json_body(request)
    job, _ = _engine(request).create_job(
        user,
        hgp,
        body,
        idempotency_key=request.headers.get("idempotency-key"),
        client_application=request.headers.get("x-qx-client-application"),
    )
    document = dict(_engine(request).document(job))
    document["objectStorageInfo"] = {
        "uploadUrl": _object_url(request, job, "qobj", "upload"),
    }
    return _json(document)


async def list_jobs(request: Request) -> Response:
    """``GET {HGP}/Jobs/status/v/1`` and ``GET {HGP}/Jobs/v/1``: filtered job listings."""
    user = _user(request)
    hgp = _hgp(request, user)
    query = parse_filter(request.query_params.get("filter"))
    return _json(_engine(request).list_jobs(user, hgp, query))


async def get_job(request: Request) -> Response:
    """``GET .../Jobs/{id}/v/1``."""
    job = _job(request)
    return _json(_engine(request).document(job))


async def job_status(request: Request) -> Response:
    """``GET .../Jobs/{id}/status/v/1``."""
    job = _job(request)
    return _json(_engine(request).status_document(job))


async def job_data_uploaded(request: Request) -> Response:
    """``POST .../jobDataUploaded``: the Qobj is in place; validate and queue the job."""
    job = _job(request)
    engine = _engine(request)
    validate_here = engine.job_data_uploaded(job, defer=True)
    answer = _json({"job": engine.document(job)})
    if validate_here:  # a small Qobj: cheaper here than in a thread; the answer says VALIDATING
        engine.validate(job.id)
    return answer


async def cancel(request: Request) -> Response:
    """``POST .../cancel``."""
    job = _job(request)
    cancelled = _engine(request).cancel(job)
    return _json({"cancelled": cancelled, "status": job.status.value})


async def result_url(request: Request) -> Response:
    """``GET .../resultDownloadUrl``."""
    job = _job(request)
    _engine(request).result_bytes(job)  # answers 400 when there is no result
    return _json({"url": _object_url(request, job, "result", "result")})


async def result_downloaded(request: Request) -> Response:
    """``POST .../resultDownloaded``."""
    job = _job(request)
    _engine(request).result_downloaded(job)
    return _json({})


async def qobj_url(request: Request) -> Response:
    """``GET .../jobDownloadUrl``."""
    job = _job(request)
    _engine(request).qobj_bytes(job)  # answers 400 when nothing was uploaded
    return _json({"url": _object_url(request, job, "qobj", "download")})


async def job_properties(request: Request) -> Response:
    """``GET .../Jobs/{id}/properties``: the calibration the job ran with."""
    job = _job(request)
    return _raw(_engine(request).job_properties(job))


async def update_job(request: Request) -> Response:
    """``PUT .../Jobs/{id}``: a new name or tags, echoed back."""
    job = _job(request)
    body = await _json_body(request)
    engine = _engine(request)
    engine.update_job(job, body)
    return _json(engine.document(job))


async def delete_job(request: Request) -> Response:
    """``DELETE .../Jobs/{id}``."""
    job = _job(request)
    _engine(request).delete_job(job)
    return Response(status_code=204)


# --- object storage ------------------------------------------------------------------------


def _storage_job(request: Request, purpose: str) -> Job:
    """The job of an object storage URL: by signature, or else by access token."""
    engine = _engine(request)
    job_id = request.path_params["job_id"]
    params = request.query_params
    if engine.signer.verify(job_id, purpose, params.get("expires"), params.get("signature")):
        job = engine.job_by_id(job_id)
        if job is None:
            raise ClassicApiError.job_not_found(job_id)
        return job
    user = _user(request)
    job = engine.job_for_user(user, job_id)
    if job is None:
        raise ClassicApiError.job_not_found(job_id)
    return job


async def put_qobj(request: Request) -> Response:
    """``PUT <uploadUrl>``: the Qobj of a job."""
    job = _storage_job(request, "upload")
    data = await _body(request)
    engine = _engine(request)
    if len(data) > _INLINE_UPLOAD:
        await anyio.to_thread.run_sync(engine.upload_qobj, job.id, data)
    else:
        engine.upload_qobj(job.id, data)
    return Response(status_code=200)


async def get_qobj(request: Request) -> Response:
    """``GET <jobDownloadUrl>``: the Qobj of a job."""
    job = _storage_job(request, "download")
    return _raw(_engine(request).qobj_bytes(job))


async def get_result(request: Request) -> Response:
    """``GET <resultDownloadUrl>``: the result of a job."""
    job = _storage_job(request, "result")
    return _raw(_engine(request).result_bytes(job))


async def health(request: Request) -> Response:
    """``GET /health``: whether the service runs (no authentication)."""
    return _json({"status": "ok", "version": __version__})


# --- errors and tracing --------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClassicApiError)
    return _json(exc.body(), exc.status)


async def _filter_error(request: Request, exc: Exception) -> Response:
    return _json(ClassicApiError.bad_request(str(exc), ErrorCode.INVALID_FILTER).body(), 400)


async def _platform_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlatformApiError)
    return platform_error_response(exc)


async def _iam_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IamApiError)
    return iam_error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_platform_path(request.url.path):
        code = {404: PlatformCodes.NOT_FOUND, 405: PlatformCodes.METHOD_NOT_ALLOWED}
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        failure = PlatformApiError(
            exc.status_code, code.get(exc.status_code, PlatformCodes.BAD_REQUEST), message
        )
        return platform_error_response(failure)
    if exc.status_code == 404:
        error = ClassicApiError(404, ErrorCode.REQUEST_NOT_FOUND, "Request not found.", "NOT_FOUND")
    else:
        error = ClassicApiError(
            exc.status_code, ErrorCode.INVALID_PAYLOAD, str(exc.detail), "ERROR"
        )
    return _json(error.body(), exc.status_code)


class TraceMiddleware:
    """Adds an ``uber-trace-id`` header to every answer and turns crashes into a JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = (b"uber-trace-id", f"{os.urandom(8).hex()}:{os.urandom(8).hex()}:0:1".encode())
        started = False

        async def send_traced(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_traced)
        except Exception:
            logger.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            if is_platform_path(str(scope.get("path", ""))):
                failure = PlatformApiError(500, PlatformCodes.INTERNAL, "Internal error")
                body = dumps(failure.body())
            else:
                body = dumps(
                    ClassicApiError(500, ErrorCode.INTERNAL, "API Internal error.", "ERROR").body()
                )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", _JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                        header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def _routes() -> list[Route | WebSocketRoute]:
    jobs = HGP + "/Jobs/{job_id}"
    device = HGP + "/devices/{name}"
    storage = API_PREFIX + "/objectstorage/jobs/{job_id}"
    get, post = ["GET"], ["POST"]
    return [
        Route(API_PREFIX + "/version", version, methods=get),
        Route(API_PREFIX + "/health", health, methods=get),
        Route(API_PREFIX + "/users/loginWithToken", login, methods=post),
        Route(API_PREFIX + "/users/me", me, methods=get),
        Route(API_PREFIX + "/Network", network, methods=get),
        Route(API_PREFIX + "/Network/bookings/v2", my_reservations, methods=get),
        Route(
            API_PREFIX + "/Network/devices/{name}/bookings/v2", backend_reservations, methods=get
        ),
        Route(HGP + "/devices/v/1", list_backends, methods=get),
        Route(device + "/properties", properties, methods=get),
        Route(device + "/defaults", defaults, methods=get),
        Route(device + "/queue/status", queue_status, methods=get),
        Route(device + "/jobsLimit", jobs_limit, methods=get),
        Route(HGP + "/Jobs", create_job, methods=post),
        Route(HGP + "/Jobs/status/v/1", list_jobs, methods=get),
        Route(HGP + "/Jobs/v/1", list_jobs, methods=get),
        Route(jobs + "/v/1", get_job, methods=get),
        Route(jobs + "/status/v/1", job_status, methods=get),
        Route(jobs + "/jobDataUploaded", job_data_uploaded, methods=post),
        Route(jobs + "/cancel", cancel, methods=post),
        Route(jobs + "/resultDownloadUrl", result_url, methods=get),
        Route(jobs + "/resultDownloaded", result_downloaded, methods=post),
        Route(jobs + "/jobDownloadUrl", qobj_url, methods=get),
        Route(jobs + "/properties", job_properties, methods=get),
        Route(jobs, update_job, methods=["PUT"]),
        Route(jobs, delete_job, methods=["DELETE"]),
        Route(storage + "/qobj", put_qobj, methods=["PUT"]),
        Route(storage + "/qobj", get_qobj, methods=get),
        Route(storage + "/result", get_result, methods=get),
        WebSocketRoute(API_PREFIX + "/ws/jobs/{job_id}/status/v/1", job_status_stream),
        *platform_routes(),
    ]


def create_app(config: LocalServiceConfig | Engine | str | Path | None = None) -> Starlette:
    """Build the Starlette app of the local service.

    Args:
        config: A configuration (``None`` for :meth:`LocalServiceConfig.default`, or the
            path of a TOML file), or an :class:`Engine` to serve. The app owns an engine
            it builds and closes it on lifespan shutdown; without a lifespan (e.g.
            ``httpx.ASGITransport``) call ``app.state.engine.close()`` when done.

    Returns:
        The app; its engine is ``app.state.engine``.
    """
    if isinstance(config, Engine):
        engine, owned = config, False
    else:
        engine, owned = Engine(LocalServiceConfig.coerce(config)), True

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if owned:
            await anyio.to_thread.run_sync(engine.close)

    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(AccessLogMiddleware), Middleware(TraceMiddleware)],
        exception_handlers={
            ClassicApiError: _api_error,
            FilterError: _filter_error,
            HTTPException: _http_error,
            PlatformApiError: _platform_error,
            IamApiError: _iam_error,
        },
        lifespan=lifespan,
    )
    app.state.engine = engine
    return app
