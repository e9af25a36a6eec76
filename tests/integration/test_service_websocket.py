"""The websocket job status stream (docs/protocol.md §4), with httpx-ws."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws, connect_ws

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig, serve

SIM = "ibmq_qasm_simulator"
PAUSED = "ibmq_vigo"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(token="ws-token", projects=["ibm-q/open/main"]),
            UserConfig(token="other-token", projects=["hub/group/other"]),
        ],
        backends=[
            BackendConfig(name=SIM, device="simulator"),
            BackendConfig(name=PAUSED, device="vigo", paused=True),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: LocalService, service_api: Callable[..., Any]) -> Any:
    return service_api(service)


def ws_url(api: Any, job_id: str) -> str:
    base: str = api.get("/users/me").json()["urls"]["ws"]
    return f"{base}/jobs/{job_id}/status/v/1"


def authenticate(ws: Any, token: str) -> dict[str, Any]:
    ws.send_text(json.dumps({"type": "authentication", "data": token}))
    reply: dict[str, Any] = json.loads(ws.receive_text())
    return reply


def frames_until_close(ws: Any) -> tuple[list[dict[str, Any]], int]:
    frames = []
    while True:
        try:
            frames.append(json.loads(ws.receive_text()))
        except WebSocketDisconnect as closed:
            return frames, closed.code


def test_the_stream_follows_a_job_to_its_end(service: LocalService, api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip(), backend=PAUSED)
    api.wait(job["id"], until=lambda status: status == "QUEUED")
    with httpx.Client() as client, connect_ws(ws_url(api, job["id"]), client) as ws:
        assert authenticate(ws, api.access_token) == {"type": "authenticated"}
        first = json.loads(ws.receive_text())
        assert first["type"] == "job-status"
        assert first["data"]["status"] == "QUEUED"
        assert first["data"]["infoQueue"]["position"] == 1
        assert first["data"]["infoQueue"]["status"] == "PENDING_IN_QUEUE"
        service.resume_backend(PAUSED)
        try:
            frames, code = frames_until_close(ws)
        finally:
            service.pause_backend(PAUSED)
    statuses = [frame["data"]["status"] for frame in frames]
    assert statuses[-1] == "COMPLETED"
    assert set(statuses) <= {"RUNNING", "COMPLETED"}
    assert all("infoQueue" not in frame["data"] for frame in frames)
    assert code == 4002


def test_queue_positions_are_pushed_when_they_move(api: Any, qobjs: Any) -> None:
    ahead = api.submit(qobjs.flip(), backend=PAUSED)
    mine = api.submit(qobjs.flip(), backend=PAUSED)
    api.wait(mine["id"], until=lambda status: status == "QUEUED")
    with httpx.Client() as client, connect_ws(ws_url(api, mine["id"]), client) as ws:
        authenticate(ws, api.access_token)
        before = json.loads(ws.receive_text())["data"]["infoQueue"]["position"]
        api.post(api.path(f"/Jobs/{ahead['id']}/cancel"))
        after = json.loads(ws.receive_text())["data"]["infoQueue"]["position"]
        assert after == before - 1
        api.post(api.path(f"/Jobs/{mine['id']}/cancel"))
        frames, code = frames_until_close(ws)
    assert frames[-1]["data"]["status"] == "CANCELLED"
    assert code == 4002


def test_a_finished_job_gets_its_final_status_and_a_4002(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip())
    api.wait(job["id"])
    with httpx.Client() as client, connect_ws(ws_url(api, job["id"]), client) as ws:
        authenticate(ws, api.access_token)
        frames, code = frames_until_close(ws)
    assert [frame["data"]["status"] for frame in frames] == ["COMPLETED"]
    assert code == 4002


def test_an_unknown_job_closes_with_4003(api: Any) -> None:
    with httpx.Client() as client, connect_ws(ws_url(api, "f" * 24), client) as ws:
        assert authenticate(ws, api.access_token) == {"type": "authenticated"}
        frames, code = frames_until_close(ws)
    assert (frames, code) == ([], 4003)


def test_a_job_of_another_project_closes_with_4003(
    service: LocalService, api: Any, service_api: Callable[..., Any], qobjs: Any
) -> None:
    job = api.submit(qobjs.flip())
    other = service_api(service, "other-token", ("hub", "group", "other"))
    with httpx.Client() as client, connect_ws(ws_url(api, job["id"]), client) as ws:
        assert authenticate(ws, other.access_token) == {"type": "authenticated"}
        assert frames_until_close(ws) == ([], 4003)


@pytest.mark.parametrize(
    "first_frame",
    [
        json.dumps({"type": "authentication", "data": "not-a-token"}),
        json.dumps({"type": "hello", "data": "x"}),
        "not json",
        json.dumps(["authentication"]),
    ],
)
def test_a_failed_authentication_closes_without_authenticated(
    api: Any, qobjs: Any, first_frame: str
) -> None:
    job = api.submit(qobjs.flip())
    with httpx.Client() as client, connect_ws(ws_url(api, job["id"]), client) as ws:
        ws.send_text(first_frame)
        frames, code = frames_until_close(ws)
    assert frames == []
    assert code == 1008


def test_the_authentication_frame_may_be_binary(api: Any, qobjs: Any) -> None:
    job = api.submit(qobjs.flip())
    api.wait(job["id"])
    with httpx.Client() as client, connect_ws(ws_url(api, job["id"]), client) as ws:
        ws.send_bytes(json.dumps({"type": "authentication", "data": api.access_token}).encode())
        assert json.loads(ws.receive_text()) == {"type": "authenticated"}
        frames, code = frames_until_close(ws)
    assert frames[-1]["data"]["status"] == "COMPLETED"
    assert code == 4002


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.mark.anyio
async def test_serve_and_the_stream_work_under_asyncio_and_trio(qobjs: Any) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="async-token")],
        backends=[BackendConfig(name=SIM, device="simulator", run_delay=0.2)],
    )
    async with serve(config) as service, httpx.AsyncClient(base_url=service.url) as client:
        login = await client.post("/users/loginWithToken", json={"apiToken": service.token})
        headers = {"X-Access-Token": login.json()["id"]}
        hgp = "/Network/ibm-q/Groups/open/Projects/main"
        job = await client.post(hgp + "/Jobs", json={"backend": {"name": SIM}}, headers=headers)
        created = job.json()
        await client.put(created["objectStorageInfo"]["uploadUrl"], json=qobjs.flip())
        await client.post(hgp + f"/Jobs/{created['id']}/jobDataUploaded", headers=headers)
        ws_base = (await client.get("/users/me", headers=headers)).json()["urls"]["ws"]
        statuses = []
        frame = {"type": "authentication", "data": headers["X-Access-Token"]}
        async with aconnect_ws(f"{ws_base}/jobs/{created['id']}/status/v/1", client) as ws:
            await ws.send_text(json.dumps(frame))
            assert json.loads(await ws.receive_text()) == {"type": "authenticated"}
            code = None
            while code is None:
                try:
                    statuses.append(json.loads(await ws.receive_text())["data"]["status"])
                except WebSocketDisconnect as closed:
                    code = closed.code
        assert code == 4002
        assert statuses[-1] == "COMPLETED"
        assert "RUNNING" in statuses


@pytest.mark.anyio
async def test_create_app_serves_rest_and_websocket_in_process(qobjs: Any) -> None:
    from httpx_ws.transport import ASGIWebSocketTransport

    from ibmq_async.local import create_app

    app = create_app(
        LocalServiceConfig(
            users=[UserConfig(token="asgi-token")],
            backends=[BackendConfig(name=SIM, device="simulator")],
        )
    )
    try:
        transport = ASGIWebSocketTransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://local/api") as client:
            login = await client.post("/users/loginWithToken", json={"apiToken": "asgi-token"})
            token = login.json()["id"]
            headers = {"X-Access-Token": token}
            hgp = "/Network/ibm-q/Groups/open/Projects/main"
            created = await client.post(
                hgp + "/Jobs", json={"backend": {"name": SIM}}, headers=headers
            )
            job = created.json()
            await client.put(job["objectStorageInfo"]["uploadUrl"], json=qobjs.flip())
            await client.post(hgp + f"/Jobs/{job['id']}/jobDataUploaded", headers=headers)
            ws_base = (await client.get("/users/me", headers=headers)).json()["urls"]["ws"]
            assert ws_base == "ws://local/api/ws"
            url = f"{ws_base}/jobs/{job['id']}/status/v/1"
            async with aconnect_ws(url, client) as ws:
                await ws.send_text(json.dumps({"type": "authentication", "data": token}))
                assert json.loads(await ws.receive_text()) == {"type": "authenticated"}
                last, code = None, None
                while code is None:
                    try:
                        last = json.loads(await ws.receive_text())["data"]["status"]
                    except WebSocketDisconnect as closed:
                        code = closed.code
            assert (last, code) == ("COMPLETED", 4002)
            link = await client.get(hgp + f"/Jobs/{job['id']}/resultDownloadUrl", headers=headers)
            result = (await client.get(link.json()["url"])).json()
            assert result["results"][0]["data"]["counts"] == {"0x1": 10}
    finally:
        app.state.engine.close()
