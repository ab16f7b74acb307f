"""How many cores this process may use, for the work that is split across them."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The cores this process may run on (a container's or `taskset`'s share, not the
    host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
