"""The classic authentication service and the hub list (docs/protocol.md §1, §2.1).

:class:`AuthService` has one coroutine per endpoint: ``/version``, ``/users/loginWithToken``,
``/users/me`` on the auth URL, and ``/Network`` (the hubs) on the API URL.
:class:`ClassicLogin` is the ``httpx.Auth`` flow of a connection: it exchanges the API
token for an access token, sends it as ``X-Access-Token`` and logs in again, once for
every concurrent caller, when the service answers 401.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from ibmq_async.api.auth import IssuedToken, TokenAuth
from ibmq_async.api.errors import protocol_error, validate_model
from ibmq_async.api.resource import Resource
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import (
    ApiNotFoundError,
    ApiProtocolError,
    IBMQAccountCredentialsInvalidUrl,
)
from ibmq_async.models import LoginResponse, NetworkHub, NetworkHubs, UserInfo, VersionInfo

__all__ = ["ACCESS_TOKEN_HEADER", "AuthService", "AuthUrls", "ClassicLogin"]

ACCESS_TOKEN_HEADER = "X-Access-Token"


@dataclass(frozen=True)
class AuthUrls:
    """Where the authentication endpoints are (``{AUTH}``: the URL given to connect)."""

    auth: str

    @property
    def version(self) -> str:
        return f"{self.auth}/version"

    @property
    def login(self) -> str:
        return f"{self.auth}/users/loginWithToken"

    @property
    def me(self) -> str:
        return f"{self.auth}/users/me"

    @staticmethod
    def hubs(api_url: str) -> str:
        return f"{api_url}/Network"


class AuthService(Resource):
    """The endpoints of the authentication service and the hub list.

    Args:
        session: The session of the connection.
        auth_url: The authentication URL (``{AUTH}``), e.g. ``https://.../api``.
    """

    def __init__(self, session: HttpSession, auth_url: str) -> None:
        super().__init__(session)
        self.urls = AuthUrls(auth_url.rstrip("/"))

    @property
    def auth_url(self) -> str:
        """The authentication URL."""
        return self.urls.auth

    def __repr__(self) -> str:
        return f"{type(self).__name__}(auth_url={self.auth_url!r})"

    async def version(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> VersionInfo:
        """``GET {AUTH}/version``: check that the URL is an IBM Quantum auth service.

        Retried like any GET.

        Raises:
            IBMQAccountCredentialsInvalidUrl: ``/version`` does not exist or is not a JSON
                object with ``api-auth`` (chained from the API error).
            ApiError: The call failed.
        """
        try:
            data, response = await self._json(
                "GET", self.urls.version, authenticated=False, timeout=timeout, retry=retry
            )
            if not isinstance(data, dict):
                raise protocol_error("The version answer is not a JSON object", response)
            return validate_model(VersionInfo, data, what="version answer", response=response)
        except (ApiProtocolError, ApiNotFoundError) as exc:
            raise IBMQAccountCredentialsInvalidUrl(
                f"{self.auth_url} is not a valid IBM Quantum authentication URL "
                f"(GET /version gave no 'api-auth')"
            ) from exc

    async def login(
        self, api_token: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> LoginResponse:
        """``POST {AUTH}/users/loginWithToken``: exchange the API token for an access token.

        Retried (logging in twice is harmless).

        Raises:
            AuthenticationLicenseError: The license must be accepted first.
            ApiAuthenticationError: The token was refused.
            ApiError: The call failed.
        """
        self._session.redactor.add(api_token)
        data, response = await self._json(
            "POST",
            self.urls.login,
            json_body={"apiToken": api_token},
            authenticated=False,
            idempotent=True,
            timeout=timeout,
            retry=retry,
        )
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            self._session.redactor.add(data["id"])
        return validate_model(
            LoginResponse, data, what="login answer", response=response, sensitive=True
        )

    async def user_info(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> UserInfo:
        """``GET {AUTH}/users/me``: where the API and the websocket are for this user."""
        return await self._model(
            UserInfo, "GET", self.urls.me, what="user info", timeout=timeout, retry=retry
        )

    async def hubs(
        self, api_url: str, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[NetworkHub]:
        """``GET {API}/Network``: the hubs, groups and projects of the user."""
        data, response = await self._json(
            "GET", AuthUrls.hubs(api_url), timeout=timeout, retry=retry
        )
        return validate_model(NetworkHubs, data or [], what="hub list", response=response).root


class ClassicLogin(TokenAuth):
    """The classic API's credential: an access token from ``loginWithToken``, sent as
    ``X-Access-Token``, renewed on a 401 (its lifetime is not relied on, as the original
    client did not)."""

    def __init__(self, service: AuthService, api_token: str) -> None:
        super().__init__()
        self._service = service
        self._api_token = api_token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(auth_url={self._service.auth_url!r}, logins={self.renewals})"

    async def obtain(self) -> IssuedToken:
        answer = await self._service.login(self._api_token)
        return IssuedToken(answer.access_token, issued_at=time.monotonic())

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers[ACCESS_TOKEN_HEADER] = token
