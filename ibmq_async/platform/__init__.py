"""The platform channel: the SDK on today's IBM Quantum Platform (the runtime REST API).

This package is the platform channel's own surface (docs/platform.md):

* :mod:`~ibmq_async.platform.primitives`: :class:`Sampler` and :class:`Estimator`,
  whose ``await run(pubs)`` submits a job and returns it;
* :mod:`~ibmq_async.platform.sessions`: :class:`Session` and :class:`Batch`, async
  context managers whose jobs run together;

and the pieces they and ``backend.run`` on this channel rest on, which need no HTTP:

* :mod:`~ibmq_async.platform.options`: the sampler's and estimator's options, sent as
  qiskit-ibm-runtime 0.51 sends them;
* :mod:`~ibmq_async.platform.pubs`: PUBs coerced as Qiskit's primitives define them,
  checked, and the ``params`` of ``POST /v1/jobs``, within the 10 million executions a
  job may have;
* :mod:`~ibmq_async.platform.target`: a backend's Qiskit ``Target`` from its configuration
  and properties, and the ISA check of circuits against it;
* :mod:`~ibmq_async.platform.results`: a sampler result as the classic ``Result``, so
  ``backend.run`` answers the same on both channels;
* :mod:`~ibmq_async.platform.states`: the platform's job states as ``JobStatus``;
* :mod:`~ibmq_async.platform.errors`: what they raise.

The platform channel's account (``channel="ibm_quantum_platform"``) is in
:mod:`ibmq_async.credentials`, beside the classic one. Nothing here imports Qiskit until a
function needs it (the ``qiskit`` extra).
"""

from ibmq_async.platform.errors import (
    ExecutionLimitError,
    NotISACircuitError,
    OptionsError,
    PlatformJobStateError,
    PlatformResultError,
    PubError,
)
from ibmq_async.platform.options import (
    DynamicalDecouplingOptions,
    EnvironmentOptions,
    EstimatorExecutionOptions,
    EstimatorOptions,
    LayerNoiseLearningOptions,
    MeasureNoiseLearningOptions,
    PecOptions,
    ResilienceOptions,
    SamplerExecutionOptions,
    SamplerOptions,
    SimulatorOptions,
    TwirlingOptions,
    ZneOptions,
)
from ibmq_async.platform.primitives import Estimator, Sampler
from ibmq_async.platform.pubs import (
    MAX_EXECUTIONS,
    PrimitiveRequest,
    coerce_estimator_pubs,
    coerce_sampler_pubs,
    estimator_request,
    sampler_request,
)
from ibmq_async.platform.results import sampler_result_to_result
from ibmq_async.platform.sessions import Batch, Session, SessionClosedError, SessionError
from ibmq_async.platform.states import job_error_message, job_status
from ibmq_async.platform.target import backend_target, check_circuit, check_circuits

__all__ = [
    "MAX_EXECUTIONS",
    "Batch",
    "DynamicalDecouplingOptions",
    "EnvironmentOptions",
    "Estimator",
    "EstimatorExecutionOptions",
    "EstimatorOptions",
    "ExecutionLimitError",
    "LayerNoiseLearningOptions",
    "MeasureNoiseLearningOptions",
    "NotISACircuitError",
    "OptionsError",
    "PecOptions",
    "PlatformJobStateError",
    "PlatformResultError",
    "PrimitiveRequest",
    "PubError",
    "ResilienceOptions",
    "Sampler",
    "SamplerExecutionOptions",
    "SamplerOptions",
    "Session",
    "SessionClosedError",
    "SessionError",
    "SimulatorOptions",
    "TwirlingOptions",
    "ZneOptions",
    "backend_target",
    "check_circuit",
    "check_circuits",
    "coerce_estimator_pubs",
    "coerce_sampler_pubs",
    "estimator_request",
    "job_error_message",
    "job_status",
    "sampler_request",
    "sampler_result_to_result",
]
