"""Fixtures for every test: the local IBM Quantum service, shared or made to measure.

* ``local_service``: one service with the default configuration for the whole session
  (one user in ``ibm-q/open/main``, every bundled device and ``ibmq_qasm_simulator``),
  served over loopback HTTP from a background thread. ``local_service.url`` is the auth
  URL, ``local_service.token`` the user's API token.
* ``service_factory``: ``service_factory(config=None, **kwargs)`` starts a service with
  a configuration of the test's own (a :class:`LocalServiceConfig`, a TOML path or
  ``None``) and stops it, removing a temporary database, when the test ends.

The service is imported lazily, so tests that do not use it do not pay for Qiskit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ibmq_async.local import LocalService


@pytest.fixture(scope="session")
def local_service() -> Iterator[LocalService]:
    """The session's local service with the default configuration."""
    from ibmq_async.local import LocalService, LocalServiceConfig

    with LocalService(LocalServiceConfig.default()) as service:
        yield service


@pytest.fixture
def service_factory() -> Iterator[Callable[..., LocalService]]:
    """Start local services with custom configurations; all stop at teardown."""
    from ibmq_async.local import LocalService

    started: list[LocalService] = []

    def start(config: Any = None, **kwargs: Any) -> LocalService:
        service = LocalService(config, **kwargs)
        started.append(service)
        return service.start()

    yield start
    for service in reversed(started):
        service.close()
