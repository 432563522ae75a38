"""The default inference backend: an ONNX Runtime session on the model's int8 graph, built once and cached.

The graph (``int8_graph.py``: fused BERT graph, per-channel int8 weights, frozen activation scales, so
batches leave scores unchanged) is built once per model (~25 s) and cached under a key made of the model
files' hashes, the calibration sentences and the library versions, so a new model or library never reuses
a stale graph.
A prebuilt graph may sit in a read-only directory (a container image); on a miss there the graph is built in
the default, writable cache instead, and if no writable place exists the error is one line naming
``model.cache_dir``.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from worker.classifier.int8_graph import CALIBRATION_FILE, GRAPH_INPUTS
from worker.classifier.model import ModelLoadError
from worker.config import ConfigError

BUILD_SPACE = "~300 MB of disk and ~1.5 GB of memory"  # measured peak of a build: 220 MiB, 1.45 GB

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "tension-worker"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "tension-worker-cache"


def cache_key(model_dir: Path, base_dir: Path) -> str:
    from importlib.metadata import version

    h = hashlib.sha256(f"{version('onnxruntime')}|{version('torch')}|{version('onnx')}|frozen-v2".encode())
    h.update(CALIBRATION_FILE.read_bytes())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in (".json", ".safetensors")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for name in ("config.json", "tokenizer.json", "vocab.txt"):  # the base model's shape and its tokenizer
        if (base_dir / name).is_file():
            h.update(name.encode())
            h.update((base_dir / name).read_bytes())
        elif name == "config.json":
            raise ModelLoadError(f"model error: no config.json in {base_dir} (model.base_model)")
    return h.hexdigest()[:24]


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def onnx_runner(build: Callable[[Path], None], model_dir: Path, base_dir: Path, cache_dir: str | Path | None,
                threads: int):
    """A ``(ids, mask) -> (type logits, quad logits)`` callable backed by the cached int8 graph;
    ``build(target)`` writes the graph on a cache miss."""
    import onnxruntime as ort

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache / f"tension-{cache_key(model_dir, base_dir)}-int8.onnx"
    if not target.is_file() and not _writable(cache):
        fallback = default_cache_dir()
        if fallback == cache or not _writable(fallback):
            raise ConfigError(f"config error: model.cache_dir: {cache} has no int8 graph for this model and is "
                              f"not writable, nor is {fallback}; point model.cache_dir at a writable directory "
                              f"with {BUILD_SPACE} free")
        log.warning("the model cache %s is read-only and has no int8 graph for this model: building it in %s",
                    cache, fallback)
        target = fallback / target.name
    if not target.is_file():
        try:
            with open(target.parent / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not target.is_file():
                    build(target)
        except OSError as exc:
            raise ConfigError(f"config error: model.cache_dir: building the int8 graph in {target.parent} failed "
                              f"({exc.strerror or exc}); it needs {BUILD_SPACE} free") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])

    def run(ids: np.ndarray, mask: np.ndarray):
        return tuple(session.run(None, dict(zip(GRAPH_INPUTS, (ids, mask)))))

    run.graph_path = target  # type: ignore[attr-defined]
    return run
