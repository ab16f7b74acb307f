"""Choose the sentences that answer a question, from the retrieved passages, and decide
whether to abstain. Quotes are slices of the document text, never rewritten."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.document import Document
from index.embedder import Embedder
from index.passage import Passage
from rag.terms import content_terms
from rag.types import Citation, Hit

# Sentences shorter than this are headings, list stubs or signatures, not answers.
MIN_QUOTE_WORDS = 4
# Two adjacent sentences are also a candidate, because an answer often starts with a pronoun
# ("It translates as ...") whose referent is the sentence before. The small handicap keeps
# a single sentence first when it answers as well on its own.
PAIR_PENALTY = 0.03


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    hit_rank: int
    hit: Hit
    start: int
    end: int
    text: str
    score: float
    sentences: int = 1

    def overlaps(self, other: Candidate) -> bool:
        """True when both quote some of the same characters of the same document."""
        return (self.hit.passage.doc_id == other.hit.passage.doc_id
                and self.start < other.end and other.start < self.end)


class VectorCache:
    """A bounded, thread-safe cache of sentence vectors, so repeated passages are embedded once."""

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        self.embedder = embedder
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts, embedding only the ones not seen before."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._data))
        if missing:
            vecs = self.embedder.embed(missing)
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    self._data[t] = v
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        with self._lock:
            rows = [self._data.get(t) for t in texts]
        if any(r is None for r in rows):  # evicted meanwhile by another thread: embed again
            return self.embedder.embed(list(texts))
        return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)  # type: ignore


def quote_units(p: Passage) -> list[tuple[int, int, int, str]]:
    """The quotable units of a passage: (start, end, n_sentences, text) for each sentence and
    each pair of adjacent sentences on one line, skipping units too short to be an answer
    and units that cannot be one (`_not_an_answer`)."""
    units = []
    for i, (s, e) in enumerate(p.sentences):
        units.append((s, e, 1))
        if i + 1 < len(p.sentences):
            nxt_s, nxt_e = p.sentences[i + 1]
            if "\n" not in p.text[e - p.start:nxt_s - p.start]:
                units.append((s, nxt_e, 2))
    out = []
    for s, e, n in units:
        text = p.text[s - p.start:e - p.start]
        if len(text.split()) >= MIN_QUOTE_WORDS and not _not_an_answer(text):
            out.append((s, e, n, text))
    return out


def _not_an_answer(text: str) -> bool:
    """A unit ending with a question ("The question arises: ...?") restates the problem
    rather than answering it, however similar it is to the student's question; a question
    followed by its answer still counts, as a pair. A line wholly in parentheses is, in these
    readings, a reference such as "(Party Congress, 8-16 March 1921.)"."""
    t = text.strip()
    if t.startswith("(") and t.rstrip(".").endswith(")"):
        return True
    return text.rstrip("”\"’' )").endswith("?")


def complete_lead_in(p: Passage, start: int, end: int, n: int) -> tuple[int, int, int]:
    """Extend a unit that ends with a colon ("she used this analogy:") by the sentence that
    follows it, even across a paragraph break, because block quotes are their own paragraphs.
    On its own a lead-in quotes the announcement, not the answer it announces."""
    if not p.text[start - p.start:end - p.start].rstrip().endswith(":"):
        return start, end, n
    following = [s for s in p.sentences if s[0] >= end]
    if not following:
        return start, end, n
    return start, following[0][1], n + 1


def score_candidates(question: str, question_vector: np.ndarray, hits: Sequence[Hit],
                     cache: VectorCache, lexical_weight: float,
                     rank_weight: float = 0.0) -> list[Candidate]:
    """Score each sentence, and each pair of adjacent sentences, of every hit:
    cosine to the question, plus the share of question words it contains, plus a prior for
    the rank of its passage (the fused ranking has seen the whole passage, not one line)."""
    units = [(rank, hit, s, e, n, text) for rank, hit in enumerate(hits)
             for s, e, n, text in quote_units(hit.passage)]
    if not units:
        return []
    vecs = cache.embed([u[5] for u in units])
    cos = vecs @ question_vector
    q_terms = content_terms(question)
    out = []
    for (rank, hit, s, e, n, text), c in zip(units, cos, strict=True):
        overlap = len(q_terms & content_terms(text)) / len(q_terms) if q_terms else 0.0
        score = (float(c) + lexical_weight * overlap + rank_weight / (1 + rank)
                 - PAIR_PENALTY * (n - 1))
        # Scored as written, quoted with what it announces.
        s, e, n = complete_lead_in(hit.passage, s, e, n)
        text = hit.passage.text[s - hit.passage.start:e - hit.passage.start]
        out.append(Candidate(rank, hit, s, e, text, score, n))
    return out


def pick_quotes(candidates: Sequence[Candidate], max_quotes: int, margin: float) -> list[Candidate]:
    """The best quote, plus more that score nearly as well, up to `max_quotes` sentences."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.hit_rank, c.start))
    if not ranked:
        return []
    best = ranked[0]
    chosen = [best]
    used = best.sentences
    for c in ranked[1:]:
        if used >= max_quotes or c.score < best.score - margin:
            break
        if used + c.sentences > max_quotes or any(c.overlaps(o) for o in chosen):
            continue
        if any(c.text == o.text for o in chosen):
            continue  # the same sentence repeated in another document adds nothing
        chosen.append(c)
        used += c.sentences
    return chosen


def make_citations(chosen: Sequence[Candidate], documents: Mapping[str, Document]
                   ) -> tuple[Citation, ...]:
    """Numbered citations; the author is whoever wrote the quoted words."""
    out = []
    for n, c in enumerate(chosen, start=1):
        doc = documents[c.hit.passage.doc_id]
        author, role = doc.author_at(c.start)
        out.append(Citation(
            n=n, doc_id=doc.id, title=doc.title, author=author, url=doc.url, date=doc.date,
            quote=doc.text[c.start:c.end], start=c.start, end=c.end, score=c.score,
            passage_start=c.hit.passage.start, passage_end=c.hit.passage.end, role=role))
    return tuple(out)
