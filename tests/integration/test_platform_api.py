"""The platform API of the local service over real HTTP: IAM, instance discovery, backends,
jobs (sampler and estimator), listings, results, and tenancy. Every route has its good
answer, its bad input and, where it reads an instance's data, its tenancy check here;
generated bad input is in ``tests/reliability/test_platform_bad_input.py``."""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import jwt
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from platform_client import (
    APIKEY_GRANT,
    PlatformClient,
    assert_platform_error,
    bell,
    encoded,
)

from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.config import InstanceConfig
from ibmq_async.models.platform import (
    BackendList,
    CatalogEntry,
    IamError,
    IamToken,
    InstanceUsage,
    Job,
    JobList,
    JobMetrics,
    SearchResult,
)

A = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct0a:inst0a::"
B = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct0b:inst0b::"
KEY_A = "platform-key-a"
KEY_B = "platform-key-b"
SIM = "ibmq_qasm_simulator"
FEZ = "ibm_fez"
PAUSED = "ibm_paused"
HIDDEN = "ibm_hidden"


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    config = LocalServiceConfig(
        users=[
            UserConfig(
                token="classic-a", id="alice", api_key=KEY_A, instances=[A], jobs_per_minute=0
            ),
            UserConfig(
                token="classic-b", id="bob", api_key=KEY_B, instances=[B], jobs_per_minute=0
            ),
        ],
        instances=[
            InstanceConfig(crn=A, name="alpha", plan="open", tags=["team-a"]),
            InstanceConfig(crn=B, name="beta", plan="pay-as-you-go"),
        ],
        backends=[
            BackendConfig(name=SIM, device="simulator", workers=2),
            BackendConfig(name=FEZ, device="fez"),
            BackendConfig(name=PAUSED, device="lima", paused=True),
            BackendConfig(name=HIDDEN, device="vigo", instances=[B]),
        ],
    )
    with LocalService(config) as running:
        yield running


@pytest.fixture(scope="module")
def alice(service: LocalService) -> Iterator[PlatformClient]:
    with PlatformClient(service.root, KEY_A, A) as client:
        yield client


@pytest.fixture(scope="module")
def bob(service: LocalService) -> Iterator[PlatformClient]:
    with PlatformClient(service.root, KEY_B, B) as client:
        yield client


@pytest.fixture(scope="module")
def bell_job(alice: PlatformClient) -> str:
    job_id = alice.run("sampler", SIM, [[bell(), None, 200]], tags=["bell", "first"])
    assert alice.wait(job_id) == "Completed"
    return job_id


def _isa_bell(service: LocalService, backend: str = FEZ) -> object:
    from qiskit import transpile

    conf = service.engine.backends[backend].device.configuration
    return transpile(
        bell(),
        basis_gates=conf["basis_gates"],
        coupling_map=conf["coupling_map"],
        seed_transpiler=1,
    )


# --- IAM ------------------------------------------------------------------------------------


def test_an_api_key_gets_a_signed_jwt_with_exp_and_iat(service: LocalService) -> None:
    response = httpx_post(service, {"grant_type": APIKEY_GRANT, "apikey": KEY_A})
    assert response.status_code == 200
    token = IamToken.model_validate(response.json())
    assert token.token_type == "Bearer"
    header = jwt.get_unverified_header(token.access_token)
    assert header["alg"] == "RS256"
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == token.expires_in == 3600
    assert claims["exp"] == token.expiration


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"grant_type": APIKEY_GRANT, "apikey": "wrong"}, "BXNIM0415E"),
        ({"grant_type": APIKEY_GRANT}, "BXNIM0103E"),
        ({"apikey": KEY_A}, "BXNIM0308E"),
        ({"grant_type": "password", "apikey": KEY_A}, "BXNIM0309E"),
    ],
)
def test_a_bad_token_request_gets_the_iam_400_body(
    service: LocalService, form: dict[str, str], code: str
) -> None:
    response = httpx_post(service, form)
    assert response.status_code == 400
    assert IamError.model_validate(response.json()).error_code == code


def test_a_token_request_that_is_not_a_form_gets_the_iam_body(service: LocalService) -> None:
    import httpx

    response = httpx.post(f"{service.root}/identity/token", content=b"\xff\xfe")
    assert response.status_code == 400
    IamError.model_validate(response.json())


