"""The errors of the platform channel's client-side checks and decoders.

Each is raised before any request is made (bad PUBs, options, circuits) or when what the
platform answered cannot be understood (an unknown job state, a result of the wrong
shape). They derive from the classes users of the classic channel already catch:
:class:`~ibmq_async.exceptions.IBMQInputValueError` for bad input,
:class:`~ibmq_async.exceptions.IBMQBackendValueError` for circuits a backend cannot run,
and :class:`~ibmq_async.exceptions.ApiProtocolError` for answers outside the protocol.
"""

from __future__ import annotations

from ibmq_async.exceptions import ApiProtocolError, IBMQBackendValueError, IBMQInputValueError

__all__ = [
    "ExecutionLimitError",
    "NotISACircuitError",
    "OptionsError",
    "PlatformJobStateError",
    "PlatformResultError",
    "PubError",
]


class PubError(IBMQInputValueError):
    """A PUB (primitive unified bloc) that cannot be sent; the message names it and why.

    Attributes:
        index: The position of the PUB in what was passed to ``run``, or ``None`` when the
            problem is with the PUBs as a whole (none given, not a list, a bad ``shots``).
        problem: What is wrong, without the PUB's position.
    """

    def __init__(self, index: int | None, problem: str) -> None:
        super().__init__(problem if index is None else f"PUB {index}: {problem}")
        self.index = index
        self.problem = problem


class OptionsError(IBMQInputValueError):
    """Primitive options that are not valid; the message names each bad option."""


class ExecutionLimitError(IBMQInputValueError):
    """A job asks for more executions (shots x circuits x parameter sets) than allowed.

    Attributes:
        executions: How many executions the job would have.
        limit: The most a job may have.
    """

    def __init__(self, message: str, *, executions: int, limit: int) -> None:
        super().__init__(message)
        self.executions = executions
        self.limit = limit


class NotISACircuitError(IBMQBackendValueError):
    """A circuit that the backend cannot run as it is (not an ISA circuit of its target).

    Attributes:
        index: The position of the circuit (or PUB) in what was passed.
        circuit_name: The circuit's name.
        instruction: The first offending instruction's name, or ``None`` when the circuit as
            a whole is refused (too many qubits, unbound parameters).
        qubits: The qubits of that instruction (indices in the circuit), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        circuit_name: str,
        instruction: str | None = None,
        qubits: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.index = index
        self.circuit_name = circuit_name
        self.instruction = instruction
        self.qubits = qubits


class PlatformJobStateError(ApiProtocolError):
    """The platform reported a job state this client does not know.

    An unknown state is never taken for a state a job may still leave, so a wait on it
    ends with this error rather than waiting forever.

    Attributes:
        state: The state as the platform wrote it.
    """

    def __init__(self, message: str, *, state: object) -> None:
        super().__init__(message)
        self.state = state


class PlatformResultError(ApiProtocolError):
    """A job result that does not have the shape of the primitive's result."""
