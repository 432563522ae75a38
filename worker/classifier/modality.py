"""Modality and background of a signal sentence, from explicit cues (no labelled data exists for them).

- negated: the sentence says the event did not / will not happen ("denied any intention to attack",
  "no troops crossed"). A REJECT *is* the denial, so it stays asserted. For speech acts (threats,
  demands, accusations, protests) only a negation of the act itself counts, looked for before the
  reported content: "wanted a guarantee that X would not deploy" is a demand, "would not tolerate" a
  threat, but "did not threaten" and "has no intention of invading" are negated.
- hypothetical: conditional or future events ("sanctions if Russia invades", "could impose"), looked
  for in the main clause only (", raising fears of a conflict" does not make a troop move hypothetical).
  THREATEN and REQUEST are speech acts about the future by nature, so they stay asserted.
- background: history rather than news ("in 2014 …", "years ago", "during the Cold War", a war's origins
  and running toll: "the war, which began in April of last year, …", "has killed tens of thousands"),
  and the sentences of a history paragraph that carry no time of their own.
"""

from __future__ import annotations

import re

_NEGATION = re.compile(
    r"\b(den(?:y|ies|ied|ying|ial)|no intention|no plans?|ruled out|rules out|dismiss(?:ed|es)? (?:reports|claims|"
    r"allegations|suggestions)|(?:did|does|do|has|have|had|was|were|is|are|will|would)\s*(?:not|n['’]t)|never|"
    r"no (?:troops|soldiers|shots|attack|strike|sanctions|evidence)|not (?:planning|preparing|intend))\b",
    re.IGNORECASE)
_ACT_NEGATION = re.compile(
    r"\b(den(?:y|ies|ied|ying|ial)|no intention|no plans?|ruled out|rules out|never|"
    r"(?:did|does|do|has|have|had)\s*(?:not|n['’]t)|not (?:planning|preparing|intend))\b", re.IGNORECASE)
_REPORTED_CONTENT = re.compile(r"\bthat\b|[“”\"«:]")
_HYPOTHETICAL = re.compile(
    r"\b(if|unless|should (?:the|it|they|(?-i:[A-Z])[\w'’-]*) |in case|in the event|would|could|might|may|"
    r"possib(?:le|ility)|prospect|potential(?:ly)?|consider(?:s|ing|ed)?|plans? to|planning to|threat(?:en(?:ed|s)?)? to|"
    r"warn(?:ed|s|ing)? (?:of|that|against)|fears? (?:of|that)|expected to|likely to|risk of|"
    r"(?:is|are|was|were) (?:due|scheduled|set) to)\b",
    re.IGNORECASE)
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_YEAR = re.compile(rf"\b(?:in|since|during|back in|by|until|on) (?:early |late |mid-)?(?:{_MONTH} (?:\d{{1,2}},? )?)?"
                   r"((?:19|20)\d\d)\b", re.IGNORECASE)
_HISTORY = re.compile(
    r"\b(\d+|several|many|two|three|four|five|ten) (?:years|decades) ago\b|\bCold War\b|\bSoviet[- ]era\b|"
    r"\bat the time\b|\bhistorically\b|\bWorld War\b|\b(?:dates|dating|date|goes|going) back to\b|"
    r"\b(?:which|that) (?:began|started|erupted|broke out) (?:in|more than|nearly|almost|over)\b|"
    r"\b(?:in|during|since|of) the (?:early |late |mid-)?(?:19|20)\d0s\b|"
    r"\b(?:killed|displaced|uprooted) (?:more than |at least |over |nearly |about |an estimated |some )?"
    r"(?:tens of thousands|hundreds of thousands|millions|[\d.]+ million|\d{2,3},\d{3}|\d{1,3}(?:,\d{3}){2,})\b",
    re.IGNORECASE)
_NOW = re.compile(r"\b(?:today|tonight|yesterday|this (?:week|month|morning|year)|last (?:week|night)|now|"
                  r"currently|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b", re.IGNORECASE)

_CONSEQUENCE = re.compile(r",\s+(?:raising|sparking|prompting|fuell?ing|stoking|heightening|adding to|amid)\b",
                          re.IGNORECASE)
_SPEECH_ACTS_FUTURE = frozenset({"THREATEN", "REQUEST", "REJECT"})
_SPEECH_ACTS = frozenset({"THREATEN", "REQUEST", "ACCUSE", "PROTEST"})
_DENIAL_TYPES = frozenset({"REJECT"})


def modality(sentence: str, signal_type: str) -> str:
    """``asserted``, ``negated`` or ``hypothetical`` for a signal of ``signal_type`` found in ``sentence``."""
    if signal_type in _SPEECH_ACTS:
        if _ACT_NEGATION.search(_REPORTED_CONTENT.split(sentence.lstrip("“\"‘' "), maxsplit=1)[0]):
            return "negated"
    elif signal_type not in _DENIAL_TYPES and _NEGATION.search(sentence):
        return "negated"
    main_clause = _CONSEQUENCE.split(sentence, maxsplit=1)[0]
    if signal_type not in _SPEECH_ACTS_FUTURE and _HYPOTHETICAL.search(main_clause):
        return "hypothetical"
    return "asserted"


def is_background(sentence: str, reference_year: int) -> bool:
    """True when the sentence reports history (years before ``reference_year`` - 1, "years ago", …)."""
    years = [int(y) for y in _YEAR.findall(sentence)]
    if years and max(years) <= reference_year - 2:
        return True
    return bool(_HISTORY.search(sentence))


def background_flags(paragraphs: list[list[str]], reference_year: int) -> list[bool]:
    """``is_background`` for every sentence, where a sentence with no time of its own ("Twenty soldiers
    were killed.") continues the history its paragraph started ("Relations plunged in June 2020 when …")."""
    flags: list[bool] = []
    for sentences in paragraphs:
        previous = False
        for sentence in sentences:
            own_time = bool(_YEAR.search(sentence) or _NOW.search(sentence))
            previous = is_background(sentence, reference_year) or (previous and not own_time)
            flags.append(previous)
    return flags
