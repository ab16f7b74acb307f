"""The sentence channel: passages ranked by their best quotable unit, exactly as a brute-force
max over the stored unit vectors, and fused into hybrid retrieval when the setting is on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.document import Document
from index.embedder import HashingEmbedder
from index.store import Index, build_index, load_index
from rag.pipeline import Pipeline
from rag.retrieval import HybridRetriever, make_retriever
from rag.sentence_retrieval import SentenceRetriever
from rag.settings import Settings, SettingsError
from rag.writers import WriterScopedRetriever
from tests.pipeline_helpers import tiny_pipeline

WORDS = ["bees", "honey", "river", "soviet", "council", "strike", "bread", "winter",
         "printing", "press", "army", "peasant", "railway", "harbour", "coal", "wheat"]


def _index(tmp_path: Path, texts: list[str]) -> Index:
    docs = [Document(id=f"d{i}", title=f"D{i}", text=t) for i, t in enumerate(texts)]
    path = tmp_path / "idx"
    build_index(path, docs, HashingEmbedder(), "hash", {"max_chars": 200}, progress=False)
    return load_index(path)


def _brute_force(index: Index, query: str) -> dict[int, float]:
    qv = HashingEmbedder().embed([query])[0]
    best: dict[int, float] = {}
    for row in range(len(index.passages)):
        vecs = np.asarray(index.passage_unit_vectors(row), dtype=np.float32)
        if len(vecs):
            best[row] = float((vecs @ qv).max())
    return best


sentence = st.lists(st.sampled_from(WORDS), min_size=2, max_size=6).map(
    lambda ws: " ".join(ws).capitalize() + ".")
document = st.lists(sentence, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(document, min_size=1, max_size=5),
       query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
       k=st.integers(min_value=1, max_value=12))
def test_ranks_passages_by_their_best_unit(tmp_path_factory: pytest.TempPathFactory,
                                           texts: list[str], query: str, k: int) -> None:
    index = _index(tmp_path_factory.mktemp("s"), texts)
    hits = SentenceRetriever(index, HashingEmbedder()).search(query, k)
    expected = _brute_force(index, query)
    assert len(hits) == min(k, len(expected))
    assert len({h.row for h in hits}) == len(hits)  # one hit per passage
    for h in hits:
        assert h.passage == index.passages[h.row]
        assert h.score == pytest.approx(expected[h.row], abs=1e-3)  # units are float16
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    # Nothing left out scores clearly above the last one kept.
    kept = {h.row for h in hits}
    if hits:
        assert all(s <= hits[-1].score + 1e-3 for r, s in expected.items() if r not in kept)


def test_a_passage_found_by_one_sentence(tmp_path: Path) -> None:
    # The second document is about bread throughout; the first has one sentence that matches.
    texts = ["Coal trains crossed the harbour. Railway strike in winter. Coal and wheat.",
             "Bread bread bread. Bread and wheat. Peasant bread."]
    index = _index(tmp_path, texts)
    hits = SentenceRetriever(index, HashingEmbedder()).search("railway strike winter", 1)
    assert hits[0].passage.doc_id == "d0"
    assert SentenceRetriever(index, HashingEmbedder()).search("railway", 0) == []


def test_hybrid_fuses_the_sentence_channel_only_when_on(tmp_path: Path) -> None:
    index = _index(tmp_path, ["Bees make honey. Rivers run.", "Soviet council strike."])
    on = make_retriever("hybrid", index, HashingEmbedder(), rrf_k=10)
    off = make_retriever("hybrid", index, HashingEmbedder(), rrf_k=10, sentences=False)
    assert isinstance(on, HybridRetriever) and isinstance(off, HybridRetriever)
    assert [type(r).__name__ for r in on.retrievers] == [
        "DenseRetriever", "BM25Retriever", "SentenceRetriever"]
    assert [type(r).__name__ for r in off.retrievers] == ["DenseRetriever", "BM25Retriever"]


def _fused(pipe: Pipeline) -> HybridRetriever:
    """The pipeline's hybrid ranking, inside the scope of named writers (`rag.writers`)."""
    scoped = pipe.base_retriever("hybrid")
    assert isinstance(scoped, WriterScopedRetriever)
    assert isinstance(scoped.base, HybridRetriever)
    return scoped.base


