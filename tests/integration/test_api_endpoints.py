"""Every endpoint of the HTTP layer against the local service, over loopback HTTP."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
import pytest_asyncio

from ibmq_async.api import SUBMISSION_TAG_PREFIX, JobQuery, PollingPolicy, RetryPolicy
from ibmq_async.api.classic import Connection, ProjectClient
from ibmq_async.exceptions import (
    ApiAuthenticationError,
    ApiJobLimitError,
    ApiJobWaitTimeoutError,
    ApiNotFoundError,
    ApiStatusError,
    IBMQAccountCredentialsInvalidUrl,
)
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig
from ibmq_async.models import (
    ApiJobStatus,
    JobStatus,
    PulseBackendConfiguration,
    QasmQobj,
)

SIMULATOR = "ibmq_qasm_simulator"
DEVICE = "ibmq_lima"
LIMITED = "ibmq_vigo"  # max 2 active jobs per user, kept paused by the tests that use it
HGP = ("ibm-q", "open", "main")


def one_qubit_qobj(shots: int = 32, name: str = "c0") -> dict[str, Any]:
    return {
        "qobj_id": f"qobj-{name}",
        "schema_version": "1.3.0",
        "type": "QASM",
        "header": {"backend_name": SIMULATOR},
        "config": {"shots": shots, "memory_slots": 1, "n_qubits": 1},
        "experiments": [
            {
                "header": {
                    "name": name,
                    "memory_slots": 1,
                    "n_qubits": 1,
                    "creg_sizes": [["c", 1]],
                    "clbit_labels": [["c", 0]],
                    "qreg_sizes": [["q", 1]],
                    "qubit_labels": [["q", 0]],
                },
                "config": {"n_qubits": 1, "memory_slots": 1},
                "instructions": [
                    {"name": "x", "qubits": [0]},
                    {"name": "measure", "qubits": [0], "memory": [0]},
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    """A service of this module's own: a paused backend with a job limit of 2 to fill."""
    config = LocalServiceConfig.default()
    backends = [
        BackendConfig(name=SIMULATOR, device="simulator", workers=2),
        BackendConfig(name=DEVICE, device="lima", max_jobs=5),
        BackendConfig(name=LIMITED, device="vigo", max_jobs=2, paused=True),
    ]
    config = config.model_copy(update={"backends": backends})
    with LocalService(config) as running:
        yield running


@pytest_asyncio.fixture
async def connection(service: LocalService) -> AsyncIterator[Connection]:
    async with await Connection.connect(
        service.token, service.url, polling=PollingPolicy(initial=0.05, maximum=0.5)
    ) as conn:
        yield conn


@pytest.fixture
def client(connection: Connection) -> ProjectClient:
    return connection.project(*HGP)


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_gives_the_urls_and_the_hubs(
    service: LocalService, connection: Connection
) -> None:
    assert connection.auth_url == service.url
    assert connection.api_url.startswith("http://127.0.0.1:")
    assert connection.ws_url is not None
    assert connection.ws_url.startswith("ws://")
    hubs = await connection.hubs()
    assert ("ibm-q", "open", "main", True) in [hgp for hub in hubs for hgp in hub.hgps()]
    assert connection.project(*HGP) is connection.project(*HGP)


@pytest.mark.asyncio
async def test_a_wrong_token_or_url_is_refused(service: LocalService) -> None:
    with pytest.raises(ApiAuthenticationError) as info:
        await Connection.connect("not-a-token", service.url)
    assert info.value.status_code == 401
    assert info.value.trace_id
    with pytest.raises(IBMQAccountCredentialsInvalidUrl):
        await Connection.connect(service.token, service.url + "/Network")


@pytest.mark.asyncio
async def test_an_expired_access_token_is_renewed_once(
    service_factory: Callable[..., LocalService],
) -> None:
    config = LocalServiceConfig.default().model_copy(update={"token_ttl": 0.5})
    short_lived = service_factory(config)
    async with await Connection.connect(short_lived.token, short_lived.url) as conn:
        client = conn.project(*HGP)
        await client.backends.status(SIMULATOR)
        await anyio.sleep(0.8)
        statuses = []
        async with anyio.create_task_group() as tg:

            async def status() -> None:
                statuses.append(await client.backends.status(SIMULATOR))

            for _ in range(10):
                tg.start_soon(status)
        assert len(statuses) == 10
        assert conn.login.renewals == 2  # one shared re-login


