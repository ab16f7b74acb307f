"""Which FAISS index holds the passage vectors: exact (flat) for a library of up to
`IVF_FROM` passages, an inverted file (IVF) above that.

The choice and its parameters are made from the passage count when the index is built and
recorded in the manifest (`vector_index`). They come from `python -m evals.ann_bench`
(evals/BENCHMARKS.md, "ANN"), on this project's 2-core machine, one query at a time, with
real SciFact vectors plus noisy copies of them (many near-duplicates, as paraphrased
passages are):
- a flat scan of 384-d vectors costs about 0.13 ms per thousand passages: 13 ms at 100k,
  exact and within a question's budget; 119 ms at 1M, which is not;
- IVF with `nlist` ≈ 4·√n lists and `nprobe` = 64 found 0.984 (100k) and 1.000 (1M) of the
  exact top 10, in 0.9 and 2.7 ms (0.993 on the 5,183 real SciFact abstracts);
- HNSW (M 32, efSearch up to 256) found only 0.977 (100k) and 0.689 (1M) of the exact top
  10 on the same vectors; it stays available as a kind for the benchmark, but is never chosen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np

# Passage count from which the vectors go into an IVF index rather than a flat one.
IVF_FROM = 100_000
# Lists searched per question: 0.99 of the exact top 10 at 100k and at 1M passages.
IVF_NPROBE = 64
# k-means is trained on this many vectors per list (FAISS wants at least 39).
TRAIN_PER_LIST = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class VectorIndexSpec:
    """What kind of FAISS index to build, with its parameters (recorded in the manifest)."""

    kind: str = "flat"
    nlist: int | None = None
    nprobe: int | None = None
    m: int | None = None
    ef_construction: int | None = None
    ef_search: int | None = None
    # How IVF stores each vector: None for float32, "fp16" for half floats (the sentence
    # vectors, which the index keeps as float16 anyway: half the file, nothing lost).
    codes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `vector_index` entry."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: object) -> VectorIndexSpec:
        """Inverse of `to_dict`; an index written before this entry existed is flat."""
        if not isinstance(d, dict):
            return cls()
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def nlist_for(passages: int) -> int:
    """About 4·√n lists (FAISS's guidance is 4–16·√n), as a power of two, and never more
    than k-means can train with 39 vectors per list (FAISS's minimum)."""
    n = max(1, passages)
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    return max(1, min(nlist, 2 ** int(math.log2(max(1, n // 39)))))


def choose(passages: int, ivf_from: int | None = None) -> VectorIndexSpec:
    """Flat below `ivf_from` (default `IVF_FROM`) passages, IVF from there on."""
    if passages < (IVF_FROM if ivf_from is None else ivf_from):
        return VectorIndexSpec()
    nlist = nlist_for(passages)
    return VectorIndexSpec("ivf", nlist=nlist, nprobe=min(IVF_NPROBE, nlist))


def hnsw() -> VectorIndexSpec:
    """The HNSW spec `evals.ann_bench` compares with."""
    return VectorIndexSpec("hnsw", m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION,
                           ef_search=HNSW_EF_SEARCH)


def build(matrix: np.ndarray, spec: VectorIndexSpec, seed: int = 0) -> faiss.Index:
    """An inner-product index over the rows of `matrix`, whose FAISS ids are the row numbers,
    so that a hit maps straight to its passage whatever the index type. IVF's k-means is
    trained on a seeded sample, so the same vectors give the same index."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    dim = int(matrix.shape[1])
    inner: Any
    if spec.kind == "flat":
        inner = faiss.IndexFlatIP(dim)
    elif spec.kind == "ivf":
        nlist = int(spec.nlist or nlist_for(len(matrix)))
        if spec.codes == "fp16":
            inner = faiss.IndexIVFScalarQuantizer(
                faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_fp16,
                faiss.METRIC_INNER_PRODUCT)
            # The vectors themselves, not their residuals from the list's centroid: those
            # are no longer half floats, and fp16 would round them.
            inner.by_residual = False
        elif spec.codes is None:
            inner = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist,
                                       faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown IVF codes {spec.codes!r}")
        rng = np.random.default_rng(seed)
        sample = min(len(matrix), TRAIN_PER_LIST * nlist)
        inner.train(matrix[np.sort(rng.choice(len(matrix), sample, replace=False))])
    elif spec.kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, int(spec.m or HNSW_M), faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = int(spec.ef_construction or HNSW_EF_CONSTRUCTION)
    else:
        raise ValueError(f"unknown vector index kind {spec.kind!r}")
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(matrix, np.arange(len(matrix), dtype=np.int64))
    configure(index, spec)
    return index


def configure(index: faiss.Index, spec: VectorIndexSpec) -> None:
    """Set the search-time parameters (not all of them are saved with a FAISS index)."""
    inner: Any = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    if spec.kind == "ivf" and spec.nprobe:
        inner.nprobe = int(spec.nprobe)
    elif spec.kind == "hnsw" and spec.ef_search:
        inner.hnsw.efSearch = int(spec.ef_search)


def all_vectors(index: faiss.Index) -> np.ndarray:
    """Every stored vector in row order (every kind here keeps the exact vectors)."""
    inner: Any = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
    if isinstance(inner, faiss.IndexHNSW):
        inner = faiss.downcast_index(inner.storage)
    elif isinstance(inner, faiss.IndexIVF):
        inner.make_direct_map()
    return inner.reconstruct_n(0, inner.ntotal)
