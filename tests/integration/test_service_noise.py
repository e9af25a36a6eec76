"""The opt-in noise of device backends: a Bell pair on a noisy ``ibmq_vigo`` gives some
``01``/``10``, the same circuit without noise none; ``noise = true`` in the configuration
and ``ibmq-async serve --noise`` turn it on; the models stand for the right qubits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from platform_client import PlatformClient
from qiskit import QuantumCircuit, transpile

from ibmq_async import IBMQFactory
from ibmq_async.local import BackendConfig, LocalService, LocalServiceConfig, UserConfig
from ibmq_async.local.devices import DEVICES_DIR
from ibmq_async.local.noise import noise_model, restrict_properties

SHOTS = 2000
INSTANCE = "crn:v1:bluemix:public:quantum-computing:us-east:a/noise:noise-instance::"
VIGO_PROPERTIES = json.loads((DEVICES_DIR / "vigo" / "props.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    path = tmp_path_factory.mktemp("noise") / "service.toml"
    path.write_text(
        '[[users]]\ntoken = "noise-token"\n'
        f'api_key = "noise-key"\ninstances = ["{INSTANCE}"]\n\n'
        '[[backends]]\nname = "ibmq_vigo"\ndevice = "vigo"\nnoise = true\n\n'
        '[[backends]]\nname = "ideal_vigo"\ndevice = "vigo"\n',
        encoding="utf-8",
    )
    with LocalService(path) as running:
        yield running


def _bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


async def _bell_counts(url: str, token: str, backend_name: str) -> dict[str, int]:
    provider = await IBMQFactory().enable_account(token, url=url)
    assert provider is not None
    async with provider:
        backend = provider.get_backend(backend_name)
        config = backend.configuration()
        circuit = transpile(
            _bell(),
            basis_gates=config.basis_gates,
            coupling_map=config.coupling_map,
            initial_layout=[0, 1],
            seed_transpiler=1,
        )
        job = await backend.run(circuit, shots=SHOTS, seed_simulator=11)
        counts: dict[str, int] = (await job.result(timeout=120)).get_counts()
        return counts


def test_a_bell_pair_on_noisy_vigo_gives_some_01_and_10_and_none_without_noise(
    service: LocalService,
) -> None:
    noisy = anyio.run(_bell_counts, service.url, service.token, "ibmq_vigo")
    ideal = anyio.run(_bell_counts, service.url, service.token, "ideal_vigo")
    assert sum(noisy.values()) == sum(ideal.values()) == SHOTS
    assert set(ideal) <= {"00", "11"}
    errors = noisy.get("01", 0) + noisy.get("10", 0)
    assert 0.005 * SHOTS < errors < 0.2 * SHOTS, noisy  # vigo: readout errors of ~1-5 %
    assert noisy["00"] > 0.35 * SHOTS
    assert noisy["11"] > 0.35 * SHOTS


def _platform_bell_counts(service: LocalService, backend_name: str) -> dict[str, int]:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    config = service.engine.catalog.devices[backend_name].configuration
    isa = transpile(
        circuit,
        basis_gates=config["basis_gates"],
        coupling_map=config["coupling_map"],
        initial_layout=[0, 1],
        seed_transpiler=1,
    )
    with PlatformClient(service.root, "noise-key", INSTANCE) as client:
        job_id = client.run("sampler", backend_name, [[isa, None, SHOTS]])
        assert client.wait(job_id, timeout=120) == "Completed"
        counts: dict[str, int] = client.result(job_id)[0].data.meas.get_counts()
        return counts


def test_a_sampler_bell_pair_on_noisy_vigo_gives_some_01_and_10_and_none_without_noise(
    service: LocalService,
) -> None:
    noisy = _platform_bell_counts(service, "ibmq_vigo")
    ideal = _platform_bell_counts(service, "ideal_vigo")
    assert sum(noisy.values()) == sum(ideal.values()) == SHOTS
    assert set(ideal) <= {"00", "11"}
    errors = noisy.get("01", 0) + noisy.get("10", 0)
    assert 0.005 * SHOTS < errors < 0.2 * SHOTS, noisy


def test_noise_is_off_by_default() -> None:
    assert BackendConfig(name="ibmq_vigo", device="vigo").noise is False
    default = LocalServiceConfig.default()
    assert not any(backend.noise for backend in default.backends)


def test_noise_on_the_simulator_is_refused_at_start() -> None:
    config = LocalServiceConfig(
        users=[UserConfig(token="t")],
        backends=[BackendConfig(name="sim", device="simulator", noise=True)],
    )
    with pytest.raises(ValueError, match="noise = true needs a device with properties"):
        LocalService(config).start()


def test_a_model_of_some_qubits_carries_their_own_calibration() -> None:
    restricted = restrict_properties(VIGO_PROPERTIES, [3, 1])
    assert restricted["qubits"] == [VIGO_PROPERTIES["qubits"][3], VIGO_PROPERTIES["qubits"][1]]
    pairs = {tuple(gate["qubits"]) for gate in restricted["gates"] if gate["gate"] == "cx"}
    assert pairs == {(0, 1), (1, 0)}  # vigo couples 1 and 3
    assert all(max(gate["qubits"]) <= 1 for gate in restricted["gates"])
    model = noise_model(VIGO_PROPERTIES, [3, 1])
    readout = model._local_readout_errors  # per qubit tuple
    probabilities = readout[(0,)].probabilities
    calibration = {item["name"]: item["value"] for item in VIGO_PROPERTIES["qubits"][3]}
    assert probabilities[0][1] == pytest.approx(calibration["prob_meas1_prep0"])
    assert probabilities[1][0] == pytest.approx(calibration["prob_meas0_prep1"])
    with pytest.raises(ValueError, match="qubit 7 has no calibration"):
        restrict_properties(VIGO_PROPERTIES, [7])


def test_serve_with_noise_simulates_every_device_with_noise(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ibmq_async.cli", "serve", "--port", "0", "--noise"]
    command += ["--db", str(tmp_path / "noise.db"), "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[0].split(" on ")[1].strip()
        token = lines[3].split(":", 1)[1].strip()
        counts = anyio.run(_bell_counts, url, token, "ibmq_vigo")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    assert counts.get("01", 0) + counts.get("10", 0) > 0, counts
