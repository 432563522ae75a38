"""Whole-article inference speed: one 600-word article, classified end to end (split, encode, decide).

Usage: python scripts/benchmark.py [--runs 20] [--words 600] [--threads 0]

Both backends are loaded in the same process and timed interleaved (the machines are noisy, so
compare ratios from one run). The article is built from the sample articles in seeds/ and cut at
--words words. Reports median and p90 seconds per article and the torch/onnx ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from worker.classifier.model import cpu_quota, load_model
from worker.classifier.pipeline import TensionClassifier
from worker.models.article import Article
from worker.seeds import find_seeds, load_seeds


def article_of(words: int) -> Article:
    texts = [article["text"] for _, article in load_seeds(find_seeds())]
    tokens = " ".join(texts).split()
    return Article(id="bench", text=" ".join(tokens[:words]), published_at="2021-12-08T06:00:00Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--words", type=int, default=600)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    article = article_of(args.words)
    backends = {b: TensionClassifier(load_model(num_threads=args.threads, backend=b)) for b in ("onnx-int8", "torch")}
    tokens = len(backends["torch"].model.tokenizer(article.text)["input_ids"])
    times: dict[str, list[float]] = {b: [] for b in backends}
    for clf in backends.values():
        clf.classify([article])  # warm-up
    for _ in range(args.runs):
        for name, clf in backends.items():
            start = time.perf_counter()
            clf.classify([article])
            times[name].append(time.perf_counter() - start)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, quota {cpu_quota()}, "
          f"threads {args.threads or cpu_quota()}")
    print(f"article: {len(article.text.split())} words, {tokens} tokens; {args.runs} runs per backend, interleaved")
    for name, ts in times.items():
        ts.sort()
        print(f"{name:>10}: median {statistics.median(ts):.3f} s, p90 {ts[int(0.9 * (len(ts) - 1))]:.3f} s per article")
    ratio = statistics.median(times["torch"]) / statistics.median(times["onnx-int8"])
    print(f"speed-up onnx-int8 over torch: {ratio:.2f}x")


if __name__ == "__main__":
    main()
