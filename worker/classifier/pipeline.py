"""Articles → results: split every article into sentences, classify all sentences of a batch together
(length-sorted), decide per article with the fitted item layer. Pure: no Kafka, HTTP or files beyond
loading the model."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from worker.classifier.itemlayer import decide
from worker.classifier.model import SentenceModel, load_model
from worker.classifier.modality import background_flags
from worker.classifier.sentences import split_paragraphs
from worker.config import ModelConfig
from worker.models.article import Article
from worker.models.result import build_result


def reference_year(article: Article) -> int:
    if article.published_at:
        try:
            return datetime.fromisoformat(article.published_at.replace("Z", "+00:00")).year
        except ValueError:
            pass
    return article.received_year or datetime.now(timezone.utc).year


class TensionClassifier:
    """The tension classifier over whole articles; ``classify`` keeps input order."""

    def __init__(self, model: SentenceModel):
        self.model = model
        self.name = model.name
        self.version = model.version

    def classify(self, articles: Sequence[Article]) -> list[dict]:
        paragraphs = [split_paragraphs(a.text) for a in articles]
        per_article = [[s for para in paras for s in para] for paras in paragraphs]
        flat = [s for sents in per_article for s in sents]
        pred = self.model.predict(flat)
        results, start = [], 0
        for article, paras, sents in zip(articles, paragraphs, per_article):
            end = start + len(sents)
            verdict = decide(sents, pred.types[start:end], pred.quad[start:end],
                             background_flags(paras, reference_year(article)), article.title or "",
                             self.model.meta["item_layer"])
            results.append(build_result(
                article, model_name=self.name, model_version=self.version, level=verdict.level,
                score=verdict.score, alert=verdict.alert, quad_class=verdict.quad_class, signals=verdict.signals,
                actors=verdict.actors, dyads=verdict.dyads))
            start = end
        return results


def load_classifier(cfg: ModelConfig | None = None) -> TensionClassifier:
    """The classifier configured by ``cfg.model`` (defaults: the shipped model on the pinned MiniLM)."""
    cfg = cfg or ModelConfig()
    return TensionClassifier(load_model(cfg.path, cfg.base_model, cfg.num_threads, cfg.batch_size, cfg.max_tokens,
                                        cfg.backend, cfg.cache_dir))
