"""Unit tests of the pure core: sentences, modality, aggregation, results, input validation, processing."""

import json

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from worker.classifier.itemlayer import CONTEXT, decide
from worker.classifier.labels import DEESCALATORY, ESCALATORY, QUAD_CLASSES, TYPES
from worker.classifier.modality import background_flags, is_background, modality
from worker.classifier.sentences import split_sentences
from worker.models.article import Article, load_schema
from worker.models.result import alert_id, build_result
from worker.processing import Processor

# A hand-set item layer (the shipped one is fitted on real news): escalatory evidence between two or more
# actors raises tension and alerts; one actor (domestic news) does not reach the tension bar.
_ESC = [4.0 if t in ESCALATORY else 2.0 for t in TYPES]
LAYER = {"tension": {"coef": _ESC + [3.0, 0.0, 0.0], "intercept": -5.0},
         "alert": {"coef": [5.0 if t in ESCALATORY else -2.0 for t in TYPES] + [2.0, 0.0, 0.0], "intercept": -5.5},
         "tension_threshold": 0.4, "alert_threshold": 0.5, "high_threshold": 0.9, "max_dyads": 2,
         "thresholds": dict.fromkeys(TYPES, 0.5)}
assert len(CONTEXT) == 3 and len(DEESCALATORY) + len(ESCALATORY) == len(TYPES)


def probs(*pairs):
    row = np.zeros(len(TYPES), dtype=np.float32)
    for kind, p in pairs:
        row[TYPES.index(kind)] = p
    return row


def quad(name):
    row = np.full(len(QUAD_CLASSES), 0.05, dtype=np.float32)
    row[QUAD_CLASSES.index(name)] = 0.8
    return row


def run(sentences, rows, quads=None, year=2024, title=""):
    quads = quads or [quad("neutral")] * len(sentences)
    return decide(sentences, np.array(rows), np.array(quads), background_flags([sentences], year), title, LAYER)


def test_split_keeps_sentences_verbatim_and_never_merges_lines():
    text = "Moscow said talks would go on. Washington disagreed.\nKyiv: no comment"
    sents = split_sentences(text)
    assert sents == ["Moscow said talks would go on.", "Washington disagreed.", "Kyiv: no comment"]
    assert all(s in text for s in sents)


