"""Passages ranked by their best sentence: the question's cosine with every quotable unit's
stored vector (`units.npy`, embedded at build time), a passage scoring as its best unit.

A passage vector averages up to `max_chars` of text, so a passage whose one sentence answers
a paraphrased question can rank below a passage that is on the topic throughout. Fused with
the passage-level dense and BM25 rankings (`rag.retrieval.make_retriever`), this channel
raised passage recall@1 on SQuAD articles from 0.734 to 0.787 (`evals.fit_combiner`) and
SciFact train nDCG@10 from 0.7305 to 0.7367 (evals/BENCHMARKS.md, "Sentence channel").
"""

from __future__ import annotations

import numpy as np

from index.embedder import Embedder
from index.store import Index
from rag.types import Hit

# Units fetched per passage wanted: a passage has several units, and the best units of a
# question often sit in the same few passages.
_UNITS_PER_PASSAGE = 4


class SentenceRetriever:
    """Max-over-units dense retrieval over the index's own IVF of the units when it stored one
    (past `index.ann.IVF_FROM` units), else exact: a flat FAISS inner-product index made when
    the retriever is (a float32 copy of the index's float16 vectors)."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        import faiss

        self.index = index
        self.embedder = embedder
        units = index.unit_vectors
        if index.unit_index is not None:
            self._units = index.unit_index
        else:
            self._units = faiss.IndexFlatIP(index.vectors.d)
            if len(units):
                self._units.add(np.ascontiguousarray(units, dtype=np.float32))
        # owner[u] is the passage row of unit u (unit_rows holds each passage's first unit).
        self._owner = np.searchsorted(np.asarray(index.unit_rows, dtype=np.int64),
                                      np.arange(len(units)), side="right") - 1

    def search(self, query: str, k: int) -> list[Hit]:
        """The k passages whose best unit is closest to the query, best first."""
        total = self._units.ntotal
        if k <= 0 or total == 0:
            return []
        qv = np.ascontiguousarray(self.embedder.embed([query]), dtype=np.float32)
        n = min(total, k * _UNITS_PER_PASSAGE)
        while True:
            scores, units = self._units.search(qv, n)
            found = units[0] >= 0
            # Each passage's first unit in the results is its best (they come best first).
            rows, first = np.unique(self._owner[units[0][found]], return_index=True)
            best = scores[0][found][first]
            if len(rows) >= k or n >= total:
                break
            n = min(total, n * 4)
        top = np.lexsort((rows, -best))[:k]
        return [Hit(self.index.passages[int(rows[i])], float(best[i]), int(rows[i]))
                for i in top]
