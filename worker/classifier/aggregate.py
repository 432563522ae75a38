"""Sentence predictions → one article verdict: signals with evidence, tension level, QuadClass, actors, dyads.

Tension score (0..1) is a noisy-OR over escalatory signals, each weighted by
``severity(type) × probability × modality × background × actor context``:

- modality: asserted 1, hypothetical 0.3, negated 0 (denied events never raise tension);
- background (history) 0.3;
- the QuadClass head's second opinion: × P(verbal or material conflict) of the sentence, so a
  "deployment" of soldiers for flood relief or an aid "convoy" the quad head reads as neutral or
  cooperation adds little, and a REQUEST weighs as a demand, not as a plain appeal ("urged donors to fund
  the aid appeal", "called for calm");
- probability is rescaled as (p − 0.3) / 0.7 (floor 0), so weak detections are listed but weigh little;
- actor context, counted over the title and the sentences that carry signals (a place named in passing
  does not make a strike interstate): with ≥ 2 actors, the sentence names ≥ 2 → 1, one → 0.85, none →
  0.6; one actor only (domestic news) → 0.2; none → 0.1.

The score is then discounted by up to half in proportion to the share of de-escalatory evidence
(talks, agreements, aid …), so mainly cooperative news with a passing mention of fighting stays low.

Levels: none < 0.15 ≤ low < 0.45 ≤ elevated < 0.75 ≤ high; ``high`` also needs one asserted, current
signal of force between states (attack, coercion, mobilisation or threat in a sentence naming ≥ 2
states) weighing ≥ 0.6, else it is capped at elevated: a state fighting an armed group, sanctions and
expulsions are elevated, as analysts grade them. Articles with only de-escalatory signals between actors
are ``low``. ``alert`` = elevated|high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.classifier.actors import is_state
from worker.classifier.labels import ALERT_LEVELS, DEESCALATORY, QUAD_CLASSES, TYPES
from worker.classifier.modality import modality

SEVERITY = {"ASSAULT": 1.0, "COERCE": 0.9, "MOBILIZE": 0.85, "THREATEN": 0.8, "SANCTION": 0.75,
            "ACCUSE": 0.5, "PROTEST": 0.4, "REQUEST": 0.35, "REJECT": 0.35}
HIGH_TYPES = frozenset({"ASSAULT", "COERCE", "MOBILIZE", "THREATEN"})
MODALITY_WEIGHT = {"asserted": 1.0, "hypothetical": 0.3, "negated": 0.0}
BACKGROUND_WEIGHT = 0.3
LOW, ELEVATED, HIGH = 0.15, 0.45, 0.75
MAX_TYPES_PER_SENTENCE = 2


@dataclass
class Verdict:
    level: str
    score: float
    alert: bool
    quad_class: str
    signals: list[dict]
    actors: list[str]
    dyads: list[list[str]]


P_FLOOR = 0.3
COOPERATION_DISCOUNT = 0.5


def _actor_weight(sentence_actors: list[str], n_article_actors: int) -> float:
    if n_article_actors >= 2:
        return (0.6, 0.85, 1.0)[min(len(sentence_actors), 2)]
    return 0.2 if n_article_actors == 1 else 0.1


def _conflict_share(quad: np.ndarray) -> float:
    """How far the quad head reads the sentence as conflict (verbal or material) at all."""
    return float(quad[QUAD_CLASSES.index("verbal_conflict")] + quad[QUAD_CLASSES.index("material_conflict")])


def _strength(p: float) -> float:
    return max(0.0, (p - P_FLOOR) / (1.0 - P_FLOOR))


def _level(score: float, strongest_high: float, cooperative: bool) -> str:
    if score >= HIGH and strongest_high >= 0.6:
        return "high"
    if score >= ELEVATED:
        return "elevated"
    if score >= LOW or cooperative:
        return "low"
    return "none"


def aggregate(sentences: list[str], type_probs: np.ndarray, quad_probs: np.ndarray, thresholds: np.ndarray,
              sentence_actors: list[list[str]], article_actors: list[str], background: list[bool],
              title_actors: list[str] | None = None) -> Verdict:
    """Combine per-sentence probabilities ([n, 16] and [n, 5]) into the article's verdict.

    ``article_actors`` (all actors, reported) differ from the context actors that weigh signals: those of
    ``title_actors`` and of the sentences that carry a signal."""
    found_all = [[j for j in np.argsort(-row)[:MAX_TYPES_PER_SENTENCE] if row[j] >= thresholds[j]]
                 for row in type_probs]
    n_actors = len({a for i, f in enumerate(found_all) if f for a in sentence_actors[i]} | set(title_actors or []))
    signals, weights, no_escalation = [], [], 1.0
    escalation_mass = cooperation_mass = 0.0
    strongest_high, cooperative = 0.0, False
    dyad_weight: dict[tuple[str, str], float] = {}
    for i, sentence in enumerate(sentences):
        found = found_all[i]
        history = background[i]
        for j in found:
            kind, p = TYPES[j], float(type_probs[i, j])
            mood = modality(sentence, kind)
            w = (SEVERITY.get(kind, 0.0) * _strength(p) * MODALITY_WEIGHT[mood]
                 * (BACKGROUND_WEIGHT if history else 1.0) * _actor_weight(sentence_actors[i], n_actors)
                 * _conflict_share(quad_probs[i]))
            no_escalation *= 1.0 - w
            escalation_mass += w
            if kind in DEESCALATORY:
                cooperation_mass += _strength(p) * MODALITY_WEIGHT[mood]
            if (kind in HIGH_TYPES and mood == "asserted" and not history
                    and sum(map(is_state, set(sentence_actors[i]))) >= 2):
                strongest_high = max(strongest_high, w)
            if kind in DEESCALATORY and mood == "asserted" and n_actors >= 2:
                cooperative = True
            signals.append({"type": kind, "score": round(p, 4), "evidence": sentence, "sentence_index": i,
                            "modality": mood, "background": history, "actors": sentence_actors[i]})
            weights.append(w if kind not in DEESCALATORY else p * 0.1 * MODALITY_WEIGHT[mood])
            acts = sorted(set(sentence_actors[i]))
            for a in range(len(acts)):
                for b in range(a + 1, len(acts)):
                    dyad_weight[(acts[a], acts[b])] = dyad_weight.get((acts[a], acts[b]), 0.0) + p
    score = 1.0 - no_escalation
    if cooperation_mass > 0:
        score *= 1.0 - COOPERATION_DISCOUNT * cooperation_mass / (cooperation_mass + escalation_mass)
    level = _level(score, strongest_high, cooperative)
    return Verdict(level=level, score=score, alert=level in ALERT_LEVELS,
                   quad_class=_quad(signals, weights, quad_probs), signals=signals, actors=article_actors,
                   dyads=[list(d) for d, _ in sorted(dyad_weight.items(), key=lambda kv: -kv[1])])


def _quad(signals: list[dict], weights: list[float], quad_probs: np.ndarray) -> str:
    """QuadClass of the dominant event: the quad head on the strongest signal's sentence."""
    if signals:
        return QUAD_CLASSES[int(quad_probs[signals[int(np.argmax(weights))]["sentence_index"]].argmax())]
    if len(quad_probs) == 0:
        return "neutral"
    i = int(quad_probs[:, 0].argmin())
    return QUAD_CLASSES[int(quad_probs[i].argmax())] if quad_probs[i, 0] < 0.5 else "neutral"
