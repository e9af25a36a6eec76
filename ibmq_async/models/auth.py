"""Answers of the authentication service: version, login, user info and hubs (§1)."""

from __future__ import annotations

from pydantic import Field, RootModel

from ibmq_async.models._base import UtcDatetime, WireModel

__all__ = [
    "LoginResponse",
    "NetworkGroup",
    "NetworkHub",
    "NetworkHubs",
    "NetworkProject",
    "UserInfo",
    "UserUrls",
    "VersionInfo",
]


class VersionInfo(WireModel):
    """The answer of ``GET {AUTH}/version``; ``api-auth`` marks an IBM Quantum auth service."""

    api_auth: str = Field(alias="api-auth")


class LoginResponse(WireModel):
    """The answer of ``POST /users/loginWithToken``: ``id`` is the access token."""

    access_token: str = Field(alias="id", repr=False)
    ttl: int | None = None
    created: UtcDatetime | None = None
    user_id: str | None = Field(default=None, alias="userId")


class UserUrls(WireModel):
    """Where the REST API and the websocket live for this user."""

    http: str
    ws: str | None = None
    services: dict[str, str] = Field(default_factory=dict)


class UserInfo(WireModel):
    """The answer of ``GET /users/me``."""

    urls: UserUrls


class NetworkProject(WireModel):
    """A project of a group, as ``/Network`` lists it."""

    is_default: bool = Field(default=False, alias="isDefault")


class NetworkGroup(WireModel):
    """A group of a hub; its projects are keyed by name."""

    projects: dict[str, NetworkProject] = Field(default_factory=dict)


class NetworkHub(WireModel):
    """A hub the user belongs to; its groups are keyed by name."""

    name: str
    groups: dict[str, NetworkGroup] = Field(default_factory=dict)

    def hgps(self) -> list[tuple[str, str, str, bool]]:
        """Every ``(hub, group, project, is_default)`` of this hub."""
        return [
            (self.name, group_name, project_name, project.is_default)
            for group_name, group in self.groups.items()
            for project_name, project in group.projects.items()
        ]


class NetworkHubs(RootModel[list[NetworkHub]]):
    """The answer of ``GET {API}/Network``."""
