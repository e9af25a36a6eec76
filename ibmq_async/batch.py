"""``ibmq-async batch``: run OpenQASM 2 files as one job set and print their counts.

The account comes from ``--url``/``--token``, else from ``QE_TOKEN``/``QE_URL`` or the
saved account; with none of these (or with ``--local``) the command starts the embedded
local service and runs there. Circuits are transpiled for the backend, split into jobs by
the job manager (paced by the backend's job limit) and followed with a progress bar. A set
interrupted half-way is finished with ``--job-set-id``: only the jobs it lacks are submitted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

__all__ = ["add_batch_parser", "run_batch"]


def add_batch_parser(subparsers: Any) -> None:
    """Add the ``batch`` subcommand to the ``ibmq-async`` parser."""
    parser = subparsers.add_parser(
        "batch",
        help="run OpenQASM 2 files as a job set and print the counts",
        description=(
            "Run OpenQASM 2 files as one job set (split into jobs, paced by the backend's "
            "job limit) and print the counts of each. Uses --url/--token, QE_TOKEN/QE_URL "
            "or the saved account; with none (or --local) runs on the embedded local service."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="OpenQASM 2 files")
    parser.add_argument("--backend", required=True, help="backend name, e.g. ibmq_qasm_simulator")
    parser.add_argument("--shots", type=_positive, default=1024, help="shots per circuit (1024)")
    parser.add_argument("--max-per-job", type=_positive, help="most circuits in one job")
    parser.add_argument("--name", help="name of the job set")
    parser.add_argument("--job-set-id", help="finish this job set instead of starting a new one")
    parser.add_argument("--url", help="authentication URL of the service")
    parser.add_argument("--token", help="API token (prefer QE_TOKEN: arguments are visible)")
    parser.add_argument("--local", action="store_true", help="run on the embedded local service")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (3600)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_handle)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _handle(args: argparse.Namespace) -> int:
    try:
        return anyio.run(run_batch, args, sys.stdout)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("interrupted", file=sys.stderr)
        return 130


def _load_circuits(paths: Sequence[Path]) -> list[Any]:
    from qiskit import qasm2

    circuits = []
    for path in paths:
        try:
            circuit = qasm2.load(str(path), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        except (OSError, qasm2.QASM2ParseError) as error:
            raise SystemExit(f"ibmq-async batch: cannot read {path}: {error}") from None
        circuit.name = path.stem
        circuits.append(circuit)
    return circuits


@contextlib.asynccontextmanager
async def _account(args: argparse.Namespace) -> AsyncIterator[Any]:
    """The provider to run on, from the arguments, the environment, the saved file or local."""
    from ibmq_async.credentials import read_credentials_from_environment, read_saved_credentials
    from ibmq_async.provider import IBMQFactory

    factory = IBMQFactory()
    if args.local:
        credentials = None
    elif args.url or args.token:
        if not (args.url and args.token):
            raise SystemExit("ibmq-async batch: give both --url and --token")
        credentials = (args.token, args.url)
    else:
        found = read_credentials_from_environment() or read_saved_credentials()
        credentials = (found.token, found.url) if found else None
    if credentials is not None:
        provider = await factory.enable_account(credentials[0], url=credentials[1])
        if provider is None:
            raise SystemExit("ibmq-async batch: the account has no hub/group/project")
        async with provider:
            yield provider
        return
    from ibmq_async.local import serve

    print(
        "ibmq-async batch: no account given; running on the embedded local service", file=sys.stderr
    )
    async with serve() as service:
        provider = await factory.enable_account(service.token, url=service.url)
        assert provider is not None
        async with provider:
            yield provider


async def run_batch(args: argparse.Namespace, output: TextIO) -> int:
    """Run the batch described by parsed arguments; write the counts to ``output``.

    Returns:
        0 when every circuit ran, 1 when some failed (their errors go to stderr).
    """
    from qiskit import transpile
    from qiskit.circuit.library import get_standard_gate_name_mapping

    from ibmq_async.exceptions import IBMQError
    from ibmq_async.jobmanager import IBMQJobManager

    circuits = _load_circuits(args.files)
    async with _account(args) as provider:
        try:
            backend = provider.get_backend(args.backend)
        except IBMQError as error:
            print(f"ibmq-async batch: {error}", file=sys.stderr)
            return 2
        config = backend.configuration()
        standard = get_standard_gate_name_mapping()
        transpiled = transpile(
            circuits,
            basis_gates=[gate for gate in config.basis_gates if gate in standard],
            coupling_map=config.coupling_map,
            optimization_level=1,
            seed_transpiler=1,
        )
        job_set = await IBMQJobManager().run(
            transpiled,
            backend,
            name=args.name,
            max_experiments_per_job=args.max_per_job,
            job_set_id=args.job_set_id,
            progress=not args.no_progress,
            shots=args.shots,
        )
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
