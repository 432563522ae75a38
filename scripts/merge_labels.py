"""Merge two independent annotators' labels of the same RAMS excerpts into worker/training/data's
rams_labels.jsonl (labels only, no text), and print their agreement per batch and overall.

    python3 scripts/merge_labels.py OUT.jsonl batch1_A.jsonl batch1_B.jsonl [batch2_A.jsonl batch2_B.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from worker.training.own_labels import agreement, merge


def read(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def main(out: str, *files: str) -> None:
    merged, report, pairs_all = [], {}, []
    for a_path, b_path in zip(files[::2], files[1::2]):
        a, b = {r["id"]: r for r in read(a_path)}, {r["id"]: r for r in read(b_path)}
        if set(a) != set(b):
            raise SystemExit(f"{a_path} and {b_path} label different items")
        pairs = [(a[i], b[i]) for i in sorted(a)]
        report[Path(a_path).stem.rsplit("_", 1)[0]] = agreement(pairs)
        pairs_all += pairs
        merged += [merge(x, y) for x, y in pairs]
    report["all"] = agreement(pairs_all)
    Path(out).write_text("".join(json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n"
                                 for m in sorted(merged, key=lambda m: m["id"])), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
