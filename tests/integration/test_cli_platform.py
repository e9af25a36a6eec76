"""``ibmq-async backends``, ``jobs`` and ``batch`` on IBM Quantum Platform: the account from
``--channel ibm_quantum_platform --instance CRN``, the ``QISKIT_IBM_*`` variables or the
saved platform account, else the embedded local service's platform API; every expected
failure (a refused API key, an instance that is not the key's, an unreachable IAM host) is
one line. Each case runs the command as a subprocess against a local service over real
HTTP."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from platform_channel import API_KEY, INSTANCE, LIMA, SIMULATOR, VIGO, channel_config, flip
from test_cli_commands import assert_one_line, cli, no_account, qasm

from ibmq_async import IBMQFactory
from ibmq_async.local import LocalService

PLATFORM = "ibm_quantum_platform"
NOBODYS_INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/chan0acct:nobody::"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(channel_config()) as running:
        yield running


@pytest.fixture(scope="module")
def made_jobs(service: LocalService) -> list[str]:
    """Two jobs made on the instance by ``backend.run`` (named), one by a primitive's way
    (no name), all finished: what ``jobs`` lists."""

    async def make() -> list[str]:
        provider = await IBMQFactory().enable_account(
            API_KEY, channel=PLATFORM, instance=INSTANCE, url=service.url, iam_url=service.root
        )
        async with provider:
            backend = provider.get_backend(SIMULATOR)
            ids = []
            for index in range(2):
                job = await backend.run(flip(), shots=5, job_name=f"listed-{index}")
                await job.result(timeout=60)
                ids.append(job.job_id())
            return ids

    return anyio.run(make)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with no account."""
    return no_account(tmp_path)


def options(service: LocalService, instance: str = INSTANCE) -> list[str]:
    """The platform account on the command line, but for the API key (QISKIT_IBM_TOKEN)."""
    return ["--channel", PLATFORM, "--instance", instance, "--url", service.url,
            "--iam-url", service.root]  # fmt: skip


def with_key(home: dict[str, str], key: str = API_KEY) -> dict[str, str]:
    return {**home, "QISKIT_IBM_TOKEN": key}


def variables(service: LocalService, home: dict[str, str], key: str = API_KEY) -> dict[str, str]:
    """The platform account in the variables qiskit-ibm-runtime reads (and ``IAM_URL``)."""
    return {
        **home,
        "QISKIT_IBM_TOKEN": key,
        "QISKIT_IBM_INSTANCE": INSTANCE,
        "QISKIT_IBM_URL": service.url,
        "QISKIT_IBM_CHANNEL": PLATFORM,
        "IAM_URL": service.root,
    }


def backend_names(completed: object) -> set[str]:
    assert getattr(completed, "returncode", None) == 0, completed
    return {entry["name"] for entry in json.loads(completed.stdout)}  # type: ignore[attr-defined]


# --- looking before submitting ----------------------------------------------------------------


