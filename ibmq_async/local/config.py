"""Configuration of the local service: users, backends, reservations and service settings.

A configuration is a :class:`LocalServiceConfig`. Build it in Python, load it from a TOML
file with :meth:`LocalServiceConfig.from_toml`, or take :meth:`LocalServiceConfig.default`
(one user, every bundled device and the simulator). ``ibmq_async/local/README.md``
documents every key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ibmq_async.models._base import to_utc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = [
    "DEFAULT_BACKENDS",
    "DEFAULT_INSTANCE",
    "DEFAULT_PROJECT",
    "DEFAULT_USER_ID",
    "BackendConfig",
    "InstanceConfig",
    "LocalServiceConfig",
    "ReservationConfig",
    "UserConfig",
    "check_crn",
    "crn_account",
    "default_user",
    "generated_api_key",
    "parse_project",
]

DEFAULT_PROJECT = "ibm-q/open/main"
"""The hub/group/project of the default user."""

DEFAULT_USER_ID = "local-user"
"""The user id of the default user (the one made when a configuration names no user)."""

DEFAULT_INSTANCE = (
    "crn:v1:bluemix:public:quantum-computing:us-east:a/local0account:local0instance::"
)
"""The IBM Quantum Platform instance (CRN) of the default user."""

_CRN = re.compile(
    r"^crn:v1:(?:bluemix|staging):(?:public|private):quantum-computing:[a-z0-9-]+:"
    r"a/[A-Za-z0-9_-]+:[A-Za-z0-9_-]+::$"
)


def check_crn(value: str) -> str:
    """Check that ``value`` is the CRN of a quantum-computing instance and return it.

    The form is ``crn:v1:bluemix:public:quantum-computing:<region>:a/<account>:<instance>::``.

    Raises:
        ValueError: If it is not.
    """
    if not _CRN.match(value):
        raise ValueError(
            f"{value!r} is not an instance CRN "
            "(crn:v1:bluemix:public:quantum-computing:<region>:a/<account>:<instance>::)"
        )
    return value


def crn_account(crn: str) -> str:
    """The account id of an instance CRN (the part after ``a/``)."""
    return crn.split(":")[6][2:]


def generated_api_key() -> str:
    """A new IBM Cloud style API key (44 URL-safe characters)."""
    return secrets.token_urlsafe(33)


def parse_project(value: str) -> tuple[str, str, str]:
    """Split ``"hub/group/project"`` into its three names.

    Raises:
        ValueError: If the string does not have three non-empty parts.
    """
    parts = value.split("/")
    if len(parts) != 3 or not all(part.strip() for part in parts):
        raise ValueError(f"a project is 'hub/group/project', got {value!r}")
    hub, group, project = (part.strip() for part in parts)
    return hub, group, project


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class UserConfig(_Strict):
    """A user of the service: an API token and the projects the user belongs to.

    Attributes:
        token: The API token given to ``enable_account``.
        projects: The ``"hub/group/project"`` the user belongs to.
        id: A stable user id; jobs belong to it. Defaults to a digest of the token, so set
            it to keep a user's jobs when the token changes.
        email: Shown by ``/users/me``.
        default_project: The project flagged ``isDefault`` (the first one if unset).
        api_key: The IBM Cloud API key of the platform API (``POST /identity/token``);
            without one the user has the classic API only.
        instances: The CRNs of the platform instances the user belongs to. A user with an
            ``api_key`` and no instances gets one derived from the user id.
        jobs_per_minute: How many platform jobs the user may create per rate window
            (``rate_window_seconds``, a minute by default); ``0`` for no limit.
    """

    token: str = Field(min_length=1, repr=False)
    projects: list[str] = Field(default_factory=lambda: [DEFAULT_PROJECT], min_length=1)
    id: str | None = None
    email: str | None = None
    default_project: str | None = None
    api_key: str | None = Field(default=None, min_length=1, repr=False)
    instances: list[str] = Field(default_factory=list)
    jobs_per_minute: int = Field(default=5, ge=0)

    @field_validator("instances")
    @classmethod
    def _check_instances(cls, value: list[str]) -> list[str]:
        for crn in value:
            check_crn(crn)
        if len(set(value)) != len(value):
            raise ValueError("an instance is listed twice")
        return value

    @field_validator("projects")
    @classmethod
    def _check_projects(cls, value: list[str]) -> list[str]:
        normalised = ["/".join(parse_project(item)) for item in value]
        if len(set(normalised)) != len(normalised):
            raise ValueError("a project is listed twice")
        return normalised

    @model_validator(mode="after")
    def _check_default(self) -> UserConfig:
        if self.default_project is not None:
            default = "/".join(parse_project(self.default_project))
            if default not in self.projects:
                raise ValueError(f"default_project {default!r} is not among the projects")
        return self

    @property
    def user_id(self) -> str:
        """The id jobs of this user are stored under."""
        if self.id:
            return self.id
        return "user-" + hashlib.sha256(self.token.encode()).hexdigest()[:16]

    @property
    def default(self) -> str:
        """The user's default project."""
        return "/".join(parse_project(self.default_project or self.projects[0]))

    @property
    def platform_instances(self) -> list[str]:
        """The user's platform instances (one derived from the user id if none is listed
        and the user has an API key)."""
        if self.instances or self.api_key is None:
            return list(self.instances)
        digest = hashlib.sha256(self.user_id.encode()).hexdigest()
        return [f"crn:v1:bluemix:public:quantum-computing:us-east:a/{digest[:32]}:{digest[32:]}::"]


