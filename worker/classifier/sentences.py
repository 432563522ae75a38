"""Sentence splitting with pysbd (a maintained rule-based segmenter), paragraph by paragraph."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

_PARAGRAPHS = re.compile(r"\n\s*\n|\r?\n")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text`` verbatim (stripped), in order; lines are never merged across breaks."""
    out: list[str] = []
    for para in _PARAGRAPHS.split(text):
        if not para.strip():
            continue
        out.extend(s.strip() for s in _segmenter().segment(para) if s.strip())
    return out
