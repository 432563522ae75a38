"""``tension-worker bench``: one run, same articles, the worker against the naive one; prints a table.

Measures: articles/s through a real broker (the worker in its own process; rate counted from its
``tension_worker_articles_processed_total`` after the first batch), ``classify`` articles/s (model loaded,
warm), p50/p95 publish→alert latency at half the measured rate, CPU-seconds per article, effective GFLOP/s
(encoder FLOPs of what was read) against an fp32 GEMM peak measured here, and the share of each article's
tokens each one read. The broker is the embedded Tansu unless ``--bootstrap-servers`` names one.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from worker.benchmark.compute import gemm_peak, percentile
from worker.benchmark.corpus import bench_articles
from worker.config import load_config


def _row(name: str, ours, naive, fmt: str) -> str:
    cell = lambda v: "–" if v is None else format(v, fmt)  # noqa: E731
    ratio = f"{ours / naive:.2f}×" if ours is not None and naive else "–"
    return f"| {name} | {cell(ours)} | {cell(naive)} | {ratio} |"


def table(figures: dict) -> str:
    ours, naive, peak = figures["ours"], figures.get("naive", {}), figures["gemm_peak_gflops"]
    get = lambda d, *keys: d.get(keys[0], {}).get(keys[1]) if keys[0] in d else None  # noqa: E731
    lat = figures["ours"].get("kafka", {}).get("latency_s") or []
    lines = [f"machine: {figures['machine']}; threads {figures['threads']}; fp32 GEMM peak {peak:.0f} GFLOP/s; "
             f"{figures['articles']} articles, median {figures['median_words']} words",
             "", "| | tension-worker | naive worker | ratio |", "|---|---|---|---|",
             _row("articles/s through Kafka", get(ours, "kafka", "articles_per_s"),
                  get(naive, "kafka", "articles_per_s"), ".2f"),
             _row("articles/s, classify (no Kafka)", get(ours, "offline", "articles_per_s"),
                  get(naive, "offline", "articles_per_s"), ".2f"),
             _row("CPU-seconds per article, Kafka", get(ours, "kafka", "cpu_s_per_article"),
                  get(naive, "kafka", "cpu_s_per_article"), ".3f"),
             _row("effective GFLOP/s, classify", get(ours, "offline", "gflop_per_s"),
                  get(naive, "offline", "gflop_per_s"), ".1f"),
             _row("share of the GEMM peak", get(ours, "offline", "gflop_per_s") / peak,
                  (get(naive, "offline", "gflop_per_s") or 0) / peak or None, ".0%"),
             _row("share of each article's tokens read", get(ours, "offline", "tokens_read_share"),
                  get(naive, "offline", "tokens_read_share"), ".0%")]
    if lat:
        lines.append(f"\npublish→alert latency at half load ({len(lat)} alerts of "
                     f"{ours['kafka']['latency_articles']} articles): p50 {percentile(lat, 50):.2f} s, "
                     f"p95 {percentile(lat, 95):.2f} s")
    return "\n".join(lines)


def main_bench(args) -> int:
    from worker.classifier.model import cpu_quota
    from worker.classifier.pipeline import load_classifier
    from worker.benchmark.offline import measure_naive, measure_ours

    cfg = load_config(args.config, overrides={"model.num_threads": args.threads} if args.threads else None)
    articles = bench_articles(args.input, args.long)
    threads = cfg.model.num_threads or cpu_quota()
    words = sorted(len(a["text"].split()) for a in articles)
    figures: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                     "threads": threads, "articles": len(articles), "median_words": words[len(words) // 2],
                     "gemm_peak_gflops": gemm_peak(threads), "ours": {}, "naive": {}}
    classifier = load_classifier(cfg.model)
    figures["ours"]["offline"] = measure_ours(classifier, articles, cfg.batch.max_records, cfg.input.max_text_chars)
    del classifier
    if not args.no_naive:
        from worker.benchmark.naive import NaiveClassifier

        figures["naive"]["offline"] = measure_naive(NaiveClassifier(threads), articles)
    if not args.no_kafka:
        _through_kafka(args, articles, cfg.model_dump(), figures)
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    return 0


def _through_kafka(args, articles: list[dict], config: dict, figures: dict) -> None:
    from worker.benchmark.through_kafka import measure_naive_worker, measure_worker
    from worker.broker import EmbeddedBroker

    broker = None if args.bootstrap_servers else EmbeddedBroker().start()
    bootstrap = args.bootstrap_servers or broker.bootstrap_servers
    logs = Path(tempfile.mkdtemp(prefix="tension-bench-"))
    try:
        count = max(args.count, 3 * config["batch"]["max_records"])  # the rate is counted after the first batch
        figures["ours"]["kafka"] = measure_worker(bootstrap, articles, count, args.latency_seconds, config,
                                                  logs / "worker.log")
        if not args.no_naive:
            figures["naive"]["kafka"] = measure_naive_worker(bootstrap, articles, args.naive_count or count,
                                                             logs / "naive.log")
    finally:
        if broker:
            broker.stop()
