"""The input article: decoded from bytes and validated against ``schemas/article.schema.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources

from jsonschema import Draft202012Validator


class Rejected(Exception):
    """An input that cannot be classified; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    language: str | None = None
    # the year history is counted from when ``published_at`` is missing: the year of the Kafka record's
    # timestamp (so a redelivered record gets the same verdict), else the current year
    received_year: int | None = None


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A JSON Schema shipped in ``worker/schemas``."""
    return json.loads(resources.files("worker.schemas").joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema("article.schema.json"))


def _valid_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper() or " " in value


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def article_from_obj(obj: object, max_text_chars: int) -> Article:
    """Validate a decoded JSON value as an article; raise ``Rejected`` naming the reason."""
    if not isinstance(obj, dict):
        raise Rejected("invalid_schema", f"expected a JSON object, got {type(obj).__name__}")
    if "text" not in obj or obj.get("text") is None:
        raise Rejected("missing_text", "the article has no text")
    error = next(iter(sorted(_validator().iter_errors(obj), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "(root)"
        raise Rejected("invalid_schema", f"{where}: {error.message}"[:300])
    for key in ("id", "text", "title", "url", "source", "language", "published_at"):
        value = obj.get(key)
        if isinstance(value, str) and not _is_unicode(value):
            raise Rejected("invalid_text", f"{key}: contains a lone surrogate (\\ud800-\\udfff), not Unicode text")
    text = obj["text"]
    if not text.strip():
        raise Rejected("empty_text", "the article text is empty")
    if len(text) > max_text_chars:
        raise Rejected("oversized_text", f"text has {len(text)} characters, the limit is {max_text_chars}")
    published = obj.get("published_at")
    if published is not None and not _valid_timestamp(published):
        raise Rejected("invalid_schema", f"published_at: {published!r} is not an RFC 3339 date-time")
    return Article(id=obj["id"], text=text, title=obj.get("title"), url=obj.get("url"),
                   source=obj.get("source"), published_at=published, language=obj.get("language"))


def max_message_bytes(max_text_chars: int) -> int:
    """The largest message worth parsing: any JSON article within ``max_text_chars`` fits (≤ 6 bytes per
    escaped character) with room for the other fields."""
    return 8 * max_text_chars + 65536


def decode_article(raw: bytes | None, max_text_chars: int) -> Article:
    """Bytes of one message or line → ``Article``; raise ``Rejected`` for anything unusable."""
    if raw is None:
        raise Rejected("empty_message", "the message has no value")
    if len(raw) > max_message_bytes(max_text_chars):  # checked before parsing: parsing costs memory and time
        raise Rejected("oversized_text", f"the message has {len(raw)} bytes, the limit is "
                                         f"{max_message_bytes(max_text_chars)} (8 per allowed text character + 64 KiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_utf8", f"byte {exc.start} is not UTF-8") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # "[[[[…" nested deeper than the parser's stack: a bad record, not a crash
        raise Rejected("invalid_json", "JSON nested too deeply") from None
    return article_from_obj(obj, max_text_chars)
