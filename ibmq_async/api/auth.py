"""Credentials as an ``httpx.Auth`` flow: a token obtained once, renewed once for everyone.

:class:`TokenAuth` holds an access token that an API issues (the classic API's
``loginWithToken``, IBM Cloud IAM's bearer token) and puts it on every authenticated
request. It renews the token

* before a request, once the token has lived a fraction of its life (``refresh_at``, 80 %
  by default), when the API says how long it lives;
* once per request that gets a 401 with the current token, then sends that request again.

Either way, concurrent callers share one renewal: whoever finds the token stale renews it
under a lock, and the others wait for that and use the new one. An API's flow says how a
token is obtained (:meth:`TokenAuth.obtain`) and how it rides on a request
(:meth:`TokenAuth.apply`). The credential is removed from each request once its answer is
in, so no request handed out carries it.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass

import anyio
import httpx

__all__ = ["IssuedToken", "TokenAuth"]

logger = logging.getLogger("ibmq_async")


@dataclass(frozen=True)
class IssuedToken:
    """An access token and how long it lives.

    Attributes:
        value: The token.
        issued_at: When it was obtained (``time.monotonic()``).
        lifetime: Seconds it lives, or ``None`` if only a 401 will tell.
    """

    value: str
    issued_at: float
    lifetime: float | None = None

    def stale(self, now: float, refresh_at: float) -> bool:
        """Whether the token has lived ``refresh_at`` (a fraction) of its life."""
        return self.lifetime is not None and now - self.issued_at >= refresh_at * self.lifetime


class TokenAuth(httpx.Auth, ABC):
    """The ``httpx.Auth`` flow of an API whose tokens are obtained and renewed.

    Args:
        refresh_at: The fraction of a token's life after which it is renewed before use.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, *, refresh_at: float = 0.8) -> None:
        if not 0 < refresh_at <= 1:
            raise ValueError("refresh_at must be in (0, 1]")
        self._refresh_at = refresh_at
        self._token: IssuedToken | None = None
        self._lock = anyio.Lock()
        self.renewals = 0

    @abstractmethod
    async def obtain(self) -> IssuedToken:
        """Get a new token from the API (one call; it may retry as any call does).

        Raises:
            ApiError: The API refused, or could not be reached.
        """

    @abstractmethod
    def apply(self, request: httpx.Request, token: str) -> None:
        """Put ``token`` on ``request``."""

    @property
    def access_token(self) -> str:
        """The current token (after :meth:`login`)."""
        if self._token is None:
            raise RuntimeError("not logged in")
        return self._token.value

    async def login(self) -> None:
        """Obtain a token now, whatever the current one.

        Raises:
            ApiError: The API refused, or could not be reached.
        """
        async with self._lock:
            await self._renew()

    async def current(self) -> str:
        """A token fit to use: the current one, or a new one if it is stale (shared)."""
        token = self._token
        if token is None or token.stale(time.monotonic(), self._refresh_at):
            return await self.refresh(None if token is None else token.value)
        return token.value

    async def refresh(self, stale: str | None) -> str:
        """Renew the token unless someone already replaced ``stale``; return the new one."""
        async with self._lock:
            token = self._token
            if token is not None and token.value != stale:
                return token.value
            if stale is not None:
                logger.info("The access token expired; obtaining a new one")
            return await self._renew()

    async def _renew(self) -> str:
        token = await self.obtain()
        self._token = token
        self.renewals += 1
        return token.value

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError(f"{type(self).__name__} works with httpx.AsyncClient only")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.current()
        self.apply(request, token)
        response = yield request
        if response.status_code == 401:
            logger.info(
                "%s %s: the access token was refused (401); logging in again",
                request.method,
                request.url,
            )
            self.apply(request, await self.refresh(token))
            yield request
