"""Every command answers --help and --version without loading the model or a broker."""

import subprocess
import sys

import pytest

from worker import __version__

COMMANDS = ["run", "demo", "broker", "classify", "train", "evaluate"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_and_version(command):
    prefix = [sys.executable, "-m", "worker"] + ([command] if command else [])
    version = subprocess.run(prefix + ["--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"tension-worker {__version__}"
    helped = subprocess.run(prefix + ["--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "usage: tension-worker" in helped.stdout


def test_a_config_pointing_at_a_missing_model_is_a_one_line_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f"model:\n  path: {tmp_path / 'nowhere'}\n")
    proc = subprocess.run([sys.executable, "-m", "worker", "classify", "--config", str(config)], input="",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "model.json" in proc.stderr and "Traceback" not in proc.stderr
    assert len([l for l in proc.stderr.splitlines() if l.strip()]) == 1
