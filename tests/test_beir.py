"""`rag eval --beir`: loading a BEIR folder, BEIR/trec_eval metrics, TREC files, error messages.
Uses the hashing embedder, so no model is loaded."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from evals.beir import (
    BEIR_MAX_CHARS,
    DocumentRetriever,
    QueryVectors,
    benchmark_settings,
    run_beir,
)
from evals.beir_data import BenchmarkError, load_beir
from evals.beir_tune import tune
from evals.benchmark_metrics import (
    contains_answer,
    drop_identical,
    first_occurrence,
    ranking_metrics,
)
from evals.trec import read_run, write_qrels, write_run
from index.embedder import HashingEmbedder
from index.passage import Passage
from rag.settings import Settings
from rag.types import Hit

DOCS = [
    {"_id": "d1", "title": "Honey bees", "text": "Bees make honey from nectar in the hive."},
    {"_id": "d2", "title": "Steam trains", "text": "A locomotive burns coal to boil water."},
    {"_id": "d3", "title": "", "text": "Volcanoes erupt lava and ash over the island."},
    {"_id": "d4", "title": "Glaciers", "text": "Glaciers carve valleys slowly out of rock."},
]
QUERIES = [
    {"_id": "q1", "text": "How do bees make honey?", "metadata": {"gold": "never read"}},
    {"_id": "q2", "text": "What does a locomotive burn?"},
    {"_id": "q3", "text": "What do volcanoes erupt?"},
    {"_id": "t1", "text": "What carves valleys?"},
]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _qrels(path: Path, pairs: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("query-id\tcorpus-id\tscore\n"
                    + "".join(f"{q}\t{d}\t1\n" for q, d in pairs), encoding="utf-8")


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    """A four-document BEIR folder with a test and a train split."""
    root = tmp_path / "tinybeir"
    root.mkdir()
    _jsonl(root / "corpus.jsonl", DOCS)
    _jsonl(root / "queries.jsonl", QUERIES)
    _qrels(root / "qrels" / "test.tsv", [("q1", "d1"), ("q2", "d2"), ("q3", "d3")])
    _qrels(root / "qrels" / "train.tsv", [("t1", "d4")])
    return root


def _args(beir: Path, **kw: object) -> argparse.Namespace:
    base = {"beir": str(beir), "split": "test", "mode": None, "json": False, "out": None,
            "limit": None}
    return argparse.Namespace(**{**base, **kw})


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=str(data_dir), model="hash")


# --- metrics, checked by hand --------------------------------------------------------------

def test_metrics_match_hand_computation() -> None:
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    run = {"q1": ["x", "a", "y", "b"]}  # q2 retrieved nothing: it scores 0 (trec_eval -c)
    m = ranking_metrics(qrels, run)
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx(ndcg_q1 / 2)
    assert m["recall@100"] == pytest.approx(0.5)
    assert m["mrr@10"] == pytest.approx(0.25)


def test_metrics_cut_offs_and_zero_judgements() -> None:
    qrels = {"q": {"rel": 1, "judged-not-relevant": 0}}
    run = {"q": [f"n{i}" for i in range(10)] + ["rel"]}  # relevant at rank 11
    m = ranking_metrics(qrels, run, ["ndcg@10", "mrr@10", "recall@100", "recall@5"])
    assert m == {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@100": 1.0, "recall@5": 0.0}


def test_first_occurrence_is_max_aggregation() -> None:
    hits = [Hit(Passage(d, 0, 1, "x", ((0, 1),)), 1.0, i) for i, d in enumerate("abacbd")]
    assert first_occurrence(hits, 10) == ["a", "b", "c", "d"]
    assert first_occurrence(hits, 2) == ["a", "b"]


def test_identical_ids_are_dropped_like_beir() -> None:
    assert drop_identical({"q1": ["q1", "d1"], "q2": ["d2"]}) == {"q1": ["d1"], "q2": ["d2"]}


def test_contains_answer_ignores_case_and_whitespace() -> None:
    assert contains_answer("The Denver  Broncos\nwon.", ["denver broncos"])
    assert not contains_answer("The Panthers lost.", ["Denver Broncos", "  "])


# --- TREC files ------------------------------------------------------------------------------

def test_trec_run_format_and_round_trip(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r.trec", {"q1": ["d3", "d1"], "q2": ["d2"]}, "rag-bm25")
    assert path.read_text().splitlines() == [
        "q1 Q0 d3 1 2 rag-bm25", "q1 Q0 d1 2 1 rag-bm25", "q2 Q0 d2 1 1 rag-bm25"]
    assert read_run(path) == {"q1": ["d3", "d1"], "q2": ["d2"]}
    qrels = write_qrels(tmp_path / "q.qrels", {"q1": {"d1": 1}})
    assert qrels.read_text() == "q1 0 d1 1\n"


def test_trec_run_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.trec"
    path.write_text("q1 Q0 d1 1\n")
    with pytest.raises(ValueError, match="line 1: expected 6 columns"):
        read_run(path)


# --- loading ---------------------------------------------------------------------------------

def test_load_keeps_judged_queries_and_prepends_titles(beir_dir: Path) -> None:
    bset = load_beir(beir_dir, "test", title_mode="text")
    assert bset.name == "tinybeir"
    assert list(bset.queries) == ["q1", "q2", "q3"]  # t1 is judged only in train
    assert bset.queries["q1"] == "How do bees make honey?"
    docs = {d.id: d for d in bset.documents}
    assert docs["d1"].text == "Honey bees\n\nBees make honey from nectar in the hive."
    assert docs["d3"].text == DOCS[2]["text"] and docs["d3"].title == "d3"
    assert list(load_beir(beir_dir, "train").queries) == ["t1"]
    assert list(load_beir(beir_dir, "test", limit=2).queries) == ["q1", "q2"]


def test_header_title_mode_leaves_the_text_alone(beir_dir: Path) -> None:
    if not hasattr(Settings(), "context_headers"):
        pytest.skip("this rag has no context headers")
    docs = {d.id: d for d in load_beir(beir_dir, "test").documents}  # the default mode
    assert docs["d1"].text == DOCS[0]["text"] and docs["d1"].title == "Honey bees"
    with pytest.raises(BenchmarkError, match="unknown title mode 'footer'"):
        load_beir(beir_dir, "test", title_mode="footer")


def test_test_split_prefers_queries_test_file(beir_dir: Path) -> None:
    _jsonl(beir_dir / "queries_test.jsonl", [{"_id": q, "text": f"only {q}"}
                                             for q in ("q1", "q2", "q3")])
    assert load_beir(beir_dir, "test").queries["q1"] == "only q1"


@pytest.mark.parametrize(("damage", "message"), [
    (lambda r: (r / "corpus.jsonl").unlink(), "has no corpus.jsonl"),
    (lambda r: (r / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{oops\n'),
     r"corpus.jsonl:2: not valid JSON"),
    (lambda r: (r / "corpus.jsonl").write_text('{"_id": "d1"}\n'), r":1: missing .*'text'"),
    (lambda r: (r / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n' * 2),
     "duplicate document id 'd1'"),
    (lambda r: (r / "qrels" / "test.tsv").write_text("q1 d1 1\n"),
     r"test.tsv:1: expected 3 tab-separated columns"),
    (lambda r: (r / "qrels" / "test.tsv").write_text("q1\td1\tyes\n"), "is not an integer"),
    (lambda r: (r / "qrels" / "test.tsv").write_text("q9\td1\t1\n"),
     "judges 1 query id.* missing from queries.jsonl, e.g. 'q9'"),
    (lambda r: (r / "queries.jsonl").unlink(), "has no queries.jsonl"),
])
def test_malformed_folder_gets_one_line_error(beir_dir: Path, damage, message: str) -> None:
    damage(beir_dir)
    with pytest.raises(BenchmarkError, match=message) as err:
        load_beir(beir_dir, "test")
    assert "\n" not in str(err.value)


def test_missing_folder_and_split(beir_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="BEIR folder not found"):
        load_beir(tmp_path / "nope", "test")
    with pytest.raises(BenchmarkError, match=r"no qrels/dev.tsv .*splits found: test, train"):
        load_beir(beir_dir, "dev")
    with pytest.raises(BenchmarkError, match="--limit must be at least 1"):
        load_beir(beir_dir, "test", limit=0)


# --- settings and retrieval ------------------------------------------------------------------

def test_benchmark_defaults_apply_unless_the_user_set_a_value() -> None:
    assert benchmark_settings(Settings()).max_chars == BEIR_MAX_CHARS
    assert benchmark_settings(Settings(max_chars=1234)).max_chars == 1234
    if hasattr(Settings(), "context_headers"):  # the title goes in the text or in a header
        assert benchmark_settings(Settings(), "text").context_headers == "off"
        assert benchmark_settings(Settings(), "header").context_headers == "on"


class _Fixed:
    def __init__(self, doc_ids: str) -> None:
        self.hits = [Hit(Passage(d, i, i + 1, "x", ((i, i + 1),)), 1.0 / (i + 1), i)
                     for i, d in enumerate(doc_ids)]
        self.asked: list[int] = []

    def search(self, query: str, k: int) -> list[Hit]:
        self.asked.append(k)
        return self.hits[:k]


def test_document_retriever_asks_deeper_until_k_documents() -> None:
    inner = _Fixed("aaaaaaaabbbbbbbbc")
    docs = DocumentRetriever(inner, n_passages=17, doc_rows={"a": 0, "b": 1, "c": 2})
    hits = docs.search("q", 3)
    assert [h.passage.doc_id for h in hits] == ["a", "b", "c"]
    assert [h.row for h in hits] == [0, 1, 2]
    assert inner.asked == [12, 17]
    assert [h.passage.doc_id for h in docs.search("q", 5)] == ["a", "b", "c"]  # exhausted


class _Counting:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return HashingEmbedder().embed(texts)


def test_query_vectors_embed_queries_once_in_batches() -> None:
    inner = _Counting()
    qv = QueryVectors(inner, ["a b", "c d", "a b", "e f"], progress=False, batch=2)
    assert inner.calls == [["a b", "c d"], ["e f"]]
    assert np.array_equal(qv.embed(["c d"]), HashingEmbedder().embed(["c d"]))
    assert len(inner.calls) == 2
    assert np.array_equal(qv.embed(["other text"]), HashingEmbedder().embed(["other text"]))
    assert inner.calls[-1] == ["other text"]


def test_tune_refuses_the_test_split(beir_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="training split"):
        tune(beir_dir, _settings(tmp_path / "data"), split="test")


# --- end to end, hashing embedder ------------------------------------------------------------

def test_run_beir_table_json_and_run_files(beir_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run_beir(_args(beir_dir), _settings(data)) == 0
    table = capsys.readouterr().out
    assert "tinybeir (test): 3 queries, 4 documents" in table
    assert "ndcg@10" in table and "hybrid" in table
    assert (data / "benchmarks" / "tinybeir" / "manifest.json").exists()

    out = tmp_path / "reports" / "tiny.json"
    out.parent.mkdir()
    assert run_beir(_args(beir_dir, json=True, out=str(out), mode="bm25"), _settings(data)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(out.read_text())
    assert list(report["modes"]) == ["bm25"]
    # Every query shares a distinctive word with exactly its relevant document.
    assert report["modes"]["bm25"]["ndcg@10"] == pytest.approx(1.0)
    assert report["modes"]["bm25"]["mrr@10"] == pytest.approx(1.0)
    assert report["answer_sample"] is None and "recall@5" not in report["modes"]["bm25"]
    run_file = Path(report["modes"]["bm25"]["run_file"])
    assert run_file.parent == out.parent
    assert read_run(run_file)["q2"][0] == "d2"
    assert (out.parent / "tinybeir-test.qrels").exists()


def test_run_beir_with_qa_reports_answer_rates(beir_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _jsonl(beir_dir / "qa.jsonl", [
        {"id": "q1", "answers": ["from nectar"]}, {"id": "q2", "answers": ["coal"]},
        {"id": "q3", "answers": ["granite"]}])
    assert run_beir(_args(beir_dir, json=True, mode="bm25"), _settings(tmp_path / "d")) == 0
    report = json.loads(capsys.readouterr().out)
    row = report["modes"]["bm25"]
    assert report["answer_sample"] == {"size": 3, "seed": 13, "of": 3}
    assert row["recall@5"] == pytest.approx(1.0)
    assert row["answer_sentence_rate"] == pytest.approx(2 / 3)
    assert 0.0 <= row["would_abstain_rate"] <= 1.0


def test_run_beir_rerank_adds_a_reader_column(beir_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(beir_dir, json=True, mode="bm25", rerank=True)
    assert run_beir(args, _settings(tmp_path / "d")) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["modes"]) == ["bm25", "hybrid+reader"]
    row = report["modes"]["hybrid+reader"]
    assert 0.0 < row["ndcg@10"] <= 1.0 and row["recall@100"] == pytest.approx(1.0)
    assert read_run(Path(row["run_file"]) if row.get("run_file") else _only_run(tmp_path))


def _only_run(tmp_path: Path) -> Path:
    return next((tmp_path / "d" / "benchmarks" / "runs").glob("*hybrid+reader.trec"))


def test_run_beir_unknown_mode(beir_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="unknown mode 'sparse'"):
        run_beir(_args(beir_dir, mode="sparse"), _settings(tmp_path / "d"))


@pytest.mark.slow
def test_run_beir_with_the_bundled_model(beir_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=str(tmp_path / "d"))
    assert run_beir(_args(beir_dir, json=True), settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["model"] == "all-MiniLM-L6-v2"
    for mode in ("dense", "bm25", "hybrid"):
        assert report["modes"][mode]["ndcg@10"] == pytest.approx(1.0)
