"""Run every benchmark, one after the other, and keep their JSON and charts.

Each script runs in its own process with ``--chart benchmarks/charts/<name>.png``; its JSON
document goes to ``benchmarks/out/<name>.json`` (ignored by git) and a summary of the run
times is printed at the end. The scripts run one at a time: they measure the machine, so
they must not share it.

Usage::

    python benchmarks/run_all.py                  # the full figures (about 25 minutes)
    python benchmarks/run_all.py --quick          # a smoke run (about 7 minutes)
    python benchmarks/run_all.py --only throughput memory
    python benchmarks/run_all.py --only platform_throughput platform_paced
    python benchmarks/run_all.py --quick --charts /tmp/charts --out /tmp/out
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, OUT_DIR, log

SCRIPTS = (
    "import_time",
    "serialization",
    "service",
    "models",
    "throughput",
    "memory",
    "platform_throughput",
    "platform_polling",
    "platform_paced",
    "platform_memory",
)
RUNTIME_SCRIPTS = ("platform_throughput", "platform_polling", "platform_paced")
"""The scripts that run qiskit-ibm-runtime 0.51 (``--runtime-python``)."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these")
    parser.add_argument("--original-python", help="interpreter holding the original client")
    parser.add_argument("--runtime-python", help="interpreter holding qiskit-ibm-runtime 0.51")
    parser.add_argument("--charts", type=Path, default=BENCH_DIR / "charts", help="chart folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="JSON folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    charts = args.charts
    summary = {}
    for name in args.only or SCRIPTS:
        command = [sys.executable, str(BENCH_DIR / f"{name}.py")]
        if name == "models":
            command += ["--repeat", "3" if args.quick else "7"]
        else:
            command += ["--chart", str(charts / f"{name}.png")]
            if args.quick:
                command.append("--quick")
        if args.original_python and name in ("throughput", "import_time", "serialization"):
            command += ["--original-python", args.original_python]
        if args.runtime_python and name in RUNTIME_SCRIPTS:
            command += ["--runtime-python", args.runtime_python]
        log(f"running {' '.join(command[1:])}")
        started = time.monotonic()
        completed = subprocess.run(command, stdout=subprocess.PIPE, check=False)
        seconds = round(time.monotonic() - started, 1)
        output = args.out / f"{name}.json"
        output.write_bytes(completed.stdout)
        summary[name] = {
            "exit_status": completed.returncode,
            "seconds": seconds,
            "json": str(output),
        }
        log(f"{name}: exit status {completed.returncode} after {seconds} s -> {output}")
    print(json.dumps(summary, indent=1))
    sys.exit(max((entry["exit_status"] for entry in summary.values()), default=0))


if __name__ == "__main__":
    main()
