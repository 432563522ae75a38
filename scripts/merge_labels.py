"""Merge two independent annotators' labels of the same items into one of worker/training/data's label
files (RAMS excerpts: labels only; Kremlin releases: with their text), and print their agreement per batch
and overall.

    python3 scripts/merge_labels.py OUT.jsonl batch1.json batch1_A.jsonl batch1_B.jsonl [batch2.json ...]

``batchN.json`` is the list of items the annotators were given (``id``, ``sentences``, and ``title``,
``date``, ``url`` for releases).
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
    for batch_path, a_path, b_path in zip(files[::3], files[1::3], files[2::3]):
        source = {r["id"]: r for r in json.loads(Path(batch_path).read_text(encoding="utf-8"))}
        a, b = {r["id"]: r for r in read(a_path)}, {r["id"]: r for r in read(b_path)}
        if not set(a) == set(b) == set(source):
            raise SystemExit(f"{batch_path}, {a_path} and {b_path} hold different items")
        for i in source:
            if not [s["i"] for s in a[i]["sentences"]] == [s["i"] for s in b[i]["sentences"]] == list(
                    range(len(source[i]["sentences"]))):
                raise SystemExit(f"{i}: the annotators' sentences do not match the item's {len(source[i]['sentences'])}")
        pairs = [(a[i], b[i]) for i in sorted(a)]
        report[Path(batch_path).stem] = agreement(pairs)
        pairs_all += pairs
        merged += [merge(a[i], b[i], source[i]) for i in sorted(a)]
    report["all"] = agreement(pairs_all)
    Path(out).write_text("".join(json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n"
                                 for m in sorted(merged, key=lambda m: m["id"])), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
