"""Real news labelled under the codebook (``real-train/``, ``real-dev/``): items and sentence examples.

An :class:`Item` is one labelled excerpt or release with its item labels (alert, tension, signals, dyads)
and its sentences' labels. Where two annotators labelled it (real-dev), only what both gave counts;
what one gave is ``disputed`` and left out of scores and losses, as the codebook's judge does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from worker.classifier.labels import TYPES
from worker.training.data import Example

TRAIN_FILE = "real-train/real_train.jsonl"
DEV_FILE = "real-dev/real_dev.jsonl"
_YEAR = re.compile(r"/((?:19|20)\d\d)/")


@dataclass
class Item:
    id: str
    set: str
    split: str
    title: str
    sentences: list[str]
    alert: bool | None
    tension: str | None
    signals: set[str]
    disputed: set[str] = field(default_factory=set)
    dyads: set[tuple[str, str]] = field(default_factory=set)
    disputed_dyads: set[tuple[str, str]] = field(default_factory=set)
    # per sentence: (types current and asserted, types to leave out of the loss)
    sentence_targets: list[tuple[set[str], set[str]]] = field(default_factory=list)
    year: int = 2016
    annotators: int = 1

    @property
    def text(self) -> str:
        return "\n".join(self.sentences)


def _pairs(dyads) -> set[tuple[str, str]]:
    return {tuple(sorted(d)) for d in dyads or [] if len(d) == 2}


def _year(obj: dict) -> int:
    if str(obj.get("date") or "")[:4].isdigit():
        return int(str(obj["date"])[:4])
    m = _YEAR.search(obj.get("url") or obj.get("source_url") or "")
    return int(m.group(1)) if m else 2016


def _sentence_targets(sentence: dict, agreed_key: str) -> tuple[set[str], set[str]]:
    current, masked = set(), {s for s in sentence.get("signals_disputed", [])}
    for sig in sentence.get(agreed_key, []):
        if sig.get("modality") in (None, "asserted") and not sig.get("background"):
            current.add(sig["type"])
        else:  # denied, hypothetical or history: not a current event, but not a clean negative either
            masked.add(sig["type"])
    return current & set(TYPES), (masked - current) & set(TYPES)


def read_items(path: Path, split: str | None = None) -> list[Item]:
    """Items of a real-train or real-dev JSONL file (``split`` keeps only that part of real-dev)."""
    objs = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item_of(obj) for obj in objs if not split or obj.get("split", split) == split]


def item_of(obj: dict) -> Item:
    """An item from one labelled record: real-train's one-annotator schema, or real-dev's two-annotator
    one (``signals_both``/``signals_disputed``, ``dyads_A``/``dyads_B``)."""
    two = "signals_both" in obj
    key = "signals_both" if two else "signals"
    if two:
        a, b = _pairs(obj.get("dyads_A")), _pairs(obj.get("dyads_B"))
        dyads, disputed_dyads = a & b, a ^ b
    else:
        dyads, disputed_dyads = _pairs(obj.get("dyads")), set()
    return Item(
        id=obj["id"], set=obj.get("set", ""), split=obj.get("split", "train"), title=obj.get("title") or "",
        sentences=[s["text"] for s in obj["sentences"]], alert=obj.get("alert"), tension=obj.get("tension"),
        signals=set(obj.get(key) or []), disputed=set(obj.get("signals_disputed") or []),
        dyads=dyads, disputed_dyads=disputed_dyads,
        sentence_targets=[_sentence_targets(s, key) for s in obj["sentences"]], year=_year(obj),
        annotators=2 if two else 1)


def load_real_train(root: Path) -> list[Item]:
    return read_items(Path(root) / TRAIN_FILE)


def load_real_dev(root: Path, split: str = "dev") -> list[Item]:
    return read_items(Path(root) / DEV_FILE, split)


def sentence_examples(items: list[Item]) -> list[Example]:
    """One example per sentence. Sentences of an item whose tension is ``none`` (domestic news, no
    interstate friction) are negatives for every type, as the floor recipe keeps them; elsewhere a
    sentence's current, asserted types are positives, its other coded types masked, the rest negatives."""
    out = []
    for item in items:
        for text, (current, masked) in zip(item.sentences, item.sentence_targets):
            if item.tension == "none":
                current, masked = set(), set()
            out.append(Example(text, "real", sorted(current), None,
                               {"mask": sorted(masked), "item": item.id, "set": item.set}))
    return out
