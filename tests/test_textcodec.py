"""Readings saved in an encoding other than UTF-8 (corpus/textcodec.py): read, and said so."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.collection import load_corpus
from corpus.textcodec import EncodingNote, decode_text
from ui.cli import main

# A reading as an older Windows editor saves it: curly quotes, a dash, accented letters.
WINDOWS_TEXT = ("The soviets \u2014 councils of workers \u2014 were called \u201cthe "
                "organs of power\u201d by Lenin. In caf\u00e9s and factories, the "
                "r\u00e9volution was debated every day; the Provisional Government "
                "\u2019s ministers answered to nobody.\n") * 4


def _decoded(data: bytes, html: bool = False) -> tuple[str | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = decode_text(data, html)
    return text, [str(w.message) for w in caught if issubclass(w.category, EncodingNote)]


def test_utf8_is_read_as_it_is_and_says_nothing() -> None:
    text, notes = _decoded(("\ufeff" + WINDOWS_TEXT).encode("utf-8"))
    assert text == WINDOWS_TEXT  # the byte-order mark is dropped
    assert notes == []


def test_windows_1252_text_is_read_with_a_note() -> None:
    text, notes = _decoded(WINDOWS_TEXT.encode("cp1252"))
    assert text == WINDOWS_TEXT
    assert len(notes) == 1 and notes[0].startswith("read as ")
    assert notes[0].endswith(", not UTF-8")


def test_html_is_read_in_the_charset_it_declares() -> None:
    page = ('<html><head><meta charset="windows-1252"><title>Soviets</title></head>'
            f"<body><p>{WINDOWS_TEXT}</p></body></html>")
    text, notes = _decoded(page.encode("cp1252"), html=True)
    assert text == page
    assert notes == ["read as cp1252, not UTF-8"]


def test_binary_junk_is_no_text() -> None:
    text, notes = _decoded(bytes(range(256)) * 8)
    assert text is None and notes == []


@settings(max_examples=80, deadline=None, derandomize=True)
@given(data=st.binary(max_size=600))
def test_any_bytes_give_utf8_as_is_or_text_without_control_characters(data: bytes) -> None:
    text, notes = _decoded(data)
    try:
        expected: str | None = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        expected = None
    if expected is not None:
        assert text == expected and notes == []
    elif text is not None:
        assert len(notes) == 1
        assert not any(ord(c) < 32 and c not in "\t\n\r\x0c" for c in text)
        assert "\ufffd" not in text


@settings(max_examples=40, deadline=None, derandomize=True)
@given(text=st.text(st.characters(codec="utf-8"), max_size=300))
def test_any_utf8_text_round_trips_without_a_note(text: str) -> None:
    assert _decoded(text.encode("utf-8")) == (text.removeprefix("\ufeff"), [])


def test_build_names_the_file_and_its_encoding(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "readings"
    corpus.mkdir()
    (corpus / "notes.txt").write_bytes(WINDOWS_TEXT.encode("cp1252"))
    loaded = load_corpus(corpus)
    (doc,) = loaded.documents
    assert doc.text.strip() == WINDOWS_TEXT.strip()
    assert [n.path for n in loaded.notes] == ["notes.txt"] and not loaded.skipped
    assert main(["build", "--corpus", str(corpus), "--model", "hash"]) == 0
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "notes.txt" in ln]
    assert line.startswith("note: notes.txt read as ") and line.endswith(", not UTF-8")
