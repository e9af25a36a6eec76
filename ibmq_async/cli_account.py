"""The account options of the ``ibmq-async`` commands that talk to a service.

``batch``, ``backends`` and ``jobs`` take the same options, defined here once, on either
channel:

* the classic API (``--channel ibm_quantum``, the default): ``--url``/``--token``, else
  ``QE_TOKEN``/``QE_URL``, else the saved classic account;
* IBM Quantum Platform (``--channel ibm_quantum_platform``, or ``QISKIT_IBM_CHANNEL``):
  ``--token`` (the API key), ``--instance`` (the CRN), ``--url`` (the API root) and
  ``--iam-url``, each else its variable (``QISKIT_IBM_TOKEN``, ``QISKIT_IBM_INSTANCE``,
  ``QISKIT_IBM_URL``, ``IAM_URL``), else the saved platform account, else the account
  qiskit-ibm-runtime saved (read only).

Without ``--channel`` and without options, the accounts are looked for in the order of
``IBMQ.load_account()``. With no account at all (or ``--local``), the commands run on the
embedded local service, on the channel asked for (the classic one by default); ``--db``
keeps that service's database in a file, so that a job set can be resumed, or its jobs
listed, by a later command.

:func:`open_account` logs in and turns the failures a user meets at this point (a token or
API key refused, an instance that is not the key's, a URL that does not answer or is not a
service) into a :class:`CommandError` that says which value, where it came from, and what
to do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibmq_async.credentials import (
    CLASSIC_CHANNEL,
    PLATFORM_CHANNEL,
    PLATFORM_CHANNELS,
    Credentials,
    PlatformCredentials,
    check_channel,
    is_platform_channel,
    read_credentials_from_environment,
    read_qiskit_runtime_credentials,
    read_saved_credentials,
    read_saved_platform_credentials,
)

__all__ = [
    "Account",
    "CommandError",
    "Login",
    "add_account_options",
    "open_account",
    "platform_login_error",
]

_CHANNELS = (CLASSIC_CHANNEL, *PLATFORM_CHANNELS)
_RUNTIME_ACCOUNT = "qiskit-ibm-runtime's saved account"


class CommandError(Exception):
    """An expected failure of a command: its message is the one line the user sees.

    Args:
        message: What is wrong and what to do.
        status: The exit status (2 for a usage error, 1 otherwise).
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Account:
    """The provider a command runs on, and where its account came from.

    Attributes:
        provider: The provider (an ``AccountProvider`` or a ``PlatformProvider``).
        source: Where the token or API key came from: ``"--token"``, ``"QE_TOKEN"``,
            ``"QISKIT_IBM_TOKEN"``, ``"the saved account"``, ``"qiskit-ibm-runtime's saved
            account"`` or ``"the embedded local service"``.
        embedded: Whether it is the embedded local service.
        db: The embedded service's database file, when kept (``--db``).
        channel: ``"ibm_quantum"`` or ``"ibm_quantum_platform"``.
    """

    provider: Any
    source: str
    embedded: bool
    db: Path | None = None
    channel: str = CLASSIC_CHANNEL


@dataclass(frozen=True)
class Login:
    """An account to log in with, and where each of its values came from."""

    credentials: Credentials | PlatformCredentials
    source: str
    origins: Mapping[str, str] = field(default_factory=dict)

    def origin(self, key: str) -> str:
        """Where the value ``key`` (``url``, ``instance``, ``iam_url``) came from."""
        return self.origins.get(key, self.source)


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Add the account options (``--channel``, ``--url``, ``--token``, ``--instance``,
    ``--iam-url``, ``--local``, ``--db``) to a command's parser."""
    group = parser.add_argument_group(
        "account",
        "the options, else the QE_* (classic) or QISKIT_IBM_* (platform) variables, else "
        "the saved account, else the embedded local service",
    )
    group.add_argument(
        "--channel",
        choices=_CHANNELS,
        help="ibm_quantum: the classic API (the default); ibm_quantum_platform: IBM Quantum "
        "Platform (ibm_cloud is the same); else QISKIT_IBM_CHANNEL",
    )
    group.add_argument(
        "--url",
        help="classic: the authentication URL; platform: the API root (default: the "
        "instance's region's)",
    )
    group.add_argument(
        "--token",
        help="classic: the API token; platform: the IBM Cloud API key (prefer QE_TOKEN or "
        "QISKIT_IBM_TOKEN: arguments are visible)",
    )
    group.add_argument("--instance", metavar="CRN", help="platform: the instance's CRN")
    group.add_argument(
        "--iam-url",
        help="platform: the IAM host of /identity/token (default: IAM_URL, else "
        "https://iam.cloud.ibm.com)",
    )
    group.add_argument("--local", action="store_true", help="use the embedded local service")
    group.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="keep the embedded local service's database in FILE (default: a temporary "
        "one, removed at exit), so that a later command sees its jobs",
    )