# --- backends ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_backends(client: ProjectClient) -> None:
    backends = {b.backend_name: b for b in await client.backends.configurations()}
    assert set(backends) == {SIMULATOR, DEVICE, LIMITED}
    assert isinstance(backends[DEVICE], PulseBackendConfiguration)
    assert backends[SIMULATOR].simulator


@pytest.mark.asyncio
async def test_backend_properties_now_and_before(
    service: LocalService, client: ProjectClient
) -> None:
    assert await client.backends.properties(SIMULATOR) is None
    latest = await client.backends.properties(DEVICE)
    assert latest is not None
    assert latest.backend_name == DEVICE
    earlier = await client.backends.properties(
        DEVICE, datetime=latest.last_update_date - timedelta(seconds=1)
    )
    assert earlier is not None
    assert earlier.last_update_date < latest.last_update_date


@pytest.mark.asyncio
async def test_pulse_defaults(client: ProjectClient) -> None:
    assert await client.backends.defaults(SIMULATOR) is None
    defaults = await client.backends.defaults(DEVICE)
    assert defaults is not None
    assert defaults.qubit_freq_est


@pytest.mark.asyncio
async def test_status_and_job_limit(client: ProjectClient) -> None:
    status = await client.backends.status(SIMULATOR)
    assert status.operational
    assert status.status_msg == "active"
    unlimited = await client.backends.job_limit(SIMULATOR)
    assert unlimited.maximum_jobs is None
    limited = await client.backends.job_limit(DEVICE)
    assert limited.maximum_jobs == 5


@pytest.mark.asyncio
async def test_reservations(service: LocalService, client: ProjectClient) -> None:
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    end = start + timedelta(hours=1)
    made = service.add_reservation(DEVICE, start, end)
    window = await client.backends.reservations(
        DEVICE, start_datetime=start - timedelta(minutes=5), end_datetime=end
    )
    assert [r.reservation_id for r in window] == [made["id"]]
    assert window[0].start_datetime == start
    assert window[0].backend_name == DEVICE
    later = await client.backends.reservations(DEVICE, start_datetime=end + timedelta(days=1))
    assert made["id"] not in [r.reservation_id for r in later]
    mine = await client.backends.my_reservations()
    assert made["id"] in [r.reservation_id for r in mine]


# --- jobs ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_submit_wait_and_download(client: ProjectClient) -> None:
    qobj = one_qubit_qobj(shots=64)
    job = await client.submit(
        SIMULATOR, qobj, job_name="integration", job_tags=["api"], experiment_id="exp-9"
    )
    assert job.status is not ApiJobStatus.CREATING
    assert job.name == "integration"
    assert job.experiment_id == "exp-9"
    assert any(tag.startswith(SUBMISSION_TAG_PREFIX) for tag in job.tags)
    seen: list[str] = []
    final = await client.waits.wait_for_final(
        job.job_id, timeout=30, on_status=lambda s: seen.append(s.status.value)
    )
    assert final.status is ApiJobStatus.COMPLETED
    assert seen[-1] == "COMPLETED"
    record = await client.jobs.get(job.job_id)
    assert record.status is ApiJobStatus.COMPLETED
    assert (await client.jobs.status(job.job_id)).status is ApiJobStatus.COMPLETED
    result = await client.storage.result(job.job_id)
    assert result.success
    assert result.results[0].data.counts == {"0x1": 64}
    downloaded = await client.storage.qobj(job.job_id)
    assert isinstance(downloaded, QasmQobj)
    assert downloaded.to_wire() == QasmQobj.model_validate(qobj).to_wire()
    assert await client.jobs.properties(job.job_id) is None  # a simulator job


@pytest.mark.asyncio
async def test_a_device_job_has_properties(client: ProjectClient) -> None:
    job = await client.submit(DEVICE, one_qubit_qobj())
    await client.waits.wait_for_final(job.job_id, timeout=30)
    properties = await client.jobs.properties(job.job_id)
    assert properties is not None
    assert properties.backend_name == DEVICE


@pytest.mark.asyncio
async def test_a_qobj_model_is_accepted(client: ProjectClient) -> None:
    job = await client.submit(SIMULATOR, QasmQobj.model_validate(one_qubit_qobj()))
    final = await client.waits.wait_for_final(job.job_id, timeout=30)
    assert final.status is ApiJobStatus.COMPLETED


