"""The result object (``schemas/alert.schema.json``): one per article; an alert when ``alert`` is true."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from worker.models.article import Article

SCHEMA_VERSION = "1.0"


def alert_id(article_id: str, model_name: str, model_version: str) -> str:
    """Deterministic id: the same article classified by the same model always gets the same id."""
    digest = hashlib.sha256(f"{article_id}\x1f{model_name}\x1f{model_version}".encode("utf-8"))
    return digest.hexdigest()[:32]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_result(article: Article, *, model_name: str, model_version: str, level: str, score: float,
                 alert: bool, quad_class: str, signals: list[dict], actors: list[str],
                 dyads: list[list[str]], processed_at: str | None = None) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "alert_id": alert_id(article.id, model_name, model_version),
        "article": {"id": article.id, "title": article.title, "url": article.url, "source": article.source,
                    "published_at": article.published_at},
        "alert": alert,
        "tension": {"level": level, "score": round(float(score), 4)},
        "quad_class": quad_class,
        "signals": signals,
        "actors": actors,
        "dyads": dyads,
        "model": {"name": model_name, "version": model_version},
        "processed_at": processed_at or utc_now(),
    }
