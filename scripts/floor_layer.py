"""Issue #8's floor article layer against ours, on the same cached out-of-fold sentence scores.

Usage: python scripts/floor_layer.py OOF_JSON [--data ../shared/data]
(OOF_JSON from `tension-worker train --data ../shared/data --out DIR --cv-only --oof-cache OOF_JSON`)

The floor layer: an item's signals are the types whose best sentence probability passes one threshold
(fitted for signal micro-F1 on the other fold), alert = an escalatory type among them, level none/low/
elevated from that, no dyads. Both layers are fitted on one fold's real-dev items and scored on the other's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from worker.classifier.labels import ESCALATORY, TYPES
from worker.training.itemeval import cross_fitted, score_items
from worker.training.own_labels import OWN_SETS
from worker.training.train import RECIPE, sources

GRID = [round(x, 3) for x in np.arange(0.05, 0.96, 0.025)]
KEYS = ("alert_precision", "alert_recall", "alert_f1", "signal_micro_f1", "dyad_f1", "level_accuracy",
        "signals_per_item")


def floor_verdicts(items, scores: dict, threshold: float) -> list[dict]:
    out = []
    for it in items:
        best = np.array(scores[it.id]["types"]).max(0) if it.sentences else np.zeros(len(TYPES))
        signals = {t for t, p in zip(TYPES, best) if p >= threshold}
        alert = bool(signals & set(ESCALATORY))
        out.append({"alert": alert, "level": "elevated" if alert else "low" if signals else "none",
                    "signals": signals, "dyads": set()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("oof")
    ap.add_argument("--data", default="../shared/data")
    args = ap.parse_args()
    oof = json.loads(Path(args.oof).read_text())
    _, dev_items, _, _ = sources(Path(args.data), dict(RECIPE), 13)
    items = [it for it in dev_items if it.id in oof["items"]]
    real = [it for it in items if it.set not in OWN_SETS]
    ours = cross_fitted(items, oof["items"], oof["item_fold"], scored_if=lambda it: it.set not in OWN_SETS)
    order, verdicts = [], []
    for k in sorted(set(oof["item_fold"].values())):
        fit = [it for it in real if oof["item_fold"][it.id] != k]
        test = [it for it in real if oof["item_fold"][it.id] == k]
        results = [score_items(fit, floor_verdicts(fit, oof["items"], t))["signal_micro_f1"] for t in GRID]
        order += test
        verdicts += floor_verdicts(test, oof["items"], GRID[int(np.argmax(results))])
    floor = score_items(order, verdicts)
    for name, figures in (("ours", ours), ("floor", floor)):
        print(name, json.dumps({k: float(figures[k]) for k in KEYS}))


if __name__ == "__main__":
    main()
