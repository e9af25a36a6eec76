"""The jobs of an instance (docs/platform.md §3, §4): create, read, list, results, cancel,
delete, logs, metrics and tags.

Each method is one endpoint. Reads, ``PUT`` and ``DELETE`` are retried on the policy's
statuses and connection errors, as is cancelling (asking twice is harmless). Creating a job
is not idempotent: :meth:`Jobs.create` repeats only what proves no job was made (a 429, a
connection never made), and exactly-once submission is
:meth:`ibmq_async.api.platform.client.PlatformClient.submit`. Every creation takes a turn
of the client's :class:`~ibmq_async.api.platform.pacing.Pacer`.

Listings page by ``offset``/``limit`` (:class:`PlatformJobQuery`, a
:class:`~ibmq_async.api.pager.Pager`); jobs in listings never carry their params.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ibmq_async.api.errors import validate_model_json
from ibmq_async.api.pager import Page, Pager
from ibmq_async.api.platform.backends import query_datetime
from ibmq_async.api.platform.pacing import Pacer, PacerSlot
from ibmq_async.api.platform.urls import PlatformUrls
from ibmq_async.api.platform.usage import Usage
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import SINGLE_ATTEMPT, Call, RetryPolicy, call_with_retry
from ibmq_async.api.session import HttpSession
from ibmq_async.api.submission import SUBMISSION_TAG_PREFIX
from ibmq_async.exceptions import (
    ApiError,
    ApiNotFoundError,
    ApiRateLimitError,
    IBMQInputValueError,
    RateLimitedError,
    UsageLimitError,
)
from ibmq_async.models.platform import (
    Job,
    JobCreated,
    JobCreateRequest,
    JobList,
    JobMetrics,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Jobs",
    "PlatformJobQuery",
    "job_body",
    "visible_tags",
]

logger = logging.getLogger("ibmq_async")

DEFAULT_PAGE_SIZE = 200
"""Jobs per listing request (the API's default)."""

MAX_PAGE_SIZE = 1000
"""The most jobs one listing request may ask for."""

_JSON = {"Content-Type": "application/json"}


def visible_tags(tags: Sequence[str]) -> list[str]:
    """A job's tags without the hidden submission tag (``job.tags()`` on the surface)."""
    return [tag for tag in tags if not tag.startswith(SUBMISSION_TAG_PREFIX)]


@dataclass(frozen=True)
class PlatformJobQuery:
    """Which jobs a listing (``GET /v1/jobs``) returns, and in which order.

    Attributes:
        limit: The most jobs (``None``: every match).
        offset: Matches to skip first.
        pending: ``True``: only queued and running jobs; ``False``: only ended ones.
        backend: Only jobs of this backend.
        program: Only jobs of this program (``sampler``, ``estimator``).
        tags: Only jobs that carry every one of these tags.
        session_id: Only jobs of this session.
        created_after: Jobs created at or after this (naive = local time).
        created_before: Jobs created at or before this (naive = local time).
        descending: Newest first.

    Raises:
        IBMQInputValueError: A negative limit or offset, tags that are not strings, or
            dates that are not datetimes.
    """

    limit: int | None = None
    offset: int = 0
    pending: bool | None = None
    backend: str | None = None
    program: str | None = None
    tags: Sequence[str] = ()
    session_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    descending: bool = True

    def __post_init__(self) -> None:
        for name in ("limit", "offset"):
            value = getattr(self, name)
            if value is None and name == "limit":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise IBMQInputValueError(f"{name} must be an int of at least 0, got {value!r}")
        tags = self.tags
        if isinstance(tags, str) or not all(isinstance(tag, str) and tag for tag in tags):
            raise IBMQInputValueError(f"tags must be a list of non-empty strings, got {tags!r}")
        object.__setattr__(self, "tags", tuple(tags))
        for name in ("created_after", "created_before"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise IBMQInputValueError(f"{name} must be a datetime, got {value!r}")
        if self.pending is not None and not isinstance(self.pending, bool):
            raise IBMQInputValueError(f"pending must be True, False or None, got {self.pending!r}")

    def params(self, *, limit: int, offset: int) -> httpx.QueryParams:
        """The query parameters of the page of ``limit`` jobs at ``offset``."""
        items: list[tuple[str, str | int | float | bool | None]] = [
            ("limit", str(limit)),
            ("offset", str(offset)),
            ("exclude_params", "true"),
        ]
        if self.pending is not None:
            items.append(("pending", "true" if self.pending else "false"))
        if self.backend:
            items.append(("backend", self.backend))
        if self.program:
            items.append(("program", self.program))
        items.extend(("tags", tag) for tag in self.tags)
        if self.session_id:
            items.append(("session_id", self.session_id))
        if self.created_after is not None:
            items.append(("created_after", query_datetime(self.created_after)))
        if self.created_before is not None:
            items.append(("created_before", query_datetime(self.created_before)))
        if not self.descending:
            items.append(("sort", "ASC"))
        return httpx.QueryParams(items)


class Jobs(Resource):
    """The job endpoints of the runtime API.

    Args:
        session: The session of the client.
        urls: Where the endpoints are.
        retry: The default retry policy (the session's if ``None``).
        pacer: The client's job-creation turns (a pacer of its own if ``None``).
        usage: Read once when a creation is refused for the instance's usage, for the
            error (none read if ``None``).
    """

    def __init__(
        self,
        session: HttpSession,
        urls: PlatformUrls,
        *,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(session, retry=retry)
        self.urls = urls
        self.pacer = pacer or Pacer()
        self._usage = usage

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.urls.jobs!r})"

    # --- creation -----------------------------------------------------------------------

    async def create(
        self,
        body: JobCreateRequest | Mapping[str, Any] | bytes,
        *,
        pace: bool = True,
        slot: PacerSlot | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> JobCreated:
        """``POST /v1/jobs``: create (and queue) a job.

        Not idempotent: an attempt is repeated only when it proves no job was made (a 429,
        whose ``Retry-After`` is waited out without counting against the policy's
        ``max_attempts``; a connection that was never made). Each attempt takes a turn
        of the pacer unless ``pace`` is false.

        Args:
            body: The job (its ``params`` plain JSON: runtime JSON already encoded), or
                its JSON encoded.
            pace: Take the pacer's turns.
            slot: A turn already taken (the first attempt uses it; it is released).
            timeout: Seconds for the whole call, turns waited included.
            retry: The retry policy (the resource's if ``None``).

        Raises:
            RateLimitedError: The service asks to wait longer than the policy's
                ``max_retry_after``; no job was made.
            UsageLimitError: The instance used its allocation (409, code 1301); its
                ``usage`` is read once for the error. No job was made.
            ApiStatusError: The job was refused (400 bad params, 404 program, 409 a
                closed session...).
            ApiError: The call failed; after a read timeout, a 5xx or a disconnect once
                the request was sent, whether the job was made is unknown.
        """
        content = job_body(body)
        url = self.urls.jobs
        policy = retry or self.retry
        given = [slot] if slot is not None else []

        async def attempt() -> JobCreated:
            turn = given.pop() if given else (await self.pacer.acquire() if pace else None)
            try:
                response = await self._send(
                    "POST",
                    url,
                    content=content,
                    headers=_JSON,
                    idempotent=False,
                    timeout=None,
                    retry=SINGLE_ATTEMPT,
                )
            except ApiRateLimitError as error:
                if turn is not None:
                    turn.release(refused=True, retry_after=error.retry_after)
                if error.retry_after is not None and error.retry_after > policy.max_retry_after:
                    raise _cannot_wait(error, policy) from error
                raise
            except UsageLimitError as error:
                if turn is not None:
                    turn.release()
                error.usage = await self._usage_for_error()
                raise
            finally:
                if turn is not None:
                    turn.release()
            return validate_model_json(JobCreated, response, what="job creation answer")

        try:
            return await call_with_retry(
                attempt,
                policy=policy,
                idempotent=False,
                call=Call.request("POST", url),
                timeout=timeout,
                counts=lambda error: not isinstance(error, ApiRateLimitError),
            )
        finally:
            for unused in given:
                unused.release(sent=False)

    async def _usage_for_error(self) -> Any:
        if self._usage is None:
            return None
        try:
            return await self._usage.get(timeout=10.0, retry=SINGLE_ATTEMPT)
        except ApiError as error:
            logger.info("Could not read the instance usage for the error: %s", error)
            return None

    # --- reading ------------------------------------------------------------------------

    async def get(
        self,
        job_id: str,
        *,
        exclude_params: bool = False,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Job:
        """``GET /v1/jobs/{id}``: the job, with its params unless ``exclude_params``.
        Retried.

        Raises:
            ApiNotFoundError: No such job in the instance (code 1211).
            ApiProtocolError: The answer does not fit.
            ApiError: The call failed (after retries).
        """
        params = {"exclude_params": "true"} if exclude_params else None
        return await self._model(
            Job,
            "GET",
            self.urls.job(job_id),
            what="job",
            timeout=timeout,
            retry=retry,
            params=params,
        )

    async def page(
        self,
        query: PlatformJobQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> JobList:
        """``GET /v1/jobs``: one page of the listing (``limit`` jobs at ``offset``, the
        query's if not given), and how many match in all. Retried.

        Raises:
            IBMQInputValueError: ``limit`` is not 1 to 1000.
            ApiProtocolError: The answer is not a job list.
            ApiError: The call failed (after retries).
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise IBMQInputValueError(f"limit must be 1 to {MAX_PAGE_SIZE}, got {limit}")
        query = query or PlatformJobQuery()
        params = query.params(limit=limit, offset=query.offset if offset is None else offset)
        return await self._model(
            JobList,
            "GET",
            self.urls.jobs,
            what="job list",
            timeout=timeout,
            retry=retry,
            params=params,
        )

    def list(
        self,
        query: PlatformJobQuery | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Pager[Job]:
        """The jobs of the query: ``await`` it for up to ``query.limit`` of them (every
        match without a limit), or ``async for`` over them, a page of ``page_size`` at a
        time. A job seen on an earlier page (the listing shifts as jobs are made) is not
        given twice.

        Args:
            query: The filters, order, limit and offset.
            page_size: Jobs per request (1 to 1000).
            timeout: Seconds ``await`` may take in all.
            retry: The retry policy of each page.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise IBMQInputValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}, got {page_size}")
        query = query or PlatformJobQuery()
        seen: set[str] = set()

        async def fetch(size: int, cursor: Any) -> Page[Job]:
            offset = query.offset if cursor is None else int(cursor)
            answer = await self.page(query, limit=size, offset=offset, retry=retry)
            fresh = [job for job in answer.jobs if job.id not in seen]
            seen.update(job.id for job in fresh)
            after = offset + len(answer.jobs)
            more = len(answer.jobs) == size and after < answer.count
            return Page(fresh, next=after if more else None)

        return Pager(fetch, limit=query.limit, page_size=page_size, timeout=timeout, what="jobs")

    async def find_by_tag(
        self,
        tag: str,
        *,
        limit: int = 100,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> builtins.list[Job]:
        """The jobs carrying ``tag``, oldest first: one request of up to ``limit`` jobs.

        Raises:
            ApiError: As :meth:`page`.
        """
        answer = await self.page(
            PlatformJobQuery(tags=(tag,), descending=False),
            limit=limit,
            timeout=timeout,
            retry=retry,
        )
        return sorted(answer.jobs, key=lambda job: job.created)

    async def pending(
        self,
        limit: int = MAX_PAGE_SIZE,
        *,
        offset: int = 0,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> builtins.list[Job]:
        """The instance's queued and running jobs, newest first: one request
        (``GET /v1/jobs?pending=true``) of up to ``limit`` jobs at ``offset``.

        Raises:
            ApiError: As :meth:`page`.
        """
        answer = await self.page(
            PlatformJobQuery(pending=True),
            limit=limit,
            offset=offset,
            timeout=timeout,
            retry=retry,
        )
        return answer.jobs

    async def results(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> Any:
        """``GET /v1/jobs/{id}/results``: the result as decoded JSON, still runtime JSON
        (:func:`ibmq_async.runtime_json.decode` makes Qiskit objects of it). Retried.

        Raises:
            ApiNotFoundError: The job has not ended, or has no result (code 1214).
            ApiProtocolError: The answer is not JSON (a failed job's reason is text:
                :meth:`results_text`).
            ApiError: The call failed (after retries).
        """
        data, _ = await self._json("GET", self.urls.results(job_id), timeout=timeout, retry=retry)
        return data

    async def results_text(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> str:
        """``GET /v1/jobs/{id}/results`` as the text the API sent (a result, or the reason a
        job failed). Retried.

        Raises:
            ApiNotFoundError: The job has not ended, or has no result.
            ApiError: The call failed (after retries).
        """
        response = await self._send("GET", self.urls.results(job_id), timeout=timeout, retry=retry)
        return response.text

    async def logs(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> str:
        """``GET /v1/jobs/{id}/logs``: the job's log text. Retried.

        Raises:
            ApiNotFoundError: The job has not ended (code 1215), or does not exist.
            ApiError: The call failed (after retries).
        """
        response = await self._send("GET", self.urls.logs(job_id), timeout=timeout, retry=retry)
        return response.text

    async def metrics(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> JobMetrics:
        """``GET /v1/jobs/{id}/metrics``: timestamps, usage, queue position. Retried.

        Raises:
            ApiNotFoundError: No such job.
            ApiProtocolError: The answer does not fit.
            ApiError: The call failed (after retries).
        """
        return await self._model(
            JobMetrics,
            "GET",
            self.urls.metrics(job_id),
            what="job metrics",
            timeout=timeout,
            retry=retry,
        )

    # --- changing -----------------------------------------------------------------------

    async def cancel(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """``POST /v1/jobs/{id}/cancel``: cancel a queued or running job. Retried (asking
        twice is harmless).

        Raises:
            ApiStatusError: 409 if the job had ended (code 1212).
            ApiNotFoundError: No such job.
            ApiError: The call failed (after retries).
        """
        await self._send(
            "POST", self.urls.cancel(job_id), idempotent=True, timeout=timeout, retry=retry
        )

    async def delete(
        self, job_id: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """``DELETE /v1/jobs/{id}``: delete an ended job. Retried; a 404 after a retry means
        an earlier attempt deleted it.

        Raises:
            ApiStatusError: 409 if the job has not ended (code 1213).
            ApiNotFoundError: No such job (at the first attempt).
            ApiError: The call failed (after retries).
        """
        try:
            await self._send("DELETE", self.urls.job(job_id), timeout=timeout, retry=retry)
        except ApiNotFoundError as error:
            if error.retries_taken == 0:
                raise

    async def replace_tags(
        self,
        job_id: str,
        tags: Sequence[str],
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``PUT /v1/jobs/{id}/tags``: replace every tag of the job. Retried.

        The hidden submission tag is a tag like any other here: keep it (the surface's
        ``update_tags`` does) or the job can no longer be found by its submission key.

        Raises:
            IBMQInputValueError: ``tags`` is not a list of strings.
            ApiStatusError: The API refused the tags (400).
            ApiError: The call failed (after retries).
        """
        if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
            raise IBMQInputValueError(f"tags must be a list of strings, got {tags!r}")
        await self._send(
            "PUT",
            self.urls.tags(job_id),
            json_body={"tags": list(tags)},
            timeout=timeout,
            retry=retry,
        )


def job_body(body: JobCreateRequest | Mapping[str, Any] | bytes) -> bytes:
    """The JSON of a job creation (``None`` fields of a model left out; bytes as given).

    Raises:
        IBMQInputValueError: ``body`` is not JSON.
    """
    if isinstance(body, bytes):
        return body
    if isinstance(body, JobCreateRequest):
        return body.to_wire_json(exclude_none=True).encode()
    if not isinstance(body, Mapping):
        raise IBMQInputValueError(
            f"a job is a JobCreateRequest or a mapping, got {type(body).__name__}"
        )
    try:
        return json.dumps(dict(body), separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise IBMQInputValueError(
            f"the job is not JSON (encode circuits and arrays as runtime JSON first): {exc}"
        ) from exc


def _cannot_wait(error: ApiRateLimitError, policy: RetryPolicy) -> RateLimitedError:
    retry_after = error.retry_after or 0.0
    return RateLimitedError(
        f"Job creation is rate limited: the service asks to wait {retry_after:g} s, more "
        f"than the {policy.max_retry_after:g} s the retry policy allows; no job was made"
        + (f" ({error.error_message})" if error.error_message else ""),
        retry_after=error.retry_after,
        status_code=error.status_code,
        error_code=error.error_code,
        error_message=error.error_message,
        method=error.method,
        url=error.url,
        trace_id=error.trace_id,
        response=error.response,
    )
