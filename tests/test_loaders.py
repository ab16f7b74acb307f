"""Loaders (md/txt, HTML, WordPress JSON, PDF), load_corpus, and the shipped default corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pdf_helpers import text_pdf

from corpus.collection import DEFAULT_CORPUS_DIR, CorpusError, load_corpus
from corpus.loaders import LoadError, load_file, slugify

DEFAULT_IDS = {
    "redpepper-dual-power", "beyond-resistance-dual-power", "socialist-worker-soviet-power",
    "dual-power-overview", "lih-all-power-to-the-soviets",
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- Markdown / text -----------------------------------------------------------------------

def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = _write(tmp_path / "My Notes.md", (
        "---\nid: notes-1\ntitle: Notes on power\nauthor: A. Writer\npublisher: Pub\n"
        "date: '2020-05-01'\nurl: https://example.org/n\n---\n\n"
        "# Heading\n\nFirst paragraph.\r\n\r\nSecond paragraph.\n\n"))
    (doc,) = load_file(path)
    assert doc.id == "notes-1"
    assert doc.title == "Notes on power"
    assert (doc.author, doc.publisher, doc.date, doc.url) == (
        "A. Writer", "Pub", "2020-05-01", "https://example.org/n")
    assert doc.text == "# Heading\n\nFirst paragraph.\n\nSecond paragraph."
    assert doc.source == "My Notes.md"
    assert doc.attributions == ()


def test_markdown_without_front_matter_uses_heading_and_file_name(tmp_path: Path) -> None:
    (doc,) = load_file(_write(tmp_path / "Week 3 Reading.md", "# The Title\n\nBody text here.\n"))
    assert doc.id == slugify("Week 3 Reading") == "week-3-reading"
    assert doc.title == "The Title"
    assert doc.author is None
    assert doc.text == "# The Title\n\nBody text here."


def test_plain_text_without_heading_is_titled_by_file_stem(tmp_path: Path) -> None:
    (doc,) = load_file(_write(tmp_path / "plain.txt", "Just words.\nMore words.\n"))
    assert (doc.id, doc.title, doc.text) == ("plain", "plain", "Just words.\nMore words.")


def test_attributions_become_offsets_and_author_at(tmp_path: Path) -> None:
    body = ("The article says one thing.\n\nReply one: I disagree.\n\n"
            "Reply two: I agree.")
    path = _write(tmp_path / "a.md", (
        "---\ntitle: T\nauthor: Main Author\nattributions:\n"
        "- start_at: 'Reply two:'\n  author: Second\n"
        "- start_at: 'Reply one:'\n  author: First\n  role: reader comment\n---\n" + body))
    (doc,) = load_file(path)
    assert doc.text == body
    first, second = doc.attributions  # sorted by position, whatever the front-matter order
    assert doc.text[first.start:first.end] == "Reply one: I disagree.\n\n"
    assert doc.text[second.start:second.end] == "Reply two: I agree."
    assert (first.author, first.role) == ("First", "reader comment")
    assert (second.author, second.role) == ("Second", "reader comment")
    assert doc.author_at(0) == ("Main Author", None)
    assert doc.author_at(first.start - 1) == ("Main Author", None)
    assert doc.author_at(first.start) == ("First", "reader comment")
    assert doc.author_at(second.start) == ("Second", "reader comment")
    assert doc.author_at(len(doc.text) - 1) == ("Second", "reader comment")


def test_bad_yaml_front_matter_is_a_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.md", "---\ntitle: [unclosed\nauthor: x: y\n---\nText.\n")
    with pytest.raises(LoadError, match="bad.md"):
        load_file(path)


def test_front_matter_that_is_not_a_mapping_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="mapping"):
        load_file(_write(tmp_path / "list.md", "---\n- a\n- b\n---\nText.\n"))


def test_attribution_text_not_found_is_a_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.md", (
        "---\ntitle: T\nattributions:\n- start_at: 'Nowhere to be seen'\n  author: X\n---\n"
        "Body.\n"))
    with pytest.raises(LoadError, match="attribution text not found"):
        load_file(path)


def test_empty_and_binary_files_are_load_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty"):
        load_file(_write(tmp_path / "empty.md", "  \n\n"))
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 4)  # control bytes: text in no encoding
    with pytest.raises(LoadError, match=r"not text \(not UTF-8, and no other encoding fits\)"):
        load_file(junk)


def test_unsupported_suffix_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="unsupported"):
        load_file(_write(tmp_path / "x.rtf", "not really"))


# --- HTML ----------------------------------------------------------------------------------

def test_html_main_text_drops_nav_and_footer(tiny_corpus: Path) -> None:
    (doc,) = load_file(tiny_corpus / "volcano.html")
    assert doc.id == "volcano"
    assert doc.title == "Volcanoes explained"
    assert "molten rock escapes" in doc.text
    assert "buried the Roman town of Pompeii" in doc.text
    for furniture in ("Home | About", "Contact", "Copyright 2024", "newsletter"):
        assert furniture not in doc.text
    assert "\n\n" in doc.text  # paragraphs stay separate for the chunker


def test_html_without_main_text_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no main text"):
        load_file(_write(tmp_path / "script.html",
                         "<html><head><title>x</title></head><body><script>var a = 1;</script>"
                         "</body></html>"))


# --- WordPress REST JSON -------------------------------------------------------------------

def _wp_record(slug: str, title: str, paragraphs: list[str]) -> dict[str, object]:
    return {
        "id": 17, "date": "2019-03-04T10:11:12", "slug": slug,
        "link": f"https://blog.example.org/{slug}/",
        "title": {"rendered": title},
        "content": {"rendered": "".join(f"<p>{p}</p>\n" for p in paragraphs)},
        "yoast_head_json": {"author": "Blog Writer"},
    }


_PARAS = ["Workers councils arose in many cities during the revolution of that year.",
          "The councils claimed authority over the garrison &amp; the factories alike."]


def test_wordpress_record(tmp_path: Path) -> None:
    rec = _wp_record("councils-post", "Councils &#8211; <em>a history</em>", _PARAS)
    (doc,) = load_file(_write(tmp_path / "post.json", json.dumps(rec)))
    assert doc.id == "councils-post"
    assert doc.title == "Councils – a history"
    assert doc.url == "https://blog.example.org/councils-post/"
    assert doc.date == "2019-03-04"
    assert doc.author == "Blog Writer"
    assert "Workers councils arose in many cities" in doc.text
    assert "the garrison & the factories" in doc.text
    assert "<p>" not in doc.text


def test_wordpress_list_of_records(tmp_path: Path) -> None:
    recs = [_wp_record("first-post", "First", _PARAS),
            _wp_record("second-post", "Second", [p.replace("councils", "soviets") for p in _PARAS])]
    docs = load_file(_write(tmp_path / "posts.json", json.dumps(recs)))
    assert [d.id for d in docs] == ["first-post", "second-post"]
    assert [d.title for d in docs] == ["First", "Second"]


def test_txt_holding_wordpress_json_is_sniffed(tmp_path: Path) -> None:
    rec = _wp_record("saved-as-txt", "Saved", _PARAS)
    (doc,) = load_file(_write(tmp_path / "000.txt", "\n  " + json.dumps(rec)))
    assert doc.id == "saved-as-txt"
    assert "Workers councils arose" in doc.text
    assert "rendered" not in doc.text


def test_json_that_is_not_wordpress_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="not a WordPress"):
        load_file(_write(tmp_path / "x.json", json.dumps({"hello": "world"})))
    with pytest.raises(LoadError, match="not valid JSON"):
        load_file(_write(tmp_path / "y.json", "{broken"))


# --- PDF -----------------------------------------------------------------------------------

def _text_pdf(lines: list[str], title: str) -> bytes:
    """A one-page PDF with a real text layer, titled `title`."""
    return text_pdf([lines], b"<< /Title (" + title.encode("latin-1") + b") /Author (P. Author) >>")


def test_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "Lecture Notes.pdf"
    path.write_bytes(_text_pdf(["The soviets held real power in 1917.",
                                "Kerensky led the Provisional Government."], "Lecture"))
    (doc,) = load_file(path)
    assert doc.id == "lecture-notes"
    assert doc.title == "Lecture"
    assert doc.author == "P. Author"
    assert "The soviets held real power in 1917." in doc.text
    assert "Kerensky led the Provisional Government." in doc.text


def test_blank_pdf_is_a_load_error(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as f:
        writer.write(f)
    with pytest.raises(LoadError, match="no text layer"):
        load_file(path)


def test_corrupt_pdf_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf at all\n")
    with pytest.raises(LoadError, match="broken.pdf"):
        load_file(path)


def test_broken_pdf_error_carries_pypdf_warnings_and_leaves_logging_as_it_was(
        tmp_path: Path) -> None:
    import logging

    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 garbage")
    logger = logging.getLogger("pypdf")
    handlers, propagate = list(logger.handlers), logger.propagate
    with pytest.raises(LoadError) as err:
        load_file(path)
    message = str(err.value)
    assert message.startswith("broken.pdf: cannot read PDF (")
    assert "EOF marker not found" in message  # pypdf's logged warning, folded in
    assert "\n" not in message
    assert logger.handlers == handlers and logger.propagate == propagate


# --- load_corpus ---------------------------------------------------------------------------

def test_missing_folder_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")


def test_empty_folder_is_a_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no readable documents"):
        load_corpus(tmp_path)


def test_folder_of_only_bad_files_is_a_corpus_error(tmp_path: Path) -> None:
    _write(tmp_path / "bad.md", "---\nkey: [unclosed\n---\nText.\n")
    with pytest.raises(CorpusError, match="1 file"):
        load_corpus(tmp_path)


def test_tiny_corpus_loads_three_formats(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus)
    assert sorted(d.id for d in corpus.documents) == ["bees", "trains", "volcano"]
    assert corpus.skipped == ()
    bees = next(d for d in corpus.documents if d.id == "bees")
    (a,) = bees.attributions
    assert bees.text[a.start:].startswith("Comment: I love bees.")
    assert bees.author_at(a.start) == ("Jo Reader", "reader comment")


def test_bad_file_is_skipped_and_reported_while_the_rest_loads(tmp_path: Path,
                                                               tiny_corpus: Path) -> None:
    for f in tiny_corpus.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    _write(tmp_path / "broken.md", "---\ntitle: [unclosed\n---\nText.\n")
    _write(tmp_path / ".hidden.md", "# Hidden\n\nNot a reading.\n")
    _write(tmp_path / "README", "not a reading, and not reported")
    corpus = load_corpus(tmp_path)
    assert sorted(d.id for d in corpus.documents) == ["bees", "trains", "volcano"]
    assert [s.path for s in corpus.skipped] == ["broken.md"]
    assert "YAML" in corpus.skipped[0].reason


def test_broken_pdf_is_skipped_once_without_its_name_twice(tmp_path: Path) -> None:
    _write(tmp_path / "good.md", "---\ntitle: Good\n---\nThe soviet was a council.\n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    corpus = load_corpus(tmp_path)
    assert [d.id for d in corpus.documents] == ["good"]
    (skip,) = corpus.skipped
    assert skip.path == "broken.pdf"
    assert skip.reason.startswith("cannot read PDF")  # the path is given once, by `path`
    assert "EOF marker not found" in skip.reason


def test_duplicate_ids_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", "---\nid: same\n---\nFirst text.\n")
    _write(tmp_path / "b.md", "---\nid: same\n---\nSecond text.\n")
    corpus = load_corpus(tmp_path)
    assert [d.text for d in corpus.documents] == ["First text."]
    (skip,) = corpus.skipped
    assert skip.path == "b.md"
    assert "duplicate" in skip.reason and "a.md" in skip.reason


def test_same_file_name_in_two_folders_keeps_both(tmp_path: Path) -> None:
    """A folder by week with a "notes.md" in each: the first (in name order, capitals first)
    keeps the id "notes", the rest are named by their path, and the build says so; a chosen
    id that is taken is still skipped."""
    for week, text in (("week1", "Paris, 1871."), ("week2", "Kronstadt, 1921."),
                       ("week3", "Berlin, 1918.")):
        (tmp_path / week).mkdir()
        _write(tmp_path / week / "notes.md", text + "\n")
    _write(tmp_path / "week3" / "Notes.txt", "Munich, 1919.\n")
    _write(tmp_path / "week2-notes.md", "---\nid: notes\n---\nA chosen id.\n")
    corpus = load_corpus(tmp_path)
    assert [(d.id, d.text) for d in corpus.documents] == [
        ("notes", "Paris, 1871."), ("week2-notes", "Kronstadt, 1921."),
        ("week3-notes", "Munich, 1919."), ("week3-notes-2", "Berlin, 1918.")]
    assert [(n.path, n.message) for n in corpus.notes] == [
        ("week2/notes.md", "is cited as 'week2-notes': week1/notes.md has the id 'notes'"),
        ("week3/Notes.txt", "is cited as 'week3-notes': week1/notes.md has the id 'notes'"),
        ("week3/notes.md", "is cited as 'week3-notes-2': week1/notes.md has the id 'notes'"),
    ]
    (skip,) = corpus.skipped
    assert skip.path == "week2-notes.md" and "duplicate document id 'notes'" in skip.reason


def test_corpus_hash_changes_with_any_document(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", "Alpha.\n")
    before = load_corpus(tmp_path).hash
    assert load_corpus(tmp_path).hash == before
    _write(tmp_path / "a.md", "Alpha changed.\n")
    assert load_corpus(tmp_path).hash != before


# --- the shipped default corpus ------------------------------------------------------------

@pytest.fixture(scope="module")
def default_docs() -> dict[str, object]:
    corpus = load_corpus(DEFAULT_CORPUS_DIR)
    assert corpus.skipped == ()
    return {d.id: d for d in corpus.documents}


def test_default_corpus_has_exactly_the_five_readings(default_docs: dict) -> None:
    assert set(default_docs) == DEFAULT_IDS
    for doc in default_docs.values():
        assert doc.title and doc.author and len(doc.text) > 1000


@pytest.mark.parametrize("furniture", [
    "Downloading PDF", "Anti-Copyright", "Sign up for our daily email", "Retrieved on"])
def test_default_corpus_has_no_page_furniture(default_docs: dict, furniture: str) -> None:
    for doc in default_docs.values():
        assert furniture.lower() not in doc.text.lower(), (doc.id, furniture)


def test_lih_comments_are_attributed_to_the_commenters(default_docs: dict) -> None:
    lih = default_docs["lih-all-power-to-the-soviets"]
    assert lih.author == "Lars T. Lih"
    first, second = lih.attributions
    assert (first.author, first.role) == ("Felipe Stuart C.", "reader comment")
    assert (second.author, second.role) == ("Björn-Olav Kvidal", "reader comment")
    assert lih.text[first.start:].startswith("1. A fascinating and important contribution")
    assert lih.text[second.start:].startswith("2. Lars T. Lih wrote:")
    assert first.end == second.start and second.end == len(lih.text)
    assert lih.text[first.start:first.end].rstrip().endswith("Felipe Stuart C.")
    assert lih.text[second.start:second.end].rstrip().endswith("Björn-Olav Kvidal,")
    assert lih.author_at(lih.text.index("surely one of the most famous")) == ("Lars T. Lih", None)
    assert lih.author_at(lih.text.index("Sandinista")) == ("Felipe Stuart C.", "reader comment")
    assert lih.author_at(lih.text.index("Kronstadt")) == ("Björn-Olav Kvidal", "reader comment")


def test_readings_in_subfolders_load_in_path_order_and_hidden_folders_are_not_walked(
        tmp_path: Path) -> None:
    from corpus.collection import reading_files, reading_names

    def put(rel: str, title: str) -> None:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        _write(tmp_path / rel, f"---\ntitle: {title}\n---\nText of {title}.\n")

    for rel in ("b/z.md", "a-b.md", "a/b.md", "a/c/d.md", "a.md"):
        put(rel, rel)
    put(".git/x.md", "git")
    put("a/.cache/y.md", "cache")
    (tmp_path / "linked").symlink_to(tmp_path / "a", target_is_directory=True)
    files = reading_files(tmp_path)
    # The order of sorting the paths themselves ("a/…" before "a-b.md", part by part), and
    # a symlinked folder is not walked (as Path.rglob does not walk it).
    assert files == sorted(files)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "a/b.md", "a/c/d.md", "a-b.md", "a.md", "b/z.md"]
    assert reading_names(tmp_path) == [(str(f), f.relative_to(tmp_path).as_posix())
                                       for f in files]
    assert [d.title for d in load_corpus(tmp_path).documents] == [
        "a/b.md", "a/c/d.md", "a-b.md", "a.md", "b/z.md"]


def test_pdf_metadata_a_program_wrote_is_not_cited(tmp_path: Path) -> None:
    path = tmp_path / "Week 3 Reading.pdf"
    path.write_bytes(text_pdf([["The soviets held real power in 1917."]],
                              b"<< /Title (Microsoft Word - wk3.docx) /Author (user) >>"))
    (doc,) = load_file(path)
    assert (doc.title, doc.author) == ("Week 3 Reading", None)


@pytest.mark.parametrize(("title", "kept"), [
    ("Microsoft Word - Lecture 3.docx", False), ("lecture3.pdf", False), ("Untitled", False),
    ("Untitled document", False), ("  ", False), ("The Dual Power", True),
    ("Notes on the .docx format", True),
])
def test_real_title(title: str, kept: bool) -> None:
    from corpus.filemeta import real_title

    assert (real_title(title) == title) is kept


@pytest.mark.parametrize(("author", "kept"), [
    ("user", False), ("Administrator", False), ("Microsoft Office User", False),
    ("Microsoft Word", False), ("", False), ("V. I. Lenin", True), ("Lars T. Lih", True),
])
def test_real_author(author: str, kept: bool) -> None:
    from corpus.filemeta import real_author

    assert (real_author(author) == author) is kept
