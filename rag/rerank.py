"""A retriever that reorders another's passages by how well their best sentence answers.

A passage is a bag of sentences; the fused dense + BM25 ranking judges it as a whole, so a
passage that merely shares the topic can outrank the one holding the answer. Here each of
the first `depth` passages is scored by its best quote (see `rag.judge`), which is what a
student needs first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.quoting import Candidate
from rag.retrieval import Retriever
from rag.types import Hit

# question, hits -> one score per hit (its best quotable unit's probability)
BestQuote = Callable[[str, Sequence[Hit]], list[float]]


def _best_by_row(candidates: Sequence[Candidate]) -> dict[int, Candidate]:
    """Each passage row's best candidate (the first one, on a tie)."""
    best: dict[int, Candidate] = {}
    for c in candidates:
        if c.hit.row not in best or c.score > best[c.hit.row].score:
            best[c.hit.row] = c
    return best


def best_per_hit(hits: Sequence[Hit], candidates: Sequence[Candidate]) -> list[float]:
    """Each hit's best candidate score (0.0 for a hit with no quotable unit)."""
    best = _best_by_row(candidates)
    return [max(best[h.row].score, 0.0) if h.row in best else 0.0 for h in hits]


def best_spans(hits: Sequence[Hit], candidates: Sequence[Candidate]
               ) -> tuple[tuple[int, int] | None, ...]:
    """Each hit's best candidate span, to highlight in a "possibly related" passage."""
    best = _best_by_row(candidates)
    # A lead-in completed from the next passage (`complete_lead_in`) is highlighted within
    # its own passage.
    return tuple((best[h.row].start, min(best[h.row].end, h.passage.end)) if h.row in best
                 else None for h in hits)


def order_hits(hits: Sequence[Hit], scores: Sequence[float], k: int) -> list[Hit]:
    """The top k hits by score (ties keep the given order); each hit's score is replaced."""
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
    return [Hit(hits[i].passage, float(scores[i]), hits[i].row) for i in order[:k]]


class RerankingRetriever:
    """Retrieve with `base`, then order its first `depth` passages by their best quote's
    score; deeper passages follow in the base order (reading them all would cost too much,
    and a deep list, e.g. for recall@100, keeps the base ranking's tail)."""

    def __init__(self, base: Retriever, best_quote: BestQuote, depth: int = 10) -> None:
        self.base = base
        self.best_quote = best_quote
        self.depth = depth

    def search(self, query: str, k: int) -> list[Hit]:
        """The top k passages after reranking."""
        hits = self.base.search(query, max(k, self.depth))
        if not hits:
            return []
        head = order_hits(hits[:self.depth], self.best_quote(query, hits[:self.depth]),
                          self.depth)
        floor = min(h.score for h in head)
        # The tail keeps its order, scored just below the head so scores still fall.
        tail = [Hit(h.passage, floor - 1e-6 * (i + 1), h.row)
                for i, h in enumerate(hits[self.depth:])]
        return (head + tail)[:k]
