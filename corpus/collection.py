"""Load a folder of readings, skipping (and reporting) the files that cannot be read."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from corpus.document import Document
from corpus.loaders import SUFFIXES, LoadError, load_file, slugify
from corpus.textcodec import EncodingNote

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / "readings"


class CorpusError(Exception):
    """The corpus as a whole is unusable (missing folder, no documents)."""


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Something to know about a file that was indexed: the encoding it was read in, when
    that was not UTF-8 (a guess, which the instructor can check)."""

    path: str
    message: str


@dataclass(frozen=True)
class Corpus:
    """The documents of a folder, plus what was skipped and what to know about the rest."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]
    notes: tuple[Note, ...] = ()

    def messages(self) -> list[str]:
        """One line per skipped file and per note, as `rag build` prints them."""
        return ([f"skipped {s.path}: {s.reason}" for s in self.skipped]
                + [f"note: {n.path} {n.message}" for n in self.notes])

    @property
    def hash(self) -> str:
        """One hash over all documents: any change to any text or metadata changes it."""
        return corpus_hash(self.documents)


def corpus_hash(documents: Sequence[Document]) -> str:
    """Order-independent hash of a set of documents."""
    h = hashlib.sha256()
    for doc_hash in sorted(d.content_hash for d in documents):
        h.update(doc_hash.encode())
    return h.hexdigest()


def reading_names(root: Path) -> list[tuple[str, str]]:
    """(path, path relative to `root` with "/" separators) of every file under `root` that
    may be a reading, in name order: hidden files and folders (.git, editor swap files) are
    not. Plain strings: a start lists the folder every time, and `pathlib` cost a tenth of
    a second per 5,000 files where this costs a hundredth."""
    found: list[tuple[tuple[str, ...], str]] = []
    # os.walk, not rglob: hidden folders are pruned, never walked (a .git or .venv inside a
    # course folder holds thousands of files); symlinked folders are not followed, as rglob
    # does not follow them either.
    top = os.fspath(root)
    for folder, subfolders, names in os.walk(top):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        rel = os.path.relpath(folder, top)
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        found.extend(((*parts, n), os.path.join(folder, n)) for n in names
                     if not n.startswith("."))
    # Sorted by path components, the order of sorting the paths themselves.
    found.sort(key=lambda f: f[0])
    return [(path, "/".join(parts)) for parts, path in found if os.path.isfile(path)]


def reading_files(root: Path) -> list[Path]:
    """Every file under `root` that may be a reading, in name order (`reading_names`)."""
    return [Path(path) for path, _ in reading_names(root)]


def _path_id(rel: str, doc: Document, seen: Mapping[str, str]) -> str | None:
    """Another id for a document whose id is taken, or None when its id was chosen (in its
    front matter or its WordPress slug) rather than made from its file name. A course
    folder by week often holds the same file name in each week ("week1/notes.md",
    "week2/notes.md"): the first keeps the name's id, the rest are named by their path
    ("week2-notes"), so that adding a week changes no earlier id."""
    path = PurePosixPath(rel.replace(os.sep, "/"))
    if doc.id != slugify(path.stem):
        return None
    # Within the 200 characters the API accepts for an id (`corpus.loaders._DOC_ID`).
    base = slugify(str(path.with_suffix("")))[:190].rstrip("-")
    candidate, n = base, 1
    while candidate in seen:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def load_corpus(directory: Path | str) -> Corpus:
    """Read every supported file under `directory` (recursively, in name order)."""
    root = Path(directory)
    if not root.exists():
        raise CorpusError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise CorpusError(f"corpus path is not a folder: {root}")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    notes: list[Note] = []
    seen: dict[str, str] = {}
    for path in reading_files(root):
        rel = str(path.relative_to(root))
        if path.suffix.lower() not in SUFFIXES:
            if path.name.lower() not in ("readme", "license"):
                skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", EncodingNote)
                loaded = load_file(path)
        except LoadError as e:
            # The loader's message starts with the file name; the skipped line names the file
            # already (by its path in the corpus), so say it once.
            skipped.append(Skipped(rel, str(e).removeprefix(f"{path.name}: ")))
            continue
        for w in caught:
            if issubclass(w.category, EncodingNote):
                notes.append(Note(rel, str(w.message)))
            else:  # recorded only because catch_warnings records all: pass it on
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        for doc in loaded:
            if doc.id in seen:
                other = _path_id(rel, doc, seen)
                if other is None:
                    skipped.append(Skipped(rel, f"duplicate document id {doc.id!r} (also in "
                                                f"{seen[doc.id]})"))
                    continue
                notes.append(Note(rel, f"is cited as {other!r}: {seen[doc.id]} has the id "
                                       f"{doc.id!r}"))
                doc = replace(doc, id=other)
            seen[doc.id] = rel
            docs.append(doc)
    if not docs:
        detail = f" ({len(skipped)} file(s) skipped)" if skipped else ""
        raise CorpusError(f"no readable documents in {root}{detail}")
    return Corpus(tuple(docs), tuple(skipped), tuple(notes))
