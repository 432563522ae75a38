"""`tension-worker train` end to end on a tiny data folder laid out like ../shared/data (our own sentences:
the tests must not read the shared data), then `evaluate` on the model it wrote, and the item metrics."""

import csv
import gzip
import hashlib
import json

import numpy as np
import pytest

from conftest import cli
from worker.classifier.model import load_model
from worker.training.itemeval import score_items
from worker.training.own_labels import merge
from worker.training.real import read_items

INTERSTATE = [
    ("Russian forces shelled Ukrainian border villages overnight, Kyiv said.", "ASSAULT", "elevated"),
    ("Chinese and Indian troops clashed on the disputed border.", "ASSAULT", "high"),
    ("The EU imposed new sanctions on Iranian officials.", "SANCTION", "elevated"),
    ("Japan and South Korea held talks in Seoul on Monday.", "CONSULT", "low"),
    ("France and Germany signed an agreement on energy cooperation.", "AGREE", "low"),
    ("North Korea threatened to strike American bases in Japan.", "THREATEN", "high"),
]
DOMESTIC = ["Police in Lagos arrested six men after a robbery at a market.",
            "Shares in Tokyo rose for a third day as exporters gained.",
            "The city council approved a new bus line to the airport.",
            "A storm cut power to thousands of homes in the north of the country."]
CAMEO = [("The president thanked his counterpart for the support.", 1),
         ("Rebels attacked a convoy on the highway, killing four.", 4),
         ("The ministry demanded the immediate release of the detained sailors.", 3),
         ("The minister will travel to the capital next week.", 0)]


def _item(n, text, kind, tension, two_annotators, split="dev"):
    signal = [{"type": kind, "modality": "asserted", "background": False}] if kind else []
    item = {"id": f"t{n}", "set": "ours", "title": "", "date": "2016-05-01",
            "alert": tension in ("elevated", "high"), "tension": tension}
    sentences = [{"i": 0, "text": text}, {"i": 1, "text": DOMESTIC[n % len(DOMESTIC)]}]
    if two_annotators:
        sentences[0].update(signals_both=signal, signals_disputed=[])
        sentences[1].update(signals_both=[], signals_disputed=[])
        item.update(split=split, signals_both=[kind] if kind and tension != "none" else [], signals_disputed=[],
                    dyads_A=[], dyads_B=[])
    else:
        sentences[0]["signals"], sentences[1]["signals"] = signal, []
        item.update(signals=[kind] if kind and tension != "none" else [], dyads=[])
    item["sentences"] = sentences
    return item


def _items(two_annotators, split="dev"):
    rows = [(t, k, lvl) for t, k, lvl in INTERSTATE] + [(t, None, "none") for t in DOMESTIC]
    return [_item(n, t, k, lvl, two_annotators, split) for n, (t, k, lvl) in enumerate(rows * 2)]


