"""The sampler and the estimator of the platform channel, as coroutines.

::

    sampler = Sampler(mode=backend)                     # or a Session, or a Batch
    job = await sampler.run([(isa_circuit, parameter_values, shots)])
    result = await job.result()                          # qiskit.primitives.PrimitiveResult
    counts = result[0].data.meas.get_counts()

    estimator = Estimator(mode=session, options={"default_precision": 0.01})
    job = await estimator.run([(isa_circuit, observables)])
    evs = (await job.result())[0].data.evs

They take what qiskit-ibm-runtime 0.51's ``SamplerV2`` and ``EstimatorV2`` take: PUBs as
Qiskit's primitives define them (``ibmq_async.platform.pubs``), options as
``SamplerOptions``/``EstimatorOptions`` or mappings of the same shape
(``ibmq_async.platform.options``), sent as that client sends them. Everything that can be
checked is checked before any request, with an error that names what is wrong: the
options (on construction and on each run), the PUBs and their 10 million executions, the
circuits against the backend's target (simulators take any circuit of their size),
dynamical decoupling with dynamic circuits, and the session's state.

``run`` submits one job (``POST /v1/jobs``, program ``sampler`` or ``estimator``) through
the backend, exactly once and paced like ``backend.run``, and returns its
:class:`~ibmq_async.platform.job.PlatformJob` as soon as the platform has it.
"""

# Every public coroutine takes timeout= by design (docs/architecture.md, principle 2).
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ibmq_async.exceptions import IBMQInputValueError
from ibmq_async.platform.options import EstimatorOptions, PrimitiveOptions, SamplerOptions
from ibmq_async.platform.pubs import PrimitiveRequest, estimator_request, sampler_request
from ibmq_async.platform.sessions import Session, _platform_backend
from ibmq_async.platform.target import check_circuits

if TYPE_CHECKING:
    from ibmq_async.platform.backend import PlatformBackend
    from ibmq_async.platform.job import PlatformJob

__all__ = ["Estimator", "Sampler"]

OptionsT = TypeVar("OptionsT", bound=PrimitiveOptions)


def _is_dynamic(circuit: Any) -> bool:
    from qiskit.circuit import ControlFlowOp

    return any(
        isinstance(instruction.operation, ControlFlowOp)
        or getattr(instruction.operation, "condition", None) is not None
        for instruction in circuit.data
    )


