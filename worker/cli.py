"""Command line: ``tension-worker {run,demo,broker,classify,train,evaluate}``.

Exit codes: 0 success; 1 runtime failure; 2 usage or configuration error (one line on stderr);
130 interrupted before finishing (classify/train).
"""

from __future__ import annotations

import argparse
import sys

from worker import __version__
from worker.config import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", action="version", version=f"tension-worker {__version__}")
    p.add_argument("--log-format", choices=["text", "json"], help="log format (overrides logging.format)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log level (overrides logging.level)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tension-worker",
        description="Find diplomatic tension signals in news articles, with evidence; stream them from Kafka.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="consume articles from Kafka, publish alerts (the worker)")
    run.add_argument("--config", required=True, help="YAML config file (see config/worker.yaml)")
    run.add_argument("--bootstrap-servers", help="HOST:PORT[,HOST:PORT] (overrides kafka.bootstrap_servers)")
    _add_common(run)

    demo = sub.add_parser("demo", help="embedded broker + worker on the sample articles in seeds/")
    demo.add_argument("--keep-running", action="store_true", help="keep broker and worker up until Ctrl-C")
    demo.add_argument("--port", type=int, default=0, help="broker port (default: a free loopback port)")
    demo.add_argument("--metrics-port", type=int, default=9108, help="metrics port (0: a free port)")
    demo.add_argument("--seeds", default=None, help="folder of sample articles (default: seeds/)")
    demo.add_argument("--config", help="YAML config file for the worker part")
    _add_common(demo)

    broker = sub.add_parser("broker", help="run the embedded Kafka-protocol broker (Tansu) in the foreground")
    broker.add_argument("--port", type=int, default=9092, help="loopback port (default 9092)")
    _add_common(broker)

    classify = sub.add_parser("classify", help="classify JSONL articles from a file or stdin")
    classify.add_argument("--input", default="-", help="JSONL articles, or - for stdin (default)")
    classify.add_argument("--output", default="-", help="JSONL results, or - for stdout (default)")
    classify.add_argument("--config", help="YAML config file (model and input sections are used)")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_common(classify)

    train = sub.add_parser("train", help="train the classifier on the labelled data")
    train.add_argument("--data", required=True, help="the training data folder (../shared/data)")
    train.add_argument("--out", required=True, help="output model directory")
    train.add_argument("--epochs", type=float, default=None, help="training epochs (default from recipe)")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--base-model", help="Hugging Face model directory (default: pinned MiniLM)")
    train.add_argument("--quick", action="store_true", help="small subset, for smoke tests")
    train.add_argument("--oof-cache", help="JSON file: reuse (or save) the cross-validation's out-of-fold scores")
    train.add_argument("--cv-only", action="store_true", help="cross-validate and report; train no model")
    train.add_argument("--type-pos-weight", choices=["sqrt", "none"], default=None,
                       help="class balance of the type loss (default from recipe: none)")
    train.add_argument("--fold-real-train", choices=["yes", "no"], default=None,
                       help="fold real-train's items in cross-validation too (default from recipe: yes)")
    train.add_argument("--recipe", action="append", default=[], metavar="KEY=VALUE",
                       help="set a recipe value (JSON), e.g. plover_limit=4500; repeatable (keys: the model card's recipe)")
    train.add_argument("--own-labels", help="our two-annotator label files, comma-separated: names in "
                                            "worker/training/data or paths; 'none' to train without them "
                                            "(default: the recipe's, rams_labels.jsonl)")
    _add_common(train)

    evaluate = sub.add_parser("evaluate", help="score the classifier on a labelled file (real items, articles "
                                                "or sentences)")
    evaluate.add_argument("--data", required=True,
                          help="real-dev/real-train JSONL items, article JSONL with alert, sentence JSONL with "
                               "text and types, or TSV sentence<TAB>label")
    evaluate.add_argument("--model", help="model directory (default: the shipped model)")
    evaluate.add_argument("--split", choices=("dev", "heldout"),
                          help="real-dev items: evaluate only this part (the heldout part once, at the end)")
    evaluate.add_argument("--config", help="YAML config file")
    _add_common(evaluate)

    bench = sub.add_parser("bench", help="measure throughput and latency against a naive worker, in one run")
    bench.add_argument("--input", help="JSONL articles to use (default: seeds/ plus generated long ones)")
    bench.add_argument("--long", type=int, default=48, help="generated long articles (600-1,200 words; default 48)")
    bench.add_argument("--count", type=int, default=240, help="articles sent through Kafka (default 240)")
    bench.add_argument("--naive-count", type=int, default=0, help="articles for the naive worker (default --count)")
    bench.add_argument("--latency-seconds", type=float, default=30.0,
                       help="how long articles arrive at half the measured rate (default 30)")
    bench.add_argument("--threads", type=int, default=0, help="inference threads (default: the CPU quota)")
    bench.add_argument("--bootstrap-servers", help="an existing broker (default: the embedded one)")
    bench.add_argument("--no-kafka", action="store_true", help="classify only, no broker")
    bench.add_argument("--no-naive", action="store_true", help="skip the naive worker")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--config", help="YAML config file (model, batch and input sections)")
    _add_common(bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from worker.run import main_run
            return main_run(args)
        if args.command == "demo":
            from worker.demo import main_demo
            return main_demo(args)
        if args.command == "broker":
            from worker.demo import main_broker
            return main_broker(args)
        if args.command == "classify":
            from worker.classify import main_classify
            return main_classify(args)
        if args.command == "train":
            from worker.training.train import main_train
            return main_train(args)
        if args.command == "bench":
            from worker.benchmark.command import main_bench
            return main_bench(args)
        if args.command == "evaluate":
            from worker.training.evaluate import main_evaluate
            return main_evaluate(args)
    except ConfigError as err:
        print(f"tension-worker: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
