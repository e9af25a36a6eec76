"""The HTTP routes of the platform API (docs/platform.md), as Starlette routes.

For a service at ``ROOT``:

* ``ROOT/identity/token``: IBM Cloud IAM (an API key for a signed JWT);
* ``ROOT/global-search/v3/resources/search`` and ``ROOT/global-catalog/api/v1/{plan_id}``:
  the IBM Cloud Global Search and Global Catalog that instance discovery reads;
* ``ROOT/api/v1/...``: the runtime API (backends, jobs, sessions, usage).

Every request but ``/identity/token`` and ``/api/v1/versions`` carries
``Authorization: Bearer <token>``; every runtime API request but ``versions`` also names its
instance in ``Service-CRN``. Errors have the platform's body (IAM's own for
``/identity/token``); no bad input gets a 500.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ibmq_async.local.auth import User
from ibmq_async.local.devices import dumps, loads, parse_datetime
from ibmq_async.local.platform.core import JobQuery, Platform
from ibmq_async.local.platform.errors import ErrorCodes, IamApiError, PlatformApiError
from ibmq_async.local.platform.jobs import PrimitiveJob
from ibmq_async.local.queue import BackendRuntime
from ibmq_async.models.platform import (
    ApiVersions,
    BackendList,
    CatalogEntry,
    JobCreated,
    JobList,
    SearchItem,
    SearchResult,
)

__all__ = [
    "API_VERSIONS",
    "IAM_PATH",
    "PLATFORM_PREFIXES",
    "RUNTIME_PREFIX",
    "iam_error_response",
    "is_platform_path",
    "platform_error_response",
    "platform_routes",
]

RUNTIME_PREFIX = "/api/v1"
IAM_PATH = "/identity/token"
SEARCH_PREFIX = "/global-search"
CATALOG_PREFIX = "/global-catalog"
PLATFORM_PREFIXES = (RUNTIME_PREFIX + "/", "/identity/", SEARCH_PREFIX + "/", CATALOG_PREFIX + "/")

API_VERSIONS = ("2025-01-01", "2025-05-01", "2026-02-15", "2026-04-15")
"""The ``IBM-API-Version`` values ``GET /v1/versions`` lists (any ``YYYY-MM-DD`` is accepted)."""

_JSON = "application/json"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_LIMIT = 1000
_SEARCH_LIMIT = 1000

Handler = Callable[[Request], Awaitable[Response]]


def is_platform_path(path: str) -> bool:
    """Whether a request path belongs to the platform API (and answers its error bodies)."""
    return path == RUNTIME_PREFIX or path.startswith(PLATFORM_PREFIXES)


def platform_error_response(error: PlatformApiError) -> Response:
    """The answer of a platform error."""
    return Response(
        dumps(error.body()), status_code=error.status, media_type=_JSON, headers=error.headers
    )


def iam_error_response(error: IamApiError) -> Response:
    """The answer of an IAM error."""
    return Response(dumps(error.body()), status_code=error.status, media_type=_JSON)


# --- plumbing -------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type=_JSON)


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.engine.platform
    return platform


async def _body(request: Request) -> bytes:
    limit = request.app.state.engine.config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    too_large = PlatformApiError(
        413,
        ErrorCodes.BAD_REQUEST,
        f"The request body is larger than the maximum size ({limit} bytes)",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise too_large
    return bytes(received)


async def _json_body(request: Request) -> Any:
    data = await _body(request)
    if not data.strip():
        raise PlatformApiError.bad_request("The request needs a JSON body")
    try:
        if len(data) > 256 * 1024:
            return await anyio.to_thread.run_sync(loads, data)
        return loads(data)
    except ValueError:
        raise PlatformApiError.bad_request("The request body is not valid JSON") from None


def _check_version(request: Request) -> None:
    version = request.headers.get("ibm-api-version")
    if version is not None and not _VERSION.match(version.strip()):
        raise PlatformApiError.bad_request(
            f"IBM-API-Version must be a date (YYYY-MM-DD), got {version!r}"
        )


def _user(request: Request) -> User:
    _check_version(request)
    return _platform(request).authenticate(request.headers.get("authorization"))


def _caller(request: Request) -> tuple[User, str]:
    user = _user(request)
    instance = _platform(request).instance_for(user, request.headers.get("service-crn"))
    return user, instance


def _job(request: Request) -> PrimitiveJob:
    _, instance = _caller(request)
    return _platform(request).job(instance, request.path_params["job_id"])


def _backend(request: Request) -> BackendRuntime:
    _, instance = _caller(request)
    return _platform(request).backend(instance, request.path_params["name"])


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise PlatformApiError.bad_request(f"{name} is given {len(values)} times")
    return values[0] if values else None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = _single(request, name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise PlatformApiError.bad_request(f"{name} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise PlatformApiError.bad_request(f"{name} must be {low} to {high}, got {value}")
    return value


def _bool_param(request: Request, name: str) -> bool | None:
    text = _single(request, name)
    if text is None or text == "":
        return None
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise PlatformApiError.bad_request(f"{name} must be true or false, got {text!r}")
    return lowered == "true"


def _date_param(request: Request, name: str) -> datetime | None:
    text = _single(request, name)
    if text is None or text == "":
        return None
    try:
        return parse_datetime(text)
    except (ValueError, OverflowError):
        raise PlatformApiError.bad_request(f"{name} is not an ISO 8601 date: {text!r}") from None


# --- IBM Cloud: IAM, Global Search, Global Catalog ------------------------------------------


async def iam_token(request: Request) -> Response:
    """``POST /identity/token``: an API key for a signed access token."""
    try:
        data = await _body(request)
    except PlatformApiError as error:
        raise IamApiError(error.status, "BXNIM0102E", error.message) from None
    try:
        form = dict(parse_qsl(data.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise IamApiError(400, "BXNIM0102E", "The request body is not a form") from None
    token = _platform(request).iam.issue(form)
    return _json(token.to_wire(exclude_unset=False))


def _search_cursor(text: object) -> int:
    if text is None:
        return 0
    if not isinstance(text, str):
        raise PlatformApiError.bad_request("search_cursor must be a string")
    try:
        decoded = base64.urlsafe_b64decode(text.encode("ascii")).decode("ascii")
        prefix, _, offset = decoded.partition(":")
        if prefix != "offset" or not offset.isdigit():
            raise ValueError(decoded)
        return int(offset)
    except (ValueError, UnicodeError, binascii.Error):
        raise PlatformApiError.bad_request("search_cursor is not a cursor of this search") from None


async def global_search(request: Request) -> Response:
    """``POST /global-search/v3/resources/search``: the caller's quantum-computing instances."""
    user = _user(request)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise PlatformApiError.bad_request("The body must be a JSON object")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise PlatformApiError.bad_request("query is required")
    limit = _int_param(request, "limit", 10, 1, _SEARCH_LIMIT)
    offset = _search_cursor(body.get("search_cursor"))
    platform = _platform(request)
    items: list[SearchItem] = []
    if re.search(r"service_name\s*:\s*\"?quantum-computing\"?", query):
        for crn in platform.instances_of(user):
            instance = platform.config.instance(crn)
            items.append(
                SearchItem(
                    crn=crn,
                    name=instance.display_name,
                    service_plan_unique_id=instance.plan_id,
                    doc={"extensions": {"quantum_computing": {"plan": instance.plan}}},
                    tags=list(instance.tags),
                    account_id=crn.split(":")[6][2:],
                    family="resource_controller",
                    type="resource-instance",
                )
            )
    page = items[offset : offset + limit]
    cursor = None
    if offset + limit < len(items):
        cursor = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
    answer = SearchResult(items=page, limit=limit, search_cursor=cursor)
    return _json(answer.to_wire(exclude_unset=False, exclude_none=True))


