"""What every compatibility scenario shares. Runs inside the compat environment.

A scenario is a script run as ``python <scenario>.py <context.json> <report.json>`` by the
interpreter of the environment holding the original client (qiskit-ibmq-provider 0.20.2 on
qiskit-terra 0.46). The context file names the service (``url``, ``token``) and what the
test expects of it; the scenario writes a report of named checks, each passed or failed
with a detail, which ``tests/compat/test_compat.py`` asserts one by one.

Use nothing but the standard library and the original client's environment here: this
module never runs in the project's environment.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

# The original client and terra 0.46 warn about their own deprecation on import and on
# most calls (the IBMQ entry point, Qobj input to run(), the job manager...). The checks
# are about the wire protocol, so those warnings are noise here.
warnings.filterwarnings("ignore")


class CheckFailed(AssertionError):
    """A check's expectation did not hold."""


def expect(condition: Any, message: str) -> None:
    """Fail the running check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    """Fail the running check unless ``actual == expected``, showing both."""
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 0.1 s until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Scenario:
    """The context of a scenario and the report of its checks.

    Use :meth:`check` as a decorator: the function runs at once, and its return value (a
    short JSON-able detail) or its exception is recorded under the check's name. A check
    whose ``needs`` did not pass is recorded as failed without running.
    """

    def __init__(self) -> None:
        if len(sys.argv) != 3:
            raise SystemExit(f"usage: {sys.argv[0]} CONTEXT_JSON REPORT_JSON")
        with open(sys.argv[1], encoding="utf-8") as handle:
            self.context: dict[str, Any] = json.load(handle)
        self._report_path = sys.argv[2]
        self.url: str = self.context.get("url", "")
        self.token: str = self.context.get("token", "")
        self.checks: list[dict[str, Any]] = []
        self._passed: dict[str, bool] = {}
        self._started = time.monotonic()
        self._write(complete=False)

    def passed(self, name: str) -> bool:
        """Whether the check ``name`` ran and passed."""
        return self._passed.get(name, False)

    def check(self, name: str, needs: tuple[str, ...] = ()) -> Callable[[Callable[[], Any]], None]:
        """Run the decorated function now as the check ``name``."""

        def run(function: Callable[[], Any]) -> None:
            if name in self._passed:
                raise RuntimeError(f"check {name!r} recorded twice")
            missing = [need for need in needs if not self.passed(need)]
            started = time.monotonic()
            if missing:
                entry = {
                    "name": name,
                    "ok": False,
                    "detail": f"not run: needs {', '.join(missing)}, which did not pass",
                }
            else:
                try:
                    detail = function()
                except CheckFailed as error:
                    entry = {"name": name, "ok": False, "detail": str(error)}
                except Exception as error:
                    entry = {
                        "name": name,
                        "ok": False,
                        "detail": f"{type(error).__module__}.{type(error).__qualname__}: {error}",
                        "traceback": traceback.format_exc(),
                    }
                else:
                    entry = {"name": name, "ok": True, "detail": _jsonable(detail)}
            entry["seconds"] = round(time.monotonic() - started, 3)
            self._passed[name] = bool(entry["ok"])
            self.checks.append(entry)
            self._write(complete=False)
            state = "ok  " if entry["ok"] else "FAIL"
            print(f"[{state}] {name} ({entry['seconds']} s): {entry['detail']}", flush=True)

        return run

    def finish(self) -> None:
        """Write the final report."""
        self._write(complete=True)

    def _write(self, complete: bool) -> None:
        report = {
            "complete": complete,
            "seconds": round(time.monotonic() - self._started, 3),
            "checks": self.checks,
        }
        with open(self._report_path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def connect(scenario: Scenario) -> Any:
    """``IBMQ.enable_account`` with the service's URL and token; returns the provider."""
    from qiskit import IBMQ

    provider = IBMQ.enable_account(scenario.token, url=scenario.url)
    if provider is None:
        raise CheckFailed("enable_account returned no provider")
    return provider
