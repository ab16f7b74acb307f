"""The reader seam, the combiner, the judge and the reranker, with deterministic fakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chunking import any_text

from index.chunking import chunk_text
from index.units import heading_line, not_an_answer, quote_units
from rag.combiner import (
    FEATURES,
    Combiner,
    combiner_file,
    load_combiner,
    question_type,
    type_features,
)
from rag.judge import Judge, read_first
from rag.quoting import Candidate
from rag.reader import CrossEncoderReader, OnnxReader, ReaderError, make_reader
from rag.rerank import RerankingRetriever, best_per_hit, best_spans, order_hits
from rag.types import Hit


class KeywordReader:
    """Says a text answers when it contains the question's last word."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        key = question.rstrip("?").split()[-1].lower()
        return np.asarray([0.95 if key in t.lower() else 0.05 for t in texts],
                          dtype=np.float32)


def _reader_only() -> Combiner:
    """A combiner that listens to the reader alone (weight 1 on its logit)."""
    w = tuple(1.0 if f == "reader" else 0.0 for f in FEATURES)
    return Combiner(FEATURES, w, 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES))


TEXT = ("Dual power was a term for two rival authorities. Lenin wrote an article in April. "
        "The soviets met in Petrograd with many delegates.")


def _cands(text: str = TEXT) -> list[Candidate]:
    [p] = chunk_text("d", text, max_chars=10_000)
    hit = Hit(p, 1.0, 0)
    # Cheap scores that prefer the first sentence, as a cosine might.
    return [Candidate(0, hit, s, e, t, 1.0 - i * 0.1, n, (("cosine", 1.0 - i * 0.1),))
            for i, (s, e, n, t) in enumerate(quote_units(p))]


def test_judge_prefers_what_the_reader_says_answers() -> None:
    judge = Judge(KeywordReader(), _reader_only())
    out = judge.rescore("Where did the soviets meet in Petrograd?", _cands())
    best = max(out, key=lambda c: c.score)
    assert "Petrograd" in best.text
    assert 0.0 <= min(c.score for c in out) and max(c.score for c in out) <= 1.0
    assert dict(best.features)["reader"] > 0


def test_judge_reads_only_the_best_candidates() -> None:
    reader = KeywordReader()
    cands = _cands()
    out = Judge(reader, _reader_only(), depth=2).rescore("who wrote in April?", cands)
    assert reader.calls == [2]
    assert len(out) == len(cands)
    # Candidates that were not read get the reader's floor, so they rank last.
    assert out[-1].score < 0.01


def test_words_the_question_asks_about_are_read_first_then_the_best_of_the_rest() -> None:
    cands = _cands()
    by_score = read_first(cands, len(cands))
    assert read_first(cands, 2) == by_score[:2]
    last = by_score[-1]
    first = [i == last for i in range(len(cands))]
    assert read_first(cands, 2, first) == [last, by_score[0]]
    assert read_first(cands, 2, [False] * len(cands)) == by_score[:2]


def test_combiner_parts_add_up_to_the_log_odds() -> None:
    c = Combiner(("a", "b"), (2.0, -1.0), 0.5, (1.0, 0.0), (2.0, 1.0))
    row = {"a": 3.0, "b": 1.0}
    parts = c.parts(row)
    p = float(c.probability(np.asarray([[3.0, 1.0]]))[0])
    assert parts == {"a": 2.0, "b": -1.0, "bias": 0.5}
    assert p == pytest.approx(1 / (1 + np.exp(-(2.0 - 1.0 + 0.5))))
    assert Combiner.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
def test_shipped_combiner_loads_with_known_features(model: str) -> None:
    c = load_combiner(combiner_file(model))
    if c is None:
        pytest.skip("no combiner fitted yet")
    assert set(c.features) <= set(FEATURES)
    assert len(c.weights) == len(c.features) == len(c.mean) == len(c.scale)