async def global_catalog(request: Request) -> Response:
    """``GET /global-catalog/api/v1/{plan_id}``: a plan's display name and pricing type."""
    user = _user(request)
    platform = _platform(request)
    plan_id = request.path_params["plan_id"]
    crns = set(platform.instances_of(user)) | {item.crn for item in platform.config.instances}
    for crn in sorted(crns):
        instance = platform.config.instance(crn)
        if instance.plan_id == plan_id:
            entry = CatalogEntry(
                id=plan_id,
                name=instance.plan.lower(),
                overview_ui={"en": {"display_name": instance.plan.title(), "description": ""}},
                metadata={"pricing": {"type": instance.pricing_type}},
            )
            return _json(entry.to_wire(exclude_unset=False))
    raise PlatformApiError.not_found(f"Catalog entry not found: {plan_id}")


# --- the runtime API: versions, backends, usage ---------------------------------------------


async def versions(request: Request) -> Response:
    """``GET /v1/versions`` (no authentication)."""
    return _json(ApiVersions(versions=list(API_VERSIONS)).to_wire(exclude_unset=False))


async def list_backends(request: Request) -> Response:
    """``GET /v1/backends``: the instance's backends (``devices``)."""
    _, instance = _caller(request)
    platform = _platform(request)
    devices = [platform.backend_summary(runtime) for runtime in platform.backends(instance)]
    return _json(BackendList(devices=devices).to_wire(exclude_unset=False))


