"""`tension-worker train` end to end on a tiny data folder laid out like ../shared/data (our own sentences:
the tests must not read the shared data), then `evaluate` on the model it wrote."""

import csv
import hashlib
import json

import numpy as np
import pytest

from conftest import cli
from worker.classifier.model import load_model

PLOVER = [
    ("Troops from Country A shelled border villages of Country B overnight, officials said.", "ASSAULT"),
    ("The foreign minister accused the neighbouring government of sabotaging the talks.", "ACCUSE"),
    ("The government expelled three diplomats and closed the consulate in the port city.", "SANCTION"),
    ("Delegations from both capitals met in Vienna for a second round of talks.", "CONSULT"),
    ("The two governments signed an agreement to reopen the border crossing.", "AGREE"),
    ("The army massed tanks and artillery near the frontier, satellite images showed.", "MOBILIZE"),
]
CAMEO = [("The president thanked his counterpart for the support.", 1),
         ("Rebels attacked a convoy on the highway, killing four.", 4),
         ("The ministry demanded the immediate release of the detained sailors.", 3),
         ("The minister will travel to the capital next week.", 0)]
UN = [("The Council decides to remain actively seized of the matter.", 0),
      ("The Council condemns in the strongest terms the attacks against civilians.", 3)]


def _data_folder(root):
    (root / "plover-synthetic").mkdir(parents=True)
    with open(root / "plover-synthetic" / "gpt_synthetic_events_2023-10-19_19.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["disclaimer", "text", "title", "source", "prompt", "label", "mode"])
        writer.writeheader()
        for text, label in PLOVER * 4:
            writer.writerow({"disclaimer": "", "text": text + " More context follows here.", "title": "t",
                             "source": "s", "prompt": "p", "label": label, "mode": ""})
    (root / "cameo-train").mkdir()
    (root / "cameo-train" / "conflibert_cameo_train.tsv").write_text(
        "".join(f"{t}\t{label}\n" for t, label in CAMEO * 4))
    (root / "un-quadclass").mkdir()
    (root / "un-quadclass" / "en_annotations_quad_multiclass.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in UN * 4))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data, out = _data_folder(root / "data"), root / "model"
    proc = cli("train", "--data", str(data), "--out", str(out), "--quick", "--epochs", "0.1", "--seed", "7",
               timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return data, out, proc


def test_train_writes_a_loadable_model_with_its_data_hashes_and_card(trained):
    data, out, proc = trained
    meta = json.loads((out / "model.json").read_text())
    assert json.loads(proc.stdout)["version"] == meta["version"] == meta["version"].split("+")[0] + "+s7-quick"
    rel = "cameo-train/conflibert_cameo_train.tsv"
    assert meta["training"]["data_sha256"][rel] == hashlib.sha256((data / rel).read_bytes()).hexdigest()
    assert set(meta["thresholds"]) == set(meta["types"]) and len(meta["types"]) == 16
    card = (out / "MODEL_CARD.md").read_text()
    assert meta["version"] in card and "Known limits" in card and "check_articles.jsonl" in card
    model = load_model(out, backend="torch")
    pred = model.predict(["Country A shelled Country B.", "Shares rose."])
    assert pred.types.shape == (2, 16) and pred.quad.shape == (2, 5)
    assert np.all((pred.types >= 0) & (pred.types <= 1)) and np.allclose(pred.quad.sum(1), 1, atol=1e-4)


def test_evaluate_scores_the_trained_model_on_a_cameo_tsv(trained, tmp_path):
    data, out, _ = trained
    config = tmp_path / "torch.yaml"
    config.write_text("model:\n  backend: torch\n")
    proc = cli("evaluate", "--data", str(data / "cameo-train" / "conflibert_cameo_train.tsv"),
                "--model", str(out), "--config", str(config))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "macro-F1" in proc.stdout and "n=16" in proc.stdout


def test_train_on_a_folder_that_is_not_the_data_is_a_one_line_error(tmp_path):
    proc = cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "m"))
    assert proc.returncode == 2
    assert "plover-synthetic" in proc.stderr and "Traceback" not in proc.stderr
