"""The sample articles in ``seeds/``: one article object per ``*.json`` file, or ``*.jsonl`` lines."""

from __future__ import annotations

import json
from pathlib import Path

import worker
from worker.config import ConfigError

DEFAULT_SEEDS = Path(worker.__file__).resolve().parent.parent / "seeds"


def find_seeds(path: str | Path | None = None) -> Path:
    """The seeds folder (``--seeds`` or the repo's ``seeds/``); ConfigError if it is missing or empty."""
    folder = Path(path) if path else DEFAULT_SEEDS
    if not folder.is_dir():
        raise ConfigError(f"seeds folder not found: {folder} (use --seeds PATH)")
    if not any(folder.glob("*.json")) and not any(folder.glob("*.jsonl")):
        raise ConfigError(f"no *.json or *.jsonl articles in {folder}")
    return folder


def load_seeds(folder: Path) -> list[tuple[str, dict]]:
    """(file stem or file:line, article object) pairs in file-name order."""
    articles: list[tuple[str, dict]] = []
    for file in sorted(folder.glob("*.json")):
        articles.append((file.stem, _article(_parse(file.read_text(encoding="utf-8"), file), file)))
    for file in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                articles.append((f"{file.stem}:{n}", _article(_parse(line, f"{file}:{n}"), file)))
    return articles


def _parse(text: str, where) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from None


def _article(obj: object, file: Path) -> dict:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise ConfigError(f"{file}: expected an article object with a string id")
    return obj


def encode(article: dict) -> bytes:
    """The message value for an article (compact UTF-8 JSON)."""
    return json.dumps(article, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
