"""Whether the broker is reachable, with hysteresis, for ``/readyz``.

Up at once on evidence of a connection (a consumer with open connections, an acknowledged publish); down
only after ``down_after_s`` of continuous trouble (no open connection, failing publishes), so a connection
that is being re-established or one failed produce does not flap readiness.
"""

from __future__ import annotations

import time
from typing import Callable


class Connectivity:
    def __init__(self, down_after_s: float = 6.0, clock: Callable[[], float] = time.monotonic):
        self.down_after_s = down_after_s
        self._clock = clock
        self._ok = False
        self._trouble_since: float | None = None

    @property
    def ok(self) -> bool:
        return self._ok

    def good(self) -> None:
        self._ok, self._trouble_since = True, None

    def bad(self) -> None:
        now = self._clock()
        if self._trouble_since is None:
            self._trouble_since = now
        if now - self._trouble_since >= self.down_after_s:
            self._ok = False

    def down(self) -> None:
        """Down now (closed)."""
        self._ok, self._trouble_since = False, None


def consumer_connections(consumer) -> int | None:
    """Open broker connections of a kafka-python consumer, from its public metrics (None if unknown)."""
    try:
        return int(consumer.metrics()["consumer-metrics"]["connection-count"])
    except (KeyError, TypeError, ValueError):
        return None