def httpx_post(service: LocalService, form: dict[str, str]) -> object:
    import httpx

    return httpx.post(f"{service.root}/identity/token", data=form)


# --- authentication, instance, version headers ----------------------------------------------


def test_a_request_without_a_token_is_401(alice: PlatformClient) -> None:
    response = alice.http.get("/api/v1/backends", headers={"Service-CRN": A})
    assert_platform_error(response, 401, "authorization")


def test_a_forged_token_is_401(alice: PlatformClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(alice.token(), options={"verify_signature": False})
    forged = jwt.encode(claims, key, algorithm="RS256")
    response = alice.request("GET", "/backends", headers={"Authorization": f"Bearer {forged}"})
    assert_platform_error(response, 401, "not valid")


def test_a_tampered_token_is_401(alice: PlatformClient) -> None:
    head, body, signature = alice.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["identifier"] = "bob"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = alice.request(
        "GET", "/backends", headers={"Authorization": f"Bearer {head}.{body}.{signature}"}
    )
    assert_platform_error(response, 401)


def test_a_token_from_a_hs256_secret_is_401(alice: PlatformClient) -> None:
    claims = jwt.decode(alice.token(), options={"verify_signature": False})
    forged = jwt.encode(claims, "a-guessed-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    response = alice.request("GET", "/backends", headers={"Authorization": f"Bearer {forged}"})
    assert_platform_error(response, 401)


def test_the_api_key_itself_is_accepted_as_the_client_falls_back_to_it(
    alice: PlatformClient,
) -> None:
    response = alice.request("GET", "/backends", headers={"Authorization": f"apikey {KEY_A}"})
    assert response.status_code == 200
    wrong = alice.request("GET", "/backends", headers={"Authorization": "apikey nope"})
    assert_platform_error(wrong, 401)


def test_a_request_without_service_crn_is_400(alice: PlatformClient) -> None:
    response = alice.http.get(
        "/api/v1/backends", headers={"Authorization": f"Bearer {alice.token()}"}
    )
    assert_platform_error(response, 400, "Service-CRN")


@pytest.mark.parametrize("crn", [B, "crn:v1:bluemix:public:quantum-computing:us-east:a/x:y::"])
def test_an_instance_that_is_not_the_callers_is_403(alice: PlatformClient, crn: str) -> None:
    response = alice.request("GET", "/backends", headers={"Service-CRN": crn})
    assert_platform_error(response, 403, "not authorized")


def test_a_malformed_api_version_is_400(alice: PlatformClient) -> None:
    response = alice.request("GET", "/backends", headers={"IBM-API-Version": "yesterday"})
    assert_platform_error(response, 400, "IBM-API-Version")


def test_versions_need_no_token(alice: PlatformClient) -> None:
    response = alice.http.get("/api/v1/versions")
    assert response.status_code == 200
    assert "2026-04-15" in response.json()["versions"]


def test_an_unknown_route_gets_the_platform_body(alice: PlatformClient) -> None:
    assert_platform_error(alice.request("GET", "/workloads"), 404)
    assert_platform_error(alice.request("POST", "/backends"), 405)


# --- IBM Cloud search and catalog -----------------------------------------------------------


def test_global_search_answers_the_callers_instances(
    alice: PlatformClient, bob: PlatformClient
) -> None:
    query = {"query": "service_name:quantum-computing", "fields": ["crn"]}
    headers = {"Authorization": f"Bearer {alice.token()}"}
    result = SearchResult.model_validate(
        alice.http.post("/global-search/v3/resources/search", json=query, headers=headers).json()
    )
    assert [item.crn for item in result.items] == [A]
    assert result.items[0].name == "alpha"
    assert result.items[0].tags == ["team-a"]
    assert result.items[0].doc["extensions"]
    assert result.search_cursor is None
    other = bob.http.post(
        "/global-search/v3/resources/search",
        json=query,
        headers={"Authorization": f"Bearer {bob.token()}"},
    ).json()
    assert [item["crn"] for item in other["items"]] == [B]


def test_global_search_pages_with_a_cursor(service: LocalService) -> None:
    crns = [f"crn:v1:bluemix:public:quantum-computing:us-east:a/acct:inst{n}::" for n in range(3)]
    config = LocalServiceConfig(
        users=[UserConfig(token="t", api_key="k", instances=crns)],
        backends=[BackendConfig(name=SIM, device="simulator")],
    )
    with LocalService(config) as other, PlatformClient(other.root, "k", crns[0]) as client:
        seen: list[str] = []
        cursor = None
        while True:
            body: dict[str, object] = {"query": "service_name:quantum-computing"}
            if cursor:
                body["search_cursor"] = cursor
            answer = client.http.post(
                "/global-search/v3/resources/search?limit=2",
                json=body,
                headers={"Authorization": f"Bearer {client.token()}"},
            ).json()
            seen += [item["crn"] for item in answer["items"]]
            cursor = answer.get("search_cursor")
            if not cursor:
                break
        assert seen == crns
        bad = client.http.post(
            "/global-search/v3/resources/search",
            json={"query": "service_name:quantum-computing", "search_cursor": "nonsense"},
            headers={"Authorization": f"Bearer {client.token()}"},
        )
        assert_platform_error(bad, 400, "cursor")


def test_global_search_needs_a_token_and_a_query(alice: PlatformClient) -> None:
    url = "/global-search/v3/resources/search"
    assert_platform_error(alice.http.post(url, json={"query": "x"}), 401)
    headers = {"Authorization": f"Bearer {alice.token()}"}
    assert_platform_error(alice.http.post(url, json={}, headers=headers), 400, "query")
    other = alice.http.post(
        url, json={"query": "service_name:cloud-object-storage"}, headers=headers
    )
    assert other.json()["items"] == []


def test_global_catalog_answers_the_plan(alice: PlatformClient, service: LocalService) -> None:
    plan_id = service.config.instance(A).plan_id
    headers = {"Authorization": f"Bearer {alice.token()}"}
    entry = CatalogEntry.model_validate(
        alice.http.get(f"/global-catalog/api/v1/{plan_id}", headers=headers).json()
    )
    assert (entry.display_name, entry.pricing_type) == ("Open", "free")
    missing = alice.http.get("/global-catalog/api/v1/plan-nothing", headers=headers)
    assert_platform_error(missing, 404)
    assert_platform_error(alice.http.get(f"/global-catalog/api/v1/{plan_id}"), 401)


# --- backends -------------------------------------------------------------------------------


def test_each_instance_sees_its_backends(alice: PlatformClient, bob: PlatformClient) -> None:
    mine = BackendList.model_validate(alice.ok("GET", "/backends"))
    assert [device.name for device in mine.devices] == [SIM, FEZ, PAUSED]
    states = {device.name: device.status.name for device in mine.devices}
    assert states == {SIM: "online", FEZ: "online", PAUSED: "paused"}
    fez = next(device for device in mine.devices if device.name == FEZ)
    assert (fez.qubits, fez.queue_length) == (156, 0)
    theirs = [device["name"] for device in bob.ok("GET", "/backends")["devices"]]
    assert HIDDEN in theirs


def test_configuration_is_the_devices(alice: PlatformClient, service: LocalService) -> None:
    response = alice.request("GET", f"/backends/{FEZ}/configuration")
    assert response.status_code == 200
    assert response.content == service.engine.backends[FEZ].device.configuration_bytes
    assert_platform_error(alice.request("GET", "/backends/nothing/configuration"), 404)
    assert_platform_error(alice.request("GET", f"/backends/{HIDDEN}/configuration"), 404)


def test_properties_now_and_before_a_date(alice: PlatformClient) -> None:
    now = alice.ok("GET", f"/backends/{FEZ}/properties")
    latest = datetime.fromisoformat(now["last_update_date"].replace("Z", "+00:00"))
    before = (latest - timedelta(days=3, hours=1)).isoformat()
    older = alice.ok("GET", f"/backends/{FEZ}/properties", params={"updated_before": before})
    older_date = datetime.fromisoformat(older["last_update_date"].replace("Z", "+00:00"))
    assert latest - older_date == timedelta(days=4)
    ancient = alice.ok(
        "GET", f"/backends/{FEZ}/properties", params={"updated_before": "1990-01-01"}
    )
    assert ancient == {}
    assert alice.ok("GET", f"/backends/{SIM}/properties") == {}
    bad = alice.request("GET", f"/backends/{FEZ}/properties", params={"updated_before": "soon"})
    assert_platform_error(bad, 400, "updated_before")
    assert_platform_error(alice.request("GET", f"/backends/{HIDDEN}/properties"), 404)


def test_status_of_a_backend(alice: PlatformClient) -> None:
    status = alice.ok("GET", f"/backends/{FEZ}/status")
    assert status["state"] is True
    assert status["status"] == "active"
    assert status["length_queue"] == 0
    assert alice.ok("GET", f"/backends/{PAUSED}/status")["status"] == "paused"
    assert_platform_error(alice.request("GET", f"/backends/{HIDDEN}/status"), 404)


def test_defaults_where_the_device_has_them(alice: PlatformClient) -> None:
    assert "qubit_freq_est" in alice.ok("GET", f"/backends/{PAUSED}/defaults")
    assert_platform_error(alice.request("GET", f"/backends/{FEZ}/defaults"), 404, "defaults")
    assert_platform_error(alice.request("GET", f"/backends/{HIDDEN}/defaults"), 404)


# --- jobs: creation -------------------------------------------------------------------------


def test_a_sampler_job_gives_one_bit_array_per_register(alice: PlatformClient) -> None:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    qubits = QuantumRegister(3)
    first, second = ClassicalRegister(2, "first"), ClassicalRegister(1, "second")
    circuit = QuantumCircuit(qubits, first, second)
    circuit.x(0)
    circuit.measure(qubits[0], first[0])
    circuit.measure(qubits[1], first[1])
    circuit.x(2)
    circuit.measure(qubits[2], second[0])
    job_id = alice.run("sampler", SIM, [[circuit, None, 50]])
    assert alice.wait(job_id) == "Completed"
    data = alice.result(job_id)[0].data
    assert data.first.get_counts() == {"01": 50}
    assert data.second.get_counts() == {"1": 50}


def test_a_sampler_job_of_an_openqasm3_string(alice: PlatformClient) -> None:
    program = (
        'OPENQASM 3.0; include "stdgates.inc"; bit[2] c; qubit[2] q;'
        " x q[1]; c[0] = measure q[0]; c[1] = measure q[1];"
    )
    job_id = alice.run(
        "sampler", SIM, [[program], [program, None, 30]], options={"default_shots": 20}
    )
    assert alice.wait(job_id) == "Completed"
    result = alice.result(job_id)
    assert result[0].data.c.get_counts() == {"10": 20}
    assert result[1].data.c.get_counts() == {"10": 30}


def test_sampler_parameters_broadcast_over_the_pub_shape(alice: PlatformClient) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta, 0)
    circuit.measure_all()
    values = np.array([[[0.0], [np.pi]], [[np.pi], [0.0]]])
    job_id = alice.run("sampler", SIM, [[circuit, values, 10]])
    assert alice.wait(job_id) == "Completed"
    meas = alice.result(job_id)[0].data.meas
    assert meas.shape == (2, 2)
    assert [[meas[i, j].get_counts() for j in range(2)] for i in range(2)] == [
        [{"0": 10}, {"1": 10}],
        [{"1": 10}, {"0": 10}],
    ]


def test_an_isa_circuit_of_a_156_qubit_device_runs_on_the_qubits_it_uses(
    alice: PlatformClient, service: LocalService
) -> None:
    circuit = _isa_bell(service)
    assert circuit.num_qubits == 156
    job_id = alice.run(
        "sampler", FEZ, [[circuit, None, 100]], options={"simulator": {"seed_simulator": 5}}
    )
    assert alice.wait(job_id) == "Completed"
    counts = alice.result(job_id)[0].data.meas.get_counts()
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 100


def test_an_estimator_job_estimates_from_shots(alice: PlatformClient) -> None:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.ry(theta, 0)
    values = np.array([[0.0], [np.pi / 2], [np.pi]])
    job_id = alice.run(
        "estimator",
        SIM,
        [
            [bell(measure=False), ["ZZ", "XX", "YY", "IZ"], None, 0.05],
            [circuit, [["Z"], ["X"]], values],
        ],
        options={"default_precision": 0.02, "seed_estimator": 11},
    )
    assert alice.wait(job_id) == "Completed"
    first, second = alice.result(job_id)
    assert np.allclose(first.data.evs, [1, 1, -1, 0], atol=0.2)
    assert first.metadata["shots"] == 400
    assert first.metadata["target_precision"] == 0.05
    assert second.data.evs.shape == (2, 3)
    assert np.allclose(second.data.evs, [[1, 0, -1], [0, 1, 0]], atol=0.1)
    assert second.metadata["shots"] == 2500
    assert np.all(second.data.stds >= 0)
    assert np.array_equal(second.data.ensemble_standard_error, second.data.stds)


def test_the_server_refuses_a_circuit_that_is_not_isa(alice: PlatformClient) -> None:
    message = assert_platform_error(alice.submit("sampler", FEZ, [[bell(), None, 10]]), 400, "ISA")
    assert "pub 0" in message
    assert "h" in message


def test_the_server_refuses_two_qubit_gates_on_uncoupled_qubits(
    alice: PlatformClient, service: LocalService
) -> None:
    from qiskit import QuantumCircuit

    coupling = {
        tuple(pair) for pair in service.engine.backends[FEZ].device.configuration["coupling_map"]
    }
    assert (0, 50) not in coupling
    circuit = QuantumCircuit(156)
    circuit.cz(0, 50)
    circuit.measure_all()
    message = assert_platform_error(alice.submit("sampler", FEZ, [[circuit, None, 10]]), 400, "cz")
    assert "[0, 50]" in message


def test_more_than_ten_million_executions_are_refused(alice: PlatformClient) -> None:
    pubs = [[bell(), None, 2_500_000]] * 5
    assert_platform_error(alice.submit("sampler", SIM, pubs), 400, "12500000 executions")


@pytest.mark.parametrize("cost", [10801, 0, -5])
def test_a_cost_out_of_range_is_refused(alice: PlatformClient, cost: int) -> None:
    response = alice.submit("sampler", SIM, [[bell(), None, 10]], cost=cost)
    assert_platform_error(response, 400, "10800")


def test_an_unknown_program_is_404(alice: PlatformClient) -> None:
    assert_platform_error(alice.submit("executor", SIM, [[bell()]]), 404, "program")


@pytest.mark.parametrize("backend", ["ibm_nowhere", HIDDEN])
def test_a_backend_the_instance_does_not_see_is_refused(
    alice: PlatformClient, backend: str
) -> None:
    assert_platform_error(alice.submit("sampler", backend, [[bell()]]), 400, "backend not found")


def _qpy_of_version(version: int) -> dict[str, str]:
    circuit = encoded({"c": bell()})["c"]
    raw = bytearray(zlib.decompress(base64.b64decode(circuit["__value__"])))
    raw[6] = version
    return {
        "__type__": "QuantumCircuit",
        "__value__": base64.b64encode(zlib.compress(bytes(raw))).decode(),
    }


@pytest.mark.parametrize(
    ("pubs", "fragment"),
    [
        ([], "pubs"),
        ([["not a program"]], "OpenQASM 3"),
        ([[42]], "circuit must be"),
        ([[{"__type__": "QuantumCircuit", "__value__": "!!!"}]], "base64"),
        (
            [[{"__type__": "QuantumCircuit", "__value__": base64.b64encode(b"junk").decode()}]],
            "zlib",
        ),
        ([[_qpy_of_version(18)]], "QPY version is 18"),
        ([[_qpy_of_version(12)]], "QPY version is 12"),
        ([[bell(), None, 0]], "shots"),
        ([[bell(), None, "ten"]], "shots"),
        ([[bell(), [[1.0]], 10]], "pub 0"),
        ([[bell(), {"__type__": "ndarray", "__value__": "eJw="}, 10]], "ndarray"),
    ],
)
def test_bad_sampler_pubs_are_refused_naming_the_problem(
    alice: PlatformClient, pubs: list[object], fragment: str
) -> None:
    response = alice.submit("sampler", SIM, pubs)
    assert_platform_error(response, 400, fragment)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"pubs": [], "version": 2, "extra": 1}, "unknown field"),
        ({"pubs": [["x"]], "version": 1}, "version must be 2"),
        ({"pubs": [["x"]], "options": {"shots": 3}}, "unknown option"),
        ({"pubs": [["x"]], "options": {"execution": {"meas_type": "kerneled"}}}, "meas_type"),
        ({"pubs": [["x"]], "options": {"default_shots": 0}}, "default_shots"),
        ("not an object", "params"),
    ],
)
def test_bad_params_are_refused(alice: PlatformClient, params: object, fragment: str) -> None:
    body = {"program_id": "sampler", "backend": SIM, "params": params}
    assert_platform_error(alice.request("POST", "/jobs", json=body), 400, fragment)


