"""Secrets of the platform channel: the API key and every bearer token IAM issued stay out of
the logs (DEBUG, the client's and the service's, over a flow with faults, retries, a token
that expires, failed jobs and failed calls), out of every repr and str, out of exceptions and
the requests they carry, and out of every file but the credentials file, which is 0600.

As ``test_reliability_security.py`` proves it of the classic channel.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from faults import FaultProxy
from reliability_helpers import (
    SIMULATOR,
    ServiceProcess,
    encoded_circuit,
    expected_bits,
    free_port,
    write_config,
)
from test_reliability_security import _assert_no_secret, _exception_texts, _files

from ibmq_async import IBMQFactory, PlatformProvider
from ibmq_async.api import RetryPolicy
from ibmq_async.credentials import credentials_file
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiConnectionError,
    IBMQAccountCredentialsNotFound,
    IBMQBackendApiError,
    IBMQJobFailureError,
)
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig

API_KEY = "platform-secret-key-6e2b9a4c1d8f7e3a"
WRONG_KEY = "platform-wrong-key-1a2b3c4d5e6f7a8b"
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/sec0acct:sec0inst::"
PAUSED = "ibmq_paused_simulator"
TOKEN_TTL = 2.0
PLATFORM = "ibm_quantum_platform"

FAST_RETRY = RetryPolicy(max_attempts=12, backoff_base=0.01, backoff_max=0.1, deadline=60)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(
                token="platform-secret-classic-token",
                id="keeper",
                api_key=API_KEY,
                instances=[INSTANCE],
                jobs_per_minute=0,
            )
        ],
        instances=[InstanceConfig(crn=INSTANCE, name="secrets")],
        backends=[
            BackendConfig(name=SIMULATOR, device="simulator", workers=2),
            BackendConfig(name=PAUSED, device="simulator", paused=True),
        ],
        token_ttl=TOKEN_TTL,
    )
    with LocalService(config) as running:
        yield running


class IssuedTokens:
    """Every bearer token the service's IAM hands out while installed."""

    def __init__(self, service: LocalService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tokens: list[str] = []
        iam = service.engine.platform.iam
        issue = iam.issue

        def spy(form: Any) -> Any:
            answer = issue(form)
            self.tokens.append(answer.access_token)
            return answer

        monkeypatch.setattr(iam, "issue", spy)


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_no_key_or_token_in_logs_reprs_or_errors_over_a_whole_flow(
    service: LocalService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = IssuedTokens(service, monkeypatch)
    errors: list[BaseException] = []
    objects: list[object] = []
    rates = {"503": 0.08, "429": 0.03, "reset": 0.05, "drop": 0.05}
    proxy = FaultProxy(service.port, seed=11, rates=rates, retry_after="0")
    async with proxy.running():
        factory = IBMQFactory()
        provider = await factory.enable_account(
            API_KEY,
            channel=PLATFORM,
            instance=INSTANCE,
            url=proxy.url("/api"),
            iam_url=proxy.url(""),
            retry=FAST_RETRY,
        )
        assert isinstance(provider, PlatformProvider)
        backend = provider.get_backend(SIMULATOR)
        job = await backend.run(encoded_circuit(5), shots=9, job_name="secret-flow")
        result = await job.result(timeout=60)
        assert result.get_counts(0) == {expected_bits(5): 9}

        await anyio.sleep(TOKEN_TTL + 0.5)  # the token expires: a new one from IAM
        assert await job.update_tags(additional_tags=["tagged"]) == ["tagged"]
        listed = await provider.jobs(limit=5)
        assert job.job_id() in [item.job_id() for item in listed]
        assert (await backend.status()).operational

        failing = await backend.run(
            encoded_circuit(1), shots=1, options={"experimental": {"simulate_failure": "no"}}
        )
        with pytest.raises(IBMQJobFailureError) as failed:
            await failing.result(timeout=60)
        errors.append(failed.value)
        with pytest.raises(IBMQBackendApiError) as unknown:
            await provider.retrieve_job("0" * 24)
        errors.append(unknown.value)
        queued = await provider.get_backend(PAUSED).run(encoded_circuit(2), shots=1)
        assert await queued.cancel(timeout=30)

        proxy.rates = {"503": 1.0}  # every call fails now, after its retries
        with pytest.raises(IBMQBackendApiError) as exhausted:
            await provider.retrieve_job(job.job_id())
        errors.append(exhausted.value)
        proxy.rates = {}

        client = provider.api
        objects += [
            factory,
            provider,
            provider.credentials,
            client,
            client.session,
            client.auth,
            client.jobs,
            client.backends,
            client.waits,
            client.pacer,
            provider.backends,
            backend,
            job,
            failing,
            queued,
            result,
            await job.metrics(),
            job.record,
            FAST_RETRY,
        ]
        await factory.disable_account()

    with pytest.raises(ApiAuthenticationError) as refused:
        await IBMQFactory().enable_account(
            WRONG_KEY, channel=PLATFORM, instance=INSTANCE, url=service.url, iam_url=service.root
        )
    errors.append(refused.value)
    stranger = "crn:v1:bluemix:public:quantum-computing:us-east:a/x0acct:x0inst::"
    with pytest.raises(IBMQAccountCredentialsNotFound) as forbidden:
        await IBMQFactory().enable_account(
            API_KEY, channel=PLATFORM, instance=stranger, url=service.url, iam_url=service.root
        )
    errors.append(forbidden.value)
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiConnectionError) as unreachable:
        await IBMQFactory().enable_account(
            API_KEY,
            channel=PLATFORM,
            instance=INSTANCE,
            url=f"{dead}/api",
            iam_url=dead,
            retry=RetryPolicy(max_attempts=2),
        )
    errors.append(unreachable.value)
    objects += [service, service.config, *service.config.users]

    secrets = [API_KEY, WRONG_KEY, *issued.tokens]
    # The flow did what it had to: tokens renewed after expiry, retries, failed calls.
    assert len(issued.tokens) >= 2, issued.tokens
    messages = [record.getMessage() for record in caplog.records]
    assert sum("retry" in message.lower() for message in messages) >= 3
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


def _holding(paths: Iterable[Path], secret: str) -> list[Path]:
    return [path for path in paths if secret.encode() in path.read_bytes()]


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_key_is_written_only_to_the_credentials_file_and_it_is_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work, served = tmp_path / "home", tmp_path / "work", tmp_path / "service"
    for folder in (home, work, served):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for name in (
        "IBMQ_ASYNC_CREDENTIALS_FILE",
        "QE_TOKEN",
        "QE_URL",
        "QISKIT_IBM_TOKEN",
        "QISKIT_IBM_INSTANCE",
        "QISKIT_IBM_URL",
        "QISKIT_IBM_CHANNEL",
        "IAM_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    config = write_config(
        tmp_path / "service.toml",  # the operator's configuration names the key, by design
        users=[
            {
                "token": "files-classic",
                "id": "keeper",
                "api_key": API_KEY,
                "instances": [INSTANCE],
                "jobs_per_minute": 0,
            }
        ],
        backends=[{"name": SIMULATOR, "device": "simulator", "workers": 1}],
    )
    process = ServiceProcess(served, config).start()
    root = f"http://127.0.0.1:{process.port}"
    try:
        previous = os.umask(0)  # even with a permissive umask, the file is the owner's alone
        try:
            IBMQFactory.save_account(
                API_KEY, url=process.url, channel=PLATFORM, instance=INSTANCE, iam_url=root
            )
        finally:
            os.umask(previous)
        factory = IBMQFactory()
        provider = await factory.load_account()
        assert isinstance(provider, PlatformProvider)
        job = await provider.get_backend(SIMULATOR).run(encoded_circuit(3), shots=4)
        assert (await job.result(timeout=60)).get_counts(0) == {expected_bits(3): 4}
        bearer = provider.api.auth.access_token
        await factory.disable_account()
    finally:
        process.kill()  # no clean shutdown: the write-ahead log stays on disk too

    saved = credentials_file()
    assert saved.is_relative_to(home)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) & 0o077 == 0
    scanned = list(_files(home, work, served))
    assert any(path.name.endswith("-wal") for path in scanned), scanned
    assert _holding(scanned, API_KEY) == [saved]
    assert _holding(scanned, bearer) == []
