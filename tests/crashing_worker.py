"""``tension-worker`` with one change, for tests: the process dies natively (``os.abort``, as a segfault or
an OOM kill would end it) whenever it classifies a record whose bytes hold ``$CRASH_MARKER``."""

import os

from worker import processing
from worker.cli import main

MARKER = os.environ["CRASH_MARKER"].encode()
_process = processing.Processor.process


def _dying_process(self, raws, timestamps_ms=None):
    if any(raw and MARKER in raw for raw in raws):
        os.abort()
    return _process(self, raws, timestamps_ms)


processing.Processor.process = _dying_process
raise SystemExit(main())
