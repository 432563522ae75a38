"""Sentence examples from CAMEO-coded news (``../shared/data/cameo-train``) and our written sentences.

Each example is one sentence with optional targets: ``types`` (PLOVER types; an empty list means "no
signal") and ``quad`` (a QuadClass). A missing target is masked out of the loss. Real news items are in
``real.py``. Sources here:

- cameo-train: news sentences with a QuadClass (no type);
- written (worker/training/data/*.jsonl): sentences written for this project, with both targets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from worker.classifier.labels import QUAD_CLASSES, TYPES

WRITTEN_DIR = Path(__file__).resolve().parent / "data"
CAMEO_FILE = "cameo-train/conflibert_cameo_train.tsv"
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
