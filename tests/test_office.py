"""Word (.docx) and EPUB readings: text in reading order, metadata only from the file's own
properties, bad files skipped by name, and citations that quote them verbatim."""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
import zipfile
from pathlib import Path

import docx
import pytest
from ebooklib import epub

from corpus.collection import load_corpus
from corpus.loaders import LoadError, load_file
from ui.cli import main

DOCX_TEXT = (
    "The Grain Question\n\n"
    "Bread was rationed in Petrograd during the winter of 1917.\n\n"
    "Queues formed before dawn outside every bakery.\n\n"
    "District\n\nRation\n\nVyborg\n\nHalf a pound\n\n"
    "The grain monopoly was declared in March."
)
EPUB_TEXT = (
    "Chapter One\n\n"
    "The river Neva froze early that year.\n\n"
    "Ferrymen waited for the ice to break.\n\n"
    "Chapter Two\n\n"
    "The lighthouse keeper recorded every storm in a green ledger."
)


def make_docx(path: Path, *, title: str = "Grain", author: str = "A. Writer",
              created: dt.datetime | None = dt.datetime(2020, 5, 1, 12, 30),
              heading_level: int = 1) -> Path:
    d = docx.Document()
    d.add_heading("The Grain Question", level=heading_level)
    d.add_paragraph("Bread was rationed in Petrograd during the winter of 1917.")
    d.add_paragraph("")  # an empty paragraph is spacing, not text
    d.add_paragraph("Queues formed before dawn outside every bakery.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "District", (0, 1): "Ration", (1, 0): "Vyborg",
                         (1, 1): "Half a pound"}.items():
        table.cell(r, c).text = text
    d.add_paragraph("The grain monopoly was declared in March.")
    props = d.core_properties
    props.title, props.author = title, author
    if created:
        props.created = props.modified = created
    d.save(str(path))
    return path


def make_epub(path: Path, *, title: str = "The Frozen River",
              creators: tuple[str, ...] = ("B. Author", "C. Editor"),
              date: str | None = "2019-03-04T10:00:00Z",
              publisher: str | None = "Harbour Press") -> Path:
    book = epub.EpubBook()
    book.set_identifier("frozen-river")
    book.set_title(title)
    book.set_language("en")
    for name in creators:
        book.add_author(name)
    if date:
        book.add_metadata("DC", "date", date)
    if publisher:
        book.add_metadata("DC", "publisher", publisher)
    one = epub.EpubHtml(title="One", file_name="one.xhtml", content=(
        "<h1>Chapter One</h1><p>The river Neva froze early that year.</p>"
        "<p>Ferrymen waited for the ice to break.</p>"))
    two = epub.EpubHtml(title="Two", file_name="two.xhtml", content=(
        "<h1>Chapter Two</h1>"
        "<p>The lighthouse keeper recorded every storm in a green ledger.</p>"))
    for item in (one, two, epub.EpubNcx(), epub.EpubNav()):
        book.add_item(item)
    book.toc = [one, two]
    # The nav page comes first in the spine, as in many books; its titles are not text.
    book.spine = ["nav", one, two]
    epub.write_epub(str(path), book)
    return path


def rewrite_zip(src: Path, dest: Path, edit: dict[str, object]) -> Path:
    """A copy of a zip with members changed (a function of the old text) or dropped (None)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            change = edit.get(info.filename, "keep")
            if change is None:
                continue
            data = zin.read(info)
            if callable(change):
                data = change(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return dest


def opf_name(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return next(n for n in z.namelist() if n.endswith(".opf"))


# --- loading ---------------------------------------------------------------------------------

def test_docx_text_and_core_properties(tmp_path: Path) -> None:
    (doc,) = load_file(make_docx(tmp_path / "Grain Notes.docx"))
    assert doc.text == DOCX_TEXT
    assert (doc.id, doc.title, doc.author, doc.date) == ("grain-notes", "Grain", "A. Writer",
                                                          "2020-05-01")
    assert doc.publisher is None and doc.url is None
    assert doc.source == "Grain Notes.docx"


_FOOTNOTES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>
<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>
</w:r></w:p></w:footnote>
<w:footnote w:id="7"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> The
ration was half a pound of bread a day.</w:t></w:r></w:p></w:footnote>
<w:footnote w:id="3"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> Rabinowitch,
</w:t></w:r><w:r><w:t>Prelude to Revolution, p. 135.</w:t></w:r></w:p></w:footnote>
</w:footnotes>"""


