"""Read Word (.docx) and EPUB files into documents: the text in reading order, and the
metadata only as the file's own properties declare it (never guessed from the text)."""

from __future__ import annotations

import contextlib
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from corpus.document import Document
from corpus.filemeta import real_author, real_title
from corpus.loaders import (
    MAX_TEXT_BYTES,
    MB,
    LoadError,
    _too_big,
    html_to_text,
    normalise_text,
    slugify,
)

# Both formats are zip archives whose size is mostly images, as a PDF's is mostly fonts and
# images, so the file gets the PDF's limit. The libraries unpack every member into memory,
# so the unpacked total is capped too: a small zip can declare gigabytes (a zip bomb).
MAX_PACKAGE_BYTES = 128 * MB
MAX_UNPACKED_BYTES = 512 * MB
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OPF_EVENT = "{http://www.idpf.org/2007/opf}event"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _check_package(path: Path, kind: str, marker: str) -> None:
    """Refuse, in one line, a file too big, not a zip, or a zip without the format's marker
    member, before the library sees it (its own errors for these are cryptic)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LoadError(f"{path.name}: cannot read ({e.strerror or e.__class__.__name__})"
                        ) from None
    if size > MAX_PACKAGE_BYTES:
        raise _too_big(path, size, MAX_PACKAGE_BYTES)
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except OSError as e:
        raise LoadError(f"{path.name}: cannot read ({e.strerror or e.__class__.__name__})"
                        ) from None
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise LoadError(f"{path.name}: not {_a(kind)} file (not a zip archive, as every "
                        f"{kind} is)") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise LoadError(f"{path.name}: unpacks to {unpacked / MB:.0f} MB, over the "
                        f"{MAX_UNPACKED_BYTES // MB} MB limit for one file")
    if marker not in {m.filename for m in members}:
        raise LoadError(f"{path.name}: not {_a(kind)} file (a zip archive without {marker})")


def _problem(error: BaseException, notes: list[str]) -> str:
    """One parenthesis: the exception, then the library's distinct warnings (the first few)."""
    name = error.__class__.__name__
    parts = [f"{name}: {error}" if str(error) else name]
    distinct = [n for n in dict.fromkeys(n.strip() for n in notes) if n and n != str(error)]
    parts += distinct[:3]
    if len(distinct) > 3:
        parts.append(f"and {len(distinct) - 3} more warnings")
    return f" ({'; '.join(parts)})"


@contextlib.contextmanager
def _reading(path: Path, kind: str) -> Iterator[None]:
    """Turn whatever the library raises while reading one file into one `LoadError` line,
    with its warnings folded in; the warnings are never printed on their own, where they
    would name no file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except LoadError:
            raise
        except Exception as e:  # both libraries raise many kinds (KeyError, TypeError...)
            notes = [str(w.message) for w in caught]
            raise LoadError(f"{path.name}: cannot read {kind}{_problem(e, notes)}") from None


def _clean(value: Any) -> str | None:
    """A metadata value as written, its white space collapsed; None if absent or blank."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _joined(path: Path, paragraphs: Iterable[str]) -> str:
    """Paragraphs separated by blank lines (as the other loaders give the chunker), or a
    one-line refusal when there is no text or too much of it."""
    text = normalise_text("\n\n".join(p.strip() for p in paragraphs if p.strip()))
    if not text:
        raise LoadError(f"{path.name}: no text in the document")
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise LoadError(f"{path.name}: its text is {size / MB:.1f} MB, over the "
                        f"{MAX_TEXT_BYTES // MB} MB limit for one file; split it into "
                        "smaller files")
    return text


# --- DOCX ------------------------------------------------------------------------------------

def _docx_paragraphs(container: Any) -> Iterator[str]:
    """Each paragraph's text in document order, a table's cells row by row (nested too)."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            # python-docx lists a merged cell once per grid column and row it spans; its
            # text belongs in the reading once.
            seen: set[Any] = set()
            for row in block.rows:
                for cell in row.cells:
                    if cell._tc not in seen:
                        seen.add(cell._tc)
                        yield from _docx_paragraphs(cell)
        else:
            yield block.text


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Footnotes that are Word's own furniture (the rule above the notes), not notes.
_NOTE_FURNITURE = frozenset({"separator", "continuationSeparator", "continuationNotice"})


def _docx_footnotes(document: Any) -> list[str]:
    """The document's footnotes and endnotes as lines "[1] text", numbered together in the
    order the text refers to them; each reference in the text becomes "[1]" too, the marker
    the readings use. python-docx reads neither: the references vanished from the text and
    the notes, often where a reading says where its claims come from, were lost. The notes
    follow the text, as a reading's endnotes do."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement

    notes = {**_docx_notes(document, RELATIONSHIP_TYPE.FOOTNOTES, "footnote"),
             **_docx_notes(document, RELATIONSHIP_TYPE.ENDNOTES, "endnote")}
    if not notes:
        return []
    numbers: dict[tuple[str, str], int] = {}
    kinds = {f"{_W}footnoteReference": "footnote", f"{_W}endnoteReference": "endnote"}
    for ref in list(document.element.body.iter(*kinds)):
        key = (kinds[ref.tag], ref.get(f"{_W}id", ""))
        if key not in notes:
            continue
        number = numbers.setdefault(key, len(numbers) + 1)
        mark = OxmlElement("w:t")
        mark.text = f"[{number}]"
        ref.addprevious(mark)
        ref.getparent().remove(ref)
    return [f"[{n}] {notes[key]}" for key, n in numbers.items() if notes[key]]


