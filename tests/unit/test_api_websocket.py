"""Job status waits: the websocket of docs/protocol.md §4 (over an in-process ASGI app), the
polling fallback and its backoff, sharing among waiters, timeouts and cancellation."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from api_fakes import WaitRecorder
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ibmq_async.api import JobWaits, PollingPolicy
from ibmq_async.api.auth import IssuedToken, TokenAuth
from ibmq_async.api.classic import CLASSIC_STATUS, ClassicStatusStream
from ibmq_async.api.errors import validate_model
from ibmq_async.api.session import HttpSession
from ibmq_async.exceptions import (
    ApiJobWaitTimeoutError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiTimeoutError,
)
from ibmq_async.models import ApiJobStatus, JobStatusResponse

TOKEN = "ws-access-token-SECRET"
WS_URL = "ws://service.test/ws"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FakeAuth(TokenAuth):
    async def obtain(self) -> IssuedToken:
        return IssuedToken(TOKEN, issued_at=0.0)

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["X-Access-Token"] = token


class Service:
    """A websocket endpoint whose behaviour a test scripts, and a status poll."""

    def __init__(self, mode: str = "ok", frames: list[Any] | None = None) -> None:
        self.mode = mode
        self.frames = frames or []
        self.connections = 0
        self.auth_frames: list[Any] = []
        self.polled: list[str] = []
        self.poll_script: list[Any] = []
        self.poll_default: Any = {"status": "COMPLETED"}
        self.release = anyio.Event()
        self.hold = False

    async def endpoint(self, websocket: WebSocket) -> None:
        self.connections += 1
        connection = self.connections
        if self.mode == "refuse":
            await websocket.close(code=1008)
            return
        await websocket.accept()
        self.auth_frames.append(json.loads(await websocket.receive_text()))
        if self.mode == "bad-auth":
            await websocket.send_text(json.dumps({"type": "error", "data": "nope"}))
            await websocket.close()
            return
        await websocket.send_text(json.dumps({"type": "authenticated"}))
        if self.mode == "not-found":
            await websocket.close(code=4003)
            return
        if self.mode == "drop" and connection == 1:
            await websocket.send_text(json.dumps({"type": "job-status", "data": self.frames[0]}))
            await websocket.close(code=1011)
            return
        if self.mode == "silent":
            await websocket.close(code=1000)
            return
        if self.hold:
            await self.release.wait()
        for frame in self.frames:
            await anyio.sleep(0.01)
            if isinstance(frame, (bytes, str)):
                await websocket.send_text(frame if isinstance(frame, str) else frame.decode())
            else:
                await websocket.send_text(json.dumps({"type": "job-status", "data": frame}))
        await anyio.sleep(0.01)
        await websocket.close(code=4002)

    async def fetch(self, job_id: str) -> JobStatusResponse:
        self.polled.append(job_id)
        data = self.poll_script.pop(0) if self.poll_script else self.poll_default
        if isinstance(data, BaseException):
            raise data
        await anyio.lowlevel.checkpoint()
        return validate_model(JobStatusResponse, data, what="job status")


def statuses(*names: str) -> list[dict[str, Any]]:
    return [{"status": name} for name in names]


async def make_watcher(
    service: Service, recorder: WaitRecorder, *, ws: bool = True, **policy: Any
) -> tuple[JobWaits[JobStatusResponse], ASGIWebSocketTransport]:
    app = Starlette(routes=[WebSocketRoute("/ws/jobs/{job_id}/status/v/1", service.endpoint)])
    transport = ASGIWebSocketTransport(app)
    await transport.__aenter__()
    client = httpx.AsyncClient(transport=transport)
    session = HttpSession(client)
    auth = FakeAuth()
    await auth.login()
    session.auth = auth
    polling = PollingPolicy(**{"sleep": recorder.sleep, "websocket_ping_interval": None, **policy})
    stream = ClassicStatusStream(session, WS_URL, service.fetch, polling) if ws else None
    waits = JobWaits(session, service.fetch, kind=CLASSIC_STATUS, policy=polling, stream=stream)
    return waits, transport


@pytest.fixture
def recorder() -> WaitRecorder:
    return WaitRecorder()


def names(items: list[JobStatusResponse]) -> list[str]:
    return [item.status.value for item in items]


# --- the websocket --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_websocket_authenticates_then_follows_the_job(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("QUEUED", "RUNNING", "COMPLETED"))
    watcher, transport = await make_watcher(service, recorder)
    seen: list[JobStatusResponse] = []
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10, on_status=seen.append)
    assert final.status is ApiJobStatus.COMPLETED
    assert names(seen) == ["QUEUED", "RUNNING", "COMPLETED"]
    assert service.auth_frames == [{"type": "authentication", "data": TOKEN}]
    assert service.polled == []
    assert watcher.active_watches == 0


@pytest.mark.anyio
async def test_async_callbacks_are_awaited(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("RUNNING", "CANCELLED"))
    watcher, transport = await make_watcher(service, recorder)
    seen: list[str] = []

    async def callback(status: JobStatusResponse) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(status.status.value)

    async with transport:
        await watcher.wait_for_final("job1", timeout=10, on_status=callback)
    assert seen == ["RUNNING", "CANCELLED"]


@pytest.mark.anyio
async def test_queue_info_rides_on_the_frames(recorder: WaitRecorder) -> None:
    service = Service(
        frames=[
            {"status": "QUEUED", "infoQueue": {"status": "PENDING_IN_QUEUE", "position": 4}},
            {"status": "QUEUED", "infoQueue": {"status": "PENDING_IN_QUEUE", "position": 2}},
            {"status": "COMPLETED"},
        ]
    )
    watcher, transport = await make_watcher(service, recorder)
    seen: list[JobStatusResponse] = []
    async with transport:
        await watcher.wait_for_final("job1", timeout=10, on_status=seen.append)
    positions = [s.queue_info.position for s in seen if s.queue_info]
    assert positions == [4, 2]


@pytest.mark.anyio
async def test_a_refused_websocket_falls_back_to_polling_with_backoff(
    recorder: WaitRecorder,
) -> None:
    service = Service(mode="refuse")
    service.poll_script = [*statuses(*["RUNNING"] * 7), {"status": "COMPLETED"}]
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
    assert final.status is ApiJobStatus.COMPLETED
    assert len(service.polled) == 8
    assert recorder.waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0])


@pytest.mark.anyio
async def test_a_refused_token_falls_back_to_polling(recorder: WaitRecorder) -> None:
    service = Service(mode="bad-auth")
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
    assert final.status is ApiJobStatus.COMPLETED
    assert service.connections == 1
    assert service.polled == ["job1"]


@pytest.mark.anyio
async def test_without_a_websocket_url_it_polls(recorder: WaitRecorder) -> None:
    service = Service()
    service.poll_script = statuses("QUEUED", "RUNNING")
    watcher, transport = await make_watcher(service, recorder, ws=False)
    async with transport:
        final = await watcher.wait_for_final("job1")
    assert final.status is ApiJobStatus.COMPLETED
    assert service.connections == 0
    assert len(service.polled) == 3


@pytest.mark.anyio
async def test_an_unknown_job_ends_the_wait_with_not_found(recorder: WaitRecorder) -> None:
    service = Service(mode="not-found")
    service.poll_script = [ApiNotFoundError("Job not found", status_code=404, error_code=3250)]
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        with pytest.raises(ApiNotFoundError):
            await watcher.wait_for_final("nope", timeout=10)
    assert watcher.active_watches == 0


@pytest.mark.anyio
async def test_a_drop_after_authentication_reconnects(recorder: WaitRecorder) -> None:
    service = Service(mode="drop", frames=statuses("RUNNING", "COMPLETED"))
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
    assert final.status is ApiJobStatus.COMPLETED
    assert service.connections == 2
    assert recorder.waits == [0.5]
    assert service.polled == []


@pytest.mark.anyio
async def test_a_silent_websocket_is_checked_by_a_poll(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("QUEUED"))
    service.hold = True  # authenticated, then nothing more
    watcher, transport = await make_watcher(
        service, recorder, websocket_check_interval=0.1, sleep=None
    )
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
        service.release.set()
    assert final.status is ApiJobStatus.COMPLETED
    assert service.connections == 1
    assert service.polled == ["job1"]


@pytest.mark.anyio
async def test_a_close_without_a_final_status_polls(recorder: WaitRecorder) -> None:
    service = Service(mode="silent")
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
    assert final.status is ApiJobStatus.COMPLETED
    assert service.polled == ["job1"]


@pytest.mark.anyio
async def test_an_unknown_status_ends_the_wait_with_an_error(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("RUNNING", "SLEEPING"))
    service.poll_default = {"status": "SLEEPING"}
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        with pytest.raises(ApiProtocolError, match="status"):
            await watcher.wait_for_final("job1", timeout=10)


@pytest.mark.anyio
async def test_a_frame_that_is_not_json_falls_back_to_polling(recorder: WaitRecorder) -> None:
    service = Service(frames=["{not json"])
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        final = await watcher.wait_for_final("job1", timeout=10)
    assert final.status is ApiJobStatus.COMPLETED
    assert service.polled == ["job1"]


# --- sharing, timeouts, cancellation ----------------------------------------------------------


@pytest.mark.anyio
async def test_many_waiters_share_one_websocket(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("QUEUED", "RUNNING", "COMPLETED"))
    service.hold = True
    watcher, transport = await make_watcher(service, recorder)
    finals: list[JobStatusResponse] = []
    seen: list[list[str]] = [[] for _ in range(10)]

    async def wait(i: int) -> None:
        finals.append(
            await watcher.wait_for_final(
                "job1", timeout=10, on_status=lambda s: seen[i].append(s.status.value)
            )
        )

    async with transport, anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(wait, i)
        await anyio.sleep(0.1)
        assert watcher.active_watches == 1
        service.release.set()
    assert len(finals) == 10
    assert service.connections == 1
    assert all(names_ == ["QUEUED", "RUNNING", "COMPLETED"] for names_ in seen)


@pytest.mark.anyio
async def test_many_waiters_share_one_poller(recorder: WaitRecorder) -> None:
    service = Service()
    service.poll_script = statuses("QUEUED", "RUNNING", "RUNNING", "RUNNING")
    watcher, transport = await make_watcher(service, recorder, ws=False)

    async def wait() -> None:
        await watcher.wait_for_final("job1", timeout=10)

    async with transport, anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(wait)
    assert len(service.polled) == 5


@pytest.mark.anyio
async def test_a_timeout_raises_a_job_wait_timeout_with_the_last_status(
    recorder: WaitRecorder,
) -> None:
    service = Service()
    service.poll_default = {"status": "RUNNING"}
    watcher, transport = await make_watcher(
        service, recorder, ws=False, initial=0.05, maximum=0.05, sleep=None
    )
    async with transport:
        with pytest.raises(ApiJobWaitTimeoutError) as info:
            await watcher.wait_for_final("job1", timeout=0.3)
    assert isinstance(info.value, ApiTimeoutError)
    assert info.value.job_id == "job1"
    assert info.value.last_status is not None
    assert info.value.last_status.status is ApiJobStatus.RUNNING
    assert "RUNNING" in str(info.value)
    assert watcher.active_watches == 0


@pytest.mark.anyio
async def test_when_the_driving_waiter_leaves_another_takes_over(recorder: WaitRecorder) -> None:
    service = Service()
    service.poll_default = {"status": "RUNNING"}
    watcher, transport = await make_watcher(
        service, recorder, ws=False, initial=0.02, maximum=0.02, sleep=None
    )
    results: dict[str, Any] = {}

    async def short() -> None:
        try:
            await watcher.wait_for_final("job1", timeout=0.1)
        except ApiJobWaitTimeoutError as exc:
            results["short"] = exc

    async def long() -> None:
        await anyio.sleep(0.01)  # the short waiter drives first
        results["long"] = await watcher.wait_for_final("job1", timeout=10)

    async with transport, anyio.create_task_group() as tg:
        tg.start_soon(short)
        tg.start_soon(long)
        await anyio.sleep(0.3)
        service.poll_default = {"status": "COMPLETED"}
    assert isinstance(results["short"], ApiJobWaitTimeoutError)
    assert results["long"].status is ApiJobStatus.COMPLETED


@pytest.mark.anyio
async def test_cancelling_a_wait_propagates_and_releases_the_watch(
    recorder: WaitRecorder,
) -> None:
    service = Service(frames=statuses("RUNNING", "COMPLETED"))
    service.hold = True
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        with anyio.move_on_after(0.2) as scope:
            await watcher.wait_for_final("job1")
        assert scope.cancelled_caught
        assert watcher.active_watches == 0
        service.release.set()


@pytest.mark.anyio
async def test_a_failing_callback_ends_the_wait_with_its_error(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("RUNNING", "COMPLETED"))
    watcher, transport = await make_watcher(service, recorder)

    def callback(status: JobStatusResponse) -> None:
        raise RuntimeError("callback failed")

    async with transport:
        with pytest.raises(RuntimeError, match="callback failed"):
            await watcher.wait_for_final("job1", timeout=10, on_status=callback)
    assert service.polled == []


@pytest.mark.anyio
async def test_watch_yields_each_change_until_final(recorder: WaitRecorder) -> None:
    service = Service()
    service.poll_script = statuses("QUEUED", "QUEUED", "RUNNING", "RUNNING")
    watcher, transport = await make_watcher(service, recorder, ws=False)
    async with transport:
        seen = [status async for status in watcher.watch("job1")]
    assert names(seen) == ["QUEUED", "RUNNING", "COMPLETED"]
    assert watcher.active_watches == 0


@pytest.mark.anyio
async def test_watch_over_the_websocket(recorder: WaitRecorder) -> None:
    service = Service(frames=statuses("QUEUED", "RUNNING", "COMPLETED"))
    watcher, transport = await make_watcher(service, recorder)
    async with transport:
        seen = [status async for status in watcher.watch("job1")]
    assert names(seen) == ["QUEUED", "RUNNING", "COMPLETED"]
