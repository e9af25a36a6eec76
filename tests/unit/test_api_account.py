"""The account client over respx: request assembly, validation, exactly-once submission
under lost responses and 5xx, and the job listing's paging without duplicates."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from api_fakes import (
    API_URL,
    HGP,
    FakeJobs,
    WaitRecorder,
    auth_routes,
    bell_qobj,
    connect,
    instant_policy,
)

import ibmq_async
from ibmq_async.api import SUBMISSION_TAG_PREFIX, JobQuery
from ibmq_async.api.classic import Connection, ProjectClient, encode_qobj
from ibmq_async.exceptions import (
    ApiJobLimitError,
    ApiProtocolError,
    ApiServerError,
    ApiStatusError,
)
from ibmq_async.models import ApiJobStatus, PulseBackendConfiguration, QasmQobj

DEVICES = Path(ibmq_async.__file__).parent / "local" / "devices"
BACKEND = "ibmq_qasm_simulator"


def device(name: str, document: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEVICES / name / f"{document}.json").read_text())
    return data


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(assert_all_mocked=True)
    auth_routes(router)
    return router


@pytest.fixture
def recorder() -> WaitRecorder:
    return WaitRecorder()


async def account(router: respx.Router, recorder: WaitRecorder) -> tuple[Connection, ProjectClient]:
    conn, _ = await connect(router, retry=instant_policy(recorder))
    return conn, conn.project("ibm-q", "open", "main")


# --- backends --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_backends_drops_an_invalid_configuration_with_a_warning(
    router: respx.Router, recorder: WaitRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    lima = device("lima", "conf")
    broken = {**lima, "backend_name": "ibmq_broken"}
    del broken["n_qubits"]
    router.get(f"{HGP}/devices/v/1").respond(json=[lima, broken, "nonsense"])
    conn, client = await account(router, recorder)
    async with conn:
        backends = await client.backends.configurations()
    assert [b.backend_name for b in backends] == [lima["backend_name"]]
    assert isinstance(backends[0], PulseBackendConfiguration)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ibmq_broken" in w and "invalid config" in w for w in warnings)


@pytest.mark.asyncio
async def test_backend_properties_sends_version_and_the_datetime_filter(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    props = device("lima", "props")
    route = router.get(f"{HGP}/devices/ibmq_lima/properties").respond(
        json={**props, "backend_name": "something_else"}
    )
    conn, client = await account(router, recorder)
    async with conn:
        latest = await client.backends.properties("ibmq_lima")
        when = datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)
        await client.backends.properties("ibmq_lima", datetime=when)
    assert latest is not None
    assert latest.backend_name == "ibmq_lima"  # overwritten with the name asked for
    first, second = route.calls
    assert dict(first.request.url.params) == {"version": "1"}
    assert second.request.url.params["version"] == "1"
    assert json.loads(second.request.url.params["filter"]) == {
        "where": {"last_update_date": {"lt": "2024-05-01T08:30:00+00:00"}}
    }


@pytest.mark.asyncio
async def test_empty_properties_and_defaults_are_none(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    router.get(f"{HGP}/devices/{BACKEND}/properties").respond(json={})
    router.get(f"{HGP}/devices/{BACKEND}/defaults").respond(json={})
    router.get(f"{HGP}/devices/ibmq_lima/defaults").respond(json=device("lima", "defs"))
    conn, client = await account(router, recorder)
    async with conn:
        assert await client.backends.properties(BACKEND) is None
        assert await client.backends.defaults(BACKEND) is None
        defaults = await client.backends.defaults("ibmq_lima")
    assert defaults is not None
    assert defaults.qubit_freq_est


@pytest.mark.asyncio
async def test_status_limit_and_reservations(router: respx.Router, recorder: WaitRecorder) -> None:
    router.get(f"{HGP}/devices/{BACKEND}/queue/status").respond(
        json={"state": False, "status": "maintenance", "lengthQueue": -1}
    )
    router.get(f"{HGP}/devices/{BACKEND}/jobsLimit").respond(
        json={"maximumJobs": -1, "runningJobs": 2}
    )
    booking = {
        "backendName": "ibmq_lima",
        "initialDate": "2024-05-01T10:00:00Z",
        "endDate": "2024-05-01T11:00:00Z",
        "mode": "dedicated",
        "id": "r1",
        "hubInfo": {"hub": {"name": "ibm-q"}, "group": {"name": "open"}, "project": {"name": "m"}},
    }
    backend_route = router.get(f"{API_URL}/Network/devices/ibmq_lima/bookings/v2").respond(
        json=[booking]
    )
    router.get(f"{API_URL}/Network/bookings/v2").respond(json=[booking])
    conn, client = await account(router, recorder)
    async with conn:
        status = await client.backends.status(BACKEND)
        limit = await client.backends.job_limit(BACKEND)
        start = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
        end = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
        reservations = await client.backends.reservations(
            "ibmq_lima", start_datetime=start, end_datetime=end
        )
        mine = await client.backends.my_reservations()
    assert (status.operational, status.status_msg, status.pending_jobs) == (
        False,
        "maintenance",
        0,
    )
    assert status.backend_version == "0.0.0"
    assert limit.maximum_jobs is None
    assert limit.running_jobs == 2
    assert reservations[0].reservation_id == "r1"
    assert reservations[0].hub == "ibm-q"
    params = backend_route.calls[0].request.url.params
    assert params["initialDate"] == "2024-05-01T09:00:00+00:00"
    assert params["endDate"] == "2024-05-01T12:00:00+00:00"
    assert mine[0].backend_name == "ibmq_lima"


# --- submission ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_submit_sends_the_three_steps_with_key_and_tag(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(
            BACKEND,
            bell_qobj(),
            job_name="bell",
            job_tags=["mine"],
            experiment_id="exp-1",
            submission_key="k1",
        )
    assert job.status is ApiJobStatus.QUEUED
    assert job.tags == ["mine", f"{SUBMISSION_TAG_PREFIX}k1"]
    create = next(
        r
        for r in (call.request for call in router.calls)
        if r.method == "POST" and r.url.path.endswith("/Jobs")
    )
    assert create.headers["Idempotency-Key"] == "k1"
    assert json.loads(create.content) == {
        "backend": {"name": BACKEND},
        "allowObjectStorage": True,
        "liveDataEnabled": None,
        "name": "bell",
        "tags": ["mine", f"{SUBMISSION_TAG_PREFIX}k1"],
        "experimentTag": "exp-1",
    }
    assert fake.qobjs[job.job_id] == bell_qobj()
    assert len(fake.jobs) == 1


@pytest.mark.asyncio
async def test_submit_accepts_a_qobj_model_and_generates_a_key(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    conn, client = await account(router, recorder)
    async with conn:
        first = await client.submit(BACKEND, QasmQobj.model_validate(bell_qobj()))
        second = await client.submit(BACKEND, bell_qobj())
    assert first.job_id != second.job_id
    tags = [t for t in first.tags + second.tags if t.startswith(SUBMISSION_TAG_PREFIX)]
    assert len(set(tags)) == 2
    assert fake.qobjs[first.job_id]["experiments"][0]["instructions"][0]["name"] == "x"


@pytest.mark.asyncio
@pytest.mark.parametrize("honour_key", [True, False])
async def test_submit_is_not_duplicated_when_the_create_response_is_lost(
    router: respx.Router, recorder: WaitRecorder, honour_key: bool
) -> None:
    fake = FakeJobs(router, honour_idempotency_key=honour_key)
    fake.faults["create"] = ["lost"]
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    assert list(fake.jobs) == [job.job_id]
    assert fake.jobs[job.job_id]["status"] == "QUEUED"
    assert fake.calls["create"] == 2  # the second one with the same key, after the lookup
    lookups = [
        json.loads(call.request.url.params["filter"])["where"]
        for call in router.calls
        if call.request.url.path.endswith("/Jobs/status/v/1")
    ]
    assert lookups[0] == {"tags": {"inq": job.tags}}
    assert len(recorder.waits) == 1


@pytest.mark.asyncio
async def test_a_disconnect_after_the_create_was_written_is_reconciled_not_resent(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router, honour_idempotency_key=False)
    fake.faults["create"] = ["disconnected"]  # the job is made; the answer never comes
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    order = []
    for call in router.calls:
        path, method = call.request.url.path, call.request.method
        if path.endswith("/Jobs/status/v/1"):
            order.append("list")
        elif method == "POST" and path.endswith("/Jobs"):
            order.append("create")
    # create, then look for the job by its tag before creating again: never two blind creates
    assert order[0] == "create"
    assert order[1] == "list"
    assert order.count("create") == 2
    assert list(fake.jobs) == [job.job_id]  # the duplicate the second create made is gone
    assert fake.jobs[job.job_id]["status"] == "QUEUED"


@pytest.mark.asyncio
async def test_submit_finds_a_started_job_after_a_lost_start_response(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["start"] = ["lost"]
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    assert job.status is ApiJobStatus.QUEUED
    assert fake.calls["start"] == 1
    assert fake.calls["get"] == 1
    assert len(fake.jobs) == 1


@pytest.mark.asyncio
async def test_submit_reconciles_a_5xx_on_start_that_did_start_the_job(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["start"] = ["acted-502"]
    fake.faults["get"] = [httpx.Response(503)]  # the reconciliation read fails once too
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    assert job.status is ApiJobStatus.QUEUED
    assert len(fake.jobs) == 1


@pytest.mark.asyncio
async def test_submit_creates_again_when_the_lost_create_never_arrived(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["create"] = [httpx.ReadTimeout, httpx.Response(502), httpx.ConnectError]
    conn, client = await account(router, recorder)
    async with conn:
        job = await client.submit(BACKEND, bell_qobj())
    assert list(fake.jobs) == [job.job_id]
    assert fake.calls["create"] == 4
    # no lookup before the first attempt; one before every attempt after the read timeout
    assert fake.calls["list"] == 3


@pytest.mark.asyncio
async def test_submit_over_the_job_limit_raises_at_once(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["create"] = [
        httpx.Response(
            400,
            json={"error": {"message": "Reached maximum number of concurrent jobs", "code": 3458}},
        )
    ]
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiJobLimitError) as info:
            await client.submit(BACKEND, bell_qobj())
    assert info.value.error_code == 3458
    assert fake.jobs == {}
    assert recorder.waits == []


@pytest.mark.asyncio
async def test_a_failed_upload_deletes_the_job_and_says_so(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    fake.faults["upload"] = [httpx.Response(413, json={"error": {"message": "too big"}})]
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiStatusError) as info:
            await client.submit(BACKEND, bell_qobj())
    assert info.value.status_code == 413
    assert fake.jobs == {}
    assert fake.calls["delete"] == 1
    assert "job job0001, made by this submission, was deleted" in str(info.value)


@pytest.mark.asyncio
async def test_resubmitting_with_the_same_key_returns_the_job(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    conn, client = await account(router, recorder)
    async with conn:
        first = await client.submit(BACKEND, bell_qobj(), submission_key="resume-me")
        again = await client.submit(BACKEND, bell_qobj(), submission_key="resume-me")
    assert again.job_id == first.job_id
    assert fake.calls["create"] == 1
    assert len(fake.jobs) == 1


@pytest.mark.asyncio
async def test_a_key_replayed_without_a_lookup_returns_the_started_job(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    conn, client = await account(router, recorder)
    async with conn:
        first = await client.submit(
            BACKEND, bell_qobj(), submission_key="fresh", check_existing=False
        )
        again = await client.submit(
            BACKEND, bell_qobj(), submission_key="fresh", check_existing=False
        )
    assert again.job_id == first.job_id
    assert again.status is not ApiJobStatus.CREATING
    assert fake.calls.get("list", 0) == 0
    assert fake.calls["create"] == 2  # the server answered the repeat with the first job
    assert fake.calls["upload"] == 1  # which was not uploaded again, nor cancelled
    assert fake.calls.get("cancel", 0) == 0
    assert len(fake.jobs) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_n_submissions_make_n_jobs_under_random_faults(
    router: respx.Router, recorder: WaitRecorder, seed: int
) -> None:
    rng = random.Random(seed)
    fake = FakeJobs(router, honour_idempotency_key=seed != 3)
    choices: list[Any] = [
        *[None] * 12,
        "lost",
        "acted-502",
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadError,
        httpx.ConnectError,
    ]
    for name in ("create", "upload", "start", "get", "list"):
        fake.faults[name] = [rng.choice(choices) for _ in range(200)]
    # A fault on a third of the calls: give every call enough attempts to get through.
    conn, _ = await connect(router, retry=instant_policy(recorder, max_attempts=40, deadline=None))
    client = conn.project("ibm-q", "open", "main")
    jobs: list[Any] = []
    async with conn:

        async def submit() -> None:
            jobs.append(await client.submit(BACKEND, bell_qobj()))

        async with anyio.create_task_group() as tg:
            for _ in range(30):
                tg.start_soon(submit)
    assert len(jobs) == 30
    assert len({job.job_id for job in jobs}) == 30
    assert sorted(fake.jobs) == sorted(job.job_id for job in jobs)
    assert all(job["status"] == "QUEUED" for job in fake.jobs.values())


# --- jobs ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_job_endpoints(router: respx.Router, recorder: WaitRecorder) -> None:
    fake = FakeJobs(router)
    job = fake.add_job(status="RUNNING", infoQueue={"position": 3}, calibration={"x": 1})
    url = f"{HGP}/Jobs/{job['id']}"
    router.put(url).mock(
        side_effect=lambda request: httpx.Response(200, json=json.loads(request.content))
    )
    router.get(f"{url}/properties").respond(json={})
    conn, client = await account(router, recorder)
    async with conn:
        record = await client.jobs.get(job["id"])
        status = await client.jobs.status(job["id"])
        assert await client.jobs.rename(job["id"], "renamed") == "renamed"
        assert await client.jobs.retag(job["id"], ["a", "b"]) == ["a", "b"]
        assert await client.jobs.properties(job["id"]) is None
        assert await client.jobs.cancel(job["id"]) is True
        await client.jobs.delete(job["id"])
    assert record.status is ApiJobStatus.RUNNING
    assert status.status is ApiJobStatus.RUNNING
    assert job["id"] not in fake.jobs


@pytest.mark.asyncio
async def test_name_and_tag_updates_must_be_echoed(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    url = f"{HGP}/Jobs/j1"
    router.put(url).respond(json={"name": "other", "tags": ["a"]})
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiProtocolError, match="name"):
            await client.jobs.rename("j1", "renamed")
        with pytest.raises(ApiProtocolError, match="tags"):
            await client.jobs.retag("j1", ["a", "b"])


@pytest.mark.asyncio
async def test_cancel_with_an_error_key_is_not_cancelled(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    router.post(f"{HGP}/Jobs/j1/cancel").respond(json={"error": {"message": "too late"}})
    conn, client = await account(router, recorder)
    async with conn:
        assert await client.jobs.cancel("j1") is False


RESULT = {
    "backend_name": BACKEND,
    "backend_version": "0.1.0",
    "qobj_id": "q1",
    "job_id": "j1",
    "success": True,
    "status": "COMPLETED",
    "date": "2024-05-01T10:00:00Z",
    "header": {},
    "results": [
        {
            "shots": 16,
            "success": True,
            "status": "DONE",
            "header": {"name": "c0", "memory_slots": 1},
            "meas_level": 2,
            "data": {"counts": {"0x1": 16}},
        }
    ],
}


@pytest.mark.asyncio
async def test_job_result_downloads_then_acknowledges(
    router: respx.Router, recorder: WaitRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    storage = "https://storage.example.test/results/j1?sig=abc"
    router.get(f"{HGP}/Jobs/j1/resultDownloadUrl").respond(json={"url": storage})
    download = router.get(storage).respond(json=RESULT)
    ack = router.post(f"{HGP}/Jobs/j1/resultDownloaded").respond(500)
    conn, client = await account(router, recorder)
    async with conn:
        result = await client.storage.result("j1")
    assert result.job_id == "j1"
    assert "X-Access-Token" not in download.calls[0].request.headers  # another origin
    assert ack.call_count == 6  # retried, then only logged
    assert any("acknowledge" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_job_result_that_does_not_fit_is_a_protocol_error(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    storage = f"{API_URL}/results/j1"
    router.get(f"{HGP}/Jobs/j1/resultDownloadUrl").respond(json={"url": storage})
    download = router.get(storage).respond(json={**RESULT, "results": "nope"})
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiProtocolError, match="results") as info:
            await client.storage.result("j1")
    assert info.value.response is not None
    assert download.calls[0].request.headers["X-Access-Token"] == "<redacted>"  # same origin


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"", b"<html>busy</html>", b'{"results": ['])
async def test_a_result_that_is_not_json_is_a_protocol_error(
    router: respx.Router, recorder: WaitRecorder, body: bytes
) -> None:
    storage = f"{API_URL}/results/j1"
    router.get(f"{HGP}/Jobs/j1/resultDownloadUrl").respond(json={"url": storage})
    router.get(storage).respond(200, content=body)
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiProtocolError, match="The result is not valid JSON") as info:
            await client.storage.result("j1")
    assert info.value.response is not None


def test_encode_qobj_writes_compact_json_and_copes_with_odd_keys() -> None:
    qobj = bell_qobj()
    assert encode_qobj(qobj) == json.dumps(qobj, separators=(",", ":")).encode()
    odd = {**qobj, "header": {(1, 2): "tuple key", 3: complex(1, -1)}}
    assert json.loads(encode_qobj(odd))["header"] == {"(1, 2)": "tuple key", "3": [1.0, -1.0]}
    model = QasmQobj.model_validate(qobj)
    assert json.loads(encode_qobj(model)) == json.loads(encode_qobj(qobj))


@pytest.mark.asyncio
async def test_job_qobj_downloads_and_parses(router: respx.Router, recorder: WaitRecorder) -> None:
    storage = f"{API_URL}/qobj/j1"
    router.get(f"{HGP}/Jobs/j1/jobDownloadUrl").respond(json={"url": storage})
    router.get(storage).respond(json=bell_qobj())
    conn, client = await account(router, recorder)
    async with conn:
        qobj = await client.storage.qobj("j1")
    assert isinstance(qobj, QasmQobj)


@pytest.mark.asyncio
async def test_result_download_failure_is_retried(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    storage = f"{API_URL}/results/j1"
    router.get(f"{HGP}/Jobs/j1/resultDownloadUrl").respond(json={"url": storage})
    router.get(storage).mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(200, json=RESULT)]
    )
    router.post(f"{HGP}/Jobs/j1/resultDownloaded").respond(json={})
    conn, client = await account(router, recorder)
    async with conn:
        assert (await client.storage.result("j1")).success


@pytest.mark.asyncio
async def test_server_errors_carry_the_evidence(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    router.get(f"{HGP}/Jobs/j1/v/1").respond(
        500, json={"error": {"message": "db down", "code": 1000}}, headers={"uber-trace-id": "t1"}
    )
    conn, client = await account(router, recorder)
    async with conn:
        with pytest.raises(ApiServerError) as info:
            await client.jobs.get("j1")
    assert (info.value.error_code, info.value.trace_id, info.value.retries_taken) == (
        1000,
        "t1",
        5,
    )


# --- listing ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("same_timestamp", [False, True])
async def test_listing_pages_without_duplicates(
    router: respx.Router, recorder: WaitRecorder, descending: bool, same_timestamp: bool
) -> None:
    fake = FakeJobs(router)
    fake.same_timestamp = same_timestamp
    made = [fake.add_job(name=f"job {i}") for i in range(23)]
    conn, client = await account(router, recorder)
    async with conn:
        order = JobQuery(descending=descending)
        ten = await client.jobs.listing(order, limit=10)
        everything = await client.jobs.listing(order, limit=None, page_size=4)
        lazily = [job async for job in client.jobs.listing(order, limit=None, page_size=5)]
        skipped = await client.jobs.listing(order, limit=30, skip=20, page_size=2)
    ids = [job.job_id for job in everything]
    assert len(ids) == 23
    assert len(set(ids)) == 23
    assert {job["id"] for job in made} == set(ids)
    assert [job.job_id for job in ten] == ids[:10]
    assert [job.job_id for job in lazily] == ids
    assert len(skipped) == 3
    if not same_timestamp:
        expected = [job["id"] for job in (reversed(made) if descending else made)]
        assert ids == expected


@pytest.mark.asyncio
async def test_the_next_page_filters_on_the_last_date_and_ids(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    for _ in range(5):
        fake.add_job(backend={"name": "ibmq_lima"})
    conn, client = await account(router, recorder)
    async with conn:
        await client.jobs.listing(JobQuery(backend_name="ibmq_lima"), limit=5, page_size=2)
    filters = [
        json.loads(r.url.params["filter"])
        for r in (call.request for call in router.calls)
        if r.url.path.endswith("/Jobs/status/v/1")
    ]
    assert filters[0] == {
        "order": "creationDate DESC",
        "limit": 2,
        "skip": 0,
        "where": {"backend.name": "ibmq_lima"},
    }
    second = filters[1]
    assert second["limit"] == 2
    assert second["where"]["backend.name"] == "ibmq_lima"
    assert set(second["where"]["creationDate"]) == {"lte"}
    assert len(second["where"]["id"]["nin"]) == 1


@pytest.mark.asyncio
async def test_list_job_ids_asks_for_the_fields(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    fake = FakeJobs(router)
    for _ in range(3):
        fake.add_job(liveDataEnabled=False)
    conn, client = await account(router, recorder)
    async with conn:
        ids = await client.jobs.id_listing(limit=None)
    assert len(ids) == 3
    request = next(
        r for r in (call.request for call in router.calls) if r.url.path.endswith("/Jobs/v/1")
    )
    assert json.loads(request.url.params["filter"])["fields"] == {
        "id": True,
        "liveDataEnabled": True,
        "creationDate": True,
    }


@pytest.mark.asyncio
async def test_an_invalid_job_in_a_listing_is_discarded_with_a_warning(
    router: respx.Router, recorder: WaitRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"id": "j1", "creationDate": "2024-01-01T00:00:00Z", "status": "COMPLETED"}
    bad = {"id": "j2", "creationDate": "2024-01-01T00:00:00Z", "status": "SLEEPING"}
    router.get(f"{HGP}/Jobs/status/v/1").mock(
        side_effect=[httpx.Response(200, json=[good, bad]), httpx.Response(200, json=[])]
    )
    conn, client = await account(router, recorder)
    async with conn:
        jobs = await client.jobs.listing()
    assert [job.job_id for job in jobs] == ["j1"]
    assert any("Discarding job j2" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_a_server_that_ignores_the_paging_filter_does_not_loop_forever(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    page = [
        {"id": f"j{i}", "creationDate": f"2024-01-01T00:00:0{i}Z", "status": "COMPLETED"}
        for i in range(3)
    ]
    route = router.get(f"{HGP}/Jobs/status/v/1").respond(json=page)
    conn, client = await account(router, recorder)
    async with conn:
        jobs = await client.jobs.listing(limit=None, page_size=3)
    assert len(jobs) == 3
    assert route.call_count == 2


@pytest.mark.asyncio
async def test_job_statuses_ask_for_few_fields_and_do_without_if_refused(
    router: respx.Router, recorder: WaitRecorder
) -> None:
    filters: list[dict[str, Any]] = []

    def listing(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.url.params["filter"])
        filters.append(query)
        if "fields" in query:
            return httpx.Response(400, json={"error": {"message": "fields not allowed"}})
        jobs = [
            {"id": job_id, "status": "QUEUED", "backend": {"name": BACKEND}}
            for job_id in query["where"]["id"]["inq"]
            if job_id != "gone"
        ]
        return httpx.Response(200, json=[*jobs, {"id": "x", "status": "NOT_A_STATUS"}])

    router.get(url__regex=rf"^{HGP}/Jobs/status/v/1(\?.*)?$").mock(side_effect=listing)
    conn, client = await account(router, recorder)
    async with conn:
        first = await client.jobs.statuses(["a", "b", "gone"])
        second = await client.jobs.statuses(["c"])
    assert sorted(first) == ["a", "b"]
    assert first["a"].status is ApiJobStatus.QUEUED
    assert list(second) == ["c"]
    assert filters[0]["fields"] == ["id", "status", "infoQueue"]
    assert filters[0]["where"] == {"id": {"inq": ["a", "b", "gone"]}}
    assert ["fields" in query for query in filters] == [True, False, False]
