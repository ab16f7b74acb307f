"""Read one file into documents: Markdown/text with optional front matter, HTML, WordPress
REST JSON and PDF. Each loader is a small function; `load_file` picks one by content and suffix."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from corpus.document import Attribution, Document
from corpus.filemeta import real_author, real_title
from corpus.html_meta import read_html_meta
from corpus.markdown_text import plain_inline
from corpus.noterefs import mark_note_refs
from corpus.pages import join_pages, page_number, strip_page_markers
from corpus.pdftext import page_text
from corpus.textcodec import decode_text


class LoadError(Exception):
    """A file that cannot be turned into a document; the message says why in one line."""


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)


def slugify(name: str) -> str:
    """A stable, URL-safe document id from a file name or title."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "document"


def normalise_text(text: str) -> str:
    """Trim outer blank space and unify line ends; citations index into the result."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


# YAML's spellings of "no value"; the front matter is read without type guessing (below).
_YAML_NULLS = ("", "~", "null", "Null", "NULL")
# The ids the API and the reader's URLs accept (ui/api.py checks the same pattern).
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def _meta_text(meta: dict[str, Any], key: str, path: Path) -> str | None:
    """A front-matter field as written, None if absent; a list (of authors) joined by commas.

    Anything else (a mapping, a nested list, which YAML aliases can make huge) is refused
    rather than turned into its Python repr."""
    value = meta.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ", ".join(v for v in value if v not in _YAML_NULLS)
    if value is None or value in _YAML_NULLS:
        return None
    if not isinstance(value, str):
        raise LoadError(f"{path.name}: front matter '{key}' must be text")
    return value


def _attributions(text: str, specs: Any, path: Path) -> tuple[Attribution, ...]:
    """Turn front-matter `attributions: [{start_at, author, role}]` into offsets.

    Each attribution runs from where its `start_at` text begins to the next one (or the end),
    so the document text itself stays word for word.
    """
    if not specs or specs in _YAML_NULLS:
        return ()
    if not isinstance(specs, list):
        raise LoadError(f"{path.name}: 'attributions' must be a list")
    starts: list[tuple[int, str, str]] = []
    for spec in specs:
        if not isinstance(spec, dict) or not all(
                isinstance(spec.get(k), str) and spec[k] for k in ("start_at", "author")):
            raise LoadError(f"{path.name}: each attribution needs 'start_at' and 'author' text")
        if not isinstance(spec.get("role", ""), str):
            raise LoadError(f"{path.name}: an attribution's 'role' must be text")
        pos = text.find(spec["start_at"])
        if pos < 0:
            raise LoadError(f"{path.name}: attribution text not found: {spec['start_at']!r}")
        starts.append((pos, spec["author"], spec.get("role") or "reader comment"))
    starts.sort()
    ends = [s[0] for s in starts[1:]] + [len(text)]
    return tuple(Attribution(s, e, a, r) for (s, a, r), e in zip(starts, ends, strict=True))


def load_markdown(path: Path, raw: str) -> list[Document]:
    """Markdown or plain text, with optional YAML front matter for the metadata. Markdown's
    inline markup (emphasis, links, code spans, footnotes) is read as the words it shows
    (`corpus.markdown_text`); inline HTML stays as written."""
    meta: dict[str, Any] = {}
    body = raw
    m = _FRONT_MATTER.match(raw)
    if m:
        try:
            # BaseLoader: every value stays the string written, so `date: 2020-05-01`,
            # `title: 1.10` or `author: No` are not turned into a date, 1.1 or False.
            loaded = yaml.load(m.group(1), Loader=yaml.BaseLoader) or {}
        except yaml.YAMLError as e:
            raise LoadError(
                f"{path.name}: front matter is not valid YAML ({e.__class__.__name__})") from None
        except RecursionError:
            raise LoadError(f"{path.name}: front matter nested too deeply") from None
        if not isinstance(loaded, dict):
            raise LoadError(f"{path.name}: front matter must be a mapping")
        meta, body = loaded, raw[m.end():]
    if path.suffix.lower() in (".md", ".markdown"):
        # "**Pravda**" is quoted as the "Pravda" a reader sees; a .txt is no Markdown, and
        # its asterisks are its own.
        body = plain_inline(body)
    # `{{page N}}` markers record the original's page breaks; they are not quotable text.
    text, pages = strip_page_markers(normalise_text(body))
    if not text:
        raise LoadError(f"{path.name}: no text after the front matter")
    title = _meta_text(meta, "title", path) or _first_heading(text) or path.stem
    doc_id = _meta_text(meta, "id", path) or slugify(path.stem)
    if not _DOC_ID.fullmatch(doc_id):
        raise LoadError(f"{path.name}: front matter 'id' must be letters, digits, '.', '_' "
                        "or '-' (at most 200)")
    return [
        Document(
            id=doc_id,
            text=text,
            title=title,
            author=_meta_text(meta, "author", path),
            publisher=_meta_text(meta, "publisher", path),
            date=_meta_text(meta, "date", path),
            url=web_url(_meta_text(meta, "url", path)),
            source=path.name,
            attributions=_attributions(text, meta.get("attributions"), path),
            pages=pages,
        )
    ]


def web_url(url: str | None) -> str | None:
    """A reading's link, kept only if it is a web address. A `javascript:` or `data:` url in
    front matter would run in the page of any course site that makes the API's `url` a link;
    dropping it loses nothing a student could follow."""
    if url and urlsplit(url.strip()).scheme.lower() in ("http", "https") and urlsplit(
            url.strip()).netloc:
        return url.strip()
    return None


def _first_heading(text: str) -> str | None:
    m = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def html_to_text(html: str) -> str:
    """Main text of an HTML page or fragment, paragraphs separated by blank lines."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    # Note references first: flattened, "Petrograd.<sup>1</sup> The" reads "Petrograd.1 The".
    extracted = trafilatura.extract(mark_note_refs(html), include_comments=False,
                                    favor_recall=True)
    if not extracted:
        return ""
    # trafilatura puts one paragraph per line; blank lines let the chunker see paragraphs.
    return "\n\n".join(line.strip() for line in extracted.splitlines() if line.strip())


