"""A connection to an IBM Quantum account: one ``httpx.AsyncClient``, logged in.

:meth:`Connection.connect` runs the start of docs/protocol.md §1.2 (version check, login,
``/users/me``); :meth:`Connection.hubs` lists the hubs and
:meth:`Connection.account_client` gives the REST client of one hub/group/project. The auth
and account clients share the connection's single client, its retry policy, its timeouts
and its access token.

REST calls and status websockets go through the network of
:func:`~ibmq_async.api.transports.open_network`: aiohttp on asyncio, httpx's own
transport and httpx-ws on other event loops, through the proxies of ``proxies=`` or of
the environment.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import httpx

from ibmq_async.api.account import AccountClient
from ibmq_async.api.auth import AuthClient, Authenticator
from ibmq_async.api.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ibmq_async.api.session import (
    CLIENT_APPLICATION,
    CLIENT_APPLICATION_HEADER,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_TIMEOUT,
    ApiClient,
    HttpSession,
)
from ibmq_async.api.transports import DEFAULT_LIMITS, ProxyRoutes, open_network
from ibmq_async.api.websocket import DEFAULT_POLLING_POLICY, PollingPolicy
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models import NetworkHub, UserInfo

__all__ = ["Connection"]


def _as_timeout(timeout: httpx.Timeout | float | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        if None in (timeout.connect, timeout.read, timeout.write, timeout.pool):
            raise IBMQInputValueError("every timeout must be finite (connect, read, write, pool)")
        return timeout
    return httpx.Timeout(float(timeout))


class Connection:
    """A logged-in connection: one HTTP client shared by the auth and account clients.

    Use ``async with await Connection.connect(...) as conn`` or call :meth:`aclose`.
    A connection belongs to the event loop it was created on; using it from another
    raises :class:`~ibmq_async.exceptions.EventLoopMismatchError`.

    Attributes:
        auth_url: The authentication URL given to :meth:`connect`.
        api_url: The REST API base URL (``urls.http``).
        ws_url: The websocket base URL (``urls.ws``), if the service has one.
        user_info: The whole ``/users/me`` answer.
    """

    def __init__(
        self,
        session: HttpSession,
        auth: AuthClient,
        authenticator: Authenticator,
        user_info: UserInfo,
        *,
        polling: PollingPolicy = DEFAULT_POLLING_POLICY,
    ) -> None:
        self._session = session
        self._auth = auth
        self._authenticator = authenticator
        self.user_info = user_info
        self.auth_url = auth.auth_url
        self.api_url = user_info.urls.http.rstrip("/")
        self.ws_url = user_info.urls.ws
        self._polling = polling
        self._accounts: dict[tuple[str, str, str], AccountClient] = {}

    @classmethod
    async def connect(
        cls,
        token: str,
        url: str,
        *,
        proxies: Mapping[str, Any] | None = None,
        verify: bool = True,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        polling: PollingPolicy | None = None,
    ) -> Connection:
        """Check the service, log in and read the user's URLs.

        Args:
            token: The API token.
            url: The authentication URL (``{AUTH}``).
            proxies: ``{"urls": {"http": ..., "https": ...}}`` as the original client took;
                without it, ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` apply.
            verify: Verify TLS certificates.
            timeout: Per-attempt timeouts (a number sets all four); finite by default.
            retry: The default retry policy of the connection.
            transport: An httpx transport to use instead of the network (tests, ASGI).
            polling: How job waits poll and reconnect the websocket.

        Raises:
            IBMQAccountCredentialsInvalidUrl: ``url`` is not an IBM Quantum auth service.
            ApiAuthenticationError: The token was refused.
            ApiError: A call failed.
        """
        if not isinstance(token, str) or not token:
            raise IBMQInputValueError("the API token must be a non-empty string")
        timeouts = _as_timeout(timeout)
        network = open_network(
            verify=verify,
            limits=DEFAULT_LIMITS,
            routes=ProxyRoutes.from_settings(proxies),
            timeout=timeouts,
            max_in_flight=DEFAULT_MAX_IN_FLIGHT,
            transport=transport,
        )
        client = ApiClient(
            transport=network.rest,
            headers={CLIENT_APPLICATION_HEADER: CLIENT_APPLICATION},
            timeout=timeouts,
            follow_redirects=False,
        )
        session = HttpSession(
            client, retry=retry or DEFAULT_RETRY_POLICY, timeout=timeouts, network=network
        )
        session.redactor.add(token)
        try:
            auth = AuthClient(session, url)
            await auth.version()
            authenticator = Authenticator(auth, token)
            await authenticator.login()
            session.auth = authenticator
            user_info = await auth.user_info()
        except BaseException:
            await session.aclose()
            raise
        return cls(
            session, auth, authenticator, user_info, polling=polling or DEFAULT_POLLING_POLICY
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(auth_url={self.auth_url!r}, api_url={self.api_url!r}, "
            f"ws_url={self.ws_url!r}{', closed' if self.closed else ''})"
        )

    @property
    def session(self) -> HttpSession:
        """The HTTP session (client, retry policy, timeouts) of the connection."""
        return self._session

    @property
    def auth_client(self) -> AuthClient:
        """The client of the authentication service."""
        return self._auth

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._session.closed

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy."""
        return self._session.retry

    async def hubs(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None
    ) -> list[NetworkHub]:
        """``GET {API}/Network``: the user's hubs, groups and projects."""
        return await self._auth.hubs(timeout=timeout, retry=retry)

    def account_client(
        self,
        hub: str,
        group: str,
        project: str,
        *,
        retry: RetryPolicy | None = None,
        polling: PollingPolicy | None = None,
    ) -> AccountClient:
        """The REST client of one hub/group/project (one per project, so waits are shared).

        ``retry`` and ``polling`` apply when the client is first made.
        """
        key = (hub, group, project)
        client = self._accounts.get(key)
        if client is None:
            client = AccountClient(
                self._session,
                self.api_url,
                self.ws_url,
                hub,
                group,
                project,
                retry=retry,
                polling=polling or self._polling,
            )
            self._accounts[key] = client
        return client

    async def relogin(self) -> None:
        """Log in again now (a new access token for every client of the connection)."""
        await self._authenticator.login()

    async def aclose(self) -> None:
        """Close the HTTP client. Idempotent."""
        await self._session.aclose()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.aclose()
