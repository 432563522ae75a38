"""The model card (MODEL_CARD.md) written next to a trained model from its ``model.json``."""

from __future__ import annotations

import json
from pathlib import Path

LIMITS = """\
## Known limits (read before trusting an alert)

- **Training data is not real news articles.** Type labels come from the lead sentences of synthetic
  GPT-written stories (one label per story, never checked by a person) and ~1,350 sentences written for
  this project; QuadClass labels come from CAMEO-coded news sentences and formal UN sentences. Real
  multi-event news differs; the dev figures above are on the same sources and overstate real quality.
- **English only.** MiniLM-L6 is an English encoder; machine-translated text works only as well as the
  translation (the seed article is garbled and still handled, but that is one article).
- **Modality and history are cue rules**, not learned: unusual phrasings of denial or condition
  ("far from any plan to…") are missed; "no sign of…" is not treated as a negation.
- **Actors are a lexicon** (pycountry + our alias table): pronouns and "the country" are not resolved;
  a capital named as a place ("missiles hit Kyiv") counts as that state; leaders' names need upkeep.
- **Tension levels are a rule over signals** (documented in `worker/classifier/aggregate.py`), tuned by
  hand on our 40 written dev articles, not learned from analyst labels.
- **Per-type dev precision is optimistic**: a synthetic story's sentence is labelled with one type only, so
  its other types are left out of the scores (not counted as negatives); negatives come from our written
  sentences and the UN "irrelevant" sentences only.
- **Known misses on our sample articles** (tests record them as strict xfails): REQUEST on the seed's
  long, garbled demands for guarantees (p 0.31–0.35 against a threshold of 0.45); a mainly cooperative
  truce article tipped to elevated by one line on the war's toll; an analyst's conditional quote read as a
  THREATEN (speakers are not attributed).
- PROTEST in the synthetic stories is mostly domestic strikes; such articles come out none/low only
  because a single-state article is damped.
"""


def _table(per_type: dict) -> list[str]:
    rows = ["| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    rows += [f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
             for t, v in per_type.items()]
    return rows


def write_card(model_dir: Path, articles: dict | None = None) -> Path:
    meta = json.loads((model_dir / "model.json").read_text())
    tr, dev = meta["training"], meta["dev"]
    lines = [
        f"# Model card: {meta['name']} {meta['version']}", "",
        "Sentence-level classifier of diplomatic tension signals (16 PLOVER event types, multi-label) and "
        "CAMEO QuadClass, used by tension-worker to score whole articles sentence by sentence.", "",
        "## Architecture",
        f"- Encoder: {meta['base_model']['name']}, sha256 `{meta['base_model']['sha256']}` (checked at load).",
        f"- LoRA adapter (r={tr['lora']['r']}, alpha={tr['lora']['lora_alpha']}) on every linear layer, merged "
        "into the encoder at load; mean pooling; a 16-way sigmoid type head and a 5-way softmax QuadClass head.",
        "- Inference: int8 ONNX Runtime graph built from these weights on first load (default) or fp32 torch.", "",
        "## Training",
        f"- Command: `tension-worker train --data ../shared/data --out DIR --seed {tr['seed']}`; "
        f"{tr['train_examples']} training sentences, {tr['dev_examples']} held-out dev sentences, "
        f"{tr['seconds']:.0f} s on a 2-core CPU.",
        f"- Recipe: {json.dumps(tr['recipe'])}.",
        "- Data (sha256):",
        *[f"  - `{k}`: `{v}`" for k, v in tr["data_sha256"].items()],
        "- The dev split (15% of every source, stratified, before sub-sampling) never enters training; "
        "per-type thresholds were tuned on it, so its type scores are optimistic.", "",
        "## Dev results (held-out split of the training sources)",
        f"Headline: {json.dumps(dev['headline'])}", "",
        *_table(dev["per_type"]), "",
        "QuadClass macro-F1 by source: " + ", ".join(f"{k} {v['macro_f1']:.3f} (n={v['n']})"
                                                    for k, v in dev["quad"].items()), "",
    ]
    if articles:
        lines += ["## Whole articles (our 40 written dev articles, fp32 torch backend; also used to tune the level rule)",
                  f"{json.dumps(articles)}", ""]
    lines += [LIMITS]
    path = model_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
