"""One build of an index at a time: an OS file lock beside the index folder.

The lock is `filelock` (flock on Unix), so the kernel drops it when its holder dies, even by
`kill -9`: there is never a stale lock to clear by hand. It lives beside the folder, not in
it, because the folder itself is swapped out by every build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


def lock_path(index_path: Path) -> Path:
    """The lock file that guards builds of the index at `index_path`."""
    return index_path.parent / f".{index_path.name}.lock"


@contextmanager
def build_lock(index_path: Path,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the build lock of `index_path`, waiting for another holder to finish first.

    A second build waits rather than refuses: when it runs, it reuses every vector the
    first one just made, so waiting costs little and `rag serve` started during a build
    simply starts after it. `on_wait` hears one line if there is a wait at all.
    """
    index_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(index_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"Waiting for another build of {index_path} to finish …")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def is_locked(index_path: Path) -> bool:
    """Whether a build of `index_path` holds the lock right now (in any process)."""
    lock = FileLock(lock_path(index_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
