"""The int8 graph (frozen activation scales): batching leaves every score unchanged, and its sentence-type
decisions agree with the fp32 network's (issue #9)."""

import numpy as np
import onnx
import pytest

from worker.classifier.int8_graph import calibration_sentences, freeze_scales
from worker.classifier.model import load_model
from worker.classifier.sentences import split_sentences
from worker.seeds import find_seeds, load_seeds


@pytest.fixture(scope="module")
def sentences():
    """Every sentence of the samples in seeds/ (none of them is a calibration sentence)."""
    out = [s for _, article in load_seeds(find_seeds()) for s in split_sentences(article["text"])]
    assert len(out) > 200 and not set(out) & set(calibration_sentences())
    return out


@pytest.fixture(scope="module")
def int8():
    return load_model(backend="onnx-int8")


def test_batched_scores_equal_one_sentence_per_call(int8, sentences):
    int8.batch_size = 1
    alone = int8.predict(sentences)
    for size in (7, 16, 64):
        int8.batch_size = size
        batched = int8.predict(sentences)
        assert np.abs(batched.types - alone.types).max() <= 1e-5, size
        assert np.abs(batched.quad - alone.quad).max() <= 1e-5, size
    int8.batch_size = 16


def test_int8_sentence_type_decisions_agree_with_fp32(int8, sentences):
    """At the fitted signal threshold, ≥ 99% of (sentence, type) decisions are the fp32 network's
    (measured 99.5%; the dynamic int8 graph it replaces: 99.5% too)."""
    threshold = min(int8.meta["item_layer"]["thresholds"].values())
    fast = int8.predict(sentences).types >= threshold
    exact = load_model(backend="torch").predict(sentences).types >= threshold
    assert (fast == exact).mean() >= 0.99
    assert (fast & exact).sum() >= 0.9 * exact.sum()  # the positives, not only the many negatives


def test_the_graph_has_no_dynamic_quantisation_left(int8):
    graph = onnx.load(str(int8.runner.graph_path))
    ops = {n.op_type for n in graph.graph.node}
    assert "MatMulIntegerToFloat" in ops
    assert not ops & {"DynamicQuantizeLinear", "DynamicQuantizeMatMul"}


def test_freezing_replaces_each_dynamic_quantisation_with_its_calibrated_range():
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"])
    model = helper.make_model(helper.make_graph([node], "g", [x], [
        helper.make_tensor_value_info(n, t, None)
        for n, t in (("xq", TensorProto.UINT8), ("xs", TensorProto.FLOAT), ("xz", TensorProto.UINT8))]))
    freeze_scales(model, {"x": (-1.0, 3.0)})
    assert [n.op_type for n in model.graph.node] == ["QuantizeLinear", "Identity", "Identity"]
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert values["x_frozen_scale"] == pytest.approx(4.0 / 255) and values["x_frozen_zero_point"] == 64


def test_the_fast_tokenizer_gives_the_hugging_face_tokenizers_ids(sentences):
    from transformers import AutoTokenizer

    from worker.classifier.model import default_base_model
    from worker.classifier.tokenizer import FastTokenizer, load_tokenizer

    fast, reference = load_tokenizer(default_base_model()), AutoTokenizer.from_pretrained(str(default_base_model()))
    assert isinstance(fast, FastTokenizer) and fast.pad_token_id == reference.pad_token_id
    texts = sentences + [" ".join(sentences)]  # one longer than any limit
    for kwargs in ({"truncation": True, "max_length": 256}, {"truncation": True, "max_length": 16}, {}):
        assert fast(texts, **kwargs)["input_ids"] == reference(texts, **kwargs)["input_ids"], kwargs
    assert fast(texts[0], add_special_tokens=False) == {"input_ids": reference(texts[0], add_special_tokens=False)["input_ids"]}


def test_a_cached_graph_loads_without_torch():
    """Model load from a warm cache is what restarts and scale-out pay: no torch import on that path."""
    import subprocess
    import sys

    code = ("import sys; from worker.classifier.pipeline import load_classifier; load_classifier(); "
            "print('torch' in sys.modules)")
    load_model(backend="onnx-int8")  # the graph is cached
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_base_model_without_its_config_is_a_clear_error_on_the_int8_path(tmp_path):
    import shutil

    from worker.classifier.model import ModelLoadError, default_base_model

    base = tmp_path / "base"
    shutil.copytree(default_base_model(), base)
    (base / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="config.json") as err:
        load_model(backend="onnx-int8", base_model=base)
    assert "\n" not in str(err.value)
