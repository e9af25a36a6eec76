"""Saved accounts and credentials from the environment, for both channels.

The saved accounts live in one JSON file (by default ``~/.ibmq_async/credentials.json``;
the environment variable ``IBMQ_ASYNC_CREDENTIALS_FILE`` names another), one section per
channel: ``ibmq`` for the classic channel, ``ibm_quantum_platform`` for the platform
channel. It is written atomically (a temporary file in the same folder, then a rename)
with mode 0600, and it is the only file the SDK ever writes a token or an API key to.
Unlike the original clients, any URL may be saved, so a saved account can point at a
local service.

The classic channel's account (:class:`Credentials`) is an API token and the
authentication URL; it loads from ``QE_TOKEN``/``QE_URL`` or the file.

The platform channel's account (:class:`PlatformCredentials`, ``channel=
"ibm_quantum_platform"``, or its alias ``"ibm_cloud"``) is an IBM Cloud API key, an
instance (a CRN, parsed and checked by :func:`parse_crn`, or an instance name), the API
root the client appends ``/v1/...`` to, and the IAM host of ``/identity/token``. It loads
(:func:`load_platform_credentials`) from ``QISKIT_IBM_TOKEN``, ``QISKIT_IBM_INSTANCE``,
``QISKIT_IBM_URL`` and ``QISKIT_IBM_CHANNEL``, then the file, then, read-only, the
account qiskit-ibm-runtime saved (``~/.qiskit/qiskit-ibm.json``, chosen by the rules of
its ``AccountManager.get``), so a user of that client needs nothing new.

No repr and no error message ever shows a token or an API key.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ibmq_async.exceptions import (
    IBMQAccountCredentialsInvalidFormat,
    IBMQAccountCredentialsInvalidToken,
    IBMQAccountCredentialsNotFound,
    IBMQAccountValueError,
)

__all__ = [
    "CLASSIC_CHANNEL",
    "DEFAULT_AUTH_URL",
    "DEFAULT_IAM_URL",
    "DEFAULT_PLATFORM_URL",
    "PLATFORM_CHANNEL",
    "PLATFORM_CHANNELS",
    "QISKIT_RUNTIME_ACCOUNTS_FILE",
    "Credentials",
    "Crn",
    "PlatformCredentials",
    "check_channel",
    "credentials_file",
    "default_platform_url",
    "delete_credentials",
    "delete_platform_credentials",
    "is_crn",
    "is_platform_channel",
    "load_account_credentials",
    "load_credentials",
    "load_platform_credentials",
    "parse_crn",
    "read_credentials_from_environment",
    "read_platform_credentials_from_environment",
    "read_qiskit_runtime_credentials",
    "read_saved_credentials",
    "read_saved_platform_credentials",
    "save_credentials",
    "save_platform_credentials",
]

DEFAULT_AUTH_URL = "https://auth.quantum-computing.ibm.com/api"
"""The authentication URL of IBM Quantum, the default of ``enable_account``."""

CREDENTIALS_FILE_VARIABLE = "IBMQ_ASYNC_CREDENTIALS_FILE"
_SECTION = "ibmq"


@dataclass(frozen=True)
class Credentials:
    """What is needed to log in, and which provider to pick by default.

    The token is kept out of the repr, so printing credentials never shows it.
    """

    token: str = field(repr=False)
    url: str = DEFAULT_AUTH_URL
    hub: str | None = None
    group: str | None = None
    project: str | None = None
    proxies: Mapping[str, Any] | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not self.token.strip():
            raise IBMQAccountCredentialsInvalidToken("the API token must be a non-empty string")
        if not isinstance(self.url, str) or not self.url.strip():
            raise IBMQAccountValueError("the URL must be a non-empty string")
        given = [self.hub, self.group, self.project]
        if any(given) and not all(given):
            raise IBMQAccountValueError(
                "hub, group and project must be given together or not at all"
            )

    @property
    def default_provider(self) -> tuple[str, str, str] | None:
        """The ``(hub, group, project)`` to use by default, if one was given."""
        if self.hub and self.group and self.project:
            return (self.hub, self.group, self.project)
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form written to the credentials file."""
        data: dict[str, Any] = {"token": self.token, "url": self.url, "verify": self.verify}
        if self.default_provider:
            data["default_provider"] = "/".join(self.default_provider)
        if self.proxies:
            data["proxies"] = dict(self.proxies)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str) -> Credentials:
        """Build credentials from the form :meth:`to_dict` writes.

        Raises:
            IBMQAccountCredentialsInvalidFormat: A key is missing or has the wrong type;
                the message names the key and the source.
        """
        token = data.get("token")
        url = data.get("url", DEFAULT_AUTH_URL)
        if not isinstance(token, str) or not isinstance(url, str):
            raise IBMQAccountCredentialsInvalidFormat(
                f"{source}: 'token' and 'url' must be strings"
            )
        hub = group = project = None
        default_provider = data.get("default_provider")
        if default_provider is not None:
            parts = str(default_provider).split("/")
            if len(parts) != 3 or not all(parts):
                raise IBMQAccountCredentialsInvalidFormat(
                    f"{source}: 'default_provider' must be 'hub/group/project', "
                    f"got {default_provider!r}"
                )
            hub, group, project = parts
        proxies = data.get("proxies")
        if proxies is not None and not isinstance(proxies, Mapping):
            raise IBMQAccountCredentialsInvalidFormat(f"{source}: 'proxies' must be an object")
        verify = data.get("verify", True)
        if not isinstance(verify, bool):
            raise IBMQAccountCredentialsInvalidFormat(f"{source}: 'verify' must be true or false")
        return cls(
            token=token,
            url=url,
            hub=hub,
            group=group,
            project=project,
            proxies=proxies,
            verify=verify,
        )


