"""Follow-up questions: does a question lean on the one before it, and what to search for.

"What did he mean by that?" or "And in July?" cannot be answered on their own words: they
point back at the previous question. A few explainable rules (no model) decide whether a
question leans; when it does, retrieval and quoting use the earlier question and the new
one together, and when there is nothing earlier to go on, the question is refused with that
reason rather than answered with an unrelated quote.

The rules are built to keep false alarms low: a question that names someone ("What did
Lenin mean by dual power?") or has enough words of its own is taken as it stands, even if
it also says "it" or "they", because refusing or rewriting a good question costs more than
missing a follow-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# The most earlier questions a caller may send (the API, the chat): enough for a
# conversation's recent turns, little enough to keep requests small.
MAX_HISTORY = 10
# A chain of follow-ups ("And in July?" after "Why?" after a real question) is resolved
# through at most this many earlier questions.
MAX_CHAIN = 3
NO_HISTORY = "It reads as a follow-up, but there is no earlier question to go on."

_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")
# Openings that only make sense as the next turn of a conversation.
_ALWAYS_LEADING = ("what about", "how about", "and what about", "what else about")
# Connectives at the start: a follow-up when the rest is short or does not stand alone
# ("And in July?" leans; "And what did Lenin mean by dual power?" does not).
_CONNECTIVES = frozenset({"and", "but", "also", "so", "then", "or"})
SHORT_CONNECTIVE_WORDS = 6
# Words that point back at something said before.
_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "they", "them", "their", "it", "its"})
# Demonstratives count only on their own ("by that?"), not before a noun ("this approach").
_DEMONSTRATIVES = frozenset({"that", "this", "those", "these"})
# Adverbs that point back when they end the question ("What happened there?").
_POINTING_ADVERBS = frozenset({"there", "then"})
# Words that can follow a stand-alone demonstrative ("that is", "this mean", "those in").
_AFTER_STANDALONE = frozenset({
    "is", "was", "were", "are", "be", "been", "mean", "means", "meant", "refer", "refers",
    "in", "on", "of", "about", "for", "to", "by", "at", "from", "happen", "happened",
    "say", "says", "said", "come", "came", "work", "worked", "end", "ended", "lead", "led",
    "change", "changed", "matter", "matters", "true", "right", "wrong", "so", "still",
})
# Question words, function words and generic verbs: none of them says what is asked about.
_FUNCTION = frozenset("""
a an the of in on at to for from by with about into over after before during since until
and but or so nor then than as if because while though although also too very just only
what which who whom whose when where why how whether
is are was were be been being am do does did done doing have has had having
can could will would shall should may might must
i me my we us our you your he him his she her it its they them their
this that these those there here such some any all each every both either neither
not no yes more most much many other another else own same one ones
mean means meant meaning say says said saying tell told think thought thinks
happen happened happens make made get got go went come came take took give gave
way thing things something anything stuff kind sort exactly really actually
according view idea point
""".split())
# A word that asks something: a follow-up with one says itself what kind of answer it wants.
_ASKING = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
# A number of two digits or more: a year or a count the question is about.
_NUMBER = re.compile(r"\b\d{2,}\b")
# Content words needed for a question to stand alone without a name.
ENOUGH_CONTENT = 3
# A question this short with no content word leans ("Why?", "How so?", "Who else?").
SHORT_WORDS = 3


@dataclass(frozen=True)
class Resolution:
    """How one question is read. `query` is what retrieval and quoting use; `followup_of`
    is the earlier question it was joined with; `refusal` is set when it leans on an
    earlier question that the conversation does not have."""

    question: str
    query: str
    leans: bool = False
    rule: str | None = None
    followup_of: str | None = None
    refusal: str | None = None

    @property
    def asks(self) -> str:
        """The words that say what kind of answer is wanted (a date, a number): the
        follow-up's own when it has a question word ("By whom?" after "When was the Soviet
        created?" does not ask for a date), else the whole query ("And in July?" asks what
        the earlier question asked)."""
        if self.query != self.question and _ASKING.search(self.question):
            return self.question
        return self.query


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _content(words: Sequence[str]) -> list[str]:
    return [w for w in words if len(w) >= 3 and w.lower() not in _FUNCTION]


def _has_name(words: Sequence[str]) -> bool:
    """A capitalised word that is not a function word ("Lenin", "Petrograd", "July")."""
    return any(w[:1].isupper() and w.lower() not in _FUNCTION for w in words)


def stands_alone(question: str) -> bool:
    """True when the question names something (a year counts: "What happened in 1917?"
    says when as "in July" does) or has enough words of its own to be searched as it is."""
    words = _words(question)
    return (_has_name(words) or bool(_NUMBER.search(question))
            or len(_content(words)) >= ENOUGH_CONTENT)


def _refers_back(words: Sequence[str]) -> str | None:
    """The first word that points outside the question, or None."""
    lower = [w.lower() for w in words]
    for i, w in enumerate(lower):
        nxt = lower[i + 1] if i + 1 < len(lower) else None
        if w in _PRONOUNS:
            return words[i]
        if w in _DEMONSTRATIVES and (nxt is None or nxt in _AFTER_STANDALONE):
            return words[i]
        if w in _POINTING_ADVERBS and nxt is None:
            return words[i]
    return None


def leans_on_earlier(question: str) -> str | None:
    """Which rule finds that `question` leans on an earlier one, or None if it stands on
    its own. The rule is a short phrase for logs and tests."""
    words = _words(question)
    if not words:
        return None
    lower = " ".join(w.lower() for w in words)
    if any(lower == p or lower.startswith(p + " ") for p in _ALWAYS_LEADING):
        return "opens with “what about”"
    alone = stands_alone(question)
    if words[0].lower() in _CONNECTIVES and (len(words) <= SHORT_CONNECTIVE_WORDS or not alone):
        return f"opens with “{words[0]}”"
    if alone:
        return None
    if (ref := _refers_back(words)) is not None:
        return f"“{ref}” refers to something not in the question"
    if len(words) <= SHORT_WORDS and not _content(words):
        return "too short to stand alone"
    return None


def resolve(question: str, history: Sequence[str] = ()) -> Resolution:
    """Read `question` against the earlier questions of its conversation (oldest first).

    A follow-up is searched as the previous question, a space, then the new one: both
    retrievers and the quote scorer see the words the follow-up leaves out, and the new
    words come last so the quotes are still chosen for what is asked now. If the previous
    question was itself a follow-up, the one before it is put in front too (up to
    `MAX_CHAIN` questions)."""
    rule = leans_on_earlier(question)
    if rule is None:
        return Resolution(question, question)
    earlier = [h for h in history if isinstance(h, str) and h.strip()]
    if not earlier:
        return Resolution(question, question, True, rule, refusal=NO_HISTORY)
    chain = [earlier[-1]]
    while (len(chain) < MAX_CHAIN and len(chain) < len(earlier)
           and leans_on_earlier(chain[0]) is not None):
        chain.insert(0, earlier[-1 - len(chain)])
    query = " ".join(q.strip() for q in (*chain, question))
    return Resolution(question, query, True, rule, followup_of=earlier[-1])
