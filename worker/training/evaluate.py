"""``tension-worker evaluate``: the classifier on labelled text, through the same path as ``run``.

Inputs, by shape:
- real news items (``sentences`` + item labels, as ``real-dev``/``real-train``; ``--split`` picks
  real-dev's ``dev`` or ``heldout`` part): whole-item metrics as the codebook defines them;
- articles with ``alert`` (our written sets): alert precision/recall/F1 and level accuracy;
- sentences: JSONL with ``text`` and any of ``types``/``type``/``quad_class``, or a CAMEO TSV
  ``sentence<TAB>label``: per-type precision/recall/F1 and confusion matrices.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.model import Predictions, SentenceModel
from worker.training.data import Example, read_cameo_tsv

NONE = "NONE"


def predict_texts(net, tokenizer, texts: list[str], batch_size: int = 32) -> Predictions:
    from worker.classifier.network import torch_runner

    return SentenceModel(tokenizer, {"name": "", "version": ""}, batch_size, 256, torch_runner(net.eval()),
                         "torch", net=net).predict(texts)


def _type_matrix(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows with type labels, gold [rows, 16], known [rows, 16]).

    A synthetic (plover) story is labelled with one type only; whether its lead sentence also carries
    other types is unknown, so those cells are left out of the scores instead of counted as negatives."""
    rows = [i for i, e in enumerate(examples) if e.types is not None]
    gold = np.zeros((len(rows), len(TYPES)), dtype=int)
    known = np.ones((len(rows), len(TYPES)), dtype=bool)
    for r, i in enumerate(rows):
        if examples[i].source == "plover" and examples[i].types:
            known[r] = False
        for t in examples[i].types:
            gold[r, TYPES.index(t)] = 1
            known[r, TYPES.index(t)] = True
    return np.array(rows, dtype=int), gold, known


def _single(types_prob: np.ndarray, thresholds: np.ndarray) -> list[str]:
    top = types_prob.argmax(1)
    return [TYPES[k] if types_prob[i, k] >= thresholds[k] else NONE for i, k in enumerate(top)]


def summarize(examples: list[Example], pred: Predictions, thresholds: dict[str, float]) -> dict:
    thr = np.array([thresholds.get(t, 0.5) for t in TYPES])
    report: dict = {"per_type": {}, "quad": {}}
    rows, gold, known = _type_matrix(examples)
    if rows.size:
        for j, t in enumerate(TYPES):
            k = known[:, j]
            p, r, f, _ = precision_recall_fscore_support(gold[k, j], pred.types[rows[k], j] >= thr[j],
                                                         average="binary", zero_division=0)
            report["per_type"][t] = {"precision": round(float(p), 3), "recall": round(float(r), 3),
                                     "f1": round(float(f), 3), "support": int(gold[k, j].sum())}
        single = [i for i in rows if len(examples[i].types) <= 1]
        labels = list(TYPES) + [NONE]
        g = [examples[i].types[0] if examples[i].types else NONE for i in single]
        report["type_confusion"] = {"labels": labels,
                                    "matrix": confusion_matrix(g, _single(pred.types[single], thr), labels=labels).tolist()}
    quad_rows = [i for i, e in enumerate(examples) if e.quad is not None]
    for source in sorted({examples[i].source for i in quad_rows}) + ["all"]:
        idx = [i for i in quad_rows if source == "all" or examples[i].source == source]
        g = [examples[i].quad for i in idx]
        p = [QUAD_CLASSES[k] for k in pred.quad[idx].argmax(1)]
        report["quad"][source] = {"macro_f1": round(float(f1_score(g, p, labels=list(QUAD_CLASSES), average="macro",
                                                                    zero_division=0)), 3),
                                  "accuracy": round(float(np.mean([a == b for a, b in zip(g, p)])), 3), "n": len(idx),
                                  "matrix": confusion_matrix(g, p, labels=list(QUAD_CLASSES)).tolist()}
    supported = [v["f1"] for v in report["per_type"].values() if v["support"]]
    report["headline"] = {"type_macro_f1": round(float(np.mean(supported)), 3) if supported else None,
                          **{f"quad_macro_f1_{k}": v["macro_f1"] for k, v in report["quad"].items()}}
    return report


