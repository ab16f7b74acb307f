"""Content words of a text, stemmed, for the lexical part of quote scoring."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"(?u)\b\w\w+\b")
# Question words carry no topic; bm25s's English list lacks most of them.
_QUESTION_WORDS = frozenset(
    "what who whom whose when where why how which does did do doing done according "
    "would could should can tell describe explain".split())


@lru_cache(maxsize=1)
def _tools():  # type: ignore[no-untyped-def]
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    # The same stemmer and stopword list as the BM25 retriever, so both agree on "a word".
    return Stemmer.Stemmer("english"), frozenset(STOPWORDS_EN) | _QUESTION_WORDS


def stopwords() -> frozenset[str]:
    """The English stopwords and question words that `content_terms` leaves out."""
    return _tools()[1]  # type: ignore[no-any-return]


@lru_cache(maxsize=50_000)
def content_terms(text: str) -> frozenset[str]:
    """Stemmed, lower-cased words of `text` minus English stopwords."""
    stemmer, stop = _tools()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    return frozenset(stemmer.stemWords(words))