def test_a_model_without_its_own_combiner_gets_the_bundled_models(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.combiner as rc

    monkeypatch.setattr(rc, "COMBINER_FILE", tmp_path / "combiner.json")
    assert combiner_file("all-MiniLM-L6-v2") == tmp_path / "combiner.json"
    assert combiner_file("some/other-model") == tmp_path / "combiner.json"
    own = tmp_path / "combiner-some_other-model.json"
    own.write_text("{}", encoding="utf-8")
    assert combiner_file("some/other-model") == own


@pytest.mark.parametrize(("question", "kind"), [
    ("When did the February revolution start?", "time"),
    ("How many delegates came?", "quantity"),
    ("Who wrote the April Theses?", "person"),
    ("Where did the soviets meet?", "place"),
    ("What is dual power?", None),
    # Plurals ask for the same kind.
    ("Which countries had dual power situations?", "place"),
    ("What cities had soviets?", "place"),
    ("Which leaders opposed the slogan?", "person"),
    ("Which people led the councils?", "person"),
])
def test_question_types(question: str, kind: str | None) -> None:
    assert question_type(question) == kind


def test_type_features() -> None:
    assert type_features(None, "anything") == (0.0, 0.0)
    assert type_features("time", "It happened in 1917.") == (1.0, 1.0)
    assert type_features("person", "the party decided so.") == (1.0, 0.0)
    assert type_features("person", "It was written by Lenin in exile.") == (1.0, 1.0)


@pytest.mark.parametrize("text", [
    "[7]. As cited in Lih, “Ironic Triumph,” p. 222.",
    "[4]. Conscience of the Revolution: Communist Opposition in Russia, p. 38 (Harvard "
    "University Press, 1960).",
    "As cited in Lih, “Ironic Triumph,” p. 206.",
    "Leon Trotsky (Translator: Max Eastman), Chapter XI ‘Dual Power’ (pp. 202-210) in "
    "History of the Russian Revolution (Sphere Books, 1967)",
    "(Party Congress, 8-16 March 1921.)",
    "and so the council was formed in the spring.",
    "What impact did the April Theses make on the slogan?",
    "- Vladimir Lenin, The Dual Power",
    "The Theory and Practice of Mikhail Bakunin",
    "Lenin, Trotsky and Kamenev Disagreed",  # a headline
])
def test_references_footnotes_and_fragments_are_not_answers(text: str) -> None:
    assert not_an_answer(text)


@pytest.mark.parametrize("text", [
    "Dual power was a term for two rival authorities.",
    "She is grimly optimistic toward the end of her book (pp. 34, 38), because she feels "
    "that Hunger and Cold will destroy soviet power in the coming months.",
    "“All power to the soviets” was the slogan of 1917.",
    "All Power to the Soviets.",
    "[8] The relevant excerpt from Martov’s book World Bolshevism can be found on the "
    "Marxists Internet Archive.",
])
def test_ordinary_sentences_are_answers(text: str) -> None:
    assert not not_an_answer(text)


def test_a_closing_footnote_marker_is_left_out_of_the_quote() -> None:
    text = "She judged it harshly (2).[3] Then she left Russia for good."
    [p] = chunk_text("d", text, max_chars=10_000)
    units = quote_units(p)
    assert units[0][3] == "She judged it harshly (2)."
    assert text[units[0][0]:units[0][1]] == units[0][3]
    assert all("[3]" not in u[3] or u[2] == 2 for u in units)


def test_no_piece_of_a_bibliography_entry_is_quoted() -> None:
    # pysbd cuts the entry at its title's "!": the first piece alone looks like a sentence.
    text = ("Anarchists built co-operatives and bookshops in many towns.\n\n"
            "- Pierre-Joseph Proudhon (Editor: Iain McKay) Property is Theft! A Pierre-Joseph "
            "Proudhon Anthology (AK Press, 2011)\n"
            "- See how the workers rose! They built councils in every town (Verso Books, "
            "1975) and the councils met daily, voted on strikes, elected delegates, sent "
            "them to the capital and recalled them when they failed the workers who sent "
            "them there.")
    [p] = chunk_text("d", text, max_chars=10_000)
    quoted = [u[3] for u in quote_units(p)]
    assert quoted[0] == "Anarchists built co-operatives and bookshops in many towns."
    assert not any("Proudhon" in q for q in quoted)
    # A long line that names a publisher and a year is prose, not an entry (quoted without
    # its bullet).
    assert "See how the workers rose!" in quoted


def test_a_list_number_is_left_out_of_the_quote() -> None:
    text = ("The Soviet and the government were formed in the same week.\n"
            "3. The Provisional Government was formed by liberal elite politicians. It "
            "claimed legitimacy from continuity.\n"
            "4) Order Number One gave the Soviet control over the army.")
    [p] = chunk_text("d", text, max_chars=10_000)
    units = quote_units(p)
    quoted = [u[3] for u in units]
    assert "The Provisional Government was formed by liberal elite politicians." in quoted
    assert ("The Provisional Government was formed by liberal elite politicians. It claimed "
            "legitimacy from continuity.") in quoted
    assert "Order Number One gave the Soviet control over the army." in quoted
    assert all(text[s:e] == t for s, e, _, t in units)


class ListRetriever:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits

    def search(self, query: str, k: int) -> list[Hit]:
        return self.hits[:k]


def _hits(n: int) -> list[Hit]:
    return [Hit(p, 1.0 / (i + 1), i) for i, p in enumerate(
        chunk_text("d", "\n\n".join(f"Sentence number {i} is here." for i in range(n)),
                   max_chars=30))]


def test_reranking_retriever_orders_by_best_quote_and_keeps_ties_stable() -> None:
    hits = _hits(4)
    scores = {0: 0.1, 1: 0.9, 2: 0.1, 3: 0.5}
    rr = RerankingRetriever(ListRetriever(hits), lambda q, hs: [scores[h.row] for h in hs],
                            depth=4)
    out = rr.search("q", 3)
    assert [h.row for h in out] == [1, 3, 0]
    assert [h.score for h in out] == [0.9, 0.5, 0.1]


def test_reranking_retriever_keeps_the_tail_below_depth_in_base_order() -> None:
    hits = _hits(5)
    seen: list[int] = []

    def best(q: str, hs: Sequence[Hit]) -> list[float]:
        seen.append(len(hs))
        return [0.1 * h.row for h in hs]

    out = RerankingRetriever(ListRetriever(hits), best, depth=2).search("q", 5)
    assert seen == [2]  # only the head is judged
    assert [h.row for h in out] == [1, 0, 2, 3, 4]
    assert all(a.score > b.score for a, b in zip(out, out[1:], strict=False))


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.integers(1, 8))
def test_order_hits_is_a_sorted_prefix(scores: list[float], k: int) -> None:
    hits = _hits(len(scores))[:len(scores)]
    scores = scores[:len(hits)]
    out = order_hits(hits, scores, k)
    assert len(out) == min(k, len(hits))
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    assert len({h.row for h in out}) == len(out)


