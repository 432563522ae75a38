"""The model card (MODEL_CARD.md) written next to a trained model from its ``model.json``."""

from __future__ import annotations

import json
from pathlib import Path

LIMITS = """\
## Known limits (read before trusting an alert)

- **Real-news quality is modest.** The figures above are what the classifier does on real news; they
  are far below the annotators' agreement (alert κ 0.91–0.98, signal micro-F1 0.81–0.92, dyad F1 0.82–0.86).
  Alerts are precise more than complete: expect missed alerts on articles whose friction is spread
  over several mild sentences.
- **Few real labels.** 682 single-annotator items (4,360 sentences), our 336 dual-annotated news excerpts
  and real-dev's 240 dual-annotated dev items train and calibrate it (479 more two-annotator items are
  labelled and measured in the ablations); types with few real examples (SANCTION, COERCE, PROTEST, AID,
  CONCEDE, RETREAT, REJECT) are rarely listed as article signals.
- **Long news articles** are outside what it was calibrated on: every real news item is a five-sentence
  excerpt, the longer real items are Kremlin releases. On real-dev's and real-train's 89 items of 10+
  sentences (out of fold) its alert recall is low (0.30 at precision 0.73).
- **Domestic vs interstate** is learned from the item labels (a sentence of a domestic story is a
  negative in training) and from how many states and organisations the article names; a domestic
  story naming foreign states can still alert.
- **English only**; actors are a lexicon (pycountry + our alias table); pronouns are not resolved.
- **Modality and history are cue rules** (denied 0, hypothetical and background × 0.3), not learned.
- **Levels**: ``high`` is rare in the real data (14 of ~920 items) and is a single bar on the force
  types' score, so elevated and high are often swapped.
"""


def _items(report: dict) -> list[str]:
    keys = ("alert_precision", "alert_recall", "alert_f1", "signal_micro_f1", "dyad_f1", "level_accuracy",
            "signals_per_item")
    return ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            "| " + " | ".join(str(report[k]) for k in keys) + " |", "",
            "Per-type F1: " + ", ".join(f"{t} {f}" for t, f in report["per_type_f1"].items()), ""]


def write_card(model_dir: Path) -> Path:
    meta = json.loads((model_dir / "model.json").read_text())
    articles = meta.get("written_articles")
    tr, cv = meta["training"], meta["cv"]
    lines = [
        f"# Model card: {meta['name']} {meta['version']}", "",
        "Classifier of diplomatic tension signals in news articles: a sentence model (16 PLOVER event types, "
        "multi-label, and CAMEO QuadClass) and an item layer fitted on real news that turns its scores into "
        "the article's signals, tension level, alert and dyads.", "",
        "## Real news (figures first)",
    ]
    if "heldout" in meta:
        h = meta["heldout"]
        lines += [f"### real-dev `heldout` part ({h['report']['n']} items, never used to choose or fit anything)",
                  f"Command: `{h['command']}` (int8 backend, the default)", "", *_items(h["report"])]
        if h.get("note"):
            lines += [h["note"], ""]
    lines += [f"### Cross-validated on real-dev's `dev` part ({cv['items']['n']} items, {cv['folds']} folds)",
              "Out-of-fold sentence scores (real-train's items folded too, since 0.6.0); the item layer fitted on "
              "one fold and scored on the other. Command: "
              "`tension-worker train --data ../shared/data --out DIR --cv-only`.", "", *_items(cv["items"]),
              f"CAMEO QuadClass macro-F1 on cameo-train news sentences, cross-validated: "
              f"**{cv['cameo_quad_macro_f1']}** (n={cv['cameo_n']}).", ""]
    if meta.get("ablations"):
        lines += ["### Ablations (cross-validated, same protocol)", "",
                  *[f"- {name}: {value}" for name, value in meta["ablations"].items()], ""]
    lines += [
        "## Architecture",
        f"- Encoder: {meta['base_model']['name']}, sha256 `{meta['base_model']['sha256']}` (checked at load), "
        "fully fine-tuned except its word embeddings; stored in fp16 without them (`encoder.safetensors`).",
        "- Mean pooling; a 16-way sigmoid type head and a 5-way softmax QuadClass head.",
        "- Item layer (`worker/classifier/itemlayer.py`), fitted on out-of-fold scores of real items: "
        "modality/history discounts, logistic models for P(tension) and P(alert), one signal threshold, "
        "a high bar, at most `max_dyads` dyads; its parameters are in `model.json`.",
        "- Inference: int8 ONNX Runtime graph built from these weights on first load (default) or fp32 torch.", "",
        "## Training",
        f"- Command: `tension-worker train --data ../shared/data --out DIR --seed {tr['seed']}` "
        f"({tr['seconds']:.0f} s on a 2-core CPU); sentences: {json.dumps(tr['sentences'])}.",
        f"- Recipe: {json.dumps(tr['recipe'])}.",
        "- Data (sha256):", *[f"  - `{k}`: `{v}`" for k, v in tr["data_sha256"].items()],
        "- real-dev's `heldout` part never enters training or calibration.", "",
    ]
    if articles:
        lines += ["## Our written articles (synthetic: text we wrote; overstates real quality)",
                  "Whole articles, fp32 torch backend; see worker/training/data/README.md.", ""]
        lines += [f"- `{name}`: {json.dumps(report)}" for name, report in articles.items()] + [""]
    lines += [LIMITS]
    path = model_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
