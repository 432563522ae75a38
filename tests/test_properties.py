"""Property tests, raw input to outcome (issue #10): whatever bytes arrive, the real processor gives exactly
one outcome per input (a result or a dead-letter reason), the messages for it can be built, and nothing
raises."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.consumer.fetcher import ConsumerRecord

from worker.kafka.messages import messages_for
from worker.processing import Processor

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WEIRD = st.sampled_from(["\u202e", "\u200b", "\u0000", "\ud800", "\udfff", "\ufeff", "\u05e9\u05dc\u05d5\u05dd",
                         "\U0001f600", "\r\n", "\n\n", ".", "?!", "U.S.", "\\", '"'])
TEXT = st.lists(st.one_of(st.text(max_size=40), WEIRD, st.just("Russia threatened Ukraine. ")), max_size=12).map("".join)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
ARTICLE = st.fixed_dictionaries({"id": TEXT, "text": TEXT},
                                optional={"title": st.none() | TEXT, "published_at": st.none() | TEXT | st.just(
                                    "2024-05-01T10:00:00Z"), "url": TEXT, "extra": JSON})


def record(value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(topic="in", partition=0, leader_epoch=0, offset=7, timestamp=1_700_000_000_000,
                          timestamp_type=0, key=b"k", value=value, headers=[], checksum=None, serialized_key_size=1,
                          serialized_value_size=0, serialized_header_size=0)


@pytest.fixture(scope="module")
def processor(classifier):
    return Processor(classifier, 100_000)


def one_outcome(processor, raw: bytes | None) -> None:
    outcomes = processor.process([raw], [1_700_000_000_000])
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert (outcome.result is None) == bool(outcome.reason)
    assert outcome.reason != "classifier_error", outcome.detail  # what validation lets through, the model takes
    for message in messages_for(record(raw), outcome, "alerts", "dlq"):
        if message.topic == "alerts":
            assert json.loads(message.value)["article"]["id"] == outcome.result["article"]["id"]
        else:
            assert message.value == raw and dict(message.headers)["dlq.reason"] == outcome.reason.encode()


@SETTINGS
@given(raw=st.binary(max_size=3000) | st.none())
def test_any_bytes(processor, raw):
    one_outcome(processor, raw)


@SETTINGS
@given(value=JSON)
def test_any_json_value(processor, value):
    one_outcome(processor, json.dumps(value).encode())


@SETTINGS
@given(article=ARTICLE)
def test_any_article(processor, article):
    one_outcome(processor, json.dumps(article).encode())


@pytest.mark.parametrize("text", [
    "Troops massed at the border " * 700,  # one 19,600-character sentence
    "Word. " * 10_000,  # 10,000 one-word sentences
    "\u202eRussia threatened Ukraine.\u200b\u0000 Talks \ufeffcontinued.",
    "[" * 5000,
])
def test_extreme_texts(processor, text):
    one_outcome(processor, json.dumps({"id": "x", "text": text}).encode())
