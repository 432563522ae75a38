"""``tension-worker bench`` runs end to end (embedded broker, the worker and the naive one) and reports every
figure; no speed is asserted (the machines are noisy: the figures live in the README, with the command)."""

import json

import yaml

from conftest import cli


def test_bench_reports_every_figure_for_both_workers(tmp_path):
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump({"batch": {"max_records": 4, "max_wait_ms": 100}}))
    proc = cli("bench", "--config", str(config), "--long", "2", "--count", "8", "--naive-count", "6",
               "--latency-seconds", "3", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    ours, naive = figures["ours"], figures["naive"]
    assert figures["articles"] == 14 and figures["gemm_peak_gflops"] > 1
    for side in (ours, naive):
        assert side["offline"]["articles_per_s"] > 0 and side["offline"]["cpu_s_per_article"] > 0
        assert side["kafka"]["articles_per_s"] > 0 and side["kafka"]["cpu_s_per_article"] > 0
    assert ours["offline"]["tokens_read_share"] > 0.95  # every sentence of every article
    assert naive["offline"]["tokens_read_share"] < ours["offline"]["tokens_read_share"]  # 512 tokens at most
    assert ours["kafka"]["latency_s"] and all(0 < s < 60 for s in ours["kafka"]["latency_s"])


def test_bench_table_and_a_bad_input_file(tmp_path):
    proc = cli("bench", "--input", str(tmp_path / "missing.jsonl"), "--no-kafka")
    assert proc.returncode == 2 and "missing.jsonl" in proc.stderr and "Traceback" not in proc.stderr
    articles = tmp_path / "a.jsonl"
    articles.write_text("\n".join(json.dumps({"id": f"a{n}", "text": "Troops massed at the border. Talks failed."})
                                  for n in range(3)) + "\n" + json.dumps({"id": "empty", "text": ""}) + "\n")
    proc = cli("bench", "--input", str(articles), "--no-kafka", "--no-naive")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| articles/s, classify (no Kafka) |" in proc.stdout and "GEMM peak" in proc.stdout
