"""Benchmark: how long importing ``ibmq_async`` takes, against the original client's package.

Each import runs in a fresh interpreter that times the ``import`` statement alone
(``time.perf_counter`` around it, interpreter start-up excluded) and reports its peak RSS;
the wall time of the whole process (start-up + import + exit) is kept too. The cases,
run in turn (A, B, C, A, B, C, ...) so that a busy moment of the machine hits all of them:

* ``ibmq_async``: ``import ibmq_async`` (the SDK; Qiskit is imported only to convert
  circuits);
* ``ibmq_async + qiskit``: ``import ibmq_async, qiskit``, what a script that builds
  circuits with Qiskit 2.x imports;
* ``original``: ``import qiskit.providers.ibmq`` in the original client's environment
  (qiskit-ibmq-provider 0.20.2; it imports qiskit-terra 0.46);
* ``qiskit-terra 0.46``: ``import qiskit`` in that environment, the part of the above that
  is terra's.

Bytecode: each interpreter gets its own ``PYTHONPYCACHEPREFIX`` (a temporary directory) and
two unmeasured warm-up imports, so every case reads compiled bytecode, as after a
``pip install``, whatever ``PYTHONDONTWRITEBYTECODE`` says.

Usage::

    python benchmarks/import_time.py                 # 15 runs per case (about 1 minute)
    python benchmarks/import_time.py --quick         # 5 runs per case
    python benchmarks/import_time.py --chart benchmarks/charts/import_time.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, child_env, emit, log, machine, pyplot, save_chart

_CHILD = """
import json, resource, time, warnings
warnings.filterwarnings("ignore")
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": seconds, "max_rss_bytes": usage.ru_maxrss * 1024}}))
"""


def _cases(original: Path | None) -> list[tuple[str, Path, str]]:
    cases = [
        ("ibmq_async", Path(sys.executable), "import ibmq_async"),
        ("ibmq_async + qiskit", Path(sys.executable), "import ibmq_async, qiskit"),
    ]
    if original is not None:
        cases += [
            ("original", original, "import qiskit.providers.ibmq"),
            ("qiskit-terra 0.46", original, "import qiskit"),
        ]
    return cases


def _run(python: Path, statement: str, cache: Path) -> dict[str, float]:
    env = child_env(PYTHONPYCACHEPREFIX=str(cache), PYTHONPATH=str(REPO_ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(python), "-c", _CHILD.format(statement=statement)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=tempfile.gettempdir(),  # not the repository: `import ibmq_async` must not see it
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{python} -c {statement!r} failed:\n{completed.stderr[-2000:]}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["process_seconds"] = wall
    return report


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    names = list(document["results"])
    medians = [document["results"][name]["import_seconds_median"] for name in names]
    figure, axis = plt.subplots(figsize=(8, 0.6 * len(names) + 1.4))
    colors = ["#1f77b4" if name.startswith("ibmq_async") else "#7f7f7f" for name in names]
    bars = axis.barh(names, medians, color=colors)
    for bar, value in zip(bars, medians, strict=True):
        middle = bar.get_y() + bar.get_height() / 2
        axis.annotate(f" {value * 1000:.0f} ms", (bar.get_width(), middle), va="center", fontsize=9)
    axis.invert_yaxis()
    axis.set_xlabel("import time, seconds (median of fresh interpreters; lower is better)")
    axis.set_title(f"Import time ({document['machine'].get('cpus')} CPUs)")
    axis.set_xlim(0, max(medians) * 1.25)
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 runs per case")
    parser.add_argument("--repeat", type=int, help="runs per case (default 15)")
    parser.add_argument("--original-python", help="interpreter holding the original client")
    parser.add_argument("--no-original", action="store_true", help="skip the original client")
    parser.add_argument("--chart", help="write a PNG chart here")
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 15)

    original = None
    if not args.no_original:
        from _original_env import original_python

        original = original_python(args.original_python)
    info = machine()
    started = time.monotonic()
    cases = _cases(original)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in cases}
    with tempfile.TemporaryDirectory(prefix="ibmq-bench-pycache-") as tmp:
        caches = {
            python: Path(tmp) / f"cache-{index}"
            for index, python in enumerate({c[1] for c in cases})
        }
        for name, python, statement in cases:
            log(f"warming up {name}")
            for _ in range(2):
                _run(python, statement, caches[python])
        for index in range(repeat):
            log(f"run {index + 1} of {repeat}")
            for name, python, statement in cases:
                samples[name].append(_run(python, statement, caches[python]))

    results: dict[str, Any] = {}
    for name, python, statement in cases:
        runs = samples[name]
        seconds = [run["seconds"] for run in runs]
        results[name] = {
            "statement": statement,
            "python": str(python),
            "import_seconds_median": round(statistics.median(seconds), 4),
            "import_seconds_min": round(min(seconds), 4),
            "process_seconds_median": round(
                statistics.median(r["process_seconds"] for r in runs), 4
            ),
            "max_rss_mib_median": round(
                statistics.median(r["max_rss_bytes"] for r in runs) / 2**20, 1
            ),
        }
    ratios = {}
    if "original" in results:
        ours = results["ibmq_async"]["import_seconds_median"]
        ratios["original_over_ibmq_async"] = round(
            results["original"]["import_seconds_median"] / ours, 2
        )
        ratios["original_over_ibmq_async_plus_qiskit"] = round(
            results["original"]["import_seconds_median"]
            / results["ibmq_async + qiskit"]["import_seconds_median"],
            2,
        )
    document = {
        "benchmark": "import_time",
        "machine": info,
        "settings": {"repeat": repeat, "warm_up": 2, "bytecode": "compiled (PYTHONPYCACHEPREFIX)"},
        "results": results,
        "ratios": ratios,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
