"""README.md (Deploy section): names what exists. The alert-reading snippets run in tests/test_deploy_live.py."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from deploy_support import (README_DEPLOY, ROOT, alert_names, doc_code_blocks, doc_kcat_command,
                            recording_names, rule_groups)

TEXT = README_DEPLOY.read_text(encoding="utf-8")


def test_every_rule_is_explained():
    groups = rule_groups()
    for name in alert_names(groups) + recording_names(groups):
        assert f"`{name}`" in TEXT, f"{name} is not described in {README_DEPLOY.name}"


def test_every_referenced_repository_path_exists():
    paths = set(re.findall(r"`((?:deploy|worker|docs|config|tests)/[\w./-]*)`", TEXT))
    paths |= set(re.findall(r"(?<![\w/-])((?:deploy|worker)/[\w./-]+\.(?:yaml|yml|jsonl?|py))(?!\w)", TEXT))
    assert paths
    for p in sorted(paths):
        assert (ROOT / p.rstrip("/")).exists(), p


def test_documented_commands_use_the_shipped_files():
    assert "docker build -f deploy/Dockerfile" in TEXT
    assert "docker compose -f deploy/compose.yaml up" in TEXT
    for target in re.findall(r"kubectl apply -k (\S+)", TEXT):
        assert (ROOT / target / "kustomization.yaml").exists(), target


def test_python_snippet_compiles_and_kcat_command_is_present():
    (snippet,) = doc_code_blocks("python")
    compile(snippet, "README.md", "exec")
    assert "confluent_kafka" in snippet and "alert_id" in snippet and "alert.schema.json" in snippet
    assert "-t tension-alerts" in doc_kcat_command()


def test_kcat_accepts_the_documented_options():
    """kcat parses the documented command (-X dump prints the config and exits, no broker needed).

    It is not run against the embedded broker: Debian's kcat bundles a librdkafka whose ApiVersion request
    Tansu does not answer; the confluent-kafka snippet covers reading the topic live."""
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.skip("kcat not installed (apt-get install kcat)")
    command = doc_kcat_command().replace('"$BOOTSTRAP"', "127.0.0.1:9").replace("kcat ", f"{kcat} ", 1)
    res = subprocess.run(["bash", "-c", command + " -X dump"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert "# Global config" in res.stdout and "# Topic config" in res.stdout
