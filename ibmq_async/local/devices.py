"""The backends the service hosts: bundled device snapshots and the simulator.

A :class:`Device` holds what the service answers about one backend: its configuration,
its calibration (properties) history and its pulse defaults, already encoded as the bytes
of the answers, plus the limits the service checks a Qobj against.

Every timestamp is served in UTC with a ``Z`` suffix (the original client relabels any
offset as UTC, docs/protocol.md §7), so the snapshots' local-time offsets are converted.
The calibration history of a device is its bundled snapshot plus ``properties_history``
earlier daily calibrations, derived from it deterministically (dates shifted by whole
days, error rates and coherence times varied by a few percent).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ibmq_async.local.config import BackendConfig
from ibmq_async.models._base import format_utc

__all__ = [
    "BUNDLED_DEVICES",
    "DEFAULT_INPUT_ALLOWED",
    "DEVICES_DIR",
    "SIMULATOR_BASIS_GATES",
    "Device",
    "dumps",
    "load_device",
    "loads",
    "normalise_dates",
    "parse_datetime",
    "vary_calibration",
]

DEVICES_DIR = Path(__file__).with_name("devices")
"""Where the bundled snapshots live (with their attribution in README.md)."""

BUNDLED_DEVICES = ("vigo", "lima", "montreal", "washington", "fez")
"""The names of the bundled device snapshots."""

SIMULATOR_BASIS_GATES: tuple[str, ...] = (
    "u1", "u2", "u3", "u", "p", "r", "rx", "ry", "rz", "id", "x", "y", "z", "h", "s", "sdg",
    "sx", "sxdg", "t", "tdg", "swap", "iswap", "cx", "cy", "cz", "ch", "csx", "cp", "cu",
    "cu1", "cu3", "crx", "cry", "crz", "rxx", "ryy", "rzz", "rzx", "ecr", "dcx", "ccx",
    "cswap", "unitary", "initialize", "delay", "reset",
)  # fmt: skip
"""The basis gates the simulator backend advertises (every one can be executed)."""

DEFAULT_INPUT_ALLOWED: tuple[str, ...] = ("job", "runtime")
"""The ``input_allowed`` of a backend whose snapshot and configuration name none."""

_PARAMETER_NAMES = ("theta", "phi", "lam", "gamma")
_VARIED_NDUVS = frozenset(
    {"T1", "T2", "readout_error", "prob_meas0_prep1", "prob_meas1_prep0", "gate_error"}
)
_PROBABILITIES = frozenset({"readout_error", "prob_meas0_prep1", "prob_meas1_prep0", "gate_error"})


def dumps(value: Any) -> bytes:
    """Encode a JSON document compactly (the service's one JSON encoder)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: str | bytes) -> Any:
    """Decode strict JSON (no ``NaN``/``Infinity``), as received from clients.

    Raises:
        ValueError: If ``data`` is not strict JSON (or nests too deeply).
    """
    try:
        return json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("the JSON document nests too deeply") from None


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware datetime (naive means UTC).

    Raises:
        ValueError: If ``text`` is not an ISO 8601 timestamp.
    """
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the range of representable times") from None


def _utc_text(text: str, shift: timedelta = timedelta(0)) -> str:
    try:
        return format_utc(parse_datetime(text) + shift)
    except ValueError:
        return text


def normalise_dates(value: Any, shift: timedelta = timedelta(0)) -> Any:
    """Copy a properties document with every ``date``/``last_update_date`` in UTC ``Z``."""
    if isinstance(value, dict):
        return {
            key: (
                _utc_text(item, shift)
                if key in ("date", "last_update_date") and isinstance(item, str)
                else normalise_dates(item, shift)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise_dates(item, shift) for item in value]
    return value


def vary_calibration(value: Any, rng: random.Random) -> Any:
    """Vary the error rates and coherence times of a properties document in place."""
    if isinstance(value, dict):
        name = value.get("name")
        number = value.get("value")
        if name in _VARIED_NDUVS and isinstance(number, (int, float)) and "date" in value:
            varied = float(number) * (1.0 + rng.uniform(-0.05, 0.05))
            if name in _PROBABILITIES:
                varied = min(max(varied, 0.0), 1.0)
            value["value"] = varied
        else:
            for item in value.values():
                vary_calibration(item, rng)
    elif isinstance(value, list):
        for item in value:
            vary_calibration(item, rng)
    return value


@functools.lru_cache(maxsize=32)
def _read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=32)
def _read_bytes(path: Path) -> bytes:
    return path.read_bytes()


@functools.lru_cache(maxsize=16)
def _base_properties(path: Path) -> dict[str, Any]:
    normalised: dict[str, Any] = normalise_dates(_read_json(path))
    return normalised


def _simulator_configuration(name: str) -> dict[str, Any]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    mapping = get_standard_gate_name_mapping()
    gates = []
    for gate in SIMULATOR_BASIS_GATES:
        count = len(mapping[gate].params) if gate in mapping else 0
        parameters = list(_PARAMETER_NAMES[:count])
        arguments = f"({','.join(parameters)})" if parameters else ""
        gates.append(
            {
                "name": gate,
                "parameters": parameters,
                "qasm_def": f"gate {gate}{arguments} q {{ }}",
                "coupling_map": None,
            }
        )
    return {
        "backend_name": name,
        "backend_version": "0.1.547",
        "n_qubits": 32,
        "basis_gates": list(SIMULATOR_BASIS_GATES),
        "gates": gates,
        "local": False,
        "simulator": True,
        "conditional": True,
        "open_pulse": False,
        "memory": True,
        "max_shots": 100000,
        "coupling_map": None,
        "max_experiments": 300,
        "n_registers": 1,
        "online_date": "2018-06-20T00:00:00Z",
        "description": "A simulator of up to 32 qubits, on Qiskit Aer, ideal (no noise)",
        "conditional_latency": [],
        "acquisition_latency": [],
        "credits_required": False,
        "allow_q_object": True,
        "allow_object_storage": True,
        "input_allowed": list(DEFAULT_INPUT_ALLOWED),
        "url": "None",
    }


@dataclass
class Device:
    """One hosted backend: its documents (as answer bytes) and the limits of its Qobjs.

    Attributes:
        name: The backend name.
        configuration: The configuration document.
        simulator: Whether it is the simulator.
    """

    name: str
    configuration: dict[str, Any]
    simulator: bool
    configuration_bytes: bytes
    defaults_bytes: bytes
    _base_properties: dict[str, Any] | None = field(repr=False)
    _history_days: int = 0
    _cache: dict[int, bytes] = field(default_factory=dict, repr=False)

    @property
    def backend_version(self) -> str:
        """The device version (``backend_version``)."""
        return str(self.configuration.get("backend_version", "0.0.0"))

    @property
    def n_qubits(self) -> int:
        """How many qubits the device has."""
        return int(self.configuration.get("n_qubits", 0))

    @property
    def max_shots(self) -> int:
        """The most shots a Qobj may ask for."""
        return int(self.configuration.get("max_shots") or 100000)

    @property
    def max_experiments(self) -> int | None:
        """The most experiments a Qobj may hold, if limited."""
        value = self.configuration.get("max_experiments")
        return int(value) if value else None

    @property
    def supports_memory(self) -> bool:
        """Whether per-shot memory can be asked for."""
        return bool(self.configuration.get("memory", False))

    @property
    def open_pulse(self) -> bool:
        """Whether the device accepts pulse Qobjs (it does not run them here)."""
        return bool(self.configuration.get("open_pulse", False))

    @property
    def conditional(self) -> bool:
        """Whether the device supports conditional operations."""
        return bool(self.configuration.get("conditional", False))

    @functools.cached_property
    def basis_gates(self) -> frozenset[str]:
        """The names of the device's basis gates."""
        return frozenset(str(gate) for gate in self.configuration.get("basis_gates") or ())

    @functools.cached_property
    def supported_instructions(self) -> frozenset[str]:
        """Basis gates plus the non-gate instructions the device accepts."""
        extra = {"measure", "barrier", "reset", "delay", "bfunc", "snapshot"}
        listed = self.configuration.get("supported_instructions") or ()
        return self.basis_gates | extra | frozenset(str(name) for name in listed)

    @functools.cached_property
    def coupling(self) -> frozenset[tuple[int, int]] | None:
        """The directed qubit pairs two-qubit gates may act on; ``None`` if all."""
        edges = self.configuration.get("coupling_map")
        if not edges:
            return None
        return frozenset((int(a), int(b)) for a, b in edges)

    def history(self) -> list[tuple[datetime, Callable[[], bytes]]]:
        """The bundled calibrations: ``(last_update_date, encode)`` pairs, newest first."""
        if self._base_properties is None:
            return []
        base = parse_datetime(str(self._base_properties["last_update_date"]))
        return [
            (base - timedelta(days=days), functools.partial(self.properties_bytes, days))
            for days in range(self._history_days + 1)
        ]

    def properties_bytes(self, days_back: int = 0) -> bytes:
        """The calibration ``days_back`` days before the bundled snapshot, encoded."""
        cached = self._cache.get(days_back)
        if cached is not None:
            return cached
        if self._base_properties is None:
            return b"{}"
        document = dict(self._base_properties)
        if days_back:
            document = normalise_dates(document, -timedelta(days=days_back))
            seed = hashlib.sha256(f"{self.name}:{days_back}".encode()).digest()
            vary_calibration(document, random.Random(seed))
        document["backend_name"] = self.name
        encoded = dumps(document)
        self._cache[days_back] = encoded
        return encoded

    def properties_document(self, days_back: int = 0) -> dict[str, Any]:
        """The calibration ``days_back`` days before the bundled snapshot, as a dict."""
        document: dict[str, Any] = json.loads(self.properties_bytes(days_back))
        return document


def load_device(backend: BackendConfig, history_days: int = 0) -> Device:
    """Load the device a backend configuration names.

    Args:
        backend: The backend configuration (``device`` names the snapshot).
        history_days: How many earlier daily calibrations to derive.

    Raises:
        ValueError: If the device is neither bundled, ``"simulator"``, nor a directory
            holding a ``conf.json``.
    """
    if backend.device == "simulator":
        configuration = _simulator_configuration(backend.name)
        if backend.input_allowed is not None:
            configuration["input_allowed"] = list(backend.input_allowed)
        return Device(
            name=backend.name,
            configuration=configuration,
            simulator=True,
            configuration_bytes=dumps(configuration),
            defaults_bytes=b"{}",
            _base_properties=None,
        )
    directory = DEVICES_DIR / backend.device
    if backend.device not in BUNDLED_DEVICES:
        directory = Path(backend.device).expanduser()
    conf_path = directory / "conf.json"
    if not conf_path.is_file():
        raise ValueError(
            f"backend {backend.name!r}: unknown device {backend.device!r} (bundled: "
            f"{', '.join(BUNDLED_DEVICES)}, or 'simulator', or a directory with conf.json)"
        )
    configuration = dict(_read_json(conf_path))
    configuration["backend_name"] = backend.name
    configuration.setdefault("online_date", "2020-01-01T00:00:00Z")
    configuration["online_date"] = _utc_text(str(configuration["online_date"]))
    configuration["simulator"] = False
    if backend.input_allowed is not None:
        configuration["input_allowed"] = list(backend.input_allowed)
    else:
        configuration.setdefault("input_allowed", list(DEFAULT_INPUT_ALLOWED))
    props_path = directory / "props.json"
    defs_path = directory / "defs.json"
    return Device(
        name=backend.name,
        configuration=configuration,
        simulator=False,
        configuration_bytes=dumps(configuration),
        defaults_bytes=_read_bytes(defs_path) if defs_path.is_file() else b"{}",
        _base_properties=_base_properties(props_path) if props_path.is_file() else None,
        _history_days=history_days,
    )
