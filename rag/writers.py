"""Questions that name a writer are answered from that writer's words.

"According to Socialist Worker, what happened in October?" or "What does the Red Pepper
article say about Trotskyists?" ask what one reading says. Retrieval alone ranks passages by
topic, so the closest sentence may be another reading's, or a reader comment on it. A writer
is named by the readings' own metadata: a document's author, its publisher (which stands for
the author's words), or the author of an attributed stretch (a reader comment).

- A name counts only where the readings never use it as ordinary words: "Worker" (from
  "Socialist Worker") names no one in readings that speak of a worker.
- A writer's last word is enough ("according to Lih", "the overview" for an "Encyclopedia-
  style overview"), spelt as the metadata spells it ("price" is a word, "Price" a name); a
  publisher is named in full ("Library" alone does not name "The Anarchist Library").
- A question that also names someone the writer's reading never mentions asks beyond it
  ("mentioned both by Price and by Wetzel"), and is answered from all the readings.
- A question about a kind of writing and no writer ("What did the commenters say?") is
  answered from every stretch of that kind.
- A question that asks only what the writers say ("What did Stuart argue?", "What is
  Price's view?") is answered with their closest words, however low the reader scores
  them: any of them answers, and the reader, trained on questions about facts, cannot
  tell which does best.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from corpus.document import Document
from index.lexicon import document_words
from index.passage import Passage
from rag.evidence import unknown_names
from rag.retrieval import Retriever
from rag.terms import stopwords
from rag.types import Hit

# How deep to search for a named writer's passages: a reading that has none among the
# first hundred passages for the question does not discuss it, as far as retrieval can tell.
NAMED_DEPTH = 100
# A surname is a person's last word of three letters or more ("Felipe Stuart C." -> "Stuart").
_SURNAME = re.compile(r"[^\W\d_][\w’'-]{2,}")
# Notes in brackets ("(unsigned)", "(anti-copyright)") and what follows a comma ("Socialist
# Worker, issue 2577") are not part of the name.
_PARENS = r"\s*\([^)]*\)"
_NOTE = re.compile(_PARENS + r"|,.*$")
_LEADING_THE = re.compile(r"^the\s+", re.I)
# Where one question of several ends (a follow-up is searched after the one it follows).
_QUESTIONS = re.compile(r"(?<=\?)\s+")
# Words of three letters or more: the parts of a name or a role worth matching.
NAME_WORD = re.compile(r"[^\W\d_]{3,}")
# Words that ask what a writer says without asking about what, or how they take another's
# words ("What do the comments criticise?", "Do any commenters disagree with Lih?").
_SAYING = frozenset("""
say says said saying argue argues argued arguing argument arguments write writes wrote
written think thinks thought thoughts claim claims claimed believe believes believed view
views point points position positions opinion opinions main key central comment comments
commented mean means meant suggest suggests suggested propose proposes proposed article
articles essay essays text texts piece talk reading readings post posts thesis tell tells
told make made case whole overall message idea ideas
criticise criticises criticised criticize criticizes criticized criticism criticisms
critique critiques disagree disagrees disagreed disagreement agree agrees agreed object
objects objected objection objections complain complains complained complaint complaints
reply replies replied respond responds responded response responses react reacts reacted
reaction reactions
""".split())
# Words that ask for nothing more ("What do the comments criticise about the article?",
# "Do any commenters disagree?"), missing from the stopword list.
_FILLER = frozenset({"about", "any", "anything"})
# Question words that ask something other than what a writer says.
_NOT_WHAT = frozenset({"who", "whom", "whose", "when", "where", "why"})


@dataclass(frozen=True)
class Writer:
    """Whoever wrote some words of a document: `name` as `Document.author_at` gives it."""

    doc_id: str
    name: str | None


@dataclass(frozen=True)
class Named:
    """The writers a question names, and the names as the question wrote them (each once)."""

    writers: frozenset[Writer]
    said: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.writers)

    @functools.cached_property
    def doc_ids(self) -> frozenset[str]:
        """The documents holding a named writer's words."""
        return frozenset(w.doc_id for w in self.writers)


NOBODY = Named(frozenset(), ())


def clean_name(name: str) -> str:
    """A metadata name without notes, a comma's tail or a leading "The"."""
    return _LEADING_THE.sub("", _NOTE.sub("", name)).strip(" .")


# Co-authors: "A. Smith and B. Jones", "Smith & Jones", "Ann Smith; Bo Jones".
_CO_AUTHORS = re.compile(r"\s*(?:;|&|\band\b)\s*")