async def backend_configuration(request: Request) -> Response:
    """``GET /v1/backends/{name}/configuration``."""
    runtime = _backend(request)
    return Response(runtime.device.configuration_bytes, media_type=_JSON)


async def backend_properties(request: Request) -> Response:
    """``GET /v1/backends/{name}/properties``: now, or in force at ``updated_before``."""
    runtime = _backend(request)
    when = _date_param(request, "updated_before")
    if runtime.device.simulator:
        return Response(b"{}", media_type=_JSON)
    catalog = request.app.state.engine.catalog
    if when is None:
        return Response(catalog.properties(runtime.config.name), media_type=_JSON)
    return Response(catalog.properties_at(runtime.config.name, when), media_type=_JSON)


async def backend_status(request: Request) -> Response:
    """``GET /v1/backends/{name}/status``."""
    runtime = _backend(request)
    return _json(_platform(request).backend_state(runtime).to_wire(exclude_unset=False))


async def backend_defaults(request: Request) -> Response:
    """``GET /v1/backends/{name}/defaults``: pulse defaults, where the device has them."""
    runtime = _backend(request)
    if runtime.device.defaults_bytes.strip() in (b"", b"{}"):
        raise PlatformApiError.not_found(
            f"Backend {runtime.config.name} has no pulse defaults", ErrorCodes.NOT_FOUND
        )
    return Response(runtime.device.defaults_bytes, media_type=_JSON)


async def instance_usage(request: Request) -> Response:
    """``GET /v1/instances/usage``."""
    _, instance = _caller(request)
    usage = _platform(request).instance_usage(instance)
    return _json(usage.to_wire(exclude_unset=False, exclude_none=True))


# --- jobs -----------------------------------------------------------------------------------


async def create_job(request: Request) -> Response:
    """``POST /v1/jobs``: check the params, queue the job."""
    user, instance = _caller(request)
    body = await _json_body(request)
    platform = _platform(request)
    job = await anyio.to_thread.run_sync(platform.create_job, user, instance, body)
    created = JobCreated(
        id=job.id, backend=job.backend, session_id=job.session_id, private=job.private
    )
    return _json(created.to_wire(exclude_unset=False))


async def list_jobs(request: Request) -> Response:
    """``GET /v1/jobs``: the instance's jobs, filtered, newest first unless ``sort=ASC``."""
    _, instance = _caller(request)
    sort = (_single(request, "sort") or "DESC").upper()
    if sort not in ("ASC", "DESC"):
        raise PlatformApiError.bad_request(f"sort must be ASC or DESC, got {sort!r}")
    program = _single(request, "program") or None
    _bool_param(request, "exclude_params")
    _bool_param(request, "include_mocks")
    query = JobQuery(
        limit=_int_param(request, "limit", 200, 1, _MAX_LIMIT),
        offset=_int_param(request, "offset", 0, 0, 2**31),
        pending=_bool_param(request, "pending"),
        program=program,
        backend=_single(request, "backend") or None,
        tags=tuple(request.query_params.getlist("tags")),
        session_id=_single(request, "session_id") or None,
        created_after=_date_param(request, "created_after"),
        created_before=_date_param(request, "created_before"),
        descending=sort == "DESC",
    )
    documents, count = _platform(request).list_jobs(instance, query)
    page = JobList.model_validate(
        {"jobs": documents, "count": count, "limit": query.limit, "offset": query.offset}
    )
    answer = page.to_wire(exclude_unset=False)
    for document in answer["jobs"]:
        document.pop("params", None)
    return _json(answer)


async def get_job(request: Request) -> Response:
    """``GET /v1/jobs/{id}`` (its params unless ``exclude_params=true``)."""
    job = _job(request)
    exclude = _bool_param(request, "exclude_params")
    return _json(_platform(request).job_document(job, include_params=not exclude))


