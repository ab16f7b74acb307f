"""Hostile and malformed readings: whatever a file holds, `load_corpus` either loads it or
skips it by name with a one-line reason, and the rest of the corpus is still read.

Hypothesis writes malformed HTML, PDF bytes, WordPress REST JSON, YAML front matter and
binary junk under each supported extension into a folder beside the tiny corpus. Then come
a 50 MB file, an unreadable file, and `rag build` over a folder holding all of them.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loaders import _text_pdf

from corpus.collection import Corpus, load_corpus
from corpus.loaders import MAX_TEXT_BYTES, SUFFIXES
from ui.cli import main

TINY = Path(__file__).parent / "data" / "tiny"
GOOD_IDS = {"bees", "trains", "volcano"}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A corpus folder holding the three good tiny readings."""
    d = tmp_path / "readings"
    shutil.copytree(TINY, d)
    return d


def load_with(folder: Path, name: str, content: bytes) -> Corpus:
    """`load_corpus` with one extra file, which is removed again afterwards."""
    bad = folder / name
    bad.write_bytes(content)
    try:
        return load_corpus(folder)
    finally:
        bad.unlink()


def check(corpus: Corpus, name: str, must_skip: bool = False) -> str | None:
    """The good readings are all there; the extra file was loaded, or skipped by name with
    one line. Returns the skip reason (without the file name), if it was skipped."""
    good = {d.id for d in corpus.documents if d.source != name}
    assert good == GOOD_IDS
    assert {s.path for s in corpus.skipped} <= {name}
    skipped = [s for s in corpus.skipped if s.path == name]
    loaded = [d for d in corpus.documents if d.source == name]
    for doc in loaded:
        assert doc.text.strip() and doc.title and "\n" not in doc.id
    if must_skip or not loaded:
        assert len(skipped) == 1, (corpus.skipped, loaded)
        # `Skipped.path` names the file (`rag build` prints "skipped <path>: <reason>").
        reason = skipped[0].reason.removeprefix(f"{name}: ")
        assert reason.strip() and "\n" not in reason and "Traceback" not in reason
        return reason
    return None


# --- strategies ----------------------------------------------------------------------------

HTML_BITS = ["<", ">", "</", "<p>", "</p>", "<html>", "<body>", "<head>", "<!--", "-->",
             "<script>", "</script>", "<style>", "<?xml version='1.0' encoding='utf-8'?>",
             "<![CDATA[", "]]>", "&", "&#", "&#x110000;", "&amp", "\x00", "<title>",
             '<meta name="author" content="', '<meta property="article:published_time" '
             'content="', '<script type="application/ld+json">', '{"author": {"@id": "x"}}',
             '{"@graph": [[[[', "<table><tr><td>", "<time datetime=", "Copyright 2024",
             "<article>", "Words of a paragraph that could be main text. ", '"', "'", "=",
             "\ufeff", "\r", "\n", "<h1>", "<svg><foreignObject>", "<frameset>", "<math>"]
html_docs = st.lists(st.sampled_from(HTML_BITS) | st.text(max_size=20),
                     max_size=60).map("".join)

YAML_BITS = ["title:", "author:", "date:", "url:", "id:", "publisher:", "attributions:",
             "- start_at:", "  author:", "role:", " ", "\n", "\t", "[", "]", "{", "}", ":",
             "&a", "*a", "&a [*a, *a, *a]", "!!python/object/apply:os.system ['true']",
             "!!binary", "? ", "|", ">", "%YAML 1.2", "'", '"', "null", "~", "yes", "1.10",
             "2020-05-01", "../../etc", "<script>", "- ", ",", "#", "\x00", "\ufeff"]
front_matter = st.lists(st.sampled_from(YAML_BITS) | st.text(max_size=10),
                        max_size=40).map("".join)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
wp_keys = st.sampled_from(["content", "rendered", "title", "slug", "date", "link", "id",
                           "yoast_head_json", "author"])
json_values = st.recursive(
    json_scalars | st.just("<p>Some words of a post that could be its main text.</p>"),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(wp_keys, inner, max_size=6),
    max_leaves=20)


