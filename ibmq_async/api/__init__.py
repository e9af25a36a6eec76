"""The HTTP layer: every endpoint of the IBM Quantum API as a coroutine.

Nothing here is user-facing: :mod:`ibmq_async.api` speaks docs/protocol.md over one
``httpx.AsyncClient`` and returns the validated models of :mod:`ibmq_async.models`. It owns
retries (:class:`RetryPolicy`), timeouts, authentication (one re-login on an expired
token, shared by concurrent callers), error mapping (the ``ApiError`` hierarchy of
:mod:`ibmq_async.exceptions`), exactly-once job submission and job status waits.

Modules:
    retry: :class:`RetryPolicy` and the retry loop (the only tenacity import).
    session: the shared client, headers, timeouts, error mapping and redaction.
    auth: version check, login, ``/users/me``, hubs, re-login.
    account: one coroutine per REST endpoint of a hub/group/project.
    filters: the LoopBack ``where`` of the job listings.
    websocket: job status waits (websocket, polling fallback), shared among waiters.
    connection: :class:`Connection`, which ties them together.
"""

from ibmq_async.api.account import SUBMISSION_TAG_PREFIX, AccountClient, encode_qobj, submission_tag
from ibmq_async.api.auth import AuthClient, Authenticator
from ibmq_async.api.connection import Connection
from ibmq_async.api.filters import JobFilter, build_job_where
from ibmq_async.api.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ibmq_async.api.session import DEFAULT_TIMEOUT, STORAGE_TIMEOUT, HttpSession
from ibmq_async.api.websocket import DEFAULT_POLLING_POLICY, JobStatusWatcher, PollingPolicy

__all__ = [
    "DEFAULT_POLLING_POLICY",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "STORAGE_TIMEOUT",
    "SUBMISSION_TAG_PREFIX",
    "AccountClient",
    "AuthClient",
    "Authenticator",
    "Connection",
    "HttpSession",
    "JobFilter",
    "JobStatusWatcher",
    "PollingPolicy",
    "RetryPolicy",
    "build_job_where",
    "encode_qobj",
    "submission_tag",
]
