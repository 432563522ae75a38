"""The shipped, trained model on whole articles (fine-tuned MiniLM + fitted item layer, default backend), and its commands."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from conftest import cli
from worker.classifier.labels import TYPES
from worker.classifier.model import ModelLoadError, default_base_model, load_model
from worker.classifier.pipeline import load_classifier
from worker.classifier.sentences import split_sentences
from worker.models.article import article_from_obj, load_schema

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.json"))


def seed(name_prefix):
    path = next(p for p in SEEDS if p.name.startswith(name_prefix))
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def results(classifier):
    articles = [article_from_obj(json.loads(p.read_text()), 200_000) for p in SEEDS]
    return {p.name: r for p, r in zip(SEEDS, classifier.classify(articles))}


def test_seed_article_alerts_with_evidence_and_actors(results):
    obj = seed("000_")
    result = results[next(p.name for p in SEEDS if p.name.startswith("000_"))]
    Draft202012Validator(load_schema("alert.schema.json")).validate(result)
    assert result["alert"] and result["tension"]["level"] in ("elevated", "high")
    types = {s["type"] for s in result["signals"] if s["modality"] == "asserted"}
    assert "THREATEN" in types, types
    assert len(types) == len(result["signals"]), "one signal per type, each with its best evidence"
    sentences = split_sentences(obj["text"])
    for s in result["signals"]:
        assert s["evidence"] == sentences[s["sentence_index"]] and s["evidence"] in obj["text"]
    assert {"RUS", "USA", "UKR", "NATO"} <= set(result["actors"])


def test_seed_article_mobilize_signal_russia_us_dyad_and_conflict_quad(results):
    result = results[next(p.name for p in SEEDS if p.name.startswith("000_"))]
    assert "MOBILIZE" in {s["type"] for s in result["signals"]}
    assert ["RUS", "USA"] in result["dyads"]
    assert result["quad_class"] in ("verbal_conflict", "material_conflict")


def test_seed_article_lists_only_its_main_signals(results):
    """Marginal: the dynamic int8 graph listed 9 types (SUPPORT at 0.22 over the 0.2 threshold); the frozen-scale
    graph lists 8 (issue #8: weak detections on long articles are still close to becoming signals)."""
    result = results[next(p.name for p in SEEDS if p.name.startswith("000_"))]
    assert len(result["signals"]) <= 8


def test_seed_article_demands_for_guarantees_are_requests(classifier):
    demands = [s for s in split_sentences(seed("000_")["text"]) if "guarantee" in s]
    types = classifier.model.predict(demands).types
    assert (types.argmax(1) == TYPES.index("REQUEST")).any(), [TYPES[j] for j in types.argmax(1)]


def test_denied_attack_is_not_an_assault_signal(results):
    result = results[next(p.name for p in SEEDS if p.name.startswith("000_"))]
    assert not [s for s in result["signals"]
                if "denied any intention to attack" in s["evidence"] and s["type"] == "ASSAULT"]


# Samples the real-news model (0.6.0+s13, tension-minilm-real) gets wrong: kept failing on purpose (strict
# xfail) so a fix shows; issue #8 stays open for them. The item layer is calibrated on five-sentence real
# excerpts, and on these longer written articles one strong sentence ("attacks down the flanks") carries it.
KNOWN_MISSES = {
    "005_noalert_football_match": "a football report between two countries' teams comes out low, not none",
    "006_noalert_tech_earnings": "a tech earnings story comes out low, not none",
    "008_noalert_denials_speculation": "denials and speculation read as REJECT/ACCUSE and alert",
    "010_noalert_long_cycling_stage": "a rider's 'we came here to attack, and we attacked' reads as ASSAULT and "
                                      "alerts (new in 0.3.0, whose alert threshold is lower)",
}


def _sample(path):
    reason = KNOWN_MISSES.get(path.stem)
    return pytest.param(path, marks=pytest.mark.xfail(strict=True, reason=f"issue #8: {reason}")) if reason else path


@pytest.mark.parametrize("path", [_sample(p) for p in SEEDS], ids=lambda p: p.stem)
def test_sample_articles_meet_their_written_expectation(results, path):
    expect = json.loads(path.read_text())["expect"]
    result = results[path.name]
    assert result["alert"] is expect["alert"], (result["tension"], [(s["type"], s["evidence"][:60]) for s in result["signals"]])
    assert result["tension"]["level"] in expect["level_ok"]


@pytest.mark.xfail(strict=True, reason="issue #8: " + KNOWN_MISSES["005_noalert_football_match"])
def test_non_political_samples_have_no_escalatory_signal(results):
    for name, result in results.items():
        if "_noalert_football" in name or "_noalert_tech" in name:
            assert result["tension"]["level"] == "none", (name, result["signals"])


def test_batch_result_equals_single_result(classifier, results):
    obj = seed("003_")
    single = classifier.classify([article_from_obj(obj, 200_000)])[0]
    batched = results[next(p.name for p in SEEDS if p.name.startswith("003_"))]
    assert single["alert_id"] == batched["alert_id"]
    assert [s["type"] for s in single["signals"]] == [s["type"] for s in batched["signals"]]


def test_int8_backend_agrees_with_torch(classifier):
    """Over every sample sentence: int8 and fp32 make the same threshold decisions almost everywhere."""
    torch_model = load_model(backend="torch")
    sentences = [s for p in SEEDS for s in split_sentences(json.loads(p.read_text())["text"])]
    a, b = classifier.model.predict(sentences), torch_model.predict(sentences)
    assert np.abs(a.types - b.types).mean() < 0.02
    thresholds = np.array([classifier.model.meta["item_layer"]["thresholds"][t] for t in TYPES])
    assert ((a.types >= thresholds) == (b.types >= thresholds)).mean() >= 0.98
    assert (a.quad.argmax(1) == b.quad.argmax(1)).mean() >= 0.95


def test_altered_base_model_is_refused(tmp_path):
    base = default_base_model()
    fake = tmp_path / "base"
    fake.mkdir()
    for f in base.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, fake / f.name)
    (fake / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ModelLoadError, match="sha256"):
        load_model(base_model=fake)


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="model.json"):
        load_model(tmp_path)


