"""Sentence examples from CAMEO-coded news (``../shared/data/cameo-train``) and our written sentences.

Each example is one sentence with optional targets: ``types`` (PLOVER types; an empty list means "no
signal") and ``quad`` (a QuadClass). A missing target is masked out of the loss. Real news items are in
``real.py``. Sources here:

- cameo-train: news sentences with a QuadClass (no type);
- written (worker/training/data/*.jsonl): sentences written for this project, with both targets;
- plover-synthetic (ablation): each synthetic story's lead sentence with its story's type (the rest negative);
- un-quadclass (ablation): UN sentences in formal register, QuadClass only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from worker.classifier.labels import QUAD_CLASSES, TYPES

WRITTEN_DIR = Path(__file__).resolve().parent / "data"
CAMEO_FILE = "cameo-train/conflibert_cameo_train.tsv"
PLOVER_FILE = "plover-synthetic/gpt_synthetic_events_2023-10-19_19.csv"
UN_FILE = "un-quadclass/en_annotations_quad_multiclass.tsv"
UN_QUAD = ("neutral", "material_conflict", "material_cooperation", "verbal_conflict", "verbal_cooperation")
CAMEO_QUAD = ("neutral", "verbal_cooperation", "material_cooperation", "verbal_conflict", "material_conflict")


@dataclass
class Example:
    text: str
    source: str
    types: list[str] | None = None
    quad: str | None = None
    extra: dict = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_cameo_tsv(path: Path, source: str = "cameo", classes: tuple = CAMEO_QUAD) -> list[Example]:
    """``sentence<TAB>label`` lines with class digits (CAMEO PentaClass 0-4 by default; QuadClass targets
    only); a line whose label is not a digit (a header) is skipped."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text.strip() and label.strip().isdigit():
                out.append(Example(text.strip(), source, None, classes[int(label)]))
    return out


def load_cameo(root: Path) -> list[Example]:
    return read_cameo_tsv(root / CAMEO_FILE)


def written_files(directory: Path = WRITTEN_DIR) -> list[Path]:
    return sorted(directory.glob("written_sentences*.jsonl"))


def load_written(directory: Path = WRITTEN_DIR) -> list[Example]:
    out = []
    lines = [l for p in written_files(directory) for l in p.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line.strip():
            obj = json.loads(line)
            types = [t for t in obj.get("types", []) if t in TYPES]
            quad = obj.get("quad_class") if obj.get("quad_class") in QUAD_CLASSES else None
            out.append(Example(obj["text"], "written", types, quad, {"group": obj.get("group", "")}))
    return out


def _sample(examples: list[Example], limit: int, seed: int) -> list[Example]:
    random.Random(seed).shuffle(examples)
    return examples[:limit]


def load_plover_leads(root: Path, limit: int, seed: int) -> list[Example]:
    """Up to ``limit`` synthetic stories' lead sentences, positive for the story's type (its headline
    template's), negative for the others (each story was generated for one event)."""
    from worker.classifier.sentences import split_sentences

    if limit <= 0:
        return []
    with open(Path(root) / PLOVER_FILE, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] in TYPES and r["text"].strip()]
    return [Example(split_sentences(r["text"])[0], "plover", [r["label"]]) for r in _sample(rows, limit, seed)]


def load_un(root: Path, limit: int, seed: int) -> list[Example]:
    """Up to ``limit`` UN sentences with their QuadClass (0 irrelevant, read as neutral)."""
    if limit <= 0:
        return []
    return _sample(read_cameo_tsv(Path(root) / UN_FILE, "un", UN_QUAD), limit, seed)
