"""The job limit of a backend for the current user (``jobsLimit``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ibmq_async.models._base import WireModel

__all__ = ["BackendJobLimit"]


class BackendJobLimit(WireModel):
    """How many jobs the user may have active on a backend, and how many are.

    ``maximum_jobs`` is ``None`` when the backend has no limit (``-1`` on the wire).
    """

    maximum_jobs: int | None = Field(alias="maximumJobs")
    running_jobs: int = Field(alias="runningJobs", ge=0)

    @field_validator("maximum_jobs", mode="before")
    @classmethod
    def _unlimited_is_none(cls, value: Any) -> Any:
        return None if value == -1 else value

    @property
    def active_jobs(self) -> int:
        """The user's active jobs on the backend (the original client's name)."""
        return self.running_jobs

    @property
    def remaining_jobs(self) -> int | None:
        """How many more jobs may be submitted now; ``None`` if unlimited."""
        if self.maximum_jobs is None:
            return None
        return max(self.maximum_jobs - self.running_jobs, 0)

    def to_wire(self, **kwargs: Any) -> dict[str, Any]:
        """Dump as the wire shape, writing an unlimited maximum as ``-1``."""
        data = super().to_wire(**kwargs)
        if data.get("maximumJobs", -1) is None:
            data["maximumJobs"] = -1
        return data
