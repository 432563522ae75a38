"""File sink: one JSON object per line to a path or stdout, flushed per batch."""

from __future__ import annotations

import json
import sys
from typing import TextIO


def open_output(path: str) -> TextIO:
    return sys.stdout if path == "-" else open(path, "w", encoding="utf-8")


def write_jsonl(stream: TextIO, objects: list[dict]) -> None:
    for obj in objects:
        stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
    stream.flush()
