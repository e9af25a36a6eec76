"""Saved accounts and credentials from the environment.

The saved account lives in one JSON file (by default ``~/.ibmq_async/credentials.json``; the
environment variable ``IBMQ_ASYNC_CREDENTIALS_FILE`` names another). It is written
atomically (a temporary file in the same folder, then a rename) with mode 0600, and it is
the only file the SDK ever writes a token to. Unlike the original client, any URL may be
saved, so a saved account can point at a local service.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibmq_async.exceptions import (
    IBMQAccountCredentialsInvalidFormat,
    IBMQAccountCredentialsInvalidToken,
    IBMQAccountCredentialsNotFound,
    IBMQAccountValueError,
)

__all__ = [
    "DEFAULT_AUTH_URL",
    "Credentials",
    "credentials_file",
    "delete_credentials",
    "load_credentials",
    "read_credentials_from_environment",
    "read_saved_credentials",
    "save_credentials",
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


def read_saved_credentials(path: Path | None = None) -> Credentials | None:
    """The saved account, or ``None`` if nothing is saved.

    Raises:
        IBMQAccountCredentialsInvalidFormat: The file is not valid JSON of the expected shape.
    """
    path = path or credentials_file()
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
    section = document.get(_SECTION)
    if section is None:
        return None
    if not isinstance(section, dict):
        raise IBMQAccountCredentialsInvalidFormat(f"{path}: '{_SECTION}' must be an object")
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

    Args:
        credentials: The account to save.
        overwrite: Replace an account that is already saved.

    Returns:
        The path written.

    Raises:
        IBMQAccountValueError: An account is already saved and ``overwrite`` is false.
    """
    path = credentials_file()
    existing = read_saved_credentials(path) if path.exists() else None
    if existing is not None and not overwrite:
        raise IBMQAccountValueError(
            f"an account is already saved in {path}; pass overwrite=True to replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps({_SECTION: credentials.to_dict()}, indent=2) + "\n"
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
    return path


def delete_credentials() -> None:
    """Delete the saved account.

    Raises:
        IBMQAccountCredentialsNotFound: No account is saved.
    """
    path = credentials_file()
    if read_saved_credentials(path) is None:
        raise IBMQAccountCredentialsNotFound(f"no account is saved in {path}")
    path.unlink()
