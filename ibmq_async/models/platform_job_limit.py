"""What limits job submission on a backend of the platform channel (``backend.job_limit()``).

The classic API limits how many jobs a user may have active on a backend
(:class:`~ibmq_async.models.BackendJobLimit`, error 3458). IBM Quantum Platform has no such
limit; it limits how fast jobs are created (IBM documents 5 a minute per user) and how much
an instance may use. :class:`PlatformJobLimit` has the classic model's names
(``maximum_jobs``, ``active_jobs``, ``running_jobs``, ``remaining_jobs``) so code written
for the classic channel reads it, and says what the platform does limit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ibmq_async.models.platform import InstanceUsage

__all__ = ["JobRate", "PlatformJobLimit"]


class JobRate(BaseModel):
    """A job creation rate: at most ``jobs`` created per ``window_seconds``."""

    model_config = ConfigDict(frozen=True)

    jobs: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class PlatformJobLimit(BaseModel):
    """What limits job submission on a backend of IBM Quantum Platform.

    Attributes:
        backend_name: The backend.
        maximum_jobs: Always ``None``: the platform limits no number of pending jobs.
        pending_jobs: The instance's jobs queued or running on the backend.
        job_rate: The creation rate the client paces itself to from the start
            (``enable_account(..., job_rate=...)``); ``None`` when it follows the
            service's 429 answers only (each ``Retry-After`` honoured).
        usage: The instance's usage (``usage_limit_reached``: no job can be created until
            the period renews).
    """

    model_config = ConfigDict(frozen=True)

    backend_name: str
    maximum_jobs: None = None
    pending_jobs: int = Field(ge=0)
    job_rate: JobRate | None = None
    usage: InstanceUsage

    @property
    def active_jobs(self) -> int:
        """The instance's pending jobs on the backend (the classic model's name)."""
        return self.pending_jobs

    @property
    def running_jobs(self) -> int:
        """The instance's pending jobs on the backend (the classic model's field name)."""
        return self.pending_jobs

    @property
    def remaining_jobs(self) -> int | None:
        """``None`` (no limit), or ``0`` once the instance has used its allocation."""
        return 0 if self.usage.usage_limit_reached else None
