"""The account options of the ``ibmq-async`` commands that talk to a service.

``batch``, ``backends`` and ``jobs`` take the same options, defined here once:
``--url``/``--token`` (else ``QE_TOKEN``/``QE_URL``, else the saved account), ``--local``
for the embedded local service, and ``--db`` to keep that service's database in a file
(so that a job set can be resumed, or its jobs listed, by a later command). With no
account at all, the commands run on the embedded local service.

:func:`open_account` logs in and turns the failures a user meets at this point (a token
refused, a URL that does not answer or is not a service) into a :class:`CommandError` that
says which token or URL and what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Account", "CommandError", "add_account_options", "open_account"]


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
        provider: The provider (an ``AccountProvider``).
        source: Where the token came from: ``"--token"``, ``"QE_TOKEN"``, ``"the saved
            account"`` or ``"the embedded local service"``.
        embedded: Whether it is the embedded local service.
        db: The embedded service's database file, when kept (``--db``).
    """

    provider: Any
    source: str
    embedded: bool
    db: Path | None = None


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--url``, ``--token``, ``--local`` and ``--db`` to a command's parser."""
    group = parser.add_argument_group(
        "account",
        "--url/--token, else QE_TOKEN/QE_URL, else the saved account, else the embedded "
        "local service",
    )
    group.add_argument("--url", help="authentication URL of the service")
    group.add_argument("--token", help="API token (prefer QE_TOKEN: arguments are visible)")
    group.add_argument("--local", action="store_true", help="use the embedded local service")
    group.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="keep the embedded local service's database in FILE (default: a temporary "
        "one, removed at exit), so that a later command sees its jobs",
    )


def _credentials(args: argparse.Namespace, command: str) -> tuple[str, str, str] | None:
    """``(token, url, source)`` of the account to use, or ``None`` for the embedded one."""
    from ibmq_async.credentials import read_credentials_from_environment, read_saved_credentials

    if args.db is not None and (args.url or args.token):
        raise CommandError("--db is for the embedded local service; leave out --url/--token", 2)
    if args.local or args.db is not None:
        return None
    if args.url or args.token:
        if not (args.url and args.token):
            raise CommandError("give both --url and --token (or neither)", 2)
        return args.token, args.url, "--token"
    found = read_credentials_from_environment()
    if found is not None:
        return found.token, found.url, "QE_TOKEN"
    found = read_saved_credentials()
    if found is not None:
        return found.token, found.url, "the saved account"
    return None


def _login_error(error: BaseException, url: str, source: str) -> CommandError | None:
    from ibmq_async.exceptions import (
        ApiAuthenticationError,
        ApiConnectionError,
        IBMQAccountCredentialsInvalidUrl,
    )

    where = {"--token": "--url", "QE_TOKEN": "QE_URL"}.get(source, "the saved account")
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


@contextlib.asynccontextmanager
async def open_account(args: argparse.Namespace, command: str) -> AsyncIterator[Account]:
    """Log in as the options say and yield the account; close everything after.

    Raises:
        CommandError: The options conflict, the token is refused, the URL does not
            answer or is not a service, or the account has no hub/group/project.
    """
    from ibmq_async.provider import IBMQFactory

    factory = IBMQFactory()
    credentials = _credentials(args, command)
    if credentials is not None:
        token, url, source = credentials
        try:
            provider = await factory.enable_account(token, url=url)
        except Exception as error:
            described = _login_error(error, url, source)
            if described is None:
                raise
            raise described from error
        if provider is None:
            raise CommandError(f"the account of {source} has no hub/group/project")
        async with provider:
            yield Account(provider, source, embedded=False)
        return

    from ibmq_async.local import LocalServiceConfig, serve

    kept = f" (database {args.db})" if args.db is not None else ""
    print(
        f"ibmq-async {command}: no account given; running on the embedded local service{kept}",
        file=sys.stderr,
    )
    config = LocalServiceConfig.default()
    if args.db is not None:
        config = config.model_copy(update={"db": args.db})
    async with serve(config) as service:
        provider = await factory.enable_account(service.token, url=service.url)
        assert provider is not None
        async with provider:
            yield Account(provider, "the embedded local service", embedded=True, db=args.db)
