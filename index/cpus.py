"""How many cores this process may use, for the work that is split across them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor


def usable_cpus() -> int:
    """The cores this process may run on (a container's or `taskset`'s share, not the
    host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_batches(pool: ThreadPoolExecutor | None, order: Sequence[int], size: int,
                run: Callable[[list[int]], None]) -> None:
    """Call `run` on each batch of `size` indexes of `order`: side by side on `pool`, or one
    after another without one (or for a single batch). An error in any batch is raised
    here, after the pool has started them all."""
    batches = [list(order[b:b + size]) for b in range(0, len(order), size)]
    if pool is None or len(batches) < 2:
        for batch in batches:
            run(batch)
    else:
        list(pool.map(run, batches))  # list(): re-raises a batch's error here
