"""The instance's usage (docs/platform.md §8): ``GET /v1/instances/usage``."""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

from ibmq_async.api.platform.urls import PlatformUrls
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.models.platform import InstanceUsage

__all__ = ["Usage"]


class Usage(Resource):
    """The usage endpoint of the client's instance.

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
        return f"{type(self).__name__}({self.urls.usage!r})"

    async def get(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> InstanceUsage:
        """``GET /v1/instances/usage``: the quantum seconds the instance used in the
        current period, its allocation or limit if it has one, and whether it is reached.
        Retried.

        Raises:
            ApiStatusError: 403 if the instance is not the caller's.
            ApiProtocolError: The answer does not fit.
            ApiError: The call failed (after retries).
        """
        return await self._model(
            InstanceUsage,
            "GET",
            self.urls.usage,
            what="instance usage",
            timeout=timeout,
            retry=retry,
        )
