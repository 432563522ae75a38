"""The sentence network in torch: MiniLM encoder, mean pooling, a 16-way type head and a 5-way quad head.

Needed to train, to run the ``torch`` backend, and once per model to build the int8 graph; the ``onnx-int8``
backend on a cached graph never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.model import ENCODER_FILE, FROZEN, ModelLoadError, sha256_file


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


def load_network(model_dir: Path, base_dir: Path, meta: dict) -> SentenceEncoderWithHeads:
    """The trained network: the base encoder (its sha256 checked against ``meta``), the fine-tuned weights
    and the heads of ``model_dir``."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    _quiet_transformers()
    weights = base_dir / "model.safetensors"
    expected = meta.get("base_model", {}).get("sha256")
    if expected and weights.is_file() and sha256_file(weights) != expected:
        raise ModelLoadError(f"model error: base model {weights} has sha256 {sha256_file(weights)[:12]}…, "
                             f"the classifier was trained on {expected[:12]}…")
    try:
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
    return net.eval()


def torch_runner(net: SentenceEncoderWithHeads):
    """A ``(ids, mask) -> (type logits, quad logits)`` callable on the torch network."""
    @torch.inference_mode()
    def run(ids: np.ndarray, mask: np.ndarray):
        t, q = net(torch.from_numpy(ids), torch.from_numpy(mask))
        return t.numpy(), q.numpy()
    return run
