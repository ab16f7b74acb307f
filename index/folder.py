"""The index folder on disk: its file names, its errors, writing it atomically, and reading
its files back checked against the manifest.

A build writes a sibling temp folder and swaps it in with two renames, so a build that dies
half-way leaves the previous index as it was; the manifest records each data file's size and
sha256, so a file cut short or corrupted is named on load rather than misread. What to put in
the files (chunking, embedding, reuse) is `index.store`'s concern."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from index.cpus import usable_cpus
from index.lock import build_lock, is_locked

if TYPE_CHECKING:
    from corpus.document import Document
    from index.passage import Passage

MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
PASSAGES = "passages.jsonl"
DOCUMENTS = "documents.jsonl"
UNITS = "units.npy"
# The data files, in the order they are written; the manifest goes last.
DATA_FILES = (VECTORS, UNITS, PASSAGES, DOCUMENTS)
# Optional files written by a part of the index (`index.lexical`'s `bm25.*`), named in the
# manifest under this key. An index written before they existed simply lacks them.
EXTRA_KEY = "extra_files"
LEXICAL_PREFIX = "bm25."
# The start row of each passage's quotable units in `UNITS`, an optional file (see EXTRA_KEY).
UNIT_ROWS = "unit_rows.npy"
# The sentence channel's own ANN index over `units.npy`, only for an index with more units
# than `index.ann.IVF_FROM` (a flat one is made from `units.npy` when the index is opened).
UNIT_INDEX = "units.faiss"
# The manifest key of the corpus folder's stat digest (`corpus.fingerprint`).
CORPUS_STAT = "corpus_stat"


class IndexError_(Exception):
    """An index folder that is missing, unreadable, or does not fit the current settings."""


class IndexDamaged(IndexError_):
    """An index folder with a file missing, cut short or corrupt; `rag build --force` fixes it."""

    def __init__(self, path: Path, file: str, detail: str) -> None:
        self.path, self.file = path, file
        super().__init__(f"index at {path} is damaged ({file}: {one_line(detail)}); "
                         "run `rag build --force` to rebuild it")


class IndexWriteError(IndexError_, OSError):
    """A build that could not write its folder (a full disk, say). The previous index is
    untouched. An OSError too, so callers that catch disk errors still catch it."""


def one_line(text: object) -> str:
    """A message squeezed to one line: faiss errors span several and name C++ frames."""
    return " ".join(str(text).split())[:300]



def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")



def write_atomically(path: Path, manifest: dict[str, Any], documents: Sequence[Document],
                      passages: Sequence[Passage], vectors: faiss.Index,
                      units: np.ndarray,
                      extra: Callable[[Path], Sequence[str]] | None = None) -> None:
    """Write into a sibling temp folder, then swap it in with renames. The caller holds the
    build lock, so the pid-named folders are this build's own. `extra` writes more files
    into the folder it is given and returns their names; they are checksummed like the rest."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        faiss.write_index(vectors, str(tmp / VECTORS))
        np.save(tmp / UNITS, units, allow_pickle=False)
        write_jsonl(tmp / PASSAGES, (p.to_dict() for p in passages))
        write_jsonl(tmp / DOCUMENTS, (d.to_dict() for d in documents))
        extras = list(extra(tmp)) if extra is not None else []
        manifest = {**manifest, EXTRA_KEY: extras,
                    "files": {name: _file_record((tmp / name).read_bytes())
                              for name in (*DATA_FILES, *extras)}}
        # The manifest goes last: a folder without one is never mistaken for an index.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                    encoding="utf-8")
        # On disk before the swap: after a power cut, the renamed folder must not turn out
        # to hold empty files.
        for name in (*DATA_FILES, *extras, MANIFEST):
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
    err = IndexWriteError(f"could not write the index at {path} ({why(e)}); "
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


def why(e: BaseException) -> str:
    """The useful part of an exception, on one line."""
    text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    return one_line(text) or e.__class__.__name__


def _leftovers(path: Path, kind: str) -> list[Path]:
    """Folders a build of `path` leaves beside it: `tmp` (being written), `old` (swapped out)."""
    prefix = f".{path.name}.{kind}-"
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(prefix))


def restore_previous(path: Path) -> None:
    """A build killed between its two renames leaves the previous index as `.old-*`: put it
    back. The caller holds the build lock, so this is never a live build's swap."""
    if not path.exists() and (olds := _leftovers(path, "old")):
        olds[-1].rename(path)


def sweep_leftovers(path: Path) -> None:
    """Delete what killed builds left (their temp folders, a swapped-out index), and refuse
    to swap away a folder that is not an index. The caller holds the build lock."""
    for junk in _leftovers(path, "tmp"):
        shutil.rmtree(junk, ignore_errors=True)
    if path.exists():
        for junk in _leftovers(path, "old"):
            shutil.rmtree(junk, ignore_errors=True)
        # A build replaces the whole folder: never one that holds anything but an index.
        names = {p.name for p in path.iterdir()} if path.is_dir() else {""}
        if not (MANIFEST in names or names <= {*DATA_FILES, MANIFEST}
                or all(n in DATA_FILES or n.startswith(LEXICAL_PREFIX) for n in names)):
            raise IndexError_(f"{path} is not an index folder; choose another --index")


def recover(path: Path) -> None:
    if not path.exists() and _leftovers(path, "old"):
        # Under the lock, so that a live build's swap is waited for rather than undone.
        with build_lock(path):
            restore_previous(path)


