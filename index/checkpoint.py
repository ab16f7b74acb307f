"""Resumable builds: vectors already embedded by a build that was killed are kept on disk.

Embedding is most of a build's time (an hour for a 100k-passage library on two cores), so a
build saves what it has embedded every `CHUNK` texts into a folder beside the index,
`.{name}.partial/`. A later build of the same index loads those vectors by their text key
and embeds only the rest. The finished index is still swapped in atomically
(`index.folder`); the checkpoint folder is deleted once it is. Vectors are keyed by
(model, text), so a checkpoint left by another model or other texts is simply not used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Texts per checkpoint file: about a minute of embedding on two cores with the bundled
# model, so a killed build loses at most that; small enough files to write often.
CHUNK = 2048


class Checkpoint:
    """Vectors of one index's unfinished builds, in numbered `.npz` files of keys and vectors."""

    def __init__(self, index_path: Path) -> None:
        self.folder = index_path.parent / f".{index_path.name}.partial"
        self._next = 0
        self._off = False

    def load(self) -> dict[str, np.ndarray]:
        """Every vector saved so far by key; unreadable files (a write cut short) are skipped."""
        found: dict[str, np.ndarray] = {}
        if not self.folder.is_dir():
            return found
        for f in sorted(self.folder.glob("chunk-*.npz")):
            try:
                with np.load(f, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except Exception:  # noqa: BLE001 (any damage means: embed those texts again)
                continue
            if len(keys) == len(vectors):
                found.update(zip((str(k) for k in keys), vectors, strict=True))
            self._next = max(self._next, _number(f) + 1)
        return found

    def save(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Add one chunk. Written to a temp name and renamed, so a file is whole or absent.
        A checkpoint is a convenience: if it cannot be written (a full disk), the build goes
        on without one rather than failing for it."""
        if not len(keys) or self._off:
            return
        final = self.folder / f"chunk-{self._next:06d}.npz"
        tmp = self.folder / f".{final.name}.tmp-{os.getpid()}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                np.savez(f, keys=np.asarray(list(keys), dtype=str), vectors=np.asarray(vectors))
            tmp.replace(final)
        except OSError:
            tmp.unlink(missing_ok=True)
            self._off = True
            return
        self._next += 1

    def clear(self) -> None:
        """Delete the checkpoint: the index it was for has been written."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _number(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1
