"""The sampler and estimator runs ``runtime_primitives.py`` makes with qiskit-ibm-runtime 0.51
and ``tests/compat/test_platform_primitives_compat.py`` makes again with the SDK, on the same
service, to compare the jobs the two put on the wire.

Each case names its mode (``job``, or the ``Session``/``Batch`` it runs in), its options
(a mapping, as both clients take them), the ``run`` keywords, and its PUBs: a circuit by
name (``bell``, ``bell_unmeasured``, ``ry``: made and transpiled by the scenario; the test
takes the circuits from the client's job), then the rest of the PUB as given to ``run``.
Observables are labels on the circuit's virtual qubits, laid out on the device with the
circuit's layout by each side. Plain data only: both environments import this module.
"""

from __future__ import annotations

from typing import Any

SAMPLER_CASES: list[dict[str, Any]] = [
    {"name": "defaults", "mode": "job", "options": {}, "pubs": [["bell"]], "run": {}},
    {
        "name": "shots_and_parameters",
        "mode": "job",
        "options": {"default_shots": 64},
        "pubs": [["bell"], ["ry", [[0.0], [1.5]], 16]],
        "run": {"shots": 32},
    },
    {
        "name": "decoupling_twirling_execution",
        "mode": "job",
        "options": {
            "dynamical_decoupling": {
                "enable": True,
                "sequence_type": "XY4",
                "scheduling_method": "asap",
            },
            "twirling": {
                "enable_gates": True,
                "enable_measure": False,
                "num_randomizations": 4,
                "shots_per_randomization": "auto",
                "strategy": "active",
            },
            "execution": {"init_qubits": True, "meas_type": "classified"},
        },
        "pubs": [["bell"]],
        "run": {"shots": 40},
    },
    {
        "name": "environment_cost_simulator",
        "mode": "job",
        "options": {
            "environment": {"job_tags": ["wire-a", "wire-b"], "log_level": "INFO"},
            "max_execution_time": 300,
            "simulator": {"seed_simulator": 11},
        },
        "pubs": [["bell"]],
        "run": {"shots": 8},
    },
    {
        "name": "in_a_session",
        "mode": "session",
        "max_time": 300,
        "options": {"default_shots": 20},
        "pubs": [["bell"]],
        "run": {},
    },
]

ESTIMATOR_CASES: list[dict[str, Any]] = [
    {
        "name": "defaults",
        "mode": "job",
        "options": {},
        "pubs": [["bell_unmeasured", ["ZZ", "XX"]]],
        "run": {"precision": 0.1},
    },
    {
        "name": "precision_level_seed",
        "mode": "job",
        "options": {"default_precision": 0.1, "resilience_level": 2, "seed_estimator": 5},
        "pubs": [["bell_unmeasured", ["ZZ"]], ["bell_unmeasured", ["ZI", "IZ"], None, 0.2]],
        "run": {},
    },
    {
        "name": "resilience",
        "mode": "job",
        "options": {
            "default_shots": 100,
            "resilience": {
                "measure_mitigation": True,
                "measure_noise_learning": {"num_randomizations": 8},
                "zne_mitigation": True,
                "zne": {"noise_factors": [1, 3, 5], "extrapolator": ["exponential", "linear"]},
            },
        },
        "pubs": [["bell_unmeasured", ["XX"]]],
        "run": {},
    },
    {
        "name": "in_a_batch",
        "mode": "batch",
        "max_time": 120,
        "options": {
            "twirling": {"enable_gates": True},
            "dynamical_decoupling": {"enable": True},
        },
        "pubs": [["bell_unmeasured", ["ZZ"]]],
        "run": {"precision": 0.2},
    },
]

CASES: dict[str, list[dict[str, Any]]] = {"sampler": SAMPLER_CASES, "estimator": ESTIMATOR_CASES}
"""The cases of each primitive."""
