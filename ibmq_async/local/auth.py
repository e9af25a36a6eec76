"""Users, API tokens and the access tokens of ``loginWithToken``.

An API token (configured per user) is exchanged for an access token that expires after
the configured lifetime. Access tokens are stored by SHA-256 digest only, in memory and
in the database (so logins survive a restart of the service).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ibmq_async.local.config import UserConfig, parse_project
from ibmq_async.local.errors import ClassicApiError, ErrorCode
from ibmq_async.local.store import Store

__all__ = ["Authenticator", "Login", "User", "user_with_secret"]

Project = tuple[str, str, str]


@dataclass(frozen=True)
class User:
    """A user of the service.

    Attributes:
        id: The user id; jobs belong to it.
        token: The API token.
        projects: The ``(hub, group, project)`` the user belongs to, in configured order.
        default: The project flagged ``isDefault``.
        email: The e-mail shown by ``/users/me``.
        api_key: The IBM Cloud API key of the platform API, if any.
        instances: The platform instances (CRNs) the user belongs to.
        jobs_per_minute: Platform jobs the user may create per rate window (0: no limit).
    """

    id: str
    token: str
    projects: tuple[Project, ...]
    default: Project
    email: str | None = None
    api_key: str | None = None
    instances: tuple[str, ...] = ()
    jobs_per_minute: int = 5

    @classmethod
    def from_config(cls, config: UserConfig) -> User:
        """Build a user from its configuration."""
        return cls(
            id=config.user_id,
            token=config.token,
            projects=tuple(parse_project(project) for project in config.projects),
            default=parse_project(config.default),
            email=config.email,
            api_key=config.api_key,
            instances=tuple(config.platform_instances),
            jobs_per_minute=config.jobs_per_minute,
        )

    def member(self, hub: str, group: str, project: str) -> bool:
        """Whether the user belongs to ``hub/group/project``."""
        return (hub, group, project) in self.projects

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, projects={self.projects!r}, instances={self.instances!r})"


@dataclass(frozen=True)
class Login:
    """A successful login: the access token and when it was made and expires."""

    access_token: str
    user: User
    created: float
    expires: float


def _token_bytes(token: str) -> bytes:
    """The bytes of a token; a string UTF-8 cannot encode (a lone surrogate) still has
    bytes, so such a token is merely unknown rather than a crash."""
    return token.encode("utf-8", "surrogatepass")


def user_with_secret(
    users: Iterable[User], secret_of: Callable[[User], str | None], secret: str
) -> User | None:
    """The user whose secret (token, API key) is ``secret``, comparing every user's in
    constant time so that the time taken tells nothing about which matched."""
    found = None
    for user in users:
        own = secret_of(user)
        if own is not None and hmac.compare_digest(_token_bytes(own), _token_bytes(secret)):
            found = user
    return found


def _digest(token: str) -> str:
    return hashlib.sha256(_token_bytes(token)).hexdigest()


class Authenticator:
    """Checks API tokens and access tokens.

    Args:
        users: The users of the service.
        store: Where access tokens are kept.
        ttl: Lifetime of access tokens, in seconds.
        clock: The wall clock (``time.time``); replaceable in tests.
        generated_token: Whether the only user is the default one, whose token is new at
            every start (a refused login then says so).
    """

    def __init__(
        self,
        users: Iterable[User],
        store: Store,
        ttl: float,
        clock: Callable[[], float] = time.time,
        *,
        generated_token: bool = False,
    ) -> None:
        self.users = list(users)
        self.generated_token = generated_token
        self._by_id = {user.id: user for user in self.users}
        self._store = store
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {
            digest: (user_id, expires)
            for digest, user_id, _created, expires in store.load_tokens(clock())
            if user_id in self._by_id
        }

    def user(self, user_id: str) -> User | None:
        """The user with this id, if any."""
        return self._by_id.get(user_id)

    def user_for_api_token(self, api_token: str) -> User | None:
        """The user whose API token this is, if any (constant-time comparisons)."""
        return user_with_secret(self.users, lambda user: user.token, api_token)

    def login(self, api_token: object) -> Login:
        """Exchange an API token for an access token.

        Raises:
            ClassicApiError: 401 if the API token is unknown, 400 if it is not a string.
        """
        if not isinstance(api_token, str) or not api_token:
            raise ClassicApiError.bad_request("apiToken must be a non-empty string.")
        user = self.user_for_api_token(api_token)
        if user is None:
            raise ClassicApiError(401, ErrorCode.INVALID_API_TOKEN, self._refusal(), "LOGIN_FAILED")
        access_token = secrets.token_urlsafe(48)
        created = self._clock()
        expires = created + self.ttl
        with self._lock:
            self._tokens[_digest(access_token)] = (user.id, expires)
        self._store.add_token(_digest(access_token), user.id, created, expires)
        return Login(access_token=access_token, user=user, created=created, expires=expires)

    def _refusal(self) -> str:
        if self.generated_token:
            return (
                "Login failed: the API token is not the one of this service's default user, "
                "which changes at every start of the service: use the token it printed when "
                "it started (or name users with fixed tokens in its configuration)"
            )
        return "Login failed: no user of this service has this API token"

    def authenticate(self, access_token: str | None) -> User:
        """The user an access token belongs to.

        Raises:
            ClassicApiError: 401 if the token is missing, unknown or expired.
        """
        if not access_token:
            raise ClassicApiError.unauthorized(
                "Authentication is required (X-Access-Token).", ErrorCode.AUTHENTICATION_REQUIRED
            )
        digest = _digest(access_token)
        with self._lock:
            entry = self._tokens.get(digest)
            if entry is not None and entry[1] <= self._clock():
                del self._tokens[digest]
                raise ClassicApiError.unauthorized("The access token has expired.")
        if entry is None:
            raise ClassicApiError.unauthorized("Invalid access token.")
        user = self._by_id.get(entry[0])
        if user is None:  # pragma: no cover - users are fixed for a service's lifetime
            raise ClassicApiError.unauthorized("Invalid access token.")
        return user
