"""ibmq_async: an async-first SDK for IBM Quantum backends.

Coroutine counterparts of qiskit-ibmq-provider's ``IBMQ``, ``AccountProvider``,
``IBMQBackend`` and ``IBMQJob``, on httpx, pydantic, anyio and tenacity. A local IBM Quantum
service that runs circuits on Qiskit Aer lives in :mod:`ibmq_async.local`.

The same surface on IBM Quantum Platform: ``IBMQ.enable_account(api_key,
channel="ibm_quantum_platform", instance=crn)`` returns a :class:`PlatformProvider`, whose
backends (:class:`PlatformBackend`) run circuits as sampler jobs (:class:`PlatformJob`);
the platform's primitives, sessions and batches are in :mod:`ibmq_async.platform`.

Example:
    >>> from ibmq_async import IBMQ
    >>> provider = await IBMQ.enable_account(token, url=service.url)  # doctest: +SKIP
    >>> backend = provider.get_backend("ibmq_vigo")  # doctest: +SKIP
    >>> job = await backend.run(circuit, shots=1024)  # doctest: +SKIP
    >>> counts = (await job.result()).get_counts()  # doctest: +SKIP
"""

from ibmq_async._version import __version__
from ibmq_async.api import RetryPolicy
from ibmq_async.backend import IBMQBackend, IBMQRetiredBackend
from ibmq_async.exceptions import (
    ApiError,
    IBMQAccountCredentialsNotFound,
    IBMQAccountError,
    IBMQBackendApiError,
    IBMQBackendApiProtocolError,
    IBMQBackendError,
    IBMQBackendJobLimitError,
    IBMQBackendValueError,
    IBMQError,
    IBMQJobApiError,
    IBMQJobError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobManagerError,
    IBMQJobTimeoutError,
    IBMQProviderError,
)
from ibmq_async.job import IBMQJob
from ibmq_async.jobmanager import IBMQJobManager, ManagedJobSet, ManagedResults
from ibmq_async.models import JobStatus, QueueInfo
from ibmq_async.platform.backend import PlatformBackend, PlatformRetiredBackend
from ibmq_async.platform.job import PlatformJob
from ibmq_async.platform.provider import PlatformProvider
from ibmq_async.provider import IBMQ, AccountProvider, IBMQFactory, least_busy

__all__ = [
    "IBMQ",
    "AccountProvider",
    "ApiError",
    "IBMQAccountCredentialsNotFound",
    "IBMQAccountError",
    "IBMQBackend",
    "IBMQBackendApiError",
    "IBMQBackendApiProtocolError",
    "IBMQBackendError",
    "IBMQBackendJobLimitError",
    "IBMQBackendValueError",
    "IBMQError",
    "IBMQFactory",
    "IBMQJob",
    "IBMQJobApiError",
    "IBMQJobError",
    "IBMQJobFailureError",
    "IBMQJobInvalidStateError",
    "IBMQJobManager",
    "IBMQJobManagerError",
    "IBMQJobTimeoutError",
    "IBMQProviderError",
    "IBMQRetiredBackend",
    "JobStatus",
    "ManagedJobSet",
    "ManagedResults",
    "PlatformBackend",
    "PlatformJob",
    "PlatformProvider",
    "PlatformRetiredBackend",
    "QueueInfo",
    "RetryPolicy",
    "__version__",
    "least_busy",
]