def test_setting_reaches_the_pipeline(tmp_path: Path) -> None:
    assert Settings().sentence_channel == "on"
    assert Settings.load(env={"RAG_SENTENCE_CHANNEL": "off"}).sentence_channel == "off"
    with pytest.raises(SettingsError, match="sentence_channel"):
        Settings(sentence_channel="maybe")
    pipe = tiny_pipeline(tmp_path, sentence_channel="off", reader="off")
    base = _fused(pipe)
    assert len(base.retrievers) == 2
    assert pipe.ask("What is dual power?").settings["sentence_channel"] == "off"


def test_the_pipeline_builds_one_sentence_retriever_and_shares_it(tmp_path: Path) -> None:
    pipe = tiny_pipeline(tmp_path, reader="off")
    pipe.warm_up()  # the hybrid, with its unit index, is made here
    assert _fused(pipe).retrievers[2] is pipe.sentence_retriever()
    assert pipe.sentence_retriever() is pipe.sentence_retriever()


def test_past_the_threshold_the_units_get_a_stored_ivf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import faiss

    from index import ann
    from index.folder import MANIFEST, UNIT_INDEX

    texts = [" ".join(f"{WORDS[(i + j) % len(WORDS)].capitalize()} {WORDS[(i * j) % 7]} "
                      f"{WORDS[(i + 3 * j) % len(WORDS)]}." for j in range(8)) for i in range(12)]
    flat = _index(tmp_path / "flat", texts)
    assert flat.unit_index is None and flat.manifest["unit_index"] == {"kind": "flat"}
    assert not (flat.path / UNIT_INDEX).exists()
    monkeypatch.setattr(ann, "IVF_FROM", 50)
    ivf = _index(tmp_path / "ivf", texts)
    assert len(ivf.unit_vectors) >= 50
    spec = json.loads((ivf.path / MANIFEST).read_text())["unit_index"]
    assert spec["kind"] == "ivf" and UNIT_INDEX in ivf.manifest["extra_files"]
    assert spec["codes"] == "fp16"  # the units are float16 already
    assert ivf.unit_index is not None and ivf.unit_index.ntotal == len(ivf.unit_vectors)
    # nprobe comes back from the manifest; here it covers every list, so the IVF is exact.
    inner = faiss.downcast_index(ivf.unit_index.index)  # type: ignore[attr-defined]
    assert inner.nprobe == spec["nprobe"] == spec["nlist"]
    for query in ("bees honey", "soviet council strike", "coal railway winter"):
        got = SentenceRetriever(ivf, HashingEmbedder()).search(query, 5)
        want = SentenceRetriever(flat, HashingEmbedder()).search(query, 5)
        assert [h.row for h in got] == [h.row for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)


def test_a_damaged_unit_index_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index import ann
    from index.folder import UNIT_INDEX
    from index.store import IndexDamaged

    monkeypatch.setattr(ann, "IVF_FROM", 10)
    index = _index(tmp_path, [" ".join(f"{w.capitalize()} {w} river." for w in WORDS)] * 2)
    data = (index.path / UNIT_INDEX).read_bytes()
    (index.path / UNIT_INDEX).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexDamaged, match=UNIT_INDEX):
        load_index(index.path)


def test_training_an_ivf_is_announced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from index import ann

    monkeypatch.setattr(ann, "IVF_FROM", 10)
    docs = [Document(id="d0", title="D0", text=" ".join(
        f"{w.capitalize()} {w} river strike." for w in WORDS))]
    build_index(tmp_path / "idx", docs, HashingEmbedder(), "hash", {"max_chars": 200},
                progress=True)
    err = capsys.readouterr().err
    assert "Training the sentences' search index (IVF" in err
    assert "Training the passages' search index" not in err  # fewer than 10 passages
