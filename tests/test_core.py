"""Unit tests of the pure core: sentences, modality, aggregation, results, input validation, processing."""

import json

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from worker.classifier.aggregate import aggregate
from worker.classifier.labels import QUAD_CLASSES, TYPES
from worker.classifier.modality import background_flags, is_background, modality
from worker.classifier.sentences import split_sentences
from worker.models.article import Article, Rejected, decode_article, load_schema
from worker.models.result import alert_id, build_result
from worker.processing import Processor

THRESHOLDS = np.full(len(TYPES), 0.5, dtype=np.float32)


def probs(*pairs):
    row = np.zeros(len(TYPES), dtype=np.float32)
    for kind, p in pairs:
        row[TYPES.index(kind)] = p
    return row


def quad(name):
    row = np.full(len(QUAD_CLASSES), 0.05, dtype=np.float32)
    row[QUAD_CLASSES.index(name)] = 0.8
    return row


def run(sentences, rows, actors, quads=None, year=2024):
    quads = quads or [quad("neutral")] * len(sentences)
    article_actors = list(dict.fromkeys(a for acts in actors for a in acts))
    return aggregate(sentences, np.array(rows), np.array(quads), THRESHOLDS, actors, article_actors,
                     background_flags([sentences], year))


def test_split_keeps_sentences_verbatim_and_never_merges_lines():
    text = "Moscow said talks would go on. Washington disagreed.\nKyiv: no comment"
    sents = split_sentences(text)
    assert sents == ["Moscow said talks would go on.", "Washington disagreed.", "Kyiv: no comment"]
    assert all(s in text for s in sents)


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
            [["ARM", "AZE"]], [quad("material_conflict")])
    assert v.level == "high" and v.alert
    assert v.signals[0]["type"] == "ASSAULT" and v.signals[0]["modality"] == "asserted"
    assert v.dyads == [["ARM", "AZE"]]
    assert v.quad_class == "material_conflict"


def test_a_state_fighting_an_armed_group_or_sanctions_alone_are_elevated_not_high():
    army = run(["Nigerian jets struck Islamic State hideouts, killing dozens of fighters."] * 3,
               [probs(("ASSAULT", 0.97))] * 3, [["NGA", "IS"]] * 3, [quad("material_conflict")] * 3)
    sanctions = run(["The EU imposed sanctions on Iranian officials."] * 3, [probs(("SANCTION", 0.97))] * 3,
                    [["EU", "IRN"]] * 3, [quad("verbal_conflict")] * 3)
    assert army.score >= 0.75 and sanctions.score >= 0.75
    assert army.level == sanctions.level == "elevated"


def test_denied_attack_does_not_raise_tension():
    v = run(["Moscow denied any intention to attack Ukraine."], [probs(("ASSAULT", 0.9))], [["RUS", "UKR"]])
    assert v.signals[0]["modality"] == "negated"
    assert v.score == 0.0 and not v.alert


def test_hypothetical_sanctions_count_for_little():
    asserted = run(["The EU imposed sanctions on Iran."], [probs(("SANCTION", 0.9))], [["EU", "IRN"]])
    hypothetical = run(["The EU could impose sanctions on Iran."], [probs(("SANCTION", 0.9))], [["EU", "IRN"]])
    assert hypothetical.signals[0]["modality"] == "hypothetical"
    assert hypothetical.score < asserted.score / 2
    assert not hypothetical.alert


def test_an_appeal_weighs_less_than_a_demand():
    sentence, actors = ["Egypt called on Ethiopia to halt the filling of the dam."], [["EGY", "ETH"]]
    demand = run(sentence, [probs(("REQUEST", 0.9))], actors, [quad("verbal_conflict")])
    appeal = run(sentence, [probs(("REQUEST", 0.9))], actors, [quad("neutral")])
    assert demand.signals[0]["type"] == appeal.signals[0]["type"] == "REQUEST"
    assert appeal.score < demand.score / 2


