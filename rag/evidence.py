"""Checks that the readings could answer a question at all, before similarity is trusted.

A similarity threshold alone cannot refuse a question that is close to the readings' topic
("When did Lenin die?" scores like the questions the readings do answer). A few cheap,
explainable checks catch much of that, and each gives the student a reason:

- a name the question asks about that the readings never use ("Makhno"), or a year they
  never name ("2015");
- a question none of whose words the readings use (one in another language, or on another
  subject entirely);
- the kind of answer the question asks for (a date, a number) that no candidate quote has.
  This is the expected-answer-type step of classic factoid QA, kept to the two types that
  can be recognised without a tagger (a length of time, "half a year", is no count of
  delegates);
- a month the question asks about ("What happened in July?") where a candidate speaks of
  other months only: it answers about another time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from index.lexicon import WORD, YEAR, uses
from index.units import PAGE_REF
from rag.terms import stopwords

# A word written with a capital inside the question: a name, a title, a place.
_CAPITALISED = re.compile(r"(?<=\s)[\"“‘'(]*([A-Z][^\s\"”’'?!.,;:()]*)")
_POSSESSIVE = re.compile(r"[’']s?$")
# Very short names ("Ed", "Mr") are too often abbreviations to decide anything.
MIN_NAME_LETTERS = 3
# How close a spelling must be to a word of the readings to count as that word
# ("Kamenev" typed "Kamanev"), as a difflib ratio.
SPELLING_CUTOFF = 0.8

TIME_QUESTION = re.compile(
    r"^\W*when\b|\b(what|which)\s+(year|month|day|date|decade|century|season)\b", re.I)
# "How long did it last?": a span of time (or a length), given by a number, a date or a
# word for a stretch of time.
DURATION_QUESTION = re.compile(r"^\W*how long\b", re.I)
QUANTITY_QUESTION = re.compile(
    r"^\W*how many\b|\bwhat (share|percentage|proportion|fraction)\b|\bpopulation\b", re.I)
# "How tall was he?" asks for a measure, a number. Not "how much" (11% of SQuAD v1.1 dev's
# answer sentences to it give none: "much" also asks how far a thing goes), nor "how far"
# or "how fast" (a few answers are words: "over any terrestrial distance").
MEASURE_QUESTION = re.compile(r"^\W*how (old|tall|high|large|big|wide|deep|heavy)\b", re.I)
# An age is a length of time ("30 years old").
_AGE_QUESTION = re.compile(r"^\W*how old\b", re.I)

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December")
# Months are matched case-sensitively so that the modal "may" is not a date.
_MONTH = re.compile(rf"\b({_MONTHS})\b")
_TIME_NO_MONTHS = re.compile(
    r"\b\d{1,4}s?\b|\b(spring|summer|autumn|winter|century|centuries|decade|decades)\b", re.I)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|dozens|twenty|"
    "thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|"
    "million|millions|billion|half|third|thirds|quarter|percent|majority|minority")
_QUANTITY = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_TIME_UNITS = (r"(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?|"
               r"centur(?:y|ies)|generations?)")
_DURATION = re.compile(rf"\b(?:{_TIME_UNITS}|lifetimes?|until|till)\b", re.I)
_DIGIT = re.compile(r"\d")
# A question that counts time ("How many years ...?") is answered by a length of time.
_COUNTS_TIME = re.compile(rf"\b{_TIME_UNITS}\b", re.I)
# A length of time ("half a year", "two weeks", "3 days") is no count of anything else.
_LENGTH_OF_TIME = re.compile(
    rf"\b(?:(?:{_NUMBER_WORDS})|\d[\d,.]*)(?:[\s-]+(?:a|an|of\s+a))?[\s-]+{_TIME_UNITS}\b",
    re.I)
# "one" as a pronoun ("a peculiar one", "the current one") counts nothing.
_PRONOUN_ONE = re.compile(r"\b(?:a|an|the|this|that|any|every|each|no|which|another|new|old|"
                          r"current|only)\s+(?:[a-z]+\s+)?one\b", re.I)
# A day of the month ("November 7", "27 February", "the 3rd of May") is a date, not a count.
_DAY_OF_MONTH = re.compile(rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
                           rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)s?\b")
# A month named after a text's first word: a first "May" is as often the verb as the month.
_NAMED_MONTH = re.compile(rf"(?<=\W)({_MONTHS})\b")
# Words that set a time relative to the month ("after July", "between April and June"):
# then a sentence about another month may be the answer.
_RELATIVE_TIME = re.compile(
    r"\b(before|after|since|until|till|between|from|by|prior|following|later|earlier|"
    r"preceding)\b", re.I)
_QUESTION_END = re.compile(r"(?<=[?])\s+")
# The number of a list item or a note ("2. Lars T. Lih wrote", "3) ...") at the start of a
# quote, and a bracketed note marker ("[3]") anywhere: they number the text, they are not
# a date or a count it gives, and without this "What share of the vote did they win?"
# could be answered by the second item of a list.
_ENUMERATOR = re.compile(r"^\W*\d{1,3}[.)](?=\s)|\[\d{1,3}\]"
                         # Nor are a cited page (`index.units.PAGE_REF`) and a bracketed
                         # page reference closing a quotation ("... settling” (10, 19)).
                         rf"|{PAGE_REF.pattern}|(?<=[”\"’'])\s*\(\d{{1,4}}(?:\s*[,–-]\s*\d{{1,4}})*\)")


def _known(word: str, vocab: frozenset[str]) -> bool:
    if uses(vocab, word):
        return True
    return bool(difflib.get_close_matches(word, vocab, n=1, cutoff=SPELLING_CUTOFF))


def unknown_names(question: str, vocab: frozenset[str]) -> list[str]:
    """Capitalised words of the question, other than a sentence's first, that the readings never use
    (nor a close spelling of them). "Brest-Litovsk" counts when either half is unknown."""
    text = " " + question.strip()
    out = []
    for m in _CAPITALISED.finditer(text):
        before = text[:m.start()].rstrip()
        if not before or before.endswith((".", "?", "!", ":")):
            continue  # a sentence's first word is capitalised whatever it is
        name = _POSSESSIVE.sub("", m.group(1))
        parts = [w for w in WORD.findall(name.lower()) if len(w) >= MIN_NAME_LETTERS]
        if parts and any(not _known(w, vocab) for w in parts):
            out.append(name)
    return list(dict.fromkeys(out))


def unknown_years(question: str, vocab: frozenset[str]) -> list[str]:
    """Years the question names that the readings never name ("What did they do in 2015?").
    In SQuAD v1.1 and 2.0 dev, 1 of 907 answerable questions naming a year names one its
    article never does, against 74 of 401 unanswerable ones. An index stored before years
    were kept with its words has none, and then no year counts as unknown."""
    asked = YEAR.findall(question)
    if not asked or not any(w[:1].isdigit() for w in vocab):
        return []
    return list(dict.fromkeys(y for y in asked if y not in vocab))


def shares_no_word(question: str, vocab: frozenset[str]) -> bool:
    """True when the question has words other than stopwords and question words, and the
    readings use none of them, nor a close spelling of one. A question in Russian put to
    English readings is one: the embedder still finds a nearest sentence, at a score above
    the threshold. In SQuAD 2.0 dev, 1 of 5,928 answerable questions is one (a misspelt
    name), against its own article collection."""
    words = [w for w in WORD.findall(question.lower()) if len(w) >= 2 and w not in stopwords()]
    if not words or any(w in vocab for w in words):
        return False  # the exact test first: the spelling test runs through the whole vocab
    return not any(_known(w, vocab) for w in words)


def answer_kind(question: str) -> str | None:
    """"time", "duration" or "quantity" when the question asks for one, else None."""
    if TIME_QUESTION.search(question):
        return "time"
    if DURATION_QUESTION.search(question):
        return "duration"
    if QUANTITY_QUESTION.search(question) or MEASURE_QUESTION.search(question):
        return "quantity"
    return None


def asked_months(question: str) -> tuple[str, ...]:
    """The months a question asks about ("What happened in July 1917?" asks about July):
    those of its last question that names one (a follow-up "And in July?" joined to an
    earlier question asks about July), none when it sets a time relative to them ("after
    July"). In SQuAD v1.1 dev, of 58 answerable questions that ask about a month, no answer
    sentence and no answer paragraph names only other months; 36 of the 219 other sentences
    of those paragraphs do, and 1,059 of the 3,448 other paragraphs of their articles."""
    for part in reversed(_QUESTION_END.split(question.strip())):
        named = _NAMED_MONTH.findall(part)
        if named:
            return () if _RELATIVE_TIME.search(part) else tuple(dict.fromkeys(named))
    return ()


def other_months(text: str, months: Collection[str]) -> bool:
    """True when `text` names a month and none of `months`: it speaks of another time."""
    named = set(_NAMED_MONTH.findall(text))
    return bool(named) and named.isdisjoint(months)


# What a refusal says is missing, by `answer_kind`.
_KIND_WORDS = {"time": "a date", "quantity": "a number", "duration": "a length of time"}


@dataclass(frozen=True)
class Demands:
    """What a quote must give to answer a question: the kind of answer it asks for
    (`answer_kind`) and the months it asks about (`asked_months`). None by default."""

    kind: str | None = None
    months: tuple[str, ...] = ()
    # Whether a count may be a length of time ("How many years ...?"); see `gives`.
    counts_time: bool = True

    @classmethod
    def of(cls, question: str, asks: str | None = None) -> Demands:
        """The demands of `question`; `asks`, when given, is the part of it that says what
        kind of answer is wanted (a follow-up's own words, `Resolution.asks`)."""
        wants = asks or question
        return cls(answer_kind(wants), asked_months(question),
                   bool(_COUNTS_TIME.search(wants) or _AGE_QUESTION.search(wants)))

    def __bool__(self) -> bool:
        return bool(self.kind or self.months)

    def met_by(self, text: str, passage: str) -> bool:
        """True when a quote `text`, from a passage `passage`, can meet them: it gives the
        kind of answer, and neither it nor its passage speaks of other months only."""
        if self.kind and not gives(text, self.kind, self.counts_time):
            return False
        return not (self.months and (other_months(text, self.months)
                                     or other_months(passage, self.months)))

    def unmet(self) -> str:
        """Why no quote met them, for the refusal."""
        if self.kind:
            return f"None of the closest passages gives {_KIND_WORDS[self.kind]}."
        return f"None of the closest passages is about {join_quoted(self.months)}."


def join_quoted(words: Sequence[str]) -> str:
    """“a”, “b” or “c”: the words a refusal names."""
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def gives(text: str, kind: str, counts_time: bool = True) -> bool:
    """True when `text` contains an answer of that kind: a date or time for "time" (a year,
    a month, a season), a number other than a year or a day of the month for "quantity",
    a date, a figure or a word for a stretch of time ("weeks", "until") for "duration". A
    list item's or a note's number is none of them. With `counts_time` False (a question
    that counts no time: "How many delegates ...?"), a length of time ("half a year") and
    "one" as a pronoun ("a peculiar one") are no count either: in SQuAD v1.1 dev that keeps
    all 618 answer sentences of quantity questions that give a number, and takes 40 of
    the 1,407 other sentences of their paragraphs that seemed to."""
    text = _ENUMERATOR.sub(" ", text)
    if kind == "quantity" and not counts_time:
        text = _PRONOUN_ONE.sub(" ", _LENGTH_OF_TIME.sub(" ", text))
    if kind in ("time", "duration"):
        date = bool(_MONTH.search(text) or _TIME_NO_MONTHS.search(text))
        # Not a number word alone: "the current one" is no length of time.
        return date or (kind == "duration"
                        and bool(_DIGIT.search(text) or _DURATION.search(text)))
    if kind == "quantity":
        return bool(_QUANTITY.search(_YEAR.sub(" ", _DAY_OF_MONTH.sub(" ", text))))
    raise ValueError(f"unknown answer kind {kind!r}")