def test_a_long_paragraph_is_split_in_windows_as_if_whole():
    from worker.classifier.sentences import WINDOW, _segmenter

    sentences = ["U.S. officials met Dr. Smith at 3 p.m. on Jan. 5 in Washington.", "Troops moved to the border.",
                 "The minister said that the talks with Russia would continue next week, officials said."]
    para = " ".join(sentences[i % 3] for i in range(8 * WINDOW // 60))  # one paragraph of ~8 windows
    whole = [s.strip() for s in _segmenter().segment(para) if s.strip()]
    assert len(para) > 6 * WINDOW and split_sentences(para) == whole
    run_on = "word " * (3 * WINDOW)  # no sentence boundary at all: cut into window-sized pieces, nothing lost
    pieces = split_sentences(run_on)
    assert len(pieces) >= 4 and max(map(len, pieces)) <= WINDOW and "".join(pieces).count("word") == 3 * WINDOW


@pytest.mark.parametrize("sentence,kind,expected", [
    ("The Kremlin denied any intention to attack Ukraine.", "ASSAULT", "negated"),
    ("The Kremlin denied any intention to attack Ukraine.", "REJECT", "asserted"),
    ("The EU warned of sanctions if Russia invades.", "SANCTION", "hypothetical"),
    ("The EU warned of sanctions if Russia invades.", "THREATEN", "asserted"),
    ("Russian artillery shelled the town overnight.", "ASSAULT", "asserted"),
    ("No troops crossed the border, the ministry said.", "MOBILIZE", "negated"),
    ("A second convoy is scheduled to leave later this week.", "MOBILIZE", "hypothetical"),
    ("The EU warned of measures should Moscow launch an attack.", "SANCTION", "hypothetical"),
    ("Both sides agreed that the two countries should keep talking.", "CONSULT", "asserted"),
    ("Flights were cancelled due to the fighting.", "ASSAULT", "asserted"),
    # speech acts: a negation inside the reported content does not negate the act itself
    ("Moscow told Washington that it wanted a guarantee that NATO would not deploy missiles.", "REQUEST", "asserted"),
    ("Belgrade said it would not stand by if the raids went on.", "THREATEN", "asserted"),
    ("The ministry denied that it had threatened its neighbour.", "THREATEN", "negated"),
    ("\u201cEthiopia has no intention of invading any neighbouring country.\u201d", "THREATEN", "negated"),
    ("Beijing did not accuse Manila of anything, the spokesman said.", "ACCUSE", "negated"),
])
def test_modality(sentence, kind, expected):
    assert modality(sentence, kind) == expected


def test_background_is_relative_to_the_article_year():
    assert is_background("Russia annexed Crimea in 2014.", 2021)
    assert not is_background("Talks resumed in 2021.", 2021)
    assert is_background("Two decades ago the countries fought a war.", 2024)
    assert not is_background("The two countries fought a war this week.", 2024)
    assert is_background("The war started in June 1950 when northern troops crossed the line.", 2024)
    assert is_background("The treaty was signed on March 3, 2019 in Geneva.", 2024)
    assert not is_background("The truce was agreed in May 2024.", 2024)
    assert is_background("A war in the early 1990s killed around 30,000 people.", 2024)
    assert is_background("The war has killed tens of thousands of people and displaced millions.", 2024)
    assert not is_background("The strike has killed 12 people, officials said.", 2024)
    assert not is_background("Moscow accused Kyiv of scrapping the agreements of 2014 and 2015.", 2021)
    assert is_background("The war killed an estimated 3 million people and more than 58,000 soldiers.", 2025)
    assert is_background("The conflict between the neighbours dates back to the end of the Soviet Union.", 2025)


def test_a_history_paragraph_carries_its_time_to_sentences_without_their_own():
    paragraphs = [["Relations plunged in June 2020 when soldiers of both armies fought on the border.",
                   "Twenty soldiers were killed.", "On Monday the ministers met again."],
                  ["Troops fired across the border."]]
    assert background_flags(paragraphs, 2025) == [True, True, False, False]


def test_asserted_attack_between_states_is_high_and_alerts():
    v = run(["Armenian and Azerbaijani forces clashed on the border."], [probs(("ASSAULT", 0.97))],
            [quad("material_conflict")])
    assert v.level == "high" and v.alert
    assert [(s["type"], s["modality"]) for s in v.signals] == [("ASSAULT", "asserted")]
    assert v.dyads == [["ARM", "AZE"]] and v.quad_class == "material_conflict"


def test_a_domestic_story_has_no_signals_no_dyads_and_no_alert():
    v = run(["Kenyan riot police fired tear gas at striking teachers in Nairobi."], [probs(("ASSAULT", 0.97))])
    assert v.level == "none" and not v.alert and v.signals == [] and v.dyads == []
    assert v.actors == ["KEN"]


def test_denied_attack_does_not_raise_tension():
    v = run(["Russia denied any intention to attack Ukraine."], [probs(("ASSAULT", 0.9))])
    assert "ASSAULT" not in [s["type"] for s in v.signals] and not v.alert


@pytest.mark.parametrize("sentence", ["The EU could impose sanctions on Iran.",
                                      "In 2012 the EU imposed sanctions on Iran."])
def test_hypothetical_or_historical_sanctions_count_for_little(sentence):
    asserted = run(["The EU imposed sanctions on Iran."], [probs(("SANCTION", 0.9))])
    other = run([sentence], [probs(("SANCTION", 0.9))])
    assert asserted.alert and asserted.signals[0]["type"] == "SANCTION"
    assert not other.alert and other.score < asserted.score


def test_cooperative_news_is_low_and_no_signal_is_none():
    coop = run(["Japan and South Korea agreed to resume talks."], [probs(("AGREE", 0.9))],
               [quad("verbal_cooperation")])
    assert coop.level == "low" and not coop.alert and [s["type"] for s in coop.signals] == ["AGREE"]
    nothing = run(["Shares rose in Tokyo, Japan."], [probs()])
    assert nothing.level == "none" and nothing.signals == [] and nothing.quad_class == "neutral"


def test_each_signal_type_is_listed_once_with_its_best_evidence_and_weak_ones_are_not_signals():
    v = run(["China accused Japan of provocation.", "Beijing again accused Tokyo of lying, China said.",
             "China demanded an apology from Japan."],
            [probs(("ACCUSE", 0.6)), probs(("ACCUSE", 0.9)), probs(("REQUEST", 0.35))])
    assert [(s["type"], s["sentence_index"]) for s in v.signals] == [("ACCUSE", 1)]


@pytest.mark.parametrize("sentences,armed", [
    (["Islamic State claimed the car bomb that killed 12 in the capital."], True),
    (["Rebels shelled the government-held district overnight."], True),
    (["Police arrested six men after a robbery at a market."], False),
])
def test_evidence_knows_whether_an_article_names_an_armed_group(sentences, armed):
    from worker.classifier.itemlayer import FEATURES, evidence

    ev = evidence(sentences, np.array([probs(("ASSAULT", 0.9))] * len(sentences)), [False] * len(sentences))
    assert ev.armed is armed and ev.features([*FEATURES, "armed_group"])[-1] == float(armed)


def test_dyads_come_from_the_evidence_sentences_and_are_capped():
    v = run(["Russia accused the United States and Britain of sabotage.", "France and Germany held talks.",
             "Russia warned Poland."], [probs(("ACCUSE", 0.9)), probs(), probs(("THREATEN", 0.8))])
    assert len(v.dyads) <= LAYER["max_dyads"]
    assert all(set(d) <= {"RUS", "USA", "GBR", "POL"} for d in v.dyads) and ["POL", "RUS"] in v.dyads


def test_alert_id_is_deterministic_and_model_specific():
    assert alert_id("a1", "m", "1") == alert_id("a1", "m", "1")
    assert alert_id("a1", "m", "1") != alert_id("a1", "m", "2")
    assert alert_id("a1", "m", "1") != alert_id("a2", "m", "1")


def test_built_result_validates_against_the_published_schema():
    v = run(["Iran seized a Greek tanker."], [probs(("COERCE", 0.9))], [["IRN", "GRC"]],
            [quad("material_conflict")])
    result = build_result(Article(id="x", text="Iran seized a Greek tanker.", published_at="2024-01-01T00:00:00Z"),
                          model_name="m", model_version="1", level=v.level, score=v.score, alert=v.alert,
                          quad_class=v.quad_class, signals=v.signals, actors=v.actors, dyads=v.dyads)
    Draft202012Validator(load_schema("alert.schema.json")).validate(result)
    assert json.loads(json.dumps(result)) == result


class _FailsOn:
    """A classifier that fails on one article id: exercises Processor's isolation of classifier errors."""

    name, version = "t", "0"

    def __init__(self, bad_id):
        self.bad_id = bad_id

    def classify(self, articles):
        if any(a.id == self.bad_id for a in articles):
            raise RuntimeError("boom")
        return [{"id": a.id} for a in articles]


def test_processor_keeps_order_and_isolates_a_failing_article():
    raws = [b'{"id": "1", "text": "a"}', b"nope", b'{"id": "2", "text": "b"}', b'{"id": "3", "text": "c"}']
    outcomes = Processor(_FailsOn("2"), 1000).process(raws)
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert outcomes[1].reason == "invalid_json"
    assert outcomes[2].reason == "classifier_error" and "boom" in outcomes[2].detail
    assert outcomes[2].article_id == "2"
    assert outcomes[3].result == {"id": "3"}


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 2),  # cgroup v2: 1.5 CPUs -> 2 threads
    ({"cpu.max": "max 100000\n"}, None),  # v2 without a limit: the affinity mask
    ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # cgroup v1
    ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cpu_quota_reads_cgroup_v1_and_v2(tmp_path, files, expected):
    import os

    from worker.classifier.model import cpu_quota

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cpus = len(os.sched_getaffinity(0))
    assert cpu_quota(tmp_path) == (min(cpus, expected) if expected else cpus)


def test_metrics_include_the_process_collector():
    from prometheus_client import generate_latest

    from worker.metrics import Metrics

    text = generate_latest(Metrics().registry).decode()
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text


def test_our_segmenter_finds_pysbds_sentences_on_every_sample_paragraph():
    import pysbd

    from worker.classifier.sentences import _PARAGRAPHS, _segmenter
    from worker.seeds import find_seeds, load_seeds

    reference = pysbd.Segmenter(language="en", clean=False)
    paragraphs = [p for _, a in load_seeds(find_seeds()) for p in _PARAGRAPHS.split(a["text"]) if p.strip()]
    paragraphs += ['He said: "We will respond. Nobody should doubt it." Then he left. Then he left.',
                   "U.S. officials met Dr. Smith at 3 p.m. on Jan. 5.  No. 10 declined to comment. Yes."]
    assert len(paragraphs) > 100
    assert [_segmenter().segment(p) for p in paragraphs] == [reference.segment(p) for p in paragraphs]