def _channel(args: argparse.Namespace) -> str | None:
    """The channel asked for: ``--channel``, else a platform ``QISKIT_IBM_CHANNEL``."""
    if args.channel is not None:
        return check_channel(args.channel)
    if is_platform_channel(os.environ.get("QISKIT_IBM_CHANNEL")):
        return PLATFORM_CHANNEL
    return None


def _classic_login(args: argparse.Namespace) -> Login | None:
    """The classic account of ``--url``/``--token``, ``QE_TOKEN``/``QE_URL`` or the file."""
    if args.url or args.token:
        if not (args.url and args.token):
            raise CommandError("give both --url and --token (or neither)", 2)
        return Login(Credentials(token=args.token, url=args.url), "--token", {"url": "--url"})
    found = read_credentials_from_environment()
    if found is not None:
        return Login(found, "QE_TOKEN", {"url": "QE_URL"})
    found = read_saved_credentials()
    if found is not None:
        return Login(found, "the saved account")
    return None


def _platform_options(args: argparse.Namespace) -> Login | None:
    """The platform account of the options, each value else its variable."""
    environ = os.environ
    given = [args.token, args.instance, args.url, args.iam_url, environ.get("QISKIT_IBM_TOKEN")]
    if not any(given):
        return None

    def pick(option: str | None, flag: str, variable: str) -> tuple[str | None, str]:
        if option:
            return option, flag
        return environ.get(variable) or None, variable

    key, source = pick(args.token, "--token", "QISKIT_IBM_TOKEN")
    if not key:
        raise CommandError(
            "no API key: set QISKIT_IBM_TOKEN (or give --token, which others can see)", 2
        )
    instance, instance_from = pick(args.instance, "--instance", "QISKIT_IBM_INSTANCE")
    url, url_from = pick(args.url, "--url", "QISKIT_IBM_URL")
    channel = args.channel or environ.get("QISKIT_IBM_CHANNEL") or PLATFORM_CHANNEL
    from ibmq_async.exceptions import IBMQAccountValueError

    try:
        credentials = PlatformCredentials(
            token=key, instance=instance, url=url, iam_url=args.iam_url, channel=channel
        )
    except IBMQAccountValueError as error:
        raise CommandError(str(error), 2) from None
    origins = {"instance": instance_from, "url": url_from}
    origins["iam_url"] = "--iam-url" if args.iam_url else "IAM_URL"
    return Login(credentials, source, origins)


def _saved_platform(found: PlatformCredentials, source: str) -> Login:
    origins = {} if found.iam_url else {"iam_url": "IAM_URL"}
    return Login(found, source, origins)


def _platform_login(args: argparse.Namespace) -> Login | None:
    """The platform account: options and variables, the saved one, qiskit-ibm-runtime's."""
    login = _platform_options(args)
    if login is not None:
        return login
    found = read_saved_platform_credentials()
    if found is not None:
        return _saved_platform(found, "the saved account")
    found = read_qiskit_runtime_credentials()
    if found is not None:
        return _saved_platform(found, _RUNTIME_ACCOUNT)
    return None


