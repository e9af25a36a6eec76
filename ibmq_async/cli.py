"""The ``ibmq-async`` command.

Subcommands:

* ``serve``: run the local IBM Quantum service in the foreground.
* ``batch``: run OpenQASM 2 files as a job set and print their counts.
* ``backends``: list the backends (qubits, status, pending jobs, job limit).
* ``jobs``: list recent jobs (id, backend, status, name, created).

``batch``, ``backends`` and ``jobs`` run on either channel, the classic API or IBM Quantum
Platform (``--channel ibm_quantum_platform --instance CRN``), with the account options of
:mod:`ibmq_async.cli_account`; with no account, on the embedded local service.

Command-line parsing is argparse's: the standard library's parser does everything these
commands need (subcommands, shared option groups, types with their own messages), so no
dependency is added for it.

An expected failure (a refused token, an unreachable URL, a missing file or extra, an
unknown backend or job set, a circuit too wide for the backend, a bad configuration)
prints one line on stderr that says what is wrong and what to do, and exits with status 1
(2 for a usage error); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ibmq_async._version import __version__
from ibmq_async.batch import add_batch_parser
from ibmq_async.cli_account import CommandError
from ibmq_async.cli_listings import add_listing_parsers

__all__ = ["build_parser", "describe_error", "main"]

# ibmq_async.local.logs.LOG_LEVELS, repeated: importing it would need the local extra.
_LOG_LEVELS = ("debug", "info", "warning", "error")


def _add_serve(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=[common],
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
    parser.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default="info",
        help="info: one line per REST request (default); debug: also websockets",
    )
    parser.add_argument(
        "--noise",
        action="store_true",
        help="simulate every device backend with a noise model from its calibration",
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ibmq_async.local.config import LocalServiceConfig
    from ibmq_async.local.server import run_forever

    try:
        config = LocalServiceConfig.from_toml(args.config) if args.config else LocalServiceConfig()
    except FileNotFoundError:
        raise CommandError(f"bad configuration: {args.config}: no such file", 2) from None
    except (OSError, ValueError) as error:
        raise CommandError(f"bad configuration: {_first_line(error)}", 2) from error
    if args.db is not None:
        config = config.model_copy(update={"db": args.db})
    if config.db is None:
        config = config.model_copy(update={"db": Path("ibmq-local.db")})
    if args.noise:
        config = config.model_copy(
            update={
                "backends": [
                    b if b.device == "simulator" else b.model_copy(update={"noise": True})
                    for b in config.backends
                ]
            }
        )
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
        run_forever(config, args.host, args.port, on_ready=ready, log_level=args.log_level)
    except ValueError as error:  # a backend names a device that does not exist
        raise CommandError(f"bad configuration: {_first_line(error)}", 2) from error
    except OSError as error:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {error}") from error
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    return 0


def _print_platform(root: str, engine: Any, named_users: bool) -> None:
    """Print where the platform API is and how this SDK, the command line and
    qiskit-ibm-runtime connect to it."""
    from ibmq_async.local.platform.recipe import connection_recipe

    print(f"IBM Quantum Platform API on {root}/api/v1", flush=True)
    user = engine.auth.users[0]
    if not named_users and user.api_key and user.instances:
        print(f"  API key of the default user: {user.api_key}", flush=True)
        print(f"  instance: {user.instances[0]}", flush=True)
        api_key, instance = user.api_key, user.instances[0]
    else:
        api_key, instance = "<api_key>", "<instance CRN>"
    print(
        f"  IBMQ.enable_account('{api_key}', channel='ibm_quantum_platform', "
        f"instance='{instance}', url='{root}/api', iam_url='{root}')",
        flush=True,
    )
    print(
        f"  QISKIT_IBM_TOKEN='{api_key}' ibmq-async backends --channel ibm_quantum_platform "
        f"--instance '{instance}' --url {root}/api --iam-url {root}",
        flush=True,
    )
    for line in connection_recipe(root, api_key, instance):
        print(f"  {line}", flush=True)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # pydantic's errors put the field on one line and the reason on the next.
    return "; ".join(lines[:3]) if lines else type(error).__name__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ibmq-async`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(prog="ibmq-async", description="ibmq_async tools")
    parser.add_argument("--version", action="version", version=f"ibmq-async {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error, not one line"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error, not one line",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_serve(subparsers, common)
    add_batch_parser(subparsers, common)
    add_listing_parsers(subparsers, common)
    return parser


_EXTRAS = {"qiskit": "qiskit", "qiskit_aer": "local", "starlette": "local", "uvicorn": "local"}


def describe_error(error: BaseException) -> tuple[str, int] | None:
    """The one line and exit status for an expected failure, or ``None`` for a bug."""
    from ibmq_async.exceptions import (
        ApiConnectionError,
        ApiError,
        IBMQError,
    )

    if isinstance(error, CommandError):
        return str(error), error.status
    if isinstance(error, ModuleNotFoundError):
        if "pip install" in str(error):
            return str(error), 1
        top = (error.name or "").split(".")[0]
        extra = _EXTRAS.get(top)
        if extra is None:
            return None
        return f"{top} is not installed: pip install 'ibmq-async[{extra}]'", 1
    if isinstance(error, ApiConnectionError):
        return f"the service stopped answering: {error}", 1
    if isinstance(error, (ApiError, IBMQError)):
        return str(error), 1
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ibmq-async``; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    args.argv = arguments
    try:
        status: int = args.handler(args)
    except Exception as error:
        described = None if args.debug else describe_error(error)
        if described is None:
            raise
        message, status = described
        print(f"ibmq-async {args.command}: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
