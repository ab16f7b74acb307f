"""The index's JSONL tables (`passages.jsonl`, `documents.jsonl`), read a row at a time.

At 100k passages, parsing both tables and building their 151k objects took 3 of a 7 s
start, for a question that reads twenty passages. A file whose sha256 matched the manifest is
exactly what the build wrote, so its rows are parsed when first asked for, and kept. A file
without a recorded checksum (an index written before they were) is parsed whole at load,
since parsing is then its only check.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from index.folder import IndexDamaged, why

T = TypeVar("T")

# A document row as `Document.to_dict` writes it starts with its id: `{"id": "...", `.
_ID = re.compile(rb'\{"id": "((?:[^"\\]|\\.)*)"')


class JsonlRows(Sequence[T]):
    """The rows of one JSONL file, each parsed by `parse` on first use. A row that does not
    parse, or that `parse` rejects, raises `IndexDamaged` naming the file and its line."""

    def __init__(self, data: bytes, parse: Callable[[dict[str, Any]], T], path: Path,
                 name: str) -> None:
        self._data = data
        self._parse = parse
        self._path, self._name = path, name
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(data)]))
        # Blank lines are skipped, as the whole-file reader always did; whitespace-only ones
        # are not written by any build, and a parse would call them damage.
        filled = ends > starts
        self._starts = starts[filled].tolist()
        self._ends = ends[filled].tolist()
        self._rows: list[T | None] = [None] * len(self._starts)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self._rows[i]  # IndexError for a row that is not there, as a list's
        if row is None:
            row = self._read(i % len(self))
        return row

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same rows, as a list would be."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal by contents, like a list

    def raw_line(self, i: int) -> bytes:
        """Row `i`'s line as stored, unparsed."""
        return self._data[self._starts[i]:self._ends[i]]

    def line_start(self, i: int) -> int:
        """Where row `i`'s line starts in the file."""
        return int(self._starts[i])

    @property
    def data(self) -> bytes:
        """The whole file."""
        return self._data

    def damaged(self, i: int, what: str) -> IndexDamaged:
        """The error for row `i`, naming its line."""
        line = self._data.count(b"\n", 0, self._starts[i]) + 1  # only ever on the way out
        return IndexDamaged(self._path, self._name, f"line {line}: {what}")

    def _read(self, i: int) -> T:
        try:
            obj = json.loads(self.raw_line(i))
        except json.JSONDecodeError as e:
            raise self.damaged(i, e.msg) from None
        except UnicodeDecodeError as e:
            raise self.damaged(i, why(e)) from None
        if not isinstance(obj, dict):
            raise self.damaged(i, "not a JSON object")
        # A corrupt row can make a parser raise almost anything; each failure is damage to
        # this file, reported in one line.
        try:
            row = self._parse(obj)
        except IndexDamaged:
            raise
        except Exception as e:
            raise self.damaged(i, why(e)) from None
        with self._lock:  # two threads may parse one row; the first one kept wins
            kept = self._rows[i]
            if kept is None:
                self._rows[i] = kept = row
        return kept


class JsonlById(Mapping[str, T]):
    """`JsonlRows` of objects with an `id`, looked up by it. The ids are read from the start
    of each line, where the build writes them, without parsing the rest; a line that does
    not start so is parsed whole. When ids repeat, the last row wins."""

    def __init__(self, rows: JsonlRows[T], key: Callable[[T], str]) -> None:
        self._rows = rows
        self._index: dict[str, int] = {}
        data = rows.data
        for i in range(len(rows)):
            m = _ID.match(data, rows.line_start(i))
            if m is None or b"\\" in m.group(1):  # escapes: let json read the id
                ident = key(rows[i])
            else:
                try:
                    ident = m.group(1).decode("utf-8")
                except UnicodeDecodeError as e:
                    raise rows.damaged(i, why(e)) from None
            self._index[ident] = i

    def __getitem__(self, ident: str) -> T:
        return self._rows[self._index[ident]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def rows(self) -> Sequence[T]:
        """Every row, in file order (ids repeated included)."""
        return self._rows
