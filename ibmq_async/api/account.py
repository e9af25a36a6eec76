"""The account client: one coroutine per endpoint of docs/protocol.md §2 for one hub/group/project.

Methods only assemble the path, the parameters and the body, and validate the answer into
a model of :mod:`ibmq_async.models`; the session retries, times out, authenticates and
maps errors. Every coroutine takes keyword-only ``timeout`` (seconds for the whole call,
retries included; it also caps every attempt) and ``retry`` (a :class:`RetryPolicy` for
this call). Reads, ``PUT``/``DELETE`` and the idempotent ``POST``\\ s (cancel, result
acknowledgement) are retried on the policy's statuses and connection errors; creating a
job is made exactly-once by :meth:`AccountClient.submit_job`.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import contextlib
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from ibmq_async.api.filters import format_query_datetime, paginate_where
from ibmq_async.api.retry import SINGLE_ATTEMPT, RetryPolicy
from ibmq_async.api.session import (
    STORAGE_TIMEOUT,
    HttpSession,
    describe_validation_error,
    protocol_error,
    validate_model,
    validate_model_json,
)
from ibmq_async.api.submission import (
    CLEANUP_SECONDS,
    Created,
    SubmissionSteps,
    submit_exactly_once,
)
from ibmq_async.api.websocket import (
    DEFAULT_POLLING_POLICY,
    JobStatusWatcher,
    PollingPolicy,
    StatusCallback,
)
from ibmq_async.exceptions import (
    ApiError,
    ApiStatusError,
    ApiTimeoutError,
)
from ibmq_async.models import (
    ApiJobStatus,
    BackendConfiguration,
    BackendJobLimit,
    BackendProperties,
    BackendReservation,
    BackendStatus,
    CancelResponse,
    JobCreateResponse,
    JobDataUploadedResponse,
    JobIdRecord,
    JobRecord,
    JobStatusResponse,
    PulseDefaults,
    PulseQobj,
    QasmQobj,
    QueueStatusResponse,
    Result,
    UrlResponse,
    parse_backend_configuration,
)

__all__ = [
    "SUBMISSION_TAG_PREFIX",
    "AccountClient",
    "encode_qobj",
    "submission_tag",
]

logger = logging.getLogger("ibmq_async")

SUBMISSION_TAG_PREFIX = "ibmq_async_submission_"
"""Prefix of the job tag that carries a submission key: ``f"{prefix}{key}"``."""

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
JOB_ID_FIELDS = {"id": True, "liveDataEnabled": True, "creationDate": True}
DEFAULT_PAGE_SIZE = 50
SUBMISSION_LOOKUP_LIMIT = 100
"""The most jobs one lookup by submission tag reads (a tag has one, or a few)."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


_STATUS_FIELDS = ("id", "status", "creationDate", "infoQueue")
"""What a batched status poll asks of each job (the listing gives whole jobs otherwise)."""


def submission_tag(key: str) -> str:
    """The job tag that marks the submission with key ``key``."""
    return f"{SUBMISSION_TAG_PREFIX}{key}"


def _json_default(value: Any) -> Any:
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    for cast in (float, str):
        with contextlib.suppress(TypeError, ValueError):
            return cast(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify_keys(v) for v in value]
    return value


def encode_qobj(qobj: Mapping[str, Any] | QasmQobj | PulseQobj) -> bytes:
    """The Qobj as the JSON that is uploaded (complex numbers as ``[re, im]``, numpy as lists).

    A model is serialised by pydantic-core; a dict by ``json``, its keys turned into
    strings first only if ``json`` refuses one.
    """
    if isinstance(qobj, BaseModel):
        return qobj.model_dump_json(by_alias=True, exclude_unset=True).encode()
    try:
        text = json.dumps(qobj, default=_json_default, separators=(",", ":"))
    except TypeError:
        text = json.dumps(_stringify_keys(qobj), default=_json_default, separators=(",", ":"))
    return text.encode()