class _Primitive(Generic[OptionsT]):
    """What the sampler and the estimator share: the mode, the options, submission."""

    _program_id: ClassVar[str]
    _options_class: ClassVar[type[PrimitiveOptions]]

    def __init__(
        self,
        mode: PlatformBackend | Session,
        options: OptionsT | Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(mode, Session):
            self._session: Session | None = mode
            self._backend = mode._backend
        else:
            self._session = None
            self._backend = _platform_backend(mode, type(self).__name__)
        self._options: OptionsT = self._options_class.coerce(options)  # type: ignore[assignment]

    def __repr__(self) -> str:
        mode = self._session if self._session is not None else self._backend.name()
        return f"{type(self).__name__}(mode={mode!r})"

    @property
    def options(self) -> OptionsT:
        """The options of the next runs. Assigning a field checks it
        (``sampler.options.default_shots = 1000``); assign a whole options object or
        mapping to replace them.

        Raises:
            OptionsError: On assignment, options that are not valid.
        """
        return self._options

    @options.setter
    def options(self, options: OptionsT | Mapping[str, Any] | None) -> None:
        self._options = self._options_class.coerce(options)  # type: ignore[assignment]

    @property
    def mode(self) -> Session | None:
        """The session or batch the jobs run in, or ``None`` for single jobs."""
        return self._session

    def backend(self) -> PlatformBackend:
        """The backend the jobs run on."""
        return self._backend

    def _check_circuits(self, request: PrimitiveRequest) -> None:
        circuits = [pub.circuit for pub in request.pubs]
        simulator = bool(getattr(self._backend.configuration(), "simulator", False))
        check_circuits(circuits, self._backend.target, what="PUB", isa=not simulator)
        dd = getattr(self._options, "dynamical_decoupling", None)
        if dd is not None and dd.enable and any(_is_dynamic(circuit) for circuit in circuits):
            raise IBMQInputValueError(
                "dynamical decoupling cannot be used with dynamic circuits (control flow or "
                "conditions): set options.dynamical_decoupling.enable = False"
            )

    async def _submit(
        self,
        request: PrimitiveRequest,
        submission_key: str | None,
        timeout: float | None,
    ) -> PlatformJob:
        session_id = None if self._session is None else self._session._job_session_id()
        self._check_circuits(request)
        try:
            return await self._backend._submit(
                request, session_id=session_id, submission_key=submission_key, timeout=timeout
            )
        except Exception as error:
            refused = None if self._session is None else self._session._refused(error)
            if refused is not None:
                raise refused from error
            raise


class Sampler(_Primitive[SamplerOptions]):
    """The sampler of the platform channel (qiskit-ibm-runtime's ``SamplerV2``).

    Args:
        mode: Where its jobs run: a backend (one job each), a :class:`Session` or a
            :class:`Batch` (its jobs join it).
        options: :class:`~ibmq_async.platform.options.SamplerOptions` or a mapping of the
            same shape (``{"default_shots": 1000, "twirling": {"enable_gates": True}}``).

    Raises:
        IBMQInputValueError: ``mode`` is not a platform backend, session or batch.
        OptionsError: The options are not valid; the message names each bad one.
    """

    _program_id: ClassVar[str] = "sampler"
    _options_class: ClassVar[type[PrimitiveOptions]] = SamplerOptions

    async def run(
        self,
        pubs: Iterable[Any],
        *,
        shots: int | None = None,
        submission_key: str | None = None,
        timeout: float | None = None,
    ) -> PlatformJob:
        """Submit one sampler job of ``pubs``.

        Exactly once and paced as ``backend.run`` is (a lost answer never makes a second
        job; a 429 waits for its ``Retry-After``).

        Args:
            pubs: Sampler PUBs: circuits, ``(circuit,)``, ``(circuit, parameter_values)``,
                ``(circuit, parameter_values, shots)`` or ``SamplerPub``; the circuits ISA
                circuits of the backend, measuring into classical registers.
            shots: The shots of PUBs that give none (else ``options.default_shots``, else
                4096).
            submission_key: Makes the submission idempotent across processes: the job
                of an earlier submission with this key is returned instead of a new one.
            timeout: Seconds the submission may take.

        Returns:
            The job, as soon as the platform has it; ``await job.result()`` gives its
            ``PrimitiveResult``.

        Raises:
            PubError: A PUB cannot be sent (its index and why).
            NotISACircuitError: A circuit the backend cannot run as it is.
            ExecutionLimitError: More than 10 million executions in the job.
            OptionsError: The options are not valid.
            SessionError: The session or batch was never opened.
            SessionClosedError: The session or batch is closed.
            ApiError: The platform refused the job or could not be reached.
        """
        request = sampler_request(pubs, shots=shots, options=self._options)
        return await self._submit(request, submission_key, timeout)


class Estimator(_Primitive[EstimatorOptions]):
    """The estimator of the platform channel (qiskit-ibm-runtime's ``EstimatorV2``).

    Args:
        mode: Where its jobs run: a backend (one job each), a :class:`Session` or a
            :class:`Batch` (its jobs join it).
        options: :class:`~ibmq_async.platform.options.EstimatorOptions` or a mapping of the
            same shape (``{"default_precision": 0.01, "resilience_level": 1}``).

    Raises:
        IBMQInputValueError: ``mode`` is not a platform backend, session or batch.
        OptionsError: The options are not valid; the message names each bad one.
    """

    _program_id: ClassVar[str] = "estimator"
    _options_class: ClassVar[type[PrimitiveOptions]] = EstimatorOptions

    async def run(
        self,
        pubs: Iterable[Any],
        *,
        precision: float | None = None,
        submission_key: str | None = None,
        timeout: float | None = None,
    ) -> PlatformJob:
        """Submit one estimator job of ``pubs``.

        Exactly once and paced as ``backend.run`` is.

        Args:
            pubs: Estimator PUBs: ``(circuit, observables)``, ``(circuit, observables,
                parameter_values)``, ``(circuit, observables, parameter_values, precision)``
                or ``EstimatorPub``; observables as Pauli strings, ``SparsePauliOp`` or
                ``{pauli: coefficient}``, on the circuit's qubits.
            precision: The precision of PUBs that give none (else ``1 /
                sqrt(options.default_shots)`` when set, else ``options.default_precision``,
                else 0.015625).
            submission_key: Makes the submission idempotent across processes.
            timeout: Seconds the submission may take.

        Returns:
            The job; ``await job.result()`` gives its ``PrimitiveResult`` (``evs`` and
            ``stds`` of each PUB).

        Raises:
            PubError: A PUB cannot be sent (its index and why).
            NotISACircuitError: A circuit the backend cannot run as it is.
            ExecutionLimitError: More than 10 million executions in the job.
            OptionsError: The options are not valid.
            SessionError: The session or batch was never opened.
            SessionClosedError: The session or batch is closed.
            ApiError: The platform refused the job or could not be reached.
        """
        request = estimator_request(pubs, precision=precision, options=self._options)
        return await self._submit(request, submission_key, timeout)