@pytest.mark.asyncio
async def test_the_low_level_steps(client: ProjectClient) -> None:
    created = await client.jobs.create(SIMULATOR, job_tags=["steps"], submission_key="steps-1")
    assert (await client.jobs.get(created.job_id)).status is ApiJobStatus.CREATING
    await client.storage.upload(created.object_storage_info.upload_url, one_qubit_qobj())
    started = await client.jobs.start(created.job_id)
    assert started.job_id == created.job_id
    assert started.status is not ApiJobStatus.CREATING
    again = await client.jobs.create(SIMULATOR, submission_key="steps-1")
    assert again.job_id == created.job_id  # the service honours Idempotency-Key


@pytest.mark.asyncio
async def test_resubmitting_the_same_key_gives_the_same_job(
    service: LocalService, client: ProjectClient
) -> None:
    first = await client.submit(SIMULATOR, one_qubit_qobj(), submission_key="same-key")
    again = await client.submit(SIMULATOR, one_qubit_qobj(), submission_key="same-key")
    assert again.job_id == first.job_id
    found = await client.jobs.listing(JobQuery(job_tags=[f"{SUBMISSION_TAG_PREFIX}same-key"]))
    assert [job.job_id for job in found] == [first.job_id]


@pytest.mark.asyncio
async def test_rename_and_retag(client: ProjectClient) -> None:
    job = await client.submit(SIMULATOR, one_qubit_qobj())
    assert await client.jobs.rename(job.job_id, "renamed") == "renamed"
    assert sorted(await client.jobs.retag(job.job_id, ["x", "y"])) == ["x", "y"]
    record = await client.jobs.get(job.job_id)
    assert record.name == "renamed"
    assert sorted(record.tags) == ["x", "y"]


@pytest.mark.asyncio
async def test_cancel_delete_and_not_found(service: LocalService, client: ProjectClient) -> None:
    job = await client.submit(LIMITED, one_qubit_qobj())  # the backend is paused
    assert await client.jobs.cancel(job.job_id) is True
    final = await client.waits.wait_for_final(job.job_id, timeout=10)
    assert final.status is ApiJobStatus.CANCELLED
    assert await client.jobs.cancel(job.job_id) is False
    await client.jobs.delete(job.job_id)
    with pytest.raises(ApiNotFoundError) as info:
        await client.jobs.get(job.job_id)
    assert info.value.error_code == 3250
    assert info.value.trace_id
    assert info.value.method == "GET"
    with pytest.raises(ApiNotFoundError):
        await client.waits.wait_for_final(job.job_id, timeout=10)


@pytest.mark.asyncio
async def test_the_job_limit_is_error_3458(service: LocalService, client: ProjectClient) -> None:
    jobs = [await client.submit(LIMITED, one_qubit_qobj()) for _ in range(2)]
    try:
        with pytest.raises(ApiJobLimitError) as info:
            await client.submit(LIMITED, one_qubit_qobj())
        assert info.value.error_code == 3458
        assert info.value.retries_taken == 0
        limit = await client.backends.job_limit(LIMITED)
        assert (limit.maximum_jobs, limit.running_jobs) == (2, 2)
    finally:
        for job in jobs:
            await client.jobs.cancel(job.job_id)


@pytest.mark.asyncio
async def test_a_result_that_does_not_exist_yet_is_an_error(client: ProjectClient) -> None:
    job = await client.submit(LIMITED, one_qubit_qobj())
    try:
        with pytest.raises(ApiStatusError) as info:
            await client.storage.result(job.job_id)
        assert info.value.error_code == 3253
    finally:
        await client.jobs.cancel(job.job_id)


