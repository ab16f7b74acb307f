"""Read one file into documents: Markdown/text with optional front matter, HTML, WordPress
REST JSON and PDF. Each loader is a small function; `load_file` picks one by content and suffix."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from corpus.document import Attribution, Document


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


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _attributions(text: str, specs: Any, path: Path) -> tuple[Attribution, ...]:
    """Turn front-matter `attributions: [{start_at, author, role}]` into offsets.

    Each attribution runs from where its `start_at` text begins to the next one (or the end),
    so the document text itself stays word for word.
    """
    if not specs:
        return ()
    if not isinstance(specs, list):
        raise LoadError(f"{path.name}: 'attributions' must be a list")
    starts: list[tuple[int, str, str]] = []
    for spec in specs:
        if not isinstance(spec, dict) or "start_at" not in spec or "author" not in spec:
            raise LoadError(f"{path.name}: each attribution needs 'start_at' and 'author'")
        pos = text.find(str(spec["start_at"]))
        if pos < 0:
            raise LoadError(f"{path.name}: attribution text not found: {spec['start_at']!r}")
        starts.append((pos, str(spec["author"]), str(spec.get("role", "reader comment"))))
    starts.sort()
    ends = [s[0] for s in starts[1:]] + [len(text)]
    return tuple(Attribution(s, e, a, r) for (s, a, r), e in zip(starts, ends, strict=True))


def load_markdown(path: Path, raw: str) -> list[Document]:
    """Markdown or plain text, with optional YAML front matter for the metadata."""
    meta: dict[str, Any] = {}
    body = raw
    m = _FRONT_MATTER.match(raw)
    if m:
        try:
            loaded = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as e:
            raise LoadError(
                f"{path.name}: front matter is not valid YAML ({e.__class__.__name__})") from None
        if not isinstance(loaded, dict):
            raise LoadError(f"{path.name}: front matter must be a mapping")
        meta, body = loaded, raw[m.end():]
    text = normalise_text(body)
    title = _opt_str(meta.get("title")) or _first_heading(text) or path.stem
    return [
        Document(
            id=str(meta.get("id") or slugify(path.stem)),
            text=text,
            title=title,
            author=_opt_str(meta.get("author")),
            publisher=_opt_str(meta.get("publisher")),
            date=_opt_str(meta.get("date")),
            url=_opt_str(meta.get("url")),
            source=path.name,
            attributions=_attributions(text, meta.get("attributions"), path),
        )
    ]


def _first_heading(text: str) -> str | None:
    m = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def html_to_text(html: str) -> str:
    """Main text of an HTML page or fragment, paragraphs separated by blank lines."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    extracted = trafilatura.extract(html, include_comments=False, favor_recall=True)
    if not extracted:
        return ""
    # trafilatura puts one paragraph per line; blank lines let the chunker see paragraphs.
    return "\n\n".join(line.strip() for line in extracted.splitlines() if line.strip())


def load_html(path: Path, raw: str) -> list[Document]:
    """An HTML page: main text via trafilatura, title and author from its metadata."""
    import trafilatura

    text = html_to_text(raw)
    if not text:
        raise LoadError(f"{path.name}: no main text found in the HTML")
    meta = trafilatura.extract_metadata(raw)
    return [
        Document(
            id=slugify(path.stem),
            text=text,
            title=(meta.title if meta and meta.title else path.stem),
            author=meta.author if meta else None,
            publisher=meta.sitename if meta else None,
            date=meta.date if meta else None,
            url=meta.url if meta else None,
            source=path.name,
        )
    ]


def _inline_html_text(fragment: str) -> str:
    """Text of a short inline fragment such as a title (too short for main-text extraction)."""
    import lxml.html

    return " ".join(lxml.html.fragment_fromstring(fragment, create_parent="span")
                    .text_content().split())


def _is_wordpress_record(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("content"), dict)
        and "rendered" in obj["content"]
    )


def _wordpress_document(rec: dict[str, Any], path: Path) -> Document:
    title_html = (rec.get("title") or {}).get("rendered", "")
    title = _inline_html_text(title_html) if title_html else ""
    text = html_to_text(rec["content"]["rendered"])
    if not text:
        raise LoadError(f"{path.name}: WordPress record {rec.get('id')} has no text")
    yoast = rec.get("yoast_head_json") or {}
    # The REST `author` field is an account number; Yoast's block has a name when present.
    author = yoast.get("author") if isinstance(yoast, dict) else None
    date = str(rec.get("date") or "")[:10] or None
    slug = rec.get("slug") or slugify(title or path.stem)
    return Document(
        id=slugify(str(slug)),
        text=text,
        title=title or str(slug),
        author=_opt_str(author),
        publisher=None,
        date=date,
        url=_opt_str(rec.get("link")),
        source=path.name,
    )


def load_wordpress(path: Path, raw: str) -> list[Document]:
    """A WordPress REST API record (or a list of them, as /wp-json/wp/v2/posts returns)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LoadError(f"{path.name}: not valid JSON (line {e.lineno})") from None
    records = obj if isinstance(obj, list) else [obj]
    if not records or not all(_is_wordpress_record(r) for r in records):
        raise LoadError(f"{path.name}: JSON is not a WordPress REST post record")
    return [_wordpress_document(r, path) for r in records]


def load_pdf(path: Path) -> list[Document]:
    """A PDF's text layer, page by page (scanned PDFs without text are reported)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, OSError, ValueError) as e:
        raise LoadError(f"{path.name}: cannot read PDF ({e.__class__.__name__})") from None
    text = normalise_text("\n\n".join(p.strip() for p in pages if p.strip()))
    if not text:
        raise LoadError(f"{path.name}: PDF has no text layer (scanned?)")
    title = str(info.title) if info and info.title else path.stem
    author = str(info.author) if info and info.author else None
    return [Document(id=slugify(path.stem), text=text, title=title, author=author,
                     source=path.name)]


SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".json", ".pdf")


def load_file(path: Path) -> list[Document]:
    """Read one file into one or more documents, or raise `LoadError` with a one-line reason."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return load_pdf(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LoadError(f"{path.name}: not UTF-8 text") from None
    except OSError as e:
        raise LoadError(f"{path.name}: cannot read ({e.strerror})") from None
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