def test_backends_on_the_platform_lists_the_instance_backends_with_no_job_limit(
    service: LocalService, home: dict[str, str]
) -> None:
    table = cli("backends", *options(service), env=with_key(home))
    assert table.returncode == 0, table.stderr
    assert "embedded" not in table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["BACKEND", "QUBITS", "STATUS", "PENDING", "JOBS/LIMIT"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[VIGO][1:3] == ["5", "active"]
    assert rows[VIGO][4] == "none"  # the platform limits no number of pending jobs
    listed = json.loads(cli("backends", "--json", *options(service), env=with_key(home)).stdout)
    by_name = {entry["name"]: entry for entry in listed}
    assert set(by_name) == {SIMULATOR, VIGO, LIMA, "ibmq_paused", "ibmq_slow"}
    assert by_name[LIMA] | {"pending_jobs": 0, "active_jobs": 0} == {
        "name": LIMA,
        "qubits": 5,
        "simulator": False,
        "operational": True,
        "status": "active",
        "pending_jobs": 0,
        "job_limit": None,
        "active_jobs": 0,
    }
    assert by_name["ibmq_paused"]["status"] == "paused"
    assert by_name[SIMULATOR]["simulator"] is True


def test_jobs_on_the_platform_lists_the_instance_jobs_newest_first(
    service: LocalService, made_jobs: list[str], home: dict[str, str]
) -> None:
    listed = cli("jobs", "--json", "--limit", "2", *options(service), env=with_key(home))
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [entry["id"] for entry in entries] == made_jobs[::-1]
    for index, entry in zip((1, 0), entries, strict=True):
        assert entry["name"] == f"listed-{index}"  # the name's hidden tag, read back
        assert (entry["backend"], entry["status"]) == (SIMULATOR, "DONE")
        assert entry["created"].endswith("Z")
    table = cli("jobs", "--backend", SIMULATOR, "--limit", "1", *options(service),
                env=with_key(home))  # fmt: skip
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["JOB", "BACKEND", "STATUS", "NAME", "CREATED", "(UTC)"]
    assert lines[1].split()[:4] == [made_jobs[-1], SIMULATOR, "DONE", "listed-1"]
    none = cli("jobs", "--backend", LIMA, *options(service), env=with_key(home))
    assert (none.returncode, none.stdout, none.stderr.strip()) == (0, "", "no jobs")
    nope = cli("jobs", "--backend", "ibmq_nope", *options(service), env=with_key(home))
    assert_one_line(nope, "no backend matches name='ibmq_nope'")


def test_the_qiskit_ibm_variables_are_the_account_without_any_option(
    service: LocalService, made_jobs: list[str], home: dict[str, str]
) -> None:
    environment = variables(service, home)
    assert VIGO in backend_names(cli("backends", "--json", env=environment))
    listed = cli("jobs", "--json", env=environment)
    assert listed.returncode == 0, listed.stderr
    assert "embedded" not in listed.stderr
    assert set(made_jobs) <= {entry["id"] for entry in json.loads(listed.stdout)}
    # Without QISKIT_IBM_CHANNEL the key in QISKIT_IBM_TOKEN still means the platform.
    del environment["QISKIT_IBM_CHANNEL"]
    assert VIGO in backend_names(cli("backends", "--json", env=environment))


def test_the_saved_platform_account_is_used_with_or_without_channel(
    service: LocalService, made_jobs: list[str], home: dict[str, str]
) -> None:
    saved = (
        "from ibmq_async import IBMQ\n"
        f"IBMQ.save_account({API_KEY!r}, channel={PLATFORM!r}, instance={INSTANCE!r}, "
        f"url={service.url!r}, iam_url={service.root!r})\n"
    )
    assert cli(env=home, python=saved).returncode == 0
    for channel in (["--channel", PLATFORM], []):
        listed = cli("jobs", "--json", *channel, env=home)
        assert listed.returncode == 0, listed.stderr
        assert "embedded" not in listed.stderr
        assert set(made_jobs) <= {entry["id"] for entry in json.loads(listed.stdout)}
    # The classic channel asked for: the platform account is not the classic one.
    classic = cli("backends", "--json", "--channel", "ibm_quantum", env=home)
    assert "running on the embedded local service" in classic.stderr


def test_qiskit_ibm_runtime_saved_account_is_read_on_the_platform_channel(
    service: LocalService, home: dict[str, str]
) -> None:
    accounts = Path(home["HOME"]) / ".qiskit" / "qiskit-ibm.json"
    accounts.parent.mkdir()

    def save(key: str) -> None:
        account = {"channel": PLATFORM, "token": key, "instance": INSTANCE, "url": service.url}
        accounts.write_text(json.dumps({"default-ibm-quantum-platform": account}))

    save(API_KEY)
    environment = {**home, "IAM_URL": service.root}
    listed = cli("backends", "--json", "--channel", PLATFORM, env=environment)
    assert VIGO in backend_names(listed)
    assert "embedded" not in listed.stderr
    not_iam = cli("backends", "--channel", PLATFORM, env={**environment, "IAM_URL": service.url})
    assert_one_line(not_iam, f"{service.url} is not an IAM host", "(from IAM_URL)")
    save("wrong-key-789")
    refused = cli("backends", "--channel", PLATFORM, env=environment)
    assert_one_line(refused, "the API key from qiskit-ibm-runtime's saved account was refused")


# --- the embedded local service on the platform channel --------------------------------------


def test_with_no_account_the_platform_channel_runs_on_the_embedded_service(
    home: dict[str, str], tmp_path: Path
) -> None:
    listed = cli("backends", "--json", "--channel", PLATFORM, env=home)
    assert {"ibmq_vigo", "ibmq_qasm_simulator"} <= backend_names(listed)
    assert "embedded local service (IBM Quantum Platform API)" in listed.stderr
    by_variable = cli("jobs", "--json", "--db", tmp_path / "kept.db",
                      env={**home, "QISKIT_IBM_CHANNEL": PLATFORM})  # fmt: skip
    assert by_variable.returncode == 0, by_variable.stderr
    assert json.loads(by_variable.stdout) == []
    assert "IBM Quantum Platform API) (database " in by_variable.stderr
    local = cli("backends", "--local", "--channel", PLATFORM, env=variables_of_nothing(home))
    assert "IBM Quantum Platform API" in local.stderr


def variables_of_nothing(home: dict[str, str]) -> dict[str, str]:
    """A key in the environment that --local must not use (it would be refused)."""
    return {**home, "QISKIT_IBM_TOKEN": "never-used"}


# --- expected failures: one line --------------------------------------------------------------


def test_a_refused_api_key_is_one_line_that_names_where_it_came_from(
    service: LocalService, home: dict[str, str]
) -> None:
    line = assert_one_line(
        cli("backends", *options(service), "--token", "wrong-key-123", env=home),
        "the API key from --token was refused by",
        service.root,
        "check the key",
    )
    assert line.startswith("ibmq-async backends: ")
    assert "wrong-key-123" not in line
    from_variable = cli("jobs", env=variables(service, home, key="wrong-key-456"))
    line = assert_one_line(from_variable, "the API key from QISKIT_IBM_TOKEN was refused")
    assert "wrong-key-456" not in line
    debug = cli("jobs", "--debug", env=variables(service, home, key="wrong-key-456"))
    assert "Traceback" in debug.stderr
    assert "ApiAuthenticationError" in debug.stderr


def test_an_instance_that_is_not_the_keys_is_one_line(
    service: LocalService, home: dict[str, str]
) -> None:
    assert_one_line(
        cli("jobs", *options(service, NOBODYS_INSTANCE), env=with_key(home)),
        f"the instance {NOBODYS_INSTANCE} (from --instance) is not one the API key from "
        "QISKIT_IBM_TOKEN can use",
        "check the instance's CRN",
    )


def test_an_unreachable_iam_host_is_one_line(service: LocalService, home: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    iam = f"http://127.0.0.1:{port}"
    argv = ["backends", "--channel", PLATFORM, "--instance", INSTANCE, "--url", service.url,
            "--iam-url", iam]  # fmt: skip
    assert_one_line(
        cli(*argv, env=with_key(home), timeout=180),
        f"cannot reach the IAM host {iam}",
        "check the IAM URL (from --iam-url)",
    )


def test_an_iam_url_that_is_not_iam_and_an_api_root_that_is_not_one_are_one_line(
    service: LocalService, home: dict[str, str]
) -> None:
    argv = ["backends", "--channel", PLATFORM, "--instance", INSTANCE]
    not_iam = cli(*argv, "--url", service.url, "--iam-url", service.url, env=with_key(home))
    assert_one_line(not_iam, f"{service.url} is not an IAM host", "without /api")
    not_api = cli(*argv, "--url", service.root + "/nothere", "--iam-url", service.root,
                  env=with_key(home))  # fmt: skip
    assert_one_line(not_api, "is not an IBM Quantum Platform API root", "(from --url)")


def test_the_usage_errors_of_the_platform_options(home: dict[str, str]) -> None:
    cases = {
        ("--instance", INSTANCE): "--instance is the platform channel's: add --channel",
        ("--iam-url", "http://x", "--instance", INSTANCE): "--instance and --iam-url are",
        ("--channel", PLATFORM, "--instance", INSTANCE): "no API key: set QISKIT_IBM_TOKEN",
        ("--channel", PLATFORM, "--token", "k", "--instance", "crn:v1:x"): "is not a CRN",
        ("--channel", PLATFORM, "--token", "k", "--instance", INSTANCE, "--url", "ftp://x"): (
            "url must be an http(s) URL"
        ),
        ("--db", "x.db", "--channel", PLATFORM, "--instance", INSTANCE): (
            "--db is for the embedded local service"
        ),
    }
    for argv, fragment in cases.items():
        completed = cli("jobs", *argv, env=home)
        assert completed.returncode == 2, (argv, completed.stderr)
        line = assert_one_line(completed, fragment)
        assert "'k'" not in line
    unknown = cli("jobs", "--channel", "ibm_nope", env=home)
    assert unknown.returncode == 2
    assert "invalid choice: 'ibm_nope'" in unknown.stderr


# --- batch ----------------------------------------------------------------------------------


def test_batch_on_the_platform_checks_the_backend_and_the_widths_first(
    service: LocalService, tmp_path: Path, home: dict[str, str]
) -> None:
    wide = qasm(tmp_path, "wide", qubits=6)
    completed = cli("batch", wide, "--backend", VIGO, *options(service), env=with_key(home))
    assert_one_line(completed, f"{wide} uses 6 qubits but {VIGO} has 5", "ibmq-async backends")
    unknown = cli("batch", wide, "--backend", "ibmq_nope", *options(service), env=with_key(home))
    assert unknown.returncode == 2
    assert_one_line(unknown, "no backend matches name='ibmq_nope'; available: ibmq_lima,")


# --- against 'ibmq-async serve' -----------------------------------------------------------------


def test_the_command_serve_prints_for_the_platform_runs_as_printed(
    tmp_path: Path, home: dict[str, str]
) -> None:
    serve = ["serve", "--port", "0", "--db", str(tmp_path / "served.db")]
    process = subprocess.Popen(
        [sys.executable, "-m", "ibmq_async.cli", *serve],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=home,
    )
    try:
        assert process.stdout is not None
        printed = ""
        for _ in range(20):
            line = process.stdout.readline().strip()
            if "ibmq-async backends --channel ibm_quantum_platform" in line:
                printed = line
                break
        assert printed, "serve printed no command for the platform"
        assignment, *words = shlex.split(printed)
        variable, key = assignment.split("=", 1)
        assert (variable, words[0]) == ("QISKIT_IBM_TOKEN", "ibmq-async")
        url = words[words.index("--url") + 1]
        for _ in range(100):  # the socket is bound; uvicorn starts answering shortly
            try:
                httpx.get(url + "/v1/versions")
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        listed = cli(*words[1:], "--json", env={**home, variable: key})
        assert {"ibmq_vigo", "ibmq_qasm_simulator"} <= backend_names(listed)
        assert "embedded" not in listed.stderr
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
