"""The metadata an HTML page declares about itself: `<meta>` tags, JSON-LD and a marked-up
publication `<time>`, read as written.

Nothing is guessed from the page's text. Extractors that search the text for dates take a
"Copyright 2024" footer for a publication date, and name normalisers turn "B. Writer" into
"B Writer"; a citation must show what the page itself says, or nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.etree
import lxml.html

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# JSON-LD nests (graphs, authors, publishers); real pages go a few levels deep, and a
# hostile one should not make the walk recurse without end.
_MAX_DEPTH = 20
# First match wins, in this order: the page's own article metadata before generic tags.
_AUTHOR_META = ("author", "article:author", "dc.creator", "dcterms.creator",
                "citation_author", "parsely-author", "sailthru.author")
_DATE_META = ("article:published_time", "datepublished", "citation_publication_date",
              "citation_date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date",
              "date", "parsely-pub-date", "sailthru.date")
_PUBLISHER_META = ("og:site_name", "citation_publisher", "dc.publisher", "dcterms.publisher",
                   "publisher", "application-name")
_TITLE_META = ("og:title", "citation_title", "dc.title", "dcterms.title", "twitter:title")
_URL_META = ("og:url",)


@dataclass(frozen=True)
class HtmlMeta:
    """What a page declares; None where it declares nothing."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    publisher: str | None = None
    url: str | None = None


def _clean(value: object) -> str | None:
    """Whitespace collapsed, nothing else changed; None for empty or non-text values."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    text = " ".join(str(value).split())
    return text or None


def _date(value: object) -> str | None:
    """An ISO timestamp cut to its day (as WordPress dates are); any other form as written."""
    text = _clean(value)
    if text and _ISO_DATE.match(text):
        return text[:10]
    return text


def _meta_tags(root: Any) -> dict[str, list[str]]:
    """`<meta name|property|itemprop=... content=...>` by lower-cased key, in page order."""
    tags: dict[str, list[str]] = {}
    for el in root.iter("meta"):
        key = el.get("name") or el.get("property") or el.get("itemprop")
        content = _clean(el.get("content"))
        if key and content:
            tags.setdefault(key.strip().lower(), []).append(content)
    return tags


def _first(tags: dict[str, list[str]], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if tags.get(key):
            return tags[key][0]
    return None


def _meta_author(tags: dict[str, list[str]]) -> str | None:
    """All names under the first author key (papers list one tag per author). Profile links
    (`article:author` is often a URL) are not names."""
    for key in _AUTHOR_META:
        names = [v for v in tags.get(key, ()) if not v.lower().startswith(("http:", "https:"))]
        if names:
            return ", ".join(dict.fromkeys(names))
    return None


def _json_ld_nodes(root: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page (top level, lists and `@graph`), in page order."""
    nodes: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue  # broken JSON-LD declares nothing
        nodes.extend(_objects(data, 0))
    return nodes


def _objects(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        yield from _objects(data.get("@graph"), depth + 1)


def _names(value: Any, by_id: dict[str, dict[str, Any]], depth: int = 0) -> list[str]:
    """Names in a JSON-LD author/publisher value: text, a Person, an `@id` reference, a list."""
    if depth > _MAX_DEPTH:
        return []
    if isinstance(value, list):
        return [n for v in value for n in _names(v, by_id, depth + 1)]
    if isinstance(value, dict):
        name = _clean(value.get("name"))
        if name is None and isinstance(value.get("@id"), str) and value["@id"] in by_id:
            name = _clean(by_id[value["@id"]].get("name"))
        return [name] if name else []
    name = _clean(value)
    return [name] if name else []


def _json_ld(root: Any) -> HtmlMeta:
    nodes = _json_ld_nodes(root)
    by_id = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
    author = date = publisher = title = None
    for node in nodes:
        author = author or ", ".join(_names(node.get("author"), by_id)) or None
        date = date or _date(node.get("datePublished"))
        publisher = publisher or ", ".join(_names(node.get("publisher"), by_id)) or None
        title = title or _clean(node.get("headline"))
    return HtmlMeta(title=title, author=author, date=date, publisher=publisher)


def _marked_time(root: Any) -> str | None:
    """A `<time>` marked as the publication date (`itemprop`, `pubdate`, WordPress's class).

    Other `<time>` elements may be any date the text mentions, so they are not used."""
    for el in root.iter("time"):
        classes = (el.get("class") or "").split()
        if (el.get("itemprop") == "datePublished" or el.get("pubdate") is not None
                or "published" in classes):
            found = _date(el.get("datetime"))
            if found:
                return found
    return None


def _page_title(root: Any) -> str | None:
    title = root.find(".//title")
    if title is not None and _clean(title.text_content()):
        return _clean(title.text_content())
    h1 = root.find(".//h1")
    return _clean(h1.text_content()) if h1 is not None else None


def _canonical(root: Any) -> str | None:
    for el in root.iter("link"):
        if "canonical" in (el.get("rel") or "").lower().split():
            return _clean(el.get("href"))
    return None


def parse_html(html: str) -> Any | None:
    """The page's element tree (comments left out), or None when lxml cannot parse it."""
    try:
        # Bytes, not str: lxml refuses a str that carries an XML encoding declaration, as an
        # EPUB's pages do.
        return lxml.html.document_fromstring(
            html.encode("utf-8", "replace"),
            parser=lxml.html.HTMLParser(encoding="utf-8", remove_comments=True))
    except (lxml.etree.ParserError, ValueError):
        return None


def read_html_meta(html: str) -> HtmlMeta:
    """The page's declared title, author, date, publisher and url (None where undeclared)."""
    root = parse_html(html)
    if root is None:
        return HtmlMeta()
    tags = _meta_tags(root)
    ld = _json_ld(root)
    return HtmlMeta(
        title=_first(tags, _TITLE_META) or ld.title or _page_title(root),
        author=ld.author or _meta_author(tags),
        date=ld.date or _date(_first(tags, _DATE_META)) or _marked_time(root),
        publisher=_first(tags, _PUBLISHER_META) or ld.publisher,
        url=_canonical(root) or _first(tags, _URL_META),
    )