def _data_folder(root):
    (root / "real-train").mkdir(parents=True)
    (root / "real-train" / "real_train.jsonl").write_text("".join(json.dumps(i) + "\n" for i in _items(False)))
    (root / "real-dev").mkdir()
    dev = _items(True) + _items(True, "heldout")[:4]
    for n, item in enumerate(dev):
        item["id"] = f"d{n}"
    (root / "real-dev" / "real_dev.jsonl").write_text("".join(json.dumps(i) + "\n" for i in dev))
    (root / "cameo-train").mkdir()
    (root / "cameo-train" / "conflibert_cameo_train.tsv").write_text(
        "".join(f"{t}\t{label}\n" for t, label in CAMEO * 4))
    (root / "rams").mkdir()  # three tokenised five-sentence excerpts, and our two annotators' merged labels
    excerpts = [{"doc_key": f"r{n}", "sentences": [t.split() for t, *_ in INTERSTATE[n:n + 2]] +
                 [t.split() for t in DOMESTIC[:3]]} for n in range(3)]
    with gzip.open(root / "rams" / "rams_dev_test.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(e) + "\n" for e in excerpts)
    labels = [merge(*[{"id": f"r{n}", "alert": True, "tension": "elevated", "signals": [INTERSTATE[n][1]],
                       "dyads": [], "sentences": [{"i": i, "signals": [{"type": INTERSTATE[n][1], "modality":
                                                   "asserted", "background": False}] if i == 0 else []}
                                                  for i in range(5)]}] * 2) for n in range(3)]
    (root / "own_labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    (root / "plover-synthetic").mkdir()  # the ablation sources: synthetic stories, UN sentences
    with open(root / "plover-synthetic" / "gpt_synthetic_events_2023-10-19_19.csv", "w", newline="") as f:
        csv.writer(f).writerows([["text", "title", "label"]] + [[f"{t} More followed.", "headline", k]
                                                                for t, k, _ in INTERSTATE])
    (root / "un-quadclass").mkdir()
    (root / "un-quadclass" / "en_annotations_quad_multiclass.tsv").write_text(
        "en\tQuadClass\n" + "".join(f"{t}\t{n % 5}\n" for n, t in enumerate(DOMESTIC)))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data, out = _data_folder(root / "data"), root / "model"
    proc = cli("train", "--data", str(data), "--out", str(out), "--quick", "--epochs", "0.2", "--seed", "7",
               "--own-labels", str(data / "own_labels.jsonl"), "--fold-real-train", "yes",
               "--recipe", "plover_limit=4", "--recipe", "un_limit=3",
               "--oof-cache", str(root / "oof.json"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return data, out, proc


def test_cross_validation_scores_every_item_out_of_fold_but_never_the_heldout_part(trained):
    data, out, _ = trained
    oof = json.loads((out.parent / "oof.json").read_text())
    train_ids = [json.loads(line)["id"] for line in (data / "real-train" / "real_train.jsonl").read_text().splitlines()]
    dev = [json.loads(line) for line in (data / "real-dev" / "real_dev.jsonl").read_text().splitlines()]
    expected = set(train_ids) | {d["id"] for d in dev if d["split"] == "dev"} | {"r0", "r1", "r2"}
    assert set(oof["items"]) == set(oof["item_fold"]) == expected  # --fold-real-train: real-train's items too
    assert set(oof["item_fold"].values()) == {0, 1}
    assert all(len(oof["items"][i]["types"]) == 2 for i in train_ids)


def test_train_writes_a_loadable_model_with_its_item_layer_data_hashes_and_card(trained):
    data, out, proc = trained
    meta = json.loads((out / "model.json").read_text())
    assert json.loads(proc.stdout)["version"] == meta["version"] == meta["version"].split("+")[0] + "+s7-quick"
    rel = "real-dev/real_dev.jsonl"
    for rel in (rel, "rams/rams_dev_test.jsonl.gz"):
        assert meta["training"]["data_sha256"][rel] == hashlib.sha256((data / rel).read_bytes()).hexdigest()
    assert str(data / "own_labels.jsonl") in meta["training"]["data_sha256"]
    assert meta["training"]["sentences"]["real"] == 20 * 2 + 3 * 5 + 20 * 2  # real-train, ours, real-dev's dev
    assert meta["training"]["sentences"]["plover"] == 4 and meta["training"]["sentences"]["un"] == 3
    assert meta["training"]["recipe"]["plover_limit"] == 4
    assert "plover-synthetic/gpt_synthetic_events_2023-10-19_19.csv" in meta["training"]["data_sha256"]
    layer = meta["item_layer"]
    assert set(layer["thresholds"]) == set(meta["types"]) and len(layer["tension"]["coef"]) == len(layer["features"])
    assert meta["cv"]["items"]["n"] == 20 and meta["cv"]["folds"] == 2  # the dev part only, never heldout
    card = (out / "MODEL_CARD.md").read_text()
    assert meta["version"] in card and "Known limits" in card and "Cross-validated" in card
    model = load_model(out, backend="torch")
    pred = model.predict(["Country A shelled Country B.", "Shares rose."])
    assert pred.types.shape == (2, 16) and pred.quad.shape == (2, 5)
    assert np.all((pred.types >= 0) & (pred.types <= 1)) and np.allclose(pred.quad.sum(1), 1, atol=1e-4)


def test_evaluate_scores_real_items_of_one_split_with_the_codebook_metrics(trained, tmp_path):
    data, out, _ = trained
    config = tmp_path / "torch.yaml"
    config.write_text("model:\n  backend: torch\n")
    proc = cli("evaluate", "--data", str(data / "real-dev" / "real_dev.jsonl"), "--split", "heldout",
               "--model", str(out), "--config", str(config))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["n"] == 4
    assert {"alert_f1", "signal_micro_f1", "dyad_f1", "level_accuracy", "per_type_f1"} <= set(report)


def test_evaluate_scores_the_trained_model_on_a_cameo_tsv(trained, tmp_path):
    data, out, _ = trained
    config = tmp_path / "torch.yaml"
    config.write_text("model:\n  backend: torch\n")
    proc = cli("evaluate", "--data", str(data / "cameo-train" / "conflibert_cameo_train.tsv"),
               "--model", str(out), "--config", str(config))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "macro-F1" in proc.stdout and "n=16" in proc.stdout


def test_item_metrics_count_agreed_labels_and_skip_disputed_ones(tmp_path):
    rows = [_item(0, INTERSTATE[0][0], "ASSAULT", "elevated", True), _item(1, DOMESTIC[0], None, "none", True)]
    rows[0].update(signals_disputed=["ACCUSE"], dyads_A=[["UKR", "RUS"]], dyads_B=[["RUS", "UKR"], ["RUS", "USA"]])
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = read_items(path)
    assert items[0].dyads == {("RUS", "UKR")} and items[0].disputed_dyads == {("RUS", "USA")}
    perfect = [{"alert": True, "level": "elevated", "signals": {"ASSAULT", "ACCUSE"}, "dyads": {("RUS", "UKR"), ("RUS", "USA")}},
               {"alert": False, "level": "none", "signals": set(), "dyads": set()}]
    report = score_items(items, perfect)
    assert report["alert_f1"] == report["signal_micro_f1"] == report["dyad_f1"] == report["level_accuracy"] == 1.0
    wrong = [{"alert": False, "level": "low", "signals": {"THREATEN"}, "dyads": {("CHN", "USA")}},
             {"alert": True, "level": "high", "signals": {"COERCE"}, "dyads": set()}]
    report = score_items(items, wrong)
    assert report["alert_f1"] == report["signal_micro_f1"] == report["dyad_f1"] == report["level_accuracy"] == 0.0


def test_train_on_a_folder_that_is_not_the_data_is_a_one_line_error(tmp_path):
    proc = cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "m"))
    assert proc.returncode == 2
    assert "real-train" in proc.stderr and "Traceback" not in proc.stderr
    data = _data_folder(tmp_path / "data")
    (data / "rams" / "rams_dev_test.jsonl.gz").unlink()  # labels of excerpts the folder does not hold
    proc = cli("train", "--data", str(data), "--out", str(tmp_path / "m"), "--own-labels", str(data / "own_labels.jsonl"))
    assert proc.returncode == 2 and "rams" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("train", "--data", str(data), "--out", str(tmp_path / "m"), "--own-labels", str(tmp_path / "none.jsonl"))
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("train", "--data", str(data), "--out", str(tmp_path / "m"), "--recipe", "epoch=3")
    assert proc.returncode == 2 and "--recipe 'epoch=3'" in proc.stderr and "Traceback" not in proc.stderr


def test_lora_recipe_trains_adapters_and_merges_them_into_a_plain_encoder():
    from worker.classifier.model import default_base_model
    from worker.classifier.network import build_net, encoder_state
    from worker.training.data import Example
    from worker.training.train import RECIPE, fit_sentences

    examples = [Example(t, "written", [k]) for t, k, _ in INTERSTATE] + [Example(t, "written", []) for t in DOMESTIC]
    recipe = {**RECIPE, "epochs": 2, "lora": {"r": 4, "alpha": 8, "lr": 1e-3}}
    net, _ = fit_sentences(examples, recipe, seed=3, base_dir=default_base_model(), progress=False)
    base, _ = build_net(default_base_model())
    tuned, plain = encoder_state(net), encoder_state(base)
    assert set(tuned) == set(plain)  # no adapter left: saved and served like a full fine-tune
    changed = [k for k in plain if not (tuned[k] == plain[k]).all()]
    assert any("attention.self.query.weight" in k for k in changed)  # the merged low-rank updates
    assert not any("LayerNorm" in k for k in changed)  # everything but the adapters stayed frozen


def test_two_annotators_merge_into_agreed_and_disputed_labels_with_their_agreement():
    from worker.training.own_labels import agreement, detokenize
    from worker.training.real import item_of

    def label(sig, dyads, tension):
        return {"id": "x", "alert": tension in ("elevated", "high"), "tension": tension, "dyads": dyads,
                "signals": sig, "sentences": [{"i": 0, "signals": [{"type": t, "modality": "asserted",
                                                                    "background": False} for t in sig]}]}

    a, b = label(["THREATEN", "ACCUSE"], [["RUS", "UKR"]], "high"), label(["THREATEN"], [["RUS", "USA"]], "elevated")
    m = merge(a, b)
    assert m["signals_both"] == ["THREATEN"] and m["signals_disputed"] == ["ACCUSE"]
    assert m["alert"] is True and m["tension"] is None  # both alert; the level is disputed
    assert m["sentences"][0]["signals_both"][0]["type"] == "THREATEN" and m["sentences"][0]["signals_disputed"] == [
        "ACCUSE"]
    item = item_of({**m, "sentences": [{**m["sentences"][0], "text": "Moscow warned Kyiv."}]})
    assert item.signals == {"THREATEN"} and item.disputed == {"ACCUSE"} and item.disputed_dyads == {
        ("RUS", "UKR"), ("RUS", "USA")}
    same = agreement([(a, a), (b, b)])
    assert same["sentence_signal_micro_f1"] == 1.0 and same["dyad_f1"] == 1.0
    assert agreement([(a, b)])["sentence_signal_micro_f1"] == round(2 * 1 / (2 * 1 + 1), 3)
    assert detokenize(["It", "wo", "n't", "(", "really", ")", "work", ",", "he", "said", "."]) == \
        "It won't (really) work, he said."


def test_a_labelled_release_keeps_its_text_and_loads_without_the_data_folder(tmp_path):
    from worker.training.own_labels import OWN_KREMLIN_SET, load_own_items

    release = {"id": "kremlin-1", "title": "Statement", "date": "2018-04-14", "url": "http://en.kremlin.ru/1",
               "sentences": ["Russia condemned the strikes on Syria.", "The President held a meeting."]}
    a = {"id": "kremlin-1", "alert": True, "tension": "elevated", "signals": ["ACCUSE"], "dyads": [["RUS", "USA"]],
         "sentences": [{"i": 0, "signals": [{"type": "ACCUSE", "modality": "asserted", "background": False}]},
                       {"i": 1, "signals": []}]}
    m = merge(a, a, release)
    assert m["set"] == OWN_KREMLIN_SET and m["title"] == "Statement" and m["date"] == "2018-04-14"
    assert [s["text"] for s in m["sentences"]] == release["sentences"]
    assert "text" not in merge(a, a, {"id": "r1", "sentences": release["sentences"]})["sentences"][0]  # RAMS: labels only
    (tmp_path / "labels.jsonl").write_text(json.dumps(m) + "\n")
    [item] = load_own_items(tmp_path / "no-data-folder", tmp_path / "labels.jsonl")
    assert item.sentences == release["sentences"] and item.signals == {"ACCUSE"} and item.year == 2018
    assert item.sentence_targets[0][0] == {"ACCUSE"} and item.dyads == {("RUS", "USA")}


def test_a_second_annotator_of_real_train_merges_into_agreed_and_disputed_labels(tmp_path):
    from worker.training.own_labels import load_real_train_two

    data = _data_folder(tmp_path / "data")
    first = json.loads((data / "real-train" / "real_train.jsonl").read_text().splitlines()[0])  # ASSAULT, elevated
    second = {**first, "tension": "high", "signals": ["ASSAULT", "THREATEN"],
              "sentences": [{"i": 0, "signals": [{"type": "ASSAULT", "modality": "asserted", "background": False},
                                                 {"type": "THREATEN", "modality": "asserted", "background": False}]},
                            {"i": 1, "signals": []}]}
    for s in second["sentences"]:
        s.pop("text", None)
    (tmp_path / "second.jsonl").write_text(json.dumps(second) + "\n")
    items = {it.id: it for it in load_real_train_two(data, tmp_path / "second.jsonl")}
    merged = items[first["id"]]
    assert merged.annotators == 2 and merged.alert is True and merged.tension is None  # elevated vs high
    assert merged.signals == {"ASSAULT"} and merged.disputed == {"THREATEN"}
    assert merged.sentences[0] == first["sentences"][0]["text"]  # the text comes from the data folder
    assert merged.sentence_targets[0] == ({"ASSAULT"}, {"THREATEN"})  # disputed: out of the loss
    assert len(items) == 20 and sum(it.annotators == 2 for it in items.values()) == 1