# --- listing -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_listing_with_filters_and_paging(client: ProjectClient) -> None:
    marker = f"listing-{datetime.now().timestamp()}"
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    made = []
    for i in range(12):
        tags = [marker, "even" if i % 2 == 0 else "odd"]
        made.append(
            await client.submit(SIMULATOR, one_qubit_qobj(), job_name=f"list {i}", job_tags=tags)
        )
    for job in made:
        await client.waits.wait_for_final(job.job_id, timeout=30)
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    mine = JobQuery(job_tags=[marker])
    everything = await client.jobs.listing(mine, limit=None, page_size=5)
    ids = [job.job_id for job in everything]
    assert sorted(ids) == sorted(job.job_id for job in made)
    assert len(set(ids)) == 12
    dates = [job.creation_date for job in everything]
    assert dates == sorted(dates, reverse=True)
    oldest_first = JobQuery(job_tags=[marker], descending=False)
    ascending = await client.jobs.listing(oldest_first, limit=None, page_size=4)
    assert [job.job_id for job in ascending] == list(reversed(ids))
    assert [job.job_id for job in await client.jobs.listing(mine, limit=5, skip=3)] == ids[3:8]
    assert [job.job_id async for job in client.jobs.listing(mine, limit=None, page_size=3)] == ids
    even_and_mine = JobQuery(job_tags=[marker, "even"], job_tags_operator="AND")
    assert len(await client.jobs.listing(even_and_mine, limit=None)) == 6
    named = JobQuery(job_tags=[marker], job_name="^list 1[01]$")
    assert len(await client.jobs.listing(named, limit=None)) == 2
    done = JobQuery(
        job_tags=[marker],
        status=JobStatus.DONE,
        backend_name=SIMULATOR,
        start_datetime=before,
        end_datetime=after,
    )
    assert len(await client.jobs.listing(done, limit=None)) == 12
    not_done = JobQuery(job_tags=[marker], status=[JobStatus.QUEUED, JobStatus.RUNNING])
    assert await client.jobs.listing(not_done, limit=None) == []
    id_records = await client.jobs.id_listing(mine, limit=None, page_size=5)
    assert [record.job_id for record in id_records] == ids


# --- waiting -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_many_waiters_share_the_wait(service: LocalService, client: ProjectClient) -> None:
    service.pause_backend(SIMULATOR)
    try:
        job = await client.submit(SIMULATOR, one_qubit_qobj())
        finals: list[Any] = []

        async def wait() -> None:
            finals.append(await client.waits.wait_for_final(job.job_id, timeout=30))

        async with anyio.create_task_group() as tg:
            for _ in range(15):
                tg.start_soon(wait)
            await anyio.sleep(0.2)
            assert client.waits.active_watches == 1
            service.resume_backend(SIMULATOR)
    finally:
        service.resume_backend(SIMULATOR)
    assert [final.status for final in finals] == [ApiJobStatus.COMPLETED] * 15
    assert client.waits.active_watches == 0


@pytest.mark.asyncio
async def test_watch_status_follows_the_job(service: LocalService, client: ProjectClient) -> None:
    service.pause_backend(SIMULATOR)
    try:
        job = await client.submit(SIMULATOR, one_qubit_qobj())
        seen: list[str] = []
        async for status in client.waits.watch(job.job_id):
            seen.append(status.status.value)
            if status.status is ApiJobStatus.QUEUED:
                service.resume_backend(SIMULATOR)
    finally:
        service.resume_backend(SIMULATOR)
    assert seen[-1] == "COMPLETED"
    assert "QUEUED" in seen


@pytest.mark.asyncio
async def test_a_wait_times_out(service: LocalService, client: ProjectClient) -> None:
    job = await client.submit(LIMITED, one_qubit_qobj())  # paused: stays queued
    try:
        with pytest.raises(ApiJobWaitTimeoutError) as info:
            await client.waits.wait_for_final(job.job_id, timeout=0.5)
        assert info.value.job_id == job.job_id
        assert info.value.last_status is not None
        assert info.value.last_status.status is ApiJobStatus.QUEUED
    finally:
        await client.jobs.cancel(job.job_id)


@pytest.mark.asyncio
async def test_an_unreachable_websocket_falls_back_to_polling(
    service: LocalService, connection: Connection
) -> None:
    dead = ProjectClient(
        connection.session,
        connection.api_url,
        "ws://127.0.0.1:9/ws",  # nothing listens on the discard port
        *HGP,
        polling=PollingPolicy(initial=0.02, maximum=0.2),
    )
    job = await dead.submit(SIMULATOR, one_qubit_qobj())
    final = await dead.waits.wait_for_final(job.job_id, timeout=30)
    assert final.status is ApiJobStatus.COMPLETED


@pytest.mark.asyncio
async def test_a_per_call_retry_policy_and_timeout(client: ProjectClient) -> None:
    status = await client.backends.status(SIMULATOR, timeout=5, retry=RetryPolicy.no_retry())
    assert status.operational


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_the_whole_round_trip_under_asyncio_and_trio(
    local_service: LocalService, anyio_backend: str
) -> None:
    async with await Connection.connect(local_service.token, local_service.url) as conn:
        client = conn.project(*HGP)
        job = await client.submit(SIMULATOR, copy.deepcopy(one_qubit_qobj(shots=8)))
        final = await client.waits.wait_for_final(job.job_id, timeout=30)
        assert final.status is ApiJobStatus.COMPLETED
        result = await client.storage.result(job.job_id)
        assert result.results[0].data.counts == {"0x1": 8}
