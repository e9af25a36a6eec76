"""A connection to a classic IBM Quantum account: one session, logged in.

:meth:`Connection.connect` runs the start of docs/protocol.md §1.2 (version check, login,
``/users/me``); :meth:`Connection.hubs` lists the hubs and :meth:`Connection.project`
gives the client of one hub/group/project. Everything shares the connection's session:
its ``httpx.AsyncClient`` and network (aiohttp on asyncio, httpx's own transport and
httpx-ws elsewhere, through the proxies of ``proxies=`` or of the environment), its
retry policy, its timeouts and its login.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import httpx

from ibmq_async.api.classic.auth import AuthService, ClassicLogin
from ibmq_async.api.classic.errors import classic_error_details
from ibmq_async.api.classic.project import ProjectClient
from ibmq_async.api.retry import RetryPolicy
from ibmq_async.api.session import HttpSession
from ibmq_async.api.waits import DEFAULT_POLLING_POLICY, PollingPolicy
from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.models import NetworkHub, UserInfo

__all__ = ["Connection"]


class Connection:
    """A logged-in connection to a classic account.

    Use ``async with await Connection.connect(...) as conn`` or call :meth:`aclose`.
    A connection belongs to the event loop it was created on; using it from another
    raises :class:`~ibmq_async.exceptions.EventLoopMismatchError`.

    Attributes:
        auth_url: The authentication URL given to :meth:`connect`.
        api_url: The REST API base URL (``urls.http``).
        ws_url: The websocket base URL (``urls.ws``), if the service has one.
        user_info: The whole ``/users/me`` answer.
        login: The connection's credential (an ``httpx.Auth`` flow).
    """

    def __init__(
        self,
        session: HttpSession,
        auth: AuthService,
        login: ClassicLogin,
        user_info: UserInfo,
        *,
        polling: PollingPolicy = DEFAULT_POLLING_POLICY,
    ) -> None:
        self._session = session
        self._auth = auth
        self.login = login
        self.user_info = user_info
        self.auth_url = auth.auth_url
        self.api_url = user_info.urls.http.rstrip("/")
        self.ws_url = user_info.urls.ws
        self._polling = polling
        self._projects: dict[tuple[str, str, str], ProjectClient] = {}

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
            ApiError: A call failed (after retries).
        """
        if not isinstance(token, str) or not token:
            raise IBMQInputValueError("the API token must be a non-empty string")
        session = HttpSession.open(
            error_parser=classic_error_details,
            proxies=proxies,
            verify=verify,
            timeout=timeout,
            retry=retry,
            transport=transport,
        )
        session.redactor.add(token)
        try:
            auth = AuthService(session, url)
            await auth.version()
            login = ClassicLogin(auth, token)
            await login.login()
            session.auth = login
            user_info = await auth.user_info()
        except BaseException:
            await session.aclose()
            raise
        return cls(session, auth, login, user_info, polling=polling or DEFAULT_POLLING_POLICY)

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
    def auth_service(self) -> AuthService:
        """The endpoints of the authentication service."""
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
        """``GET {API}/Network``: the user's hubs, groups and projects. Retried."""
        return await self._auth.hubs(self.api_url, timeout=timeout, retry=retry)

    def project(
        self,
        hub: str,
        group: str,
        project: str,
        *,
        retry: RetryPolicy | None = None,
        polling: PollingPolicy | None = None,
    ) -> ProjectClient:
        """The client of one hub/group/project (one per project, so waits are shared).

        ``retry`` and ``polling`` apply when the client is first made.
        """
        key = (hub, group, project)
        client = self._projects.get(key)
        if client is None:
            client = ProjectClient(
                self._session,
                self.api_url,
                self.ws_url,
                hub,
                group,
                project,
                retry=retry,
                polling=polling or self._polling,
            )
            self._projects[key] = client
        return client

    async def relogin(self) -> None:
        """Log in again now (a new access token for every client of the connection)."""
        await self.login.login()

    async def aclose(self) -> None:
        """Close the session. Idempotent."""
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