def _login(args: argparse.Namespace) -> tuple[Login | None, str]:
    """The account to use (``None`` for the embedded service) and its channel."""
    channel = _channel(args)
    platform_only = [
        flag
        for flag, value in (("--instance", args.instance), ("--iam-url", args.iam_url))
        if value
    ]
    if args.db is not None and (args.url or args.token or platform_only):
        raise CommandError(
            "--db is for the embedded local service; leave out --url, --token, --instance "
            "and --iam-url",
            2,
        )
    if platform_only and channel != PLATFORM_CHANNEL:
        raise CommandError(
            f"{' and '.join(platform_only)} {'are' if len(platform_only) > 1 else 'is'} the "
            f"platform channel's: add --channel {PLATFORM_CHANNEL}",
            2,
        )
    if args.local or args.db is not None:
        return None, channel or CLASSIC_CHANNEL
    if channel == PLATFORM_CHANNEL:
        return _platform_login(args), PLATFORM_CHANNEL
    if channel == CLASSIC_CHANNEL or args.url or args.token:
        return _classic_login(args), CLASSIC_CHANNEL
    # No channel and no options: the order of IBMQ.load_account().
    environment = read_credentials_from_environment()
    if environment is not None:
        return Login(environment, "QE_TOKEN", {"url": "QE_URL"}), CLASSIC_CHANNEL
    login = _platform_options(args)
    if login is not None:
        return login, PLATFORM_CHANNEL
    classic = read_saved_credentials()
    if classic is not None:
        return Login(classic, "the saved account"), CLASSIC_CHANNEL
    platform = _platform_login(args)
    if platform is not None:
        return platform, PLATFORM_CHANNEL
    return None, CLASSIC_CHANNEL


def _classic_login_error(error: BaseException, login: Login) -> CommandError | None:
    from ibmq_async.exceptions import (
        ApiAuthenticationError,
        ApiConnectionError,
        IBMQAccountCredentialsInvalidUrl,
    )

    url, source, where = login.credentials.url, login.source, login.origin("url")
    if isinstance(error, ApiAuthenticationError):
        return CommandError(
            f"the token from {source} was refused by {url} "
            f"({error.error_message or error.message}); check the token"
        )
    if isinstance(error, ApiConnectionError):
        return CommandError(
            f"cannot reach {url} ({error.message}); check the URL (from {where}) and that "
            "the service is running"
        )
    if isinstance(error, IBMQAccountCredentialsInvalidUrl):
        return CommandError(
            f"{url} is not an IBM Quantum authentication URL (GET /version has no "
            f"'api-auth'); check the URL (from {where}), which ends in /api"
        )
    return None


def platform_login_error(
    error: BaseException, login: Login, api_url: str, iam_url: str
) -> CommandError | None:
    """The one line for a failed platform login, or ``None`` for an unexpected error."""
    from ibmq_async.exceptions import (
        ApiAuthenticationError,
        ApiConnectionError,
        ApiNotFoundError,
        IBMQAccountCredentialsNotFound,
    )

    at_iam = "/identity/token" in str(getattr(error, "url", None) or "")
    iam_from, url_from = login.origin("iam_url"), login.origin("url")
    if iam_from == "IAM_URL" and not os.environ.get("IAM_URL"):
        iam_from = "the default"
    if url_from == "QISKIT_IBM_URL" and not os.environ.get("QISKIT_IBM_URL"):
        url_from = "the default of the instance's region"
    if isinstance(error, ApiAuthenticationError):
        reason = error.error_message or error.message
        return CommandError(
            f"the API key from {login.source} was refused by "
            f"{iam_url if at_iam else api_url} ({reason}); check the key"
        )
    if isinstance(error, IBMQAccountCredentialsNotFound):
        instance = (
            login.credentials.instance
            if isinstance(login.credentials, PlatformCredentials)
            else None
        )
        return CommandError(
            f"the instance {instance} (from {login.origin('instance')}) is not one the API "
            f"key from {login.source} can use at {api_url}; check the instance's CRN"
        )
    if isinstance(error, ApiConnectionError):
        if at_iam:
            return CommandError(
                f"cannot reach the IAM host {iam_url} ({error.message}); check the IAM URL "
                f"(from {iam_from}) and that the service is running"
            )
        return CommandError(
            f"cannot reach {api_url} ({error.message}); check the URL (from {url_from}) and "
            "that the service is running"
        )
    if isinstance(error, ApiNotFoundError):
        if at_iam:
            return CommandError(
                f"{iam_url} is not an IAM host (POST {iam_url}/identity/token answered 404); "
                f"check the IAM URL (from {iam_from}): the host, without /api"
            )
        return CommandError(
            f"{api_url} is not an IBM Quantum Platform API root (GET {api_url}/v1/instances/"
            f"usage answered 404); check the URL (from {url_from}), which ends in /api"
        )
    return None