def split_people(name: str) -> list[str]:
    """The people an author string names: split at "and", "&" and ";", and at commas when
    every part is a name of two words or more ("Ann Smith, Bo Jones"; but "Smith, John" is
    one person, family name first)."""
    people = []
    for part in _CO_AUTHORS.split(re.sub(_PARENS, "", name)):
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) > 1 and all(len(p.split()) > 1 for p in pieces):
            people.extend(pieces)
        elif part.strip():
            people.append(part.strip())
    return people


def name_keys(name: str, person: bool) -> list[str]:
    """The ways a question may name `name`: in full, and for a person (an author or
    commenter whose name has two words or more) also without initials and by surname;
    each co-author by their own name and surname too."""
    if person and len(people := split_people(name)) > 1:
        return [clean_name(name), *(k for p in people for k in name_keys(p, person))]
    full = clean_name(name)
    if not full:
        return []
    keys = [full]
    words = full.split()
    if person and len(words) > 1:
        long = [w for w in words if len(w.strip(".")) > 1]
        if len(long) > 1 and len(long) < len(words):
            keys.append(" ".join(long))
        surnames = _SURNAME.findall(words[-1]) or _SURNAME.findall(" ".join(long[-1:]))
        keys.extend(surnames[-1:])
    return keys


def asks_about_role(question_words: set[str], role: str | None) -> bool:
    """Whether the question's (lower-cased) words ask about the kind of writing a role
    names: a role's last word does ("reader comment": "comments", "commenter",
    "commentary"); "readers" does not."""
    head = NAME_WORD.findall(role)[-1:] if role else []
    return any(a.startswith(w.lower().rstrip("s")) for a in question_words for w in head)


def _writer_keys(doc: Document) -> Iterable[tuple[str, Writer]]:
    own = Writer(doc.id, doc.author)
    if doc.author:
        for key in name_keys(doc.author, person=True):
            yield key, own
    if doc.publisher:
        # A publisher is an organisation: named in full only.
        for key in name_keys(doc.publisher, person=False):
            yield key, own
    for a in doc.attributions:
        for key in name_keys(a.author, person=True):
            yield key, Writer(doc.id, a.author)


def _bounded(key: str) -> str:
    return rf"(?<!\w){re.escape(key)}(?!\w)"


