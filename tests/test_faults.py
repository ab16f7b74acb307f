"""Faults: builds killed or starved of disk, two builds at once, damaged index files, and
many writers of one feedback log. Where the issue asks for real processes, they are real."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.collection import load_corpus
from corpus.document import Document
from index.embedder import HashingEmbedder, make_embedder
from index.lock import build_lock, is_locked, lock_path
from index.store import (
    DATA_FILES,
    DOCUMENTS,
    MANIFEST,
    PASSAGES,
    UNITS,
    VECTORS,
    IndexDamaged,
    IndexError_,
    IndexWriteError,
    build_index,
    check_intact,
    load_index,
)
from ui.cli import main
from ui.feedback import FeedbackLog

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"max_chars": 300, "context_headers": True}
ALL_FILES = (*DATA_FILES, MANIFEST)
RAG = [sys.executable, "-m", "ui.cli"]


# --- helpers -------------------------------------------------------------------------------

def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _siblings(path: Path) -> list[str]:
    """What lies beside an index folder: the folder and its lock file, nothing else."""
    return sorted(p.name for p in path.parent.iterdir())


def _many_docs(n: int, tag: str = "") -> list[Document]:
    return [Document(id=f"d{tag}{i}", title=f"Doc {tag}{i}",
                     text="\n\n".join(f"Paragraph {j} of document {tag}{i} about topic {i * j}."
                                      for j in range(6)))
            for i in range(n)]


def _build_hash_index(path: Path, docs: list[Document]) -> None:
    build_index(path, docs, make_embedder("hash"), "hash", SETTINGS, progress=False)


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("rag: error:")]


def _damage(file: Path, kind: str) -> None:
    data = file.read_bytes()
    if kind == "truncated":
        file.write_bytes(data[:len(data) // 2])
    elif kind == "corrupted":  # same size, garbage in the middle
        mid = len(data) // 2
        file.write_bytes(data[:mid] + b"\xff" * 16 + data[mid + 16:])
    elif kind == "empty":
        file.write_bytes(b"")
    else:
        file.unlink()


class _Reader(threading.Thread):
    """Collects a subprocess's stderr line by line (tqdm's \\r updates count as lines)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.proc, self.text, self.seen = proc, "", threading.Condition()

    def run(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):  # type: ignore[union-attr]
            with self.seen:
                self.text += chunk.decode("utf-8", "replace")
                self.seen.notify_all()

    def wait_for(self, needle: str, timeout: float) -> None:
        with self.seen:
            ok = self.seen.wait_for(lambda: needle in self.text or self.proc.poll() is not None,
                                    timeout)
        assert ok and needle in self.text, f"never saw {needle!r}; stderr so far:\n{self.text}"


def _start(argv: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], _Reader]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*RAG, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=cwd, env=env)
    reader = _Reader(proc)
    reader.start()
    return proc, reader


