"""The whole answering path in one object: open (and if needed rebuild) the index, retrieve,
quote, abstain. The CLI, the HTTP API, the chat and the evals all call `Pipeline.ask`."""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from corpus.collection import Corpus, load_corpus
from corpus.document import Document
from corpus.fingerprint import folder_stat
from index.embedder import Embedder, MemoEmbedder, make_embedder
from index.lexicon import document_words
from index.modeltext import for_models
from index.store import (
    BuildReport,
    Index,
    build_index,
    check_intact,
    current_by_stat,
    load_index,
    record_corpus_stat,
    staleness,
)
from rag.combiner import combiner_file, load_combiner
from rag.evidence import (
    Demands,
    join_quoted,
    shares_no_word,
    unknown_names,
    unknown_years,
)
from rag.followup import MAX_HISTORY, resolve
from rag.judge import Judge
from rag.quoting import Candidate, make_citations, pick_quotes, score_candidates
from rag.reader import make_reader
from rag.rerank import RerankingRetriever, best_per_hit, best_spans, order_hits
from rag.retrieval import BM25Retriever, Retriever, make_retriever
from rag.sentence_retrieval import SentenceRetriever
from rag.settings import MAX_K, MODES, Settings
from rag.smalltalk import SMALL_TALK, is_small_talk
from rag.spelling import Respeller
from rag.types import Answer, Hit
from rag.writers import NAME_WORD, Writers, WriterScopedRetriever, asks_about_role

MAX_QUESTION_CHARS = 2000
# A letter or a digit: "?" or "..." alone asks nothing, yet the embedder would still find a
# nearest sentence to quote. The API's schema states the same pattern.
QUESTION_PATTERN = r"[^\W_]"
_ANY_WORD = re.compile(QUESTION_PATTERN)


class QuestionError(ValueError):
    """A question (or its options) that cannot be asked; the message is for the user."""