class Writers:
    """The readings' writers by the names a question may use. Safe to share between threads."""

    def __init__(self, documents: Mapping[str, Document]) -> None:
        self.documents = documents
        self._by_key: dict[str, set[Writer]] = {}
        self._seen: dict[str, bool] = {}
        # A one-word key as the metadata spells it: "Price" names Wayne Price, but "price"
        # is a word, even in readings that never use it.
        self._spelt: dict[str, set[str]] = {}
        self._words: dict[frozenset[str], frozenset[str]] = {}
        for doc in documents.values():
            for key, writer in _writer_keys(doc):
                self._by_key.setdefault(key.lower(), set()).add(writer)
                if " " not in key:
                    self._spelt.setdefault(key.lower(), set()).add(key)
        # Longest first, so "Wayne Price" is one match rather than "Price" inside it.
        keys = sorted(self._by_key, key=len, reverse=True)
        self._pattern = (re.compile("|".join(_bounded(k) for k in keys), re.I)
                         if keys else None)
        # Each kind of writing (an attribution's role) and who wrote it, gathered once: every
        # question is checked for one ("the commenters"), and a library has many readings.
        self._by_role: dict[str, set[Writer]] = {}
        for doc in documents.values():
            for a in doc.attributions:
                self._by_role.setdefault(a.role, set()).add(Writer(doc.id, a.author))
        # One question is looked up by the retriever, the quoter and the refusal: once.
        self.named = functools.lru_cache(maxsize=256)(self._named)

    def _ordinary(self, key: str) -> bool:
        """Whether the readings use `key` in lower case, as ordinary words ("price").
        Looked up once per key, on the first question that uses it: a scan of every text
        at load would cost a large library's start-up (a race only looks twice)."""
        if key not in self._seen:
            pattern = re.compile(_bounded(key))
            self._seen[key] = any(pattern.search(d.text) for d in self.documents.values())
        return self._seen[key]

    def _named(self, question: str) -> Named:
        """The writers `question` names (none: `NOBODY`). Of several questions in one (a
        follow-up searched with the question before it: "What does Lih say about vlast?
        And Price?"), the last that names a writer decides.

        Not when the question also names someone or something that the named writers'
        readings never mention ("mentioned both by Wayne Price and by Tom Wetzel", where
        only another reading quotes Wetzel): it asks beyond their words, and is answered
        from all the readings as before. When it asks about a kind of writing ("Lih's
        essay ... the commenter"), those stretches of the named readings count too."""
        if self._pattern is None:
            return NOBODY
        for part in reversed(_QUESTIONS.split(question)):
            if (named := self._named_in(part, self._pattern)) or (named := self._kind(part)):
                return named
        return NOBODY

    def _kind(self, question: str) -> Named:
        """Every stretch of the kind of writing a question asks about, in all readings
        ("What did the commenters say?"); `said` is the question's word for it."""
        asked = {w.lower() for w in NAME_WORD.findall(question)}
        roles = [r for r in self._by_role if asks_about_role(asked, r)]
        if not roles:
            return NOBODY
        said = [w for w in NAME_WORD.findall(question) if any(
            asks_about_role({w.lower()}, r) for r in roles)]
        return Named(frozenset().union(*(self._by_role[r] for r in roles)),
                     tuple(dict.fromkeys(said)))

    def asks_what_they_say(self, question: str) -> bool:
        """Whether the question names writers and asks only what they say: it has a word
        such as "say", "argue" or "view", no word but those, their names, the kind of
        writing and function words, and does not ask who, when, where or why ("Who is
        Wayne Price?" asks about him, not for his words)."""
        named = self.named(question)
        words = [w.lower() for w in NAME_WORD.findall(question)]
        if not named or not _SAYING.intersection(words) or _NOT_WHAT.intersection(words):
            return False
        named_words = {w.lower() for n in named.said for w in NAME_WORD.findall(n)}
        return all(w in named_words or w in _SAYING or w in _FILLER or w in stopwords()
                   or any(asks_about_role({w}, r) for r in self._by_role) for w in words)

    def _named_in(self, question: str, pattern: re.Pattern[str]) -> Named:
        writers: set[Writer] = set()
        said: list[str] = []
        rest = question
        for m in pattern.finditer(question):
            key = m.group(0).lower()
            if key in self._spelt and m.group(0) not in self._spelt[key]:
                continue
            if key in self._by_key and not self._ordinary(key):
                writers |= self._by_key[key]
                said.append(m.group(0))
                rest = rest[:m.start()] + " " * len(m.group(0)) + rest[m.end():]
        if not writers:
            return NOBODY
        doc_ids = frozenset(w.doc_id for w in writers)
        if unknown_names(rest, self._words_of(doc_ids)):
            return NOBODY
        asked = {w.lower() for w in NAME_WORD.findall(question)}
        writers |= {Writer(d, a.author) for d in doc_ids
                    for a in self.documents[d].attributions if asks_about_role(asked, a.role)}
        return Named(frozenset(writers), tuple(dict.fromkeys(said)))

    def _words_of(self, doc_ids: frozenset[str]) -> frozenset[str]:
        if doc_ids not in self._words:
            self._words[doc_ids] = document_words(self.documents[d] for d in doc_ids)
        return self._words[doc_ids]

    def wrote(self, named: Named, doc_id: str, offset: int) -> bool:
        """Whether a named writer wrote the words at `offset` of document `doc_id`."""
        if doc_id not in named.doc_ids:
            return False
        author, _ = self.documents[doc_id].author_at(offset)
        return Writer(doc_id, author) in named.writers

    def in_passage(self, named: Named, passage: Passage) -> bool:
        """Whether a named writer wrote any of the passage's words."""
        if passage.doc_id not in named.doc_ids:
            return False
        doc = self.documents[passage.doc_id]
        # The words change hands only where an attribution starts or ends.
        cuts = {passage.start} | {p for a in doc.attributions for p in (a.start, a.end)
                                  if passage.start < p < passage.end}
        return any(self.wrote(named, passage.doc_id, p) for p in cuts)


class WriterScopedRetriever:
    """Retrieve with `base`; when the question names writers, keep the passages with their
    words, searching deeper for them. If none is found, the base ranking is kept, and the
    answer refuses for want of the named writer's words (`Pipeline`)."""

    def __init__(self, base: Retriever, writers: Writers, depth: int = NAMED_DEPTH) -> None:
        self.base = base
        self.writers = writers
        self.depth = depth

    def search(self, query: str, k: int) -> list[Hit]:
        """The top k passages, the named writers' only when there are any."""
        named = self.writers.named(query)
        if not named:
            return self.base.search(query, k)
        hits = self.base.search(query, max(k, self.depth))
        theirs = [h for h in hits if self.writers.in_passage(named, h.passage)]
        return (theirs or hits)[:k]
