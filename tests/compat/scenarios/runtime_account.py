"""qiskit-ibm-runtime 0.51: the account, instance discovery and the backends."""

from __future__ import annotations

from datetime import timedelta

from _harness import Scenario, expect, expect_equal
from _runtime import connect

scenario = Scenario()
ctx = scenario.context
state: dict = {}


@scenario.check("wrong_api_key")
def _() -> str:
    from qiskit_ibm_runtime.accounts.exceptions import InvalidAccountError

    try:
        connect(ctx, api_key="not-" + ctx["api_key"])
    except InvalidAccountError as error:
        return str(error)[:200]
    raise AssertionError("a wrong API key did not raise InvalidAccountError")


@scenario.check("connect_and_discover_instances")
def _() -> list:
    service = connect(ctx)
    state["service"] = service
    instances = {item["crn"]: item for item in service.instances()}
    expect_equal(set(instances), {ctx["instance"], ctx["small_instance"]}, "instances()")
    main = instances[ctx["instance"]]
    expect_equal((main["name"], main["plan"], main["pricing_type"]),
                 ("compat-main", "open", "free"), "the main instance")  # fmt: skip
    small = instances[ctx["small_instance"]]
    expect_equal((small["plan"], small["pricing_type"]), ("premium", "subscription"), "small")
    expect_equal(service.active_instance(), ctx["instance"], "active_instance()")
    return sorted(instances)


@scenario.check("instance_of_another_account")
def _() -> str:
    from qiskit_ibm_runtime.exceptions import IBMInputValueError

    try:
        connect(ctx, instance=ctx["other_instance"])
    except IBMInputValueError as error:
        return str(error)[:200]
    raise AssertionError("an instance of another account was accepted")


@scenario.check("backends", needs=("connect_and_discover_instances",))
def _() -> list:
    names = sorted(backend.name for backend in state["service"].backends())
    expected = sorted([ctx["device"], ctx["small_device"], ctx["paused"], ctx["simulator"]])
    expect_equal(names, expected, "backends()")
    simulators = [b.name for b in state["service"].backends(simulator=True)]
    expect_equal(simulators, [ctx["simulator"]], "backends(simulator=True)")
    return names


@scenario.check("least_busy", needs=("connect_and_discover_instances",))
def _() -> str:
    backend = state["service"].least_busy(min_num_qubits=100)
    expect_equal(backend.name, ctx["device"], "least_busy(min_num_qubits=100)")
    any_backend = state["service"].least_busy()
    expect(any_backend.name != ctx["paused"], "least_busy chose the paused backend")
    return any_backend.name


@scenario.check("configuration", needs=("connect_and_discover_instances",))
def _() -> dict:
    backend = state["service"].backend(ctx["device"])
    state["backend"] = backend
    config = backend.configuration()
    expect_equal(config.n_qubits, 156, "n_qubits")
    expect("cz" in config.basis_gates, f"basis gates {config.basis_gates}")
    expect(not config.simulator, "the device is a simulator")
    expect(state["service"].backend(ctx["simulator"]).configuration().simulator, "simulator")
    return {"n_qubits": config.n_qubits, "basis_gates": config.basis_gates}


@scenario.check("properties", needs=("configuration",))
def _() -> dict:
    backend = state["backend"]
    properties = backend.properties()
    expect(properties is not None, "no properties")
    expect_equal(len(properties.qubits), 156, "qubits in the properties")
    latest = properties.last_update_date
    before = backend.properties(datetime=latest - timedelta(days=2, hours=1))
    expect(before is not None, "no properties two days earlier")
    expect(before.last_update_date < latest, "the history gave the latest calibration")
    expect(latest - before.last_update_date >= timedelta(days=2), "not an older calibration")
    expect(state["service"].backend(ctx["simulator"]).properties() is None, "simulator props")
    return {"latest": latest.isoformat(), "two_days_before": before.last_update_date.isoformat()}


@scenario.check("status", needs=("configuration",))
def _() -> dict:
    status = state["backend"].status()
    expect(status.operational, "not operational")
    expect_equal(status.status_msg, "active", "status_msg")
    expect_equal(status.pending_jobs, 0, "pending_jobs")
    paused = state["service"].backend(ctx["paused"]).status()
    expect_equal(paused.status_msg, "paused", "status_msg of the paused backend")
    return {"status_msg": status.status_msg, "paused": paused.status_msg}


@scenario.check("target", needs=("configuration",))
def _() -> dict:
    target = state["backend"].target
    expect_equal(target.num_qubits, 156, "target.num_qubits")
    expect("cz" in target.operation_names, f"operations {target.operation_names}")
    pair = next(iter(target["cz"]))
    expect(target.instruction_supported("cz", pair), f"cz on {pair}")
    expect(target["sx"][(0,)].error is not None, "sx error on qubit 0")
    return {"operations": sorted(target.operation_names)}


@scenario.check("usage", needs=("connect_and_discover_instances",))
def _() -> dict:
    usage = state["service"].usage()
    expect_equal(usage["instance_id"], ctx["instance"], "instance_id")
    expect("usage_consumed_seconds" in usage, f"usage {usage}")
    expect_equal(usage["usage_limit_reached"], False, "usage_limit_reached")
    return usage


scenario.finish()
