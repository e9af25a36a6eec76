"""A client of one IBM Quantum Platform instance: its session, resources, waits and
exactly-once submissions.

:meth:`PlatformClient.connect` exchanges the API key at IAM, opens a session whose every
request names the instance (``Service-CRN``) and the API version (``IBM-API-Version``),
and checks the instance with one call. The client then has one resource per group of
endpoints (:attr:`~PlatformClient.backends`, :attr:`~PlatformClient.jobs`,
:attr:`~PlatformClient.sessions`, :meth:`~PlatformClient.usage`), one poller for every
job waited on (:attr:`~PlatformClient.waits`), one pacer for every job created
(:attr:`~PlatformClient.pacer`), and :meth:`~PlatformClient.submit`, which makes one job
per call under any fault.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import math
import time
import types
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import httpx

from ibmq_async.api.platform.auth import IamAuth
from ibmq_async.api.platform.backends import Backends
from ibmq_async.api.platform.errors import platform_error_details
from ibmq_async.api.platform.jobs import Jobs, job_body
from ibmq_async.api.platform.pacing import Pacer, PacerSlot
from ibmq_async.api.platform.sessions import Sessions
from ibmq_async.api.platform.urls import API_VERSION, PlatformUrls, runtime_headers
from ibmq_async.api.platform.usage import Usage
from ibmq_async.api.platform.waits import (
    DEFAULT_PLATFORM_POLLING,
    PLATFORM_STATUS,
    PendingStatuses,
    checked_job,
)
from ibmq_async.api.retry import SINGLE_ATTEMPT, RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.api.submission import (
    CLEANUP_SECONDS,
    Created,
    SubmissionSteps,
    submission_tag,
    submit_exactly_once,
)
from ibmq_async.api.waits import JobWaits, PollingPolicy
from ibmq_async.credentials import PlatformCredentials
from ibmq_async.exceptions import (
    ApiProtocolError,
    ApiStatusError,
    ApiTimeoutError,
    IBMQAccountCredentialsNotFound,
    IBMQInputValueError,
)
from ibmq_async.models.platform import InstanceUsage, Job

__all__ = ["PlatformClient"]

WAIT_BATCH = 100_000
"""Jobs one pending listing serves (all of them: the listing is the instance's anyway)."""


class PlatformClient:
    """A client of one platform instance. Use ``async with await PlatformClient.connect(...)``
    or call :meth:`aclose`. It belongs to the event loop it was created on.

    Args:
        session: The session (logged in through ``auth``).
        auth: The IAM credential of the session.
        instance: The instance's CRN.
        api_url: The API root (``{root}/v1/...`` are the endpoints).
        retry: The default retry policy of the resources (the session's if ``None``).
        polling: How waits poll.
        job_rate: ``(count, seconds)``: create at most ``count`` jobs per ``seconds``
            (``None``: as fast as the service takes them, slowing down at its first 429).

    Attributes:
        instance: The instance's CRN.
        urls: Where the endpoints are.
        auth: The IAM credential (:class:`IamAuth`).
        backends: The backend endpoints.
        jobs: The job endpoints.
        sessions: The session endpoints.
        pacer: The turns every job creation of the client takes.
        waits: The shared job waits (:data:`PLATFORM_STATUS`, one poller).
    """

    def __init__(
        self,
        session: HttpSession,
        auth: IamAuth,
        instance: str,
        api_url: str,
        *,
        retry: RetryPolicy | None = None,
        polling: PollingPolicy = DEFAULT_PLATFORM_POLLING,
        job_rate: tuple[int, float] | None = None,
    ) -> None:
        self._session = session
        self._retry = retry
        self.auth = auth
        self.instance = instance
        self.urls = PlatformUrls(api_url)
        self.pacer = Pacer(job_rate)
        self._usage = Usage(session, self.urls, retry=retry)
        self.backends = Backends(session, self.urls, retry=retry)
        self.jobs = Jobs(session, self.urls, retry=retry, pacer=self.pacer, usage=self._usage)
        self.sessions = Sessions(session, self.urls, retry=retry)
        self.pending_statuses = PendingStatuses(self.jobs)
        jobs = self.jobs

        async def fetch_status(job_id: str) -> Job:
            return checked_job(await jobs.get(job_id, exclude_params=True))

        self.waits: JobWaits[Job] = JobWaits(
            session,
            fetch_status,
            kind=PLATFORM_STATUS,
            policy=polling,
            fetch_statuses=self.pending_statuses,
            batch_size=WAIT_BATCH,
        )

    @classmethod
    async def connect(
        cls,
        api_key: str,
        instance: str,
        *,
        url: str | None = None,
        iam_url: str | None = None,
        api_version: str = API_VERSION,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        polling: PollingPolicy | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> PlatformClient:
        """Obtain a token for the API key and check the instance.

        Args:
            api_key: The IBM Cloud API key.
            instance: The instance's CRN.
            url: The API root to which ``/v1/...`` is appended; the default of the CRN's
                region (``https://quantum.cloud.ibm.com/api``) if ``None``.
            iam_url: The IAM host (``/identity/token`` is appended); ``IAM_URL`` or
                ``https://iam.cloud.ibm.com`` if ``None``.
            api_version: The ``IBM-API-Version`` of every request.
            proxies: ``{"urls": {"http": ..., "https": ...}}``; without it,
                ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` apply.
            verify: Verify TLS certificates.
            timeout: Per-attempt timeouts (a number sets all four); finite by default.
            retry: The default retry policy.
            transport: An httpx transport to use instead of the network (tests, ASGI).
            polling: How job waits poll (from 0.5 s to 5 s by default).
            job_rate: ``(count, seconds)``: pace job creation to at most ``count`` per
                ``seconds`` (IBM documents 5 per minute); ``None``: pace by the
                service's 429s only.

        Raises:
            IBMQInputValueError: The instance is not a CRN, or an argument is malformed.
            IBMQAccountCredentialsInvalidToken: The API key is empty.
            IBMQAccountValueError: A URL or the CRN is malformed.
            ApiAuthenticationError: IAM refused the API key.
            IBMQAccountCredentialsNotFound: The instance is not the account's (403).
            ApiError: A call failed (after retries).
        """
        credentials = PlatformCredentials(
            token=api_key, instance=instance, url=url, iam_url=iam_url
        )
        return await cls.from_credentials(
            credentials,
            api_version=api_version,
            proxies=proxies,
            verify=verify,
            timeout=timeout,
            retry=retry,
            transport=transport,
            polling=polling,
            job_rate=job_rate,
        )

    @classmethod
    async def from_credentials(
        cls,
        credentials: PlatformCredentials,
        *,
        api_version: str = API_VERSION,
        proxies: Mapping[str, Any] | None = None,
        verify: bool | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        polling: PollingPolicy | None = None,
        job_rate: tuple[int, float] | None = None,
    ) -> PlatformClient:
        """:meth:`connect` with a saved account (its URLs, proxies and ``verify`` unless
        given here). The account's instance must be a CRN.

        Raises:
            As :meth:`connect`.
        """
        crn = credentials.crn
        if crn is None:
            raise IBMQInputValueError(
                "the platform client needs the instance's CRN (crn:v1:...), got "
                f"{credentials.instance!r}; resolve an instance name to its CRN first"
            )
        if not isinstance(api_version, str) or not api_version.strip():
            raise IBMQInputValueError("api_version must be a date string such as 2026-04-15")
        if job_rate is not None:
            Pacer(job_rate)  # checks it before anything is opened
        session = HttpSession.open(
            error_parser=platform_error_details,
            headers=runtime_headers(str(crn), api_version.strip()),
            proxies=credentials.proxies if proxies is None else proxies,
            verify=credentials.verify if verify is None else verify,
            timeout=timeout,
            retry=retry,
            transport=transport,
        )
        try:
            auth = IamAuth(session, credentials.token, credentials.resolved_iam_url())
            await auth.login()
            session.auth = auth
            client = cls(
                session,
                auth,
                str(crn),
                credentials.api_url,
                polling=polling or DEFAULT_PLATFORM_POLLING,
                job_rate=job_rate,
            )
            await client._check_instance()
        except BaseException:
            await session.aclose()
            raise
        return client

    async def _check_instance(self) -> None:
        try:
            await self._usage.get()
        except ApiStatusError as error:
            if error.status_code == 403:
                raise IBMQAccountCredentialsNotFound(
                    f"The API key has no access to the instance {self.instance} "
                    f"({error.error_message or 'forbidden'}): check the instance's CRN"
                ) from error
            raise

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(instance={self.instance!r}, api_url={self.api_url!r}"
            f"{', closed' if self.closed else ''})"
        )

    @property
    def session(self) -> HttpSession:
        """The HTTP session of the client."""
        return self._session

    @property
    def api_url(self) -> str:
        """The versioned base of the endpoints (``{root}/v1``)."""
        return self.urls.api

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of the client's resources."""
        return self._retry or self._session.retry

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._session.closed

    async def usage(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> InstanceUsage:
        """``GET /v1/instances/usage``: the instance's usage in the current period. Retried.

        Raises:
            ApiError: The call failed (after retries).
        """
        return await self._usage.get(timeout=timeout, retry=retry)

    async def submit(
        self,
        program_id: str,
        backend_name: str,
        params: Mapping[str, Any],
        *,
        session_id: str | None = None,
        tags: Sequence[str] = (),
        cost: int | None = None,
        private: bool | None = None,
        submission_key: str | None = None,
        check_existing: bool | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        pace: bool = True,
    ) -> Job:
        """Create a job exactly once (:mod:`ibmq_async.api.submission`).

        The platform has no idempotency key, so the submission's key (``submission_key``,
        or a new UUID) rides on the job as the hidden tag ``submission_tag(key)``. When a
        creation may have reached the server without its answer arriving (a read
        timeout, a disconnect after the request was sent, a 5xx), the next attempt lists
        the instance's jobs with that tag before it creates another. Under any mix of
        faults one call makes at most one job.

        The creation waits for its turn of the client's :attr:`pacer` first (``pace``),
        within ``timeout`` but outside the retry policy's deadline, so a long queue of
        creations does not spend it; a 429 is waited out by its ``Retry-After`` and slows
        down every later creation of the client. The job is then read once
        (``GET /v1/jobs/{id}``) for the record returned.

        Args:
            program_id: ``sampler`` or ``estimator``.
            backend_name: The backend to run on.
            params: The program's params as plain JSON (runtime JSON already encoded).
            session_id: The session or batch the job joins.
            tags: Tags for the job (the submission tag is added).
            cost: The job's ``max_execution_time`` in seconds.
            private: Whether the job's params and results are not kept once read.
            submission_key: The key of this submission (a new UUID if ``None``);
                passing the key of an earlier call that failed or was interrupted
                resumes it: the job made with that key, if any, is returned.
            check_existing: Look for a job with the key's tag before the first creation
                (one more request); defaults to whether ``submission_key`` was given.
            timeout: Seconds for the whole submission, turns waited included.
            retry: The retry policy of the submission's loop.
            pace: Take the pacer's turns.

        Returns:
            The job, as ``GET /v1/jobs/{id}`` (without params) gives it.

        Raises:
            UsageLimitError: The instance used its allocation; no job was made.
            RateLimitedError: The service asks to wait longer than the policy allows; no
                job was made.
            ApiTimeoutError: ``timeout`` or the deadline expired; resubmit with the same
                ``submission_key`` to find out whether the job was made.
            ApiStatusError: The job was refused (bad params, unknown backend...).
            ApiError: A step failed for good. The message says what was tried and what
                became of the job (a job made and not confirmed is cancelled and
                deleted).
        """
        if not isinstance(program_id, str) or not program_id:
            raise IBMQInputValueError("program_id must be a non-empty string")
        if not isinstance(backend_name, str) or not backend_name:
            raise IBMQInputValueError("backend_name must be a non-empty string")
        if isinstance(tags, str) or not all(isinstance(tag, str) and tag for tag in tags):
            raise IBMQInputValueError(f"tags must be a list of non-empty strings, got {tags!r}")
        key = submission_key or uuid.uuid4().hex
        tag = submission_tag(key)
        body: dict[str, Any] = {
            "program_id": program_id,
            "backend": backend_name,
            "params": params,
            "tags": [*dict.fromkeys([*tags, tag])],
        }
        if session_id is not None:
            body["session_id"] = session_id
        if cost is not None:
            body["cost"] = cost
        if private is not None:
            body["private"] = private
        content = job_body(body)
        policy = retry or self.retry
        step_policy = policy.replace(max_attempts=1, deadline=None)
        jobs = self.jobs
        started = time.monotonic()
        turn: list[PacerSlot] = []
        if pace:
            with anyio.move_on_after(math.inf if timeout is None else timeout):
                turn.append(await self.pacer.acquire())
            if not turn:
                raise ApiTimeoutError(
                    f"Submitting a job to {backend_name} (submission key {key}) waited "
                    f"{timeout:g} s for a job creation turn; no job was made"
                )

        async def create() -> Created[None, Job]:
            try:
                made = await jobs.create(
                    content,
                    pace=pace,
                    slot=turn.pop() if turn else None,
                    retry=step_policy,
                )
            except ApiProtocolError:
                # The service made the job (it answered 2xx) but its answer cannot be
                # read: the job is the one with the tag.
                found = await jobs.find_by_tag(tag, retry=SINGLE_ATTEMPT)
                if found:
                    return Created(found[0].id, started=found[0])
                raise
            return Created(made.id)

        async def find() -> list[Job]:
            return await jobs.find_by_tag(tag, retry=SINGLE_ATTEMPT)

        async def read(job_id: str) -> Job:
            return await jobs.get(job_id, exclude_params=True, retry=SINGLE_ATTEMPT)

        steps: SubmissionSteps[None, Job] = SubmissionSteps(
            create=create,
            find=find,
            job_id=lambda job: job.id,
            is_started=lambda job: True,  # a platform job is queued as it is made
            discard=self._discard,
            read=read,
        )
        remaining = None if timeout is None else max(timeout - (time.monotonic() - started), 0.0)
        try:
            return await submit_exactly_once(
                steps,
                what=f"a {program_id} job to {backend_name} (submission key {key})",
                policy=policy,
                look_first=submission_key is not None if check_existing is None else check_existing,
                timeout=remaining,
            )
        finally:
            for unused in turn:
                unused.release(sent=False)

    async def _discard(self, job_id: str, may_have_started: bool) -> None:
        """Remove the job of a failed submission: cancel it (it is queued as it is made),
        then delete it."""
        policy = self.retry.replace(max_attempts=2, deadline=CLEANUP_SECONDS)
        try:
            await self.jobs.cancel(job_id, retry=policy)
        except ApiStatusError as error:
            if error.status_code != 409:  # 409: it had ended already
                raise
        await self.jobs.delete(job_id, retry=policy)

    async def aclose(self) -> None:
        """Close the session. Idempotent."""
        await self._session.aclose()

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.aclose()
