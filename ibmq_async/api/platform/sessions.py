"""The sessions and batches of an instance (docs/platform.md §7).

A placeholder with the constructor of the contract; its endpoints are written separately.
"""

from __future__ import annotations

from ibmq_async.api.platform.urls import PlatformUrls
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession

__all__ = ["Sessions"]


class Sessions(Resource):
    """The session endpoints of the runtime API.

    Args:
        session: The session of the client.
        urls: Where the endpoints are.
        retry: The default retry policy (the session's if ``None``).
    """

    def __init__(
        self, session: HttpSession, urls: PlatformUrls, *, retry: RetryPolicy | None = None
    ) -> None:
        super().__init__(session, retry=retry)
        self.urls = urls

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.urls.sessions!r})"
