"""Article validation (the reasons the worker dead-letters with) and the messages it publishes (no broker)."""

from __future__ import annotations

import json

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from worker.kafka.messages import alert_message, dead_letter, messages_for
from worker.models.article import Rejected, decode_article
from worker.processing import Outcome

GOOD = {"id": "a1", "text": "Troops massed on the border.", "title": "T", "published_at": "2024-05-01T10:00:00Z"}


@pytest.mark.parametrize("raw, reason", [
    (None, "empty_message"),
    (b"\xff\xfe{}", "invalid_utf8"),
    (b"{not json", "invalid_json"),
    (b"[" * 20_000 + b"]" * 20_000, "invalid_json"),  # deeper than the parser's stack, within the byte limit
    (b'{"id": "a", "text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "invalid_json"),
    (b"[1, 2]", "invalid_schema"),
    (b'{"id": 7, "text": "x"}', "invalid_schema"),
    (b'{"id": "a", "text": 3}', "invalid_schema"),
    (b'{"id": "a", "text": "x", "published_at": "yesterday"}', "invalid_schema"),
    (b'{"id": "a"}', "missing_text"),
    (b'{"id": "a", "text": null}', "missing_text"),
    (b'{"id": "a", "text": " \\n\\t"}', "empty_text"),
    (json.dumps({"id": "a", "text": "x" * 101}).encode(), "oversized_text"),
    (b" " * (8 * 100 + 65537), "oversized_text"),  # over the byte limit: refused before parsing
    (b'{"id": "a", "text": "lone \\ud800 surrogate"}', "invalid_text"),
    (b'{"id": "\\udfff", "text": "x"}', "invalid_text"),
])
def test_rejections_name_the_reason(raw, reason):
    with pytest.raises(Rejected) as rej:
        decode_article(raw, max_text_chars=100)
    assert rej.value.reason == reason and rej.value.detail


def test_valid_article_decodes():
    article = decode_article(json.dumps({**GOOD, "extra": 1}).encode(), max_text_chars=100)  # unknown keys pass
    assert (article.id, article.text, article.title) == ("a1", GOOD["text"], "T")
    assert article.published_at == GOOD["published_at"]


def record(value, key=b"k", headers=None) -> ConsumerRecord:
    return ConsumerRecord(topic="in", partition=2, leader_epoch=0, offset=41, timestamp=0, timestamp_type=0,
                          key=key, value=value, headers=headers or [], checksum=None, serialized_key_size=1,
                          serialized_value_size=0, serialized_header_size=0)


def test_dead_letter_keeps_original_bytes_and_headers():
    m = dead_letter("dlq", record(b"\xff", headers=[("trace", b"1")]), "invalid_utf8", "byte 0")
    assert (m.topic, m.key, m.value) == ("dlq", b"k", b"\xff")
    assert m.headers[0] == ("trace", b"1")
    h = dict(m.headers)
    assert h["dlq.reason"] == b"invalid_utf8" and h["dlq.detail"] == b"byte 0"
    assert (h["dlq.source.topic"], h["dlq.source.partition"], h["dlq.source.offset"]) == (b"in", b"2", b"41")


def test_dead_letter_of_a_record_with_neither_key_nor_value_is_sendable():
    m = dead_letter("dlq", record(None, key=None), "empty_message", "no value")
    assert m.value is None and m.key == b"" and dict(m.headers)["dlq.source.key"] == b"null"


def test_only_alerts_are_published():
    result = {"article": {"id": "a1"}, "alert_id": "f" * 32, "alert": True, "tension": {"level": "high"}}
    alert = alert_message("alerts", result)
    assert alert.key == b"a1" and json.loads(alert.value) == result
    assert dict(alert.headers)["alert_id"] == b"f" * 32
    assert messages_for(record(b"{}"), Outcome("a1", result={**result, "alert": False}), "alerts", "dlq") == []
    assert messages_for(record(b"{}"), Outcome("a1", result=result), "alerts", "dlq")[0].topic == "alerts"
    dlq = messages_for(record(b"{}"), Outcome(None, reason="invalid_schema", detail="d"), "alerts", "dlq")
    assert dlq[0].topic == "dlq"


def test_permanent_publish_errors_fall_back_to_smaller_dead_letters():
    from kafka.errors import MessageSizeTooLargeError

    result = {"article": {"id": "a1"}, "alert_id": "f" * 32, "alert": True, "tension": {"level": "high"}}
    alert = messages_for(record(b'{"id": "a1"}'), Outcome("a1", result=result), "alerts", "dlq")[0]
    instead = alert.fallback(MessageSizeTooLargeError("too big"))
    h = dict(instead.headers)
    assert (instead.topic, instead.value, h["dlq.reason"]) == ("dlq", b'{"id": "a1"}', b"unpublishable_alert")
    assert b"MessageSizeTooLargeError" in h["dlq.detail"]
    last = instead.fallback(MessageSizeTooLargeError("still too big"))
    h = dict(last.headers)
    assert last.value is None and h["dlq.reason"] == b"unpublishable_alert" and b"(13 bytes)" in h["dlq.truncated"]
    assert (h["dlq.source.partition"], h["dlq.source.offset"]) == (b"2", b"41") and last.fallback is None


def test_a_record_without_published_at_counts_history_from_its_kafka_timestamp():
    from worker.classifier.pipeline import reference_year
    from worker.models.article import Article
    from worker.processing import Processor

    class Recording:  # records what the processor hands to a classifier
        name, version, seen = "rec", "0", []

        def classify(self, articles):
            self.seen += articles
            return [{"alert": False} for _ in articles]

    rec = Recording()
    ts_2019 = 1_560_000_000_000  # 2019-06-08
    Processor(rec, 1000).process([json.dumps({"id": "a", "text": "x"}).encode()] * 2, [ts_2019, None])
    assert [reference_year(a) for a in rec.seen][0] == 2019
    assert reference_year(rec.seen[1]) >= 2026  # no timestamp (files): the current year
    dated = Article(id="b", text="x", published_at="2021-03-01T00:00:00Z", received_year=2019)
    assert reference_year(dated) == 2021  # published_at wins


def test_broker_connectivity_goes_down_only_after_continuous_trouble():
    from worker.kafka.connectivity import Connectivity

    now = [0.0]
    c = Connectivity(down_after_s=6, clock=lambda: now[0])
    assert not c.ok  # nothing seen yet
    c.good()
    c.bad()  # a failed produce or a moment without connections ...
    now[0] = 5.9
    c.bad()
    assert c.ok  # ... does not flap readiness
    c.good()  # recovered: the trouble starts over
    now[0] = 11.0
    c.bad()
    assert c.ok
    now[0] = 17.0
    c.bad()
    assert not c.ok  # 6 s of continuous trouble
    c.good()
    assert c.ok  # up at once
