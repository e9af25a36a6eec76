"""What the service has seen, for tests and benchmarks.

Per-user counters can be read with a user id or with the user's API token:
``stats.jobs_created[service.token]`` and ``stats.jobs_created["local-user"]`` are the
same number, and so are ``stats.max_active_jobs[(token, "ibmq_vigo")]`` and
``stats.max_active_jobs[(user_id, "ibmq_vigo")]``. Unknown keys read as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServiceStats", "UserCounts"]


class UserCounts(dict[Any, int]):
    """Counts keyed by a user (or a ``(user, backend)`` pair); tokens resolve to user ids.

    Args:
        aliases: API token → user id.
    """

    def __init__(self, aliases: dict[str, str]) -> None:
        super().__init__()
        self._aliases = aliases

    def _resolve(self, key: Any) -> Any:
        if isinstance(key, tuple) and key and isinstance(key[0], str):
            return (self._aliases.get(key[0], key[0]), *key[1:])
        if isinstance(key, str):
            return self._aliases.get(key, key)
        return key

    def __getitem__(self, key: Any) -> int:
        return super().get(self._resolve(key), 0)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._resolve(key))

    def get(self, key: Any, default: Any = 0) -> Any:
        """The count of ``key`` (user id or token), or ``default``."""
        return super().get(self._resolve(key), default)

    def __repr__(self) -> str:
        return f"UserCounts({dict(self)!r})"


@dataclass
class ServiceStats:
    """Counters of one service.

    Attributes:
        create_requests: Every ``POST /Jobs`` received (accepted, replayed or refused).
        jobs_created: Jobs created per user.
        max_active_jobs: The most unfinished jobs seen at once per (user, backend).
        max_running_jobs: The most RUNNING jobs seen at once per backend.
        limit_rejections: Creations refused with error 3458.
        idempotent_replays: Creations answered with an existing job (same Idempotency-Key).
    """

    aliases: dict[str, str] = field(default_factory=dict, repr=False)
    create_requests: int = 0
    jobs_created: UserCounts = field(init=False)
    max_active_jobs: UserCounts = field(init=False)
    max_running_jobs: dict[str, int] = field(default_factory=dict)
    limit_rejections: int = 0
    idempotent_replays: int = 0

    def __post_init__(self) -> None:
        self.jobs_created = UserCounts(self.aliases)
        self.max_active_jobs = UserCounts(self.aliases)

    def max_active(self, user: str, backend: str) -> int:
        """The most unfinished jobs seen at once for a user (id or token) on a backend."""
        return self.max_active_jobs[(user, backend)]

    def created(self, user: str) -> int:
        """How many jobs a user (id or token) created."""
        return self.jobs_created[user]