def load_html(path: Path, raw: str) -> list[Document]:
    """An HTML page: main text via trafilatura; title, author, date, publisher and url only
    as the page declares them (corpus/html_meta.py), never guessed from its text."""
    text = html_to_text(raw)
    if not text:
        raise LoadError(f"{path.name}: no main text found in the HTML")
    meta = read_html_meta(raw)
    return [
        Document(
            id=slugify(path.stem),
            text=text,
            title=meta.title or path.stem,
            author=meta.author,
            publisher=meta.publisher,
            date=meta.date,
            url=web_url(meta.url),
            source=path.name,
        )
    ]


def _inline_html_text(fragment: str) -> str:
    """Text of a short inline fragment such as a title (too short for main-text extraction)."""
    import lxml.etree
    import lxml.html

    try:
        node = lxml.html.fragment_fromstring(fragment, create_parent="span")
    except (lxml.etree.ParserError, ValueError):
        return " ".join(fragment.split())
    return " ".join(node.text_content().split())


def _is_wordpress_record(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("content"), dict)
        and isinstance(obj["content"].get("rendered"), str)
    )


def _text(value: Any) -> str | None:
    """A JSON field that should be text: the text, or None for anything else or blank."""
    return value if isinstance(value, str) and value.strip() else None


def _wordpress_document(rec: dict[str, Any], path: Path) -> Document:
    # Fields of the wrong type (an exporter's bug, or a hostile file) count as missing.
    title_field = rec.get("title")
    title_html = _text(title_field.get("rendered") if isinstance(title_field, dict)
                       else title_field)
    title = _inline_html_text(title_html) if title_html else ""
    text = html_to_text(rec["content"]["rendered"])
    if not text:
        number = rec.get("id")
        which = f" {number}" if isinstance(number, int) else ""
        raise LoadError(f"{path.name}: WordPress record{which} has no text")
    yoast = rec.get("yoast_head_json")
    # The REST `author` field is an account number; Yoast's block has a name when present.
    author = _text(yoast.get("author")) if isinstance(yoast, dict) else None
    date = (_text(rec.get("date")) or "")[:10] or None
    slug = slugify(_text(rec.get("slug")) or title or path.stem)
    return Document(
        id=slug,
        text=text,
        title=title or slug,
        author=author,
        publisher=None,
        date=date,
        url=web_url(_text(rec.get("link"))),
        source=path.name,
    )


def load_wordpress(path: Path, raw: str) -> list[Document]:
    """A WordPress REST API record (or a list of them, as /wp-json/wp/v2/posts returns)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LoadError(f"{path.name}: not valid JSON (line {e.lineno})") from None
    except RecursionError:
        raise LoadError(f"{path.name}: JSON nested too deeply") from None
    records = obj if isinstance(obj, list) else [obj]
    if not records or not all(_is_wordpress_record(r) for r in records):
        raise LoadError(f"{path.name}: JSON is not a WordPress REST post record")
    return [_wordpress_document(r, path) for r in records]


class _Collect(logging.Handler):
    """Keeps log messages in a list instead of printing them."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _pypdf_messages() -> Iterator[list[str]]:
    """Collect what pypdf logs while one file is read. Unconfigured, its warnings reach stderr
    as bare lines ("EOF marker not found") that name no file; a broken PDF should be reported
    once, in its own "skipped" line, with pypdf's complaints folded in."""
    messages: list[str] = []
    handler = _Collect(messages)
    logger = logging.getLogger("pypdf")
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _pdf_problem(error: BaseException | None, messages: list[str]) -> str:
    """One parenthesis: the exception, then pypdf's distinct warnings (the first few)."""
    parts: list[str] = []
    if error is not None:
        name = error.__class__.__name__
        parts.append(f"{name}: {error}" if str(error) else name)
    notes = [m for m in dict.fromkeys(m.strip() for m in messages) if m and m != str(error)]
    parts += notes[:3]
    if len(notes) > 3:
        parts.append(f"and {len(notes) - 3} more warnings")
    return f" ({'; '.join(parts)})" if parts else ""


