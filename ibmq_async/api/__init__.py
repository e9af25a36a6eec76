"""The HTTP layer: what every API of ibmq_async shares, and the APIs' resources.

Nothing here is user-facing. The shared core:

    session: :class:`HttpSession`: the ``httpx.AsyncClient``, headers, timeouts, error
        mapping (with each API's error parser) and redaction.
    transports: the network under it (aiohttp on asyncio, httpx's own transport
        elsewhere), proxies and the status websockets.
    retry: :class:`RetryPolicy` and the one retry loop (the only tenacity import).
    errors: the ``ApiError`` a response becomes; validation of answers into models.
    auth: credentials as ``httpx.Auth`` flows (:class:`TokenAuth`).
    resource: the base of every API resource.
    pager: :class:`Pager`: await a listing for its items, or iterate over them.
    query: :class:`JobQuery`: the job-listing filters.
    submission: exactly-once job submission over an API's steps.
    waits: shared job status waits (a push stream, else one poller).

The APIs, each in its own package: :mod:`ibmq_async.api.classic` (the classic API of
docs/protocol.md).
"""

from ibmq_async.api.auth import IssuedToken, TokenAuth
from ibmq_async.api.pager import Page, Pager
from ibmq_async.api.query import JobQuery
from ibmq_async.api.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ibmq_async.api.session import DEFAULT_TIMEOUT, STORAGE_TIMEOUT, HttpSession
from ibmq_async.api.submission import SUBMISSION_TAG_PREFIX, submission_tag
from ibmq_async.api.waits import DEFAULT_POLLING_POLICY, JobWaits, PollingPolicy

__all__ = [
    "DEFAULT_POLLING_POLICY",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "STORAGE_TIMEOUT",
    "SUBMISSION_TAG_PREFIX",
    "HttpSession",
    "IssuedToken",
    "JobQuery",
    "JobWaits",
    "Page",
    "Pager",
    "PollingPolicy",
    "RetryPolicy",
    "TokenAuth",
    "submission_tag",
]