def read_manifest(path: Path) -> dict[str, Any]:
    if not (path / MANIFEST).exists():
        if any((path / name).exists() for name in DATA_FILES):
            raise IndexDamaged(path, MANIFEST, "missing")
        raise IndexError_(f"no index at {path}")
    try:
        manifest = json.loads((path / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are both
        raise IndexDamaged(path, MANIFEST, why(e)) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise IndexDamaged(path, MANIFEST, "not an index manifest")
    return manifest


# Files whose sha256 this process has checked, by what `os.stat` said of them then. A start
# checks the index (`check_intact`) and then loads it: without this, every byte of a large
# index is hashed twice before the first question. Files are only ever replaced by a rename
# (a new inode), never rewritten in place, so an unchanged stat means unchanged bytes.
_VERIFIED: dict[tuple[str, int, int, int], str] = {}


def _stat_key(file: Path) -> tuple[str, int, int, int]:
    st = file.stat()
    return str(file.resolve()), st.st_ino, st.st_size, st.st_mtime_ns


def _record(path: Path, name: str, manifest: dict[str, Any]) -> dict[str, Any] | None:
    record = manifest.get("files", {}).get(name)
    if record is not None and not isinstance(record, dict):
        raise IndexDamaged(path, MANIFEST, f"bad record for {name}")
    return record


def has_checksum(path: Path, name: str, manifest: dict[str, Any]) -> bool:
    """Whether the manifest records a sha256 for file `name` (indexes written before they
    were recorded have none)."""
    return bool((_record(path, name, manifest) or {}).get("sha256"))


def _sha256_file(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        while block := f.read(1 << 23):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, name: str, manifest: dict[str, Any], key: tuple[str, int, int, int],
           size: int, sha256: Callable[[], str]) -> None:
    """Raise `IndexDamaged` unless a file of `size` bytes matches the manifest's record of
    it (hashing it with `sha256` unless this process already did at this stat)."""
    record = _record(path, name, manifest)
    if record is None:
        return
    if size != record.get("bytes"):
        raise IndexDamaged(path, name, f"{size} bytes, the manifest says {record.get('bytes')}")
    expected = record.get("sha256")
    if _VERIFIED.get(key) != expected or key[2] != size:
        try:
            actual = sha256()
        except OSError as e:
            raise IndexDamaged(path, name, why(e)) from None
        if actual != expected:
            raise IndexDamaged(path, name, "contents differ from the manifest's checksum")
        _VERIFIED[key] = str(expected)


def verified_file(path: Path, name: str, manifest: dict[str, Any]) -> Path:
    """A data file's path, once its size and sha256 match the manifest, for a reader that
    opens the file itself (FAISS, numpy). The file is hashed in blocks rather than held in
    memory: at 100k passages the sentences' IVF index alone is 1.2 GB, and reading it into
    bytes, copying those into FAISS and parsing them took 7 of a 16 s start."""
    file = path / name
    try:
        key = _stat_key(file)
    except FileNotFoundError:
        raise IndexDamaged(path, name, "missing") from None
    except OSError as e:
        raise IndexDamaged(path, name, why(e)) from None
    _check(path, name, manifest, key, key[2], lambda: _sha256_file(file))
    return file


def file_bytes(path: Path, name: str, manifest: dict[str, Any]) -> bytes:
    """A data file's bytes, checked against the size and sha256 in the manifest (indexes
    written before those were recorded are only parsed)."""
    try:
        key = _stat_key(path / name)
        data = (path / name).read_bytes()
    except FileNotFoundError:
        raise IndexDamaged(path, name, "missing") from None
    except OSError as e:
        raise IndexDamaged(path, name, why(e)) from None
    _check(path, name, manifest, key, len(data), lambda: hashlib.sha256(data).hexdigest())
    return data


def record_corpus_stat(path: Path, corpus_stat: str) -> bool:
    """Note in the manifest that the index is current for a corpus folder with this stat
    digest (after a full check found its texts unchanged: files touched, or copied), so that
    the next start need not read the folder again. Only the manifest is rewritten, under the
    build lock and by a rename; best effort: a read-only index simply stays on the slow path."""
    if is_locked(path):  # a build is running: it will write its own; never wait for it
        return False
    try:
        with build_lock(path):
            manifest = read_manifest(path)
            if manifest.get(CORPUS_STAT) == corpus_stat:
                return True
            tmp = path / f".{MANIFEST}.tmp-{os.getpid()}"
            tmp.write_text(json.dumps({**manifest, CORPUS_STAT: corpus_stat}, indent=2,
                                      ensure_ascii=False), encoding="utf-8")
            _fsync(tmp)
            tmp.replace(path / MANIFEST)
            return True
    except (OSError, IndexError_):
        return False


def check_intact(path: Path) -> None:
    """Raise `IndexDamaged` if the index at `path` has a file missing, cut short or corrupt
    (a missing index is not damaged: it is simply built). Cheaper than `load_index`: the
    files are checked against the manifest, not parsed."""
    recover(path)
    if not (path / MANIFEST).exists() and not any((path / n).exists() for n in DATA_FILES):
        return
    manifest = read_manifest(path)
    names = [*DATA_FILES, *extra_files(path, manifest)]
    # Hashed side by side: hashlib lets go of the GIL while it hashes, and at 100k passages
    # the files are 2 GB (1.4 s one after another on 2 cores). list() raises the first
    # damaged file in the order named, as a loop would.
    with ThreadPoolExecutor(max(1, min(len(names), usable_cpus()))) as pool:
        list(pool.map(lambda name: verified_file(path, name, manifest), names))


def extra_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """The optional files the manifest names (see `EXTRA_KEY`); a bad list is damage."""
    names = manifest.get(EXTRA_KEY, [])
    if not isinstance(names, list) or not all(
            isinstance(n, str) and n and "/" not in n and "\\" not in n and not n.startswith(".")
            for n in names):
        raise IndexDamaged(path, MANIFEST, f"bad {EXTRA_KEY} list")
    return names