def credentials_file() -> Path:
    """The path of the saved-account file (``IBMQ_ASYNC_CREDENTIALS_FILE`` or the default)."""
    override = os.environ.get(CREDENTIALS_FILE_VARIABLE)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".ibmq_async" / "credentials.json"


def read_credentials_from_environment() -> Credentials | None:
    """Credentials from ``QE_TOKEN`` and ``QE_URL`` (both needed), with optional hub/group/project.

    Raises:
        IBMQAccountCredentialsInvalidFormat: Only one of ``QE_TOKEN`` and ``QE_URL`` is set.
    """
    token = os.environ.get("QE_TOKEN")
    url = os.environ.get("QE_URL")
    if not token and not url:
        return None
    if not token or not url:
        raise IBMQAccountCredentialsInvalidFormat(
            "both QE_TOKEN and QE_URL must be set to load an account from the environment"
        )
    return Credentials(
        token=token,
        url=url,
        hub=os.environ.get("QE_HUB") or None,
        group=os.environ.get("QE_GROUP") or None,
        project=os.environ.get("QE_PROJECT") or None,
    )


def _read_document(path: Path) -> dict[str, Any] | None:
    """The saved-account file as a JSON object, or ``None`` if there is no file.

    Raises:
        IBMQAccountCredentialsInvalidFormat: The file is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise IBMQAccountCredentialsInvalidFormat(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(document, dict):
        raise IBMQAccountCredentialsInvalidFormat(f"{path}: expected a JSON object")
    return document


def _read_section(path: Path, section: str) -> dict[str, Any] | None:
    document = _read_document(path)
    if document is None or document.get(section) is None:
        return None
    value = document[section]
    if not isinstance(value, dict):
        raise IBMQAccountCredentialsInvalidFormat(f"{path}: '{section}' must be an object")
    return value


def _write_document(path: Path, document: Mapping[str, Any]) -> None:
    """Write the file atomically, readable by its owner only; remove it when empty."""
    if not document:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(document, indent=2) + "\n"
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _save_section(path: Path, section: str, data: Mapping[str, Any], overwrite: bool) -> None:
    document = _read_document(path) or {}
    if document.get(section) is not None and not overwrite:
        raise IBMQAccountValueError(
            f"an account is already saved in {path}; pass overwrite=True to replace it"
        )
    document[section] = dict(data)
    _write_document(path, document)


def _delete_section(path: Path, section: str) -> None:
    document = _read_document(path) or {}
    if document.get(section) is None:
        raise IBMQAccountCredentialsNotFound(f"no account is saved in {path}")
    del document[section]
    _write_document(path, document)


def read_saved_credentials(path: Path | None = None) -> Credentials | None:
    """The saved account, or ``None`` if nothing is saved.

    Raises:
        IBMQAccountCredentialsInvalidFormat: The file is not valid JSON of the expected shape.
    """
    path = path or credentials_file()
    section = _read_section(path, _SECTION)
    if section is None:
        return None
    return Credentials.from_dict(section, source=str(path))


def load_credentials() -> Credentials:
    """Credentials from the environment first, then the saved file.

    Raises:
        IBMQAccountCredentialsNotFound: Neither the environment nor the file has an account.
        IBMQAccountCredentialsInvalidFormat: What was found is malformed.
    """
    found = read_credentials_from_environment() or read_saved_credentials()
    if found is None:
        raise IBMQAccountCredentialsNotFound(
            "no account found: set QE_TOKEN and QE_URL, or call IBMQ.save_account() first "
            f"(looked in {credentials_file()})"
        )
    return found


def save_credentials(credentials: Credentials, *, overwrite: bool = False) -> Path:
    """Write the account to the credentials file atomically, readable by the owner only.

    The platform channel's saved account, if any, is kept.

    Args:
        credentials: The account to save.
        overwrite: Replace an account that is already saved.

    Returns:
        The path written.

    Raises:
        IBMQAccountValueError: An account is already saved and ``overwrite`` is false.
    """
    path = credentials_file()
    read_saved_credentials(path)  # refuse to rewrite a file that cannot be read
    _save_section(path, _SECTION, credentials.to_dict(), overwrite)
    return path


def delete_credentials() -> None:
    """Delete the saved account (the file goes when no account of either channel is left).

    Raises:
        IBMQAccountCredentialsNotFound: No account is saved.
    """
    path = credentials_file()
    if read_saved_credentials(path) is None:
        raise IBMQAccountCredentialsNotFound(f"no account is saved in {path}")
    _delete_section(path, _SECTION)


# --- the platform channel ---------------------------------------------------------------------

CLASSIC_CHANNEL = "ibm_quantum"
"""The classic channel (the API of qiskit-ibmq-provider), the default of ``enable_account``."""

PLATFORM_CHANNEL = "ibm_quantum_platform"
"""The platform channel: IBM Quantum Platform's runtime API."""