def with_notes(src: Path, dest: Path, kind: str, notes_xml: str, refs: dict[str, int]
               ) -> Path:
    """A copy of a DOCX with a footnotes or endnotes part (`kind` "footnote" or "endnote"),
    its relationship and content type added as Word writes them, and a reference to note
    `refs[text]` after each run ending in `text`."""
    ref = f'<w:r><w:{kind}Reference w:id="{{}}"/></w:r>'

    def document(xml: str) -> str:
        for text, note_id in refs.items():
            xml = xml.replace(f"{text}</w:t></w:r>", f"{text}</w:t></w:r>" + ref.format(note_id))
        return xml

    rewrite_zip(src, dest, {
        "word/document.xml": document,
        "word/_rels/document.xml.rels": lambda xml: xml.replace(
            "</Relationships>", f'<Relationship Id="rId{kind}" Type="http://schemas.'
            f'openxmlformats.org/officeDocument/2006/relationships/{kind}s" '
            f'Target="{kind}s.xml"/></Relationships>'),
        "[Content_Types].xml": lambda xml: xml.replace(
            "</Types>", f'<Override PartName="/word/{kind}s.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.wordprocessingml.{kind}s+xml"/></Types>'),
    })
    with zipfile.ZipFile(dest, "a") as z:
        z.writestr(f"word/{kind}s.xml", notes_xml)
    return dest


def with_footnotes(src: Path, dest: Path) -> Path:
    """Two footnotes: id 3 after "winter of 1917.", id 7 after "every bakery." (so the text
    refers to 3 first)."""
    return with_notes(src, dest, "footnote", _FOOTNOTES,
                      {"winter of 1917.": 3, "every bakery.": 7})


def test_docx_endnotes_are_numbered_with_the_footnotes(tmp_path: Path) -> None:
    footnoted = with_footnotes(make_docx(tmp_path / "plain.docx"), tmp_path / "f.docx")
    endnote = ('<w:endnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
               'main"><w:endnote w:type="separator" w:id="-1"><w:p/></w:endnote>'
               '<w:endnote w:id="1"><w:p><w:r><w:t>Declared by the Provisional Government.'
               "</w:t></w:r></w:p></w:endnote></w:endnotes>")
    both = with_notes(footnoted, tmp_path / "both.docx", "endnote", endnote,
                      {"declared in March.": 1})
    (doc,) = load_file(both)
    assert "declared in March.[3]" in doc.text
    assert doc.text.endswith("\n\n[3] Declared by the Provisional Government.")


def test_docx_footnotes_are_marked_and_kept_after_the_text(tmp_path: Path) -> None:
    (doc,) = load_file(with_footnotes(make_docx(tmp_path / "plain.docx"),
                                      tmp_path / "Grain Notes.docx"))
    assert doc.text == DOCX_TEXT.replace("winter of 1917.", "winter of 1917.[1]").replace(
        "every bakery.", "every bakery.[2]") + (
        "\n\n[1] Rabinowitch, Prelude to Revolution, p. 135."
        "\n\n[2] The ration was half a pound of bread a day.")


def test_docx_without_core_properties_invents_nothing(tmp_path: Path) -> None:
    """python-docx makes up "Word Document" and today's date for such a file; not cited."""
    full = make_docx(tmp_path / "full.docx")
    drop_rel = re.compile(r"<Relationship [^>]*core-properties[^>]*/>")
    bare = rewrite_zip(full, tmp_path / "Bare Reading.docx", {
        "docProps/core.xml": None,
        "_rels/.rels": lambda xml: drop_rel.sub("", xml),
    })
    (doc,) = load_file(bare)
    assert doc.text == DOCX_TEXT
    # The title is the document's own heading, which it does have.
    assert (doc.title, doc.author, doc.date, doc.publisher) == ("The Grain Question", None,
                                                                 None, None)


def test_docx_blank_properties_fall_back_to_the_title_line_then_the_file_name(
        tmp_path: Path) -> None:
    (doc,) = load_file(make_docx(tmp_path / "week-2.docx", title="  ", author=""))
    assert (doc.title, doc.author) == ("The Grain Question", None)
    # A "Title" paragraph is the title wherever it is near the top.
    (doc,) = load_file(make_docx(tmp_path / "week-2.docx", title="", heading_level=0))
    assert doc.title == "The Grain Question"
    # A Heading 2 names a section, not the reading.
    (doc,) = load_file(make_docx(tmp_path / "week-2.docx", title="", heading_level=2))
    assert doc.title == "week-2"


def test_epub_spine_text_and_dublin_core(tmp_path: Path) -> None:
    (doc,) = load_file(make_epub(tmp_path / "frozen-river.epub"))
    assert doc.text == EPUB_TEXT
    assert doc.title == "The Frozen River"
    assert doc.author == "B. Author, C. Editor"
    assert doc.date == "2019-03-04"
    assert doc.publisher == "Harbour Press"
    assert (doc.id, doc.source) == ("frozen-river", "frozen-river.epub")


def test_epub_missing_metadata_stays_none(tmp_path: Path) -> None:
    (doc,) = load_file(make_epub(tmp_path / "Untitled Book.epub", title="", creators=(),
                                 date=None, publisher=None))
    assert doc.text == EPUB_TEXT
    assert (doc.title, doc.author, doc.date, doc.publisher) == ("Untitled Book", None, None,
                                                                 None)


def test_epub_date_other_than_iso_is_kept_as_written(tmp_path: Path) -> None:
    (doc,) = load_file(make_epub(tmp_path / "b.epub", date="Spring 1921"))
    assert doc.date == "Spring 1921"


# --- bad files -------------------------------------------------------------------------------

