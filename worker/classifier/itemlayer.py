"""Sentence scores → one article verdict, with parameters fitted on real news (out-of-fold scores).

1. Each sentence's type probability is discounted by its modality (denied 0, hypothetical 0.3) and
   history (background 0.3); an article's score for a type is its best sentence's, which is its evidence.
2. Two logistic models read the 16 type scores and the actor context (how many states/organisations the
   article names, whether its title names one; in newer layers whether it names an armed group):
   P(tension is not none) and P(alert).
3. Level: ``none`` when P(tension) is under its threshold (then no signals and no dyads: domestic news);
   ``elevated`` when P(alert) passes its threshold, ``high`` when also a force type (ASSAULT, COERCE,
   MOBILIZE, THREATEN) passes the high bar; else ``low``.
4. Signals: the types whose score passes their own threshold, each with its best evidence.
5. Dyads: in each evidence sentence, its first-named actor paired with each other one, weighted by the
   signal's score shared among the pairs (else the two actors named most), at most ``max_dyads``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from worker.classifier.actors import ARMED_GROUPS, find_actors
from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.modality import modality

MODALITY_WEIGHT = {"asserted": 1.0, "hypothetical": 0.3, "negated": 0.0}
BACKGROUND_WEIGHT = 0.3
FORCE = ("ASSAULT", "COERCE", "MOBILIZE", "THREATEN")
CONTEXT = ("actors_2plus", "actors_3plus", "title_actor")
FEATURES = (*TYPES, *CONTEXT)  # a layer lists the features its models read; these are the default
OPTIONAL = ("armed_group",)  # it names an armed group, or rebels/militants/insurgents…: state vs armed group
_ARMED_WORDS = re.compile(r"\b(?:rebels?|militants?|insurgents?|jihadists?|separatists?|terrorists?|armed groups?|"
                          r"guerrillas?|militias?)\b", re.I)


@dataclass
class Evidence:
    """Per type: the discounted best score, its sentence and modality; plus the article's actors."""
    scores: np.ndarray  # [16]
    best: np.ndarray  # [16] sentence index
    moods: list[str]  # [16]
    sentence_actors: list[list[str]]
    title_actors: list[str]
    background: list[bool]
    armed: bool = False  # names an armed group (the actor table's, or a generic word)

    def features(self, names=FEATURES) -> np.ndarray:
        """The 16 type scores, then the named context features in ``names`` order."""
        n = len({a for acts in self.sentence_actors for a in acts} | set(self.title_actors))
        context = {"actors_2plus": n >= 2, "actors_3plus": n >= 3, "title_actor": bool(self.title_actors),
                   "armed_group": self.armed}
        return np.concatenate([self.scores, [context[f] for f in names[len(TYPES):]]]).astype(np.float64)


def evidence(sentences: list[str], types: np.ndarray, background: list[bool], title: str = "") -> Evidence:
    """Discount each sentence's probabilities by modality and history; keep each type's best sentence."""
    n = len(sentences)
    scores, best, moods = np.zeros(len(TYPES)), np.zeros(len(TYPES), dtype=int), ["asserted"] * len(TYPES)
    for j, kind in enumerate(TYPES):
        for i in np.argsort(-types[:, j])[:3] if n else ():
            if types[i, j] <= scores[j]:
                break
            mood = modality(sentences[i], kind)
            s = types[i, j] * MODALITY_WEIGHT[mood] * (BACKGROUND_WEIGHT if background[i] else 1.0)
            if s > scores[j]:
                scores[j], best[j], moods[j] = s, i, mood
    actors, title_actors = [find_actors(s) for s in sentences], find_actors(title)
    named = {a for acts in actors for a in acts} | set(title_actors)
    armed = not ARMED_GROUPS.isdisjoint(named) or any(map(_ARMED_WORDS.search, [title, *sentences]))
    return Evidence(scores, best, moods, actors, title_actors, background, armed)


def _prob(layer: dict, name: str, x: np.ndarray) -> float:
    coef, intercept = layer[name]["coef"], layer[name]["intercept"]
    return float(1.0 / (1.0 + np.exp(-(np.dot(coef, x) + intercept))))


def dyads_of(ev: Evidence, signal_idx: list[int], max_dyads: int) -> list[list[str]]:
    weight: Counter = Counter()
    for j in signal_idx:
        first, *others = list(dict.fromkeys(ev.sentence_actors[ev.best[j]])) or [None]
        for other in others:  # the first-named actor (mostly the subject) against each other one
            weight[tuple(sorted((first, other)))] += ev.scores[j] / len(others)
    if not weight:
        named = Counter(ev.title_actors * 2 + [a for acts in ev.sentence_actors for a in dict.fromkeys(acts)])
        top = [a for a, _ in named.most_common(2)]
        return [sorted(top)] if len(top) == 2 else []
    return [list(p) for p, _ in weight.most_common(max_dyads)]


@dataclass
class Verdict:
    level: str
    score: float
    alert: bool
    quad_class: str
    signals: list[dict]
    actors: list[str]
    dyads: list[list[str]]


def decide(sentences: list[str], types: np.ndarray, quad: np.ndarray, background: list[bool], title: str,
           layer: dict) -> Verdict:
    """The article's verdict from its sentences' probabilities ([n, 16], [n, 5]) and the fitted layer."""
    return verdict(evidence(sentences, types, background, title), sentences, quad, layer)


def verdict(ev: Evidence, sentences: list[str], quad: np.ndarray, layer: dict) -> Verdict:
    x = ev.features(layer.get("features", FEATURES))
    p_tension, p_alert = _prob(layer, "tension", x), _prob(layer, "alert", x)
    actors = list(dict.fromkeys([*ev.title_actors, *(a for acts in ev.sentence_actors for a in acts)]))
    if p_tension < layer["tension_threshold"]:
        return Verdict("none", p_alert, False, "neutral", [], actors, [])
    thr = np.array([layer["thresholds"][t] for t in TYPES])
    idx = [j for j in np.argsort(-ev.scores) if ev.scores[j] >= thr[j]]
    alert = p_alert >= layer["alert_threshold"]
    force = max(ev.scores[TYPES.index(t)] for t in FORCE)
    level = ("high" if force >= layer["high_threshold"] else "elevated") if alert else "low"
    signals = [{"type": TYPES[j], "score": round(float(ev.scores[j]), 4), "evidence": sentences[ev.best[j]],
                "sentence_index": int(ev.best[j]), "modality": ev.moods[j], "background": ev.background[ev.best[j]],
                "actors": ev.sentence_actors[ev.best[j]]} for j in idx]
    quad_class = QUAD_CLASSES[int(quad[ev.best[idx[0]]].argmax())] if idx else "neutral"
    return Verdict(level, p_alert, alert, quad_class, signals, actors, dyads_of(ev, idx, layer["max_dyads"]))
