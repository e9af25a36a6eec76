"""The account and the backends: enable_account, the backend list and ibmq_vigo's
status, properties (now and at a past date), defaults, job limit and reservations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from _harness import Scenario, expect, expect_equal

scenario = Scenario()
ctx = scenario.context
state: dict = {}


def _utc(value: datetime) -> datetime:
    expect(value.tzinfo is not None, f"{value!r} has no time zone")
    return value.astimezone(timezone.utc)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@scenario.check("enable_account_bad_token")
def _() -> str:
    from qiskit import IBMQ
    from qiskit.providers.ibmq.api.exceptions import RequestsApiError

    try:
        IBMQ.enable_account("not-" + scenario.token, url=scenario.url)
    except RequestsApiError as error:
        expect_equal(error.status_code, 401, "status code of a login with a wrong token")
        expect(IBMQ.active_account() is None, "a failed login left an active account")
        return str(error)[:200]
    raise AssertionError("enable_account with a wrong token did not raise RequestsApiError")


@scenario.check("enable_account")
def _() -> str:
    from qiskit import IBMQ

    provider = IBMQ.enable_account(scenario.token, url=scenario.url)
    expect(provider is not None, "enable_account returned None")
    credentials = provider.credentials
    expect_equal(
        (credentials.hub, credentials.group, credentials.project),
        tuple(ctx["project"].split("/")),
        "hub/group/project of the default provider",
    )
    expect_equal(
        IBMQ.active_account(), {"token": scenario.token, "url": scenario.url}, "active_account()"
    )
    expect_equal(len(IBMQ.providers()), 1, "number of providers")
    expect(
        credentials.base_url.startswith(scenario.url.rsplit("/api", 1)[0]),
        f"REST base {credentials.base_url!r} is not on the service",
    )
    expect(
        credentials.websockets_url.startswith("ws://"),
        f"websocket URL {credentials.websockets_url!r} is not ws://",
    )
    state["provider"] = provider
    return {"rest": credentials.base_url, "ws": credentials.websockets_url}


@scenario.check("backend_list", needs=("enable_account",))
def _() -> dict:
    from qiskit.providers.ibmq import IBMQBackend
    from qiskit.providers.ibmq.ibmqbackend import IBMQSimulator

    provider = state["provider"]
    backends = provider.backends()
    names = sorted(backend.name() for backend in backends)
    expect_equal(names, sorted(ctx["backends"]), "backend names")
    expect(all(isinstance(b, IBMQBackend) for b in backends), "not every backend is IBMQBackend")
    simulator = provider.get_backend(ctx["simulator"])
    expect(isinstance(simulator, IBMQSimulator), f"{simulator!r} is not an IBMQSimulator")
    expect(simulator.configuration().simulator, "the simulator's configuration.simulator")
    devices = sorted(b.name() for b in provider.backends(simulator=False))
    expect_equal(devices, sorted(set(ctx["backends"]) - {ctx["simulator"]}), "devices")
    vigo = provider.get_backend("ibmq_vigo")
    config = vigo.configuration()
    expect_equal(config.backend_name, "ibmq_vigo", "configuration().backend_name")
    expect_equal(config.n_qubits, 5, "ibmq_vigo n_qubits")
    expect(config.coupling_map, "ibmq_vigo has no coupling map")
    expect(set(config.basis_gates) >= {"cx", "id", "rz", "sx", "x"}, config.basis_gates)
    expect(not config.open_pulse, "ibmq_vigo claims open_pulse")
    expect(isinstance(config.online_date, datetime), f"online_date {config.online_date!r}")
    state["vigo"] = vigo
    return {"backends": names, "vigo_version": config.backend_version}


@scenario.check("backends_input_allowed", needs=("backend_list",))
def _() -> dict:
    # The original client's test_filter_input_allowed: every configuration carries
    # input_allowed, and backends() filters on it.
    provider = state["provider"]
    found = {}
    for wanted in ("job", ["job"], ["job", "runtime"]):
        backends = provider.backends(input_allowed=wanted)
        expect(backends, f"no backend allows {wanted!r}")
        asked = set(wanted if isinstance(wanted, list) else [wanted])
        for backend in backends:
            allowed = set(backend.configuration().input_allowed)
            expect(asked <= allowed, f"{backend.name()} allows {allowed}, not {asked}")
        found[str(wanted)] = sorted(backend.name() for backend in backends)
    expect_equal(found["job"], sorted(ctx["backends"]), "backends that take jobs")
    expect_equal(provider.backends(input_allowed=["nothing"]), [], "backends that take nothing")
    return found


@scenario.check("status", needs=("backend_list",))
def _() -> dict:
    vigo = state["vigo"]
    status = vigo.status()
    expect_equal(status.backend_name, "ibmq_vigo", "status().backend_name")
    expect_equal(status.operational, True, "status().operational")
    expect_equal(status.status_msg, "active", "status().status_msg")
    expect_equal(status.pending_jobs, 0, "status().pending_jobs of an idle backend")
    expect_equal(
        status.backend_version, vigo.configuration().backend_version, "status().backend_version"
    )
    return status.to_dict()


@scenario.check("properties", needs=("backend_list",))
def _() -> dict:
    from qiskit.providers.models import BackendProperties

    properties = state["vigo"].properties()
    expect(isinstance(properties, BackendProperties), f"properties() gave {properties!r}")
    expect_equal(properties.backend_name, "ibmq_vigo", "properties().backend_name")
    expect_equal(
        _utc(properties.last_update_date),
        _parse(ctx["vigo"]["last_update_date"]),
        "properties().last_update_date",
    )
    expect_equal(len(properties.qubits), 5, "number of qubits in properties")
    t1 = [properties.t1(q) for q in range(5)]
    expect(all(0 < value < 1e-2 for value in t1), f"T1 (s) out of range: {t1}")
    cx_error = properties.gate_error("cx", [0, 1])
    expect(0 < cx_error < 1, f"cx error {cx_error}")
    expect(0 < properties.readout_error(0) < 1, "readout error of qubit 0")
    state["latest"] = properties
    return {"last_update_date": properties.last_update_date.isoformat(), "t1_q0": t1[0]}


@scenario.check("properties_datetime", needs=("properties",))
def _() -> dict:
    vigo, latest = state["vigo"], state["latest"]
    snapshot = _parse(ctx["vigo"]["last_update_date"])
    # 2.5 days before the snapshot: the calibration in force then is the one 3 days older.
    when = snapshot - timedelta(days=2, hours=12)
    past = vigo.properties(datetime=when)
    expect(past is not None, f"properties(datetime={when.isoformat()}) gave None")
    expect_equal(
        _utc(past.last_update_date),
        snapshot - timedelta(days=3),
        f"last_update_date of properties(datetime={when.isoformat()})",
    )
    expect(_utc(past.last_update_date) < when, "a calibration newer than the date asked for")
    expect(
        past.to_dict() != latest.to_dict(),
        "the past calibration has the same values as the latest one",
    )
    # A naive datetime is local time to the client; it converts it to UTC.
    naive_local = (when + timedelta(days=1)).astimezone().replace(tzinfo=None)
    past_naive = vigo.properties(datetime=naive_local)
    expect_equal(
        _utc(past_naive.last_update_date),
        snapshot - timedelta(days=2),
        f"last_update_date of properties(datetime=naive local {naive_local.isoformat()})",
    )
    oldest = snapshot - timedelta(days=ctx["vigo"]["properties_history"])
    before_history = vigo.properties(datetime=oldest - timedelta(hours=1))
    expect(
        before_history is None,
        f"properties() before the oldest calibration gave {before_history!r}, not None",
    )
    again = vigo.properties()
    expect_equal(
        _utc(again.last_update_date), snapshot, "properties() after properties(datetime=...)"
    )
    return {
        "asked": when.isoformat(),
        "got": past.last_update_date.isoformat(),
        "t1_q0": past.t1(0),
    }


@scenario.check("defaults", needs=("backend_list",))
def _() -> dict:
    from qiskit.providers.models import PulseDefaults

    provider = state["provider"]
    vigo_defaults = state["vigo"].defaults()
    expect(vigo_defaults is None, f"ibmq_vigo (no OpenPulse) defaults() gave {vigo_defaults!r}")
    simulator_defaults = provider.get_backend(ctx["simulator"]).defaults()
    expect(simulator_defaults is None, f"simulator defaults() gave {simulator_defaults!r}")
    pulse = provider.get_backend(ctx["pulse_backend"]).defaults()
    expect(isinstance(pulse, PulseDefaults), f"{ctx['pulse_backend']} defaults() gave {pulse!r}")
    expect_equal(len(pulse.qubit_freq_est), 5, "qubit_freq_est length")
    expect(all(3e9 < f < 7e9 for f in pulse.qubit_freq_est), pulse.qubit_freq_est)
    expect(pulse.instruction_schedule_map.has("x", 0), "no x calibration on qubit 0")
    return {"vigo": None, ctx["pulse_backend"]: {"qubit_freq_est_0": pulse.qubit_freq_est[0]}}


@scenario.check("job_limit", needs=("backend_list",))
def _() -> dict:
    from qiskit.providers.ibmq.backendjoblimit import BackendJobLimit

    vigo = state["vigo"]
    limit = vigo.job_limit()
    expect(isinstance(limit, BackendJobLimit), f"job_limit() gave {limit!r}")
    expect_equal(limit.maximum_jobs, ctx["vigo"]["max_jobs"], "job_limit().maximum_jobs")
    expect_equal(limit.active_jobs, 0, "job_limit().active_jobs of an idle backend")
    expect_equal(vigo.remaining_jobs_count(), ctx["vigo"]["max_jobs"], "remaining_jobs_count()")
    unlimited = state["provider"].get_backend(ctx["simulator"]).job_limit()
    expect(unlimited.maximum_jobs is None, f"unlimited maximum_jobs {unlimited.maximum_jobs!r}")
    return {"maximum_jobs": limit.maximum_jobs, "active_jobs": limit.active_jobs}


@scenario.check("reservations", needs=("backend_list",))
def _() -> dict:
    from qiskit.providers.ibmq.backendreservation import BackendReservation

    provider, vigo = state["provider"], state["vigo"]
    booked = ctx["reservation"]
    start, end = _parse(booked["start"]), _parse(booked["end"])
    reservations = vigo.reservations()
    expect_equal(len(reservations), 1, "number of ibmq_vigo reservations")
    reservation = reservations[0]
    expect(isinstance(reservation, BackendReservation), repr(reservation))
    expect_equal(reservation.backend_name, "ibmq_vigo", "reservation backend_name")
    expect_equal(_utc(reservation.start_datetime), start, "reservation start")
    expect_equal(_utc(reservation.end_datetime), end, "reservation end")
    expect_equal(reservation.mode, booked["mode"], "reservation mode")
    expect_equal(
        "/".join((reservation.hub, reservation.group, reservation.project)),
        ctx["project"],
        "reservation hub/group/project",
    )
    expect(reservation.reservation_id, "reservation has no id")
    window = vigo.reservations(start_datetime=start - timedelta(hours=2), end_datetime=end)
    expect_equal(len(window), 1, "reservations in a window that holds the booking")
    before = vigo.reservations(
        start_datetime=start - timedelta(hours=3), end_datetime=start - timedelta(hours=2)
    )
    expect_equal(before, [], "reservations in a window before the booking")
    other = provider.get_backend(ctx["pulse_backend"]).reservations()
    expect_equal(other, [], f"{ctx['pulse_backend']} reservations")
    mine = provider.backend.my_reservations()
    expect_equal(
        [(r.backend_name, r.reservation_id) for r in mine],
        [("ibmq_vigo", reservation.reservation_id)],
        "my_reservations()",
    )
    return {"start": reservation.start_datetime.isoformat(), "mode": reservation.mode}


@scenario.check("least_busy", needs=("reservations",))
def _() -> dict:
    from qiskit.providers.ibmq import least_busy

    provider = state["provider"]
    devices = [provider.get_backend("ibmq_vigo"), provider.get_backend(ctx["pulse_backend"])]
    soon = least_busy(devices)
    expect(soon.name() in ("ibmq_vigo", ctx["pulse_backend"]), f"least_busy gave {soon}")
    # Looking 3 days ahead, ibmq_vigo's booking falls in the window: it is left out.
    ahead = least_busy(devices, reservation_lookahead=3 * 24 * 60)
    expect_equal(ahead.name(), ctx["pulse_backend"], "least_busy with a 3-day lookahead")
    return {"default": soon.name(), "three_days": ahead.name()}


@scenario.check("load_account_from_environment", needs=("enable_account",))
def _() -> dict:
    import os

    from qiskit import IBMQ

    IBMQ.disable_account()
    expect(IBMQ.active_account() is None, "disable_account() left an active account")
    os.environ["QE_TOKEN"], os.environ["QE_URL"] = scenario.token, scenario.url
    try:
        provider = IBMQ.load_account()
    finally:
        del os.environ["QE_TOKEN"], os.environ["QE_URL"]
    expect(provider is not None, "load_account() returned None")
    expect_equal(IBMQ.active_account(), {"token": scenario.token, "url": scenario.url}, "account")
    names = sorted(backend.name() for backend in provider.backends())
    expect_equal(names, sorted(ctx["backends"]), "backends after load_account()")
    return str(provider)


scenario.finish()
