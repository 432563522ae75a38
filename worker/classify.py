"""``tension-worker classify``: JSONL articles in, results out in input order; bad lines become error objects.

Same code path as ``run``: ``Processor`` decodes, validates and classifies; only the adapters differ.
"""

from __future__ import annotations

import logging

from tqdm import tqdm

from worker.config import ConfigError, load_config
from worker.logs import setup_logging
from worker.processing import Outcome, Processor
from worker.sinks.files import open_output, write_jsonl
from worker.sources.files import check_readable, chunks, count_lines, open_input, read_lines

log = logging.getLogger(__name__)


def error_object(line: int, outcome: Outcome) -> dict:
    return {"error": {"reason": outcome.reason, "detail": outcome.detail}, "id": outcome.article_id, "line": line}


def main_classify(args) -> int:
    cfg = load_config(args.config)
    setup_logging(args.log_level or cfg.logging.level, args.log_format or cfg.logging.format)
    problem = check_readable(args.input)
    if problem:
        raise ConfigError(problem)
    from worker.classifier.pipeline import load_classifier

    processor = Processor(load_classifier(cfg.model), cfg.input.max_text_chars)
    total = count_lines(args.input)
    show = not args.no_progress and args.input != "-"
    errors = 0
    with open_input(args.input) as src, tqdm(total=total, unit="article", disable=not show, desc="classify") as bar:
        out = open_output(args.output)
        try:
            for batch in chunks(read_lines(src), cfg.batch.max_records):
                outcomes = processor.process([raw for _, raw in batch])
                rows = [o.result if o.ok else error_object(n, o) for (n, _), o in zip(batch, outcomes)]
                errors += sum(not o.ok for o in outcomes)
                write_jsonl(out, rows)
                bar.update(len(batch))
        finally:
            if out is not None and args.output != "-":
                out.close()
    if errors:
        log.warning("%d input line(s) could not be classified; see the error objects in the output", errors)
    return 0
