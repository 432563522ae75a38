"""Training examples from the labelled data folder (``../shared/data``) and our own written sentences.

Each example is one sentence with optional targets: ``types`` (PLOVER types; an empty list means "no
signal") and ``quad`` (a QuadClass). A missing target is masked out of the loss. Sources:

- plover-synthetic: the lead sentence of each synthetic story carries the story's label (the rest of a
  story mixes context and quotes, so it is not used); quad from the PLOVER→QuadClass mapping.
- cameo-train: news sentences with a QuadClass (no type).
- un-quadclass: UN sentences with a QuadClass; "irrelevant" ones also teach "no signal".
- written (worker/training/data/*.jsonl): sentences written for this project, with both targets.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from worker.classifier.labels import QUAD_CLASSES, TYPE_TO_QUAD, TYPES
from worker.classifier.sentences import split_sentences

WRITTEN_DIR = Path(__file__).resolve().parent / "data"
PLOVER_FILE = "plover-synthetic/gpt_synthetic_events_2023-10-19_19.csv"
CAMEO_FILE = "cameo-train/conflibert_cameo_train.tsv"
UN_FILE = "un-quadclass/en_annotations_quad_multiclass.tsv"
CAMEO_QUAD = ("neutral", "verbal_cooperation", "material_cooperation", "verbal_conflict", "material_conflict")
UN_QUAD = ("neutral", "material_conflict", "material_cooperation", "verbal_conflict", "verbal_cooperation")


@dataclass
class Example:
    text: str
    source: str
    types: list[str] | None = None
    quad: str | None = None
    extra: dict = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_plover(root: Path) -> list[Example]:
    csv.field_size_limit(1 << 30)
    out = []
    with open(root / PLOVER_FILE, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            label = row["label"].strip().upper()
            if label not in TYPES or not row["text"].strip():
                continue
            sents = [s for s in split_sentences(row["text"][:1500]) if len(s.split()) >= 5]
            if sents:
                out.append(Example(sents[0][:1000], "plover", [label], TYPE_TO_QUAD[label],
                                   {"mode": row.get("mode") or ""}))
    return out


def read_cameo_tsv(path: Path, source: str = "cameo") -> list[Example]:
    """``sentence<TAB>label`` lines with CAMEO PentaClass digits 0-4 (QuadClass targets only)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text.strip() and label.strip().isdigit():
                out.append(Example(text.strip(), source, None, CAMEO_QUAD[int(label)]))
    return out


def load_cameo(root: Path) -> list[Example]:
    return read_cameo_tsv(root / CAMEO_FILE)


def load_un(root: Path) -> list[Example]:
    out = []
    with open(root / UN_FILE, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text.strip() and label.strip().isdigit():
                quad = UN_QUAD[int(label)]
                out.append(Example(text.strip()[:1000], "un", [] if quad == "neutral" else None, quad))
    return out


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


def split_dev(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Stratified by source and label: the same seed always gives the same split."""
    rng = random.Random(seed)
    groups: dict[tuple, list[Example]] = {}
    for ex in examples:
        groups.setdefault((ex.source, tuple(ex.types or ()), ex.quad), []).append(ex)
    train, dev = [], []
    for key in sorted(groups, key=str):
        items = groups[key][:]
        rng.shuffle(items)
        k = int(round(len(items) * fraction))
        dev += items[:k]
        train += items[k:]
    return train, dev


def load_all(root: Path, seed: int, un_limit: int = 2500, dev_fraction: float = 0.15):
    """(train, dev, data_hashes): dev is held out per source, before any sub-sampling."""
    root = Path(root)
    hashes = {rel: file_sha256(root / rel) for rel in (PLOVER_FILE, CAMEO_FILE, UN_FILE)}
    for written in written_files():
        hashes[f"worker/training/data/{written.name}"] = file_sha256(written)
    train, dev = [], []
    for loader in (load_plover, load_cameo, load_un):
        tr, dv = split_dev(loader(root), dev_fraction, seed)
        train += tr
        dev += dv
    tr, dv = split_dev(load_written(), dev_fraction, seed)
    train += tr
    dev += dv
    rng = random.Random(seed)
    un = [e for e in train if e.source == "un"]
    if len(un) > un_limit:
        keep = set(map(id, rng.sample(un, un_limit)))
        train = [e for e in train if e.source != "un" or id(e) in keep]
    return train, dev, hashes
