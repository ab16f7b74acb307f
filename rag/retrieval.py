"""Retrievers behind one seam: dense (FAISS), lexical (bm25s) and hybrid (reciprocal rank
fusion). All are safe to call from several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from index import lexical
from index.embedder import Embedder
from index.passage import Passage
from index.store import Index
from rag.sentence_retrieval import SentenceRetriever
from rag.types import Hit

MODES = ("dense", "bm25", "hybrid")


class Retriever(Protocol):
    """Finds the passages most likely to answer a query."""

    def search(self, query: str, k: int) -> list[Hit]:
        """Return up to k hits, best first."""
        ...


class DenseRetriever:
    """Cosine similarity between the query and passage embeddings (FAISS inner product)."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, query: str, k: int) -> list[Hit]:
        """Nearest passages by embedding."""
        qv = self.embedder.embed([query])
        scores, rows = self.index.search(qv, k)
        return [Hit(self.index.passages[int(r)], float(s), int(r))
                for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The indices of the k highest scores, best first; ties in index order."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th highest
    above = np.flatnonzero(scores > kth)
    rows = np.concatenate([above, np.flatnonzero(scores == kth)[:k - len(above)]])
    return rows[np.lexsort((rows, -scores[rows]))]


class BM25Retriever:
    """Okapi BM25 over stemmed, stopword-filtered passage text, via bm25s."""

    def __init__(self, passages: Sequence[Passage], model: Any = None) -> None:
        """`model` is the index's saved one (`Index.lexical`); without it, one is built here."""
        # Kept as given: an index's passages are parsed as questions read them.
        self.passages = passages
        self._model = model if model is not None else lexical.build(
            [p.retrieval_text for p in passages])
        self._vocab = set(self._model.vocab_dict)
        self._lock = threading.Lock()

    def search(self, query: str, k: int) -> list[Hit]:
        """Best passages by BM25; empty when no query word occurs in the corpus."""
        tokens = [t for t in lexical.tokenize([query])[0] if t in self._vocab]
        if not tokens:
            return []
        # One query's scores, ranked here: `retrieve` wraps the same scoring in progress
        # bars and batching that cost 0.2 ms of a 6 ms question (cProfile), and `retrieve`
        # with n_threads=1 started a thread pool per query (2 ms of 10). Ties go to the
        # earlier passage.
        with self._lock:
            scores = np.asarray(self._model.get_scores(tokens))
        return [Hit(self.passages[int(r)], float(scores[r]), int(r))
                for r in top_rows(scores, k) if scores[r] > 0]


class HybridRetriever:
    """Reciprocal rank fusion: score = sum over retrievers of weight / (rrf_k + rank)."""

    def __init__(self, retrievers: Sequence[Retriever], rrf_k: int = 60, depth: int = 50,
                 weights: Sequence[float] | None = None) -> None:
        self.retrievers = list(retrievers)
        self.rrf_k = rrf_k
        self.depth = depth
        self.weights = list(weights) if weights is not None else [1.0] * len(self.retrievers)

    def search(self, query: str, k: int) -> list[Hit]:
        """Fuse the rankings of all retrievers and keep the top k."""
        fused: dict[int, float] = {}
        passages: dict[int, Passage] = {}
        for retriever, weight in zip(self.retrievers, self.weights, strict=True):
            for rank, hit in enumerate(retriever.search(query, max(k, self.depth)), start=1):
                fused[hit.row] = fused.get(hit.row, 0.0) + weight / (self.rrf_k + rank)
                passages[hit.row] = hit.passage
        best = sorted(fused, key=lambda r: (-fused[r], r))[:k]
        return [Hit(passages[r], fused[r], r) for r in best]


def make_retriever(mode: str, index: Index, embedder: Embedder, rrf_k: int = 60,
                   bm25: BM25Retriever | None = None,
                   sentences: bool | SentenceRetriever = True) -> Retriever:
    """The retriever for a mode name; pass a built `bm25` to share it across modes. Hybrid
    fuses dense passages, BM25 and, unless `sentences` is False, passages ranked by their
    best quotable unit (`rag.sentence_retrieval`; pass a built one to share it)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "dense":
        return DenseRetriever(index, embedder)
    words = bm25 or BM25Retriever(index.passages, index.lexical)
    if mode == "bm25":
        return words
    parts: list[Retriever] = [DenseRetriever(index, embedder), words]
    if sentences is True:
        parts.append(SentenceRetriever(index, embedder))
    elif sentences:
        parts.append(sentences)
    return HybridRetriever(parts, rrf_k=rrf_k)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of normalised rows of `a` with normalised rows of `b`."""
    return np.asarray(a @ b.T, dtype=np.float32)
