"""The classic IBM Quantum API (docs/protocol.md), the one of qiskit-ibmq-provider 0.20.2.

Resources, each with its URL table and one coroutine per endpoint: :class:`AuthService`
(version, login, user info, hubs), :class:`Backends`, :class:`Jobs`, :class:`ObjectStorage`.
:class:`ProjectClient` gathers them for one hub/group/project with exactly-once
submission and shared status waits; :class:`Connection` logs in and hands out project
clients. Also here: the LoopBack translation of a :class:`~ibmq_async.api.query.JobQuery`
(:mod:`~ibmq_async.api.classic.loopback`), the classic error body
(:mod:`~ibmq_async.api.classic.errors`) and the status websocket
(:mod:`~ibmq_async.api.classic.websocket`).
"""

from ibmq_async.api.classic.auth import AuthService, ClassicLogin
from ibmq_async.api.classic.backends import Backends
from ibmq_async.api.classic.connection import Connection
from ibmq_async.api.classic.errors import classic_error_details
from ibmq_async.api.classic.jobs import Jobs
from ibmq_async.api.classic.loopback import loopback_where
from ibmq_async.api.classic.project import CLASSIC_STATUS, ProjectClient
from ibmq_async.api.classic.storage import ObjectStorage, encode_qobj
from ibmq_async.api.classic.websocket import ClassicStatusStream

__all__ = [
    "CLASSIC_STATUS",
    "AuthService",
    "Backends",
    "ClassicLogin",
    "ClassicStatusStream",
    "Connection",
    "Jobs",
    "ObjectStorage",
    "ProjectClient",
    "classic_error_details",
    "encode_qobj",
    "loopback_where",
]
