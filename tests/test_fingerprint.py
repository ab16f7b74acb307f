"""The corpus folder's stat digest, and the start that skips reading an unchanged folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.fingerprint import folder_stat
from index.embedder import make_embedder
from index.store import MANIFEST
from rag import pipeline
from rag.pipeline import ensure_index
from rag.settings import Settings


def _folder(tmp_path: Path, tiny_corpus: Path) -> Path:
    folder = tmp_path / "readings"
    shutil.copytree(tiny_corpus, folder)
    return folder


def test_digest_follows_readings_not_hidden_files(tmp_path: Path, tiny_corpus: Path) -> None:
    folder = _folder(tmp_path, tiny_corpus)
    first = folder_stat(folder)
    assert folder_stat(folder) == first
    (folder / ".notes.swp").write_text("editor junk", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref", encoding="utf-8")
    assert folder_stat(folder) == first
    reading = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".md")[0]
    st = reading.stat()
    os.utime(reading, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    touched = folder_stat(folder)
    assert touched != first
    (folder / "new.txt").write_text("A new reading about bees.", encoding="utf-8")
    assert folder_stat(folder) not in (first, touched)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.from_regex(r"[a-z]{1,8}\.txt", fullmatch=True), min_size=1,
                      max_size=5, unique=True),
       sizes=st.lists(st.integers(0, 50), min_size=5, max_size=5))
def test_digest_is_a_function_of_names_sizes_and_times(tmp_path_factory: pytest.TempPathFactory,
                                                        names: list[str],
                                                        sizes: list[int]) -> None:
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    for folder in (a, b):
        for name, size in zip(names, sizes, strict=False):
            (folder / name).write_text("x" * size, encoding="utf-8")
            os.utime(folder / name, ns=(10**18, 10**18))
    # Two folders holding the same names, sizes and times: the same digest, wherever they are.
    assert folder_stat(a) == folder_stat(b)
    victim = b / names[0]
    victim.write_text("y" * (victim.stat().st_size + 1), encoding="utf-8")
    os.utime(victim, ns=(10**18, 10**18))
    assert folder_stat(a) != folder_stat(b)


def _quiet(_message: str) -> None:
    pass


def _no_reading(_folder: object) -> None:
    raise AssertionError("the corpus folder was read")


def test_a_start_on_an_unchanged_folder_reads_no_reading(tmp_path: Path, tiny_corpus: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, tiny_corpus)
    s = Settings(corpus=str(folder), model="hash", data_dir=str(tmp_path / "data"))
    embedder = make_embedder(s.embedder_key)
    assert ensure_index(s, embedder, status=_quiet, progress=False) is not None
    manifest = json.loads((s.index_path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["corpus_stat"] == folder_stat(folder)

    with monkeypatch.context() as m:
        m.setattr(pipeline, "load_corpus", _no_reading)
        assert ensure_index(s, embedder, status=_quiet, progress=False) is None

    # Touched, not changed: one full check finds the texts unchanged, builds nothing, and
    # records the new digest so that the next start is fast again.
    reading = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".md")[0]
    st = reading.stat()
    os.utime(reading, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert ensure_index(s, embedder, status=_quiet, progress=False) is None
    with monkeypatch.context() as m:
        m.setattr(pipeline, "load_corpus", _no_reading)
        assert ensure_index(s, embedder, status=_quiet, progress=False) is None

    # Changed: rebuilt, and a different model is a rebuild even on an unchanged folder.
    reading.write_text(reading.read_text(encoding="utf-8") + "\n\nA new closing line.\n",
                       encoding="utf-8")
    assert ensure_index(s, embedder, status=_quiet, progress=False) is not None
    other = s.replace(max_chars=400)
    assert ensure_index(other, embedder, status=_quiet, progress=False) is not None