def read_labelled(path: Path) -> list[Example]:
    if path.suffix == ".tsv":
        return read_cameo_tsv(path, source="file")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        types = obj.get("types")
        if types is None and "type" in obj:
            types = [] if obj["type"] in (None, NONE) else [obj["type"]]
        bad = [t for t in types or [] if t not in TYPES]
        if bad:
            raise ValueError(f"{path}:{n}: unknown type {bad[0]!r}")
        out.append(Example(obj["text"], obj.get("source", "file"), types, obj.get("quad_class")))
    return out


def format_report(report: dict) -> str:
    lines = [f"{'type':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    for t, v in report["per_type"].items():
        lines.append(f"{t:<10} {v['precision']:>9.3f} {v['recall']:>7.3f} {v['f1']:>6.3f} {v['support']:>7}")
    if "type_confusion" in report:
        labels = report["type_confusion"]["labels"]
        lines += ["", "type confusion (rows gold, columns predicted)", " " * 10 + "".join(f"{l[:5]:>6}" for l in labels)]
        lines += [f"{l:<10}" + "".join(f"{c:>6}" for c in row) for l, row in zip(labels, report["type_confusion"]["matrix"])]
    for source, q in report["quad"].items():
        lines += ["", f"quad class [{source}] macro-F1 {q['macro_f1']:.3f} accuracy {q['accuracy']:.3f} n={q['n']}",
                  " " * 22 + "".join(f"{c[:9]:>10}" for c in QUAD_CLASSES)]
        lines += [f"{c:<22}" + "".join(f"{x:>10}" for x in row) for c, row in zip(QUAD_CLASSES, q["matrix"])]
    return "\n".join(lines)


def evaluate_articles(classifier, rows: list[dict]) -> dict:
    """Alert precision/recall/F1, level accuracy and false alerts on articles labelled with ``alert``."""
    from worker.models.article import article_from_obj

    results = classifier.classify([article_from_obj(r, 10**9) for r in rows])
    gold = [bool(r["alert"]) for r in rows]
    pred = [res["alert"] for res in results]
    p, r, f, _ = precision_recall_fscore_support(gold, pred, average="binary", zero_division=0)
    quiet = [res for row, res in zip(rows, results) if row.get("level") == "none"]
    report = {"n": len(rows), "alert_precision": round(float(p), 3), "alert_recall": round(float(r), 3),
              "alert_f1": round(float(f), 3),
              "level_accuracy": round(float(np.mean([row.get("level") == res["tension"]["level"]
                                                     for row, res in zip(rows, results)])), 3),
              "false_alerts_on_level_none": f"{sum(res['alert'] for res in quiet)}/{len(quiet)}"}
    report["errors"] = [{"id": row["id"], "gold": row.get("level"), "got": res["tension"]["level"]}
                        for row, res in zip(rows, results) if row.get("level") != res["tension"]["level"]]
    return report


def evaluate_items(classifier, items) -> dict:
    """Codebook metrics on real items; each item is classified as one article (its sentences joined)."""
    from worker.models.article import Article
    from worker.training.itemeval import score_items, verdict_of

    articles = [Article(id=it.id, text=" ".join(it.sentences), title=it.title or None,
                        published_at=f"{it.year}-07-01T00:00:00Z") for it in items]
    return score_items(items, [verdict_of(r) for r in classifier.classify(articles)])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main_evaluate(args) -> int:
    from worker.config import ConfigError, load_config
    from worker.classifier.model import load_model
    from worker.classifier.pipeline import TensionClassifier
    from worker.training.real import read_items

    cfg = load_config(args.config) if args.config else load_config(env={})
    path = Path(args.data)
    if not path.is_file():
        raise ConfigError(f"--data {path}: no such file")
    first = path.read_text(encoding="utf-8").lstrip()[:1]
    rows = read_jsonl(path) if first == "{" else []
    model = load_model(args.model or cfg.model.path, cfg.model.base_model, cfg.model.num_threads,
                       backend=cfg.model.backend, cache_dir=cfg.model.cache_dir)
    if rows and all("sentences" in r for r in rows):
        print(json.dumps(evaluate_items(TensionClassifier(model), read_items(path, args.split)), indent=2))
        return 0
    if rows and all("alert" in r for r in rows):
        print(json.dumps(evaluate_articles(TensionClassifier(model), rows), indent=2))
        return 0
    try:
        examples = read_labelled(path)
    except (ValueError, KeyError, IndexError) as exc:
        raise ConfigError(f"--data {path}: {exc}") from None
    pred = model.predict([e.text for e in examples])
    thresholds = model.meta["item_layer"]["thresholds"]
    print(format_report(summarize(examples, pred, thresholds)), file=sys.stdout)
    return 0
