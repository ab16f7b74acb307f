"""The index folder: build, load, reuse of vectors, staleness, atomic writes, row ids."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pytest

from corpus.collection import load_corpus
from corpus.document import Document
from index import store
from index.embedder import HashingEmbedder, make_embedder
from index.store import (
    MANIFEST,
    UNIT_ROWS,
    IndexDamaged,
    IndexError_,
    build_index,
    chunk_documents,
    load_index,
    staleness,
)

SETTINGS = {"max_chars": 300, "context_headers": True}


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering how many texts it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().embed(texts)


class FailingEmbedder(HashingEmbedder):
    """Embeds the first batch, then dies like an interrupted build."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches += 1
        if self.batches > 1:
            raise RuntimeError("killed half-way")
        return super().embed(texts)


@pytest.fixture
def docs(tiny_corpus: Path) -> list[Document]:
    return list(load_corpus(tiny_corpus).documents)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _many_docs(n: int) -> list[Document]:
    return [Document(id=f"d{i}", title=f"Doc {i}",
                     text="\n\n".join(f"Paragraph {j} of document {i} about topic {i * j}."
                                      for j in range(6)))
            for i in range(n)]


def test_build_then_load(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    report = build_index(path, docs, make_embedder("hash"), "hash", SETTINGS,
                         settings={"mode": "hybrid"}, progress=False)
    assert report.passages > 0 and report.embedded == report.passages and report.reused == 0
    index = load_index(path)
    assert set(index.documents) == {"bees", "trains", "volcano"}
    assert len(index.passages) == report.passages == index.vectors.ntotal
    for p in index.passages:
        assert index.documents[p.doc_id].text[p.start:p.end] == p.text
    for doc in docs:
        assert index.documents[doc.id] == doc  # round-trips through JSON exactly
    assert index.stored_vectors().shape == (report.passages, 384)


def test_a_load_parses_a_row_only_when_it_is_read(tmp_path: Path, docs: list[Document],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Checksummed tables are what the build wrote: at 100k passages parsing them all took
    # 3 s of a start. Without checksums (an old index), parsing is the check, so it is whole.
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    parsed: list[str] = []
    real = store.Passage.from_dict

    def from_dict(row: dict[str, object]) -> store.Passage:
        parsed.append(str(row["doc_id"]))
        return real(row)

    monkeypatch.setattr(store.Passage, "from_dict", from_dict)
    index = load_index(path)
    assert parsed == []
    hit = index.passages[3]
    assert parsed == [hit.doc_id] and index.passages[3] is hit
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"]
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    parsed.clear()
    assert len(load_index(path).passages) == len(parsed) > 3


def test_manifest_keys(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    report = build_index(path, docs, make_embedder("hash"), "hash", SETTINGS,
                         settings={"mode": "hybrid", "k": 5}, progress=False)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    for key in ("format_version", "model", "dimension", "corpus_hash", "passage_count",
                "settings", "library_versions", "built_at"):
        assert key in manifest, key
    assert manifest["model"] == "hash"
    assert manifest["dimension"] == 384
    assert manifest["passage_count"] == report.passages
    assert manifest["settings"] == {"mode": "hybrid", "k": 5}
    assert manifest["index_settings"] == SETTINGS
    assert "faiss-cpu" in manifest["library_versions"]
    assert manifest["built_at"][:2] == "20"
    assert sorted(p.name for p in path.iterdir() if not p.name.startswith("bm25.")) == [
        "documents.jsonl", "manifest.json", "passages.jsonl", "unit_rows.npy", "units.npy",
        "vectors.faiss", "words.json"]
    assert sorted(manifest["extra_files"]) == sorted(
        p.name for p in path.iterdir()
        if p.name.startswith("bm25.") or p.name in (UNIT_ROWS, "words.json"))


def test_second_build_embeds_nothing(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    first = build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    emb = CountingEmbedder()
    second = build_index(path, docs, emb, "hash", SETTINGS, progress=False)
    assert second.embedded == 0 and emb.calls == []
    assert second.reused == second.passages == first.passages


def test_changing_one_document_reembeds_only_its_passages(tmp_path: Path,
                                                          docs: list[Document]) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    before = load_index(path)
    trains = next(d for d in docs if d.id == "trains")
    changed = replace(trains, text=trains.text + "\n\nMaglev trains float on magnets.")
    new_docs = [changed if d.id == "trains" else d for d in docs]
    expected = chunk_documents([changed], SETTINGS["max_chars"])
    old_trains = {p.retrieval_text for p in before.passages if p.doc_id == "trains"}
    new_texts = [p for p in expected if p.retrieval_text not in old_trains]
    emb = CountingEmbedder()
    report = build_index(path, new_docs, emb, "hash", SETTINGS, progress=False)
    assert 0 < report.embedded <= len(expected)
    assert report.embedded == len(new_texts)
    # Only the new sentence (alone and paired with its neighbour) is embedded as a unit.
    assert 0 < report.units_embedded <= 2
    assert sum(emb.calls) == report.embedded + report.units_embedded
    after = load_index(path)
    assert after.documents["trains"].text.endswith("Maglev trains float on magnets.")
    # Vectors of the untouched documents are carried over unchanged.
    old_vecs = {p.id: v for p, v in zip(before.passages, before.stored_vectors(), strict=True)}
    for p, v in zip(after.passages, after.stored_vectors(), strict=True):
        if p.doc_id != "trains":
            np.testing.assert_array_equal(v, old_vecs[p.id])


def test_new_unit_rules_never_give_a_unit_the_vector_of_its_old_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Units 7 quotes a list item without its number: same count of units, other texts. A
    # rebuild must embed the new texts, not match the old vectors to them by position.
    import index.units as units

    doc = Document("lih", "Order Number One was issued.\n3. The Provisional Government was "
                   "formed by liberal elite politicians.\n4) The soviets ran the railways.",
                   "Lih")
    old_rules, new_rules = {**SETTINGS, "units": 6}, {**SETTINGS, "units": 7}
    with monkeypatch.context() as m:
        m.setattr(units, "_marker_length", lambda p, start: 0)
        build_index(tmp_path / "idx", [doc], HashingEmbedder(), "hash", old_rules,
                    progress=False)
    report = build_index(tmp_path / "idx", [doc], HashingEmbedder(), "hash", new_rules,
                         progress=False)
    build_index(tmp_path / "fresh", [doc], HashingEmbedder(), "hash", new_rules,
                progress=False)
    assert report.embedded == 0  # the passages' own vectors are still reused
    np.testing.assert_array_equal(load_index(tmp_path / "idx").unit_vectors,
                                  load_index(tmp_path / "fresh").unit_vectors)


def test_a_rebuild_splits_only_the_changed_documents(tmp_path: Path, docs: list[Document],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    trains = next(d for d in docs if d.id == "trains")
    changed = replace(trains, title="Trains, revised")  # metadata alone changes the headers
    new_docs = [changed if d.id == "trains" else d for d in docs]
    split: list[str] = []
    real = store.chunk_text
    monkeypatch.setattr(store, "chunk_text", lambda doc_id, *a, **k: (
        split.append(doc_id), real(doc_id, *a, **k))[1])
    build_index(path, new_docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    assert split == ["trains"]
    monkeypatch.undo()
    # The same passages, headers included, as splitting everything afresh.
    assert load_index(path).passages == chunk_documents(new_docs, SETTINGS["max_chars"])
    # Other chunking settings split everything again.
    split.clear()
    monkeypatch.setattr(store, "chunk_text", lambda doc_id, *a, **k: (
        split.append(doc_id), real(doc_id, *a, **k))[1])
    other = {**SETTINGS, "max_chars": 200}
    build_index(path, new_docs, make_embedder("hash"), "hash", other, progress=False)
    assert sorted(split) == sorted(d.id for d in new_docs)


def test_staleness_reports_each_reason_in_one_line(tmp_path: Path,
                                                   docs: list[Document]) -> None:
    path = tmp_path / "idx"
    assert "no index" in staleness(path, docs, "hash", SETTINGS)
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    assert staleness(path, docs, "hash", SETTINGS) is None

    bees = next(d for d in docs if d.id == "bees")
    changed = [replace(bees, title="Bees!") if d.id == "bees" else d for d in docs]
    extra = [*docs, Document(id="new", text="New text.", title="New")]
    reasons = {
        "corpus": staleness(path, changed, "hash", SETTINGS),
        "added": staleness(path, extra, "hash", SETTINGS),
        "removed": staleness(path, docs[:-1], "hash", SETTINGS),
        "model": staleness(path, docs, "all-MiniLM-L6-v2", SETTINGS),
        "settings": staleness(path, docs, "hash", {**SETTINGS, "max_chars": 500}),
    }
    for name, reason in reasons.items():
        assert reason and "\n" not in reason, name
    assert "corpus changed" in reasons["corpus"] and "1 changed" in reasons["corpus"]
    assert "1 added" in reasons["added"]
    assert "1 removed" in reasons["removed"]
    assert "model" in reasons["model"] and "all-MiniLM-L6-v2" in reasons["model"]
    assert "settings" in reasons["settings"]

    (path / MANIFEST).write_text("{not json", encoding="utf-8")
    assert "unreadable" in staleness(path, docs, "hash", SETTINGS)


def test_embedder_dying_half_way_leaves_previous_index(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    small = {"max_chars": 100, "context_headers": False}
    build_index(path, _many_docs(2), make_embedder("hash"), "hash", small, progress=False)
    before = _snapshot(path)
    bigger = _many_docs(30)  # well over one batch of 32 new passages
    assert len(chunk_documents(bigger, 100)) > 64
    emb = FailingEmbedder()
    with pytest.raises(RuntimeError, match="half-way"):
        build_index(path, bigger, emb, "hash", small, progress=False)
    assert emb.batches == 2
    assert _snapshot(path) == before
    assert sorted(load_index(path).documents) == ["d0", "d1"]
    # No temp folders left. The build lock file beside the index stays (index.lock), and so
    # does the checkpoint of what was embedded, for the next build to resume from.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idx.lock", ".idx.partial", "idx"]


def test_write_dying_half_way_leaves_previous_index(tmp_path: Path, docs: list[Document],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    before = _snapshot(path)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", boom)
    extra = [*docs, Document(id="new", text="Entirely new text.", title="New")]
    with pytest.raises(OSError, match="disk full"):
        build_index(path, extra, make_embedder("hash"), "hash", SETTINGS, progress=False)
    assert _snapshot(path) == before
    assert "new" not in load_index(path).documents
    # The new text's vectors wait in the checkpoint for the next try (index.checkpoint).
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idx.lock", ".idx.partial", "idx"]


def test_crash_between_renames_recovers_previous_index(tmp_path: Path,
                                                       docs: list[Document]) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    before = _snapshot(path)
    path.rename(tmp_path / ".idx.old-12345")  # as if killed after the first rename
    index = load_index(path)
    assert _snapshot(path) == before
    assert set(index.documents) == {"bees", "trains", "volcano"}


def test_missing_and_damaged_indexes_are_index_errors(tmp_path: Path,
                                                      docs: list[Document]) -> None:
    with pytest.raises(IndexError_, match="no index"):
        load_index(tmp_path / "nothing")
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    (path / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexError_, match="damaged"):
        load_index(path)


def test_faiss_row_ids_map_to_passages(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    index = load_index(path)
    emb = make_embedder("hash")
    for row, p in enumerate(index.passages):
        scores, rows = index.search(emb.embed([p.retrieval_text]), k=1)
        assert rows[0][0] == row
        assert scores[0][0] == pytest.approx(1.0, abs=1e-5)
    ids = faiss.vector_to_array(index.vectors.id_map)
    assert list(ids) == list(range(len(index.passages)))


def test_no_passage_mixes_author_and_commenter(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", {"max_chars": 5000,
                                                            "context_headers": True},
                progress=False)
    index = load_index(path)
    bees = [p for p in index.passages if p.doc_id == "bees"]
    comment = next(p for p in bees if p.text.startswith("Comment:"))
    assert "reader comment by Jo Reader" in comment.context
    assert all("Jo Reader" not in p.context for p in bees if p is not comment)


def test_stored_unit_rows_are_the_unit_rules_own(tmp_path: Path, docs: list[Document],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A start reads where each passage's units begin instead of running the unit rules over
    every passage; an index without the file (written before it existed) works them out."""
    from index import store
    from index.units import unit_offsets

    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    expected = unit_offsets(load_index(path).passages)
    with monkeypatch.context() as m:
        m.setattr(store, "unit_offsets", lambda _p: pytest.fail("unit rules run on load"))
        assert load_index(path).unit_rows == expected

    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    manifest["extra_files"].remove(UNIT_ROWS)
    del manifest["files"][UNIT_ROWS]
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (path / UNIT_ROWS).unlink()
    assert load_index(path).unit_rows == expected


def test_unit_rows_that_do_not_fit_are_damage(tmp_path: Path, docs: list[Document]) -> None:
    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    rows = np.load(path / UNIT_ROWS)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    for bad in (rows[:-1], rows[::-1].copy(), rows + 1):
        buf = io.BytesIO()
        np.save(buf, bad, allow_pickle=False)
        (path / UNIT_ROWS).write_bytes(buf.getvalue())
        manifest["files"][UNIT_ROWS] = {"bytes": len(buf.getvalue()),
                                        "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
        (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(IndexDamaged, match=UNIT_ROWS):
            load_index(path)


def test_the_corpus_words_are_stored_and_used(tmp_path: Path, docs: list[Document],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The name check's vocabulary comes with the index; an index without it (written
    before it was stored) is still served, the words found on first use."""
    from index.lexicon import WORDS, document_words
    from rag import pipeline
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    path = tmp_path / "idx"
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)
    index = load_index(path)
    assert index.words == document_words(docs) and "bees" in index.words
    with monkeypatch.context() as m:
        m.setattr(pipeline, "document_words", lambda _d: pytest.fail("words found again"))
        assert Pipeline(Settings(model="hash"), index, make_embedder("hash")).vocabulary \
            == index.words

    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    manifest["extra_files"].remove(WORDS)
    del manifest["files"][WORDS]
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (path / WORDS).unlink()
    old = load_index(path)
    assert old.words is None
    assert Pipeline(Settings(model="hash"), old, make_embedder("hash")).vocabulary \
        == document_words(docs)

    (path / WORDS).write_text('{"not": "a list"}', encoding="utf-8")
    manifest["extra_files"].append(WORDS)
    manifest["files"][WORDS] = {"bytes": (path / WORDS).stat().st_size,
                                "sha256": hashlib.sha256((path / WORDS).read_bytes()).hexdigest()}
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexDamaged, match=WORDS):
        load_index(path)
