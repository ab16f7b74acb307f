"""Quotable units: the sentences, and pairs of adjacent sentences, that may be quoted as an
answer. Pure functions of a `Passage`, so that the index can embed every unit at build time
and the quoter finds the same units, in the same order, at question time."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np

from index.chunking import ENDS_SENTENCE, LIST_ITEM, LIST_MARKER
from index.modeltext import for_models
from index.passage import Passage

# Sentences shorter than this are headings, list stubs or signatures, not answers.
MIN_QUOTE_WORDS = 4
# A line on its own that does not end like a sentence and is no longer than this is a
# heading or a note ("Looking ahead: ‘All Power to the Soviets’ during the Lenin era").
MAX_HEADING_WORDS = 15
# Bump when the rules below change: stored unit vectors follow this order.
UNITS_VERSION = 7

# "As cited in Lih, 'Ironic Triumph,' p. 222." / "Ibid., p. 4" / "See Read, Lenin, p. 154":
# a pointer to another text, not a claim of this one.
_CITATION_LEAD = re.compile(r"^\s*(\[\d+\]\.?\s*)?(as cited in|cited in|ibid|see also|see|cf\.)\b",
                            re.IGNORECASE)
# A cited page, with any further pages: "p. 222", "pp. 34, 38", "pp. 10–12".
PAGE_REF = re.compile(r"\bpp?\.\s*\d[\d\s,–-]*")
# A bibliography entry names a publisher and a year: "(Sphere Books, 1967)".
_PUBLISHER_YEAR = re.compile(r"\((?:[^()]*\b(?:Press|Books|Publishers|Verlag|Routledge)\b[^()]*"
                             r"\b(?:1[5-9]|20)\d\d\b[^()]*|[^()]*\b(?:1[5-9]|20)\d\d\b[^()]*"
                             r"\b(?:Press|Books|Publishers|Verlag|Routledge)\b[^()]*)\)")
# A footnote marker closing a sentence ("... the old one” (2).[3]") is not part of the quote.
_TRAILING_MARKER = re.compile(r"\s*\[\d+\]$")
# A list number or bullet opening a line ("3. The Provisional Government was formed ...")
# numbers the item; it is not part of what the item says, so a quote starts after it.
_LEADING_MARKER = re.compile(LIST_MARKER + r"[ \t]+")
# Words of a title that are not capitalised: "The Theory and Practice of Mikhail Bakunin".
_TITLE_SMALL = frozenset({"a", "an", "the", "and", "or", "of", "in", "on", "to", "for", "by",
                          "at", "from", "with", "as", "vs", "de", "la", "le", "von", "van",
                          "der"})
_TITLE_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _title_line(text: str) -> bool:
    """A line of capitalised words with no closing full stop: a heading, a title or a
    bibliography entry without publisher ("- Vladimir Lenin, The Dual Power"). None of
    SQuAD v1.1 dev's 10,570 answer sentences is one."""
    if text.rstrip("”\"’')").endswith((".", "?", "!", ":")):
        return False
    words = _TITLE_WORD.findall(text)
    return len(words) >= 2 and all(w[0].isupper() or w.lower() in _TITLE_SMALL for w in words)


def bibliography_entry(text: str) -> bool:
    """A publisher with a year ("(Sphere Books, 1967)"), in a short text or with a page."""
    t = text.strip()
    return bool(_PUBLISHER_YEAR.search(t) and (PAGE_REF.search(t) or len(t.split()) < 25))


def not_an_answer(text: str) -> bool:
    """True for a unit that can never be the answer, however similar it is to a question:
    - a question itself ("The question arises: ...?"); a question followed by its answer
      still counts, as a pair;
    - a line wholly in parentheses, in these readings a reference such as
      "(Party Congress, 8-16 March 1921.)";
    - a reference or bibliography line: a pointer ("As cited in", "See", "Ibid"), possibly
      after a footnote number ("[6]. As cited in ..."), a short line naming a page
      ("p. 222"), or a publisher with a year ("(Sphere Books, 1967)"). A footnote that
      says something ("[8] The relevant excerpt from Martov's book ...") stays quotable;
    - a heading, title or short bibliography entry: capitalised words without a full stop
      ("- Vladimir Lenin, The Dual Power");
    - a fragment: a unit starting in lower case was cut from a longer sentence."""
    t = text.strip()
    if not t:
        return True
    if t.startswith("(") and t.rstrip(".").endswith(")"):
        return True
    if text.rstrip("”\"’' )").endswith("?"):
        return True
    if _CITATION_LEAD.match(t) or bibliography_entry(t):
        return True
    if PAGE_REF.search(t) and len(t.split()) < 12:
        return True
    if _title_line(t):
        return True
    first = t.lstrip("“‘\"'([-–— ")[:1]
    return first.islower()


def _opens_line(p: Passage, start: int) -> bool:
    """Whether `start` (a document offset within `p`) is where a line of `p` begins."""
    return start == p.start or p.text[start - p.start - 1] == "\n"


def heading_line(p: Passage, start: int, end: int) -> bool:
    """Whether `p`'s text from `start` to `end` (document offsets) is a whole line of its
    own that does not end like a sentence, is not a list item, and is short: a heading, a
    caption or an editor's note, whatever its capitals. (A bullet point without a full
    stop is a list item, and may answer.) In SQuAD v1.1 dev 11 sentences are such lines,
    all pieces of chemical formulas the Oxygen article breaks with line breaks, holding 1
    of 10,570 answers."""
    text = p.text[start - p.start:end - p.start]
    alone = _opens_line(p, start) and (end == p.end or p.text[end - p.start] == "\n")
    return (alone and "\n" not in text and not ENDS_SENTENCE.search(text)
            and not LIST_ITEM.match(text) and len(text.split()) <= MAX_HEADING_WORDS)


