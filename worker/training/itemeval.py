"""Whole-item metrics as the codebook defines them, on agreed labels (disputed ones are skipped):
alert precision/recall/F1, signal micro-F1 over each item's set of types, per-type F1, dyad F1, level
accuracy. A verdict is ``{"alert", "level", "signals": set of types, "dyads": set of sorted pairs}``."""

from __future__ import annotations

from worker.classifier.labels import TYPES
from worker.training.real import Item


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def verdict_of(result: dict) -> dict:
    """A worker result (or Verdict-like dict) reduced to what the item metrics compare."""
    return {"alert": bool(result["alert"]), "level": result["tension"]["level"],
            "signals": {s["type"] for s in result["signals"]}, "dyads": {tuple(sorted(d)) for d in result["dyads"]}}


def score_items(items: list[Item], verdicts: list[dict]) -> dict:
    a = {"tp": 0, "fp": 0, "fn": 0}
    sig = {t: [0, 0, 0] for t in TYPES}
    dy = [0, 0, 0]
    levels = []
    for item, v in zip(items, verdicts):
        if item.alert is not None:
            a["tp"] += v["alert"] and item.alert
            a["fp"] += v["alert"] and not item.alert
            a["fn"] += item.alert and not v["alert"]
        for t in TYPES:
            got, gold = t in v["signals"], t in item.signals
            if t in item.disputed and not gold:
                continue
            sig[t][0] += got and gold
            sig[t][1] += got and not gold
            sig[t][2] += gold and not got
        got = set(v["dyads"]) - item.disputed_dyads
        dy[0] += len(got & item.dyads)
        dy[1] += len(got - item.dyads)
        dy[2] += len(item.dyads - got)
        if item.tension is not None:
            levels.append(v["level"] == item.tension)
    ap, ar, af = _prf(a["tp"], a["fp"], a["fn"])
    micro = _prf(*(sum(c[k] for c in sig.values()) for k in range(3)))
    return {
        "n": len(items), "alert_precision": round(ap, 3), "alert_recall": round(ar, 3), "alert_f1": round(af, 3),
        "signal_micro_f1": round(micro[2], 3), "signal_precision": round(micro[0], 3),
        "signal_recall": round(micro[1], 3),
        "signals_per_item": round(sum(len(v["signals"]) for v in verdicts) / max(1, len(verdicts)), 2),
        "dyad_f1": round(_prf(*dy)[2], 3), "dyad_precision": round(_prf(*dy)[0], 3),
        "level_accuracy": round(sum(levels) / max(1, len(levels)), 3),
        "per_type_f1": {t: round(_prf(*c)[2], 3) for t, c in sig.items() if c[0] + c[2]},
    }


def cross_fitted(items: list[Item], scored: dict, item_fold: dict, scored_if=lambda item: True, evs: dict | None = None,
                 **fit_options) -> dict:
    """Fit the item layer (with ``fit_options``) on the other folds' out-of-fold scores, score each
    fold's items that pass ``scored_if``, pool the verdicts (``evs``: the items' evidences, if computed)."""
    from worker.training.itemfit import evidences, fit_item_layer, verdicts_for

    evs = evs or evidences(items, scored)
    order, verdicts = [], []
    for k in sorted(set(item_fold.values())):
        fit = [it for it in items if item_fold[it.id] != k]
        test = [it for it in items if item_fold[it.id] == k and scored_if(it)]
        layer = fit_item_layer(fit, evs, **fit_options)
        order += test
        verdicts += verdicts_for(test, evs, layer)
    return score_items(order, verdicts)