async def delete_job(request: Request) -> Response:
    """``DELETE /v1/jobs/{id}``: a finished job."""
    job = _job(request)
    _platform(request).delete(job)
    return Response(status_code=204)


async def job_results(request: Request) -> Response:
    """``GET /v1/jobs/{id}/results``: the ``PrimitiveResult`` (runtime JSON), or the error."""
    job = _job(request)
    text = _platform(request).result_text(job)
    return Response(text, media_type=_JSON)


async def cancel_job(request: Request) -> Response:
    """``POST /v1/jobs/{id}/cancel``: 409 once the job is final."""
    job = _job(request)
    _platform(request).cancel(job)
    return Response(status_code=204)


async def job_logs(request: Request) -> Response:
    """``GET /v1/jobs/{id}/logs``."""
    job = _job(request)
    return Response(_platform(request).logs(job), media_type="text/plain")


async def job_metrics(request: Request) -> Response:
    """``GET /v1/jobs/{id}/metrics``."""
    job = _job(request)
    metrics = _platform(request).metrics(job)
    return _json(metrics.to_wire(exclude_unset=False))


async def job_tags(request: Request) -> Response:
    """``PUT /v1/jobs/{id}/tags``: replace the tags (204)."""
    job = _job(request)
    body = await _json_body(request)
    _platform(request).update_tags(job, body)
    return Response(status_code=204)


# --- sessions -------------------------------------------------------------------------------


async def create_session(request: Request) -> Response:
    """``POST /v1/sessions``: a session (``dedicated``) or batch."""
    user, instance = _caller(request)
    body = await _json_body(request)
    platform = _platform(request)
    session = platform.create_session(user, instance, body)
    return _json(platform.session_document(session))


async def get_session(request: Request) -> Response:
    """``GET /v1/sessions/{id}``."""
    _, instance = _caller(request)
    platform = _platform(request)
    session = platform.session(instance, request.path_params["session_id"])
    return _json(platform.session_document(session))


async def update_session(request: Request) -> Response:
    """``PATCH /v1/sessions/{id}``: ``{"accepting_jobs": false}`` (204)."""
    _, instance = _caller(request)
    platform = _platform(request)
    session = platform.session(instance, request.path_params["session_id"])
    body = await _json_body(request)
    platform.update_session(session, body)
    return Response(status_code=204)


async def close_session(request: Request) -> Response:
    """``DELETE /v1/sessions/{id}/close``: cancel its queued jobs and close it (204)."""
    _, instance = _caller(request)
    platform = _platform(request)
    session = platform.session(instance, request.path_params["session_id"])
    platform.close_session(session)
    return Response(status_code=204)


def platform_routes() -> list[Route]:
    """The routes of the platform API."""
    api = RUNTIME_PREFIX
    backend = api + "/backends/{name}"
    job = api + "/jobs/{job_id}"
    session = api + "/sessions/{session_id}"
    get, post = ["GET"], ["POST"]
    return [
        Route(IAM_PATH, iam_token, methods=post),
        Route(SEARCH_PREFIX + "/v3/resources/search", global_search, methods=post),
        Route(CATALOG_PREFIX + "/api/v1/{plan_id}", global_catalog, methods=get),
        Route(api + "/versions", versions, methods=get),
        Route(api + "/backends", list_backends, methods=get),
        Route(backend + "/configuration", backend_configuration, methods=get),
        Route(backend + "/properties", backend_properties, methods=get),
        Route(backend + "/status", backend_status, methods=get),
        Route(backend + "/defaults", backend_defaults, methods=get),
        Route(api + "/instances/usage", instance_usage, methods=get),
        Route(api + "/jobs", create_job, methods=post),
        Route(api + "/jobs", list_jobs, methods=get),
        Route(job, get_job, methods=get),
        Route(job, delete_job, methods=["DELETE"]),
        Route(job + "/results", job_results, methods=get),
        Route(job + "/cancel", cancel_job, methods=post),
        Route(job + "/logs", job_logs, methods=get),
        Route(job + "/metrics", job_metrics, methods=get),
        Route(job + "/tags", job_tags, methods=["PUT"]),
        Route(api + "/sessions", create_session, methods=post),
        Route(session, get_session, methods=get),
        Route(session, update_session, methods=["PATCH"]),
        Route(session + "/close", close_session, methods=["DELETE"]),
    ]
