"""Benchmark: encoding a large Qobj and decoding a large Result, ``ibmq_async`` against the
original client (qiskit-terra 0.46 objects with the provider's encoder and decoder) and
against the json module alone. Best of ``--repeat`` runs each, garbage collection on.

The documents (generated, deterministic):

* a QASM Qobj of 300 experiments of 500 instructions each (5 qubits: ``rz`` with a
  parameter, ``sx``, ``x``, ``cx``, then ``measure``), about 9 MB of JSON;
* a Result of 300 experiments with 8192-shot memory (``benchmarks/models.py``'s, 23 MB).

What is timed:

=====================  =====================================  ======================================
figure                 ibmq_async                             original (qiskit-terra 0.46)
=====================  =====================================  ======================================
``qobj_encode``        ``encode_qobj(qobj_model)``: the       ``json.dumps(qobj.to_dict(),
                       upload body from a ``QasmQobj`` model  cls=IQXJsonEncoder)``, as
                                                              ``IBMQBackend.run`` uploads it
``qobj_encode_run``    what ``backend.run(qobj_model,         (same as above)
                       shots=1024)`` does before the upload:
                       the option set on a copy (config
                       validated again), ``encode_qobj``
``qobj_encode_run_     what ``backend.run(qobj_dict)`` does:  (same as above)
dict``                 ``parse_qobj`` (validation), then
                       ``encode_qobj`` of the model
``result_decode``      what ``job.result()`` does with the    ``json.loads``, ``decode_result``,
                       downloaded body:                       ``Result.from_dict``, as
                       ``Result.model_validate_json(body)``   ``IBMQJob.result()`` does
``result_decode_       ``json.loads`` then                    (same as above)
dict``                 ``Result.model_validate`` (for
                       comparison)
=====================  =====================================  ======================================

The floor is ``json.dumps(qobj_dict)`` and ``json.loads(body)``. The original's figures are
measured in its own environment (a subprocess of its interpreter) on the same documents.

Usage::

    python benchmarks/serialization.py               # best of 5 (about 1 minute)
    python benchmarks/serialization.py --quick       # best of 2
    python benchmarks/serialization.py --chart benchmarks/charts/serialization.png
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, child_env, emit, log, machine, pyplot, run_worker, save_chart

EXPERIMENTS = 300
INSTRUCTIONS = 500
QUBITS = 5
COUPLING = [(0, 1), (1, 0), (1, 2), (2, 1), (1, 3), (3, 1), (3, 4), (4, 3)]


def generated_qobj(seed: int = 7) -> dict[str, Any]:
    """A QASM Qobj of ``EXPERIMENTS`` experiments of ``INSTRUCTIONS`` instructions, laid out
    as qiskit-terra 0.46 assembles a transpiled circuit for a 5-qubit device."""
    rng = random.Random(seed)
    experiments = []
    for index in range(EXPERIMENTS):
        instructions: list[dict[str, Any]] = []
        while len(instructions) < INSTRUCTIONS - QUBITS:
            kind = rng.random()
            if kind < 0.4:
                instructions.append(
                    {
                        "name": "rz",
                        "params": [rng.uniform(-3.14159, 3.14159)],
                        "qubits": [rng.randrange(QUBITS)],
                    }
                )
            elif kind < 0.7:
                instructions.append({"name": "sx", "qubits": [rng.randrange(QUBITS)]})
            elif kind < 0.8:
                instructions.append({"name": "x", "qubits": [rng.randrange(QUBITS)]})
            else:
                instructions.append({"name": "cx", "qubits": list(rng.choice(COUPLING))})
        instructions += [{"name": "measure", "qubits": [q], "memory": [q]} for q in range(QUBITS)]
        experiments.append(
            {
                "header": {
                    "qubit_labels": [["q", q] for q in range(QUBITS)],
                    "n_qubits": QUBITS,
                    "qreg_sizes": [["q", QUBITS]],
                    "clbit_labels": [["meas", q] for q in range(QUBITS)],
                    "memory_slots": QUBITS,
                    "creg_sizes": [["meas", QUBITS]],
                    "name": f"circuit-{index}",
                    "global_phase": rng.uniform(0, 6.28318),
                    "metadata": {},
                },
                "config": {"n_qubits": QUBITS, "memory_slots": QUBITS},
                "instructions": instructions,
            }
        )
    return {
        "qobj_id": "3d9f3a3e-5c1a-4f7e-9a51-5b0c9d6c2e10",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {"backend_name": "ibmq_vigo", "backend_version": "1.3.8"},
        "config": {
            "shots": 8192,
            "memory": True,
            "parameter_binds": [],
            "meas_level": 2,
            "init_qubits": True,
            "memory_slots": QUBITS,
            "n_qubits": QUBITS,
        },
        "experiments": experiments,
    }


def best_of(repeat: int, work: Callable[[], object]) -> float:
    gc.collect()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_ours(qobj: dict[str, Any], body: bytes, repeat: int) -> dict[str, Any]:
    from ibmq_async.api.classic import encode_qobj
    from ibmq_async.backend import _with_options  # what backend.run() applies options with
    from ibmq_async.models import QasmQobj, Result, parse_qobj

    model = QasmQobj.model_validate(qobj)
    encoded = encode_qobj(model)
    via_run = encode_qobj(_with_options(model, {"shots": qobj["config"]["shots"]}, None))
    checks = {
        "encoded_bytes": len(encoded),
        "encoded_equals_input": json.loads(encoded) == qobj,
        "run_path_equals_input": json.loads(via_run) == qobj,
        "result_experiments": len(Result.model_validate_json(body).results),
    }
    log("ibmq_async: Qobj encoding")
    figures = {
        "qobj_encode": best_of(repeat, lambda: encode_qobj(model)),
        "qobj_encode_run": best_of(
            repeat, lambda: encode_qobj(_with_options(model, {"shots": 1024}, None))
        ),
        "qobj_encode_run_dict": best_of(repeat, lambda: encode_qobj(parse_qobj(qobj))),
    }
    log("ibmq_async: Result decoding")
    figures["result_decode"] = best_of(repeat, lambda: Result.model_validate_json(body))
    figures["result_decode_dict"] = best_of(repeat, lambda: Result.model_validate(json.loads(body)))
    log("json module")
    floors = {
        "qobj_encode": best_of(repeat, lambda: json.dumps(qobj).encode()),
        "result_decode": best_of(repeat, lambda: json.loads(body)),
    }
    return {"ibmq_async": figures, "json": floors, "checks": checks}


def chart(document: dict[str, Any], path: str) -> str:
    plt = pyplot()
    figures = document["results"]
    groups = [
        (
            "Qobj encoding\n300 x 500 instructions",
            "qobj_encode",
            "encode_qobj\n(model)",
            [("qobj_encode_run", "run(model)\npath"), ("qobj_encode_run_dict", "run(dict)\npath")],
        ),
        (
            "Result decoding\n300 x 8192-shot memory",
            "result_decode",
            "job.result()\npath",
            [("result_decode_dict", "via json.loads\n+ validate")],
        ),
    ]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for axis, (title, main, main_label, variants) in zip(axes, groups, strict=True):
        entry = figures[main]
        names = [f"ibmq_async\n{main_label}"] + [f"ibmq_async\n{label}" for _, label in variants]
        names += ["original", "json"]
        values = [entry["ibmq_async_s"]] + [figures[key]["ibmq_async_s"] for key, _ in variants]
        values += [entry.get("original_s"), entry["json_s"]]
        shown = [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
        palette = {names[0]: "#1f77b4", "original": "#7f7f7f", "json": "#bcbd22"}
        colors = [palette.get(name, "#aec7e8") for name, _ in shown]
        bars = axis.bar([n for n, _ in shown], [v for _, v in shown], color=colors)
        for bar, (_, value) in zip(bars, shown, strict=True):
            top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
            axis.annotate(f"{value:.3f} s", top, ha="center", va="bottom", fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.set_ylabel("seconds (best of runs; lower is better)")
        axis.tick_params(axis="x", labelsize=7)
    figure.suptitle(f"Serialization ({document['machine'].get('cpus')} CPUs)")
    return save_chart(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="best of 2")
    parser.add_argument("--repeat", type=int, help="runs per figure, best kept (default 5)")
    parser.add_argument("--original-python", help="interpreter holding the original client")
    parser.add_argument("--no-original", action="store_true", help="skip the original client")
    parser.add_argument("--chart", help="write a PNG chart here")
    parser.add_argument("--replot", help="redraw --chart from a JSON document of this script")
    args = parser.parse_args()
    if args.replot:
        document = json.loads(Path(args.replot).read_text(encoding="utf-8"))
        if args.chart:
            document["chart"] = chart(document, args.chart)
        emit(document)
        return
    repeat = args.repeat or (2 if args.quick else 5)
    original = None
    if not args.no_original:
        from _original_env import original_python

        original = original_python(args.original_python)
    info = machine()
    started = time.monotonic()

    from models import generated_result  # benchmarks/models.py: the same Result

    log("generating the documents")
    qobj = generated_qobj()
    body = json.dumps(generated_result()).encode()
    ours = measure_ours(qobj, body, repeat)
    theirs: dict[str, Any] = {}
    if original is not None:
        with tempfile.TemporaryDirectory(prefix="ibmq-bench-") as tmp:
            qobj_file, result_file = Path(tmp) / "qobj.json", Path(tmp) / "result.json"
            qobj_file.write_text(json.dumps(qobj), encoding="utf-8")
            result_file.write_bytes(body)
            log("original client (its own environment)")
            run = run_worker(
                [str(original), str(BENCH_DIR / "_original_client.py"), "serialize",
                 str(qobj_file), str(result_file), "--repeat", str(repeat)],
                timeout=900,
                env=child_env(),
            )  # fmt: skip
            if not run.report:
                raise RuntimeError(f"the original client's worker failed:\n{run.stderr}")
            theirs = run.report

    results: dict[str, Any] = {}
    for name, seconds in ours["ibmq_async"].items():
        base = "qobj_encode" if name.startswith("qobj") else "result_decode"
        original_key = f"{base}_seconds"
        entry: dict[str, Any] = {
            "ibmq_async_s": round(seconds, 5),
            "json_s": round(ours["json"][base], 5),
            "over_json": round(seconds / ours["json"][base], 2),
        }
        if original_key in theirs:
            entry["original_s"] = theirs[original_key]
            entry["original_over_ibmq_async"] = round(theirs[original_key] / seconds, 2)
        results[name] = entry
    document = {
        "benchmark": "serialization",
        "machine": info,
        "settings": {
            "repeat": repeat,
            "qobj": f"{EXPERIMENTS} experiments x {INSTRUCTIONS} instructions",
            "result": "300 experiments x 8192-shot memory (benchmarks/models.py)",
            "result_bytes": len(body),
        },
        "results": results,
        "checks": {"ibmq_async": ours["checks"], "original": theirs.get("checks")},
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.chart:
        document["chart"] = chart(document, args.chart)
    emit(document)


if __name__ == "__main__":
    main()
