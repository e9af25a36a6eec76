"""``ibmq-async backends`` and ``ibmq-async jobs``: look before submitting.

``backends`` lists the account's backends (name, qubits, status, pending jobs, job limit);
``jobs`` its recent jobs (id, backend, status, name, created). Both take the account
options of :mod:`ibmq_async.cli_account` (either channel) and ``--json`` for
machine-readable output. On IBM Quantum Platform there is no limit on pending jobs: the
job limit is ``none`` and the active jobs are the instance's jobs pending on the backend.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import anyio

from ibmq_async.cli_account import add_account_options, open_account

__all__ = ["add_listing_parsers", "list_backends", "list_jobs"]


def add_listing_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``backends`` and ``jobs`` subcommands to the ``ibmq-async`` parser."""
    from ibmq_async.batch import positive_integer

    backends = subparsers.add_parser(
        "backends",
        parents=[common],
        help="list the backends: qubits, status, pending jobs, job limit",
        description="List the account's backends with their status and job limit.",
    )
    backends.add_argument("--json", action="store_true", help="print JSON")
    add_account_options(backends)
    backends.set_defaults(handler=lambda args: _run(list_backends, args))

    jobs = subparsers.add_parser(
        "jobs",
        parents=[common],
        help="list recent jobs: id, backend, status, name, created",
        description="List the account's recent jobs, newest first.",
    )
    jobs.add_argument("--limit", type=positive_integer, default=10, help="how many (10)")
    jobs.add_argument("--backend", help="only the jobs of this backend")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    add_account_options(jobs)
    jobs.set_defaults(handler=lambda args: _run(list_jobs, args))


def _run(command: Any, args: argparse.Namespace) -> int:
    status: int = anyio.run(command, args, sys.stdout)
    return status


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], output: TextIO) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        output.write("  ".join(cells).rstrip())
        output.write("\n")


async def list_backends(args: argparse.Namespace, output: TextIO) -> int:
    """Print the backends of the account (``ibmq-async backends``); returns 0.

    Raises:
        CommandError: The account cannot be opened.
        IBMQBackendApiError: A status or job limit cannot be read (after retries).
    """
    async with open_account(args, "backends") as account:
        backends = list(account.provider.backends)
        entries: list[dict[str, Any]] = [{} for _ in backends]

        async def describe(index: int, backend: Any) -> None:
            status = await backend.status()
            limit = await backend.job_limit()
            configuration = backend.configuration()
            entries[index] = {
                "name": backend.name(),
                "qubits": configuration.n_qubits,
                "simulator": bool(configuration.simulator),
                "operational": status.operational,
                "status": status.status_msg,
                "pending_jobs": status.pending_jobs,
                "job_limit": limit.maximum_jobs,
                "active_jobs": limit.running_jobs,
            }

        async with anyio.create_task_group() as group:
            for index, backend in enumerate(backends):
                group.start_soon(describe, index, backend)
    if args.json:
        json.dump(entries, output, indent=2)
        output.write("\n")
        return 0
    rows = [
        [
            entry["name"],
            str(entry["qubits"]),
            entry["status"] if entry["operational"] else f"{entry['status']} (down)",
            str(entry["pending_jobs"]),
            "none"
            if entry["job_limit"] is None
            else f"{entry['active_jobs']}/{entry['job_limit']}",
        ]
        for entry in entries
    ]
    _table(["BACKEND", "QUBITS", "STATUS", "PENDING", "JOBS/LIMIT"], rows, output)
    return 0


def _status_name(job: Any) -> str:
    """A listed job's status, as its listing gave it (no request), on either channel."""
    from ibmq_async.platform.job import PlatformJob

    if isinstance(job, PlatformJob):
        from ibmq_async.platform.states import job_status

        return job_status(job.record.state).name
    name: str = job.api_status.job_status.name
    return name


async def list_jobs(args: argparse.Namespace, output: TextIO) -> int:
    """Print the account's recent jobs (``ibmq-async jobs``); returns 0.

    Raises:
        CommandError: The account cannot be opened.
        IBMQBackendValueError: No backend has the name given.
        IBMQBackendApiError: The listing failed (after retries).
    """
    async with open_account(args, "jobs") as account:
        provider = account.provider
        if args.backend is not None:
            provider.get_backend(args.backend)  # an unknown name is an error, not "no jobs"
        jobs = await provider.jobs(limit=args.limit, backend_name=args.backend)
    entries = [
        {
            "id": job.job_id(),
            "backend": job.backend().name(),
            "status": _status_name(job),
            "name": job.name(),
            "created": job.creation_date().isoformat().replace("+00:00", "Z"),
        }
        for job in jobs
    ]
    if args.json:
        json.dump(entries, output, indent=2)
        output.write("\n")
        return 0
    if not entries:
        print("no jobs", file=sys.stderr)
        return 0
    rows = [
        [entry["id"], entry["backend"], entry["status"], entry["name"] or "", entry["created"]]
        for entry in entries
    ]
    _table(["JOB", "BACKEND", "STATUS", "NAME", "CREATED (UTC)"], rows, output)
    return 0