PLATFORM_CHANNELS = (PLATFORM_CHANNEL, "ibm_cloud")
"""The names of the platform channel (``ibm_cloud`` is qiskit-ibm-runtime's older name of
the same API)."""

DEFAULT_PLATFORM_URL = "https://quantum.cloud.ibm.com/api"
"""The platform's API root for instances in ``us-east`` (and instances given by name)."""

DEFAULT_IAM_URL = "https://iam.cloud.ibm.com"
"""The IBM Cloud IAM host that exchanges an API key for a bearer token."""

IAM_URL_VARIABLE = "IAM_URL"
"""The environment variable that overrides the IAM host (as for qiskit-ibm-runtime)."""

QISKIT_RUNTIME_ACCOUNTS_FILE = Path("~") / ".qiskit" / "qiskit-ibm.json"
"""Where qiskit-ibm-runtime saves its accounts (read, never written)."""

_PLATFORM_SECTION = PLATFORM_CHANNEL
_IBM_CLOUD_HOSTS = frozenset({"cloud.ibm.com", "test.cloud.ibm.com"})
_RUNTIME_DEFAULT_NAMES = {
    "ibm_quantum_platform": "default-ibm-quantum-platform",
    "ibm_cloud": "default-ibm-cloud",
}
_CRN_FIELDS = (
    "crn",
    "version",
    "cname",
    "ctype",
    "service-name",
    "location",
    "scope",
    "service-instance",
    "resource-type",
    "resource",
)
_QUANTUM_SERVICE = "quantum-computing"
_SCOPE = re.compile(r"^[aops]/[^/\s]+$")
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def is_platform_channel(channel: str | None) -> bool:
    """Whether ``channel`` names the platform channel (``ibm_quantum_platform``, ``ibm_cloud``)."""
    return channel in PLATFORM_CHANNELS


def check_channel(channel: object) -> str:
    """The channel ``channel`` names, as one of ``ibm_quantum`` and ``ibm_quantum_platform``.

    Raises:
        IBMQAccountValueError: ``channel`` is not a channel name.
    """
    if channel == CLASSIC_CHANNEL:
        return CLASSIC_CHANNEL
    if channel in PLATFORM_CHANNELS:
        return PLATFORM_CHANNEL
    raise IBMQAccountValueError(
        f"unknown channel {channel!r}: use {PLATFORM_CHANNEL!r} (IBM Quantum Platform; "
        f"'ibm_cloud' is the same) or {CLASSIC_CHANNEL!r} (the classic API)"
    )