def _docx_notes(document: Any, reltype: str, kind: str) -> dict[tuple[str, str], str]:
    """(kind, id) -> text of each note in the part of that relationship type."""
    from lxml import etree

    part = next((r.target_part for r in document.part.rels.values()
                 if r.reltype == reltype and not r.is_external), None)
    if part is None:
        return {}
    notes = {}
    for note in etree.fromstring(part.blob).iter(f"{_W}{kind}"):
        if note.get(f"{_W}type") in _NOTE_FURNITURE:
            continue
        paragraphs = ("".join(t.text or "" for t in p.iter(f"{_W}t"))
                      for p in note.iter(f"{_W}p"))
        notes[(kind, note.get(f"{_W}id", ""))] = " ".join(
            " ".join(p.split()) for p in paragraphs if p.strip())
    return notes


def _docx_heading(document: Any) -> str | None:
    """The document's own title line: a paragraph styled "Title" near the top, else a
    "Heading 1" that opens the document. Word leaves the Title property empty unless it is
    filled in by hand, so without this most readings would be cited by their file name.
    A later Heading 1 names a section, not the reading."""
    top = [p for p in document.paragraphs[:12] if p.text.strip()]
    titled = [p for p in top if p.style is not None and p.style.name == "Title"]
    if not titled and top and top[0].style is not None and top[0].style.name == "Heading 1":
        titled = top[:1]
    return _clean(titled[0].text) if titled else None


def _docx_date(props: Any) -> str | None:
    """The creation date (else the last-modified one) as YYYY-MM-DD, if the file has one."""
    when = props.created or props.modified
    return when.strftime("%Y-%m-%d") if when else None


def load_docx(path: Path) -> list[Document]:
    """A Word document: its paragraphs (headings as lines, tables cell by cell), then its
    footnotes, and its core properties (title, author, date); without a title property,
    its title line."""
    _check_package(path, "DOCX", "[Content_Types].xml")
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE

    with _reading(path, "DOCX"):
        document = docx.Document(str(path))
        notes = _docx_footnotes(document)  # first: it writes the markers into the text
        text = _joined(path, [*_docx_paragraphs(document), *notes])
        package = document.part.package
        try:
            # Not `document.core_properties`: for a file without them python-docx makes up
            # defaults (title "Word Document", today's date), which would be cited as real.
            props = package.part_related_by(RELATIONSHIP_TYPE.CORE_PROPERTIES).core_properties
        except KeyError:
            props = None
        title = (real_title(_clean(props.title)) if props else None) or _docx_heading(document)
        author = real_author(_clean(props.author)) if props else None
        date = _docx_date(props) if props else None
    return [Document(id=slugify(path.stem), text=text, title=title or path.stem,
                     author=author, date=date, source=path.name)]


# --- EPUB ------------------------------------------------------------------------------------

class _NoSpine(Exception):
    """The package document has no <spine>, so the book has no reading order."""


def _epub_reader(path: Path) -> Any:
    """ebooklib's reader, told to refuse a book without a spine: unpatched, it fails there
    with "'NoneType' object is not iterable", which tells a user nothing."""
    from ebooklib import epub

    class Reader(epub.EpubReader):  # type: ignore[misc]
        def _load_spine(self) -> None:
            if self.container.find(f"{{{epub.NAMESPACES['OPF']}}}spine") is None:
                raise _NoSpine
            super()._load_spine()

    # ignore_ncx: the reading order comes from the spine; the table of contents is not read.
    return Reader(str(path), {"ignore_ncx": True})


def _dc(book: Any, name: str) -> list[tuple[str, dict[str, str]]]:
    """A Dublin Core field's non-blank values, in the order the file lists them."""
    found = []
    for value, attrs in book.get_metadata("DC", name):
        cleaned = _clean(value)
        if cleaned:
            found.append((cleaned, attrs or {}))
    return found


def _epub_date(book: Any) -> str | None:
    """The publication date (EPUB 2 marks it with opf:event), else the first date given;
    an ISO timestamp is cut to its day, any other form kept as written."""
    dates = _dc(book, "date")
    marked = [v for v, attrs in dates if attrs.get(_OPF_EVENT) == "publication"]
    date = next(iter(marked or [v for v, _ in dates]), None)
    return date[:10] if date and _ISO_DATE.match(date) else date


def _epub_chapters(book: Any) -> Iterator[str]:
    """The text of each XHTML document the spine lists, in spine order."""
    import ebooklib
    from ebooklib import epub

    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        # The navigation document only repeats the chapter titles; as text it would match
        # questions that name a chapter and crowd out the chapter itself.
        if (item is None or item.get_type() != ebooklib.ITEM_DOCUMENT
                or isinstance(item, epub.EpubNav)):
            continue
        yield html_to_text(item.get_content().decode("utf-8-sig", errors="replace"))


def load_epub(path: Path) -> list[Document]:
    """An EPUB book: the spine's documents in order, and its Dublin Core metadata (title,
    creator, date, publisher)."""
    _check_package(path, "EPUB", "META-INF/container.xml")
    with _reading(path, "EPUB"):
        reader = _epub_reader(path)
        try:
            book = reader.load()
        except _NoSpine:
            raise LoadError(f"{path.name}: EPUB has no spine (no reading order)") from None
        finally:
            if reader.zf is not None:  # ebooklib closes it only when the whole load succeeds
                reader.zf.close()
        reader.process()
        if not book.spine:
            raise LoadError(f"{path.name}: EPUB spine lists no documents")
        text = _joined(path, _epub_chapters(book))
        titles = _dc(book, "title")
        creators = _dc(book, "creator")
        publishers = _dc(book, "publisher")
        date = _epub_date(book)
    return [Document(
        id=slugify(path.stem),
        text=text,
        title=titles[0][0] if titles else path.stem,
        author=", ".join(v for v, _ in creators) or None,
        publisher=publishers[0][0] if publishers else None,
        date=date,
        source=path.name,
    )]
