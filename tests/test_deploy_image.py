"""The container image, really built from deploy/Dockerfile and run (issue #12): scripts/build-image.sh with
buildah, its base made here with mmdebstrap. Skipped where buildah is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.image,
              pytest.mark.skipif(shutil.which("buildah") is None or shutil.which("mmdebstrap") is None,
                                 reason="buildah/mmdebstrap not installed (apt-get install buildah mmdebstrap): "
                                        "the image is built and smoke-run by scripts/build-image.sh")]


def _pip_cert() -> str | None:
    """The CA bundle pip is configured with (a TLS proxy in front of the registries), if any."""
    out = subprocess.run(["pip", "config", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.split("=", 1)[0].endswith(".cert"):
            return line.split("=", 1)[1].strip("'\"")
    return None


def test_image_builds_runs_as_non_root_and_classifies_offline_with_a_prebuilt_graph():
    env = {**os.environ, "LOCAL_BASE": "1"}
    wheels = Path("/opt/wheels")
    if any(wheels.glob("torch-2.13.0+cpu-*.whl")):
        env["WHEELS"] = str(wheels)
    if _pip_cert():
        env["CA"] = _pip_cert()
    proc = subprocess.run(["bash", "scripts/build-image.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=2400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["uid"] != 0  # the image's user
    assert facts["version"].endswith(facts["tag"].rsplit(":", 1)[1])
    assert facts["seed_alert"] is True and facts["seed_level"] in ("elevated", "high")  # network off
    assert facts["int8_graph_built_at_start"] is False  # read from the image's prebuilt cache
    print(facts)  # size and build time, for the README (pytest -s)
