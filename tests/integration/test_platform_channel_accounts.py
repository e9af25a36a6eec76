"""Accounts of the platform channel through ``IBMQ``: ``enable_account(channel=...)``, the
saved account, ``QISKIT_IBM_*`` and ``IAM_URL``, qiskit-ibm-runtime's saved account, the
default URLs of a CRN's region, and the errors of each, on asyncio and trio."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_channel import (
    API_KEY,
    CLASSIC_TOKEN,
    INSTANCE,
    OTHER_INSTANCE,
    SIMULATOR,
    channel_config,
    flip,
)

from ibmq_async import (
    AccountProvider,
    IBMQAccountCredentialsNotFound,
    IBMQAccountError,
    IBMQFactory,
    IBMQProviderError,
    PlatformProvider,
)
from ibmq_async.api import RetryPolicy
from ibmq_async.exceptions import ApiAuthenticationError, ApiError, IBMQAccountValueError
from ibmq_async.local import LocalService

pytestmark = pytest.mark.anyio

PLATFORM = "ibm_quantum_platform"
ENVIRONMENT = (
    "QE_TOKEN",
    "QE_URL",
    "QE_HUB",
    "QE_GROUP",
    "QE_PROJECT",
    "QISKIT_IBM_TOKEN",
    "QISKIT_IBM_INSTANCE",
    "QISKIT_IBM_URL",
    "QISKIT_IBM_CHANNEL",
    "IAM_URL",
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    with LocalService(channel_config()) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and environment: no saved account, no account variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


async def _runs(provider: PlatformProvider) -> None:
    job = await provider.get_backend(SIMULATOR).run(flip(), shots=3)
    assert (await job.result(timeout=60)).get_counts() == {"1": 3}


async def test_enable_account_on_the_platform_channel_and_back(
    service: LocalService, home: Path
) -> None:
    factory = IBMQFactory()
    provider = await factory.enable_account(
        API_KEY, channel=PLATFORM, instance=INSTANCE, url=service.url, iam_url=service.root
    )
    assert isinstance(provider, PlatformProvider)
    active = factory.active_account()
    assert active == {
        "channel": PLATFORM,
        "token": API_KEY,
        "url": service.url,
        "instance": INSTANCE,
    }
    with pytest.raises(IBMQAccountError, match="already in use"):
        await factory.enable_account(CLASSIC_TOKEN, url=service.url)
    with pytest.raises(IBMQProviderError, match="platform channel"):
        factory.providers()
    await _runs(provider)
    await factory.disable_account()
    assert factory.active_account() is None
    assert provider.api.closed

    # The same factory takes a classic account next, as it always did.
    classic = await factory.enable_account(CLASSIC_TOKEN, url=service.url)
    assert isinstance(classic, AccountProvider)
    assert factory.providers() == [classic]
    await factory.disable_account()

    # Closing the provider forgets the account too.
    async with await factory.enable_account(
        API_KEY, channel="ibm_cloud", instance=OTHER_INSTANCE, url=service.url, iam_url=service.root
    ) as other:
        assert other.instance == OTHER_INSTANCE
    assert factory.active_account() is None


async def test_wrong_arguments_and_keys_fail_clearly(service: LocalService, home: Path) -> None:
    factory = IBMQFactory()
    common = {"url": service.url, "iam_url": service.root}
    with pytest.raises(ApiAuthenticationError, match="API key was refused by the service at"):
        await factory.enable_account("not-the-key", channel=PLATFORM, instance=INSTANCE, **common)
    with pytest.raises(IBMQAccountValueError, match="needs the instance's CRN"):
        await factory.enable_account(API_KEY, channel=PLATFORM, **common)
    with pytest.raises(IBMQAccountValueError, match="needs the instance's CRN"):
        await factory.enable_account(API_KEY, channel=PLATFORM, instance="my-instance", **common)
    with pytest.raises(IBMQAccountValueError, match="scope"):
        await factory.enable_account(
            API_KEY,
            channel=PLATFORM,
            instance="crn:v1:bluemix:public:quantum-computing:us-east:acct:inst::",
            **common,
        )
    stranger = "crn:v1:bluemix:public:quantum-computing:us-east:a/other0acct:other0inst::"
    with pytest.raises(IBMQAccountCredentialsNotFound, match="no access to the instance"):
        await factory.enable_account(API_KEY, channel=PLATFORM, instance=stranger, **common)
    with pytest.raises(IBMQAccountValueError, match="hub, group and project"):
        await factory.enable_account(
            API_KEY, channel=PLATFORM, instance=INSTANCE, hub="ibm-q", **common
        )
    with pytest.raises(IBMQAccountValueError, match="platform channel's"):
        await factory.enable_account(API_KEY, url=service.url, instance=INSTANCE)
    with pytest.raises(IBMQAccountValueError, match="unknown channel"):
        await factory.enable_account(API_KEY, channel="ibm_quantum_experience")
    with pytest.raises(IBMQAccountValueError, match="url"):
        await factory.enable_account(API_KEY, channel=PLATFORM, instance=INSTANCE, url="ftp://x")
    assert factory.active_account() is None  # nothing was left enabled


async def test_the_default_urls_are_the_crn_regions_and_iam_url_overrides(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.scheme}://{request.url.host}{request.url.path}")
        if request.url.path == "/identity/token":
            now = int(time.time())
            return httpx.Response(
                200,
                json={"access_token": "t", "expires_in": 3600, "expiration": now + 3600},
            )
        return httpx.Response(403, json={"trace": "x", "errors": [{"code": 1203, "message": "no"}]})

    eu = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct:inst::"
    factory = IBMQFactory()
    with pytest.raises(IBMQAccountCredentialsNotFound):
        await factory.enable_account(
            API_KEY, channel=PLATFORM, instance=eu, transport=httpx.MockTransport(answer)
        )
    assert asked[0] == "https://iam.cloud.ibm.com/identity/token"
    assert asked[1] == "https://eu-de.quantum.cloud.ibm.com/api/v1/instances/usage"

    asked.clear()
    monkeypatch.setenv("IAM_URL", "https://iam.example.test")
    with pytest.raises(IBMQAccountCredentialsNotFound):
        await factory.enable_account(
            API_KEY, channel=PLATFORM, instance=INSTANCE, transport=httpx.MockTransport(answer)
        )
    assert asked == [
        "https://iam.example.test/identity/token",
        "https://quantum.cloud.ibm.com/api/v1/instances/usage",
    ]


async def test_a_saved_platform_account_loads_beside_the_classic_one(
    service: LocalService, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    IBMQFactory.save_account(CLASSIC_TOKEN, url=service.url)
    IBMQFactory.save_account(
        API_KEY, url=service.url, channel=PLATFORM, instance=INSTANCE, iam_url=service.root
    )
    with pytest.raises(IBMQAccountValueError):
        IBMQFactory.save_account(API_KEY, url=service.url, channel=PLATFORM, instance=INSTANCE)
    assert IBMQFactory.stored_account() == {"token": CLASSIC_TOKEN, "url": service.url}
    assert IBMQFactory.stored_account(channel=PLATFORM) == {
        "channel": PLATFORM,
        "token": API_KEY,
        "url": service.url,
        "instance": INSTANCE,
    }

    factory = IBMQFactory()
    classic = await factory.load_account()  # the classic one first, as it always was
    assert isinstance(classic, AccountProvider)
    await factory.disable_account()
    platform = await factory.load_account(channel=PLATFORM)
    assert isinstance(platform, PlatformProvider)
    await _runs(platform)
    await factory.disable_account()

    IBMQFactory.delete_account()
    assert IBMQFactory.stored_account() == {}
    loaded = await factory.load_account()  # now the platform's is the only one
    assert isinstance(loaded, PlatformProvider)
    await factory.disable_account()
    IBMQFactory.delete_account(channel=PLATFORM)
    with pytest.raises(IBMQAccountCredentialsNotFound):
        await factory.load_account()
    with pytest.raises(IBMQAccountCredentialsNotFound):
        IBMQFactory.delete_account(channel=PLATFORM)


async def test_the_qiskit_ibm_variables_and_iam_url_load_the_account(
    service: LocalService, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", API_KEY)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", INSTANCE)
    monkeypatch.setenv("QISKIT_IBM_URL", service.url)
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", PLATFORM)
    monkeypatch.setenv("IAM_URL", service.root)
    factory = IBMQFactory()
    provider = await factory.load_account()
    assert isinstance(provider, PlatformProvider)
    assert provider.instance == INSTANCE
    await _runs(provider)
    await factory.disable_account()

    monkeypatch.setenv("QISKIT_IBM_INSTANCE", "crn:v1:not-a-crn")
    with pytest.raises(IBMQAccountError, match="QISKIT_IBM_INSTANCE"):
        await factory.load_account()


async def test_an_account_saved_by_qiskit_ibm_runtime_is_read(
    service: LocalService, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = home / ".qiskit" / "qiskit-ibm.json"
    saved.parent.mkdir()
    accounts = {
        "default-ibm-quantum-platform": {
            "channel": PLATFORM,
            "token": API_KEY,
            "instance": INSTANCE,
            "url": service.url,
            "private_endpoint": False,
        },
        "old": {"channel": "ibm_quantum", "token": "retired", "url": "https://auth.x"},
    }
    saved.write_text(json.dumps(accounts), encoding="utf-8")
    before = saved.read_bytes()
    monkeypatch.setenv("IAM_URL", service.root)
    factory = IBMQFactory()
    provider = await factory.load_account()
    assert isinstance(provider, PlatformProvider)
    await _runs(provider)
    await factory.disable_account()
    assert saved.read_bytes() == before  # read, never written


async def test_an_unreachable_service_is_a_connection_error_naming_it(home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = f"http://127.0.0.1:{port}"
    with pytest.raises(ApiError, match=r"127\.0\.0\.1"):
        await IBMQFactory().enable_account(
            API_KEY,
            channel=PLATFORM,
            instance=INSTANCE,
            url=f"{root}/api",
            iam_url=root,
            retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
        )