@dataclass(frozen=True)
class Crn:
    """An IBM Cloud resource name of a quantum instance, field by field.

    ``crn:v1:{cname}:{ctype}:{service_name}:{location}:{scope}:{service_instance}:
    {resource_type}:{resource}``, for example
    ``crn:v1:bluemix:public:quantum-computing:us-east:a/abc123:0f2e...::``.
    """

    cname: str
    ctype: str
    service_name: str
    location: str
    scope: str
    service_instance: str
    resource_type: str = ""
    resource: str = ""

    @property
    def region(self) -> str:
        """The instance's region (``us-east``, ``eu-de``...): the CRN's location."""
        return self.location

    @property
    def account_id(self) -> str | None:
        """The IBM Cloud account that owns the instance (the scope ``a/<account>``)."""
        return self.scope[2:] if self.scope.startswith("a/") else None

    def __str__(self) -> str:
        return ":".join(
            [
                "crn",
                "v1",
                self.cname,
                self.ctype,
                self.service_name,
                self.location,
                self.scope,
                self.service_instance,
                self.resource_type,
                self.resource,
            ]
        )


def is_crn(value: object) -> bool:
    """Whether ``value`` is meant as a CRN (a string starting with ``crn:``), valid or not."""
    return isinstance(value, str) and value.strip().lower().startswith("crn:")


def parse_crn(text: str) -> Crn:
    """Parse and check the CRN of a quantum instance.

    Raises:
        IBMQAccountValueError: ``text`` is not a CRN of the ``quantum-computing`` service;
            the message names the field that is wrong.
    """
    if not isinstance(text, str):
        raise IBMQAccountValueError(f"a CRN is a string, got {type(text).__name__}")
    value = text.strip()
    parts = value.split(":")
    shape = ":".join(_CRN_FIELDS)
    if len(parts) != len(_CRN_FIELDS):
        raise IBMQAccountValueError(
            f"{value!r} is not a CRN: a CRN has {len(_CRN_FIELDS)} fields separated by ':' "
            f"({shape}), this one has {len(parts)}"
        )
    fields = dict(zip(_CRN_FIELDS, parts, strict=True))
    if fields["crn"] != "crn":
        raise IBMQAccountValueError(f"{value!r} is not a CRN: it must start with 'crn:'")
    if fields["version"] != "v1":
        raise IBMQAccountValueError(
            f"CRN {value!r}: the version is {fields['version']!r}, not 'v1'"
        )
    for name in ("cname", "ctype", "location", "service-instance"):
        if not fields[name]:
            raise IBMQAccountValueError(f"CRN {value!r}: the {name} field is empty ({shape})")
    for name in ("cname", "ctype", "location"):
        if not _TOKEN.match(fields[name]):
            raise IBMQAccountValueError(
                f"CRN {value!r}: the {name} {fields[name]!r} is not lowercase letters, digits "
                "and dashes"
            )
    if fields["service-name"] != _QUANTUM_SERVICE:
        raise IBMQAccountValueError(
            f"CRN {value!r} names the service {fields['service-name']!r}, not "
            f"{_QUANTUM_SERVICE!r}: it is not an IBM Quantum instance"
        )
    if not _SCOPE.match(fields["scope"]):
        raise IBMQAccountValueError(
            f"CRN {value!r}: the scope {fields['scope']!r} is not 'a/<account id>'"
        )
    if any(char.isspace() for char in value):
        raise IBMQAccountValueError(f"CRN {value!r} contains whitespace")
    return Crn(
        cname=fields["cname"],
        ctype=fields["ctype"],
        service_name=fields["service-name"],
        location=fields["location"],
        scope=fields["scope"],
        service_instance=fields["service-instance"],
        resource_type=fields["resource-type"],
        resource=fields["resource"],
    )