# A record's fields, each present or not, holding any JSON at all.
wp_fields = st.fixed_dictionaries({}, optional={
    k: json_values for k in ("title", "slug", "date", "link", "id", "yoast_head_json")})
wp_record = st.builds(lambda content, extra: {"content": {"rendered": content}, **extra},
                      json_values, wp_fields)
wp_json = json_values | wp_record | st.lists(wp_record, max_size=3)


def broken_json(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


PDF = _text_pdf(["The soviets held real power in 1917."], "Fuzz")


@st.composite
def mangled_pdfs(draw: st.DrawFn) -> bytes:
    """A real PDF cut short, with bytes overwritten, or with junk spliced in."""
    data = bytearray(PDF)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["cut", "overwrite", "insert"]))
        junk = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(
            [b"obj", b"endobj", b"<<", b">>", b"R", b"/Length 99999", b"stream", b"xref",
             b"trailer", b"%%EOF", b"-1", b"9999999999", b"/Kids [3 0 R 3 0 R]", b"(", b")"]))
        if how == "cut":
            del data[pos:]
        elif how == "overwrite":
            data[pos:pos + len(junk)] = junk
        else:
            data[pos:pos] = junk
    return bytes(data)


# --- fuzz tests ----------------------------------------------------------------------------

@FUZZ
@given(body=html_docs)
def test_malformed_html(folder: Path, body: str) -> None:
    check(load_with(folder, "page.html", body.encode("utf-8", "surrogatepass")), "page.html")


@FUZZ
@given(pdf=mangled_pdfs())
def test_malformed_pdf(folder: Path, pdf: bytes) -> None:
    check(load_with(folder, "paper.pdf", pdf), "paper.pdf")


@FUZZ
@given(record=wp_json)
def test_malformed_wordpress_json(folder: Path, record: Any) -> None:
    for name in ("post.json", "post.txt"):  # .txt holding JSON is sniffed as WordPress
        check(load_with(folder, name, json.dumps(record).encode()), name)


@FUZZ
@given(text=st.text(max_size=80))
def test_broken_json_text(folder: Path, text: str) -> None:
    try:
        json.loads(text)
    except ValueError:
        reason = check(load_with(folder, "post.json", broken_json(text)), "post.json",
                       must_skip=True)
        assert reason is not None
    else:
        check(load_with(folder, "post.json", broken_json(text)), "post.json")


@FUZZ
@given(yaml_text=front_matter, body=st.sampled_from(["", "Body text.", "# Heading\n\nText."]))
def test_malformed_front_matter(folder: Path, yaml_text: str, body: str) -> None:
    content = f"---\n{yaml_text}\n---\n{body}\n".encode("utf-8", "surrogatepass")
    check(load_with(folder, "notes.md", content), "notes.md")