@pytest.mark.parametrize(
    ("pub", "fragment"),
    [
        ([bell(measure=False), "ZZZ"], "observables act on 3 qubits"),
        ([bell(measure=False), "QQ"], "observables"),
        ([bell(measure=False), "ZZ", None, 0], "precision"),
        ([bell(measure=False)], "estimator PUB"),
    ],
)
def test_bad_estimator_pubs_are_refused(
    alice: PlatformClient, pub: list[object], fragment: str
) -> None:
    assert_platform_error(alice.submit("estimator", SIM, [pub]), 400, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "JSON object"),
        ({"program_id": "sampler", "params": {}}, "backend is required"),
        ({"program_id": "sampler", "backend": SIM}, "params"),
        ({"program_id": 5, "backend": SIM, "params": {}}, "program_id"),
        ({"program_id": "sampler", "backend": SIM, "params": {}, "tags": "x"}, "tags"),
        ({"program_id": "sampler", "backend": SIM, "params": {}, "cost": "60"}, "cost"),
    ],
)
def test_malformed_job_bodies_are_400(alice: PlatformClient, body: object, fragment: str) -> None:
    assert_platform_error(alice.request("POST", "/jobs", json=body), 400, fragment)


def test_a_body_that_is_not_json_is_400(alice: PlatformClient) -> None:
    response = alice.request(
        "POST", "/jobs", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_platform_error(response, 400, "JSON")


# --- jobs: reading and changing -------------------------------------------------------------


def test_a_job_document(alice: PlatformClient, bell_job: str) -> None:
    document = Job.model_validate(alice.job(bell_job))
    assert document.state.status == document.status == "Completed"
    assert document.program.id == "sampler"
    assert document.backend == SIM
    assert document.tags == ["bell", "first"]
    assert document.user_id == "alice"
    assert document.usage.quantum_seconds == pytest.approx(200 * 250e-6)
    assert document.params is not None
    assert len(document.params["pubs"]) == 1
    excluded = alice.ok("GET", f"/jobs/{bell_job}", params={"exclude_params": "true"})
    assert "params" not in excluded
    assert_platform_error(
        alice.request("GET", f"/jobs/{bell_job}", params={"exclude_params": "maybe"}), 400
    )


def test_another_instance_sees_no_job_of_this_one(
    alice: PlatformClient, bob: PlatformClient, bell_job: str
) -> None:
    for method, path in [
        ("GET", f"/jobs/{bell_job}"),
        ("GET", f"/jobs/{bell_job}/results"),
        ("GET", f"/jobs/{bell_job}/metrics"),
        ("GET", f"/jobs/{bell_job}/logs"),
        ("POST", f"/jobs/{bell_job}/cancel"),
        ("DELETE", f"/jobs/{bell_job}"),
    ]:
        assert_platform_error(bob.request(method, path), 404, "job not found")
    assert_platform_error(bob.request("PUT", f"/jobs/{bell_job}/tags", json={"tags": []}), 404)
    assert bell_job not in [job["id"] for job in bob.ok("GET", "/jobs")["jobs"]]
    assert alice.job(bell_job)["tags"] == ["bell", "first"]


def test_results_are_runtime_json_of_a_primitive_result(
    alice: PlatformClient, bell_job: str
) -> None:
    response = alice.request("GET", f"/jobs/{bell_job}/results")
    document = response.json()
    assert document["__type__"] == "PrimitiveResult"
    pub = document["__value__"]["pub_results"][0]
    assert pub["__type__"] == "SamplerPubResult"
    data_bin = pub["__value__"]["data"]["__value__"]
    assert data_bin["field_names"] == ["meas"]
    assert data_bin["field_types"] == ["BitArray"]
    meas = data_bin["fields"]["meas"]["__value__"]
    assert meas["num_bits"] == 2
    assert meas["array"]["__type__"] == "ndarray"
    result = alice.result(bell_job)
    assert sum(result[0].data.meas.get_counts().values()) == 200
    assert set(result[0].data.meas.get_counts()) <= {"00", "11"}


def test_results_of_a_job_that_has_not_finished_are_404(
    alice: PlatformClient, service: LocalService
) -> None:
    job_id = alice.run("sampler", PAUSED, [[_isa_bell(service, PAUSED), None, 10]])
    try:
        assert_platform_error(
            alice.request("GET", f"/jobs/{job_id}/results"), 404, "no results yet"
        )
        assert_platform_error(alice.request("GET", f"/jobs/{job_id}/logs"), 404, "no logs")
        assert_platform_error(alice.request("DELETE", f"/jobs/{job_id}"), 409, "cancel it")
        metrics = JobMetrics.model_validate(alice.ok("GET", f"/jobs/{job_id}/metrics"))
        assert metrics.position_in_queue == 1
        assert metrics.usage.status == "pending"
    finally:
        alice.request("POST", f"/jobs/{job_id}/cancel")


def test_a_failed_job_has_its_reason_and_its_error_as_results(alice: PlatformClient) -> None:
    job_id = alice.run(
        "sampler",
        SIM,
        [[bell(), None, 10]],
        options={"experimental": {"simulate_failure": "on purpose"}},
    )
    assert alice.wait(job_id) == "Failed"
    state = alice.job(job_id)["state"]
    assert state["reason"] == "on purpose"
    assert state["reason_code"] == 1517
    text = alice.request("GET", f"/jobs/{job_id}/results").text
    assert "on purpose" in text
    assert alice.ok("GET", f"/jobs/{job_id}/metrics")["usage"]["quantum_seconds"] == 0


def test_cancel_a_queued_job_then_409(alice: PlatformClient, service: LocalService) -> None:
    job_id = alice.run("sampler", PAUSED, [[_isa_bell(service, PAUSED), None, 10]])
    assert alice.ok("GET", f"/backends/{PAUSED}/status")["length_queue"] >= 1
    response = alice.request("POST", f"/jobs/{job_id}/cancel")
    assert response.status_code == 204
    assert alice.job(job_id)["state"]["status"] == "Cancelled"
    assert_platform_error(
        alice.request("POST", f"/jobs/{job_id}/cancel"), 409, "cannot be cancelled"
    )


def test_cancel_a_running_job(alice: PlatformClient, service: LocalService) -> None:
    service.set_delays(SIM, run_delay=5.0)
    try:
        job_id = alice.run("sampler", SIM, [[bell(), None, 10]])
        alice.wait(job_id, states=frozenset({"Running"}))
        assert alice.request("POST", f"/jobs/{job_id}/cancel").status_code == 204
        assert alice.wait(job_id) == "Cancelled"
    finally:
        service.set_delays(SIM, run_delay=0.0)


def test_delete_a_finished_job(alice: PlatformClient) -> None:
    job_id = alice.run("sampler", SIM, [[bell(), None, 10]])
    alice.wait(job_id)
    assert alice.request("DELETE", f"/jobs/{job_id}").status_code == 204
    assert_platform_error(alice.request("GET", f"/jobs/{job_id}"), 404)
    assert_platform_error(alice.request("DELETE", f"/jobs/{job_id}"), 404)


def test_tags_are_replaced(alice: PlatformClient) -> None:
    job_id = alice.run("sampler", SIM, [[bell(), None, 10]], tags=["old"])
    response = alice.request("PUT", f"/jobs/{job_id}/tags", json={"tags": ["new", "newer"]})
    assert response.status_code == 204
    assert alice.job(job_id)["tags"] == ["new", "newer"]
    for body in [{"tags": "x"}, {"tags": [1]}, {"labels": []}, [], {"tags": [""]}]:
        assert_platform_error(alice.request("PUT", f"/jobs/{job_id}/tags", json=body), 400)


def test_logs_and_metrics_of_a_finished_job(alice: PlatformClient, bell_job: str) -> None:
    logs = alice.request("GET", f"/jobs/{bell_job}/logs")
    assert logs.headers["content-type"].startswith("text/plain")
    assert bell_job in logs.text
    assert "Completed" in logs.text
    metrics = JobMetrics.model_validate(alice.ok("GET", f"/jobs/{bell_job}/metrics"))
    timestamps = metrics.timestamps
    assert timestamps.created is not None
    assert timestamps.running is not None
    assert timestamps.finished is not None
    assert timestamps.created <= timestamps.running <= timestamps.finished
    assert metrics.usage.status == "final"
    assert metrics.usage.qpu_charge_time_seconds == pytest.approx(200 * 250e-6)
    assert metrics.position_in_queue is None


def test_a_private_jobs_results_are_read_once(alice: PlatformClient) -> None:
    job_id = alice.run("sampler", SIM, [[bell(), None, 10]], private=True)
    assert alice.wait(job_id) == "Completed"
    assert "params" not in alice.job(job_id)
    assert alice.request("GET", f"/jobs/{job_id}/results").status_code == 200
    assert_platform_error(alice.request("GET", f"/jobs/{job_id}/results"), 404, "read already")


# --- listings -------------------------------------------------------------------------------


def test_listing_filters_and_pages(alice: PlatformClient) -> None:
    tag = f"listing-{time.monotonic_ns()}"
    ids = [alice.run("sampler", SIM, [[bell(), None, 5]], tags=[tag, f"n{n}"]) for n in range(3)]
    estimator = alice.run("estimator", SIM, [[bell(measure=False), "ZZ"]], tags=[tag])
    for job_id in [*ids, estimator]:
        alice.wait(job_id)
    listed = alice.ok("GET", "/jobs", params={"tags": tag})
    assert all("params" not in job for job in listed["jobs"])
    page = JobList.model_validate(listed)
    assert [job.id for job in page.jobs] == [estimator, *reversed(ids)]
    assert page.count == 4
    ascending = alice.ok("GET", "/jobs", params={"tags": tag, "sort": "ASC"})
    assert [job["id"] for job in ascending["jobs"]] == [*ids, estimator]
    both = alice.ok("GET", "/jobs", params=[("tags", tag), ("tags", "n1")])
    assert [job["id"] for job in both["jobs"]] == [ids[1]]
    second = alice.ok("GET", "/jobs", params={"tags": tag, "limit": 2, "offset": 1})
    assert [job["id"] for job in second["jobs"]] == [ids[2], ids[1]]
    assert second["count"] == 4
    estimators = alice.ok("GET", "/jobs", params={"tags": tag, "program": "estimator"})
    assert [job["id"] for job in estimators["jobs"]] == [estimator]
    assert alice.ok("GET", "/jobs", params={"tags": tag, "pending": "true"})["count"] == 0
    assert alice.ok("GET", "/jobs", params={"tags": tag, "pending": "false"})["count"] == 4
    assert alice.ok("GET", "/jobs", params={"tags": tag, "backend": FEZ})["count"] == 0
    created = alice.job(ids[1])["created"]
    after = alice.ok("GET", "/jobs", params={"tags": tag, "created_after": created})
    assert [job["id"] for job in after["jobs"]] == [estimator, ids[2], ids[1]]
    before = alice.ok("GET", "/jobs", params={"tags": tag, "created_before": created})
    assert [job["id"] for job in before["jobs"]] == [ids[1], ids[0]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"offset": "-1"},
        {"sort": "sideways"},
        {"pending": "perhaps"},
        {"created_after": "last week"},
        {"created_before": "9999-99-99"},
    ],
)
def test_bad_listing_parameters_are_400(alice: PlatformClient, params: dict[str, str]) -> None:
    assert_platform_error(alice.request("GET", "/jobs", params=params), 400)


def test_usage_of_an_instance(alice: PlatformClient, bell_job: str) -> None:
    usage = InstanceUsage.model_validate(alice.ok("GET", "/instances/usage"))
    assert usage.instance_id == A
    assert usage.usage_consumed_seconds >= 200 * 250e-6
    assert usage.usage_allocation_seconds is None
    assert usage.usage_limit_reached is False
    assert usage.usage_period.end_time - usage.usage_period.start_time == timedelta(days=28)
    assert usage.usage_period.end_time <= datetime.now(timezone.utc)