def _shown(url: str) -> str:
    """A URL as an error message may show it: without a user name or password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def _checked_url(value: object, what: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IBMQAccountValueError(f"{what} must be a non-empty http(s) URL such as {example}")
    url = value.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IBMQAccountValueError(
            f"{what} must be an http(s) URL such as {example}, got {_shown(url)!r}"
        )
    return url


def default_platform_url(instance: str | None = None, *, private: bool = False) -> str:
    """The API root for an instance, from its CRN's region, as qiskit-ibm-runtime picks it
    (``api/utils.py default_runtime_url_resolver``): ``https://quantum.cloud.ibm.com/api``
    for ``us-east`` (and for an instance given by name, or none), else
    ``https://{region}.quantum.cloud.ibm.com/api``; ``https://private.{region}.quantum...``
    for private endpoints.

    Raises:
        IBMQAccountValueError: ``instance`` starts with ``crn:`` but is not a valid CRN.
    """
    return _platform_url_from_cloud("https://cloud.ibm.com", instance, private)


def _platform_url_from_cloud(cloud_url: str, instance: str | None, private: bool) -> str:
    parts = urllib.parse.urlsplit(cloud_url)
    region = parse_crn(instance).region if instance and is_crn(instance) else "us-east"
    if private:
        host = f"private.{region}.quantum.{parts.hostname}"
    else:
        host = (
            f"quantum.{parts.hostname}"
            if region == "us-east"
            else f"{region}.quantum.{parts.hostname}"
        )
    return f"{parts.scheme}://{host}/api"


@dataclass(frozen=True)
class PlatformCredentials:
    """The account of the platform channel.

    Attributes:
        token: The IBM Cloud API key (never in the repr).
        instance: The instance: a CRN (checked), or an instance name to be resolved, or
            ``None`` for the account's instances.
        url: The API root given, to which the client appends ``/v1/...``; ``None`` for the
            default of the instance's region (:attr:`api_url` is the one to use). An IBM
            Cloud URL without a path (``https://cloud.ibm.com``, what qiskit-ibm-runtime
            takes) stands for the platform's API root under it, as that client reads it.
        iam_url: The IAM host given (``/identity/token`` is appended); ``None`` for
            ``IAM_URL`` or the default (:meth:`resolved_iam_url` is the one to use).
        channel: ``ibm_quantum_platform`` or ``ibm_cloud`` (the same API).
        proxies: ``{"urls": {"https": ...}}``, as for the classic channel (never in the
            repr: it may hold a password).
        verify: Whether to verify TLS certificates.
        private_endpoint: Use the instance region's private endpoint (IBM Cloud private
            network).
    """

    token: str = field(repr=False)
    instance: str | None = None
    url: str | None = None
    iam_url: str | None = None
    channel: str = PLATFORM_CHANNEL
    proxies: Mapping[str, Any] | None = field(default=None, repr=False)
    verify: bool = True
    private_endpoint: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not self.token.strip():
            raise IBMQAccountCredentialsInvalidToken(
                "the API key (token) must be a non-empty string"
            )
        if not is_platform_channel(self.channel):
            raise IBMQAccountValueError(
                f"channel {self.channel!r} is not the platform channel: use "
                f"{PLATFORM_CHANNEL!r} (or 'ibm_cloud')"
            )
        if self.instance is not None:
            if not isinstance(self.instance, str) or not self.instance.strip():
                raise IBMQAccountValueError(
                    "instance must be a CRN or an instance name (a non-empty string)"
                )
            instance = self.instance.strip()
            if is_crn(instance):
                instance = str(parse_crn(instance))
            object.__setattr__(self, "instance", instance)
        if self.url is not None:
            url = _checked_url(self.url, "url", DEFAULT_PLATFORM_URL)
            if url.endswith("/v1"):  # the versioned base: the client adds /v1 itself
                url = url[: -len("/v1")]
            object.__setattr__(self, "url", url)
        if self.iam_url is not None:
            iam = _checked_url(self.iam_url, "iam_url", DEFAULT_IAM_URL)
            if iam.endswith("/identity/token"):
                iam = iam[: -len("/identity/token")]
            object.__setattr__(self, "iam_url", iam)
        if self.proxies is not None and not isinstance(self.proxies, Mapping):
            raise IBMQAccountValueError("proxies must be a mapping ({'urls': {...}})")
        if not isinstance(self.verify, bool) or not isinstance(self.private_endpoint, bool):
            raise IBMQAccountValueError("verify and private_endpoint must be true or false")

    @property
    def crn(self) -> Crn | None:
        """The instance's CRN, parsed; ``None`` when the instance is a name or not given."""
        return parse_crn(self.instance) if self.instance and is_crn(self.instance) else None

    @property
    def api_url(self) -> str:
        """The API root the client appends ``/v1/...`` to: :attr:`url`, or the default of
        the instance's region; an IBM Cloud URL (``https://cloud.ibm.com``) gives the
        platform's API root under it for the instance's region."""
        if self.url is None:
            return default_platform_url(self.instance, private=self.private_endpoint)
        parts = urllib.parse.urlsplit(self.url)
        if not parts.path and parts.hostname in _IBM_CLOUD_HOSTS:
            return _platform_url_from_cloud(self.url, self.instance, self.private_endpoint)
        return self.url

    def resolved_iam_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The IAM host to ask for tokens: :attr:`iam_url`, else ``IAM_URL``, else IBM
        Cloud's (``https://iam.test.cloud.ibm.com`` for a ``staging`` CRN, the
        ``private.`` host for private endpoints), as qiskit-ibm-runtime picks it.

        Raises:
            IBMQAccountValueError: ``IAM_URL`` is set but is not an http(s) URL.
        """
        if self.iam_url is not None:
            return self.iam_url
        override = (os.environ if environ is None else environ).get(IAM_URL_VARIABLE)
        if override:
            return _checked_url(override, IAM_URL_VARIABLE, DEFAULT_IAM_URL)
        crn = self.crn
        host = (
            "iam.test.cloud.ibm.com"
            if crn is not None and crn.cname == "staging"
            else ("iam.cloud.ibm.com")
        )
        return f"https://{'private.' if self.private_endpoint else ''}{host}"

    def with_instance(self, instance: str) -> PlatformCredentials:
        """The same account with another instance (a name resolved to its CRN, say).

        Raises:
            IBMQAccountValueError: ``instance`` is not a valid CRN or name.
        """
        return replace(self, instance=instance)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form written to the credentials file."""
        data: dict[str, Any] = {"channel": self.channel, "token": self.token}
        for key in ("instance", "url", "iam_url"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        data["verify"] = self.verify
        if self.private_endpoint:
            data["private_endpoint"] = True
        if self.proxies:
            data["proxies"] = dict(self.proxies)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str) -> PlatformCredentials:
        """Build the account from the form :meth:`to_dict` writes.

        Raises:
            IBMQAccountCredentialsInvalidFormat: A key is missing or has the wrong type,
                or a value is not valid; the message names the key and the source.
        """
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise IBMQAccountCredentialsInvalidFormat(
                f"{source}: 'token' (the API key) must be a non-empty string"
            )
        for key in ("instance", "url", "iam_url", "channel"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise IBMQAccountCredentialsInvalidFormat(f"{source}: {key!r} must be a string")
        for key in ("verify", "private_endpoint"):
            if data.get(key) is not None and not isinstance(data[key], bool):
                raise IBMQAccountCredentialsInvalidFormat(
                    f"{source}: {key!r} must be true or false"
                )
        proxies = data.get("proxies")
        if proxies is not None and not isinstance(proxies, Mapping):
            raise IBMQAccountCredentialsInvalidFormat(f"{source}: 'proxies' must be an object")
        try:
            return cls(
                token=token,
                instance=data.get("instance"),
                url=data.get("url"),
                iam_url=data.get("iam_url"),
                channel=data.get("channel") or PLATFORM_CHANNEL,
                proxies=proxies or None,
                verify=data.get("verify", True) is not False,
                private_endpoint=bool(data.get("private_endpoint", False)),
            )
        except (IBMQAccountValueError, IBMQAccountCredentialsInvalidToken) as error:
            raise IBMQAccountCredentialsInvalidFormat(f"{source}: {error}") from None


def read_platform_credentials_from_environment(
    environ: Mapping[str, str] | None = None,
) -> PlatformCredentials | None:
    """The platform account of ``QISKIT_IBM_TOKEN`` (the API key), ``QISKIT_IBM_INSTANCE``,
    ``QISKIT_IBM_URL`` and ``QISKIT_IBM_CHANNEL``, as qiskit-ibm-runtime reads them.

    Without ``QISKIT_IBM_TOKEN`` there is no account in the environment (the other
    variables alone are ignored, as qiskit-ibm-runtime ignores them).

    Raises:
        IBMQAccountCredentialsInvalidFormat: A variable has a value that is not valid (the
            message names the variable, never the API key).
    """
    env = os.environ if environ is None else environ
    token = env.get("QISKIT_IBM_TOKEN")
    if not token:
        return None
    channel = env.get("QISKIT_IBM_CHANNEL") or PLATFORM_CHANNEL
    if not is_platform_channel(channel):
        raise IBMQAccountCredentialsInvalidFormat(
            f"QISKIT_IBM_CHANNEL is {channel!r}: the variables QISKIT_IBM_* are for "
            f"{PLATFORM_CHANNEL!r} (or 'ibm_cloud'); the classic channel reads QE_TOKEN and "
            "QE_URL"
        )
    instance = env.get("QISKIT_IBM_INSTANCE") or None
    url = env.get("QISKIT_IBM_URL") or None
    try:
        PlatformCredentials(token=token, instance=instance)
    except IBMQAccountValueError as error:
        raise IBMQAccountCredentialsInvalidFormat(f"QISKIT_IBM_INSTANCE: {error}") from None
    try:
        PlatformCredentials(token=token, url=url)
    except IBMQAccountValueError as error:
        raise IBMQAccountCredentialsInvalidFormat(f"QISKIT_IBM_URL: {error}") from None
    return PlatformCredentials(token=token, instance=instance, url=url, channel=channel)


def read_saved_platform_credentials(path: Path | None = None) -> PlatformCredentials | None:
    """The platform account saved in the credentials file, or ``None``.

    Raises:
        IBMQAccountCredentialsInvalidFormat: The file or the account is malformed.
    """
    path = path or credentials_file()
    section = _read_section(path, _PLATFORM_SECTION)
    if section is None:
        return None
    return PlatformCredentials.from_dict(section, source=str(path))


def save_platform_credentials(credentials: PlatformCredentials, *, overwrite: bool = False) -> Path:
    """Write the platform account to the credentials file, beside the classic account.

    Args:
        credentials: The account to save.
        overwrite: Replace a platform account that is already saved.

    Returns:
        The path written (mode 0600, written atomically).

    Raises:
        IBMQAccountValueError: A platform account is already saved and ``overwrite`` is
            false.
        IBMQAccountCredentialsInvalidFormat: The file exists but cannot be read.
    """
    path = credentials_file()
    read_saved_platform_credentials(path)  # refuse to rewrite a file that cannot be read
    _save_section(path, _PLATFORM_SECTION, credentials.to_dict(), overwrite)
    return path


def delete_platform_credentials() -> None:
    """Delete the saved platform account (the classic one, if any, stays).

    Raises:
        IBMQAccountCredentialsNotFound: No platform account is saved.
    """
    path = credentials_file()
    if read_saved_platform_credentials(path) is None:
        raise IBMQAccountCredentialsNotFound(f"no platform account is saved in {path}")
    _delete_section(path, _PLATFORM_SECTION)


def _runtime_default(
    accounts: Mapping[str, Mapping[str, Any]], channel: str | None
) -> Mapping[str, Any] | None:
    """qiskit-ibm-runtime's ``AccountManager._get_default_account``."""
    named = anything = None
    for name, account in accounts.items():
        if channel:
            if account.get("channel") == channel:
                if account.get("is_default_account"):
                    return account
                if name == _RUNTIME_DEFAULT_NAMES.get(channel):
                    named = account
                anything = account
        elif account.get("is_default_account"):
            return account
    return named or anything


def read_qiskit_runtime_credentials(
    path: Path | None = None,
    *,
    name: str | None = None,
    channel: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PlatformCredentials | None:
    """The account qiskit-ibm-runtime saved (``~/.qiskit/qiskit-ibm.json``), read-only.

    The account is chosen as qiskit-ibm-runtime's ``AccountManager.get`` chooses it (its
    environment variables aside, see :func:`read_platform_credentials_from_environment`):
    the account ``name`` if given; else the one marked ``is_default_account`` (of
    ``channel`` if given); else, for ``channel``, ``QISKIT_IBM_CHANNEL`` or
    ``ibm_quantum_platform``, the one marked default, the one of the channel's default
    name, or any; else the default-named account of either platform channel. Accounts of
    the retired ``ibm_quantum`` channel are skipped. The account's ``url`` is
    qiskit-ibm-runtime's IBM Cloud URL (``https://cloud.ibm.com``), from which
    :attr:`PlatformCredentials.api_url` derives the API root as that client does; its
    ``region``, ``plans_preference`` and ``tags`` (preferences for choosing among
    instances) are not used.

    Args:
        path: The file (``~/.qiskit/qiskit-ibm.json`` by default).
        name: The name of the account to read.
        channel: The channel whose account to prefer.
        environ: The environment (``os.environ`` by default), for ``QISKIT_IBM_CHANNEL``.

    Returns:
        The account, or ``None`` if there is no file or no platform account in it.

    Raises:
        IBMQAccountCredentialsNotFound: ``name`` is given and there is no such account.
        IBMQAccountCredentialsInvalidFormat: The file or the account chosen is malformed.
    """
    path = (path or QISKIT_RUNTIME_ACCOUNTS_FILE).expanduser()
    document = _read_document(path)
    if document is None:
        return None
    accounts = {
        key: value
        for key, value in document.items()
        if isinstance(value, dict) and value.get("channel") != CLASSIC_CHANNEL
    }
    if name is not None:
        if name not in accounts:
            raise IBMQAccountCredentialsNotFound(f"{path}: no account named {name!r}")
        chosen: Mapping[str, Any] | None = accounts[name]
    else:
        env = os.environ if environ is None else environ
        preferred = channel or env.get("QISKIT_IBM_CHANNEL") or PLATFORM_CHANNEL
        chosen = _runtime_default(accounts, channel) or _runtime_default(accounts, preferred)
        if chosen is None:
            chosen = next(
                (
                    accounts[default]
                    for default in _RUNTIME_DEFAULT_NAMES.values()
                    if default in accounts
                ),
                None,
            )
    if chosen is None:
        return None
    source = f"{path} (qiskit-ibm-runtime's accounts)"
    data = {
        "token": chosen.get("token"),
        "instance": chosen.get("instance") or None,
        "url": chosen.get("url") or None,
        "channel": chosen.get("channel") or PLATFORM_CHANNEL,
        "verify": chosen.get("verify", True) is not False,
        "private_endpoint": bool(chosen.get("private_endpoint") or False),
        "proxies": chosen.get("proxies") or None,
    }
    return PlatformCredentials.from_dict(data, source=source)


def load_platform_credentials() -> PlatformCredentials:
    """The platform account: from the environment (``QISKIT_IBM_*``), else the
    credentials file, else qiskit-ibm-runtime's saved account (read-only).

    Raises:
        IBMQAccountCredentialsNotFound: None of them has a platform account; the message
            says where it looked.
        IBMQAccountCredentialsInvalidFormat: What was found is malformed.
    """
    found = (
        read_platform_credentials_from_environment()
        or read_saved_platform_credentials()
        or read_qiskit_runtime_credentials()
    )
    if found is None:
        raise IBMQAccountCredentialsNotFound(
            "no platform account found: set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE), or "
            "call IBMQ.save_account(..., channel='ibm_quantum_platform') first (looked in "
            f"{credentials_file()} and {QISKIT_RUNTIME_ACCOUNTS_FILE.expanduser()})"
        )
    return found


def load_account_credentials(channel: str | None = None) -> Credentials | PlatformCredentials:
    """The account ``load_account()`` uses, of either channel.

    With a ``channel`` (or, without one, a platform channel in ``QISKIT_IBM_CHANNEL``),
    that channel's account (:func:`load_credentials` or
    :func:`load_platform_credentials`). Without either, the first found of: the classic
    account of the environment (``QE_TOKEN``), the platform account of the environment
    (``QISKIT_IBM_TOKEN``), the classic account saved, the platform account saved,
    qiskit-ibm-runtime's saved account. A saved classic account therefore loads as it
    always did.

    Raises:
        IBMQAccountValueError: ``channel`` is not a channel name.
        IBMQAccountCredentialsNotFound: No account was found; the message says where it
            looked.
        IBMQAccountCredentialsInvalidFormat: What was found is malformed.
    """
    if channel is None and is_platform_channel(os.environ.get("QISKIT_IBM_CHANNEL")):
        channel = PLATFORM_CHANNEL
    if channel is not None:
        if check_channel(channel) == CLASSIC_CHANNEL:
            return load_credentials()
        return load_platform_credentials()
    found: Credentials | PlatformCredentials | None = (
        read_credentials_from_environment()
        or read_platform_credentials_from_environment()
        or read_saved_credentials()
        or read_saved_platform_credentials()
        or read_qiskit_runtime_credentials()
    )
    if found is None:
        raise IBMQAccountCredentialsNotFound(
            "no account found: set QE_TOKEN and QE_URL (classic) or QISKIT_IBM_TOKEN "
            "(IBM Quantum Platform), or call IBMQ.save_account() first (looked in "
            f"{credentials_file()} and {QISKIT_RUNTIME_ACCOUNTS_FILE.expanduser()})"
        )
    return found
