"""The index's JSONL tables read a row at a time (`index.table`): the same rows, ids and
damage messages as parsing the whole file."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.document import Document
from index.folder import IndexDamaged
from index.table import JsonlById, JsonlRows

WHERE = Path("/idx")

_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_rows = st.lists(st.dictionaries(st.text(max_size=8), _values, max_size=4), max_size=12)


def _jsonl(rows: list[dict[str, Any]], blanks: list[int], trailing: bool) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for at in sorted(blanks, reverse=True):
        lines.insert(min(at, len(lines)), "")
    return ("\n".join(lines) + ("\n" if trailing else "")).encode("utf-8")


@given(rows=_rows, blanks=st.lists(st.integers(0, 12), max_size=3), trailing=st.booleans())
def test_rows_are_the_files_objects_in_order_blank_lines_skipped(
        rows: list[dict[str, Any]], blanks: list[int], trailing: bool) -> None:
    table = JsonlRows(_jsonl(rows, blanks, trailing), dict, WHERE, "t.jsonl")
    assert len(table) == len(rows)
    assert list(table) == rows and table == rows
    assert table[1:3] == rows[1:3] and table[::-1] == rows[::-1]
    if rows:
        assert table[-1] == rows[-1]
    with pytest.raises(IndexError):
        table[len(rows)]


_ids = st.text(min_size=1, max_size=10)  # quotes, backslashes, non-ASCII and controls too


@given(ids=st.lists(_ids, max_size=10))
def test_documents_are_found_by_id_read_from_the_line_without_parsing_it(
        ids: list[str]) -> None:
    docs = [Document(i, f"text of {i!r}", f"T{n}") for n, i in enumerate(ids)]
    data = "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in docs)
    parsed: list[int] = []

    def parse(row: dict[str, Any]) -> Document:
        parsed.append(1)
        return Document.from_dict(row)

    by_id = JsonlById(JsonlRows(data.encode("utf-8"), parse, WHERE, "d.jsonl"), lambda d: d.id)
    last = {d.id: d for d in docs}  # a repeated id: the last row wins, as a dict's
    assert list(by_id) == list(last)
    # Only ids written with escapes ("\"", "\\", controls) needed their line parsed.
    assert len(parsed) == sum(1 for i in ids if json.dumps(i, ensure_ascii=False)[1:-1] != i)
    assert dict(by_id) == last
    assert by_id.get("not an id") is None


def test_a_row_that_does_not_parse_names_its_line_when_read() -> None:
    data = b'{"a": 1}\n\n{"a": \n[1]\n{"a": "x"}\n'
    table = JsonlRows(data, lambda r: int(r["a"]), WHERE, "t.jsonl")
    assert len(table) == 4 and table[0] == 1  # the bad rows are not read yet
    with pytest.raises(IndexDamaged, match=r"\(t\.jsonl: line 3: Expecting value"):
        table[1]
    with pytest.raises(IndexDamaged, match=r"line 4: not a JSON object"):
        table[2]
    with pytest.raises(IndexDamaged, match=r"line 5: invalid literal for int"):
        table[3]


def test_rows_read_by_many_threads_are_parsed_to_one_object_each() -> None:
    data = "".join(json.dumps({"n": n}) + "\n" for n in range(500)).encode()
    table = JsonlRows(data, dict, WHERE, "t.jsonl")
    seen: list[list[Any]] = [[] for _ in range(4)]

    def read(k: int) -> None:
        seen[k] = [table[i] for i in range(len(table))]

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rows in seen:
        assert all(a is b for a, b in zip(rows, seen[0], strict=True))
