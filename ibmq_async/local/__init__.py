"""The local IBM Quantum service: the wire protocol of docs/protocol.md, on Qiskit Aer.

A real service, not a mock: users with API tokens and hub/group/project memberships,
bundled device snapshots and a simulator, one queue per backend with workers that run
the uploaded Qobjs on Aer, job limits, reservations, calibration history, the websocket
status stream, and SQLite persistence (jobs survive a restart).

In-process::

    async with ibmq_async.local.serve() as service:
        ...  # service.url is the auth URL, service.token an API token

or ``ibmq-async serve`` on the command line (see ``README.md`` in this package). The same
service also serves the IBM Quantum Platform API (docs/platform.md): ``service.root``,
``service.api_key`` and ``service.instance`` are what qiskit-ibm-runtime connects with.
Needs the ``local`` extra (qiskit, qiskit-aer, starlette, uvicorn, websockets).
"""

from ibmq_async.local.app import create_app
from ibmq_async.local.config import (
    BackendConfig,
    InstanceConfig,
    LocalServiceConfig,
    ReservationConfig,
    UserConfig,
)
from ibmq_async.local.engine import Engine
from ibmq_async.local.server import LocalService, run_forever, serve
from ibmq_async.local.stats import ServiceStats

__all__ = [
    "BackendConfig",
    "Engine",
    "InstanceConfig",
    "LocalService",
    "LocalServiceConfig",
    "ReservationConfig",
    "ServiceStats",
    "UserConfig",
    "create_app",
    "run_forever",
    "serve",
]
