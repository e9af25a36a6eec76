"""Where a hub/group/project's endpoints are (docs/protocol.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProjectUrls"]


@dataclass(frozen=True)
class ProjectUrls:
    """The base URLs of one hub/group/project.

    Attributes:
        api: The API base URL (``urls.http`` of ``/users/me``), ``{API}``.
        hub: The hub.
        group: The group.
        project: The project.
    """

    api: str
    hub: str
    group: str
    project: str

    @property
    def hgp(self) -> str:
        """``{HGP}``: ``{API}/Network/{hub}/Groups/{group}/Projects/{project}``."""
        return f"{self.api}/Network/{self.hub}/Groups/{self.group}/Projects/{self.project}"
