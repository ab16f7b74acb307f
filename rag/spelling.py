"""Misspelt words of a question, read as the readings spell them ("Kerensy" as "Kerensky").

A misspelt name is not in the readings, so BM25 cannot match it and the embedder reads it as
word pieces: "What did Trotksy write about dual power?" used to be answered from another
writer, and "Who was Kerensy?" refused. A word is read as a word of the readings when all of
these hold:

- the readings never use it (nor it without a plural "s");
- it is not an English word (pyspellchecker's frequency list). Without this check, real words
  the readings happen not to use are "corrected" into ones they do use ("sever" into
  "never", "boast" into "coast"): SQuAD v1.1 dev questions, each against its own article,
  had 2,382 words changed in 2,171 of 10,570 questions; with it, 248 in 236;
- it has at least four letters, and exactly one word of the readings is closest to it, at
  most one edit away (two for words of eight letters or more; a swap of two letters is one
  edit), starting with the same letter, accents aside (a first letter is seldom the typo).
  Two words as close ("elast": "least", "last") leave it as asked.

Of those 248 SQuAD changes, by my reading about 12 are wrong or doubtful ("defunded" read
as "defined", the name "Germain" as "German"); the rest are typos ("goverment",
"intercpetions") and names without their accents ("Gospic", "Schrodinger").

The answer says what was read differently, so the student sees it (`Answer.respelled`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

from index.lexicon import WORD, uses
from rag.terms import stopwords

MIN_LETTERS = 4
# "doesn't" is split at its apostrophe, and "doesn" is no misspelt "does".
_CONTRACTED = re.compile(r"['’]t\b")
# At this length and above, two edits are allowed: long words have few neighbours.
LONG_WORD = 8


@functools.lru_cache(maxsize=1)
def _english():  # type: ignore[no-untyped-def]
    # Loaded on first need (0.3 s): most questions have no word to respell.
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def is_english(word: str) -> bool:
    """True when `word` (lower-case) is in the English word list."""
    return word in _english()


class Respeller:
    """Reads misspelt question words as the readings' words. Built once per index: it groups
    the readings' words by first letter and length, so a lookup compares a word only with
    words that could be the one meant."""

    def __init__(self, vocab: Iterable[str]) -> None:
        self._vocab = frozenset(vocab)
        groups: dict[tuple[str, int], list[str]] = defaultdict(list)
        for w in self._vocab:
            if w.isalpha():
                groups[(_first_letter(w), len(w))].append(w)
        self._groups = dict(groups)

    def warm_up(self) -> None:
        """Load the English word list now, not on the first question that needs it."""
        _english()

    def closest(self, word: str) -> str | None:
        """The readings' one closest word to `word` (lower-case) within the allowed edits,
        or None when there is none or more than one."""
        from rapidfuzz.distance import DamerauLevenshtein
        from rapidfuzz.process import extract

        edits = 2 if len(word) >= LONG_WORD else 1
        first = _first_letter(word)
        pool = [w for n in range(len(word) - edits, len(word) + edits + 1)
                for w in self._groups.get((first, n), ())]
        found = extract(word, pool, scorer=DamerauLevenshtein.distance, score_cutoff=edits,
                        limit=None)
        if not found:
            return None
        best = min(d for _, d, _ in found)
        nearest = [w for w, d, _ in found if d == best]
        return nearest[0] if len(nearest) == 1 else None

    def respell(self, question: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The question with its misspelt words replaced, and each (as asked, as read)."""
        changes: dict[str, str] = {}
        for m in WORD.finditer(question):
            asked = m.group()
            word = asked.lower()
            if (len(word) < MIN_LETTERS or asked in changes or word in stopwords()
                    or _CONTRACTED.match(question, m.end()) or uses(self._vocab, word)):
                continue
            read = self.closest(word)
            if read is None or is_english(word):
                continue  # the English list is consulted last: it costs a load
            changes[asked] = _cased_like(asked, read)
        if not changes:
            return question, ()
        pattern = re.compile("|".join(rf"(?<![^\W\d_]){re.escape(a)}(?![^\W\d_])"
                                      for a in sorted(changes, key=len, reverse=True)))
        return pattern.sub(lambda m: changes[m.group()], question), tuple(changes.items())


def _first_letter(word: str) -> str:
    return unicodedata.normalize("NFKD", word[:1])[:1]


def _cased_like(asked: str, word: str) -> str:
    if asked.isupper() and len(asked) > 1:
        return word.upper()
    if asked[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
