"""The IBM Quantum Platform API (docs/platform.md), the REST API of qiskit-ibm-runtime.

:class:`PlatformClient` is a client of one instance: ``await PlatformClient.connect(api_key,
crn, url=..., iam_url=...)``. It is built on the shared core of :mod:`ibmq_async.api` (one
session, one retry layer, errors with evidence, pagers, exactly-once submission, shared
waits) with this API's own pieces:

* :mod:`~ibmq_async.api.platform.urls`: the endpoints, and the ``Service-CRN`` and
  ``IBM-API-Version`` headers of every request (:data:`API_VERSION`);
* :mod:`~ibmq_async.api.platform.errors`: the runtime API's and IAM's error bodies;
* :mod:`~ibmq_async.api.platform.auth`: :class:`IamAuth`, the bearer token of an API key;
* resources: :class:`Backends`, :class:`Jobs` (with :class:`PlatformJobQuery`),
  :class:`Sessions`, :class:`Usage`;
* :mod:`~ibmq_async.api.platform.pacing`: :class:`Pacer`, the turns of job creation;
* :mod:`~ibmq_async.api.platform.waits`: :data:`PLATFORM_STATUS` and the pending listing
  that serves every wait.
"""

from ibmq_async.api.platform.auth import APIKEY_GRANT, IamAuth
from ibmq_async.api.platform.backends import Backends
from ibmq_async.api.platform.client import PlatformClient
from ibmq_async.api.platform.errors import (
    RATE_LIMITED_CODE,
    USAGE_LIMIT_CODE,
    platform_error_details,
)
from ibmq_async.api.platform.jobs import Jobs, PlatformJobQuery, visible_tags
from ibmq_async.api.platform.pacing import Pacer, PacerSlot
from ibmq_async.api.platform.sessions import Sessions
from ibmq_async.api.platform.urls import (
    API_VERSION,
    API_VERSION_HEADER,
    SERVICE_CRN_HEADER,
    PlatformUrls,
    iam_token_url,
)
from ibmq_async.api.platform.usage import Usage
from ibmq_async.api.platform.waits import (
    DEFAULT_PLATFORM_POLLING,
    PLATFORM_STATUS,
    PendingStatuses,
    platform_job_status,
)

__all__ = [
    "APIKEY_GRANT",
    "API_VERSION",
    "API_VERSION_HEADER",
    "DEFAULT_PLATFORM_POLLING",
    "PLATFORM_STATUS",
    "RATE_LIMITED_CODE",
    "SERVICE_CRN_HEADER",
    "USAGE_LIMIT_CODE",
    "Backends",
    "IamAuth",
    "Jobs",
    "Pacer",
    "PacerSlot",
    "PendingStatuses",
    "PlatformClient",
    "PlatformJobQuery",
    "PlatformUrls",
    "Sessions",
    "Usage",
    "iam_token_url",
    "platform_error_details",
    "platform_job_status",
    "visible_tags",
]
