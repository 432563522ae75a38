"""The one code path shared by ``run`` (Kafka) and ``classify`` (files): raw inputs → outcomes.

Each raw input (bytes of a message value or of a JSONL line) becomes an ``Outcome``: a result dict, or a
rejection with a reason. Valid articles are classified as one batch; if the batch fails, articles are
retried one by one so a single bad article is isolated as ``classifier_error`` and the rest go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Protocol, Sequence

from worker.models.article import Article, Rejected, decode_article

log = logging.getLogger(__name__)


class Classifier(Protocol):
    name: str
    version: str

    def classify(self, articles: Sequence[Article]) -> list[dict]: ...


@dataclass
class Outcome:
    """What became of one input: ``result`` is set, or ``reason`` (+ ``detail``) says why not."""

    article_id: str | None
    result: dict | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def peek_id(raw: bytes | None) -> str | None:
    """Best-effort article id of an input that failed validation (for error reports); never raises."""
    import json

    if raw is None or len(raw) > 1 << 20:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


class Processor:
    """Decode, validate and classify a batch of raw inputs, keeping input order."""

    def __init__(self, classifier: Classifier, max_text_chars: int):
        self.classifier = classifier
        self.max_text_chars = max_text_chars

    def process(self, raws: Sequence[bytes | None], timestamps_ms: Sequence[int | None] | None = None
                ) -> list[Outcome]:
        """``timestamps_ms``: each input's Kafka record timestamp, if any (see ``Article.received_year``)."""
        outcomes: list[Outcome] = []
        valid: list[tuple[int, Article]] = []
        for i, raw in enumerate(raws):
            try:
                article = decode_article(raw, self.max_text_chars)
                if timestamps_ms and timestamps_ms[i] is not None and timestamps_ms[i] >= 0:
                    year = datetime.fromtimestamp(timestamps_ms[i] / 1000, timezone.utc).year
                    article = replace(article, received_year=year)
            except Rejected as rej:
                outcomes.append(Outcome(peek_id(raw), reason=rej.reason, detail=rej.detail))
                continue
            except Exception as exc:  # noqa: BLE001 - a record the decoder did not foresee: dead-letter it
                log.warning("unexpected error decoding an input", exc_info=True)
                outcomes.append(Outcome(None, reason="invalid_input", detail=f"{type(exc).__name__}: {exc}"[:500]))
                continue
            outcomes.append(Outcome(article.id))
            valid.append((i, article))
        for i, result in self._classify([a for _, a in valid], [i for i, _ in valid]):
            if isinstance(result, Exception):
                outcomes[i].reason = "classifier_error"
                outcomes[i].detail = f"{type(result).__name__}: {result}"[:500]
            else:
                outcomes[i].result = result
        return outcomes

    def _classify(self, articles: list[Article], indices: list[int]):
        if not articles:
            return []
        try:
            return list(zip(indices, self.classifier.classify(articles)))
        except Exception:  # noqa: BLE001 - isolate the article that fails, keep the rest
            log.warning("batch classification failed; retrying %d articles one by one", len(articles),
                        exc_info=True)
        pairs = []
        for i, article in zip(indices, articles):
            try:
                pairs.append((i, self.classifier.classify([article])[0]))
            except Exception as exc:  # noqa: BLE001
                log.error("classifier failed on article %s", article.id, exc_info=True)
                pairs.append((i, exc))
        return pairs
