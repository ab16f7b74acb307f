"""The vector index kind chosen by size: flat below `IVF_FROM`, IVF above, recorded in the
manifest, and either way FAISS ids are passage rows and the exact vectors can be read back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from corpus.collection import load_corpus
from index import ann
from index.embedder import HashingEmbedder
from index.store import MANIFEST, build_index, load_index
from rag.retrieval import DenseRetriever

SETTINGS = {"max_chars": 300, "context_headers": True}


def _unit_rows(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_choice_by_size() -> None:
    assert ann.choose(ann.IVF_FROM - 1) == ann.VectorIndexSpec()
    big = ann.choose(1_000_000)
    assert (big.kind, big.nlist, big.nprobe) == ("ivf", 4096, ann.IVF_NPROBE)
    assert ann.choose(ann.IVF_FROM).nlist == 1024
    assert ann.VectorIndexSpec().to_dict() == {"kind": "flat"}
    assert ann.VectorIndexSpec.from_dict(big.to_dict()) == big
    assert ann.VectorIndexSpec.from_dict(None) == ann.VectorIndexSpec()


def test_nlist_is_a_power_of_two_near_four_root_n() -> None:
    for n in (100_000, 1_000_000, 10_000_000):
        nlist = ann.nlist_for(n)
        assert nlist & (nlist - 1) == 0
        assert 2 * np.sqrt(n) <= nlist <= 8 * np.sqrt(n)
    # A tiny set (tests, a forced threshold) gets no more lists than k-means can train.
    assert [ann.nlist_for(n) for n in (0, 4, 100, 1000, 5000)] == [1, 1, 2, 16, 128]


@pytest.mark.parametrize("spec", [ann.VectorIndexSpec(), ann.choose(800, ivf_from=0),
                                  ann.hnsw()], ids=["flat", "ivf", "hnsw"])
def test_ids_are_rows_and_vectors_read_back_exactly(spec: ann.VectorIndexSpec) -> None:
    rows = _unit_rows(800)
    index = ann.build(rows, spec)
    assert np.array_equal(ann.all_vectors(index), rows)
    _, found = index.search(rows[:20], 1)
    assert [int(r) for r in found[:, 0]] == list(range(20))  # each row finds itself


def test_ivf_finds_the_exact_neighbours_on_a_small_set() -> None:
    rows, queries = _unit_rows(4000), _unit_rows(50, seed=1)
    _, exact = ann.build(rows, ann.VectorIndexSpec()).search(queries, 10)
    spec = ann.choose(4000, ivf_from=0)
    index = ann.build(rows, spec)

    def recall() -> float:
        _, approx = index.search(queries, 10)
        return float(np.mean([len(set(a) & set(e)) / 10
                              for a, e in zip(approx, exact, strict=True)]))

    assert recall() >= 0.9
    ann.configure(index, ann.VectorIndexSpec("ivf", nlist=spec.nlist, nprobe=spec.nlist))
    assert recall() == 1.0  # every list searched: exact


def test_same_vectors_give_the_same_ivf_index() -> None:
    rows = _unit_rows(3000)
    spec = ann.VectorIndexSpec("ivf", nlist=32, nprobe=4)
    q = _unit_rows(10, seed=2)
    assert np.array_equal(ann.build(rows, spec).search(q, 5)[1],
                          ann.build(rows, spec).search(q, 5)[1])


def test_fp16_codes_keep_half_floats_exactly_in_half_the_space(tmp_path: Path) -> None:
    rows = _unit_rows(4000).astype(np.float16).astype(np.float32)
    queries = _unit_rows(50, seed=1)
    spec = ann.choose(4000, ivf_from=0)
    every = dataclasses.replace(spec, nprobe=spec.nlist)  # every list: exact either way
    full, half = ann.build(rows, every), ann.build(rows, dataclasses.replace(every, codes="fp16"))
    (s_full, i_full), (s_half, i_half) = full.search(queries, 10), half.search(queries, 10)
    # The same neighbours with the same scores (two near-ties may swap: sums run in
    # another order).
    assert [set(r) for r in i_half] == [set(r) for r in i_full]
    np.testing.assert_allclose(s_half, s_full, atol=1e-6)
    faiss.write_index(full, str(tmp_path / "full"))
    faiss.write_index(half, str(tmp_path / "half"))
    assert (tmp_path / "half").stat().st_size < 0.6 * (tmp_path / "full").stat().st_size
    assert ann.VectorIndexSpec.from_dict(half_spec := dataclasses.replace(
        every, codes="fp16").to_dict()).codes == "fp16" and half_spec["codes"] == "fp16"
    with pytest.raises(ValueError, match="codes"):
        ann.build(rows, dataclasses.replace(every, codes="pq"))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vector index kind"):
        ann.build(_unit_rows(3), ann.VectorIndexSpec("pq"))


def test_an_index_over_the_threshold_is_ivf_and_answers(
        tmp_path: Path, tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "IVF_FROM", 1)
    docs = list(load_corpus(tiny_corpus).documents)
    path = tmp_path / "idx"
    build_index(path, docs, HashingEmbedder(), "hash", SETTINGS, progress=False)
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["vector_index"]["kind"] == "ivf"
    index = load_index(path)
    # nprobe is set again on load (from the manifest), not left at FAISS's default of 1.
    inner: Any = faiss.downcast_index(index.vectors.index)  # type: ignore[attr-defined]
    assert inner.nprobe == manifest["vector_index"]["nprobe"]
    hits = DenseRetriever(index, HashingEmbedder()).search("honey bees collect nectar", 3)
    assert hits and hits[0].passage.doc_id == "bees"
    # A rebuild reuses the stored vectors (read back from the IVF lists).
    report = build_index(path, docs, HashingEmbedder(), "hash", SETTINGS, progress=False)
    assert report.embedded == 0
