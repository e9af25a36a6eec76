"""What qiskit-ibm-runtime 0.51 itself makes of the inputs the SDK's platform pieces handle,
written to files for ``tests/compat/test_runtime_sdk_pieces.py`` to compare with the SDK:

* ``targets``: ``convert_to_target`` of each bundled device's configuration, with and
  without its properties, and ``backend.target`` of the device the service hosts;
* ``options``: ``_get_program_inputs`` and ``_get_runtime_options`` of sampler and
  estimator options;
* ``accounts``: accounts saved with ``QiskitRuntimeService.save_account``, the account
  ``AccountManager.get`` chooses, and the API URL its resolver gives each.

Each check writes ``runtime_sdk_pieces.<check>.json`` in the working directory and reports
how much it wrote.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict
from pathlib import Path

from _harness import Scenario
from _runtime import connect
from _target_summary import target_summary

scenario = Scenario()
ctx = scenario.context
REPO = Path(ctx["runtime_json"]).resolve().parents[1]
DEVICES = REPO / "ibmq_async" / "local" / "devices"
BUNDLED = ("vigo", "lima", "montreal", "washington", "fez")


def _write(check: str, value: object) -> str:
    name = f"runtime_sdk_pieces.{check}.json"
    Path(name).write_text(json.dumps(value), encoding="utf-8")
    return name


@scenario.check("targets")
def _() -> dict:
    from qiskit_ibm_runtime.utils.backend_converter import convert_to_target
    from qiskit_ibm_runtime.utils.backend_decoder import (
        configuration_from_server_data,
        properties_from_server_data,
    )

    out = {}
    for device in BUNDLED:
        configuration = json.loads((DEVICES / device / "conf.json").read_text())
        properties = json.loads((DEVICES / device / "props.json").read_text())
        for calibrated in (True, False):
            decoded = configuration_from_server_data(copy.deepcopy(configuration))
            assert decoded is not None, device
            props = properties_from_server_data(copy.deepcopy(properties)) if calibrated else None
            out[f"{device}:{calibrated}"] = target_summary(convert_to_target(decoded, props))
    service = connect(ctx)
    out[f"served:{ctx['device']}"] = target_summary(service.backend(ctx["device"]).target)
    return {"file": _write("targets", out), "targets": len(out)}


SAMPLER_OPTIONS = [
    {},
    {"default_shots": 100},
    {"dynamical_decoupling": {"enable": True, "sequence_type": "XY4"}},
    {"twirling": {"enable_gates": True, "num_randomizations": "auto", "strategy": "all"}},
    {"execution": {"init_qubits": False, "rep_delay": 0.0002, "meas_type": "classified"}},
    {"simulator": {"seed_simulator": 42, "coupling_map": [[0, 1]], "basis_gates": ["x"]}},
    {"max_execution_time": 300, "environment": {"log_level": "INFO", "job_tags": ["a"]}},
    {"environment": {"private": True}},
    {
        "twirling": {"enable_gates": True},
        "experimental": {"twirling": {"strategy": "all"}, "image": "a:b", "flag": 1},
    },
]
ESTIMATOR_OPTIONS = [
    {},
    {"default_precision": 0.01, "resilience_level": 2, "seed_estimator": 5},
    {"default_shots": 1000},
    {"default_shots": None},
    {
        "resilience": {
            "measure_mitigation": True,
            "measure_noise_learning": {"num_randomizations": 4},
            "zne_mitigation": True,
            "zne": {"noise_factors": [1, 3, 5], "extrapolator": ["exponential", "linear"]},
        }
    },
    {"resilience": {"pec_mitigation": True, "pec": {"max_overhead": 50, "noise_gain": "auto"}}},
    {"resilience": {"layer_noise_learning": {"max_layers_to_learn": 2, "layer_pair_depths": [0]}}},
    {"twirling": {"enable_measure": True}, "experimental": {"execution": {"init_qubits": False}}},
]


@scenario.check("options")
def _() -> dict:
    from qiskit_ibm_runtime.options import EstimatorOptions, SamplerOptions

    out = []
    for kind, cls, cases in (
        ("sampler", SamplerOptions, SAMPLER_OPTIONS),
        ("estimator", EstimatorOptions, ESTIMATOR_OPTIONS),
    ):
        for given in cases:
            options = asdict(cls(**copy.deepcopy(given)))
            out.append(
                {
                    "kind": kind,
                    "given": given,
                    "inputs": cls._get_program_inputs(options),
                    "runtime": cls._get_runtime_options(options),
                }
            )
    return {"file": _write("options", out), "cases": len(out)}


US = "crn:v1:bluemix:public:quantum-computing:us-east:a/sdk0account:sdk0us::"
EU = "crn:v1:bluemix:public:quantum-computing:eu-de:a/sdk0account:sdk0eu::"
MARKED = "crn:v1:bluemix:public:quantum-computing:us-east:a/sdk0account:sdk0marked::"


@scenario.check("accounts")
def _() -> dict:
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountManager
    from qiskit_ibm_runtime.api.utils import default_runtime_url_resolver

    os.environ.pop("QISKIT_IBM_TOKEN", None)
    os.environ.pop("QISKIT_IBM_CHANNEL", None)
    filename = str(Path.home() / ".qiskit" / "qiskit-ibm.json")
    saved = {
        "default-ibm-quantum-platform": {"token": "key-us", "instance": US},
        "europe": {"token": "key-eu", "instance": EU, "channel": "ibm_cloud"},
        "private": {"token": "key-private", "instance": EU, "private_endpoint": True},
        "marked": {"token": "key-marked", "instance": MARKED, "set_as_default": True},
        "by-name": {"token": "key-name", "instance": "my-instance"},
    }
    for name, fields in saved.items():
        QiskitRuntimeService.save_account(
            name=name,
            filename=filename,
            channel=fields.get("channel", "ibm_quantum_platform"),
            token=fields["token"],
            instance=fields["instance"],
            private_endpoint=fields.get("private_endpoint", False),
            set_as_default=fields.get("set_as_default"),
            overwrite=True,
        )
    accounts = {}
    for name in saved:
        account = AccountManager.get(filename=filename, name=name)
        accounts[name] = {
            "token": account.token,
            "instance": account.instance,
            "channel": account.channel,
            "api": default_runtime_url_resolver(
                account.url, account.instance, account.private_endpoint
            ),
        }
    chosen = {
        "default": AccountManager.get(filename=filename).instance,
        "ibm_cloud": AccountManager.get(filename=filename, channel="ibm_cloud").token,
    }
    value = {"file": filename, "accounts": accounts, "chosen": chosen}
    return {"file": _write("accounts", value), "accounts": len(accounts)}


scenario.finish()
