"""The reliability tests import the fault-injecting proxy of the integration tests.

``tests/integration/faults.py`` is put on ``sys.path`` here, so ``from faults import
FaultProxy`` works whether or not the integration tests are collected in the same run.
Shared helpers are in ``reliability_helpers.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))
