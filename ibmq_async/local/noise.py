"""Noise models of device backends, built from their calibration (opt-in).

A device backend with ``noise = true`` in the configuration (or every device, with
``ibmq-async serve --noise``) runs its circuits on Aer with the noise model that
:meth:`qiskit_aer.noise.NoiseModel.from_backend_properties` builds from the device's
properties: a depolarizing error per gate from its ``gate_error``, thermal relaxation
from T1, T2 and the gate's ``gate_length``, a readout error per qubit from
``prob_meas0_prep1``/``prob_meas1_prep0`` (or ``readout_error``), and relaxation on
``delay`` instructions. Off by default: results stay ideal.

The service simulates only the qubits a circuit uses, renumbered in ascending order (a
2-qubit circuit on qubits 3 and 5 of a 127-qubit device simulates 2 qubits), so a model is
built for a subset of the device's qubits: :meth:`DeviceNoise.model` takes the physical
qubits, in the order of the simulated circuit's qubits, and gives the model of those
qubits with their own calibration (the gates among them included, the others left out).
Models are cached per subset.

:func:`noise_model` is the function to call from any engine that runs circuits on Aer.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ibmq_async.models import BackendProperties

if TYPE_CHECKING:
    from ibmq_async.local.config import BackendConfig
    from ibmq_async.local.devices import Device

__all__ = ["DeviceNoise", "device_noise", "noise_model", "restrict_properties"]

_CACHE_SIZE = 64


def restrict_properties(document: Mapping[str, Any], qubits: Sequence[int]) -> dict[str, Any]:
    """A properties document of only ``qubits``, renumbered ``0..len(qubits) - 1``.

    Gates that act on any other qubit are left out; general properties are kept.

    Raises:
        ValueError: A qubit is not in the document, or is given twice.
    """
    if len(set(qubits)) != len(qubits):
        raise ValueError(f"a qubit is given twice: {list(qubits)}")
    calibrated = document.get("qubits") or []
    for qubit in qubits:
        if not 0 <= qubit < len(calibrated):
            raise ValueError(f"qubit {qubit} has no calibration (the device has {len(calibrated)})")
    index = {qubit: position for position, qubit in enumerate(qubits)}
    gates = [
        {**gate, "qubits": [index[qubit] for qubit in gate["qubits"]]}
        for gate in document.get("gates") or []
        if all(qubit in index for qubit in gate.get("qubits") or [None])
    ]
    return {
        **document,
        "qubits": [calibrated[qubit] for qubit in qubits],
        "gates": gates,
    }


def noise_model(
    properties: Mapping[str, Any] | BackendProperties,
    qubits: Sequence[int] | None = None,
    *,
    dt: float | None = None,
) -> Any:
    """The Aer noise model of a device's calibration.

    Args:
        properties: The device's properties (the wire document or the model).
        qubits: The physical qubits the simulated circuit's qubits stand for, in order;
            ``None`` for the whole device, numbered as it is.
        dt: The device's sample time in seconds, for the relaxation of ``delay``
            instructions given in ``dt``.

    Returns:
        A ``qiskit_aer.noise.NoiseModel``.

    Raises:
        ValueError: A qubit has no calibration.
    """
    from qiskit_aer.noise import NoiseModel

    document = (
        properties.to_wire() if isinstance(properties, BackendProperties) else dict(properties)
    )
    if qubits is not None:
        document = restrict_properties(document, qubits)
    model = BackendProperties.model_validate(document)
    return NoiseModel.from_backend_properties(model, dt=dt)


class DeviceNoise:
    """The noise of one device: a model per subset of its qubits, built once each.

    Args:
        properties: The device's properties document.
        dt: The device's sample time in seconds, if known.

    Raises:
        ValueError: The properties have no qubits.
    """

    def __init__(self, properties: Mapping[str, Any], *, dt: float | None = None) -> None:
        if not properties.get("qubits"):
            raise ValueError("the device has no calibrated qubits to build noise from")
        self._properties = dict(properties)
        self._dt = dt
        self._models: dict[tuple[int, ...], Any] = {}
        self._lock = threading.Lock()

    @property
    def num_qubits(self) -> int:
        """How many qubits the calibration describes."""
        return len(self._properties["qubits"])

    def model(self, qubits: Sequence[int]) -> Any:
        """The noise model of these physical qubits, numbered in the order given.

        Raises:
            ValueError: A qubit has no calibration.
        """
        key = tuple(qubits)
        with self._lock:
            cached = self._models.get(key)
        if cached is not None:
            return cached
        built = noise_model(self._properties, key, dt=self._dt)
        with self._lock:
            if len(self._models) >= _CACHE_SIZE:
                self._models.pop(next(iter(self._models)))
            self._models[key] = built
        return built


def device_noise(backend: BackendConfig, device: Device) -> DeviceNoise | None:
    """The noise of a configured backend: ``None`` unless its configuration says ``noise``.

    Raises:
        ValueError: ``noise`` is asked of a backend without calibration (the simulator).
    """
    if not backend.noise:
        return None
    if device.simulator or not device.history():
        raise ValueError(
            f"backend {backend.name!r}: noise = true needs a device with properties "
            "(the simulator has none)"
        )
    dt_ns = device.configuration.get("dt")
    return DeviceNoise(
        device.properties_document(), dt=float(dt_ns) * 1e-9 if dt_ns is not None else None
    )