@contextlib.asynccontextmanager
async def _classic(login: Login, factory: Any) -> AsyncIterator[Account]:
    credentials = login.credentials
    assert isinstance(credentials, Credentials)
    try:
        provider = await factory.enable_account(credentials.token, url=credentials.url)
    except Exception as error:
        described = _classic_login_error(error, login)
        if described is None:
            raise
        raise described from error
    if provider is None:
        raise CommandError(f"the account of {login.source} has no hub/group/project")
    async with provider:
        yield Account(provider, login.source, embedded=False)


@contextlib.asynccontextmanager
async def _platform(login: Login, factory: Any) -> AsyncIterator[Account]:
    credentials = login.credentials
    assert isinstance(credentials, PlatformCredentials)
    from ibmq_async.exceptions import IBMQAccountValueError

    try:
        api_url, iam_url = credentials.api_url, credentials.resolved_iam_url()
    except IBMQAccountValueError as error:  # IAM_URL is not a URL
        raise CommandError(str(error), 2) from None
    try:
        provider = await factory.enable_account(
            credentials.token,
            channel=credentials.channel,
            instance=credentials.instance,
            url=api_url,
            iam_url=iam_url,
            proxies=credentials.proxies,
            verify=credentials.verify,
        )
    except IBMQAccountValueError as error:  # the instance, checked before any request
        where = (
            f"the instance is from {login.origin('instance')}"
            if credentials.instance
            else "no instance given: --instance CRN, or QISKIT_IBM_INSTANCE"
        )
        raise CommandError(f"{error} ({where})", 2) from None
    except Exception as error:
        described = platform_login_error(error, login, api_url, iam_url)
        if described is None:
            raise
        raise described from error
    async with provider:
        yield Account(provider, login.source, embedded=False, channel=PLATFORM_CHANNEL)


@contextlib.asynccontextmanager
async def _embedded(
    args: argparse.Namespace, command: str, channel: str, factory: Any
) -> AsyncIterator[Account]:
    from ibmq_async.local import LocalServiceConfig, serve

    kept = f" (database {args.db})" if args.db is not None else ""
    api = " (IBM Quantum Platform API)" if channel == PLATFORM_CHANNEL else ""
    print(
        f"ibmq-async {command}: no account given; running on the embedded local service{api}{kept}",
        file=sys.stderr,
    )
    config = LocalServiceConfig.default()
    if args.db is not None:
        config = config.model_copy(update={"db": args.db})
    async with serve(config) as service:
        if channel == PLATFORM_CHANNEL:
            provider = await factory.enable_account(
                service.api_key,
                channel=PLATFORM_CHANNEL,
                instance=service.instance,
                url=service.url,
                iam_url=service.root,
            )
        else:
            provider = await factory.enable_account(service.token, url=service.url)
        assert provider is not None
        async with provider:
            yield Account(
                provider, "the embedded local service", embedded=True, db=args.db, channel=channel
            )


@contextlib.asynccontextmanager
async def open_account(args: argparse.Namespace, command: str) -> AsyncIterator[Account]:
    """Log in as the options say and yield the account; close everything after.

    Raises:
        CommandError: The options conflict, the token or API key is refused, the instance
            is not the key's, a URL does not answer or is not a service, or the account
            has no hub/group/project.
    """
    from ibmq_async.provider import IBMQFactory

    factory = IBMQFactory()
    login, channel = _login(args)
    if login is None:
        opened = _embedded(args, command, channel, factory)
    elif isinstance(login.credentials, PlatformCredentials):
        opened = _platform(login, factory)
    else:
        opened = _classic(login, factory)
    async with opened as account:
        yield account