@FUZZ
@given(junk=st.binary(min_size=1, max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_binary_junk_with_each_extension(folder: Path, junk: bytes, suffix: str) -> None:
    name = f"junk{suffix}"
    # Bytes may happen to be a valid text reading (in UTF-8 or, read with a note, in another
    # encoding), never a valid PDF, DOCX or EPUB.
    binary = suffix in (".pdf", ".docx", ".epub")
    try:
        junk.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    corpus = load_with(folder, name, junk)
    reason = check(corpus, name, must_skip=binary)
    noted = [n for n in corpus.notes if n.path == name]
    if binary or utf8:
        assert not noted
    elif reason:
        # No text in any encoding, or text that is no reading ("no main text found in the
        # HTML"): skipped, with no note about a file that was not indexed.
        assert not noted
    else:
        # Read in a guessed encoding: said so, once, naming the encoding.
        assert len(noted) == 1 and noted[0].message.startswith("read as ")


# --- size and permissions ------------------------------------------------------------------

def write_big(path: Path, size: int) -> None:
    """A file of valid text, `size` bytes, written in chunks (not built in memory)."""
    line = b"The soviets held real power in the cities that year, the text says again.\n"
    with path.open("wb") as f:
        for _ in range(size // len(line)):
            f.write(line)
        f.write(b"x" * (size % len(line)))


@pytest.mark.parametrize("name", ["huge.txt", "huge.md", "huge.html", "huge.json"])
def test_a_50_mb_text_file_is_skipped_by_name_without_reading_it_all(folder: Path,
                                                                     name: str) -> None:
    """Over the size limit: skipped, and at most the limit is ever read into memory."""
    big = folder / name
    write_big(big, 50 * 1024 * 1024)
    tracemalloc.start()
    try:
        corpus = load_corpus(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    reason = check(corpus, name, must_skip=True)
    assert reason == "50.0 MB is over the 16 MB limit for one file; split it into smaller files"
    # The whole 50 MB file would need over 50 MB as bytes alone.
    assert peak < 2 * MAX_TEXT_BYTES + 8 * 1024 * 1024, peak


def test_a_50_mb_junk_pdf_is_skipped_by_name(folder: Path) -> None:
    with (folder / "huge.pdf").open("wb") as f:
        f.write(b"%PDF-1.4\n")
        for _ in range(50):
            f.write(os.urandom(1024 * 1024))
    check(load_corpus(folder), "huge.pdf", must_skip=True)


def test_a_file_at_the_limit_still_loads(folder: Path) -> None:
    write_big(folder / "long.txt", MAX_TEXT_BYTES)
    corpus = load_corpus(folder)
    (doc,) = [d for d in corpus.documents if d.source == "long.txt"]
    assert len(doc.text) == MAX_TEXT_BYTES


def deny_reading(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Make opening `target` fail as it does for a user without read permission. Root (as in
    CI containers) reads a chmod 000 file anyway, so there the refusal is simulated."""
    target.chmod(0)
    try:
        with open(target, "rb"):
            privileged = True
    except PermissionError:
        privileged = False
    if not privileged:
        return
    real_open: Callable[..., Any] = builtins.open

    def refusing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and Path(file).resolve() == target.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    # Path.open goes through io.open, pypdf through the builtin.
    monkeypatch.setattr(builtins, "open", refusing_open)
    monkeypatch.setattr(io, "open", refusing_open)


@pytest.mark.parametrize("name", ["locked.md", "locked.pdf"])
def test_a_file_without_read_permission_is_skipped_by_name(
        folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = folder / name
    locked.write_bytes(PDF if name.endswith(".pdf") else b"# Locked\n\nSecret words.\n")
    deny_reading(monkeypatch, locked)
    try:
        reason = check(load_corpus(folder), name, must_skip=True)
    finally:
        locked.chmod(0o644)
    assert reason is not None and "Permission denied" in reason


# --- the whole corpus, through `rag build` -------------------------------------------------

BAD_FILES: dict[str, bytes] = {
    "broken-page.html": b"<html><head><title>x</title></head><body><script>1</script>",
    "broken-paper.pdf": PDF[: len(PDF) // 2],
    "broken-post.json": b'{"content": {"rendered": 5}, "title": "not a dict"}',
    "broken-front-matter.md": b"---\ntitle: [unclosed\nauthor: *nowhere\n---\nText.\n",
    "alias-bomb.md": (b"---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                      b"c: &c [*b, *b, *b, *b, *b, *b]\ntitle: [*c, *c, *c, *c, *c, *c]\n---\n"
                      b"Body.\n"),
    "binary.txt": bytes(range(256)) * 8,
    "empty.md": b"   \n",
}


def test_rag_build_skips_each_bad_file_by_name_and_indexes_the_rest(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, content in BAD_FILES.items():
        (folder / name).write_bytes(content)
    write_big(folder / "huge.txt", 50 * 1024 * 1024)
    code = main(["build", "--corpus", str(folder), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Indexed 3 documents" in err, err
    assert "Traceback" not in err
    lines = err.splitlines()
    for name in [*BAD_FILES, "huge.txt"]:
        named = [line for line in lines if name in line]
        assert len(named) == 1 and named[0].startswith(f"skipped {name}"), (name, err)
    assert f"{len(BAD_FILES) + 1} file(s) skipped" in err
