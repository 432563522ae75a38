"""Articles per second without Kafka: the worker's classifier (``classify``'s path) and the naive one."""

from __future__ import annotations

import time

from worker.benchmark.compute import encoder_flops
from worker.processing import Processor
from worker.seeds import encode


def sentence_tokens(classifier, articles: list[dict]) -> list[int]:
    """Tokens of every sentence the worker classifies (each truncated at ``max_tokens``)."""
    from worker.classifier.sentences import split_sentences

    model = classifier.model
    sentences = [s for a in articles for s in split_sentences(a["text"])]
    return [min(len(ids), model.max_tokens) for ids in model.tokenizer(sentences)["input_ids"]]


def article_tokens(tokenizer, articles: list[dict]) -> int:
    """Word pieces of all articles (no special tokens): what reading every sentence covers."""
    return sum(len(ids) for ids in tokenizer([a["text"] for a in articles], add_special_tokens=False)["input_ids"])


def measure_ours(classifier, articles: list[dict], batch: int, max_text_chars: int) -> dict:
    """Warm, then classify every article in batches of ``batch`` through ``Processor`` (as ``classify``)."""
    processor = Processor(classifier, max_text_chars)
    raw = [encode(a) for a in articles]
    processor.process(raw[:batch])
    wall, cpu = time.perf_counter(), time.process_time()
    for k in range(0, len(raw), batch):
        processor.process(raw[k:k + batch])  # a rejected article costs what it costs the worker
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return _figures(articles, wall, cpu, sentence_tokens(classifier, articles), classifier.model.tokenizer)


def measure_naive(naive, articles: list[dict]) -> dict:
    naive.classify(articles[0])
    wall, cpu = time.perf_counter(), time.process_time()
    for article in articles:
        naive.classify(article)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return _figures(articles, wall, cpu, [naive.tokens_read(a["text"]) for a in articles], naive.tokenizer)


def _figures(articles: list[dict], wall: float, cpu: float, sequences: list[int], tokenizer) -> dict:
    """Rates from one timed pass; ``sequences``: the length of every sequence read (special tokens included)."""
    return {"articles": len(articles), "seconds": wall, "articles_per_s": len(articles) / wall,
            "cpu_s_per_article": cpu / len(articles), "gflop_per_s": sum(map(encoder_flops, sequences)) / wall / 1e9,
            "tokens_read_share": sum(t - 2 for t in sequences) / article_tokens(tokenizer, articles)}