def bad_files(folder: Path, tmp_path: Path) -> dict[str, str]:
    """Broken files written into `folder`, each with (a fragment of) its expected reason."""
    good_epub = make_epub(tmp_path / "source.epub")
    opf = opf_name(good_epub)
    no_spine = re.compile(r"<spine.*?</spine>", re.DOTALL)
    rewrite_zip(good_epub, folder / "no-spine.epub", {opf: lambda xml: no_spine.sub("", xml)})
    rewrite_zip(good_epub, folder / "empty-spine.epub",
                {opf: lambda xml: re.sub(r"(<spine[^>]*>).*?</spine>", r"\1</spine>", xml,
                                         flags=re.DOTALL)})
    (folder / "not-a-zip.docx").write_bytes(b"PK but not really a zip archive")
    (folder / "not-a-zip.epub").write_bytes(b"\x00\x01 binary junk")
    with zipfile.ZipFile(folder / "other-zip.docx", "w") as z:
        z.writestr("hello.txt", "a zip, but not a Word document")
    with zipfile.ZipFile(folder / "other-zip.epub", "w") as z:
        z.writestr("hello.txt", "a zip, but not a book")
    (folder / "book-renamed.docx").write_bytes(good_epub.read_bytes())
    return {
        "no-spine.epub": "EPUB has no spine (no reading order)",
        "empty-spine.epub": "EPUB spine lists no documents",
        "not-a-zip.docx": "not a DOCX file (not a zip archive",
        "not-a-zip.epub": "not an EPUB file (not a zip archive",
        "other-zip.docx": "not a DOCX file (a zip archive without [Content_Types].xml)",
        "other-zip.epub": "not an EPUB file (a zip archive without META-INF/container.xml)",
        "book-renamed.docx": "not a DOCX file (a zip archive without [Content_Types].xml)",
    }


def test_bad_files_are_skipped_by_name_and_the_rest_loads(tmp_path: Path) -> None:
    folder = tmp_path / "readings"
    folder.mkdir()
    make_docx(folder / "grain.docx")
    make_epub(folder / "river.epub")
    expected = bad_files(folder, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corpus = load_corpus(folder)
    assert [w.message for w in caught] == []  # nothing printed beside the skipped lines
    assert sorted(d.id for d in corpus.documents) == ["grain", "river"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert reasons[name].startswith(fragment), (name, reasons[name])
        assert "\n" not in reasons[name]


def test_library_warnings_are_folded_into_the_one_line(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_docx(tmp_path / "odd.docx")

    def warn_then_fail(*args: object, **kwargs: object) -> None:
        warnings.warn("unexpected element w:foo", UserWarning, stacklevel=1)
        raise KeyError("word/document.xml")

    monkeypatch.setattr(docx, "Document", warn_then_fail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(LoadError) as err:
            load_file(path)
    assert caught == []
    assert str(err.value) == ("odd.docx: cannot read DOCX (KeyError: 'word/document.xml'; "
                              "unexpected element w:foo)")


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            chunk = b" " * (1024 * 1024)
            for _ in range(600):
                f.write(chunk)
    assert path.stat().st_size < 5 * 1024 * 1024
    with pytest.raises(LoadError, match=r"^bomb\.docx: unpacks to 600 MB, over the 512 MB"):
        load_file(path)


# --- indexing and citing ---------------------------------------------------------------------

def test_build_skips_broken_files_then_answers_quote_each_format_verbatim(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "readings"
    folder.mkdir()
    make_docx(folder / "grain.docx")
    make_epub(folder / "river.epub")
    (folder / "broken.docx").write_bytes(b"not a zip")
    (folder / "broken.epub").write_bytes(b"not a zip either")
    code = main(["build", "--corpus", str(folder), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 3, err  # built, with files skipped
    assert "Traceback" not in err
    assert "Indexed 2 documents" in err
    assert sorted(ln for ln in err.splitlines() if "broken." in ln) == [
        "skipped broken.docx: not a DOCX file (not a zip archive, as every DOCX is)",
        "skipped broken.epub: not an EPUB file (not a zip archive, as every EPUB is)",
    ]
    docs = {d.id: d for d in load_corpus(folder).documents}
    for question, doc_id in [
        ("When was bread rationed in Petrograd?", "grain"),
        ("What did the lighthouse keeper record in a green ledger?", "river"),
    ]:
        code = main(["ask", question, "--json", "--corpus", str(folder), "--model", "hash",
                     "--mode", "bm25", "-k", "2"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        data = json.loads(captured.out)
        assert data["passages"][0]["doc_id"] == doc_id
        assert not data["abstained"] and data["citations"], data
        assert data["citations"][0]["doc_id"] == doc_id
        for c in data["citations"]:
            assert docs[c["doc_id"]].text[c["start"]:c["end"]] == c["quote"]
            assert c["title"] == docs[c["doc_id"]].title


def test_docx_properties_a_program_wrote_fall_back_to_the_file_name(tmp_path: Path) -> None:
    (doc,) = load_file(make_docx(tmp_path / "week-3.docx",
                                 title="Microsoft Word - week3 draft.docx",
                                 author="Administrator", heading_level=2))
    assert (doc.title, doc.author) == ("week-3", None)
