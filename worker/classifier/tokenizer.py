"""The base model's tokenizer, loaded with the ``tokenizers`` library (0.03 s) rather than through
``transformers`` (which imports torch: ~2 s); it answers the one call the worker makes of a Hugging Face
tokenizer, with the same ids (tested). A base model without ``tokenizer.json`` gets ``AutoTokenizer``."""

from __future__ import annotations

import json
from pathlib import Path

from worker.classifier.model import ModelLoadError


class FastTokenizer:
    def __init__(self, tokenizer_json: Path, pad_token: str):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self.pad_token_id = self._tokenizer.token_to_id(pad_token)

    def __call__(self, texts: str | list[str], truncation: bool = False, max_length: int | None = None,
                 add_special_tokens: bool = True) -> dict:
        """``{"input_ids": ids}`` for one text or a list, like a Hugging Face tokenizer's call."""
        if truncation and max_length:
            self._tokenizer.enable_truncation(max_length)
        else:
            self._tokenizer.no_truncation()
        batch = [texts] if isinstance(texts, str) else list(texts)
        ids = [e.ids for e in self._tokenizer.encode_batch(batch, add_special_tokens=add_special_tokens)]
        return {"input_ids": ids[0] if isinstance(texts, str) else ids}


def load_tokenizer(base_dir: Path):
    tokenizer_json = base_dir / "tokenizer.json"
    if tokenizer_json.is_file():
        special = base_dir / "special_tokens_map.json"
        pad = json.loads(special.read_text()).get("pad_token", "[PAD]") if special.is_file() else "[PAD]"
        return FastTokenizer(tokenizer_json, pad["content"] if isinstance(pad, dict) else pad)
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(base_dir))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model error: cannot load the tokenizer of {base_dir} (model.base_model): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
