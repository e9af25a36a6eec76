"""``ibmq-async batch``: run OpenQASM 2 files as one job set and print their counts.

The account comes from the options of :mod:`ibmq_async.cli_account`, on either channel
(``--url``/``--token``, ``QE_TOKEN``/``QE_URL``; ``--channel ibm_quantum_platform
--instance CRN``, ``QISKIT_IBM_*``; the saved account; else the embedded local service).
Circuits are transpiled for the backend, split into jobs by the job manager (paced by the
backend's job limit, or on the platform by its job creation rate) and followed with a
progress bar. A set interrupted half-way is finished with ``--job-set-id``: only the jobs
it lacks are submitted. Ctrl-C prints the command that does that, or, on the embedded
service with a temporary database, why it cannot.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from ibmq_async.cli_account import Account, CommandError, add_account_options, open_account

__all__ = ["BatchRun", "add_batch_parser", "interrupted_message", "run_batch"]


def add_batch_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``batch`` subcommand to the ``ibmq-async`` parser."""
    parser = subparsers.add_parser(
        "batch",
        parents=[common],
        help="run OpenQASM 2 files as a job set and print the counts",
        description=(
            "Run OpenQASM 2 files as one job set (split into jobs, paced by the backend's "
            "job limit or the platform's job creation rate) and print the counts of each. "
            "Uses the account options (classic: --url/--token or QE_TOKEN/QE_URL; platform: "
            "--channel ibm_quantum_platform --instance CRN --token KEY or QISKIT_IBM_*) or "
            "the saved account; with none (or --local) runs on the embedded local service."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="OpenQASM 2 files")
    parser.add_argument("--backend", required=True, help="backend name, e.g. ibmq_qasm_simulator")
    parser.add_argument(
        "--shots", type=positive_integer, default=1024, help="shots per circuit (1024)"
    )
    parser.add_argument("--max-per-job", type=positive_integer, help="most circuits in one job")
    parser.add_argument("--name", help="name of the job set")
    parser.add_argument("--job-set-id", help="finish this job set instead of starting a new one")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (3600)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_account_options(parser)
    parser.set_defaults(handler=_handle)


def positive_integer(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@dataclass
class BatchRun:
    """What a running batch knows, for the message of an interruption.

    Attributes:
        argv: The command's arguments (after ``ibmq-async``).
        manager: The job manager, once the account is open.
        account: The account, once open.
    """

    argv: list[str]
    manager: Any = None
    account: Account | None = None


def _handle(args: argparse.Namespace) -> int:
    run = BatchRun(argv=list(args.argv))
    try:
        return anyio.run(run_batch, args, sys.stdout, run)
    except KeyboardInterrupt:
        print(interrupted_message(run), file=sys.stderr)
        return 130


def _resume_command(argv: Sequence[str], job_set_id: str) -> str:
    """The command line that finishes the set: the same arguments with ``--job-set-id``."""
    kept: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == "--job-set-id":
            skip = True
            continue
        if item.startswith("--job-set-id="):
            continue
        kept.append(item)
    shown = []
    hide = False
    for item in kept:  # the token is not printed: put it back (or use QE_TOKEN)
        if hide:
            shown.append("<token>")
            hide = False
        elif item == "--token":
            shown.append(item)
            hide = True
        elif item.startswith("--token="):
            shown.append("--token=<token>")
        else:
            shown.append(item)
    words = ["ibmq-async", *shown, "--job-set-id", job_set_id]
    return " ".join(word if word in ("<token>", "--token=<token>") else shlex.quote(word)
                    for word in words)  # fmt: skip


def interrupted_message(run: BatchRun) -> str:
    """The one line printed when a batch is interrupted (Ctrl-C)."""
    job_sets = run.manager.job_sets() if run.manager is not None else []
    if not job_sets:
        return "ibmq-async batch: interrupted before the job set was made; nothing was submitted"
    job_set = job_sets[-1]
    set_id = job_set.job_set_id()
    submitted = sum(job is not None for job in job_set.jobs())
    done = f"{submitted} of {len(job_set.jobs())} jobs submitted"
    account = run.account
    if account is not None and account.embedded and account.db is None:
        return (
            f"ibmq-async batch: interrupted; job set {set_id} ({done}) ran on the embedded "
            "local service, whose temporary database is gone, so it cannot be resumed: run "
            "with --db FILE to keep the embedded service's jobs (then --job-set-id resumes "
            "the set), or start 'ibmq-async serve' and pass its --url and --token"
        )
    return (
        f"ibmq-async batch: interrupted; job set {set_id} ({done}) is not finished; "
        f"resume it with: {_resume_command(run.argv, set_id)}"
    )


def _load_circuits(paths: Sequence[Path]) -> list[Any]:
    from qiskit import qasm2

    circuits = []
    for path in paths:
        if not path.exists():
            raise CommandError(f"{path}: no such file", 2)
        try:
            circuit = qasm2.load(str(path), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror or error}", 2) from None
        except qasm2.QASM2ParseError as error:
            raise CommandError(f"{path} is not valid OpenQASM 2: {error}", 2) from None
        circuit.name = path.stem
        circuits.append(circuit)
    return circuits


def _check_widths(paths: Sequence[Path], circuits: Sequence[Any], backend: Any) -> None:
    qubits = backend.configuration().n_qubits
    for path, circuit in zip(paths, circuits, strict=True):
        if circuit.num_qubits > qubits:
            raise CommandError(
                f"{path} uses {circuit.num_qubits} qubits but {backend.name()} has {qubits}: "
                "choose a backend with more qubits ('ibmq-async backends' lists them)"
            )


async def run_batch(args: argparse.Namespace, output: TextIO, run: BatchRun | None = None) -> int:
    """Run the batch described by parsed arguments; write the counts to ``output``.

    Args:
        args: The parsed arguments of ``batch``.
        output: Where the counts go.
        run: Filled in as the batch goes, for the message of an interruption.

    Returns:
        0 when every circuit ran, 1 when some failed (their errors go to stderr).

    Raises:
        CommandError: An expected failure (a file, the account, the backend, the set).
    """
    from qiskit import transpile
    from qiskit.transpiler.exceptions import TranspilerError

    from ibmq_async.exceptions import IBMQError, IBMQJobManagerUnknownJobSet
    from ibmq_async.jobmanager import IBMQJobManager

    run = run if run is not None else BatchRun(argv=[])
    circuits = _load_circuits(args.files)
    async with open_account(args, "batch") as account:
        run.account = account
        try:
            backend = account.provider.get_backend(args.backend)
        except IBMQError as error:
            raise CommandError(str(error), 2) from error
        _check_widths(args.files, circuits, backend)
        try:
            transpiled = transpile(
                circuits, target=backend.target, optimization_level=1, seed_transpiler=1
            )
        except TranspilerError as error:
            message = f"cannot transpile the circuits for {backend.name()}: {error}"
            raise CommandError(message) from error
        run.manager = IBMQJobManager()
        try:
            job_set = await run.manager.run(
                transpiled,
                backend,
                name=args.name,
                max_experiments_per_job=args.max_per_job,
                job_set_id=args.job_set_id,
                progress=not args.no_progress,
                shots=args.shots,
            )
        except IBMQJobManagerUnknownJobSet as error:
            raise CommandError(
                f"no job set {args.job_set_id!r} on this account ({account.source}): check the "
                "id (batch prints it when a set starts) and that the account is the one that "
                "ran it"
            ) from error
        print(f"job set {job_set.job_set_id()} ({len(job_set.jobs())} jobs)", file=sys.stderr)
        results = await job_set.results(timeout=args.timeout, partial=True)
        counts: dict[str, dict[str, int] | None] = {}
        for index, path in enumerate(args.files):
            try:
                counts[str(path)] = results.get_counts(index)
            except IBMQError as error:
                counts[str(path)] = None
                print(f"{path}: {error}", file=sys.stderr)
        if args.json:
            json.dump(counts, output, indent=2, sort_keys=True)
            output.write("\n")
        else:
            for path_name, circuit_counts in counts.items():
                shown = (
                    "failed"
                    if circuit_counts is None
                    else json.dumps(dict(sorted(circuit_counts.items(), key=lambda kv: -kv[1])))
                )
                output.write(f"{path_name}: {shown}\n")
        return 0 if all(value is not None for value in counts.values()) else 1