def _write_corpus(folder: Path, docs: int, sentences: int, seed: int = 0) -> Path:
    """Distinct made-up prose, so that every passage and sentence needs its own vector."""
    rng = random.Random(seed)
    words = ("council soviet power workers army grain bread land peace committee assembly "
             "railway strike factory delegate vote city village press decree order").split()
    folder.mkdir()
    for d in range(docs):
        text = " ".join(" ".join(rng.choice(words) for _ in range(rng.randint(6, 14))
                                 ).capitalize() + "." for _ in range(sentences))
        (folder / f"doc{d}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def docs(tiny_corpus: Path) -> list[Document]:
    return list(load_corpus(tiny_corpus).documents)


@pytest.fixture
def idx(tmp_path: Path, docs: list[Document]) -> Path:
    """A small index built with the hashing embedder."""
    path = tmp_path / "idx"
    _build_hash_index(path, docs)
    return path


# --- 1. kill -9 during a build -------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_while_embedding_leaves_previous_index_answering(
        tmp_path: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "indexes" / "idx"
    assert main(["build", "--corpus", str(tiny_corpus), "--index", str(path)]) == 0
    before = _snapshot(path)
    big = _write_corpus(tmp_path / "big", docs=40, sentences=30)

    proc, reader = _start(["build", "--force", "--corpus", str(big), "--index", str(path)],
                          tmp_path)
    try:
        reader.wait_for("Embedding passages", timeout=300)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished

    assert _snapshot(path) == before
    assert _siblings(path) == [".idx.lock", "idx"]  # embedding leaves no temp folder
    assert not is_locked(path)  # the kernel dropped the dead build's lock
    assert set(load_index(path).documents) == {"bees", "trains", "volcano"}

    capsys.readouterr()
    code = main(["ask", "When did Mount Vesuvius erupt and bury Pompeii?", "--json",
                 "--corpus", str(tiny_corpus), "--index", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Rebuilding" not in err and "Building" not in err  # the old index was current
    answer = json.loads(out)
    assert "volcano" in {p["doc_id"] for p in answer["passages"]}

    # And the next build runs normally, reusing every vector of the surviving index.
    assert main(["build", "--force", "--corpus", str(tiny_corpus), "--index", str(path)]) == 0
    assert "embedded 0, reused" in capsys.readouterr().err
    assert _siblings(path) == [".idx.lock", "idx"]


@pytest.mark.slow
def test_a_waiting_build_runs_once_the_first_is_killed(tmp_path: Path,
                                                       tiny_corpus: Path) -> None:
    path = tmp_path / "indexes" / "idx"
    _build_hash_index(path, list(load_corpus(tiny_corpus).documents))
    before = _snapshot(path)
    big = _write_corpus(tmp_path / "big", docs=40, sentences=30)

    first, first_err = _start(["build", "--force", "--corpus", str(big), "--index", str(path)],
                              tmp_path)
    second = None
    try:
        first_err.wait_for("Embedding passages", timeout=300)
        second, second_err = _start(["build", "--force", "--model", "hash", "--corpus",
                                     str(tiny_corpus), "--index", str(path)], tmp_path)
        second_err.wait_for("Waiting for another build", timeout=120)
        assert first.poll() is None and second.poll() is None
        assert _snapshot(path) == before  # neither has written anything yet
        first.send_signal(signal.SIGKILL)
        assert second.wait(timeout=120) == 0, second_err.text
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait(timeout=60)
    second_err.join(timeout=10)
    assert "Indexed 3 documents" in second_err.text
    assert load_index(path).manifest["model"] == "hash"
    assert _siblings(path) == [".idx.lock", "idx"]


def test_junk_from_killed_builds_is_swept_by_the_next_build(idx: Path,
                                                            docs: list[Document]) -> None:
    for junk in (".idx.tmp-99999", ".idx.old-99998"):  # as kill -9 mid-write leaves them
        (idx.parent / junk).mkdir()
        (idx.parent / junk / VECTORS).write_bytes(b"half a file")
    _build_hash_index(idx, [*docs, Document(id="new", text="Brand new text.", title="New")])
    assert "new" in load_index(idx).documents
    assert _siblings(idx) == [".idx.lock", "idx"]


def test_killed_between_the_two_renames_is_recovered_before_checking(
        idx: Path, docs: list[Document]) -> None:
    before = _snapshot(idx)
    idx.rename(idx.parent / ".idx.old-4242")  # the old index swapped out, the new one not in
    check_intact(idx)  # what `rag ask` runs first: puts the previous index back
    assert _snapshot(idx) == before


def test_a_folder_that_is_not_an_index_is_never_replaced(tmp_path: Path,
                                                         docs: list[Document]) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "essay.txt").write_text("My essay.", encoding="utf-8")
    with pytest.raises(IndexError_, match="not an index folder"):
        _build_hash_index(notes, docs)
    assert (notes / "essay.txt").read_text(encoding="utf-8") == "My essay."


# --- 2. two builds at once -----------------------------------------------------------------

def test_second_build_process_waits_for_the_lock(idx: Path, tiny_corpus: Path) -> None:
    before = _snapshot(idx)
    with build_lock(idx):
        proc, err = _start(["build", "--force", "--model", "hash", "--corpus",
                            str(tiny_corpus), "--index", str(idx)], idx.parent)
        try:
            err.wait_for("Waiting for another build", timeout=120)
            assert proc.poll() is None  # waiting, not refused and not building
            assert _snapshot(idx) == before
        except BaseException:
            proc.kill()
            raise
    assert proc.wait(timeout=120) == 0, err.text
    err.join(timeout=10)
    assert err.text.count("Waiting for another build") == 1
    assert "Indexed 3 documents" in err.text and "embedded 0, reused" in err.text
    assert "Traceback" not in err.text


def test_builds_in_two_threads_never_interleave(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import index.folder as folder

    path = tmp_path / "idx"
    events: list[tuple[str, str]] = []  # (thread, step), appended as each step happens
    first_embedding, second_waiting = threading.Event(), threading.Event()

    class Recording(HashingEmbedder):
        def embed(self, texts: list[str]) -> np.ndarray:
            me = threading.current_thread().name
            events.append((me, "embed"))
            if me == "first":
                first_embedding.set()
                # Hold the lock until the second build is known to be waiting for it.
                assert second_waiting.wait(timeout=60)
            return super().embed(texts)

    real_write = folder.write_atomically

    def write(*args: Any, **kwargs: Any) -> None:
        events.append((threading.current_thread().name, "write"))
        real_write(*args, **kwargs)
        events.append((threading.current_thread().name, "written"))

    monkeypatch.setattr(folder, "write_atomically", write)
    waits: list[str] = []

    def on_wait(msg: str) -> None:
        waits.append(msg)
        second_waiting.set()

    def run(docs: list[Document]) -> None:
        build_index(path, docs, Recording(), "hash", SETTINGS, progress=False, on_wait=on_wait)

    first = threading.Thread(target=run, args=(_many_docs(3, "a"),), name="first")
    second = threading.Thread(target=run, args=(_many_docs(4, "b"),), name="second")
    first.start()
    assert first_embedding.wait(timeout=60)
    second.start()
    first.join(timeout=120)
    second.join(timeout=120)
    assert not first.is_alive() and not second.is_alive()
    assert len(waits) == 1 and "Waiting for another build" in waits[0]
    names = [name for name, _ in events]
    cut = names.index("second")
    # All of the first build, up to its folder swapped in, then all of the second.
    assert set(names[:cut]) == {"first"} and set(names[cut:]) == {"second"}
    assert events[cut - 1] == ("first", "written") and events[-1] == ("second", "written")
    assert sorted(load_index(path).documents) == ["db0", "db1", "db2", "db3"]


def test_lock_file_sits_beside_the_index(tmp_path: Path) -> None:
    path = tmp_path / "indexes" / "default"
    assert lock_path(path) == tmp_path / "indexes" / ".default.lock"
    assert not is_locked(path)
    with build_lock(path):
        assert is_locked(path)
    assert not is_locked(path)


# --- 3. damaged index files ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["truncated", "corrupted", "empty", "deleted"])
@pytest.mark.parametrize("name", ALL_FILES)
def test_damaged_file_is_named_by_load_index(idx: Path, name: str, kind: str) -> None:
    _damage(idx / name, kind)
    with pytest.raises(IndexDamaged) as info:
        load_index(idx)
    message = str(info.value)
    assert "\n" not in message
    assert f"({name}: " in message and "run `rag build --force`" in message
    assert info.value.file == name
    with pytest.raises(IndexDamaged):
        check_intact(idx)


@pytest.mark.parametrize("kind", ["truncated", "corrupted"])
@pytest.mark.parametrize("name", ALL_FILES)
def test_damaged_index_stops_rag_ask_and_build_in_one_line(
        idx: Path, tiny_corpus: Path, name: str, kind: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    _damage(idx / name, kind)
    common = ["--corpus", str(tiny_corpus), "--index", str(idx), "--model", "hash"]
    for argv in (["ask", "Why do bees dance?", *common], ["build", *common]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        errors = _error_lines(err)
        assert len(errors) == 1 and name in errors[0], err
        assert "rag build --force" in errors[0]
        assert "Rebuilding" not in err and "Indexed" not in err  # never rebuilt unasked
    # The fix the message names works.
    assert main(["build", "--force", *common]) == 0
    assert set(load_index(idx).documents) == {"bees", "trains", "volcano"}
    assert main(["ask", "Why do bees dance?", *common]) == 0


def test_damaged_index_stops_rag_serve_in_one_line(idx: Path, tiny_corpus: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from browser_helpers import free_port

    _damage(idx / VECTORS, "truncated")
    code = main(["serve", "--port", str(free_port()), "--corpus", str(tiny_corpus),
                 "--index", str(idx), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 2
    errors = _error_lines(err)
    assert len(errors) == 1 and VECTORS in errors[0] and "rag build --force" in errors[0]


def test_damaged_index_in_a_real_process_has_no_traceback(idx: Path,
                                                          tiny_corpus: Path) -> None:
    _damage(idx / UNITS, "corrupted")
    proc = subprocess.run([*RAG, "ask", "Why do bees dance?", "--corpus", str(tiny_corpus),
                           "--index", str(idx), "--model", "hash"],
                          capture_output=True, text=True, timeout=120, cwd=idx.parent,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("rag: error: index at") and "(units.npy: " in lines[0]


def test_index_without_checksums_is_still_checked_by_parsing(idx: Path) -> None:
    # Indexes written before the manifest recorded sizes and checksums.
    manifest = json.loads((idx / MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"]
    (idx / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert load_index(idx).manifest["passage_count"] == manifest["passage_count"]
    lines = (idx / PASSAGES).read_text(encoding="utf-8").splitlines(keepends=True)
    (idx / PASSAGES).write_text("".join(lines[:-1]), encoding="utf-8")  # a whole line lost
    with pytest.raises(IndexDamaged, match=r"passages\.jsonl: .*passages, the manifest says"):
        load_index(idx)


TINY = Path(__file__).parent / "data" / "tiny"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index for the property tests, copied before each example damages it."""
    path = tmp_path_factory.mktemp("pristine") / "idx"
    _build_hash_index(path, list(load_corpus(TINY).documents))
    return path


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory, pristine: Path) -> Path:
    """The same index as written before the manifest had sizes and checksums."""
    path = tmp_path_factory.mktemp("legacy") / "idx"
    shutil.copytree(pristine, path)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"]
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


@contextlib.contextmanager
def _copy(index: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(index, Path(d) / "idx")
        yield Path(d) / "idx"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ALL_FILES), cut=st.floats(0, 1, exclude_max=True))
def test_truncating_any_file_anywhere_is_damage(pristine: Path, name: str, cut: float) -> None:
    with _copy(pristine) as path:
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[:int(cut * len(data))])
        with pytest.raises(IndexDamaged, match=rf"\({name}: "):
            load_index(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(DATA_FILES), where=st.floats(0, 1, exclude_max=True),
       xor=st.integers(1, 255))
def test_changing_any_byte_of_a_data_file_is_damage(pristine: Path, name: str, where: float,
                                                     xor: int) -> None:
    with _copy(pristine) as path:
        data = bytearray((path / name).read_bytes())
        data[int(where * len(data))] ^= xor
        (path / name).write_bytes(bytes(data))
        with pytest.raises(IndexDamaged, match=rf"\({name}: .*checksum"):
            load_index(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ALL_FILES), cut=st.floats(0, 1, exclude_max=True),
       xor=st.integers(0, 255), where=st.floats(0, 1, exclude_max=True))
def test_without_checksums_damage_is_caught_or_harmless(legacy: Path, name: str, cut: float,
                                                        xor: int, where: float) -> None:
    with _copy(legacy) as path:
        data = bytearray((path / name).read_bytes())
        if name != VECTORS:
            # Not in a FAISS file: with no checksum to stop it, a flipped size in its header
            # makes faiss allocate that much before it fails. The checksum is the guard.
            data[int(where * len(data))] ^= xor
        (path / name).write_bytes(bytes(data[:max(1, int(cut * len(data)))]))
        try:
            loaded = load_index(path)
        except IndexDamaged as e:  # the only exception a damaged index may raise
            assert "\n" not in str(e) and "rag build --force" in str(e)
        else:
            # What passes unnoticed still holds together: every passage is its document's
            # text at its offsets, and there is a vector for each.
            for p in loaded.passages:
                assert loaded.documents[p.doc_id].text[p.start:p.end] == p.text
            assert loaded.vectors.ntotal == len(loaded.passages)


# --- 4. a full disk during a build ---------------------------------------------------------

def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half(fname: str | Path, data: bytes) -> None:
    Path(fname).write_bytes(data[:len(data) // 2])


def _fill_disk(monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """Make one step of writing the index run out of space half-way through."""
    import index.folder as folder

    if writer == VECTORS:
        real_write_index = faiss.write_index

        def write_index(index: faiss.Index, fname: str) -> None:
            real_write_index(index, fname)
            _half(fname, Path(fname).read_bytes())
            raise RuntimeError("Error in faiss::FileIOWriter: fwrite failed\n"
                               "  (No space left on device)")
        monkeypatch.setattr(faiss, "write_index", write_index)
    elif writer == UNITS:
        def save(file: Path, arr: np.ndarray, allow_pickle: bool = True) -> None:
            _half(file, arr.tobytes())
            raise _enospc()
        monkeypatch.setattr(np, "save", save)
    elif writer in (PASSAGES, DOCUMENTS):
        real = folder.write_jsonl

        def write_jsonl(path: Path, rows: Any) -> None:
            real(path, rows)
            if path.name == writer:
                _half(path, path.read_bytes())
                raise _enospc()
        monkeypatch.setattr(folder, "write_jsonl", write_jsonl)
    elif writer == MANIFEST:
        real_write = Path.write_text

        def write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
            if self.name == MANIFEST and ".tmp-" in self.parent.name:
                _half(self, data.encode())
                raise _enospc()
            return real_write(self, data, *args, **kwargs)
        monkeypatch.setattr(Path, "write_text", write_text)
    elif writer == "fsync":
        def fsync(fd: int) -> None:
            raise _enospc()
        monkeypatch.setattr(folder.os, "fsync", fsync)
    else:  # the swap: the new folder cannot be renamed into place
        real_rename = Path.rename

        def rename(self: Path, target: Any) -> Path:
            if ".tmp-" in self.name:
                raise _enospc()
            return real_rename(self, target)
        monkeypatch.setattr(Path, "rename", rename)


WRITERS = [*ALL_FILES, "fsync", "swap"]


@pytest.mark.parametrize("writer", WRITERS)
def test_full_disk_leaves_previous_index_and_no_temp_folder(
        idx: Path, docs: list[Document], monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    before = _snapshot(idx)
    _fill_disk(monkeypatch, writer)
    with pytest.raises(IndexWriteError) as info:
        _build_hash_index(idx, [*docs, Document(id="new", text="Brand new text.", title="N")])
    monkeypatch.undo()
    message = str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, IndexError_)
    assert "\n" not in message and "the previous index is unchanged" in message
    assert f"could not write the index at {idx}" in message
    if writer != VECTORS:  # faiss says it in words only
        assert info.value.errno == errno.ENOSPC and "free some disk space" in message
    assert "No space left on device" in message
    assert _snapshot(idx) == before
    # No temp folder; the new vectors wait in the checkpoint for the next try.
    assert _siblings(idx) == [".idx.lock", ".idx.partial", "idx"]
    assert not is_locked(idx)
    assert "new" not in load_index(idx).documents


def test_full_disk_in_rag_build_is_one_line(idx: Path, tiny_corpus: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(idx)
    _fill_disk(monkeypatch, UNITS)
    code = main(["build", "--force", "--corpus", str(tiny_corpus), "--index", str(idx),
                 "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 2
    errors = _error_lines(err)
    assert len(errors) == 1, err
    assert "No space left on device" in errors[0] and "free some disk space" in errors[0]
    assert _snapshot(idx) == before


# --- 5. many writers of one feedback log ---------------------------------------------------

def _answer(writer: str, i: int, size: int) -> dict[str, Any]:
    quote = f"{writer}-{i} " + "x" * size
    return {"question": f"{writer}/{i}", "answer": quote, "abstained": False,
            "citations": [{"n": 1, "doc_id": "d", "title": "T", "quote": quote, "start": 0,
                           "end": len(quote)}],
            "settings": {"mode": "hybrid", "k": 5, "model": "hash"}}


def _votes(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def test_threads_append_whole_lines(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "votes.jsonl")
    threads, per_thread = 12, 20

    def vote(t: int) -> None:
        for i in range(per_thread):
            log.record(_answer(f"t{t}", i, 70_000 + 997 * i), "up" if i % 2 else "down")

    workers = [threading.Thread(target=vote, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    votes = _votes(log.path)  # every line parses
    assert len(votes) == threads * per_thread
    assert sorted(v["question"] for v in votes) == sorted(
        f"t{t}/{i}" for t in range(threads) for i in range(per_thread))
    for v in votes:
        assert v["answer"] == v["citations"][0]["quote"]
        assert v["answer"].startswith(v["question"].replace("/", "-"))


def test_processes_append_whole_lines(tmp_path: Path) -> None:
    path, go = tmp_path / "votes.jsonl", tmp_path / "go"
    procs, per_proc = 4, 30
    script = f"""
import sys, threading, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_faults import _answer
from ui.feedback import FeedbackLog
log = FeedbackLog({str(path)!r})
while not Path({str(go)!r}).exists():
    time.sleep(0.01)
def vote(t):
    for i in range(t, {per_proc}, 2):
        log.record(_answer("p" + sys.argv[1], i, 150_000 + 1009 * i), "up")
threads = [threading.Thread(target=vote, args=(t,)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running = [subprocess.Popen([sys.executable, "-c", script, str(p)], env=env, cwd=ROOT)
               for p in range(procs)]
    go.touch()  # all start appending at once
    assert [p.wait(timeout=300) for p in running] == [0] * procs
    votes = _votes(path)
    assert len(votes) == procs * per_proc
    assert sorted(v["question"] for v in votes) == sorted(
        f"p{p}/{i}" for p in range(procs) for i in range(per_proc))
    assert all(v["answer"] == v["citations"][0]["quote"] for v in votes)


def test_a_line_cut_short_by_a_full_disk_is_taken_back(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.feedback as feedback

    log = FeedbackLog(tmp_path / "votes.jsonl")
    log.record(_answer("a", 0, 10), "up")
    before = log.path.read_bytes()
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if len(data) > 1000:
            return real_write(fd, bytes(data[:len(data) // 2]))  # a short write …
        raise _enospc()  # … and then no space at all

    monkeypatch.setattr(feedback.os, "write", write)
    with pytest.raises(OSError, match="No space left"):
        log.record(_answer("b", 0, 5000), "down")
    monkeypatch.undo()
    assert log.path.read_bytes() == before
    log.record(_answer("c", 0, 10), "up")
    assert [v["question"] for v in _votes(log.path)] == ["a/0", "c/0"]


def test_a_fragment_left_by_a_killed_writer_does_not_swallow_the_next_vote(
        tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "votes.jsonl")
    log.record(_answer("a", 0, 10), "up")
    with log.path.open("ab") as f:
        f.write(b'{"time": "2025-01-01T00:00:00+00:00", "vote": "do')  # killed here
    log.record(_answer("b", 0, 10), "down")
    lines = log.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert json.loads(lines[0])["question"] == "a/0"
    assert lines[1].startswith(b'{"time"') and json.loads(lines[2])["question"] == "b/0"


# Any character, lone surrogates included, with the awkward ones drawn often.
# (A list joined, not st.text: st.text drops surrogates from a mixed alphabet.)
text_with_anything = st.lists(st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.sampled_from(["\n", "\r", "\u2028", "\ud800", "\udfff", '"', "\\", "\x00"])),
    max_size=300).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(text_with_anything, text_with_anything, st.sampled_from(["up",
                                                                                     "down"])),
                min_size=1, max_size=5))
def test_each_vote_is_one_line_that_reads_back(rows: list[tuple[str, str, str]]) -> None:
    # Newlines, U+2028, quotes and lone surrogates in the text never split or break a line.
    with tempfile.TemporaryDirectory() as d:
        log = FeedbackLog(Path(d) / "votes.jsonl")
        written = [log.record({"question": q, "answer": a, "citations": [{"quote": a}]}, vote)
                   for q, a, vote in rows]
        # As JSON reads them: a high and a low surrogate escaped side by side read back as
        # the one character they encode.
        assert _votes(log.path) == json.loads(json.dumps(written))


def test_a_start_hashes_each_file_once_and_still_sees_later_damage(
        idx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check_intact` then `load_index` (what every start does) hash each file once; a file
    damaged in place afterwards is hashed again and named."""
    from index import folder

    hashed: list[int] = []
    real = folder.hashlib.sha256

    def counting(data: bytes = b"") -> Any:
        hashed.append(len(data))
        return real(data)

    monkeypatch.setattr(folder.hashlib, "sha256", counting)
    check_intact(idx)
    first = len(hashed)
    assert first >= len(DATA_FILES)
    load_index(idx)
    assert len(hashed) == first
    _damage(idx / UNITS, "corrupted")
    with pytest.raises(IndexDamaged, match=UNITS):
        load_index(idx)
