"""The shipped reader and combiner inside the real answering path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus.collection import load_corpus
from index.embedder import HashingEmbedder
from index.store import build_index, load_index
from rag.combiner import COMBINER_FILE, load_combiner
from rag.pipeline import Pipeline, make_judge
from rag.reader import READER_DIR, OnnxReader
from rag.settings import Settings


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed(texts)


def test_shipped_reader_has_a_manifest_with_data_hashes_and_figures() -> None:
    manifest = json.loads((READER_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"].startswith("python -m evals.train_reader")
    assert all(len(h) == 64 for h in manifest["data"].values())
    assert set(manifest["articles"]) == {"reader", "combiner", "heldout"}
    # Split by article: no article is in two parts.
    parts = [set(v) for v in manifest["articles"].values()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert manifest["figures"]["int8_vs_fp32"]["pearson"] > 0.95
    # Small enough for git: an int8 MiniLM is about a quarter of the fp32 one.
    assert (READER_DIR / "model.onnx").stat().st_size < 30_000_000
    assert not (READER_DIR / "model.fp32.onnx").exists()


def test_shipped_combiner_records_how_it_was_fitted() -> None:
    payload = json.loads(COMBINER_FILE.read_text(encoding="utf-8"))
    assert payload["command"].startswith("python -m evals.fit_combiner")
    assert "reader" in payload["model"]["features"]
    assert load_combiner() is not None


def test_reader_prefers_the_answer_to_a_sentence_on_the_same_topic() -> None:
    reader = OnnxReader()
    scores = reader.score("Who wrote the April Theses?", [
        "The April Theses were written by Lenin on his return to Petrograd.",
        "The April Theses were much debated in the party that spring."])
    assert scores.shape == (2,) and scores.dtype == np.float32
    assert scores[0] > scores[1]
    assert np.all((scores >= 0) & (scores <= 1))


_PAIRS_Q = "Why did the Bolsheviks call for all power to the soviets?"
_PAIRS_T = [
    "The Bolsheviks wanted the soviets to take the whole of state power.",
    "Lih wrote about the slogan.",
    "In April, June and most dramatically in July, the Bolsheviks had to deal with the "
    "consequences feared by Kamenev in March, when crowds tried to bring down the government.",
    "",
    "Dual power could not last.",
]


def test_a_pairs_score_does_not_depend_on_what_is_read_with_it() -> None:
    # Each pair runs alone by default: no padding, and no activation scale shared with
    # other pairs (dynamic int8 picks one per batch).
    reader = OnnxReader()
    together = reader.score(_PAIRS_Q, _PAIRS_T)
    alone = np.concatenate([reader.score(_PAIRS_Q, [t]) for t in _PAIRS_T])
    assert np.array_equal(together, alone)
    assert reader.score(_PAIRS_Q, []).shape == (0,)


def test_pairs_read_side_by_side_score_as_pairs_read_one_after_another() -> None:
    # Pairs run on threads, one core each: the thread that reads a pair must not change
    # its score, nor the order in which the threads finish which text gets it.
    one, three = OnnxReader(threads=1), OnnxReader(threads=3)
    texts = _PAIRS_T * 3
    assert np.array_equal(three.score(_PAIRS_Q, texts), one.score(_PAIRS_Q, texts))
    assert one._pool is None and three._pool is not None
    assert np.array_equal(OnnxReader(threads=2, batch_size=2).score(_PAIRS_Q, _PAIRS_T),
                          OnnxReader(threads=1, batch_size=2).score(_PAIRS_Q, _PAIRS_T))


def test_batched_scores_go_back_to_their_own_texts() -> None:
    # Batches are formed by token length: the same texts in another order get the same
    # batches, so each text must get back exactly its own score.
    reader = OnnxReader(batch_size=3)
    forward = reader.score(_PAIRS_Q, _PAIRS_T)
    backward = reader.score(_PAIRS_Q, _PAIRS_T[::-1])[::-1]
    assert np.array_equal(forward, backward)
    # Padding to the batch's longest pair changes a score only by int8 noise.
    alone = OnnxReader().score(_PAIRS_Q, _PAIRS_T)
    assert np.abs(forward - alone).max() < 0.25
    assert forward[0] > forward[1]


def test_padded_rows() -> None:
    assert OnnxReader._padded([[5, 6, 7], [8]], 1).tolist() == [[5, 6, 7], [8, 1, 1]]


def test_a_question_costs_one_encode_and_answers_carry_their_score_parts(
        tmp_path: Path, tiny_corpus: Path) -> None:
    settings = Settings(corpus=str(tiny_corpus), index=str(tmp_path / "idx"), model="hash",
                        abstain_threshold=0.0)
    docs = load_corpus(tiny_corpus).documents
    build_index(settings.index_path, docs, HashingEmbedder(), "hash",
                settings.index_settings(), progress=False)
    emb = CountingEmbedder()
    pipeline = Pipeline(settings, load_index(settings.index_path), emb, make_judge(settings))
    answer = pipeline.ask("How do bees make honey?").to_dict()
    # Sentence vectors come from the index: only the question itself was embedded.
    assert emb.texts == ["How do bees make honey?"]
    assert not answer["abstained"]
    parts = answer["citations"][0]["score_parts"]
    assert {"reader", "cosine", "overlap", "bias"} <= set(parts)
    logodds = sum(parts.values())
    assert 1 / (1 + np.exp(-logodds)) == pytest.approx(answer["citations"][0]["score"],
                                                       abs=1e-3)
    for p in answer["passages"]:
        if p["best_start"] is not None:
            assert p["start"] <= p["best_start"] < p["best_end"] <= p["end"]


@pytest.mark.slow
def test_real_model_quotes_a_commenter_when_asked_about_him() -> None:
    pipeline = Pipeline.open(Settings.load(), progress=False)
    kvidal = pipeline.ask("What did Björn-Olav Kvidal argue in his comment?")
    assert not kvidal.abstained
    assert kvidal.citations[0].author == "Björn-Olav Kvidal"
    assert kvidal.citations[0].role == "reader comment"


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "What do the comments criticise about the article?",
    "Do any comments disagree with Lih?",
])
def test_real_model_quotes_the_comments_when_asked_what_they_criticise(question: str) -> None:
    # Refused with no reason before "criticise" and "disagree" marked a question asking for
    # the commenters' words (evals/BENCHMARKS.md, "Fourteenth session").
    answer = Pipeline.open(Settings.load(), progress=False).ask(question)
    assert not answer.abstained and answer.citations
    assert all(c.role == "reader comment" for c in answer.citations)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 11 not reached: the shipped reader scores a "
                   "Paris Commune sentence 0.095, above the 0.021 threshold")
def test_real_model_refuses_an_off_topic_question() -> None:
    pipeline = Pipeline.open(Settings.load(), progress=False)
    assert pipeline.ask("What is the capital of France?").abstained


def test_the_reader_is_told_the_writer_only_when_the_question_asks_about_them(
        tmp_path: Path, tiny_corpus: Path) -> None:
    settings = Settings(corpus=str(tiny_corpus), index=str(tmp_path / "idx"), model="hash")
    docs = load_corpus(tiny_corpus).documents
    build_index(settings.index_path, docs, HashingEmbedder(), "hash",
                settings.index_settings(), progress=False)
    pipeline = Pipeline(settings, load_index(settings.index_path), HashingEmbedder())
    hits = pipeline.base_retriever("hybrid").search("grandfather hives orchard", 10)
    cands = pipeline.candidates("q", hits, settings)
    comment = next(c for c in cands if "grandfather" in c.text)
    plain = next(c for c in cands if c.hit.passage.doc_id == "bees" and "nectar" in c.text)
    tagged = ("Jo Reader (reader comment)", True)
    assert pipeline._writer(comment, {"what", "did", "say"}) == ("", False)
    assert pipeline._writer(comment, {"what", "did", "comments", "say"}) == tagged
    assert pipeline._writer(comment, {"what", "did", "jo", "reader"}) == tagged
    for word in ("commenters", "commentary", "comment"):
        assert pipeline._writer(comment, {"what", "did", "the", word, "say"}) == tagged
    # "reader" qualifies the role; readers of an article are not its commenters.
    for word in ("readers", "readings"):
        assert pipeline._writer(comment, {"what", "do", "the", word, "say"}) == ("", False)
    # The reading's own author is named to the reader, but not read first: retrieval finds
    # the reading itself.
    assert pipeline._writer(plain, {"according", "keeper"}) == ("A. Keeper", False)
    assert pipeline._writer(plain, {"how", "bees", "honey"}) == ("", False)
