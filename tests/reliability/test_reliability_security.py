"""Security: where tokens may appear, who may touch whose jobs, where the service listens,
and whether the client checks TLS certificates.

* The API token and every access token the service issued stay out of the logs (DEBUG,
  both the client's and the service's, over a flow with retries, a lost access token,
  failed jobs and failed calls), out of every repr and str, out of exceptions and the
  requests they carry, and out of every file but the credentials file, which is 0600.
* A user cannot read, list, cancel, download, rename, retag or delete another user's job,
  nor a job of another project of their own, through any method of the SDK.
* ``ibmq-async serve``, ``LocalService`` and ``serve()`` bind 127.0.0.1 unless told
  otherwise.
* The client verifies TLS certificates by default: a self-signed certificate fails the
  handshake, and ``verify=False`` is the only way past it.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
import uvicorn
from faults import FaultProxy
from reliability_helpers import (
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    free_port,
    write_config,
)

from ibmq_async import IBMQ, IBMQFactory, IBMQJob, IBMQJobManager, ManagedJobSet
from ibmq_async.api import RetryPolicy
from ibmq_async.api.classic import Connection
from ibmq_async.cli import build_parser
from ibmq_async.credentials import credentials_file
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiConnectionError,
    ApiNotFoundError,
    IBMQBackendApiError,
    IBMQJobApiError,
    IBMQJobFailureError,
    IBMQJobManagerUnknownJobSet,
    IBMQProviderError,
)
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig, serve
from ibmq_async.local.app import create_app
from ibmq_async.local.server import run_forever
from ibmq_async.models import JobStatus

TOKEN_A = "alice-api-token-5f1d0c2e9b7a4f3e8d6c"
TOKEN_B = "bob-api-token-0a9b8c7d6e5f4a3b2c1d"
WRONG_TOKEN = "wrong-api-token-77e6d5c4b3a29180"
MAIN = ("ibm-q", "open", "main")
SHARED = ("hub-s", "group-s", "shared")
BOBS = ("hub-b", "group-b", "bob")
PAUSED = "ibmq_paused_simulator"
TOKEN_TTL = 1.5

FAST_RETRY = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_max=0.1, deadline=60)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(token=TOKEN_A, id="alice", projects=["/".join(MAIN), "/".join(SHARED)]),
            UserConfig(token=TOKEN_B, id="bob", projects=["/".join(BOBS), "/".join(SHARED)]),
        ],
        backends=[
            BackendConfig(name=SIMULATOR, device="simulator", workers=2),
            BackendConfig(name=PAUSED, device="simulator", paused=True),
        ],
        token_ttl=TOKEN_TTL,
    )
    with LocalService(config) as running:
        yield running


class Issued:
    """Every access token the service hands out while installed."""

    def __init__(self, service: LocalService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tokens: list[str] = []
        login = service.engine.auth.login

        def spy(api_token: object) -> Any:
            answer = login(api_token)
            self.tokens.append(answer.access_token)
            return answer

        monkeypatch.setattr(service.engine.auth, "login", spy)


def _exception_texts(error: BaseException) -> Iterator[str]:
    """The str, repr and traceback of an exception and of every exception it chains."""
    yield "".join(traceback.format_exception(error))
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        response = getattr(current, "response", None)
        if response is not None:
            request = response.request
            yield repr(dict(request.headers))
            yield request.content.decode("utf-8", "replace")
            yield str(request.url)
        request = getattr(current, "_request", None)
        if request is not None:
            yield repr(dict(request.headers))
        current = current.__cause__ or current.__context__


def _assert_no_secret(texts: Iterable[str], secrets: Iterable[str], what: str) -> None:
    secrets = [secret for secret in secrets if secret]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a token is in {what}: {text[:500]}"


# --- tokens in logs, reprs and errors ----------------------------------------------------------


@pytest.mark.asyncio
async def test_no_token_in_logs_reprs_or_errors_over_a_whole_flow(
    service: LocalService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = Issued(service, monkeypatch)
    errors: list[BaseException] = []
    objects: list[object] = []
    rates = {"503": 0.08, "429": 0.03, "reset": 0.05, "drop": 0.05}
    proxy = FaultProxy(service.port, seed=5, rates=rates, retry_after="0")
    async with proxy.running():
        factory = IBMQFactory()
        provider = await factory.enable_account(TOKEN_A, url=proxy.url("/api"), retry=FAST_RETRY)
        assert provider is not None
        backend = provider.get_backend(SIMULATOR)
        job = await backend.run(encoded_circuit(5), shots=9, job_name="secret-flow")
        result = await job.result(timeout=60)
        assert result.get_counts(0) == {expected_bits(5): 9}

        await anyio.sleep(TOKEN_TTL + 0.3)  # the access token expires: 401, then a new login
        await job.update_name("renamed")
        await job.update_tags(additional_tags=["tagged"])
        listed = await provider.jobs(limit=5)
        assert job.job_id() in [item.job_id() for item in listed]

        with pytest.warns(UserWarning, match="no measurements"):
            failing = await backend.run(
                {
                    "qobj_id": "bad",
                    "schema_version": "1.3.0",
                    "type": "QASM",
                    "header": {},
                    "config": {"shots": 1, "memory_slots": 1, "n_qubits": 1},
                    "experiments": [
                        {
                            "header": {"name": "bad", "memory_slots": 1, "n_qubits": 1},
                            "config": {"n_qubits": 1, "memory_slots": 1},
                            "instructions": [{"name": "no_such_gate", "qubits": [0]}],
                        }
                    ],
                }
            )
        with pytest.raises(IBMQJobFailureError) as failed:
            await failing.result(timeout=60)
        errors.append(failed.value)
        with pytest.raises(IBMQBackendApiError) as unknown:
            await provider.retrieve_job("0" * 24)
        errors.append(unknown.value)

        queued = await provider.get_backend(PAUSED).run(encoded_circuit(1), shots=1)
        assert await queued.cancel(timeout=30)
        job_set = await IBMQJobManager().run(
            [encoded_circuit(i) for i in range(3)], backend, max_experiments_per_job=1, shots=2
        )
        results = await job_set.results(timeout=60)

        proxy.rates = {"503": 1.0}  # every call fails now, after its retries
        with pytest.raises(IBMQBackendApiError) as exhausted:
            await provider.retrieve_job(job.job_id())
        errors.append(exhausted.value)
        proxy.rates = {}

        connection = factory._connection
        assert connection is not None
        objects += [
            factory,
            provider,
            provider.credentials,
            provider.api,
            provider.api.waits,
            provider.api.jobs,
            provider.backends,
            backend,
            job,
            failing,
            queued,
            result,
            job_set,
            results,
            connection,
            connection.session,
            connection.session.auth,
            connection.auth_service,
            connection.user_info,
            FAST_RETRY,
        ]
        await factory.disable_account()

    with pytest.raises(ApiAuthenticationError) as refused:
        await IBMQFactory().enable_account(WRONG_TOKEN, url=service.url)
    errors.append(refused.value)
    with pytest.raises(ApiConnectionError) as unreachable:
        await Connection.connect(
            TOKEN_A, f"http://127.0.0.1:{free_port()}/api", retry=RetryPolicy(max_attempts=2)
        )
    errors.append(unreachable.value)
    objects += [service, service.config, *service.config.users, service.stats]
    objects += list(service.engine.auth.users)

    secrets = [TOKEN_A, WRONG_TOKEN, *issued.tokens]
    # The flow did what it had to: logins again after expiry, retries, failed calls.
    assert len(issued.tokens) >= 2, issued.tokens
    messages = [record.getMessage() for record in caplog.records]
    assert any("logging in again" in message for message in messages)
    assert sum("retry" in message for message in messages) >= 5
    assert sum(record.levelno == logging.DEBUG for record in caplog.records) >= 20
    assert {record.name.split(".")[0] for record in caplog.records} >= {"ibmq_async", "httpx"}

    _assert_no_secret(messages, secrets, "a log message")
    _assert_no_secret([caplog.text], secrets, "the log")
    _assert_no_secret(
        (record.exc_text or "" for record in caplog.records), secrets, "a logged traceback"
    )
    for error in errors:
        _assert_no_secret(_exception_texts(error), secrets, f"the error {type(error).__name__}")
    for item in objects:
        _assert_no_secret([repr(item), str(item)], secrets, f"a {type(item).__name__}")


# --- tokens in files ---------------------------------------------------------------------------


def _files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


@pytest.mark.asyncio
async def test_the_token_is_written_only_to_the_credentials_file_and_it_is_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work, served = tmp_path / "home", tmp_path / "work", tmp_path / "service"
    for folder in (home, work, served):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for name in ("IBMQ_ASYNC_CREDENTIALS_FILE", "QE_TOKEN", "QE_URL", "QE_HUB", "QE_GROUP"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(
        tmp_path / "service.toml",  # the operator's configuration names the token, by design
        users=[{"token": TOKEN_A, "id": "alice"}],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 1}],
    )
    process = ServiceProcess(served, config).start()
    try:
        previous = os.umask(0)  # even with a permissive umask, the file is the owner's alone
        try:
            IBMQFactory.save_account(TOKEN_A, url=process.url)
        finally:
            os.umask(previous)
        factory = IBMQFactory()
        provider = await factory.load_account()
        assert provider is not None
        job = await provider.get_backend(SIMULATOR).run(encoded_circuit(3), shots=4)
        assert (await job.result(timeout=60)).get_counts(0) == {expected_bits(3): 4}
        assert factory._connection is not None
        access_token = factory._connection.session.auth.access_token  # type: ignore[union-attr]
        await factory.disable_account()
    finally:
        process.kill()  # no clean shutdown: the write-ahead log stays on disk too

    saved = credentials_file()
    assert saved.is_relative_to(home)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) & 0o077 == 0
    scanned = list(_files(home, work, served))
    assert any(path.name.endswith("-wal") for path in scanned), scanned
    holding = [path for path in scanned if TOKEN_A.encode() in path.read_bytes()]
    assert holding == [saved]
    with_access = [path for path in scanned if access_token.encode() in path.read_bytes()]
    assert with_access == []


def test_the_default_users_token_is_not_kept_in_plain_text_by_the_service(
    tmp_path: Path,
) -> None:
    with LocalService(LocalServiceConfig(db=tmp_path / "service.db")) as running:
        token = running.token
    files = list(_files(tmp_path))
    assert files
    assert [path for path in files if token.encode() in path.read_bytes()] == []


# --- tenancy -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_user_cannot_touch_another_users_jobs_or_another_projects(
    service: LocalService,
) -> None:
    alice_factory, bob_factory = IBMQFactory(), IBMQFactory()
    alice = await alice_factory.enable_account(
        TOKEN_A, url=service.url, hub=MAIN[0], group=MAIN[1], project=MAIN[2]
    )
    bob = await bob_factory.enable_account(
        TOKEN_B, url=service.url, hub=BOBS[0], group=BOBS[1], project=BOBS[2]
    )
    assert alice is not None
    assert bob is not None
    try:
        done = await alice.get_backend(SIMULATOR).run(
            encoded_circuit(6), shots=3, job_name="alice-done", job_tags=["mine"]
        )
        await done.result(timeout=60)
        waiting = await alice.get_backend(PAUSED).run(encoded_circuit(2), shots=3)
        job_set = await IBMQJobManager().run(
            [encoded_circuit(i) for i in range(2)],
            alice.get_backend(SIMULATOR),
            max_experiments_per_job=1,
            shots=1,
        )
        await job_set.results(timeout=60)
        own = [done, waiting, *(job for job in job_set.jobs() if job is not None)]
        own_ids = {job.job_id() for job in own}

        intruders = {
            "another user": bob,
            "another user, in a project shared with her": bob_factory.get_provider(*SHARED),
            "the same user, through another project": alice_factory.get_provider(*SHARED),
        }
        for who, intruder in intruders.items():
            same_user = intruder is intruders["the same user, through another project"]
            # Not listed, by any listing.
            listed = {job.job_id() for job in await intruder.jobs(limit=None)}
            assert not listed & own_ids, who
            by_backend = await intruder.get_backend(SIMULATOR).jobs(limit=None)
            assert not {job.job_id() for job in by_backend} & own_ids, who
            filtered = await intruder.jobs(limit=None, db_filter={"id": {"inq": sorted(own_ids)}})
            assert filtered == [], who
            with pytest.raises(IBMQJobManagerUnknownJobSet):
                await ManagedJobSet.retrieve(job_set.job_set_id(), intruder)

            for job in (done, waiting):
                # Not found by id, nor by a handle that names no project or the owner's.
                with pytest.raises(IBMQBackendApiError, match=r"3250|not found"):
                    await intruder.retrieve_job(job.job_id())
                with pytest.raises(IBMQBackendApiError):
                    await IBMQJob.from_handle({"job_id": job.job_id()}, intruder)
                if not same_user:  # her own handle names a project she has: that works
                    with pytest.raises(IBMQProviderError):
                        await IBMQJob.from_handle(job.to_handle(), intruder)

                # A job object made from a known id is refused at every call.
                forged = IBMQJob(intruder.get_backend(SIMULATOR), job.record, intruder.api)
                calls = {
                    "status": forged.status,
                    "refresh": forged.refresh,
                    "result": lambda forged=forged: forged.result(timeout=15),
                    "wait": lambda forged=forged: forged.wait_for_final_state(timeout=15),
                    "cancel": lambda forged=forged: forged.cancel(timeout=15),
                    "rename": lambda forged=forged: forged.update_name("taken"),
                    "retag": lambda forged=forged: forged.update_tags(additional_tags=["x"]),
                    "qobj": forged.qobj,
                    "properties": forged.properties,
                }
                for name, call in calls.items():
                    if name in ("status", "wait", "cancel") and job is done:
                        continue  # a final job's status is known without asking the service
                    if name in ("result", "wait") and job is waiting and same_user:
                        # The status stream has no project in its path: it follows any job
                        # the user sees through one of her projects, so this wait goes on.
                        continue
                    with pytest.raises(IBMQJobApiError) as refused:
                        await call()
                    cause = refused.value.__cause__
                    assert isinstance(cause, ApiNotFoundError), (who, name, cause)
                for low_level in (
                    intruder.api.storage.result,
                    intruder.api.storage.qobj,
                    intruder.api.jobs.cancel,
                    intruder.api.jobs.delete,
                    intruder.api.jobs.get,
                ):
                    with pytest.raises(ApiNotFoundError):
                        await low_level(job.job_id())

        # Alice's jobs are as she left them.
        await done.refresh()
        assert done.name() == "alice-done"
        assert "mine" in done.tags()
        assert "x" not in done.tags()
        assert await waiting.status() is JobStatus.QUEUED
        assert (await alice.retrieve_job(done.job_id())).job_id() == done.job_id()
        assert await waiting.cancel(timeout=30)
    finally:
        await alice_factory.disable_account()
        await bob_factory.disable_account()


# --- where the service listens -----------------------------------------------------------------


def _listening(pid: int, port: int) -> set[str]:
    return {
        connection.laddr.ip
        for connection in psutil.Process(pid).net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


def _outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _reachable(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
    except OSError:
        return False
    return True


def test_every_way_to_start_the_service_defaults_to_loopback() -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    for function in (LocalService, serve, run_forever):
        assert inspect.signature(function).parameters["host"].default == "127.0.0.1"
    with LocalService(LocalServiceConfig.default()) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert _listening(os.getpid(), running.port) == {"127.0.0.1"}


@pytest.mark.slow
def test_ibmq_async_serve_binds_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "service.toml",
        users=[{"token": TOKEN_A}],
        backends=[{"name": SIMULATOR, "device": "simulator"}],
    )
    outward = _outward_address()
    for host, expected in ((None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")):
        workdir = tmp_path / (host or "default")
        workdir.mkdir()
        process = ServiceProcess(workdir, config, host=host).start()
        try:
            assert process.process is not None
            assert _listening(process.process.pid, process.port) == {expected}
            if outward is not None:
                assert _reachable(outward, process.port) is (host is not None)
        finally:
            process.stop()
        assert f"http://127.0.0.1:{process.port}/api" in process.logs()


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
def https_service(tmp_path: Path) -> Iterator[str]:
    """The local service over HTTPS with a self-signed certificate; yields its auth URL."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("neither the cryptography package nor the openssl command is available")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    config = LocalServiceConfig(
        users=[UserConfig(token=TOKEN_A)],
        backends=[BackendConfig(name=SIMULATOR, device="simulator")],
        db=tmp_path / "service.db",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            ssl_keyfile=str(key),
            ssl_certfile=str(cert),
            log_config=None,
            log_level="warning",
            lifespan="on",
            ws_ping_interval=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the HTTPS service did not start"
        assert time.monotonic() < deadline, "the HTTPS service did not start"
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}/api"
    finally:
        server.should_exit = True
        thread.join(15)


def test_the_client_verifies_certificates_unless_told_not_to() -> None:
    assert inspect.signature(IBMQFactory.enable_account).parameters["verify"].default is True
    assert inspect.signature(Connection.connect).parameters["verify"].default is True
    assert inspect.signature(IBMQ.save_account).parameters["verify"].default is True


@pytest.mark.asyncio
async def test_a_self_signed_certificate_is_refused_by_default(https_service: str) -> None:
    with pytest.raises(ApiConnectionError) as refused:
        await IBMQFactory().enable_account(
            TOKEN_A, url=https_service, retry=RetryPolicy(max_attempts=2, backoff_base=0.01)
        )
    chain: list[BaseException] = []
    current: BaseException | None = refused.value
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert any(
        isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(error)
        for error in chain
    ), chain

    # Told not to verify, the same service works end to end.
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN_A, url=https_service, verify=False)
    assert provider is not None
    try:
        job = await provider.get_backend(SIMULATOR).run(encoded_circuit(4), shots=2)
        assert (await job.result(timeout=60)).get_counts(0) == {expected_bits(4): 2}
    finally:
        await factory.disable_account()