def _in_bibliography_entry(p: Passage, start: int, end: int) -> bool:
    """Whether the unit lies within one line of the passage that is a bibliography entry:
    one is cut into sentences at its title's "!" or "?" ("- Proudhon (Editor: McKay)
    Property is Theft!" / "A Proudhon Anthology (AK Press, 2011)"), and the first piece
    alone looks like a sentence. (Only the entry's shape is looked for in the whole line:
    a paragraph that starts "See how ..." is no pointer.)"""
    text = p.text
    a = text.rfind("\n", 0, start - p.start) + 1
    b = text.find("\n", end - p.start)
    b = len(text) if b < 0 else b
    line = text[a:b]
    return len(line) > end - start and bibliography_entry(line)


def _marker_length(p: Passage, start: int) -> int:
    """Length of the list number or bullet opening a line at `start`, with its spaces; 0 when
    the text at `start` opens no line or has none."""
    if not _opens_line(p, start):
        return 0
    m = _LEADING_MARKER.match(p.text, start - p.start)
    return len(m.group()) if m else 0


def quote_units(p: Passage) -> list[tuple[int, int, int, str]]:
    """The quotable units of a passage: (start, end, n_sentences, text) for each sentence and
    each pair of adjacent sentences on one line, skipping units too short to be an answer
    and units that cannot be one (`not_an_answer`). A unit opening a line starts after the
    line's list number or bullet, if any."""
    units = []
    for i, (s, e) in enumerate(p.sentences):
        units.append((s, e, 1))
        if i + 1 < len(p.sentences):
            nxt_s, nxt_e = p.sentences[i + 1]
            if "\n" not in p.text[e - p.start:nxt_s - p.start]:
                units.append((s, nxt_e, 2))
    out = []
    for s, e, n in units:
        if _in_bibliography_entry(p, s, e):
            continue
        text = p.text[s - p.start:e - p.start]
        if m := _TRAILING_MARKER.search(text):
            e -= len(m.group())
            text = text[:m.start()]
        if (len(text.split()) >= MIN_QUOTE_WORDS and not not_an_answer(text)
                and not heading_line(p, s, e)):
            # Judged with its marker, as a whole line ("- See how ..." is no pointer).
            cut = _marker_length(p, s)
            out.append((s + cut, e, n, text[cut:]))
    return out


def pair_parts(p: Passage, start: int, end: int) -> tuple[str, str]:
    """The texts of the two sentences of a two-sentence unit `(start, end)` of `p`, each as a
    unit of its own would read (a note marker closing the first is left out). A build embeds
    these, not the pair: the pair's vector is made from theirs (`pair_vector`)."""
    # `start` lies inside the first sentence when a list number was left out of the unit.
    (_, e1), (s2, e2) = next((a, b) for a, b in pairwise(p.sentences)
                             if a[0] <= start < a[1])
    first = p.text[start - p.start:e1 - p.start]
    if m := _TRAILING_MARKER.search(first):
        first = first[:m.start()]
    return first, p.text[s2 - p.start:min(e2, end) - p.start]


def embedded_parts(p: Passage, unit: tuple[int, int, int, str]) -> tuple[str, ...]:
    """What a build embeds for a unit of `p` (as `quote_units` gives it), as the models read
    it (`for_models`): the unit's text, or a pair's two sentences (`pair_parts`)."""
    start, end, n, text = unit
    return tuple(for_models(t) for t in ((text,) if n == 1 else pair_parts(p, start, end)))


def pair_vector(first: np.ndarray, second: np.ndarray, first_text: str,
                second_text: str) -> np.ndarray:
    """A two-sentence unit's vector from its sentences' (unit-length) vectors, weighted by
    their words, as mean pooling over the pair's tokens weighs them; unit length.

    Embedding the pair itself is about half of a build's encoding, for nothing measurable:
    on 300 held-out SQuAD 2.0 questions through `Pipeline.ask`, answer_hit 0.837 with
    embedded pairs and 0.833 with made ones (same refusals); on the eval set, 4 answers
    fixed and 2 broken. Cosine to the embedded pair's vector: mean 0.955, 5th percentile
    0.894."""
    v = (max(1, len(first_text.split())) * first.astype(np.float32)
         + max(1, len(second_text.split())) * second.astype(np.float32))
    return v / max(float(np.linalg.norm(v)), 1e-12)


@lru_cache(maxsize=4096)
def cached_quote_units(p: Passage) -> tuple[tuple[int, int, int, str], ...]:
    """`quote_units`, kept for the passages questions keep coming back to: the rules run
    over every sentence of every retrieved passage, 0.8 ms of a 7 ms question without the
    reader (cProfile over the eval set's first 100 questions)."""
    return tuple(quote_units(p))


def unit_offsets(passages: Sequence[Passage],
                 units_of: Callable[[Passage], Sequence[Any]] | None = None) -> list[int]:
    """Row of each passage's first unit in the stored unit table (length len(passages)+1).
    `units_of` stands in for `quote_units` (a build passes its memo of them)."""
    units_of = units_of or quote_units
    out = [0]
    for p in passages:
        out.append(out[-1] + len(units_of(p)))
    return out