def load_pdf(path: Path) -> list[Document]:
    """A PDF's text layer, page by page (scanned PDFs without text are reported), with its
    superscript note numbers written "[1]" (`corpus.pdftext`)."""
    from pypdf import PdfReader

    with _pypdf_messages() as messages:
        try:
            reader = PdfReader(str(path))
            pages = [page_text(page) for page in reader.pages]
            info = reader.metadata
        except Exception as e:  # pypdf raises many kinds (KeyError, TypeError...) on bad files
            raise LoadError(f"{path.name}: cannot read PDF{_pdf_problem(e, messages)}") from None
        labels = _pdf_page_labels(reader, len(pages))
    text, spans = join_pages(list(zip(labels, pages, strict=True)))
    if not text:
        raise LoadError(f"{path.name}: PDF has no text layer (scanned?)"
                        f"{_pdf_problem(None, messages)}")
    title = real_title(str(info.title) if info and info.title else None) or path.stem
    author = real_author(str(info.author) if info and info.author else None)
    return [Document(id=slugify(path.stem), text=text, title=title, author=author,
                     source=path.name, pages=spans)]


def _pdf_page_labels(reader: Any, count: int) -> list[int | str]:
    """Each page's printed number: the PDF's page labels ("xii", "12"), which pypdf gives
    as the 1-based page index when the PDF declares none, or that index if they are broken."""
    try:
        labels = list(reader.page_labels)
    except Exception:  # a malformed /PageLabels tree must not lose the text
        labels = []
    if len(labels) != count:
        labels = [""] * count
    return [page_number(label, i) for i, label in enumerate(labels, start=1)]


SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".json", ".pdf", ".docx", ".epub")
MB = 1024 * 1024
# Size limits per file. 16 MB of text is some 8,000 pages, far beyond any one reading;
# past it a file is almost surely a dump or a mistake, and indexing it would take the
# bundled model hours on a laptop, so it is skipped by name (split it to index it). A PDF's
# size is mostly fonts and images, so its limit is higher.
MAX_TEXT_BYTES = 16 * MB
MAX_PDF_BYTES = 128 * MB


def _too_big(path: Path, size: int, limit: int) -> LoadError:
    return LoadError(f"{path.name}: {size / MB:.1f} MB is over the {limit // MB} MB limit for "
                     "one file; split it into smaller files")


def _read_text(path: Path, html: bool = False) -> str:
    """The file as text, reading at most `MAX_TEXT_BYTES` (a file can grow after a stat).
    Not UTF-8, it is read in the encoding an HTML file declares or charset-normalizer
    recognises (`corpus.textcodec`), with an `EncodingNote` warning naming it."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_TEXT_BYTES + 1)
    except OSError as e:
        raise LoadError(f"{path.name}: cannot read ({e.strerror or e.__class__.__name__})"
                        ) from None
    if len(data) > MAX_TEXT_BYTES:
        raise _too_big(path, max(len(data), _size(path)), MAX_TEXT_BYTES)
    text = decode_text(data, html)
    if text is None:
        raise LoadError(f"{path.name}: not text (not UTF-8, and no other encoding fits)")
    # Line ends are unified as text-mode reading would.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_file(path: Path) -> list[Document]:
    """Read one file into one or more documents, or raise `LoadError` with a one-line reason."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        if _size(path) > MAX_PDF_BYTES:
            raise _too_big(path, _size(path), MAX_PDF_BYTES)
        return load_pdf(path)
    if suffix in (".docx", ".epub"):
        from corpus.office import load_docx, load_epub  # here: office imports this module

        return load_docx(path) if suffix == ".docx" else load_epub(path)
    raw = _read_text(path, html=suffix in (".html", ".htm"))
    if not raw.strip():
        raise LoadError(f"{path.name}: file is empty")
    loader: Callable[[Path, str], list[Document]]
    # WordPress exports are often saved as .txt; sniff JSON before trusting the suffix.
    if suffix == ".json" or (suffix == ".txt" and raw.lstrip().startswith(("{", "["))
                             and '"rendered"' in raw):
        loader = load_wordpress
    elif suffix in (".html", ".htm"):
        loader = load_html
    elif suffix in (".md", ".markdown", ".txt"):
        loader = load_markdown
    else:
        raise LoadError(f"{path.name}: unsupported file type {suffix or '(none)'}")
    return loader(path, raw)
