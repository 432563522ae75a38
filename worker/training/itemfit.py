"""Fit the item layer (``worker/classifier/itemlayer.py``) on real items' out-of-fold sentence scores."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from worker.classifier.itemlayer import FEATURES, OPTIONAL, evidence, verdict
from worker.classifier.labels import TYPES
from worker.classifier.modality import background_flags
from worker.training.itemeval import score_items
from worker.training.real import Item

GRID = [round(x, 2) for x in np.arange(0.1, 0.96, 0.05)]


def evidences(items: list[Item], scored: dict) -> dict[str, tuple]:
    """Each item's evidence and QuadClass rows from its out-of-fold scores, computed once per fit."""
    out = {}
    for it in items:
        types, quad = np.array(scored[it.id]["types"]), np.array(scored[it.id]["quad"])
        background = background_flags([it.sentences], it.year)
        out[it.id] = (evidence(it.sentences, types, background, it.title), quad)
    return out


def verdicts_for(items: list[Item], evs: dict, layer: dict) -> list[dict]:
    out = []
    for it in items:
        ev, quad = evs[it.id]
        v = verdict(ev, it.sentences, quad, layer)
        out.append({"alert": v.alert, "level": v.level, "signals": {s["type"] for s in v.signals},
                    "dyads": {tuple(d) for d in v.dyads}})
    return out


def _logistic(x: np.ndarray, y: list) -> dict:
    keep = [i for i, v in enumerate(y) if v is not None]
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(x[keep], [bool(y[i]) for i in keep])
    return {"coef": [round(float(c), 4) for c in lr.coef_[0]], "intercept": round(float(lr.intercept_[0]), 4)}


def _best(layer: dict, key: str, values, items, evs, metric: str) -> None:
    """Set ``layer[key]`` to the value (first on ties) that maximises ``metric`` on ``items``."""
    results = [score_items(items, verdicts_for(items, evs, {**layer, key: v}))[metric] for v in values]
    layer[key] = values[int(np.argmax(results))]


def fit_item_layer(items: list[Item], evs: dict, per_type: bool = False, extra: tuple = ()) -> dict:
    """Logistic tension and alert models, then thresholds chosen in turn on the items' own metrics
    (one signal threshold for all types: per-type ones overfit, cross-validated signal F1 0.383 vs 0.397).
    ``extra``: optional features the models also read (``OPTIONAL``)."""
    if set(extra) - set(OPTIONAL):
        raise ValueError(f"item layer: unknown features {sorted(set(extra) - set(OPTIONAL))}")
    features = list(FEATURES) + [f for f in OPTIONAL if f in extra]
    x = np.array([evs[it.id][0].features(features) for it in items])
    layer = {"features": features,
             "tension": _logistic(x, [None if it.tension is None else it.tension != "none" for it in items]),
             "alert": _logistic(x, [it.alert for it in items]),
             "tension_threshold": 0.5, "alert_threshold": 0.5, "high_threshold": 0.9, "max_dyads": 2,
             "thresholds": dict.fromkeys(TYPES, 0.5)}
    _best(layer, "tension_threshold", GRID, items, evs, "signal_micro_f1")
    _best(layer, "alert_threshold", GRID, items, evs, "alert_f1")
    for g in (None,) + tuple(TYPES):  # one global threshold, then each type's own where it has support
        support = sum(g in it.signals for it in items) if g else len(items)
        if support < 5 or (g and not per_type):
            continue
        cands = [dict.fromkeys(TYPES, v) for v in GRID] if g is None else \
            [{**layer["thresholds"], g: v} for v in GRID]
        _best(layer, "thresholds", cands, items, evs, "signal_micro_f1")
    _best(layer, "high_threshold", GRID + [1.01], items, evs, "level_accuracy")
    _best(layer, "max_dyads", [1, 2, 3], items, evs, "dyad_f1")
    # last, the tension gate for the level it decides (none or not): chosen for signal F1 it let our
    # excerpts (70% none) pull level accuracy from 0.758 to 0.628, cross-validated
    _best(layer, "tension_threshold", GRID, items, evs, "level_accuracy")
    return layer
