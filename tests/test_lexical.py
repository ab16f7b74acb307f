"""The BM25 model saved in the index folder: the same answers as one built in memory, checked
against the manifest on load, and optional for indexes written before it was saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_store import CountingEmbedder

from corpus.collection import load_corpus
from corpus.document import Document
from index import lexical
from index.embedder import HashingEmbedder
from index.folder import EXTRA_KEY, IndexDamaged, check_intact
from index.store import MANIFEST, build_index, load_index
from rag.retrieval import BM25Retriever, top_rows

SETTINGS = {"max_chars": 300, "context_headers": True}
QUERIES = ["honey bees", "nectar from flowers", "volcanoes and lava", "wax cells", "bees lava",
           "zzz-not-a-word", "the"]


def _build(folder: Path, corpus: Path) -> Path:
    docs: list[Document] = list(load_corpus(corpus).documents)
    build_index(folder / "idx", docs, HashingEmbedder(), "hash", SETTINGS, progress=False)
    return folder / "idx"


@pytest.fixture
def built(tmp_path: Path, tiny_corpus: Path) -> Path:
    return _build(tmp_path, tiny_corpus)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index for the read-only tests (hypothesis wants no function-scoped fixture)."""
    return _build(tmp_path_factory.mktemp("lexical"), Path(__file__).parent / "data" / "tiny")


def _ranking(r: BM25Retriever, query: str) -> list[tuple[int, float]]:
    return [(h.row, round(h.score, 5)) for h in r.search(query, 10)]


def test_build_saves_the_model_and_lists_its_files(built: Path) -> None:
    manifest = json.loads((built / MANIFEST).read_text())
    names = manifest[EXTRA_KEY]
    assert any(n.startswith("bm25.") for n in names)
    assert all(n.startswith("bm25.") or n in ("unit_rows.npy", "words.json") for n in names)
    assert all((built / n).exists() and n in manifest["files"] for n in names)
    assert load_index(built).lexical is not None


def test_saved_model_ranks_exactly_as_one_built_in_memory(built: Path) -> None:
    index = load_index(built)
    saved = BM25Retriever(index.passages, index.lexical)
    fresh = BM25Retriever(index.passages)
    for q in QUERIES:
        assert _ranking(saved, q) == _ranking(fresh, q), q


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_any_query_ranks_the_same_saved_or_fresh(shared: Path, query: str) -> None:
    index = load_index(shared)
    assert _ranking(BM25Retriever(index.passages, index.lexical), query) == \
        _ranking(BM25Retriever(index.passages), query)


def test_damaged_bm25_file_is_named(built: Path) -> None:
    victim = built / "bm25.data.npy"
    victim.write_bytes(victim.read_bytes()[:-8])
    with pytest.raises(IndexDamaged, match=r"bm25\.data\.npy"):
        check_intact(built)
    with pytest.raises(IndexDamaged, match=r"bm25\.data\.npy"):
        load_index(built)


def test_index_written_before_the_model_was_saved_still_answers(built: Path) -> None:
    manifest = json.loads((built / MANIFEST).read_text())
    for name in manifest.pop(EXTRA_KEY):
        (built / name).unlink()
        del manifest["files"][name]
    (built / MANIFEST).write_text(json.dumps(manifest))
    index = load_index(built)
    assert index.lexical is None
    assert BM25Retriever(index.passages, index.lexical).search("honey bees", 3)


def test_a_bad_extra_files_list_is_damage(built: Path) -> None:
    manifest = json.loads((built / MANIFEST).read_text())
    manifest[EXTRA_KEY] = ["../etc/passwd"]
    (built / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexDamaged, match="extra_files"):
        load_index(built)


def test_tokenize_is_stemmed_and_drops_stopwords() -> None:
    assert lexical.tokenize(["The councils running"]) == [["council", "run"]]


@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.25]), max_size=40),
       st.integers(min_value=0, max_value=45))
def test_top_rows_are_the_best_scores_with_ties_in_row_order(scores: list[float],
                                                             k: int) -> None:
    expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    assert top_rows(np.array(scores), k).tolist() == expected


_SAVE_ONE = """
import sys
from pathlib import Path
from index import lexical
lexical.save(lexical.build(["honey bees make wax", "lava and volcanoes", "bees and lava",
                            "wax cells of the hive"]), Path(sys.argv[1]))
"""


def test_the_same_texts_make_the_same_files_whatever_the_hash_seed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    folders = []
    for seed in ("1", "2", "3"):
        out = tmp_path / seed
        out.mkdir()
        subprocess.run([sys.executable, "-c", _SAVE_ONE, str(out)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed},
                       cwd=Path(__file__).resolve().parents[1])
        folders.append(out)
    files = sorted(p.name for p in folders[0].iterdir())
    assert files
    for other in folders[1:]:
        assert sorted(p.name for p in other.iterdir()) == files
        for name in files:
            assert (other / name).read_bytes() == (folders[0] / name).read_bytes(), name


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh ", min_size=1, max_size=30), min_size=1,
                max_size=6), st.text(alphabet="abcdefgh ", min_size=1, max_size=20))
def test_sorted_word_numbers_score_as_bm25s_own(texts: list[str], query: str) -> None:
    import bm25s

    # bm25s cannot index a corpus without one word, numbered either way.
    assume(any(lexical.tokenize(texts)))
    theirs = bm25s.BM25()
    theirs.index(lexical.tokenize(texts), show_progress=False)
    ours = lexical.build(texts)
    words = [t for t in ours.vocab_dict if t]
    assert words == sorted(words)
    q = [t for t in lexical.tokenize([query])[0] if t in ours.vocab_dict]
    if q:
        assert np.allclose(ours.get_scores(q), theirs.get_scores(q))


def test_readings_with_no_words_to_search_are_refused_before_any_embedding(
        tmp_path: Path) -> None:
    # bm25s fails on such a corpus with "max() arg is an empty sequence".
    docs = [Document("marks", "— * —\n\n. . .\n\nThe of and to it.", "—")]
    emb = CountingEmbedder()
    with pytest.raises(ValueError, match="no words to search"):
        build_index(tmp_path / "idx", docs, emb, "hash", SETTINGS, progress=False)
    assert emb.calls == []
    assert not (tmp_path / "idx").exists()