def test_best_per_hit_and_best_spans() -> None:
    cands = _cands()
    hit = cands[0].hit
    other = Hit(hit.passage, 0.5, 7)
    assert best_per_hit([hit, other], cands) == [max(c.score for c in cands), 0.0]
    spans = best_spans([hit, other], cands)
    assert spans[0] == (cands[0].start, cands[0].end) and spans[1] is None


def test_make_reader_names() -> None:
    assert make_reader("off") is None
    assert isinstance(make_reader("bundled"), OnnxReader)
    assert isinstance(make_reader("some/cross-encoder"), CrossEncoderReader)


def test_onnx_reader_with_missing_files_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="evals.train_reader"):
        OnnxReader(tmp_path).score("q", ["t"])


def test_memo_embedder_embeds_a_repeated_question_once() -> None:
    from index.embedder import HashingEmbedder, MemoEmbedder

    class Counting(HashingEmbedder):
        calls = 0

        def embed(self, texts: list[str]) -> np.ndarray:
            Counting.calls += 1
            return super().embed(texts)

    memo = MemoEmbedder(Counting(), size=2)
    a = memo.embed(["what is dual power?"])
    b = memo.embed(["what is dual power?"])
    np.testing.assert_array_equal(a, b)
    assert Counting.calls == 1
    memo.embed(["x"])
    memo.embed(["y"])  # evicts the oldest
    memo.embed(["what is dual power?"])
    assert Counting.calls == 4
    assert memo.embed(["p", "q"]).shape == (2, 384)


def test_the_reader_reads_who_wrote_a_candidate_but_the_quote_stays_bare() -> None:
    class Recording:
        texts: list[str] = []

        def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
            Recording.texts = list(texts)
            return np.full(len(texts), 0.5, dtype=np.float32)

    cands = _cands()[:2]
    out = Judge(Recording(), _reader_only()).rescore(
        "What did Kvidal argue?", cands, ["Björn-Olav Kvidal (reader comment)", ""])
    assert sorted(Recording.texts) == sorted(
        [f"Björn-Olav Kvidal (reader comment): {cands[0].text}", cands[1].text])
    assert [c.text for c in out] == [c.text for c in cands]


class PairPreferringReader:
    """Rates a text with the question's last word 0.6, or 0.65 when it is two sentences."""

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        key = question.rstrip("?").split()[-1].lower()
        return np.asarray([(0.65 if t.count(". ") else 0.6) if key in t.lower() else 0.05
                           for t in texts], dtype=np.float32)


