"""The environments of the clients the benchmarks compare ibmq_async with, each in a virtual
environment of its own (neither can share one with this project's Qiskit 2.x):

* the original client, qiskit-ibmq-provider 0.20.2 on qiskit-terra 0.46
  (:func:`original_python`: throughput, import time, serialization);
* qiskit-ibm-runtime 0.51.0, the client of the IBM Quantum Platform API
  (:func:`runtime_python`: the ``platform_*`` benchmarks).

They are the compatibility tests' environments, built by ``tests/compat/venv_builder.py``
from the same specs (``tests/compat/requirements.txt`` and ``runtime-requirements.txt``),
so one build serves both the tests and the benchmarks: under
``${XDG_CACHE_HOME:-~/.cache}/ibmq-async/compat-venv-<digest>`` and ``runtime-venv-<digest>``
(or where ``$IBMQ_ASYNC_COMPAT_VENV`` / ``$IBMQ_ASYNC_RUNTIME_VENV`` say), built once per
machine in about a minute from the package index. An interpreter given explicitly
(``--original-python`` / ``--runtime-python`` of a script, or ``$IBMQ_ASYNC_ORIGINAL_PYTHON``
/ ``$IBMQ_ASYNC_RUNTIME_PYTHON``) is import-checked and used instead.

``python benchmarks/_original_env.py`` builds (or finds) the original client's environment
and prints its interpreter; ``python benchmarks/_original_env.py --runtime`` does the same for
qiskit-ibm-runtime's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

COMPAT_DIR = Path(__file__).resolve().parents[1] / "tests" / "compat"
if str(COMPAT_DIR) not in sys.path:
    sys.path.append(str(COMPAT_DIR))

from compat_env import SPEC as ORIGINAL_SPEC  # noqa: E402
from runtime_env import RUNTIME_SPEC  # noqa: E402
from venv_builder import VenvError, VenvSpec, ensure_venv, probe  # noqa: E402

__all__ = ["ORIGINAL_SPEC", "RUNTIME_SPEC", "VenvError", "original_python", "runtime_python"]


def _python(spec: VenvSpec, explicit: str | os.PathLike[str] | None, variable: str) -> Path:
    chosen = explicit or os.environ.get(variable)
    if chosen:
        python = Path(chosen)
        probe(spec, python)
        return python
    return ensure_venv(spec)


def original_python(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The interpreter of an environment holding the original client (built if needed).

    Raises:
        VenvError: An explicit interpreter does not hold it, or the build failed.
    """
    return _python(ORIGINAL_SPEC, explicit, "IBMQ_ASYNC_ORIGINAL_PYTHON")


def runtime_python(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The interpreter of an environment holding qiskit-ibm-runtime 0.51 (built if needed).

    Raises:
        VenvError: An explicit interpreter does not hold it, or the build failed.
    """
    return _python(RUNTIME_SPEC, explicit, "IBMQ_ASYNC_RUNTIME_PYTHON")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("python", nargs="?", help="an interpreter to check instead")
    parser.add_argument(
        "--runtime", action="store_true", help="qiskit-ibm-runtime 0.51's environment"
    )
    args = parser.parse_args()
    find = runtime_python if args.runtime else original_python
    try:
        print(find(args.python))
    except VenvError as failure:
        sys.exit(str(failure))


if __name__ == "__main__":
    main()
