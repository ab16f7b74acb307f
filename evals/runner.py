"""Run an eval set through `Pipeline.ask` (the chat's own code path) and score every question."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from evals.evalset import EvalItem, contains_quote, quote_spans
from index.embedder import Embedder, make_embedder
from rag.followup import resolve
from rag.pipeline import Pipeline

# Depth of the ranking scored by the @10 metrics; the answer itself uses the settings' k.
RANK_DEPTH = 10


@dataclass(frozen=True)
class Outcome:
    """What happened to one question."""

    item: EvalItem
    doc_ranking: tuple[str, ...]
    passage_ids: tuple[str, ...]
    relevant_passages: frozenset[str]
    doc_rank: int | None
    passage_rank: int | None
    answer_overlap: float
    abstained: bool
    confidence: float
    latency_ms: float
    response: dict[str, Any]
    # The raw floor for the same question: encode it, then search FAISS (no BM25, no reader).
    floor_ms: float = 0.0

    @property
    def answer_hit(self) -> bool:
        """At least half of the expected quote's characters were quoted in the answer."""
        return self.item.answerable and not self.abstained and self.answer_overlap >= 0.5

    def hit(self, rank: int | None, k: int) -> bool:
        """True when `rank` exists and is within the top k."""
        return rank is not None and rank <= k

    def to_dict(self) -> dict[str, Any]:
        """The `per_question` entry of the report."""
        return {
            "id": self.item.id, "question": self.item.question, "tags": list(self.item.tags),
            "answerable": self.item.answerable,
            "expected_sources": list(self.item.expected_sources),
            "doc_rank": self.doc_rank, "passage_rank": self.passage_rank,
            "recall@1": self.hit(self.doc_rank, 1), "recall@5": self.hit(self.doc_rank, 5),
            "passage_hit@1": self.hit(self.passage_rank, 1),
            "passage_hit@5": self.hit(self.passage_rank, 5),
            "answer_hit": self.answer_hit, "answer_overlap": round(self.answer_overlap, 4),
            "abstained": self.abstained, "confidence": round(self.confidence, 4),
            "latency_ms": round(self.latency_ms, 2), "response": self.response,
        }


def _dedupe(seq: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(seq))


def _quoted(response: dict[str, Any]) -> list[dict[str, Any]]:
    """What the answer quoted; for a refusal, what it would have quoted first: the best
    sentence of its top passage (the passages are ordered by their best quote)."""
    if not response["abstained"]:
        return list(response["citations"])
    top = response["passages"][:1]
    return [{"doc_id": p["doc_id"], "start": p["best_start"], "end": p["best_end"]}
            for p in top if p.get("best_start") is not None]


def answer_overlap(item: EvalItem, response: dict[str, Any],
                   documents: dict[str, str]) -> float:
    """Share of the expected quote's characters (best occurrence) inside the quoted spans
    (for a refusal, inside the quote it would have given; `answer_hit` still needs an
    answer, and the risk-coverage curve needs to know whether refusing lost a right one)."""
    best = 0.0
    for doc_id, spans in quote_spans(item, documents).items():
        quoted = [(c["start"], c["end"]) for c in _quoted(response) if c["doc_id"] == doc_id]
        for s, e in spans:
            covered = sum(max(0, min(e, qe) - max(s, qs)) for qs, qe in quoted)
            best = max(best, covered / (e - s))
    return min(best, 1.0)


def raw_floor_ms(pipeline: Pipeline, question: str, k: int = 10,
                 embedder: Embedder | None = None) -> float:
    """Milliseconds to encode the question and search FAISS: what any dense retriever pays,
    the floor to compare `ask` with. The encoder is the bare model (sentence-transformers on
    torch, as a plain dense retriever runs it), whatever backend the pipeline runs, unless
    `embedder` names another."""
    bare = embedder or make_embedder(pipeline.settings.model)
    t0 = time.perf_counter()
    pipeline.index.search(bare.embed([question]), k)
    return (time.perf_counter() - t0) * 1000


def run_item(pipeline: Pipeline, item: EvalItem, mode: str,
             documents: dict[str, str]) -> Outcome:
    """Ask one question and score the ranking and the answer. A follow-up case's ranking is
    that of the query `ask` searches (its earlier question joined on)."""
    floor = raw_floor_ms(pipeline, item.question)
    # `ask` first: the pipeline remembers a question's vector, and a ranking search made
    # before it would hand `ask` that vector and leave the encode out of its latency.
    t0 = time.perf_counter()
    answer = pipeline.ask(item.question, mode=mode, history=item.history)
    latency = (time.perf_counter() - t0) * 1000
    query = resolve(item.question, item.history).query
    hits = pipeline.retriever(mode).search(query, max(RANK_DEPTH, pipeline.settings.k))
    response = answer.to_dict()
    docs = _dedupe([h.passage.doc_id for h in hits])
    doc_rank = next((i for i, d in enumerate(docs, 1) if d in item.expected_sources), None)
    relevant: set[str] = set()
    passage_rank = None
    if item.expected_quote:
        for i, h in enumerate(hits, 1):
            if h.passage.doc_id in item.expected_sources and contains_quote(
                    h.passage.text, item.expected_quote):
                relevant.add(h.passage.id)
                passage_rank = passage_rank or i
    overlap = answer_overlap(item, response, documents) if item.answerable else 0.0
    return Outcome(item, docs, tuple(h.passage.id for h in hits), frozenset(relevant),
                   doc_rank, passage_rank, overlap, answer.abstained, answer.confidence,
                   latency, response, floor)


def run_items(pipeline: Pipeline, items: Sequence[EvalItem], mode: str,
              progress: bool = True) -> list[Outcome]:
    """Every question of an eval set, with a progress bar."""
    documents = {d.id: d.text for d in pipeline.documents.values()}
    # The floor's bare model loads on first use: not inside the first question's figure.
    raw_floor_ms(pipeline, "What is this reading about?")
    return [run_item(pipeline, it, mode, documents)
            for it in tqdm(items, desc=f"Evaluating ({mode})", unit="q", disable=not progress)]
