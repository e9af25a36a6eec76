"""Honest results and arguments: no counts for what measured nothing, warnings for likely
mistakes that the original client accepted, refusals before any request for arguments that
cannot mean what was meant, one status vocabulary, and a refused token said plainly."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from qiskit import QuantumCircuit

from ibmq_async import AccountProvider, IBMQBackendValueError, IBMQFactory, JobStatus
from ibmq_async.exceptions import ApiAuthenticationError
from ibmq_async.local import BackendConfig, LocalServiceConfig, UserConfig, create_app
from ibmq_async.models import ResultDataError

SIM = "ibmq_qasm_simulator"


class CountingTransport(httpx.AsyncBaseTransport):
    """The service's ASGI app, counting the requests that reach it."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        return await self._inner.handle_async_request(request)


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    config = LocalServiceConfig(
        users=[UserConfig(token="honest-token")],
        backends=[BackendConfig(name=SIM, device="simulator", workers=2)],
    )
    application = create_app(config)
    yield application
    application.state.engine.close()


@pytest_asyncio.fixture
async def counted(app: Any) -> AsyncIterator[tuple[AccountProvider, CountingTransport]]:
    transport = CountingTransport(app)
    provider = await IBMQFactory().enable_account(
        "honest-token", url="http://local/api", transport=transport
    )
    assert provider is not None
    async with provider:
        yield provider, transport


def _bell(measure: bool = True, name: str = "bell") -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name=name)
    circuit.h(0)
    circuit.cx(0, 1)
    if measure:
        circuit.measure([0, 1], [0, 1])
    return circuit