@pytest.mark.parametrize("reading", ["neutral", "material_cooperation"])
def test_a_conflict_signal_the_quad_head_does_not_read_as_conflict_weighs_less(reading):
    sentence, actors = ["Turkey sent a convoy of trucks with tents and food to northern Syria."], [["TUR", "SYR"]]
    read_as_conflict = run(sentence, [probs(("MOBILIZE", 0.95))], actors, [quad("material_conflict")])
    read_otherwise = run(sentence, [probs(("MOBILIZE", 0.95))], actors, [quad(reading)])
    assert read_otherwise.score < read_as_conflict.score / 2 and not read_otherwise.alert


def test_actors_named_only_outside_the_signal_sentences_do_not_make_news_interstate():
    sentences = ["Riot police fired tear gas at strikers in France.", "Trains to Britain from France were cancelled."]
    rows = [probs(("ASSAULT", 0.95)), probs()]
    one_state_in_signals = run(sentences, rows, [["FRA"], ["GBR", "FRA"]], [quad("material_conflict"), quad("neutral")])
    two_states_in_signal = run(sentences[:1], rows[:1], [["FRA", "GBR"]], [quad("material_conflict")])
    assert not one_state_in_signals.alert and two_states_in_signal.alert
    assert one_state_in_signals.actors == ["FRA", "GBR"]


def test_history_counts_for_little():
    now = run(["Russian troops massed at the border with Ukraine."], [probs(("MOBILIZE", 0.9))], [["RUS", "UKR"]])
    then = run(["In 2014 Russian troops massed at the border with Ukraine."], [probs(("MOBILIZE", 0.9))],
               [["RUS", "UKR"]])
    assert then.signals[0]["background"] and not now.signals[0]["background"]
    assert then.score < now.score / 2


def test_domestic_protest_does_not_alert_but_interstate_protest_may():
    domestic = run(["Teachers marched on parliament in Nairobi."], [probs(("PROTEST", 0.95))], [["KEN"]])
    assert domestic.level in ("none", "low") and not domestic.alert


def test_cooperative_news_is_low_and_no_signal_is_none():
    coop = run(["Japan and South Korea agreed to resume talks."], [probs(("AGREE", 0.9))], [["JPN", "KOR"]],
               [quad("verbal_cooperation")])
    assert coop.level == "low" and not coop.alert
    nothing = run(["Shares rose in Tokyo."], [probs()], [["JPN"]])
    assert nothing.level == "none" and nothing.signals == [] and nothing.quad_class == "neutral"


def test_several_escalatory_signals_accumulate():
    one = run(["China accused Japan of provocation."], [probs(("ACCUSE", 0.9))], [["CHN", "JPN"]])
    three = run(["China accused Japan of provocation.", "Beijing demanded an apology.",
                 "It rejected Tokyo's protest."],
                [probs(("ACCUSE", 0.9)), probs(("REQUEST", 0.9)), probs(("REJECT", 0.9))],
                [["CHN", "JPN"], ["CHN"], ["JPN"]])
    assert three.score > one.score
    assert [s["sentence_index"] for s in three.signals] == [0, 1, 2]


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


@pytest.mark.parametrize("raw,reason", [
    (b"\xff\xfe{", "invalid_utf8"),
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_schema"),
    (b'{"id": 5, "text": "x"}', "invalid_schema"),
    (b'{"id": "a"}', "missing_text"),
    (b'{"id": "a", "text": "   "}', "empty_text"),
    (b'{"id": "a", "text": "' + b"x" * 101 + b'"}', "oversized_text"),
    (b'{"id": "a", "text": "x", "published_at": "yesterday"}', "invalid_schema"),
    (None, "empty_message"),
])
def test_bad_inputs_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(Rejected) as err:
        decode_article(raw, max_text_chars=100)
    assert err.value.reason == reason


def test_good_input_decodes():
    a = decode_article(b'{"id": "a", "text": "Hello.", "published_at": "2021-12-08T06:00:00Z", "extra": 1}', 100)
    assert a.id == "a" and a.published_at == "2021-12-08T06:00:00Z"


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
