"""IBMQ and AccountProvider against the local service: accounts, providers, backend discovery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio

from ibmq_async import (
    IBMQ,
    AccountProvider,
    IBMQAccountCredentialsNotFound,
    IBMQAccountError,
    IBMQBackendValueError,
    IBMQError,
    IBMQFactory,
    IBMQProviderError,
    least_busy,
)
from ibmq_async.exceptions import ApiAuthenticationError
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

TOKEN = "provider-test-token"
OTHER_TOKEN = "provider-test-other"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(token=TOKEN, projects=["ibm-q/open/main", "hub2/group2/project2"]),
            UserConfig(token=OTHER_TOKEN, projects=["hub2/group2/project2"]),
        ],
        backends=[
            BackendConfig(name="ibmq_vigo", device="vigo", max_jobs=5, workers=1),
            BackendConfig(name="ibmq_lima", device="lima", max_jobs=5, workers=1),
            BackendConfig(name="ibmq_montreal", device="montreal", max_jobs=5, workers=1),
            BackendConfig(name="ibmq_qasm_simulator", device="simulator", max_jobs=-1, workers=2),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest_asyncio.fixture
async def factory() -> AsyncIterator[IBMQFactory]:
    factory = IBMQFactory()
    yield factory
    if factory.active_account() is not None:
        await factory.disable_account()


@pytest.mark.asyncio
async def test_enable_account_returns_the_default_provider_and_lists_all(
    service: LocalService, factory: IBMQFactory
) -> None:
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert isinstance(provider, AccountProvider)
    assert (provider.hub, provider.group, provider.project) == ("ibm-q", "open", "main")
    assert {(p.hub, p.group, p.project) for p in factory.providers()} == {
        ("ibm-q", "open", "main"),
        ("hub2", "group2", "project2"),
    }
    assert factory.get_provider(hub="hub2") is not provider
    assert factory.active_account() == {"token": TOKEN, "url": service.url}
    assert TOKEN not in repr(provider)


@pytest.mark.asyncio
async def test_enable_account_with_hub_group_project_picks_that_provider(
    service: LocalService, factory: IBMQFactory
) -> None:
    provider = await factory.enable_account(
        TOKEN, url=service.url, hub="hub2", group="group2", project="project2"
    )
    assert provider is not None
    assert provider.hub == "hub2"


@pytest.mark.asyncio
async def test_unknown_provider_is_an_error_and_leaves_no_account(
    service: LocalService, factory: IBMQFactory
) -> None:
    with pytest.raises(IBMQProviderError, match="nohub"):
        await factory.enable_account(TOKEN, url=service.url, hub="nohub", group="g", project="p")
    assert factory.active_account() is None


@pytest.mark.asyncio
async def test_a_second_account_on_one_factory_is_refused(
    service: LocalService, factory: IBMQFactory
) -> None:
    await factory.enable_account(TOKEN, url=service.url)
    with pytest.raises(IBMQAccountError, match="already in use"):
        await factory.enable_account(TOKEN, url=service.url)
    await factory.disable_account()
    with pytest.raises(IBMQAccountCredentialsNotFound):
        await factory.disable_account()
    with pytest.raises(IBMQAccountCredentialsNotFound):
        factory.providers()


@pytest.mark.asyncio
async def test_a_bad_token_is_an_authentication_error_without_the_token(
    service: LocalService, factory: IBMQFactory
) -> None:
    with pytest.raises(ApiAuthenticationError) as excinfo:
        await factory.enable_account("not-a-valid-token", url=service.url)
    assert excinfo.value.status_code == 401
    assert "not-a-valid-token" not in str(excinfo.value)
    assert "not-a-valid-token" not in repr(excinfo.value)


@pytest.mark.asyncio
async def test_load_account_reads_the_environment_then_the_saved_file(
    service: LocalService,
    factory: IBMQFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("IBMQ_ASYNC_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    for name in ("QE_TOKEN", "QE_URL", "QE_HUB", "QE_GROUP", "QE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(IBMQAccountCredentialsNotFound):
        await factory.load_account()

    IBMQFactory.save_account(TOKEN, url=service.url, hub="hub2", group="group2", project="project2")
    assert IBMQFactory.stored_account() == {"token": TOKEN, "url": service.url}
    provider = await factory.load_account()
    assert provider is not None
    assert provider.hub == "hub2"
    await factory.disable_account()

    monkeypatch.setenv("QE_TOKEN", TOKEN)
    monkeypatch.setenv("QE_URL", service.url)
    provider = await factory.load_account()
    assert provider is not None
    assert provider.hub == "ibm-q"
    IBMQFactory.delete_account()
    assert IBMQFactory.stored_account() == {}


@pytest.mark.asyncio
async def test_provider_context_manager_closes_the_connection(service: LocalService) -> None:
    factory = IBMQFactory()
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    async with provider:
        assert len(provider.backends) == 4
    assert factory.active_account() is None


@pytest.mark.asyncio
async def test_backends_are_discovered_with_their_configuration(
    service: LocalService, factory: IBMQFactory
) -> None:
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    names = sorted(b.name() for b in await provider.backends())
    assert names == ["ibmq_lima", "ibmq_montreal", "ibmq_qasm_simulator", "ibmq_vigo"]
    vigo = provider.backends.ibmq_vigo
    assert vigo.configuration().n_qubits == 5
    assert provider.get_backend("ibmq_vigo") is vigo
    assert provider.get_backend("ibmqx_qasm_simulator").name() == "ibmq_qasm_simulator"
    assert "ibmq_vigo" in dir(provider.backends)
    with pytest.raises(AttributeError, match="ibmq_vigo"):
        _ = provider.backends.ibmq_nowhere
    with pytest.raises(IBMQBackendValueError, match="more than one"):
        provider.get_backend(simulator=False)
    with pytest.raises(IBMQBackendValueError, match="operational"):
        provider.get_backend("ibmq_vigo", operational=True)


@pytest.mark.asyncio
async def test_backends_filter_on_configuration_and_status(
    service: LocalService, factory: IBMQFactory
) -> None:
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    devices = await provider.backends(simulator=False)
    assert {b.name() for b in devices} == {"ibmq_vigo", "ibmq_lima", "ibmq_montreal"}
    big = await provider.backends(min_num_qubits=20, simulator=False)
    assert [b.name() for b in big] == ["ibmq_montreal"]
    operational = await provider.backends(operational=True, simulator=False)
    assert len(operational) == 3
    none = await provider.backends(operational=False)
    assert none == []
    pulse = await provider.backends(open_pulse=True)
    assert {b.name() for b in pulse} == {"ibmq_lima", "ibmq_montreal"}
    picked = await provider.backends(filters=lambda b: b.configuration().n_qubits == 5)
    assert {b.name() for b in picked} == {"ibmq_vigo", "ibmq_lima"}


@pytest.mark.asyncio
async def test_least_busy_skips_reserved_backends_and_picks_the_shortest_queue(
    service: LocalService, factory: IBMQFactory
) -> None:
    provider = await factory.enable_account(TOKEN, url=service.url)
    assert provider is not None
    vigo, lima = provider.backends.ibmq_vigo, provider.backends.ibmq_lima
    now = datetime.now(timezone.utc)
    service.add_reservation("ibmq_vigo", now - timedelta(minutes=1), now + timedelta(minutes=30))
    assert await least_busy([vigo, lima]) is lima
    assert await least_busy([vigo, lima], reservation_lookahead=None) in (vigo, lima)
    with pytest.raises(IBMQError, match="No backend"):
        await least_busy([vigo])
    with pytest.raises(IBMQError):
        await least_busy([])


def test_the_global_factory_is_an_ibmq_factory() -> None:
    assert isinstance(IBMQ, IBMQFactory)
