"""Authentication, the account documents, token expiry and tenancy isolation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig

SIM = "ibmq_qasm_simulator"
SHARED = "hub-a/group-a/shared"
ALICE_ONLY = "hub-a/group-a/alice"
BOB_ONLY = "hub-b/group-b/bob"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(
                token="alice-token",
                projects=[ALICE_ONLY, SHARED],
                default_project=SHARED,
                email="alice@example.com",
            ),
            UserConfig(token="bob-token", projects=[BOB_ONLY, SHARED], id="bob"),
            UserConfig(token="carol-token", projects=["ibm-q/open/main"]),
        ],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name="ibmq_vigo", device="vigo", projects=[ALICE_ONLY]),
        ],
    )
    with LocalService(config) as running:
        yield running


def hgp(project: str) -> tuple[str, str, str]:
    hub, group, name = project.split("/")
    return hub, group, name


def test_version_needs_no_token_and_names_the_auth_service(service: LocalService) -> None:
    response = httpx.get(service.url + "/version")
    assert response.status_code == 200
    assert "api-auth" in response.json()
    assert "uber-trace-id" in response.headers


def test_login_gives_an_access_token(service: LocalService) -> None:
    response = httpx.post(service.url + "/users/loginWithToken", json={"apiToken": "bob-token"})
    assert response.status_code == 200
    body = response.json()
    assert body["userId"] == "bob"
    assert body["ttl"] == 3600
    assert body["created"].endswith("Z")
    assert body["id"] not in ("bob-token", "")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"apiToken": "wrong"}, 401),
        ({"apiToken": ""}, 400),
        ({"apiToken": 5}, 400),
        ({}, 400),
        ([], 400),
    ],
)
def test_a_bad_login_is_refused(service: LocalService, body: Any, status: int) -> None:
    response = httpx.post(service.url + "/users/loginWithToken", json=body)
    assert response.status_code == status
    assert response.json()["error"]["statusCode"] == status


def test_users_me_gives_the_api_and_websocket_urls(
    service: LocalService, service_api: Callable[..., Any]
) -> None:
    api = service_api(service, "alice-token")
    me = api.get("/users/me").json()
    assert me["urls"]["http"] == service.url
    assert me["urls"]["ws"] == service.url.replace("http://", "ws://") + "/ws"
    assert me["urls"]["services"] == {}
    assert me["email"] == "alice@example.com"


def test_network_lists_projects_keyed_by_name_with_one_default(
    service: LocalService, service_api: Callable[..., Any]
) -> None:
    hubs = service_api(service, "alice-token").get("/Network").json()
    assert [hub["name"] for hub in hubs] == ["hub-a"]
    projects = hubs[0]["groups"]["group-a"]["projects"]
    assert set(projects) == {"alice", "shared"}
    assert projects["shared"]["isDefault"] is True
    assert projects["alice"]["isDefault"] is False
    bob = service_api(service, "bob-token").get("/Network").json()
    assert sorted(hub["name"] for hub in bob) == ["hub-a", "hub-b"]
    defaults = [
        project["isDefault"]
        for hub in bob
        for group in hub["groups"].values()
        for project in group["projects"].values()
    ]
    assert defaults.count(True) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Access-Token": "nope"}, {"X-Access-Token": ""}, {"Authorization": "Bearer nope"}],
)
def test_requests_without_a_valid_access_token_get_401(
    service: LocalService, headers: dict[str, str]
) -> None:
    for path in (
        "/users/me",
        "/Network",
        "/Network/hub-a/Groups/group-a/Projects/shared/devices/v/1",
        "/Network/hub-a/Groups/group-a/Projects/shared/Jobs/status/v/1",
    ):
        response = httpx.get(service.url + path, headers=headers)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] in (2407, 2408)


def test_a_bearer_header_works_too(service: LocalService) -> None:
    token = httpx.post(
        service.url + "/users/loginWithToken", json={"apiToken": "carol-token"}
    ).json()["id"]
    response = httpx.get(service.url + "/Network", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_access_tokens_expire(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any]
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="short")],
        backends=[BackendConfig(name=SIM, device="simulator")],
        token_ttl=0.4,
    )
    api = service_api(service_factory(config))
    assert api.get("/Network").status_code == 200
    time.sleep(0.6)
    expired = api.get("/Network")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == 2408
    assert "expired" in expired.json()["error"]["message"]
    api.access_token = api.login()
    assert api.get("/Network").status_code == 200


def test_a_project_of_someone_else_is_not_found(
    service: LocalService, service_api: Callable[..., Any]
) -> None:
    bob = service_api(service, "bob-token", hgp(ALICE_ONLY))
    for path in ("/devices/v/1", "/Jobs/status/v/1", "/Jobs/v/1", f"/devices/{SIM}/jobsLimit"):
        response = bob.get(bob.path(path))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == 2911
    assert bob.create(SIM).status_code == 404


def test_backends_can_be_limited_to_projects(
    service: LocalService, service_api: Callable[..., Any]
) -> None:
    alice = service_api(service, "alice-token", hgp(ALICE_ONLY))
    names = [b["backend_name"] for b in alice.get(alice.path("/devices/v/1")).json()]
    assert names == [SIM, "ibmq_vigo"]
    shared = service_api(service, "alice-token", hgp(SHARED))
    names = [b["backend_name"] for b in shared.get(shared.path("/devices/v/1")).json()]
    assert names == [SIM]
    assert shared.get(shared.path("/devices/ibmq_vigo/queue/status")).status_code == 404
    refused = shared.create("ibmq_vigo")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 1007


def test_jobs_are_isolated_by_project(
    service: LocalService, service_api: Callable[..., Any], qobjs: Any
) -> None:
    alice = service_api(service, "alice-token", hgp(ALICE_ONLY))
    job = alice.submit(qobjs.flip(), tags=["private"])
    alice.wait(job["id"])
    bob = service_api(service, "bob-token", hgp(BOB_ONLY))
    bob_in_shared = service_api(service, "bob-token", hgp(SHARED))
    alice_in_shared = service_api(service, "alice-token", hgp(SHARED))
    carol = service_api(service, "carol-token", ("ibm-q", "open", "main"))
    for other in (bob, bob_in_shared, alice_in_shared, carol):
        for suffix in ("/v/1", "/status/v/1", "/resultDownloadUrl", "/jobDownloadUrl"):
            response = other.get(other.path(f"/Jobs/{job['id']}{suffix}"))
            assert response.status_code == 404
            assert response.json()["error"]["code"] == 3250
        assert other.post(other.path(f"/Jobs/{job['id']}/cancel")).status_code == 404
        assert other.put(other.path(f"/Jobs/{job['id']}"), json={"name": "x"}).status_code == 404
        assert other.delete(other.path(f"/Jobs/{job['id']}")).status_code == 404
        listed = other.list_jobs({"where": {"tags": "private"}}).json()
        assert listed == []
    # The object storage URLs need a valid signature or the owner's access token.
    url = alice.get(alice.path(f"/Jobs/{job['id']}/resultDownloadUrl")).json()["url"]
    unsigned = url.split("?")[0]
    assert httpx.get(unsigned).status_code == 401
    assert httpx.get(unsigned, headers=bob.headers).status_code == 404
    assert httpx.get(unsigned, headers=alice.headers).status_code == 200


def test_a_project_shares_its_jobs_between_its_members(
    service: LocalService, service_api: Callable[..., Any], qobjs: Any
) -> None:
    alice = service_api(service, "alice-token", hgp(SHARED))
    job = alice.submit(qobjs.flip(), tags=["team"])
    alice.wait(job["id"])
    bob = service_api(service, "bob-token", hgp(SHARED))
    assert bob.job(job["id"])["userId"] == service.user_id("alice-token")
    assert [j["id"] for j in bob.list_jobs({"where": {"tags": "team"}}).json()] == [job["id"]]
    assert bob.result(job["id"])["success"] is True


def test_user_visibility_keeps_jobs_private_within_a_project(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="u1"), UserConfig(token="u2")],
        backends=[BackendConfig(name=SIM, device="simulator")],
        job_visibility="user",
    )
    service = service_factory(config)
    first = service_api(service, "u1")
    second = service_api(service, "u2")
    job = first.submit(qobjs.flip())
    assert second.get(second.path(f"/Jobs/{job['id']}/v/1")).status_code == 404
    assert second.list_jobs({}).json() == []
    assert [j["id"] for j in first.list_jobs({}).json()] == [job["id"]]


def test_job_limits_count_per_user(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="u1"), UserConfig(token="u2")],
        backends=[BackendConfig(name=SIM, device="simulator", max_jobs=1, paused=True)],
    )
    service = service_factory(config)
    first = service_api(service, "u1")
    second = service_api(service, "u2")
    first.submit(qobjs.flip())
    assert first.create(SIM).json()["error"]["code"] == 3458
    second.submit(qobjs.flip())
    assert second.get(second.path(f"/devices/{SIM}/jobsLimit")).json() == {
        "maximumJobs": 1,
        "runningJobs": 1,
    }
    assert service.stats.max_active("u1", SIM) == 1
    assert service.stats.max_active(service.user_id("u2"), SIM) == 1
    assert service.stats.created("u1") == 1


def test_stats_answer_for_a_token_or_a_user_id(
    service_factory: Callable[..., LocalService], service_api: Callable[..., Any], qobjs: Any
) -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="stats-token", id="stats-user")],
        backends=[BackendConfig(name=SIM, device="simulator", paused=True)],
    )
    service = service_factory(config)
    api = service_api(service)
    for _ in range(3):
        api.submit(qobjs.flip())
    api.create(SIM)
    stats = service.stats
    assert stats.create_requests == 4
    assert stats.jobs_created["stats-token"] == stats.jobs_created["stats-user"] == 4
    assert stats.max_active_jobs[("stats-token", SIM)] == 4
    assert stats.max_active_jobs[("stats-user", SIM)] == 4
    assert stats.max_active_jobs[("stats-user", "elsewhere")] == 0
    assert ("stats-token", SIM) in stats.max_active_jobs
    assert stats.jobs_created["nobody"] == 0
