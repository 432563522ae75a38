"""Sentence splitting with pysbd (a maintained rule-based segmenter), paragraph by paragraph.

pysbd's cost grows with the square of a paragraph's length (a 200,000-character paragraph took 29 s), so a
long paragraph is segmented in windows of ``WINDOW`` characters cut at whitespace: every sentence of a window
but its last is final, and the last (perhaps cut) is carried into the next window. Linear time; the same
sentences as whole-paragraph segmentation except where a window holds no boundary at all (a run-on of
``WINDOW`` characters then counts as one sentence).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd
from pysbd.utils import TextSpan

_PARAGRAPHS = re.compile(r"\n\s*\n|\r?\n")
WINDOW = 3000


class _Segmenter(pysbd.Segmenter):
    """pysbd's segmenter, mapping its sentences back onto the text with ``str.find`` from the previous
    sentence's end instead of a regex compiled per sentence and run from the text's start (that mapping
    and its compilations were ~60% of pysbd's time; same sentences on every sample article)."""

    def sentences_with_char_spans(self, sentences):
        spans, end, text = [], 0, self.original_text
        for sent in sentences:
            start = text.find(sent, end)
            if start < 0:
                continue
            stop = start + len(sent)
            while stop < len(text) and text[stop].isspace():
                stop += 1
            spans.append(TextSpan(text[start:stop], start, stop))
            end = stop
        return spans


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return _Segmenter(language="en", clean=False)


def _segment(para: str) -> list[str]:
    out: list[str] = []
    rest = para
    while len(rest) > WINDOW:
        cut = rest.rfind(" ", WINDOW // 2, WINDOW)
        cut = cut if cut > 0 else WINDOW
        pieces = _segmenter().segment(rest[:cut])
        if len(pieces) > 1:
            out += pieces[:-1]
            rest = pieces[-1] + rest[cut:]
        else:
            out.append(rest[:cut])
            rest = rest[cut:]
    return out + _segmenter().segment(rest)


def split_paragraphs(text: str) -> list[list[str]]:
    """The sentences of every non-empty paragraph (line) of ``text``, verbatim (stripped), in order."""
    out: list[list[str]] = []
    for para in _PARAGRAPHS.split(text):
        sentences = [s.strip() for s in _segment(para) if s.strip()] if para.strip() else []
        if sentences:
            out.append(sentences)
    return out


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text`` verbatim (stripped), in order; lines are never merged across breaks."""
    return [s for para in split_paragraphs(text) for s in para]
