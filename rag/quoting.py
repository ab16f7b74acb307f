"""Choose the sentences that answer a question, from the retrieved passages, and decide
whether to abstain. Quotes are slices of the document text, never rewritten."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.document import Document
from index.chunking import sentence_after
from index.modeltext import for_models
from index.passage import Passage
from index.units import cached_quote_units
from rag.terms import content_terms
from rag.types import Citation, Hit

# Two adjacent sentences are also a candidate, because an answer often starts with a pronoun
# ("It translates as ...") whose referent is the sentence before. The small handicap keeps
# a single sentence first when it answers as well on its own.
PAIR_PENALTY = 0.03


@dataclass(frozen=True)
class Candidate:
    """A sentence (or two) of a retrieved passage, scored against the question. `features`
    are the signals behind `score`, kept so that an answer can show why it was chosen."""

    hit_rank: int
    hit: Hit
    start: int
    end: int
    text: str
    score: float
    sentences: int = 1
    features: tuple[tuple[str, float], ...] = ()

    def overlaps(self, other: Candidate) -> bool:
        """True when both quote some of the same characters of the same document."""
        return (self.hit.passage.doc_id == other.hit.passage.doc_id
                and self.start < other.end and other.start < self.end)


def complete_lead_in(p: Passage, start: int, end: int, n: int,
                     doc: Document | None = None) -> tuple[int, int, int]:
    """Extend a unit that ends with a colon ("she used this analogy:") by the sentence that
    follows it, even across a paragraph break, because block quotes are their own paragraphs.
    On its own a lead-in quotes the announcement, not the answer it announces.

    At the end of its passage, the sentence that follows is the next passage's first, found
    in `doc` (when given) as the chunker splits it, if the same writer wrote it: a lead-in
    never runs on into a reader's comment."""
    if not p.text[start - p.start:end - p.start].rstrip().endswith(":"):
        return start, end, n
    following = [s for s in p.sentences if s[0] >= end]
    if following:
        return start, following[0][1], n + 1
    if doc is not None and (span := sentence_after(doc.text, end)) is not None \
            and doc.author_at(span[0]) == doc.author_at(start):
        return start, span[1], n + 1
    return start, end, n


def score_candidates(question: str, question_vector: np.ndarray, hits: Sequence[Hit],
                     unit_vectors: Callable[[Hit], np.ndarray], lexical_weight: float,
                     rank_weight: float = 0.0,
                     documents: Mapping[str, Document] | None = None) -> list[Candidate]:
    """Score each sentence, and each pair of adjacent sentences, of every hit:
    cosine to the question, plus the share of question words it contains, plus a prior for
    the rank of its passage (the fused ranking has seen the whole passage, not one line).
    `unit_vectors(hit)` gives the stored vectors of the hit's units, in `quote_units` order.
    With `documents`, a lead-in at a passage's end is completed from the next passage
    (`complete_lead_in`)."""
    q_terms = content_terms(question)
    out = []
    for rank, hit in enumerate(hits):
        units = cached_quote_units(hit.passage)
        if not units:
            continue
        cos = np.asarray(unit_vectors(hit), dtype=np.float32) @ question_vector
        doc = documents[hit.passage.doc_id] if documents is not None else None
        for (s, e, n, text), c in zip(units, cos, strict=True):
            overlap = (len(q_terms & content_terms(for_models(text))) / len(q_terms)
                       if q_terms else 0.0)
            prior = 1 / (1 + rank)
            score = (float(c) + lexical_weight * overlap + rank_weight * prior
                     - PAIR_PENALTY * (n - 1))
            # Scored as written, quoted with what it announces.
            s, e, n2 = complete_lead_in(hit.passage, s, e, n, doc)
            text = (doc.text[s:e] if doc is not None
                    else hit.passage.text[s - hit.passage.start:e - hit.passage.start])
            feats = (("cosine", float(c)), ("overlap", overlap), ("rank_prior", prior),
                     ("pair", float(n - 1)))
            out.append(Candidate(rank, hit, s, e, text, score, n2, feats))
    return out


def contains(outer: Candidate, inner: Candidate) -> bool:
    """True when `outer` quotes all of `inner` (same document) and more."""
    return (outer.hit.passage.doc_id == inner.hit.passage.doc_id and outer.start <= inner.start
            and inner.end <= outer.end and outer.end - outer.start > inner.end - inner.start)


def _reader(c: Candidate) -> float:
    """The reader's log-odds for `c`; -inf when no reader scored it (cosine scoring)."""
    return dict(c.features).get("reader", -math.inf)


def fuller_quote(best: Candidate, ranked: Sequence[Candidate], max_quotes: int,
                 margin: float) -> Candidate:
    """`best`, or a unit that contains it (best with the sentence after or before it) when
    that unit scores nearly as well (within `margin`) and the reader, which read both, says
    it answers better. A sentence that restates the question's topic often scores best on
    its own ("Today, 'dual power' is often used in reference to anarchist strategies and
    theories."), while the reader rates it higher together with the next sentence, the one
    that answers. Without a reader's score nothing changes."""
    fuller = [c for c in ranked
              if c.sentences <= max_quotes and c.score >= best.score - margin
              and contains(c, best) and _reader(c) > _reader(best)]
    return max(fuller, key=lambda c: (_reader(c), c.score)) if fuller else best


def pick_quotes(candidates: Sequence[Candidate], max_quotes: int, margin: float) -> list[Candidate]:
    """The best quote (or, per `fuller_quote`, a unit containing it), plus more that score
    nearly as well, up to `max_quotes` sentences."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.hit_rank, c.start))
    if not ranked:
        return []
    best = fuller_quote(ranked[0], ranked, max_quotes, margin)
    chosen = [best]
    used = best.sentences
    for c in ranked[1:]:
        if used >= max_quotes or c.score < ranked[0].score - margin:
            break
        if used + c.sentences > max_quotes or any(c.overlaps(o) for o in chosen):
            continue
        if any(c.text == o.text for o in chosen):
            continue  # the same sentence repeated in another document adds nothing
        chosen.append(c)
        used += c.sentences
    return chosen


def make_citations(chosen: Sequence[Candidate], documents: Mapping[str, Document],
                   parts: Callable[[Mapping[str, float]], dict[str, float]] | None = None
                   ) -> tuple[Citation, ...]:
    """Numbered citations; the author is whoever wrote the quoted words. `parts` explains
    a candidate's score from its features (the combiner's), when there is one."""
    out = []
    for n, c in enumerate(chosen, start=1):
        doc = documents[c.hit.passage.doc_id]
        author, role = doc.author_at(c.start)
        page_start, page_end = doc.pages_for(c.start, c.end)
        out.append(Citation(
            n=n, doc_id=doc.id, title=doc.title, author=author, url=doc.url, date=doc.date,
            quote=doc.text[c.start:c.end], start=c.start, end=c.end, score=c.score,
            passage_start=c.hit.passage.start, passage_end=c.hit.passage.end, role=role,
            score_parts=tuple(parts(dict(c.features)).items()) if parts else (),
            page_start=page_start, page_end=page_end))
    return tuple(out)