def validate_question(question: object, k: object = None, mode: object = None) -> None:
    """Raise `QuestionError` for an empty, non-text or over-long question, bad k or mode."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    if not question.strip():
        raise QuestionError("question is empty")
    if not _ANY_WORD.search(question):
        raise QuestionError("question has no words")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is longer than {MAX_QUESTION_CHARS} characters")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
        raise QuestionError(f"k must be an integer between 1 and {MAX_K}")
    if mode is not None and mode not in MODES:
        raise QuestionError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def validate_history(history: object) -> None:
    """Raise `QuestionError` unless `history` is a list of at most `MAX_HISTORY` earlier
    questions, each a string no longer than a question may be."""
    if not isinstance(history, list | tuple):
        raise QuestionError("history must be a list of earlier questions")
    if len(history) > MAX_HISTORY:
        raise QuestionError(f"history has more than {MAX_HISTORY} earlier questions")
    if not all(isinstance(h, str) for h in history):
        raise QuestionError("history must be a list of strings")
    if any(len(h) > MAX_QUESTION_CHARS for h in history):
        raise QuestionError(f"an earlier question is longer than {MAX_QUESTION_CHARS} characters")


def ensure_index(settings: Settings, embedder: Embedder, corpus: Corpus | None = None,
                 status: Callable[[str], None] = print, progress: bool = True,
                 force: bool = False) -> BuildReport | None:
    """Build the index if it is missing or stale (saying why in one line); None if current.
    A damaged index raises `IndexDamaged` unless `force` asks for a rebuild."""
    path = settings.index_path
    with ThreadPoolExecutor(1) as pool:
        # The index's files are hashed while the corpus folder is scanned: hashing lets go
        # of the GIL. At 100k passages a cold `rag ask` took 2.48 s against 2.62 (medians of
        # five, alternated; evals/BENCHMARKS.md).
        # A damaged index stops every command with one line naming the file, rather than
        # being rebuilt unasked: damage can mean a failing or full disk, which a silent
        # rebuild would hide. `rag build --force` repairs it.
        intact = None if force else pool.submit(check_intact, path)
        # Taken before any reading is read: a reading changed while the folder is read then
        # shows up as a change at the next start, never as a stale index taken for a
        # current one.
        stat = folder_stat(settings.corpus) if Path(settings.corpus).is_dir() else None
        if intact is not None:
            intact.result()
    if not force:
        if stat and current_by_stat(path, stat, settings.embedder_key,
                                    settings.index_settings()):
            return None  # no reading changed on disk: nothing to parse
    given = corpus is not None
    corpus = corpus or load_corpus(settings.corpus)
    reason = staleness(path, corpus.documents, settings.embedder_key, settings.index_settings())
    if reason is None and not force:
        if stat:
            record_corpus_stat(path, stat)
        return None
    if not given:
        # `rag ask` and `rag serve` build too: a reading left out must be named there as
        # `rag build` names it (which loads the corpus itself, and prints these first).
        for line in corpus.messages():
            status(line)
    if reason is not None and (path / "manifest.json").exists():
        status(f"Index is stale: {reason}. Rebuilding.")
    elif reason is not None:
        status(f"Building the index at {path}.")
    return build_index(path, corpus.documents, embedder, settings.embedder_key,
                       settings.index_settings(), settings.public(), progress=progress,
                       corpus_stat=stat)


def make_judge(settings: Settings) -> Judge | None:
    """The reader and combiner that the settings ask for, or None for cosine scoring."""
    reader = make_reader(settings.reader)
    combiner = load_combiner(combiner_file(settings.model))
    if reader is None or combiner is None:
        return None
    return Judge(reader, combiner, settings.reader_depth)


class Pipeline:
    """A loaded index plus retrievers and a quoter. Safe to share between threads."""

    def __init__(self, settings: Settings, index: Index, embedder: Embedder,
                 judge: Judge | None = None) -> None:
        self.settings = settings
        self.index = index
        # The question is embedded by the dense retriever and by the quote scorer: once.
        self.embedder: Embedder = MemoEmbedder(embedder)
        self.judge = judge
        self._retrievers: dict[str, Retriever] = {}
        self._bm25: BM25Retriever | None = None
        self._sentences: SentenceRetriever | None = None
        self._lock = threading.Lock()
        self.writers = Writers(index.documents)

    @classmethod
    def open(cls, settings: Settings, status: Callable[[str], None] = print,
             progress: bool = True) -> Pipeline:
        """Load the index for `settings`, rebuilding it first if it is missing or stale."""
        embedder = make_embedder(settings.embedder_key)
        ensure_index(settings, embedder, status=status, progress=progress)
        return cls(settings, load_index(settings.index_path), embedder, make_judge(settings))

    @functools.cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of the readings and of who wrote them, for the name check: stored with
        the index, or (an index written before it was) built on first use (a race between
        threads only computes it twice)."""
        if self.index.words is not None:
            return self.index.words
        return document_words(self.index.documents.values())

    @functools.cached_property
    def respeller(self) -> Respeller:
        """Reads misspelt question words as the readings' words (`rag.spelling`)."""
        return Respeller(self.vocabulary)

    @property
    def documents(self) -> Mapping[str, Document]:
        """The indexed documents by id."""
        return self.index.documents

    def base_retriever(self, mode: str) -> Retriever:
        """The dense, BM25 or hybrid retriever for a mode, built once and shared."""
        with self._lock:
            if mode not in self._retrievers:
                if mode != "dense" and self._bm25 is None:
                    self._bm25 = BM25Retriever(self.index.passages, self.index.lexical)
                on = mode == "hybrid" and self.settings.sentence_channel == "on"
                self._retrievers[mode] = WriterScopedRetriever(make_retriever(
                    mode, self.index, self.embedder, self.settings.rrf_k, bm25=self._bm25,
                    sentences=self._sentences_locked() if on else False), self.writers)
            return self._retrievers[mode]

    def sentence_retriever(self) -> SentenceRetriever:
        """Passages ranked by their best unit (hybrid's third ranking), built once and
        shared, so that its unit index is made at warm-up, not per caller."""
        with self._lock:
            return self._sentences_locked()

    def _sentences_locked(self) -> SentenceRetriever:
        if self._sentences is None:
            self._sentences = SentenceRetriever(self.index, self.embedder)
        return self._sentences

    def retriever(self, mode: str) -> Retriever:
        """The retriever the answers use: with a reader, the base ranking reordered by each
        passage's best quote (`rag.rerank`); without one, the base ranking."""
        base = self.base_retriever(mode)
        if self.judge is None:
            return base
        return RerankingRetriever(base, self.best_quotes, self.settings.rerank_depth)

    def warm_up(self) -> None:
        """Load the models and build BM25 (and the sentence channel's unit index) now, not
        on the first question."""
        warm = getattr(self.embedder, "warm_up", None)
        if warm:
            warm()
        if self.judge is not None:
            self.judge.warm_up()
        if self.settings.respell == "on":
            self.respeller.warm_up()
        self.base_retriever(self.settings.mode)

    def _unit_vectors(self, hit: Hit) -> np.ndarray:
        return self.index.passage_unit_vectors(hit.row)

    def judged_pool(self, question: str, s: Settings) -> list[Hit]:
        """The passages the judge reorders and quotes from when there is one: the first
        `rerank_depth` (at least `k`) of the base retriever."""
        return self.base_retriever(s.mode).search(question, max(s.k, s.rerank_depth))

    def candidates(self, question: str, hits: Sequence[Hit], s: Settings) -> list[Candidate]:
        """Every quotable unit of the hits, scored: by the judge when there is one."""
        qv = self.embedder.embed([question])[0]
        cands = score_candidates(question, qv, hits, self._unit_vectors,
                                 s.lexical_weight, s.rank_weight, self.documents)
        if named := self.writers.named(question):
            # "According to Price, ...": only Price's words are quoted (`rag.writers`).
            cands = [c for c in cands if self.writers.wrote(named, c.hit.passage.doc_id, c.start)]
        if self.judge is None:
            return cands
        asked = {w.lower() for w in NAME_WORD.findall(question)}
        writers = [self._writer(c, asked) for c in cands]
        return self.judge.rescore(question, cands, [w for w, _ in writers],
                                  [first for _, first in writers])

    def _writer(self, c: Candidate, asked: set[str]) -> tuple[str, bool]:
        """Who wrote a candidate's words, for the reader, when the question asks about that
        writer ("What did Kvidal argue?") or that kind of writing ("the comments"): the
        sentence itself rarely repeats the name. "" otherwise, so questions that name no
        one are read exactly as the reader was trained. Second: whether the reader should
        read it before the rest, because the question asks about the words of someone other
        than the reading's author (a commenter); the author's own words are the reading,
        which retrieval already finds."""
        author, role = self.documents[c.hit.passage.doc_id].author_at(c.start)
        named = any(w.lower() in asked for w in NAME_WORD.findall(author or ""))
        kind = asks_about_role(asked, role)
        if not (named or kind):
            return "", False
        return (f"{author} ({role})" if role else str(author)), bool(role)

    def best_quotes(self, question: str, hits: Sequence[Hit]) -> list[float]:
        """Each hit's best quote score (what the reranking retriever orders by)."""
        return best_per_hit(hits, self.candidates(question, hits, self.settings))

    def ask(self, question: str, k: int | None = None, mode: str | None = None,
            history: Sequence[str] = ()) -> Answer:
        """Answer with verbatim quotes and citations, or abstain with possibly related passages.
        `history` is the conversation's earlier questions, oldest first: a follow-up ("And in
        July?") is searched together with the previous one (`rag.followup`)."""
        validate_question(question, k, mode)
        validate_history(history)
        s = self.settings.replace(k=k, mode=mode)
        if is_small_talk(question):
            # "Thanks!" asks nothing: not answered, nor read as a follow-up.
            return Answer(question, (), (), True, 0.0, s.public(), SMALL_TALK)
        # Nor is a "thanks" earlier in the conversation what a follow-up points back at.
        history = [h for h in history if not is_small_talk(h)]
        # A question pasted from a PDF may hold its ligatures ("deﬁnition"): read as the
        # readings are read (`index.modeltext`).
        read, read_history = for_models(question), [for_models(h) for h in history]
        respelled: tuple[tuple[str, str], ...] = ()
        if s.respell == "on":
            read, respelled = self.respeller.respell(read)
            read_history = [self.respeller.respell(h)[0] for h in read_history]
        turn = resolve(read, read_history)
        if turn.refusal is not None:
            return Answer(question, (), (), True, 0.0, s.public(), turn.refusal,
                          respelled=respelled)
        answer = self._answer(turn.query, s, turn.asks)
        # The answer keeps the student's own words; `followup_of` and `respelled` say how
        # they were read.
        asked = dict(zip(read_history, history, strict=True))  # as read -> as the student wrote
        followup_of = asked.get(turn.followup_of, turn.followup_of) if turn.followup_of else None
        return dataclasses.replace(answer, question=question, followup_of=followup_of,
                                   respelled=respelled)

    def _answer(self, question: str, s: Settings, asks: str | None = None) -> Answer:
        """The answer to `question` as it stands (a follow-up already joined to its
        earlier question); `asks` says what kind of answer is wanted (`Resolution.asks`)."""
        if self.judge is not None:
            # One pass of the judge both reorders the passages and picks the quotes.
            pool = self.judged_pool(question, s)
            candidates = self.candidates(question, pool, s)
            hits = order_hits(pool, best_per_hit(pool, candidates), s.k)
        else:
            hits = self.base_retriever(s.mode).search(question, s.k)
            candidates = self.candidates(question, hits, s)
        spans = best_spans(hits, candidates)
        reason = None
        if not candidates and (named := self.writers.named(question)):
            reason = f"None of the closest passages is by {join_quoted(list(named.said))}."
        if s.evidence_checks == "on":
            if demands := Demands.of(question, asks):
                # "When ...?" is answered by a sentence with a date in it, however similar
                # the others are; "What happened in July?" not by one about February.
                candidates = [c for c in candidates
                              if demands.met_by(c.text, c.hit.passage.text)]
                if not candidates:
                    reason = demands.unmet()
            if names := (unknown_names(question, self.vocabulary)
                         + unknown_years(question, self.vocabulary)):
                reason = f"They never mention {join_quoted(names)}."
            elif shares_no_word(question, self.vocabulary):
                reason = "They use none of the question's words."
        chosen = pick_quotes(candidates, s.max_quotes, s.quote_margin)
        # The best candidate's score, also when a fuller unit containing it is quoted.
        confidence = max((c.score for c in candidates), default=0.0)
        # "What did Stuart say?": any of the named writer's words answers, however little
        # the reader sees in them; only a check's reason refuses (`rag.writers`).
        floor = 0.0 if self.writers.asks_what_they_say(question) else s.abstain_threshold
        abstained = reason is not None or confidence < floor
        parts = self.judge.combiner.parts if self.judge is not None else None
        citations = () if abstained else make_citations(chosen, self.documents, parts)
        return Answer(question, citations, tuple(hits), abstained, confidence, s.public(),
                      reason, spans,
                      tentative=not abstained and confidence < s.confident_threshold)
