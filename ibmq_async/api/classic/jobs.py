"""The jobs of a hub/group/project (docs/protocol.md §2.3, §2.5): create and start, read,
status (one or many), cancel, delete, rename, retag, properties, and the listings.

Every method assembles its endpoint's path, parameters and body, and validates the answer.
Reads, ``PUT``/``DELETE`` and the idempotent ``POST`` (cancel) are retried on the policy's
statuses and connection errors; creating and starting a job are not idempotent, and are
made exactly-once by :func:`~ibmq_async.api.submission.submit_exactly_once`
(:meth:`ibmq_async.api.classic.project.ProjectClient.submit`).
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ibmq_async.api.classic.loopback import JOB_ID_FIELDS, LoopBackPages, loopback_where
from ibmq_async.api.classic.urls import ProjectUrls
from ibmq_async.api.errors import describe_validation_error, protocol_error, validate_model
from ibmq_async.api.pager import Pager
from ibmq_async.api.query import JobQuery
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import ApiStatusError
from ibmq_async.models import (
    BackendProperties,
    CancelResponse,
    JobCreateResponse,
    JobDataUploadedResponse,
    JobIdRecord,
    JobRecord,
    JobStatusResponse,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "IDEMPOTENCY_KEY_HEADER",
    "JobUrls",
    "Jobs",
]

logger = logging.getLogger("ibmq_async")

M = TypeVar("M", bound=BaseModel)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
DEFAULT_PAGE_SIZE = 50
_STATUS_FIELDS = ("id", "status", "infoQueue")
_STATUS_LIST = TypeAdapter(list[JobStatusResponse])
"""What a batched status poll asks of each job (the listing gives whole jobs otherwise)."""


class JobUrls:
    """The job endpoints of one hub/group/project."""

    def __init__(self, project: ProjectUrls) -> None:
        self._hgp = project.hgp

    @property
    def jobs(self) -> str:
        return f"{self._hgp}/Jobs"

    @property
    def listing(self) -> str:
        return f"{self._hgp}/Jobs/status/v/1"

    @property
    def id_listing(self) -> str:
        return f"{self._hgp}/Jobs/v/1"

    def job(self, job_id: str) -> str:
        return f"{self._hgp}/Jobs/{job_id}"

    def record(self, job_id: str) -> str:
        return f"{self.job(job_id)}/v/1"

    def status(self, job_id: str) -> str:
        return f"{self.job(job_id)}/status/v/1"

    def data_uploaded(self, job_id: str) -> str:
        return f"{self.job(job_id)}/jobDataUploaded"

    def cancel(self, job_id: str) -> str:
        return f"{self.job(job_id)}/cancel"

    def properties(self, job_id: str) -> str:
        return f"{self.job(job_id)}/properties"


class Jobs(Resource):
    """The job endpoints of one hub/group/project.

    Args:
        session: The session of the connection.
        project: Where the project's endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, project: ProjectUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self._project = project
        self.urls = JobUrls(project)
        self._status_fields_accepted = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._project.hgp!r})"

    # --- creating and starting ------------------------------------------------------------

    async def create(
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
        (connect errors) or was refused (408, 429). Use
        :meth:`~ibmq_async.api.classic.project.ProjectClient.submit` for an exactly-once
        submission.

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
        return await self._model(
            JobCreateResponse,
            "POST",
            self.urls.jobs,
            what="job creation answer",
            json_body=body,
            headers=headers,
            idempotent=False,
            timeout=timeout,
            retry=retry,
        )

    async def start(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobRecord:
        """``POST {HGP}/Jobs/{id}/jobDataUploaded``: start the job (step 3 of 3).

        Not idempotent: retried like :meth:`create`; the submission reconciles.
        """
        answer = await self._model(
            JobDataUploadedResponse,
            "POST",
            self.urls.data_uploaded(job_id),
            what="job upload confirmation",
            idempotent=False,
            timeout=timeout,
            retry=retry,
        )
        return answer.job

    # --- reading --------------------------------------------------------------------------

    async def get(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobRecord:
        """``GET {HGP}/Jobs/{id}/v/1``: the full job record.

        Raises:
            ApiNotFoundError: No such job in this project.
        """
        return await self._model(
            JobRecord, "GET", self.urls.record(job_id), what="job", timeout=timeout, retry=retry
        )

    async def status(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobStatusResponse:
        """``GET {HGP}/Jobs/{id}/status/v/1``: the job's status and queue info.

        Raises:
            ApiProtocolError: The body is not JSON, or the status is not a known one.
        """
        return await self._model(
            JobStatusResponse,
            "GET",
            self.urls.status(job_id),
            what="job status",
            timeout=timeout,
            retry=retry,
        )

    async def statuses(
        self,
        job_ids: Sequence[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> dict[str, JobStatusResponse]:
        """``GET {HGP}/Jobs/status/v/1`` filtered on ``id``: several jobs' statuses at once.

        The filter asks for the status fields only; a server that refuses ``fields`` here
        (docs/protocol.md documents it for the id listing) is asked again for whole jobs,
        and from then on.

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
            response = await self._send(
                "GET",
                self.urls.listing,
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
            return await self.statuses(job_ids, timeout=timeout, retry=retry)
        wanted = set(job_ids)
        try:
            # From the bytes: no intermediate dicts, and the statuses share their strings.
            parsed = _STATUS_LIST.validate_json(response.content or b"[]")
        except ValidationError:
            parsed = self._valid_statuses(response)
        return {status.job_id: status for status in parsed if status.job_id in wanted}

    def _valid_statuses(self, response: httpx.Response) -> list[JobStatusResponse]:
        """The items of a status listing that are valid statuses (warning of the others)."""
        data = self._session.decode_json(response)
        if data is None:
            return []
        if not isinstance(data, list):
            raise protocol_error("The job status listing is not a JSON list", response)
        statuses: list[JobStatusResponse] = []
        for item in data:
            try:
                status = JobStatusResponse.model_validate(item)
            except ValidationError as exc:
                logger.warning(
                    "A job status in the listing was left out: %s", describe_validation_error(exc)
                )
                continue
            statuses.append(status)
        return statuses

    async def properties(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> BackendProperties | None:
        """``GET {HGP}/Jobs/{id}/properties``: the calibration the job ran with, if any."""
        return await self._optional_model(
            BackendProperties,
            self.urls.properties(job_id),
            what="job properties",
            timeout=timeout,
            retry=retry,
        )

    # --- changing ---------------------------------------------------------------------------

    async def cancel(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> bool:
        """``POST {HGP}/Jobs/{id}/cancel``: whether the job was cancelled. Retried."""
        data, response = await self._json(
            "POST", self.urls.cancel(job_id), idempotent=True, timeout=timeout, retry=retry
        )
        if not isinstance(data, dict) or "error" in data:
            return False
        return validate_model(
            CancelResponse, data, what="cancel answer", response=response
        ).cancelled

    async def delete(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """``DELETE {HGP}/Jobs/{id}``. Retried."""
        await self._send("DELETE", self.urls.job(job_id), timeout=timeout, retry=retry)

    async def rename(
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
        data, response = await self._json(
            "PUT", self.urls.job(job_id), json_body={"name": name}, timeout=timeout, retry=retry
        )
        echoed = data.get("name") if isinstance(data, dict) else None
        if echoed != name:
            raise protocol_error(
                f"Updating the name of job {job_id} was not confirmed (the answer has "
                f"name {echoed!r})",
                response,
            )
        return name

    async def retag(
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
        data, response = await self._json(
            "PUT",
            self.urls.job(job_id),
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

    # --- listing ----------------------------------------------------------------------------

    def listing(
        self,
        query: JobQuery | None = None,
        *,
        limit: int | None = 10,
        skip: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Pager[JobRecord]:
        """``GET {HGP}/Jobs/status/v/1``: the jobs the query matches, newest first by default.

        ``await`` it for the list, or ``async for`` over it to fetch a page at a time.
        Pages with the §2.5 algorithm (the last creation date plus ``id.nin``), so a job
        is never returned twice. A job record that does not parse is dropped with a
        warning, as the original client did.

        Args:
            query: The filters (all jobs if ``None``).
            limit: At most this many jobs (``None``: all).
            skip: Jobs to skip first.
            page_size: Jobs per request.
            timeout: Seconds ``await`` may take in all.
            retry: The retry policy of each page.
        """
        return self._pager(
            JobRecord, self.urls.listing, query, limit, skip, page_size, timeout, retry, None
        )

    def id_listing(
        self,
        query: JobQuery | None = None,
        *,
        limit: int | None = 10,
        skip: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Pager[JobIdRecord]:
        """``GET {HGP}/Jobs/v/1`` with ``fields``: ids, creation dates and live-data flags.

        Takes what :meth:`listing` takes.
        """
        return self._pager(
            JobIdRecord,
            self.urls.id_listing,
            query,
            limit,
            skip,
            page_size,
            timeout,
            retry,
            JOB_ID_FIELDS,
        )

    def _pager(
        self,
        model: type[M],
        url: str,
        query: JobQuery | None,
        limit: int | None,
        skip: int,
        page_size: int,
        timeout: float | None,
        retry: RetryPolicy | None,
        fields: Mapping[str, bool] | None,
    ) -> Pager[M]:
        query = query or JobQuery()

        async def get(page_url: str, params: Mapping[str, str]) -> tuple[Any, Any]:
            return await self._json("GET", page_url, params=params, timeout=None, retry=retry)

        pages = LoopBackPages(
            get,
            url,
            model,
            loopback_where(query),
            skip=skip,
            descending=query.descending,
            fields=fields,
            id_url=self.urls.id_listing,
        )
        return Pager(pages, limit=limit or None, page_size=page_size, timeout=timeout, what="jobs")

    async def find_by_tag(
        self, tag: str, *, retry: RetryPolicy | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """The jobs carrying ``tag``, oldest first: one request of up to ``limit`` jobs."""
        query = {"where": {"tags": {"inq": [tag]}}, "order": "creationDate ASC", "limit": limit}
        data, response = await self._list(
            self.urls.listing,
            what="job list",
            params={"filter": json.dumps(query)},
            timeout=None,
            retry=retry,
        )
        jobs = [validate_model(JobRecord, item, what="job", response=response) for item in data]
        return sorted(jobs, key=lambda job: job.creation_date)
