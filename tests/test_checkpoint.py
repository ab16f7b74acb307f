"""Resumable builds: a build killed while embedding leaves its vectors in a checkpoint, and the
next build embeds only the rest, then writes the same index a clean build would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.document import Document
from index import checkpoint
from index.checkpoint import Checkpoint
from index.embedder import HashingEmbedder
from index.store import build_index, load_index

SMALL = {"max_chars": 100, "context_headers": False}


class Dying(HashingEmbedder):
    """Embeds `lives` batches, then dies like a killed build; counts the texts it embedded."""

    def __init__(self, lives: int = 10**9) -> None:
        super().__init__()
        self.lives = lives
        self.texts = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.lives <= 0:
            raise KeyboardInterrupt
        self.lives -= 1
        self.texts += len(texts)
        return super().embed(texts)


def _docs(n: int) -> list[Document]:
    return [Document(id=f"d{i}", title=f"Doc {i}",
                     text="\n\n".join(f"Paragraph {j} of document {i}. It is about topic "
                                      f"{i * j}, and nothing else." for j in range(6)))
            for i in range(n)]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Checkpoint after every batch, so that a death after a few batches leaves some.
    monkeypatch.setattr(checkpoint, "CHUNK", 1)


def test_killed_build_resumes_without_embedding_finished_chunks(tmp_path: Path) -> None:
    docs = _docs(30)
    clean = Dying()
    build_index(tmp_path / "clean", docs, clean, "hash", SMALL, progress=False)

    path = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        build_index(path, docs, Dying(lives=3), "hash", SMALL, progress=False)
    assert not path.exists()
    assert Checkpoint(path).folder.is_dir()

    resumed = Dying()
    build_index(path, docs, resumed, "hash", SMALL, progress=False)
    # Three batches (of 32 passages) were done before the kill: they are not embedded again.
    assert resumed.texts == clean.texts - 3 * 32
    a, b = load_index(tmp_path / "clean"), load_index(path)
    assert [p.text for p in a.passages] == [p.text for p in b.passages]
    assert np.array_equal(a.stored_vectors(), b.stored_vectors())
    assert np.array_equal(a.unit_vectors, b.unit_vectors)
    # The finished index replaces the checkpoint.
    assert not Checkpoint(path).folder.exists()


def test_damaged_chunk_is_embedded_again_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        build_index(path, _docs(30), Dying(lives=2), "hash", SMALL, progress=False)
    chunks = sorted(Checkpoint(path).folder.glob("chunk-*.npz"))
    assert len(chunks) == 2
    chunks[-1].write_bytes(chunks[-1].read_bytes()[:50])
    resumed = Dying()
    build_index(path, _docs(30), resumed, "hash", SMALL, progress=False)
    clean = Dying()
    build_index(tmp_path / "clean", _docs(30), clean, "hash", SMALL, progress=False)
    assert resumed.texts == clean.texts - 32
    assert np.array_equal(load_index(path).stored_vectors(),
                          load_index(tmp_path / "clean").stored_vectors())


def test_checkpoint_of_another_model_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    with pytest.raises(KeyboardInterrupt):
        build_index(path, _docs(10), Dying(lives=1), "other-model", SMALL, progress=False)
    fresh, clean = Dying(), Dying()
    build_index(path, _docs(10), fresh, "hash", SMALL, progress=False)
    build_index(tmp_path / "clean", _docs(10), clean, "hash", SMALL, progress=False)
    assert fresh.texts == clean.texts


def test_checkpoint_round_trip_and_numbering(tmp_path: Path) -> None:
    cp = Checkpoint(tmp_path / "idx")
    assert cp.load() == {}
    cp.save(["a", "b"], np.eye(2, dtype=np.float32))
    cp.save([], np.zeros((0, 2), dtype=np.float32))
    again = Checkpoint(tmp_path / "idx")
    got = again.load()
    assert sorted(got) == ["a", "b"] and np.array_equal(got["b"], [0.0, 1.0])
    again.save(["c"], np.ones((1, 2), dtype=np.float32))
    assert sorted(p.name for p in again.folder.iterdir()) == ["chunk-000000.npz",
                                                              "chunk-000001.npz"]
    again.clear()
    assert not again.folder.exists()


def test_a_checkpoint_that_cannot_be_written_does_not_fail_the_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    build_index(tmp_path / "idx", _docs(5), Dying(), "hash", SMALL, progress=False)
    assert len(load_index(tmp_path / "idx").passages) > 0
    assert not any(Checkpoint(tmp_path / "idx").folder.glob("*"))
