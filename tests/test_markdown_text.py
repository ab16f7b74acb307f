"""Markdown readings' inline markup read as the words it shows (corpus/markdown_text.py)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.collection import DEFAULT_CORPUS_DIR
from corpus.loaders import load_file
from corpus.markdown_text import plain_inline


def test_emphasis_links_code_and_images_show_their_words() -> None:
    body = ("The party was *driven underground* and **Pravda** was shut; see\n"
            "[the April Theses](https://example.org/t) and ![a map of Petrograd](m.png).\n"
            "`Order No. 1` was issued &amp; obeyed, 2*3*4, \\*not emphasis\\*, <sup>2</sup>.")
    assert plain_inline(body) == (
        "The party was driven underground and Pravda was shut; see\n"
        "the April Theses and a map of Petrograd.\n"
        "Order No. 1 was issued & obeyed, 234, *not emphasis*, <sup>2</sup>.")


def test_block_markers_code_blocks_and_page_markers_stay() -> None:
    body = ("# The *July* Days\n\n- a **bold** item\n- [a link](http://x)\n\n"
            "> quoted *text*\n> more\n\n```\ncode *stays*\n```\n\n    indented *code*\n\n"
            "{{page 3}}\nText on *page* three.")
    assert plain_inline(body) == (
        "# The July Days\n\n- a bold item\n- a link\n\n> quoted text\n> more\n\n"
        "```\ncode *stays*\n```\n\n    indented *code*\n\n{{page 3}}\nText on page three.")


def test_footnotes_are_numbered_as_the_readings_number_theirs() -> None:
    body = ("Soldiers filled the streets.[^crowd] The leaders hesitated.[^2]\n\n"
            "Again the crowd.[^crowd]\n\n"
            "[^crowd]: Rabinowitch, *Prelude to Revolution*, p. 135.\n"
            "[^2]: See also Lih.\n\n[^unused]: Never cited.")
    assert plain_inline(body) == (
        "Soldiers filled the streets.[1] The leaders hesitated.[2]\n\n"
        "Again the crowd.[1]\n\n"
        "[1] Rabinowitch, Prelude to Revolution, p. 135.\n"
        "[2] See also Lih.\n\n[^unused]: Never cited.")


def test_a_footnote_marker_is_left_out_of_the_quote(tmp_path: Path) -> None:
    from index.chunking import sentences

    (tmp_path / "notes.md").write_text(
        "Soldiers filled the streets of Petrograd.[^1] The Bolshevik leaders were caught "
        "between the crowd and their own caution.[^2]\n\n[^1]: Rabinowitch, p. 135.\n"
        "[^2]: Lih, p. 12.\n", encoding="utf-8")
    (doc,) = load_file(tmp_path / "notes.md")
    said = [doc.text[s:e] for s, e in sentences(doc.text)]
    assert said[:2] == ["Soldiers filled the streets of Petrograd.[1]",
                        "The Bolshevik leaders were caught between the crowd and their own "
                        "caution.[2]"]


def test_the_bundled_readings_are_unchanged() -> None:
    for f in sorted(DEFAULT_CORPUS_DIR.glob("*.md")):
        text = f.read_text(encoding="utf-8")
        assert plain_inline(text) == text, f.name


def test_md_is_rendered_and_txt_is_not(tmp_path: Path) -> None:
    raw = ("---\ntitle: Notes\n---\nIts newspaper **Pravda** was shut.\n\n{{page 2}}\n"
           "*Lenin* fled.\n")
    (tmp_path / "notes.md").write_text(raw, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(raw, encoding="utf-8")
    (md,) = load_file(tmp_path / "notes.md")
    (txt,) = load_file(tmp_path / "notes.txt")
    assert md.text == "Its newspaper Pravda was shut.\n\nLenin fled."
    assert md.page_at(md.text.index("Lenin")) == 2
    assert "**Pravda**" in txt.text and "*Lenin*" in txt.text


_PIECES = st.sampled_from([
    "word", " ", "\n", "\n\n", "*", "**", "_", "`", "[", "]", "(", ")", "![", "<b>", "</b>",
    "&amp;", "\\", "# ", "- ", "> ", "    ", "```", "{{page 4}}", "Lenin", ".", "http://x",
])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(pieces=st.lists(_PIECES, max_size=40))
def test_lines_are_kept_and_plain_text_is_untouched(pieces: list[str]) -> None:
    body = "".join(pieces)
    out = plain_inline(body)
    # Every line stays a line: headings, lists, pages and wraps read the same lines.
    assert out.count("\n") == body.count("\n")
    # A line holding no markup character at all is never changed.
    for before, after in zip(body.split("\n"), out.split("\n"), strict=True):
        if not set(before) & set("*_`[]()!<>&\\#->{}"):
            assert after == before