def _same_origin(url: str, other: str) -> bool:
    a, b = httpx.URL(url), httpx.URL(other)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _within(timeout: float | None, what: str, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, or :class:`ApiTimeoutError` after ``timeout`` seconds."""
    with anyio.move_on_after(math.inf if timeout is None else timeout):
        return await work()
    raise ApiTimeoutError(f"{what} did not complete within {timeout:g} s")


class AccountClient:
    """The REST endpoints of one hub/group/project (``{HGP}``) of an account.

    Create it with :meth:`Connection.account_client`, which returns one client per
    hub/group/project so that waits on a job are shared.

    Args:
        session: The HTTP session of the connection.
        api_url: The API base URL (``urls.http`` of ``/users/me``).
        ws_url: The websocket base URL (``urls.ws``), or ``None`` to always poll.
        hub: The hub.
        group: The group.
        project: The project.
        retry: The default retry policy of this client (the session's if ``None``).
        polling: How waits poll and reconnect the websocket.
    """

    def __init__(
        self,
        session: HttpSession,
        api_url: str,
        ws_url: str | None,
        hub: str,
        group: str,
        project: str,
        *,
        retry: RetryPolicy | None = None,
        polling: PollingPolicy = DEFAULT_POLLING_POLICY,
    ) -> None:
        self._session = session
        self.api_url = api_url.rstrip("/")
        self.ws_url = ws_url
        self.hub = hub
        self.group = group
        self.project = project
        self._retry = retry
        self.hgp_url = f"{self.api_url}/Network/{hub}/Groups/{group}/Projects/{project}"
        self._status_fields_accepted = True
        self._watcher = JobStatusWatcher(
            session,
            ws_url,
            lambda job_id: self.job_status(job_id),
            polling,
            fetch_statuses=self.job_statuses,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(hub={self.hub!r}, group={self.group!r}, "
            f"project={self.project!r}, api_url={self.api_url!r})"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of this client."""
        return self._retry or self._session.retry

    @property
    def watcher(self) -> JobStatusWatcher:
        """The shared status waits of this client."""
        return self._watcher

    # --- plumbing -----------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> tuple[Any, httpx.Response]:
        response = await self._session.request(
            method, url, timeout=timeout, retry=retry or self.retry, **kwargs
        )
        return self._session.decode_json(response), response

    async def _get_model(
        self,
        model: type[M],
        url: str,
        *,
        what: str,
        timeout: float | None,
        retry: RetryPolicy | None,
        **kwargs: Any,
    ) -> M:
        data, response = await self._call("GET", url, timeout=timeout, retry=retry, **kwargs)
        return validate_model(model, data, what=what, response=response)

    async def _get_optional_model(
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
        data, response = await self._call("GET", url, timeout=timeout, retry=retry, **kwargs)
        if not data:
            return None
        if overrides and isinstance(data, dict):
            data = {**data, **overrides}
        return validate_model(model, data, what=what, response=response)

    def _job_url(self, job_id: str) -> str:
        return f"{self.hgp_url}/Jobs/{job_id}"

    def _backend_url(self, name: str) -> str:
        return f"{self.hgp_url}/devices/{name}"

    # --- backends (§2.2) ----------------------------------------------------------------

    async def list_backends(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[BackendConfiguration]:
        """``GET {HGP}/devices/v/1``: the configurations of the backends of the project.

        A configuration that does not parse is dropped with a warning, as the original
        client did. Retried.

        Raises:
            ApiProtocolError: The answer is not a list.
        """
        data, response = await self._call(
            "GET", f"{self.hgp_url}/devices/v/1", timeout=timeout, retry=retry
        )
        if not isinstance(data, list):
            raise protocol_error("The backend list is not a JSON list", response)
        backends: list[BackendConfiguration] = []
        for item in data:
            name = item.get("backend_name", "<unnamed>") if isinstance(item, dict) else "<?>"
            try:
                if not isinstance(item, dict):
                    raise TypeError("not a JSON object")
                backends.append(parse_backend_configuration(item))
            except (ValueError, TypeError) as exc:
                logger.warning(
                    'Remote backend "%s" for provider %s/%s/%s could not be instantiated due '
                    "to an invalid config: %s",
                    name,
                    self.hub,
                    self.group,
                    self.project,
                    _first_line(exc),
                )
        return backends

    async def backend_properties(
        self,
        name: str,
        *,
        datetime: datetime | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> BackendProperties | None:
        """``GET {HGP}/devices/{name}/properties``: the calibration, or ``None`` if there is none.

        Args:
            name: The backend.
            datetime: Return the properties as they were before this time (naive = local).
        """
        params = {"version": "1"}
        if datetime is not None:
            params["filter"] = json.dumps(
                {"where": {"last_update_date": {"lt": format_query_datetime(datetime)}}}
            )
        return await self._get_optional_model(
            BackendProperties,
            f"{self._backend_url(name)}/properties",
            what="backend properties",
            timeout=timeout,
            retry=retry,
            overrides={"backend_name": name},
            params=params,
        )

    async def backend_pulse_defaults(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> PulseDefaults | None:
        """``GET {HGP}/devices/{name}/defaults``: the pulse defaults, or ``None`` if empty."""
        return await self._get_optional_model(
            PulseDefaults,
            f"{self._backend_url(name)}/defaults",
            what="pulse defaults",
            timeout=timeout,
            retry=retry,
        )

    async def backend_status(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendStatus:
        """``GET {HGP}/devices/{name}/queue/status``, converted as the original client did."""
        payload = await self._get_model(
            QueueStatusResponse,
            f"{self._backend_url(name)}/queue/status",
            what="backend status",
            timeout=timeout,
            retry=retry,
        )
        return BackendStatus.from_queue_status(name, payload)

    async def backend_job_limit(
        self, name: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendJobLimit:
        """``GET {HGP}/devices/{name}/jobsLimit``: the user's job limit on the backend."""
        return await self._get_model(
            BackendJobLimit,
            f"{self._backend_url(name)}/jobsLimit",
            what="job limit",
            timeout=timeout,
            retry=retry,
        )

    async def backend_reservations(
        self,
        name: str,
        *,
        start_datetime: datetime | None = None,
        end_datetime: datetime | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[BackendReservation]:
        """``GET /Network/devices/{name}/bookings/v2``: reservations of the backend.

        Args:
            start_datetime: Only reservations ending after this (naive = local time).
            end_datetime: Only reservations starting before this (naive = local time).
        """
        params: dict[str, str] = {}
        if start_datetime is not None:
            params["initialDate"] = format_query_datetime(start_datetime)
        if end_datetime is not None:
            params["endDate"] = format_query_datetime(end_datetime)
        reservations = await self._reservations(
            f"{self.api_url}/Network/devices/{name}/bookings/v2",
            params=params,
            timeout=timeout,
            retry=retry,
        )
        return [r.model_copy(update={"backend_name": name}) for r in reservations]

    async def my_reservations(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[BackendReservation]:
        """``GET /Network/bookings/v2``: the reservations of the user."""
        return await self._reservations(
            f"{self.api_url}/Network/bookings/v2", params=None, timeout=timeout, retry=retry
        )

    async def _reservations(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> list[BackendReservation]:
        data, response = await self._call("GET", url, params=params, timeout=timeout, retry=retry)
        if data is None:
            return []
        if not isinstance(data, list):
            raise protocol_error("The reservation list is not a JSON list", response)
        return [
            validate_model(BackendReservation, item, what="reservation", response=response)
            for item in data
        ]

    # --- submitting jobs (§2.3) ---------------------------------------------------------

    async def job_create(
        self,
        backend_name: str,
        *,
        job_name: str | None = None,
        job_tags: Sequence[str] | None = None,
        experiment_id: str | None = None,
        live_data_enabled: bool | None = None,
        submission_key: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> JobCreateResponse:
        """``POST {HGP}/Jobs``: create a job and get where to upload its Qobj (step 1 of 3).

        Not idempotent: retried only when the request certainly did not reach the server
        (connect errors) or was refused (408, 429). Use :meth:`submit_job` for an
        exactly-once submission.

        Args:
            submission_key: Sent as ``Idempotency-Key`` (a server that honours it answers
                a repeated key with the same job).

        Raises:
            ApiJobLimitError: Too many active jobs on the backend (error 3458).
        """
        body: dict[str, Any] = {
            "backend": {"name": backend_name},
            "allowObjectStorage": True,
            "liveDataEnabled": live_data_enabled,
        }
        if job_name:
            body["name"] = job_name
        if job_tags:
            body["tags"] = list(job_tags)
        if experiment_id:
            body["experimentTag"] = experiment_id
        headers = {IDEMPOTENCY_KEY_HEADER: submission_key} if submission_key else None
        data, response = await self._call(
            "POST",
            f"{self.hgp_url}/Jobs",
            json_body=body,
            headers=headers,
            idempotent=False,
            timeout=timeout,
            retry=retry,
        )
        return validate_model(
            JobCreateResponse, data, what="job creation answer", response=response
        )

    async def job_upload(
        self,
        upload_url: str,
        qobj: Mapping[str, Any] | QasmQobj | PulseQobj | bytes,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``PUT <uploadUrl>``: upload the Qobj (step 2 of 3). Retried (a PUT is idempotent).

        The access token is sent only when the upload URL is on the API's own origin.
        """
        content = qobj if isinstance(qobj, bytes) else encode_qobj(qobj)
        await self._session.request(
            "PUT",
            upload_url,
            content=content,
            headers={"Content-Type": "application/json"},
            authenticated=_same_origin(upload_url, self.api_url),
            base_timeout=STORAGE_TIMEOUT,
            timeout=timeout,
            retry=retry or self.retry,
        )

    async def job_data_uploaded(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobRecord:
        """``POST {HGP}/Jobs/{id}/jobDataUploaded``: start the job (step 3 of 3).

        Not idempotent: retried like :meth:`job_create`; :meth:`submit_job` reconciles.
        """
        data, response = await self._call(
            "POST",
            f"{self._job_url(job_id)}/jobDataUploaded",
            idempotent=False,
            timeout=timeout,
            retry=retry,
        )
        answer = validate_model(
            JobDataUploadedResponse, data, what="job upload confirmation", response=response
        )
        return answer.job

    async def submit_job(
        self,
        backend_name: str,
        qobj: Mapping[str, Any] | QasmQobj | PulseQobj | bytes,
        *,
        job_name: str | None = None,
        job_tags: Sequence[str] | None = None,
        experiment_id: str | None = None,
        live_data_enabled: bool | None = None,
        submission_key: str | None = None,
        check_existing: bool | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> JobRecord:
        """Create, upload and start a job, exactly once (:mod:`ibmq_async.api.submission`).

        The submission has a key (``submission_key``, or a new UUID), sent as the
        ``Idempotency-Key`` header of the create call and kept as the job tag
        ``f"{SUBMISSION_TAG_PREFIX}{key}"``. When a create or start call fails in a way
        that leaves it unknown whether the server acted on it (a lost response, a read
        timeout, a 5xx), the next attempt first looks for the job by that tag (or re-reads
        the job) instead of blindly creating another. Under any mix of faults, one call
        makes at most one job.

        Every step is one request inside one retry loop. The lookups, creates and starts
        are bounded by ``retry.max_attempts``; the upload, harmless to repeat, keeps
        retrying while the deadline allows.

        Passing the ``submission_key`` of an earlier call that failed or was interrupted
        resumes it: if a started job with that key exists, it is returned.

        Args:
            backend_name: The backend to run on.
            qobj: The Qobj (a model, its JSON-compatible dict, or its JSON encoded).
            job_name: A name for the job.
            job_tags: Tags for the job (the submission tag is added).
            experiment_id: Sent as ``experimentTag``.
            live_data_enabled: Sent as ``liveDataEnabled``.
            submission_key: The key of this submission (a new UUID if ``None``).
            check_existing: Look for a job with the key's tag before the first create
                call (one more request); defaults to whether ``submission_key`` was given.
                Pass ``False`` for a key known to be new.
            timeout: Seconds for the whole submission (the policy's deadline applies too).
            retry: The retry policy of the submission's loop.

        Returns:
            The job as the start call (or the reconciliation) returned it.

        Raises:
            ApiJobLimitError: Too many active jobs on the backend (error 3458); no job was
                made.
            ApiTimeoutError: The deadline expired; resubmit with the same
                ``submission_key`` to find out whether the job was made.
            ApiError: A step failed for good. The message says what was tried, and that
                the job made was deleted (or cancelled, if it may have started), or which
                job was left behind and why.
        """
        key = submission_key or uuid.uuid4().hex
        tag = submission_tag(key)
        tags = [*(job_tags or [])]
        if tag not in tags:
            tags.append(tag)
        content = qobj if isinstance(qobj, bytes) else encode_qobj(qobj)

        async def create() -> Created[str, JobRecord]:
            made = await self.job_create(
                backend_name,
                job_name=job_name,
                job_tags=tags,
                experiment_id=experiment_id,
                live_data_enabled=live_data_enabled,
                submission_key=key,
                retry=SINGLE_ATTEMPT,
            )
            if made.status not in (None, ApiJobStatus.CREATING.value):
                # The key was seen before and that job was started: it is the submission.
                return Created(
                    made.job_id, started=await self.job_get(made.job_id, retry=SINGLE_ATTEMPT)
                )
            return Created(made.job_id, pending=made.object_storage_info.upload_url)

        async def find() -> list[JobRecord]:
            return await self._find_submissions(tag)

        async def upload(url: str) -> None:
            await self.job_upload(url, content, retry=SINGLE_ATTEMPT)

        async def start(job_id: str) -> JobRecord:
            return await self.job_data_uploaded(job_id, retry=SINGLE_ATTEMPT)

        async def read(job_id: str) -> JobRecord:
            return await self.job_get(job_id, retry=SINGLE_ATTEMPT)

        steps: SubmissionSteps[str, JobRecord] = SubmissionSteps(
            create=create,
            find=find,
            job_id=lambda job: job.job_id,
            is_started=lambda job: job.status is not ApiJobStatus.CREATING,
            discard=self._discard,
            upload=upload,
            start=start,
            read=read,
        )
        return await submit_exactly_once(
            steps,
            what=f"a job to {backend_name} (submission key {key})",
            policy=retry or self.retry,
            look_first=submission_key is not None if check_existing is None else check_existing,
            timeout=timeout,
        )

    async def _find_submissions(self, tag: str) -> list[JobRecord]:
        """The jobs carrying a submission tag, oldest first: one request, not retried."""
        query = {
            "where": {"tags": {"inq": [tag]}},
            "order": "creationDate ASC",
            "limit": SUBMISSION_LOOKUP_LIMIT,
        }
        data, response = await self._call(
            "GET",
            f"{self.hgp_url}/Jobs/status/v/1",
            params={"filter": json.dumps(query)},
            timeout=None,
            retry=SINGLE_ATTEMPT,
        )
        if not isinstance(data, list):
            raise protocol_error("The job list is not a JSON list", response)
        jobs = [validate_model(JobRecord, item, what="job", response=response) for item in data]
        return sorted(jobs, key=lambda job: job.creation_date)

    async def _discard(self, job_id: str, may_have_started: bool) -> None:
        """Remove the job of a failed submission: cancel it if it may run, else delete it."""
        policy = self.retry.replace(max_attempts=2, deadline=CLEANUP_SECONDS)
        if may_have_started:
            await self.job_cancel(job_id, retry=policy)
        else:
            await self.job_delete(job_id, retry=policy)

    # --- jobs (§2.3) --------------------------------------------------------------------

    async def job_get(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobRecord:
        """``GET {HGP}/Jobs/{id}/v/1``: the full job record.

        Raises:
            ApiNotFoundError: No such job in this project.
        """
        return await self._get_model(
            JobRecord, f"{self._job_url(job_id)}/v/1", what="job", timeout=timeout, retry=retry
        )

    async def job_status(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobStatusResponse:
        """``GET {HGP}/Jobs/{id}/status/v/1``: the job's status and queue info.

        Raises:
            ApiProtocolError: The body is not JSON, or the status is not a known one.
        """
        return await self._get_model(
            JobStatusResponse,
            f"{self._job_url(job_id)}/status/v/1",
            what="job status",
            timeout=timeout,
            retry=retry,
        )

    async def job_statuses(
        self,
        job_ids: Sequence[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> dict[str, JobStatusResponse]:
        """``GET {HGP}/Jobs/status/v/1`` filtered on ``id``: several jobs' statuses at once.

        The filter asks for the status fields only; a server that refuses ``fields`` here
        (docs/protocol.md documents it for the id listing) is asked again for whole jobs, and
        from then on.

        Args:
            job_ids: The jobs (one request: keep it to about 100).

        Returns:
            The status of each job the answer had, by job id; jobs the project does not
            have are missing. Items that are not valid statuses are left out with a warning.

        Raises:
            ApiProtocolError: The answer is not a JSON list.
            ApiError: The request failed (after retries).
        """
        query: dict[str, Any] = {"where": {"id": {"inq": list(job_ids)}}, "limit": len(job_ids)}
        if self._status_fields_accepted:
            query["fields"] = list(_STATUS_FIELDS)
        try:
            data, response = await self._call(
                "GET",
                f"{self.hgp_url}/Jobs/status/v/1",
                params={"filter": json.dumps(query, separators=(",", ":"))},
                timeout=timeout,
                retry=retry,
            )
        except ApiStatusError as exc:
            if "fields" not in query or exc.status_code != 400:
                raise
            # docs/protocol.md documents ``fields`` for the id listing only: do without it.
            logger.info("The job status listing refused a fields filter; asking for whole jobs")
            self._status_fields_accepted = False
            return await self.job_statuses(job_ids, timeout=timeout, retry=retry)
        if not isinstance(data, list):
            raise protocol_error("The job status listing is not a JSON list", response)
        wanted = set(job_ids)
        statuses: dict[str, JobStatusResponse] = {}
        for item in data:
            try:
                status = JobStatusResponse.model_validate(item)
            except ValidationError as exc:
                logger.warning(
                    "A job status in the listing was left out: %s", describe_validation_error(exc)
                )
                continue
            if status.job_id in wanted:
                statuses[status.job_id] = status
        return statuses

    async def job_cancel(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> bool:
        """``POST {HGP}/Jobs/{id}/cancel``: whether the job was cancelled. Retried."""
        data, response = await self._call(
            "POST",
            f"{self._job_url(job_id)}/cancel",
            idempotent=True,
            timeout=timeout,
            retry=retry,
        )
        if not isinstance(data, dict) or "error" in data:
            return False
        return validate_model(
            CancelResponse, data, what="cancel answer", response=response
        ).cancelled

    async def job_result(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> Result:
        """The job's result: ``resultDownloadUrl``, the download, then ``resultDownloaded``.

        The acknowledgement's failure is only logged.

        Raises:
            ApiStatusError: The result is not available (e.g. the job is not done).
            ApiProtocolError: The document is not a valid result.
        """

        async def download() -> Result:
            link = await self._get_model(
                UrlResponse,
                f"{self._job_url(job_id)}/resultDownloadUrl",
                what="result download URL",
                timeout=None,
                retry=retry,
            )
            response = await self._download_response(link.url, retry=retry)
            result = validate_model_json(Result, response, what="result")
            try:
                await self._session.request(
                    "POST",
                    f"{self._job_url(job_id)}/resultDownloaded",
                    idempotent=True,
                    retry=retry or self.retry,
                )
            except ApiError as exc:
                logger.warning("Could not acknowledge the result of job %s: %s", job_id, exc)
            return result

        return await _within(timeout, f"Downloading the result of job {job_id}", download)

    async def job_qobj(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> QasmQobj | PulseQobj:
        """The job's Qobj: ``jobDownloadUrl``, then the download."""

        async def download() -> QasmQobj | PulseQobj:
            link = await self._get_model(
                UrlResponse,
                f"{self._job_url(job_id)}/jobDownloadUrl",
                what="Qobj download URL",
                timeout=None,
                retry=retry,
            )
            data, response = await self._download(link.url, retry=retry)
            if not isinstance(data, dict):
                raise protocol_error("The Qobj is not a JSON object", response)
            if data.get("type") == "PULSE":
                return validate_model(PulseQobj, data, what="Qobj", response=response)
            return validate_model(QasmQobj, data, what="Qobj", response=response)

        return await _within(timeout, f"Downloading the Qobj of job {job_id}", download)

    async def _download(self, url: str, *, retry: RetryPolicy | None) -> tuple[Any, httpx.Response]:
        response = await self._download_response(url, retry=retry)
        return self._session.decode_json(response), response

    async def _download_response(self, url: str, *, retry: RetryPolicy | None) -> httpx.Response:
        return await self._session.request(
            "GET",
            url,
            authenticated=_same_origin(url, self.api_url),
            base_timeout=STORAGE_TIMEOUT,
            retry=retry or self.retry,
        )

    async def job_properties(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendProperties | None:
        """``GET {HGP}/Jobs/{id}/properties``: the calibration the job ran with, if any."""
        return await self._get_optional_model(
            BackendProperties,
            f"{self._job_url(job_id)}/properties",
            what="job properties",
            timeout=timeout,
            retry=retry,
        )

    async def job_update_name(
        self,
        job_id: str,
        name: str,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> str:
        """``PUT {HGP}/Jobs/{id}`` with the new name; the answer must echo it.

        Raises:
            ApiProtocolError: The answer does not echo the new name.
        """
        data, response = await self._call(
            "PUT", self._job_url(job_id), json_body={"name": name}, timeout=timeout, retry=retry
        )
        echoed = data.get("name") if isinstance(data, dict) else None
        if echoed != name:
            raise protocol_error(
                f"Updating the name of job {job_id} was not confirmed (the answer has "
                f"name {echoed!r})",
                response,
            )
        return name

    async def job_update_tags(
        self,
        job_id: str,
        tags: Sequence[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[str]:
        """``PUT {HGP}/Jobs/{id}`` with the full new tag list; the answer must echo it.

        Raises:
            ApiProtocolError: The answer's tags differ from the ones sent.
        """
        data, response = await self._call(
            "PUT",
            self._job_url(job_id),
            json_body={"tags": list(tags)},
            timeout=timeout,
            retry=retry,
        )
        echoed = data.get("tags") if isinstance(data, dict) else None
        if not isinstance(echoed, list) or set(map(str, echoed)) != set(tags):
            raise protocol_error(
                f"Updating the tags of job {job_id} was not confirmed (the answer has tags "
                f"{echoed!r})",
                response,
            )
        return [str(tag) for tag in echoed]

    async def job_delete(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """``DELETE {HGP}/Jobs/{id}``. Retried."""
        await self._session.request(
            "DELETE", self._job_url(job_id), timeout=timeout, retry=retry or self.retry
        )

    # --- listing jobs (§2.5) ------------------------------------------------------------

    async def list_jobs(
        self,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = 10,
        skip: int = 0,
        descending: bool = True,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[JobRecord]:
        """``GET {HGP}/Jobs/status/v/1``: jobs matching ``where``, newest first by default.

        Pages with the §2.5 algorithm (the last creation date plus ``id.nin``), so a job
        is never returned twice. A job record that does not parse is dropped with a
        warning, as the original client did.

        Args:
            where: A LoopBack ``where`` (see :func:`build_job_where`).
            limit: At most this many jobs (``None``: all).
            skip: Jobs to skip first.
            descending: Newest first.
            page_size: Jobs per request.
        """

        async def collect() -> list[JobRecord]:
            return [
                job
                async for job in self._iter_records(
                    JobRecord,
                    f"{self.hgp_url}/Jobs/status/v/1",
                    where,
                    limit=limit,
                    skip=skip,
                    descending=descending,
                    page_size=page_size,
                    fields=None,
                    retry=retry,
                )
            ]

        return await _within(timeout, "Listing jobs", collect)

    def iter_jobs(
        self,
        where: Mapping[str, Any] | None = None,
        *,
        skip: int = 0,
        descending: bool = True,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry: RetryPolicy | None = None,
    ) -> AsyncIterator[JobRecord]:
        """Every job matching ``where``, fetched lazily one page at a time."""
        return self._iter_records(
            JobRecord,
            f"{self.hgp_url}/Jobs/status/v/1",
            where,
            limit=None,
            skip=skip,
            descending=descending,
            page_size=page_size,
            fields=None,
            retry=retry,
        )

    async def list_job_ids(
        self,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = 10,
        skip: int = 0,
        descending: bool = True,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[JobIdRecord]:
        """``GET {HGP}/Jobs/v/1`` with ``fields``: ids, creation dates and live-data flags."""

        async def collect() -> list[JobIdRecord]:
            return [
                job
                async for job in self._iter_records(
                    JobIdRecord,
                    f"{self.hgp_url}/Jobs/v/1",
                    where,
                    limit=limit,
                    skip=skip,
                    descending=descending,
                    page_size=page_size,
                    fields=JOB_ID_FIELDS,
                    retry=retry,
                )
            ]

        return await _within(timeout, "Listing job ids", collect)

    async def _iter_records(
        self,
        model: type[M],
        url: str,
        where: Mapping[str, Any] | None,
        *,
        limit: int | None,
        skip: int,
        descending: bool,
        page_size: int,
        fields: Mapping[str, bool] | None,
        retry: RetryPolicy | None,
    ) -> AsyncIterator[M]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        remaining = limit if limit else None
        current_where: Mapping[str, Any] | None = where
        current_skip = skip
        seen: set[str] = set()
        tie_date: str | None = None
        tie_ids: list[str] = []
        first_date: str | None = None
        skipped_ties: list[str] | None = None
        while remaining is None or remaining > 0:
            page_limit = page_size if remaining is None else min(remaining, page_size)
            query: dict[str, Any] = {
                "order": f"creationDate {'DESC' if descending else 'ASC'}",
                "limit": page_limit,
                "skip": current_skip,
            }
            if fields:
                query["fields"] = dict(fields)
            if current_where:
                query["where"] = current_where
            data, response = await self._call(
                "GET", url, params={"filter": json.dumps(query)}, timeout=None, retry=retry
            )
            if data is None:
                return
            if not isinstance(data, list):
                raise protocol_error("The job list is not a JSON list", response)
            if not data:
                return
            fresh = 0
            for item in data:
                job_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(job_id, str) or job_id in seen:
                    continue
                seen.add(job_id)
                fresh += 1
                try:
                    record = model.model_validate(item)
                except ValueError as exc:
                    logger.warning("Discarding job %s: invalid data (%s)", job_id, _first_line(exc))
                    continue
                yield record
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return
            if first_date is None and isinstance(data[0], dict):
                first_date = data[0].get("creationDate")
            last = data[-1]
            last_date = last.get("creationDate") if isinstance(last, dict) else None
            if fresh == 0 or not isinstance(last_date, str):
                if fresh == 0:
                    logger.warning("The job listing repeated a page; stopping (filter ignored?)")
                return
            page_ties = [
                str(item["id"])
                for item in data
                if isinstance(item, dict) and item.get("creationDate") == last_date
            ]
            tie_ids = [*tie_ids, *page_ties] if last_date == tie_date else page_ties
            tie_date = last_date
            excluded = tie_ids
            if skip and last_date == first_date:
                # Skipped jobs created at that same instant would come back: exclude them too.
                if skipped_ties is None:
                    skipped_ties = await self._skipped_ids_at(
                        where, last_date, skip=skip, descending=descending, retry=retry
                    )
                excluded = [*skipped_ties, *tie_ids]
            current_where = paginate_where(
                where, last_creation_date=last_date, seen_ids=excluded, descending=descending
            )
            current_skip = 0

    async def _skipped_ids_at(
        self,
        where: Mapping[str, Any] | None,
        creation_date: str,
        *,
        skip: int,
        descending: bool,
        retry: RetryPolicy | None,
    ) -> list[str]:
        """Ids of the first ``skip`` jobs of a listing that were created at ``creation_date``."""
        query: dict[str, Any] = {
            "order": f"creationDate {'DESC' if descending else 'ASC'}",
            "limit": skip,
            "skip": 0,
            "fields": dict(JOB_ID_FIELDS),
        }
        if where:
            query["where"] = where
        data, response = await self._call(
            "GET",
            f"{self.hgp_url}/Jobs/v/1",
            params={"filter": json.dumps(query)},
            timeout=None,
            retry=retry,
        )
        if not isinstance(data, list):
            raise protocol_error("The job id list is not a JSON list", response)
        return [
            str(item["id"])
            for item in data
            if isinstance(item, dict) and "id" in item and item.get("creationDate") == creation_date
        ]

    # --- waiting (§4) -------------------------------------------------------------------

    async def wait_for_final_status(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> JobStatusResponse:
        """Wait until the job reaches a final status; return that status.

        Uses the status websocket when there is one, else (or when it fails or drops
        too often) polls ``GET .../status/v/1`` with a backoff that starts at
        ``polling.initial`` and grows to ``polling.maximum``. All waiters on the same job
        share one websocket or one poller.

        Args:
            job_id: The job.
            timeout: Seconds to wait at most (``None``: no limit).
            on_status: Called with each new status (awaited if it returns an awaitable).

        Raises:
            ApiJobWaitTimeoutError: ``timeout`` expired first. It is an
                :class:`ApiTimeoutError`; it carries ``job_id`` and ``last_status``.
            ApiError: A status poll failed for good (e.g. :class:`ApiNotFoundError`), or the
                server reported a status the protocol does not know
                (:class:`ApiProtocolError`): a wait never hangs on an unknown state.
        """
        return await self._watcher.wait_for_final(job_id, timeout=timeout, on_status=on_status)

    def watch_status(self, job_id: str) -> AsyncIterator[JobStatusResponse]:
        """Each new status of the job, ending after the final one (shared like waits)."""
        return self._watcher.watch(job_id)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
