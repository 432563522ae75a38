"""Sentence splitting with pysbd (a maintained rule-based segmenter), paragraph by paragraph."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

_PARAGRAPHS = re.compile(r"\n\s*\n|\r?\n")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_paragraphs(text: str) -> list[list[str]]:
    """The sentences of every non-empty paragraph (line) of ``text``, verbatim (stripped), in order."""
    out: list[list[str]] = []
    for para in _PARAGRAPHS.split(text):
        sentences = [s.strip() for s in _segmenter().segment(para) if s.strip()] if para.strip() else []
        if sentences:
            out.append(sentences)
    return out


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text`` verbatim (stripped), in order; lines are never merged across breaks."""
    return [s for para in split_paragraphs(text) for s in para]
