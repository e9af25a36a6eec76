"""The ``ibmq-async`` command.

Subcommands:

* ``serve``: run the local IBM Quantum service in the foreground.
* ``batch``: run OpenQASM 2 files as a job set and print their counts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ibmq_async.batch import add_batch_parser

__all__ = ["build_parser", "main"]


def _add_serve(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local IBM Quantum service",
        description=(
            "Run the local IBM Quantum service (the IBM Quantum API on Qiskit Aer) until "
            "interrupted. Prints the auth URL to give enable_account."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (8080)")
    parser.add_argument("--config", type=Path, help="a TOML configuration file")
    parser.add_argument("--db", type=Path, help="the SQLite database (overrides the config's db)")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from ibmq_async.local.config import LocalServiceConfig
        from ibmq_async.local.server import run_forever
    except ImportError as error:  # pragma: no cover - depends on the installation
        print(
            f"ibmq-async serve needs the 'local' extra (pip install 'ibmq-async[local]'): {error}",
            file=sys.stderr,
        )
        return 2
    try:
        config = LocalServiceConfig.from_toml(args.config) if args.config else LocalServiceConfig()
    except (OSError, ValueError) as error:
        print(f"ibmq-async serve: bad configuration: {error}", file=sys.stderr)
        return 2
    if args.db is not None:
        config = config.model_copy(update={"db": args.db})
    if config.db is None:
        config = config.model_copy(update={"db": Path("ibmq-local.db")})
    named_users = bool(config.users)

    def ready(url: str, engine: Any) -> None:
        print(f"IBM Quantum local service on {url}", flush=True)
        print(f"  database: {engine.db_path}", flush=True)
        print(f"  backends: {', '.join(engine.backends)}", flush=True)
        if not named_users:
            token = engine.auth.users[0].token
            print(f"  token of the default user: {token}", flush=True)
            print(f"  IBMQ.enable_account('{token}', url='{url}')", flush=True)
        else:
            print(f"  IBMQ.enable_account(<token>, url='{url}')", flush=True)
        _print_platform(url.removesuffix("/api"), engine, named_users)

    try:
        run_forever(config, args.host, args.port, on_ready=ready)
    except OSError as error:
        print(f"ibmq-async serve: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    return 0


def _print_platform(root: str, engine: Any, named_users: bool) -> None:
    """Print where the platform API is and how qiskit-ibm-runtime connects to it."""
    from ibmq_async.local.platform.recipe import connection_recipe

    print(f"IBM Quantum Platform API on {root}/api/v1", flush=True)
    user = engine.auth.users[0]
    if not named_users and user.api_key and user.instances:
        print(f"  API key of the default user: {user.api_key}", flush=True)
        print(f"  instance: {user.instances[0]}", flush=True)
        api_key, instance = user.api_key, user.instances[0]
    else:
        api_key, instance = "<api_key>", "<instance CRN>"
    for line in connection_recipe(root, api_key, instance):
        print(f"  {line}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ibmq-async`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(prog="ibmq-async", description="ibmq_async tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_serve(subparsers)
    add_batch_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ibmq-async``; returns the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
