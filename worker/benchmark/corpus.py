"""The benchmark's articles: the samples in seeds/ and long articles made from their paragraphs, or a file."""

from __future__ import annotations

import json
import random
from pathlib import Path

from worker.config import ConfigError
from worker.seeds import find_seeds, load_seeds


def generated_articles(seeds: list[dict], count: int, words: tuple[int, int] = (600, 1200),
                       seed: int = 13) -> list[dict]:
    """``count`` articles of ``words`` words, each a seeded shuffle of the seeds' paragraphs."""
    paragraphs = [p for article in seeds for p in article["text"].split("\n") if p.strip()]
    rng = random.Random(seed)
    out = []
    for n in range(count):
        target, text = rng.randint(*words), []
        while sum(len(p.split()) for p in text) < target:
            text.append(rng.choice(paragraphs))
        out.append({"id": f"bench-long-{n:03d}", "title": "", "text": "\n\n".join(text),
                    "published_at": "2022-02-01T08:00:00Z"})
    return out


def bench_articles(input_file: str | None, long_count: int) -> list[dict]:
    """The articles of ``input_file`` (JSONL), else the seeds plus ``long_count`` generated long ones."""
    if input_file:
        path = Path(input_file)
        if not path.is_file():
            raise ConfigError(f"--input {path}: no such file")
        try:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except ValueError as exc:
            raise ConfigError(f"--input {path}: not JSONL ({exc})") from None
        if not rows or not all(isinstance(r, dict) and isinstance(r.get("text"), str) for r in rows):
            raise ConfigError(f"--input {path}: expected one article object with a text per line")
        return [{"id": str(r.get("id", n)), **{k: v for k, v in r.items() if k != "id"}} for n, r in enumerate(rows)]
    seeds = [article for _, article in load_seeds(find_seeds())]
    return seeds + generated_articles(seeds, long_count)