class BackendConfig(_Strict):
    """A backend the service hosts.

    Attributes:
        name: The backend name clients use (``ibmq_vigo``).
        device: A bundled snapshot (``vigo``, ``lima``, ``montreal``, ``washington``,
            ``fez``), ``"simulator"``, or the path of a directory holding ``conf.json``,
            ``props.json`` and optionally ``defs.json``.
        max_jobs: How many unfinished jobs one user may have on the backend; ``-1`` for no
            limit. Reaching it makes job creation fail with error code 3458.
        workers: How many jobs run at the same time.
        run_delay: Seconds each job stays RUNNING on top of the simulation time.
        queue_delay: Seconds each job stays QUEUED at least.
        paused: Start with the queue paused: jobs stay QUEUED until the backend is resumed.
        strict: Reject (ERROR_VALIDATING_JOB) Qobjs that use gates outside the device's basis
            gates or two-qubit gates on uncoupled qubits, as real devices did.
        projects: The ``"hub/group/project"`` that see the backend; all if unset.
        operational: What ``queue/status`` reports as ``state``.
        status: What ``queue/status`` reports as ``status`` (``active``, ``maintenance``...).
        instances: The platform instances (CRNs) that see the backend; all if unset.
        seconds_per_shot: The quantum seconds one shot of one circuit costs; by default the
            device's repetition time (``rep_times`` or ``default_rep_delay``).
        input_allowed: What the configuration reports as ``input_allowed`` (the kinds of
            input the backend takes); by default the device snapshot's own list, else
            ``["job", "runtime"]`` as IBM's backends reported.
        noise: Simulate the device with a noise model built from its calibration (gate
            errors, readout errors, T1/T2; see :mod:`ibmq_async.local.noise`) instead of
            ideally. Only for devices: the simulator has no calibration.
    """

    name: str = Field(min_length=1, pattern=r"^[^/\s]+$")
    device: str = Field(min_length=1)
    max_jobs: int = Field(default=-1, ge=-1)
    workers: int = Field(default=1, ge=1, le=64)
    run_delay: float = Field(default=0.0, ge=0.0)
    queue_delay: float = Field(default=0.0, ge=0.0)
    paused: bool = False
    strict: bool = False
    projects: list[str] | None = None
    operational: bool = True
    status: str = "active"
    instances: list[str] | None = None
    seconds_per_shot: float | None = Field(default=None, ge=0.0)
    input_allowed: list[str] | None = None
    noise: bool = False

    @field_validator("projects")
    @classmethod
    def _check_projects(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return ["/".join(parse_project(item)) for item in value]

    @field_validator("instances")
    @classmethod
    def _check_instances(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for crn in value:
                check_crn(crn)
        return value


_PLAN_PRICING = {
    "open": "free",
    "lite": "free",
    "trial": "trial",
    "pay-as-you-go": "paygo",
    "payg": "paygo",
    "flex": "subscription",
    "premium": "subscription",
    "on-prem": "subscription",
    "dedicated": "subscription",
}


class InstanceConfig(_Strict):
    """A platform instance: its name, plan and allocation.

    Attributes:
        crn: The instance CRN (as listed in users' ``instances``).
        name: Its name in instance discovery; by default ``local-<instance part of the CRN>``.
        plan: The plan name (``open``, ``premium``, ``flex``, ``pay-as-you-go``...); its
            pricing type (``free``, ``paygo``, ``subscription``...) follows from it.
        allocation_seconds: The quantum seconds the instance may use per usage period;
            no limit when unset. Once used up, job creation answers 409.
        tags: Tags shown in instance discovery.
    """

    crn: str
    name: str | None = None
    plan: str = Field(default="open", min_length=1)
    allocation_seconds: float | None = Field(default=None, ge=0.0)
    tags: list[str] = Field(default_factory=list)

    @field_validator("crn")
    @classmethod
    def _check_crn(cls, value: str) -> str:
        return check_crn(value)

    @property
    def display_name(self) -> str:
        """The instance's name."""
        return self.name or "local-" + self.crn.split(":")[7]

    @property
    def pricing_type(self) -> str:
        """The pricing type of the plan."""
        return _PLAN_PRICING.get(self.plan.lower(), "paid")

    @property
    def plan_id(self) -> str:
        """The plan's catalog id (``service_plan_unique_id``), derived from its name."""
        return "plan-" + hashlib.sha256(self.plan.lower().encode()).hexdigest()[:24]


class ReservationConfig(_Strict):
    """A reservation (booking) of a backend by a project.

    Attributes:
        backend: The name of the reserved backend.
        start: When it starts (a TOML datetime or an ISO 8601 string; naive means UTC).
        end: When it ends.
        project: The ``"hub/group/project"`` holding it.
        mode: The reservation mode (``dedicated`` or ``fairshare``...).
        id: Its id; generated if unset.
    """

    backend: str
    start: datetime
    end: datetime
    project: str = DEFAULT_PROJECT
    mode: str = "dedicated"
    id: str | None = None

    @field_validator("project")
    @classmethod
    def _check_project(cls, value: str) -> str:
        return "/".join(parse_project(value))

    @model_validator(mode="after")
    def _check_window(self) -> ReservationConfig:
        if to_utc(self.end) <= to_utc(self.start):
            raise ValueError("a reservation must end after it starts")
        return self


DEFAULT_BACKENDS: tuple[tuple[str, str], ...] = (
    ("ibmq_vigo", "vigo"),
    ("ibmq_lima", "lima"),
    ("ibmq_montreal", "montreal"),
    ("ibm_washington", "washington"),
    ("ibm_fez", "fez"),
    ("ibmq_qasm_simulator", "simulator"),
)
"""The backends of the default configuration: (name, device)."""


def default_backends() -> list[BackendConfig]:
    """Every bundled device (5 jobs per user, one worker) and the simulator (no limit)."""
    backends = []
    for name, device in DEFAULT_BACKENDS:
        if device == "simulator":
            backends.append(BackendConfig(name=name, device=device, max_jobs=-1, workers=2))
        else:
            backends.append(BackendConfig(name=name, device=device, max_jobs=5, workers=1))
    return backends


def default_user() -> UserConfig:
    """The default user: ``local-user`` in ``ibm-q/open/main`` and the instance
    :data:`DEFAULT_INSTANCE`, with a new classic token and a new API key."""
    return UserConfig(
        token=secrets.token_hex(32),
        projects=[DEFAULT_PROJECT],
        id=DEFAULT_USER_ID,
        api_key=generated_api_key(),
        instances=[DEFAULT_INSTANCE],
    )


class LocalServiceConfig(_Strict):
    """Everything the local service needs to start.

    Attributes:
        users: The users; if empty, one user ``local-user`` in ``ibm-q/open/main`` whose
            token is generated at every start and never stored (its jobs stay its own).
        backends: The backends; if empty, those of :func:`default_backends`.
        reservations: Reservations of backends by projects.
        db: The SQLite database file; ``None`` for a temporary file removed on close.
        token_ttl: Lifetime in seconds of the access tokens ``loginWithToken`` gives.
        max_upload_bytes: The largest request body (Qobj upload) accepted.
        upload_timeout: Seconds a job may stay CREATING (created, Qobj not confirmed)
            before it stops counting against the job limit: when the limit is reached,
            such jobs end in ERROR_CREATING_JOB.
        url_ttl: Lifetime in seconds of the object storage URLs (upload and download).
        job_visibility: ``"project"``: a user sees every job of the projects they belong
            to; ``"user"``: only their own.
        properties_history: How many earlier daily calibrations each device has besides
            its bundled snapshot (for ``properties(datetime=...)``).
        public_url: The base URL (``http://host:port``) to advertise in ``/users/me`` and
            object storage URLs; by default the one each request came in on.
        instances: Names, plans and allocations of platform instances; an instance a user
            lists without an entry here has the ``open`` plan and no allocation.
        rate_window_seconds: The window of the users' ``jobs_per_minute`` (60 s; shorten
            it for tests).
        session_max_ttl: The longest a session or batch may live (seconds), and the
            ``max_ttl`` of those that ask for none.
        session_interactive_ttl: How long a session may wait for its next job (seconds)
            before it becomes inactive.
        usage_period_days: The rolling period usage is counted over.
    """

    users: list[UserConfig] = Field(default_factory=list)
    backends: list[BackendConfig] = Field(default_factory=default_backends)
    reservations: list[ReservationConfig] = Field(default_factory=list)
    db: Path | None = None
    token_ttl: float = Field(default=3600.0, gt=0)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    upload_timeout: float = Field(default=600.0, gt=0)
    url_ttl: float = Field(default=3600.0, gt=0)
    job_visibility: Literal["project", "user"] = "project"
    properties_history: int = Field(default=7, ge=0, le=365)
    public_url: str | None = None
    instances: list[InstanceConfig] = Field(default_factory=list)
    rate_window_seconds: float = Field(default=60.0, gt=0)
    session_max_ttl: int = Field(default=28800, gt=0)
    session_interactive_ttl: float = Field(default=60.0, gt=0)
    usage_period_days: int = Field(default=28, gt=0, le=3660)

    @model_validator(mode="after")
    def _check_consistency(self) -> LocalServiceConfig:
        if not self.backends:
            object.__setattr__(self, "backends", default_backends())
        names = [backend.name for backend in self.backends]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"backend names must be unique: {sorted(duplicates)}")
        tokens = [user.token for user in self.users]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two users have the same token")
        ids = [user.user_id for user in self.users]
        if len(set(ids)) != len(ids):
            raise ValueError("two users have the same id")
        for reservation in self.reservations:
            if reservation.backend not in names:
                raise ValueError(f"reservation of an unknown backend {reservation.backend!r}")
        keys = [user.api_key for user in self.users if user.api_key is not None]
        if len(set(keys)) != len(keys):
            raise ValueError("two users have the same api_key")
        crns = [instance.crn for instance in self.instances]
        if len(set(crns)) != len(crns):
            raise ValueError("an instance is configured twice")
        known = set(crns) | {crn for user in self.users for crn in user.platform_instances}
        if not self.users:
            known.add(DEFAULT_INSTANCE)
        for backend in self.backends:
            for crn in backend.instances or ():
                if crn not in known:
                    raise ValueError(f"backend {backend.name!r} names an unknown instance {crn!r}")
        if self.public_url is not None:
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        return self

    @classmethod
    def default(cls) -> LocalServiceConfig:
        """One user (:func:`default_user`: a generated token in ``ibm-q/open/main``, a
        generated API key and the instance :data:`DEFAULT_INSTANCE`), every bundled device
        (``ibmq_vigo``, ``ibmq_lima``, ``ibmq_montreal``, ``ibm_washington``, ``ibm_fez``)
        and ``ibmq_qasm_simulator``."""
        return cls(users=[default_user()])

    @classmethod
    def from_toml(cls, path: str | Path) -> LocalServiceConfig:
        """Load a configuration from a TOML file.

        A relative ``db`` path is taken relative to the file's directory.

        Raises:
            OSError: If the file cannot be read.
            ValueError: If the file is not valid TOML or not a valid configuration.
        """
        path = Path(path)
        with path.open("rb") as handle:
            try:
                data: dict[str, Any] = tomllib.load(handle)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: not valid TOML: {error}") from error
        config = cls.model_validate(data)
        if config.db is not None and not config.db.is_absolute():
            config = config.model_copy(update={"db": path.parent / config.db})
        return config

    @classmethod
    def coerce(cls, value: LocalServiceConfig | str | Path | None) -> LocalServiceConfig:
        """Turn ``None`` (the default), a TOML path or a configuration into a configuration."""
        if value is None:
            return cls.default()
        if isinstance(value, LocalServiceConfig):
            return value
        return cls.from_toml(value)

    def instance(self, crn: str) -> InstanceConfig:
        """The configuration of an instance (defaults for one not in ``[[instances]]``)."""
        for instance in self.instances:
            if instance.crn == crn:
                return instance
        return InstanceConfig(crn=crn)

    def backend(self, name: str) -> BackendConfig | None:
        """The configuration of the backend ``name``, if any."""
        for backend in self.backends:
            if backend.name == name:
                return backend
        return None
