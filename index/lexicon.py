"""The words of a corpus: every run of letters, lower-cased, in the documents' texts, titles,
writers, publishers and commenters, and every year they name ("1917"); what the name check
(`rag.evidence.unknown_names`, `unknown_years`) looks a question's names and years up in.

Made at build time and stored in the index folder (`words.json`), because finding them again
means a regex over every text on every start: 0.35 s of a 2.5 s start at 10k passages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from corpus.document import Document
from index.modeltext import for_models

WORDS = "words.json"
# Bump when what counts as a word changes (2: years are kept too): a stored index is then
# rebuilt, so that its words follow (`Settings.index_settings`).
LEXICON_VERSION = 2
# A word: a run of letters (no digits, no underscore), in any script.
WORD = re.compile(r"[^\W\d_]+")
# A year, 1500 to 2099, standing alone ("1917", not "1920s" or "21917").
YEAR = re.compile(r"(?<![\w.,])(1[5-9]\d\d|20\d\d)(?![\w])")


def uses(vocab: frozenset[str], word: str) -> bool:
    """True when `vocab` has `word` (lower-case), or it without a plural "s"."""
    return word in vocab or (word.endswith("s") and word[:-1] in vocab)


def words_of(texts: Iterable[str]) -> frozenset[str]:
    """Every word (letters only, lower-cased) and every year of the texts."""
    words: set[str] = set()
    for text in texts:
        words.update(WORD.findall(text.lower()))
        words.update(YEAR.findall(text))
    return frozenset(words)


def document_words(documents: Iterable[Document]) -> frozenset[str]:
    """Every word of the documents and of who wrote, published or commented on them."""
    return words_of(t for d in documents
                    for t in (for_models(d.text), d.title, d.author or "", d.publisher or "",
                              *(a.author for a in d.attributions)))


def save(words: frozenset[str], folder: Path) -> list[str]:
    """Write the words into `folder`; returns the file's name."""
    (folder / WORDS).write_text(json.dumps(sorted(words), ensure_ascii=False),
                                encoding="utf-8")
    return [WORDS]


def parse(data: bytes) -> frozenset[str]:
    """The words of a `words.json`; ValueError if it is not a list of strings."""
    words = json.loads(data.decode("utf-8"))
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError("not a list of words")
    return frozenset(words)