@pytest.mark.asyncio
async def test_a_circuit_without_measurements_warns_and_its_result_has_no_counts(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    backend = provider.get_backend(SIM)
    with pytest.warns(UserWarning, match=r"circuit 'silent' has no measurements"):
        job = await backend.run(_bell(measure=False, name="silent"), shots=20)
    result = await job.result(timeout=60)
    assert result.data(0).counts is None
    with pytest.raises(ResultDataError, match=r"experiment 'silent' measured nothing"):
        result.get_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a measured circuit warns of nothing
        measured = await backend.run(_bell(), shots=20)
    assert sum((await measured.result(timeout=60)).get_counts().values()) == 20


@pytest.mark.asyncio
async def test_a_qobj_experiment_without_measurements_warns_too(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    qobj = {
        "qobj_id": "q",
        "type": "QASM",
        "schema_version": "1.3.0",
        "header": {},
        "config": {"shots": 5, "memory_slots": 0, "n_qubits": 1},
        "experiments": [
            {"header": {"name": "bare"}, "instructions": [{"name": "x", "qubits": [0]}]}
        ],
    }
    with pytest.warns(UserWarning, match=r"circuit 'bare' has no measurements"):
        job = await provider.get_backend(SIM).run(qobj)
    assert (await job.result(timeout=60)).data(0).counts is None


@pytest.mark.asyncio
async def test_an_unknown_run_option_is_sent_with_a_warning_naming_the_closest_option(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    backend = provider.get_backend(SIM)
    with pytest.warns(UserWarning, match=r"unknown option 'shotz'.*did you mean 'shots'\?"):
        job = await backend.run(_bell(), shots=7, shotz=5)
    qobj = await job.qobj()
    assert qobj.config.model_extra == {"shotz": 5}  # passed on, as the original client did
    assert sum((await job.result(timeout=60)).get_counts().values()) == 7
    with pytest.warns(UserWarning, match=r"unknown option 'frobnicate_level'") as caught:
        await backend.run(_bell(), shots=3, frobnicate_level=1)
    assert "did you mean" not in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known Qobj config keys are not warned about
        await backend.run(_bell(), shots=3, max_credits=3, parameter_binds=None)


@pytest.mark.asyncio
@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "10"])
async def test_a_limit_that_is_not_none_or_positive_is_refused_before_any_request(
    counted: tuple[AccountProvider, CountingTransport], limit: Any
) -> None:
    provider, transport = counted
    backend = provider.get_backend(SIM)
    before = len(transport.requests)
    with pytest.raises(IBMQBackendValueError, match="limit must be a positive integer"):
        await backend.jobs(limit=limit)
    with pytest.raises(IBMQBackendValueError, match="limit must be a positive integer"):
        await provider.jobs(limit=limit)
    assert transport.requests[before:] == []


@pytest.mark.asyncio
async def test_a_negative_skip_is_refused_before_any_request(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, transport = counted
    before = len(transport.requests)
    with pytest.raises(IBMQBackendValueError, match="skip"):
        await provider.get_backend(SIM).jobs(skip=-1)
    with pytest.raises(IBMQBackendValueError, match="skip"):
        async for _ in provider.get_backend(SIM).iter_jobs(skip=-3):
            pass
    assert transport.requests[before:] == []


@pytest.mark.asyncio
@pytest.mark.parametrize("job_id", ["", "   ", " 6b0f ", None, 42])
async def test_a_job_id_that_is_not_a_non_empty_string_is_refused_before_any_request(
    counted: tuple[AccountProvider, CountingTransport], job_id: Any
) -> None:
    provider, transport = counted
    before = len(transport.requests)
    with pytest.raises(IBMQBackendValueError, match="job id"):
        await provider.get_backend(SIM).retrieve_job(job_id)
    with pytest.raises(IBMQBackendValueError, match="job id"):
        await provider.retrieve_job(job_id)
    assert transport.requests[before:] == []


@pytest.mark.asyncio
async def test_good_limits_still_work(counted: tuple[AccountProvider, CountingTransport]) -> None:
    provider, _ = counted
    backend = provider.get_backend(SIM)
    for _ in range(3):
        await (await backend.run(_bell(), shots=2)).wait_for_final_state(timeout=60)
    assert len(await backend.jobs(limit=1)) == 1
    assert len(await backend.jobs(limit=None)) >= 3


@pytest.mark.asyncio
async def test_the_job_repr_and_status_speak_one_vocabulary(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    job = await provider.get_backend(SIM).run(_bell(), shots=4)
    await job.wait_for_final_state(timeout=60)
    assert await job.status() is JobStatus.DONE
    assert "status=DONE" in repr(job)
    assert "COMPLETED" not in repr(job)
    listed = (await provider.get_backend(SIM).jobs(limit=1))[0]
    assert "status=DONE" in repr(listed)


@pytest.mark.asyncio
async def test_the_submission_tag_is_hidden_and_survives_tag_updates(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    backend = provider.get_backend(SIM)
    job = await backend.run(_bell(), shots=2, job_tags=["mine"])
    assert job.tags() == ["mine"]
    assert await job.update_tags(replacement_tags=["x", "y"]) == ["x", "y"]
    assert job.tags() == ["x", "y"]
    again = await backend.retrieve_job(job.job_id())
    assert again.tags() == ["x", "y"]
    hidden = [tag for tag in again.record.tags if tag.startswith("ibmq_async_submission_")]
    assert len(hidden) == 1  # kept on the service, so a resubmission still finds the job
    (listed,) = await backend.jobs(limit=1, job_tags=["x"])
    assert listed.tags() == ["x", "y"]


@pytest.mark.asyncio
async def test_a_refused_token_is_said_so_with_the_service_url(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    with pytest.raises(ApiAuthenticationError) as refused:
        await IBMQFactory().enable_account(
            "not-the-token", url="http://local/api", transport=transport
        )
    text = str(refused.value)
    assert text.startswith("The API token was refused by the service at http://local/api")
    assert "no user of this service has this API token" in text
    assert refused.value.status_code == 401
    assert refused.value.error_code == 3446
    assert "not-the-token" not in text


@pytest.mark.asyncio
async def test_the_default_user_of_a_service_says_its_token_changes_at_every_start() -> None:
    application = create_app(LocalServiceConfig())  # no users: a generated token
    try:
        with pytest.raises(ApiAuthenticationError, match="changes at every start"):
            await IBMQFactory().enable_account(
                "stale-token",
                url="http://local/api",
                transport=httpx.ASGITransport(app=application),
            )
    finally:
        application.state.engine.close()


@pytest.mark.asyncio
async def test_an_unknown_backend_name_is_reported_without_a_stray_space(
    counted: tuple[AccountProvider, CountingTransport],
) -> None:
    provider, _ = counted
    with pytest.raises(IBMQBackendValueError) as unknown:
        provider.get_backend("ibmq_nope")
    assert str(unknown.value) == f"no backend matches name='ibmq_nope'; available: {SIM}"
    with pytest.raises(IBMQBackendValueError) as filtered:
        provider.get_backend(SIM, n_qubits=99)
    assert "matches name='ibmq_qasm_simulator', n_qubits=99; available" in str(filtered.value)
