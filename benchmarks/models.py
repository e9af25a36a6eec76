"""Benchmark: parsing and dumping the largest wire documents, against the json module alone.

Times, best of N runs with ``time.perf_counter``:

* the washington backend properties (368 kB) and pulse defaults (1.5 MB) of the bundled
  device snapshots;
* a generated Result of 300 experiments with 8192-shot memory (2.4 million outcomes),
  and turning its memory and counts into bitstrings (against Qiskit's ``Result``, when
  qiskit is installed).

Each document is parsed from JSON text with ``Model.model_validate_json`` and, as the
second way in, with ``Model.model_validate(json.loads(text))``; it is dumped with
``model.to_wire_json()`` and with ``model.to_wire()``. The floor is the json module doing the
same work alone (``json.loads(text)``, ``json.dumps(document)``). The figures are printed
as JSON; ``ratio`` is the model time over the floor.

Usage::

    python benchmarks/models.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

from ibmq_async.models import BackendProperties, PulseDefaults, Result, WireModel

DEVICES = Path(__file__).resolve().parents[1] / "ibmq_async" / "local" / "devices"

EXPERIMENTS = 300
SHOTS = 8192
MEMORY_SLOTS = 10
CREG_SIZES = [["c0", 4], ["c1", 6]]


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def generated_result(seed: int = 1234) -> dict[str, Any]:
    """A Result of ``EXPERIMENTS`` experiments, each with ``SHOTS`` shots of memory."""
    rng = random.Random(seed)
    outcomes = [hex(value) for value in range(2**MEMORY_SLOTS)]
    weights = [rng.random() ** 8 for _ in outcomes]  # a few likely outcomes, a long tail
    experiments = []
    for index in range(EXPERIMENTS):
        memory = rng.choices(outcomes, weights, k=SHOTS)
        counts: dict[str, int] = {}
        for outcome in memory:
            counts[outcome] = counts.get(outcome, 0) + 1
        experiments.append(
            {
                "shots": SHOTS,
                "success": True,
                "meas_level": 2,
                "status": "DONE",
                "seed": rng.getrandbits(31),
                "header": {
                    "name": f"circuit-{index}",
                    "memory_slots": MEMORY_SLOTS,
                    "creg_sizes": CREG_SIZES,
                    "n_qubits": MEMORY_SLOTS,
                    "qreg_sizes": [["q", MEMORY_SLOTS]],
                    "metadata": {},
                },
                "data": {"counts": counts, "memory": memory},
            }
        )
    return {
        "backend_name": "ibm_washington",
        "backend_version": "1.1.0",
        "qobj_id": "benchmark",
        "job_id": "benchmark-job",
        "success": True,
        "status": "COMPLETED",
        "date": "2022-04-12T23:42:47Z",
        "header": {"backend_name": "ibm_washington", "backend_version": "1.1.0"},
        "results": experiments,
    }


def measure(
    label: str, model: type[WireModel], text: str, repeat: int
) -> dict[str, dict[str, float]]:
    """Parse and dump one document both ways, and the json module's floor for each."""
    document = json.loads(text)
    parsed = model.model_validate_json(text)
    json_parse = best_of(repeat, lambda: json.loads(text))
    json_dump = best_of(repeat, lambda: json.dumps(document))
    figures = {
        f"{label}_parse": (best_of(repeat, lambda: model.model_validate_json(text)), json_parse),
        f"{label}_parse_via_dict": (
            best_of(repeat, lambda: model.model_validate(json.loads(text))),
            json_parse,
        ),
        f"{label}_dump": (best_of(repeat, parsed.to_wire_json), json_dump),
        f"{label}_dump_via_dict": (
            best_of(repeat, lambda: json.dumps(parsed.to_wire())),
            json_dump,
        ),
    }
    return {
        name: {
            "ibmq_async_s": round(ours, 5),
            "json_s": round(floor, 5),
            "ratio": round(ours / floor, 2),
        }
        for name, (ours, floor) in figures.items()
    }


def measure_formatting(text: str, repeat: int) -> dict[str, dict[str, float | None]]:
    """Bitstrings of every experiment's memory and counts; Qiskit's Result for comparison."""
    ours = Result.model_validate_json(text)
    figures: dict[str, tuple[float, float | None]] = {
        "get_memory_all_experiments": (
            best_of(repeat, lambda: [ours.get_memory(i) for i in range(EXPERIMENTS)]),
            None,
        ),
        "get_counts_all_experiments": (best_of(repeat, ours.get_counts), None),
    }
    try:
        from qiskit.result import Result as QiskitResult
    except ImportError:  # qiskit is an optional extra
        pass
    else:
        theirs = QiskitResult.from_dict(json.loads(text))
        figures["get_memory_all_experiments"] = (
            figures["get_memory_all_experiments"][0],
            best_of(repeat, lambda: [theirs.get_memory(i) for i in range(EXPERIMENTS)]),
        )
        figures["get_counts_all_experiments"] = (
            figures["get_counts_all_experiments"][0],
            best_of(repeat, theirs.get_counts),
        )
    return {
        name: {
            "ibmq_async_s": round(ours_s, 5),
            "qiskit_s": None if qiskit_s is None else round(qiskit_s, 5),
            "ratio": None if qiskit_s is None else round(ours_s / qiskit_s, 2),
        }
        for name, (ours_s, qiskit_s) in figures.items()
    }


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (best is kept)")
    repeat = parser.parse_args().repeat

    props = (DEVICES / "washington" / "props.json").read_text(encoding="utf-8")
    defs = (DEVICES / "washington" / "defs.json").read_text(encoding="utf-8")
    result_text = json.dumps(generated_result())

    figures: dict[str, Any] = {}
    figures.update(measure("washington_props", BackendProperties, props, repeat))
    figures.update(measure("washington_defaults", PulseDefaults, defs, repeat))
    figures.update(measure(f"result_{EXPERIMENTS}x{SHOTS}", Result, result_text, repeat))

    formatting = measure_formatting(result_text, repeat)
    output = {
        "environment": {
            "python": platform.python_version(),
            "pydantic": pydantic.VERSION,
            "machine": platform.machine(),
            "repeat": repeat,
        },
        "sizes_bytes": {
            "washington_props": len(props.encode()),
            "washington_defaults": len(defs.encode()),
            f"result_{EXPERIMENTS}x{SHOTS}": len(result_text.encode()),
        },
        **figures,
        f"result_{EXPERIMENTS}x{SHOTS}_formatting": formatting,
    }
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
