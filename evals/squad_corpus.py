"""SQuAD 2.0 articles as a course corpus, searched by the pipeline's own path.

The reader and the combiner both learn from what the pipeline really puts in front of them:
the quotable units of the passages that hybrid retrieval returns for a question, ranked by
the cheap score, of which the best `reader_depth` are read. `evals.fit_combiner` fits on
those candidates; `evals.train_reader` trains on them (their lookalikes are the hard
negatives a gold paragraph never shows). The project's eval sets are never read here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from corpus.document import Document
from evals.reader_data import Pair, SquadQuestion
from index.embedder import make_embedder
from index.store import build_index, load_index
from rag.judge import read_first
from rag.pipeline import Pipeline
from rag.quoting import Candidate
from rag.settings import Settings

Spans = list[tuple[int, int]]


def article_documents(questions: Sequence[SquadQuestion]
                      ) -> tuple[list[Document], dict[str, Spans]]:
    """One document per article (paragraphs joined by blank lines), and each answerable
    question's gold answer-sentence spans in its document's text."""
    paras: dict[str, list[str]] = {}
    for q in questions:
        if q.context not in paras.setdefault(q.article, []):
            paras[q.article].append(q.context)
    docs, offset = [], {}
    for article, ps in paras.items():
        text, pos = "", 0
        for p in ps:
            offset[(article, p)] = pos
            text += p + "\n\n"
            pos = len(text)
        docs.append(Document(id=article, text=text.rstrip(), title=article.replace("_", " ")))
    gold: dict[str, Spans] = {}
    for q in questions:
        if q.impossible:
            continue
        base = offset[(q.article, q.context)]
        gold[q.id] = [(base + q.sentences[i][0], base + q.sentences[i][1])
                      for i in q.answer_sentences]
    return docs, gold


def squad_pipeline(questions: Sequence[SquadQuestion], folder: Path,
                   settings: Settings | None = None) -> tuple[Pipeline, dict[str, Spans]]:
    """Index the articles of `questions` as one corpus (with the project's `build_index`,
    reused while unchanged) and open a judge-less pipeline on it; plus the gold spans."""
    settings = settings or Settings(reader="off")
    embedder = make_embedder(settings.embedder_key)
    docs, gold = article_documents(questions)
    build_index(folder, docs, embedder, settings.embedder_key, settings.index_settings())
    return Pipeline(settings, load_index(folder), embedder), gold


def holds_answer(start: int, end: int, spans: Spans) -> bool:
    """Whether the span [start, end) holds a whole gold answer sentence."""
    return any(start <= s and e <= end for s, e in spans)


def unit_label(c: Candidate, doc_id: str, spans: Spans) -> int:
    """1 when the unit holds a whole answer sentence of this question."""
    return int(c.hit.passage.doc_id == doc_id and holds_answer(c.start, c.end, spans))


def read_candidates(pipeline: Pipeline, question: str) -> tuple[list[Any], list[Candidate]]:
    """The retrieved passages, and the candidates the judge would read for `question`: the
    `reader_depth` best by the cheap score (`Pipeline.candidates` without a judge)."""
    s = pipeline.settings
    pool = pipeline.judged_pool(question, s)
    cands = pipeline.candidates(question, pool, s)
    return pool, [cands[i] for i in read_first(cands, s.reader_depth)]


def retrieval_pairs(pipeline: Pipeline, gold: dict[str, Spans],
                    questions: Sequence[SquadQuestion], negatives: int = 3) -> list[Pair]:
    """Reader training pairs shaped like the pipeline's: for each question, every read
    candidate holding the answer is a positive, and the `negatives` best-ranked others are
    negatives (for an unanswerable question, its best-ranked candidates are all lookalikes).
    An answerable question whose answer was not retrieved gives only negatives."""
    out = []
    for q in tqdm(questions, desc="Mining the pipeline's own candidates", unit="q"):
        _, cands = read_candidates(pipeline, q.question)
        spans = gold.get(q.id, [])
        labelled = [(c, unit_label(c, q.article, spans)) for c in cands]
        out += [Pair(q.question, c.text, 1.0, "retrieved") for c, y in labelled if y]
        wrong = [c for c, y in labelled if not y][:negatives]
        out += [Pair(q.question, c.text, 0.0, "retrieved-neg") for c in wrong]
    return out


def sample(questions: Sequence[SquadQuestion], n: int, seed: int) -> list[SquadQuestion]:
    """A seeded sample of n questions (all of them when n is 0 or not smaller)."""
    if not n or n >= len(questions):
        return list(questions)
    return random.Random(seed).sample(list(questions), n)
