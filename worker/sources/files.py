"""File source: JSONL articles from a path or stdin, as raw bytes per line (validation happens later)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO, Iterator


def open_input(path: str) -> BinaryIO:
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def count_lines(path: str) -> int | None:
    """Number of non-blank lines of a file (for the progress bar); None for stdin."""
    if path == "-":
        return None
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw bytes without the newline) for each non-blank line."""
    for number, line in enumerate(stream, 1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def chunks(items: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_readable(path: str) -> str | None:
    """A one-line problem with an input path, or None."""
    if path == "-":
        return None
    p = Path(path)
    if not p.exists():
        return f"--input {path}: no such file"
    if not p.is_file():
        return f"--input {path}: not a file"
    return None
