"""The authentication service (docs/protocol.md §1, §2.1): version check, login, user info, hubs.

:class:`AuthClient` has one coroutine per endpoint. :class:`Authenticator` holds the API
token and the current access token of a connection and logs in again when the access token
expires: concurrent callers that see a 401 together share a single login.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging

import anyio

from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession, protocol_error, validate_model
from ibmq_async.exceptions import (
    ApiNotFoundError,
    ApiProtocolError,
    IBMQAccountCredentialsInvalidUrl,
)
from ibmq_async.models import LoginResponse, NetworkHub, NetworkHubs, UserInfo, VersionInfo

__all__ = ["AuthClient", "Authenticator"]

logger = logging.getLogger("ibmq_async")


class AuthClient:
    """The endpoints of the authentication service and the hub list.

    Args:
        session: The HTTP session of the connection.
        auth_url: The authentication URL (``{AUTH}``), e.g. ``https://.../api``.
    """

    def __init__(self, session: HttpSession, auth_url: str) -> None:
        self._session = session
        self.auth_url = auth_url.rstrip("/")
        self.api_url: str | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(auth_url={self.auth_url!r}, api_url={self.api_url!r})"

    async def version(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> VersionInfo:
        """``GET {AUTH}/version``: check that the URL is an IBM Quantum auth service.

        Retries like any GET.

        Raises:
            IBMQAccountCredentialsInvalidUrl: ``/version`` does not exist or is not a JSON
                object with ``api-auth`` (chained from the API error).
            ApiError: The call failed.
        """
        url = f"{self.auth_url}/version"
        try:
            response = await self._session.request(
                "GET", url, authenticated=False, timeout=timeout, retry=retry
            )
            data = self._session.decode_json(response)
            if not isinstance(data, dict):
                raise protocol_error("The version answer is not a JSON object", response)
            return validate_model(VersionInfo, data, what="version answer", response=response)
        except (ApiProtocolError, ApiNotFoundError) as exc:
            raise IBMQAccountCredentialsInvalidUrl(
                f"{self.auth_url} is not a valid IBM Quantum authentication URL "
                f"(GET /version gave no 'api-auth')"
            ) from exc

    async def login(
        self,
        api_token: str,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> LoginResponse:
        """``POST {AUTH}/users/loginWithToken``: exchange the API token for an access token.

        Retried only on failures that prove the request was not processed.

        Raises:
            AuthenticationLicenseError: The license must be accepted first.
            ApiAuthenticationError: The token was refused.
            ApiError: The call failed.
        """
        self._session.redactor.add(api_token)
        response = await self._session.request(
            "POST",
            f"{self.auth_url}/users/loginWithToken",
            json_body={"apiToken": api_token},
            authenticated=False,
            idempotent=True,
            timeout=timeout,
            retry=retry,
        )
        data = self._session.decode_json(response)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            self._session.redactor.add(data["id"])
        return validate_model(
            LoginResponse, data, what="login answer", response=response, sensitive=True
        )

    async def user_info(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> UserInfo:
        """``GET {AUTH}/users/me``: where the API and the websocket are for this user."""
        response = await self._session.request(
            "GET", f"{self.auth_url}/users/me", timeout=timeout, retry=retry
        )
        info = validate_model(
            UserInfo, self._session.decode_json(response), what="user info", response=response
        )
        self.api_url = info.urls.http.rstrip("/")
        return info

    async def hubs(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[NetworkHub]:
        """``GET {API}/Network``: the hubs, groups and projects of the user."""
        if self.api_url is None:
            await self.user_info(timeout=timeout, retry=retry)
        response = await self._session.request(
            "GET", f"{self.api_url}/Network", timeout=timeout, retry=retry
        )
        data = self._session.decode_json(response)
        return validate_model(NetworkHubs, data or [], what="hub list", response=response).root


class Authenticator:
    """The API token and the current access token of a connection.

    Implements the session's token source: :meth:`refresh` logs in again unless another
    caller already did since the stale token was read, so any number of concurrent calls
    that hit a 401 together cause exactly one login.
    """

    def __init__(self, auth_client: AuthClient, api_token: str) -> None:
        self._auth = auth_client
        self._api_token = api_token
        self._access_token: str | None = None
        self._lock = anyio.Lock()
        self.logins = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(auth_url={self._auth.auth_url!r}, logins={self.logins})"

    @property
    def access_token(self) -> str:
        """The current access token (after :meth:`login`)."""
        if self._access_token is None:
            raise RuntimeError("not logged in")
        return self._access_token

    async def login(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> None:
        """Log in with the API token and keep the access token."""
        answer = await self._auth.login(self._api_token, timeout=timeout, retry=retry)
        self._access_token = answer.access_token
        self.logins += 1

    async def refresh(self, stale_token: str) -> None:
        """Log in again, once for every caller that saw ``stale_token`` refused."""
        async with self._lock:
            if self._access_token != stale_token:
                return
            logger.info("The access token expired; logging in again")
            await self.login()