def test_a_fuller_quote_is_quoted_but_the_confidence_stays_the_best_units(
        tmp_path: Path) -> None:
    from tests.pipeline_helpers import tiny_pipeline

    pipeline = tiny_pipeline(tmp_path, abstain_threshold=0.0, evidence_checks="off")
    # The reader's log-odds, less a little for a pair: the sentence alone scores best, and
    # the pair, which the reader rates higher, within the margin.
    w = tuple(1.0 if f == "reader" else -0.3 if f == "pair" else 0.0 for f in FEATURES)
    pipeline.judge = Judge(PairPreferringReader(),
                           Combiner(FEATURES, w, 0.0, (0.0,) * len(FEATURES),
                                    (1.0,) * len(FEATURES)), depth=500)
    answer = pipeline.ask("Why do bees fan their wings?")
    first = answer.citations[0]
    assert first.quote.startswith("Worker bees fan their wings")
    assert first.quote.endswith("they seal the cell with wax.")
    assert first.score == pytest.approx(1 / (1 + np.exp(-(np.log(0.65 / 0.35) - 0.3))), abs=1e-4)
    assert answer.confidence == pytest.approx(0.6, abs=1e-4)


LONG_LINE = ("The councils of workers and soldiers grew quickly in the spring and soon every "
             "town and every regiment in Russia had elected one of its own")


@pytest.mark.parametrize(("text", "line", "heading"), [
    ("Intro paragraph ends here.\n\nLooking ahead: ‘All Power to the Soviets’ during the "
     "Lenin era\n\nThe next paragraph begins here.",
     "Looking ahead: ‘All Power to the Soviets’ during the Lenin era", True),
    ("Intro.\n\nThis is part of a series of weekly articles on the Russian Revolution",
     "This is part of a series of weekly articles on the Russian Revolution", True),
    # A bullet point without a full stop is a list item, and may answer.
    ("Lenin argued:\n• The soviets ensure mass participation in government\n• Constant "
     "re-elections ensure accountability",
     "• The soviets ensure mass participation in government", False),
    # Ending like a sentence, or long: not a heading.
    ("Intro.\n\nThe soviets ensure mass participation in government.",
     "The soviets ensure mass participation in government.", False),
    ("Intro.\n\n" + LONG_LINE, LONG_LINE, False),
])
def test_a_short_line_of_its_own_without_a_sentence_end_is_never_quoted(
        text: str, line: str, heading: bool) -> None:
    [p] = chunk_text("d", text, max_chars=10_000)
    start = text.index(line)
    assert heading_line(p, start, start + len(line)) is heading
    # A list item is quoted without its bullet.
    assert (line.removeprefix("• ") not in {t for _, _, _, t in quote_units(p)}) is heading


@settings(max_examples=150, deadline=None)
@given(text=any_text)
def test_a_heading_line_is_a_whole_line_that_does_not_end_a_sentence(text: str) -> None:
    for p in chunk_text("d", text, max_chars=400):
        for s, e in p.sentences:
            if heading_line(p, s, e):
                assert text[s:e] == text[s:e].strip() and "\n" not in text[s:e]
                assert s == 0 or text[s - 1] == "\n" or text[:s].strip() == ""
                assert e == len(text) or text[e] == "\n" or text[e:].strip() == ""
                assert not text[s:e].rstrip("”’\"')]").endswith((".", "!", "?", ":", ";"))


def test_an_answer_under_the_confident_threshold_is_tentative(tmp_path: Path) -> None:
    from tests.pipeline_helpers import tiny_pipeline
    from ui.terminal import render_answer as terminal_answer

    w = tuple(1.0 if f == "reader" else 0.0 for f in FEATURES)
    combiner = Combiner(FEATURES, w, 0.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES))
    question = "Why do bees fan their wings?"  # the best quote scores 0.65
    for sure_at, tentative in ((0.7, True), (0.6, False), (0.0, False)):
        pipeline = tiny_pipeline(tmp_path, abstain_threshold=0.1, evidence_checks="off",
                                 confident_threshold=sure_at)
        pipeline.judge = Judge(PairPreferringReader(), combiner, depth=500)
        answer = pipeline.ask(question)
        assert not answer.abstained and answer.citations
        assert answer.tentative is tentative
        assert answer.to_dict()["tentative"] is tentative
        # The terminal says so above the quotes, as the chat does (tests/test_render.py).
        said = terminal_answer(answer, pipeline.documents)
        assert ("May not answer" in said) is tentative
        if tentative:
            assert said.index("May not answer") < said.index("Sources:")
    # A refusal is no tentative answer.
    pipeline = tiny_pipeline(tmp_path, abstain_threshold=0.9, confident_threshold=0.95,
                             evidence_checks="off")
    pipeline.judge = Judge(PairPreferringReader(), combiner, depth=500)
    refused = pipeline.ask(question)
    assert refused.abstained and not refused.tentative