def test_classify_command_keeps_order_and_reports_bad_lines(tmp_path):
    good = json.dumps(seed("007_"))
    lines = [good, "{broken", json.dumps({"id": "e", "text": ""}), json.dumps(seed("001_"))]
    out = tmp_path / "out.jsonl"
    proc = cli("classify", "--input", "-", "--output", str(out), stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 4
    assert rows[0]["article"]["id"] == seed("007_")["id"] and rows[0]["alert"] is False
    assert rows[1]["error"]["reason"] == "invalid_json" and rows[1]["line"] == 2
    assert rows[2]["error"]["reason"] == "empty_text" and rows[2]["id"] == "e"
    assert rows[3]["article"]["id"] == seed("001_")["id"] and rows[3]["alert"] is True
    validator = Draft202012Validator(load_schema("alert.schema.json"))
    for row in (rows[0], rows[3]):
        validator.validate(row)


def test_classify_missing_input_is_a_one_line_usage_error(tmp_path):
    proc = cli("classify", "--input", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "missing.jsonl" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_evaluate_command_prints_per_type_scores_and_confusion(tmp_path):
    data = tmp_path / "dev.jsonl"
    rows = [{"text": s, "types": t, "quad_class": q} for s, t, q in [
        ("Russian troops shelled Ukrainian positions near the border overnight.", ["ASSAULT"], "material_conflict"),
        ("The foreign ministers of Japan and Australia held talks in Tokyo.", ["CONSULT"], "verbal_cooperation"),
        ("Shares in the carmaker rose 4% after strong quarterly sales.", [], "neutral"),
    ]]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    proc = cli("evaluate", "--data", str(data))
    assert proc.returncode == 0, proc.stderr
    assert "precision" in proc.stdout and "ASSAULT" in proc.stdout and "type confusion" in proc.stdout
    assert "quad class [file] macro-F1" in proc.stdout


def test_a_cache_miss_in_a_read_only_model_cache_builds_in_the_writable_default(caplog):
    """Issue #11 item 5: a read-only cache without this model's graph (e.g. an image built for another model)."""
    import logging

    from worker.classifier.model import load_model
    from worker.classifier.onnx_backend import default_cache_dir

    load_model(backend="onnx-int8")  # the default cache holds the graph (built once per machine)
    with caplog.at_level(logging.WARNING, logger="worker.classifier.onnx_backend"):
        model = load_model(backend="onnx-int8", cache_dir="/sys/tension-worker-cache")  # not writable, even for root
    assert "read-only" in caplog.text and str(default_cache_dir()) in caplog.text
    assert model.predict(["Troops massed at the border."]).types.shape == (1, 16)


def test_no_writable_model_cache_is_one_clear_error(monkeypatch):
    from worker.classifier import onnx_backend
    from worker.classifier.model import load_model
    from worker.config import ConfigError

    monkeypatch.setattr(onnx_backend, "default_cache_dir", lambda: onnx_backend.Path("/sys/tension-worker-b"))
    with pytest.raises(ConfigError) as err:
        load_model(backend="onnx-int8", cache_dir="/sys/tension-worker-a")
    assert "model.cache_dir" in str(err.value) and "\n" not in str(err.value)
