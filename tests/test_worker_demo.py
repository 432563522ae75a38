"""``tension-worker demo`` end to end: embedded broker, seeds/, the real model, readable alerts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, SEED_ARTICLE

pytestmark = pytest.mark.slow


def test_demo_prints_the_seed_alert_and_exits_0(seeds):
    result = subprocess.run([sys.executable, "-m", "worker", "demo", "--metrics-port", "0"], cwd=REPO,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    title_line = next(line for line in out.splitlines() if seeds[SEED_ARTICLE]["title"] in line)
    assert title_line.startswith("ALERT ")
    block = out[out.index(title_line):].split("\n\n", 1)[0]
    assert "actors:" in block and "THREATEN" in block and "asserted" in block and '"' in block  # evidence
    assert f"summary: {len(seeds)} articles" in out and "/metrics" in out
    assert "Traceback" not in result.stderr
