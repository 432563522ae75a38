"""Our own two-annotator labels of real text under the codebook (see ``data/README.md``): RAMS news
excerpts (``../shared/data/rams``, ``rams_labels.jsonl``) and Kremlin releases (``kremlin_labels.jsonl``),
and a second annotator's labels of real-train (``real_train_second.jsonl``, labels only).

For RAMS the repository keeps labels only, never the news text (short quotations of copyrighted articles):
each record names its excerpt by RAMS ``doc_key``; ``load_own_items`` joins it with the text at training
time. Kremlin releases are CC BY 4.0 ("President of Russia, en.kremlin.ru"): their records carry the text.
``merge`` turns the two annotators' outputs into real-dev's schema (what both gave counts, what one gave is
disputed); ``agreement`` measures them as real-dev's AGREEMENT.json does.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from worker.training.real import TRAIN_FILE, Item, item_of

RAMS_FILE = "rams/rams_dev_test.jsonl.gz"
OWN_SET = "rams-own"  # the ``set`` of our RAMS items
OWN_KREMLIN_SET = "kremlin-own"  # ... and of our Kremlin releases
OWN_SETS = (OWN_SET, OWN_KREMLIN_SET)
LABELS_FILE = Path(__file__).resolve().parent / "data" / "rams_labels.jsonl"


def detokenize(tokens: list[str]) -> str:
    """A RAMS token list back to readable text (spacing around punctuation, clitics, brackets)."""
    s = " ".join(tokens)
    s = re.sub(r" ([,.;:!?%)\]}])", r"\1", s)
    s = re.sub(r"([(\[{$]) ", r"\1", s)
    s = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", s)
    s = s.replace("`` ", '"').replace(" ''", '"').replace("-LRB- ", "(").replace(" -RRB-", ")")
    return re.sub(r'" (.*?) "', r'"\1"', s)


def rams_texts(root: Path) -> dict[str, list[str]]:
    """doc_key -> the excerpt's sentences."""
    with gzip.open(Path(root) / RAMS_FILE, "rt", encoding="utf-8") as f:
        return {r["doc_key"]: [detokenize(s) for s in r["sentences"]] for r in map(json.loads, f)}


def _types(sentence: dict) -> dict[str, dict]:
    return {s["type"]: s for s in sentence.get("signals", [])}


def merge(a: dict, b: dict, source: dict | None = None) -> dict:
    """Two annotators' records of one item -> one record in real-dev's schema; without text, unless the
    annotated ``source`` item is a release with a title (Kremlin, CC BY 4.0), whose text the record keeps."""
    keep = bool(source and source.get("title"))
    sentences = []
    for sa, sb in zip(a["sentences"], b["sentences"]):
        ta, tb = _types(sa), _types(sb)
        both = [{"type": t, "modality": ta[t].get("modality") if ta[t].get("modality") == tb[t].get("modality")
                 else None, "background": ta[t].get("background") if ta[t].get("background") ==
                 tb[t].get("background") else None} for t in sorted(ta.keys() & tb.keys())]
        sentences.append({"i": sa["i"], "signals_both": both, "signals_disputed": sorted(ta.keys() ^ tb.keys())}
                         | ({"text": source["sentences"][sa["i"]]} if keep else {}))
    about = {k: source[k] for k in ("title", "date", "url") if k in source} if keep else {}
    return {"id": a["id"], "set": OWN_KREMLIN_SET if keep else OWN_SET, "split": "train", **about,
            "sentences": sentences,
            "alert": a["alert"] if a["alert"] == b["alert"] else None,
            "tension": a["tension"] if a["tension"] == b["tension"] else None,
            "signals_both": sorted(set(a["signals"]) & set(b["signals"])),
            "signals_disputed": sorted(set(a["signals"]) ^ set(b["signals"])),
            "dyads_A": a["dyads"], "dyads_B": b["dyads"]}


def agreement(pairs: list[tuple[dict, dict]]) -> dict:
    """Alert Cohen's kappa, tension agreement, sentence-signal micro-F1 and dyad F1 between annotators."""
    from sklearn.metrics import cohen_kappa_score

    both = only = 0
    dy_both = dy_only = 0
    for a, b in pairs:
        for sa, sb in zip(a["sentences"], b["sentences"]):
            ta, tb = _types(sa).keys(), _types(sb).keys()
            both, only = both + len(ta & tb), only + len(ta ^ tb)
        da, db = ({tuple(sorted(d)) for d in x["dyads"]} for x in (a, b))
        dy_both, dy_only = dy_both + len(da & db), dy_only + len(da ^ db)
    f1 = lambda agree, differ: 2 * agree / (2 * agree + differ) if agree + differ else 1.0  # noqa: E731
    return {"items": len(pairs),
            "alert_kappa": round(float(cohen_kappa_score([a["alert"] for a, _ in pairs],
                                                         [b["alert"] for _, b in pairs])), 3),
            "tension_agreement": round(sum(a["tension"] == b["tension"] for a, b in pairs) / len(pairs), 3),
            "sentence_signal_micro_f1": round(f1(both, only), 3), "dyad_f1": round(f1(dy_both, dy_only), 3)}


def load_own_items(root: Path, labels: Path = LABELS_FILE) -> list[Item]:
    """Our labelled items as items (a RAMS excerpt's text from ``root``'s rams file)."""
    texts = None
    items = []
    for obj in map(json.loads, labels.read_text(encoding="utf-8").splitlines()):
        if obj["set"] == OWN_SET:
            texts = texts or rams_texts(root)
            obj["sentences"] = [{**s, "text": texts[obj["id"]][s["i"]]} for s in obj["sentences"]]
        items.append(item_of(obj))
    return items


def load_real_train_two(root: Path, second: Path) -> list[Item]:
    """real-train's items, each with a second annotator's labels from ``second`` merged into real-dev's
    schema (agreed labels count, the rest disputed); an item ``second`` lacks keeps its one annotator."""
    lines = [line for line in second.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = {o["id"]: o for o in map(json.loads, lines)}
    items = []
    for obj in map(json.loads, (Path(root) / TRAIN_FILE).read_text(encoding="utf-8").splitlines()):
        if obj["id"] in ours:
            merged = merge(obj, ours[obj["id"]])
            merged["sentences"] = [{**m, "text": s["text"]} for m, s in zip(merged["sentences"], obj["sentences"])]
            obj = {**merged, **{k: obj[k] for k in ("set", "title", "date", "url", "source_url") if k in obj}}
        items.append(item_of(obj))
    return items
