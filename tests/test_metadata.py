"""A loader never invents metadata: a date or author comes only from what the file declares
(meta tags, JSON-LD, a marked-up `<time>`, front matter), as written, or stays empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.html_meta import read_html_meta
from corpus.loaders import load_file, web_url

ARTICLE = ("<article><h1>Volcanoes explained</h1>"
           "<p>A volcano is an opening in the crust of a planet through which molten rock "
           "escapes. Magma that reaches the surface is called lava.</p>"
           "<p>Mount Vesuvius erupted in the year 79 and buried the Roman town of Pompeii "
           "under ash. Many volcanoes form where tectonic plates meet.</p></article>")


def page(head: str = "", body_end: str = "") -> str:
    return (f"<!doctype html><html><head><title>Volcanoes explained</title>{head}</head>"
            f"<body><nav>Home | About</nav>{ARTICLE}{body_end}</body></html>")


def load_html(tmp_path: Path, html: str, name: str = "page.html") -> tuple[str | None, ...]:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    (doc,) = load_file(path)
    assert "molten rock escapes" in doc.text
    return doc.author, doc.date, doc.publisher, doc.url


def test_copyright_footer_is_not_a_date(tmp_path: Path) -> None:
    html = page(body_end="<footer>Copyright 2024 Example Site. Updated March 3, 2023."
                         "</footer>")
    assert load_html(tmp_path, html) == (None, None, None, None)


def test_dates_in_the_text_are_not_a_date(tmp_path: Path) -> None:
    """Neither a date in a sentence nor an unmarked <time> is the publication date."""
    html = page(body_end="<p>Posted on 2021-06-01.</p><time datetime='2019-01-01'>then</time>")
    assert load_html(tmp_path, html)[1] is None


def test_meta_author_keeps_its_punctuation(tmp_path: Path) -> None:
    html = page('<meta name="author" content="B. Writer">',
                "<footer>Copyright 2024 Example Site.</footer>")
    assert load_html(tmp_path, html) == ("B. Writer", None, None, None)


def test_the_tiny_corpus_page_keeps_its_author_and_has_no_date(tiny_corpus: Path) -> None:
    (doc,) = load_file(tiny_corpus / "volcano.html")
    assert (doc.author, doc.date) == ("V. Lava", None)


def test_json_ld_author_and_date_published(tmp_path: Path) -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle",
          "headline": "Volcanoes explained", "datePublished": "2021-05-03T10:00:00+02:00",
          "author": [{"@type": "Person", "name": "Dr. A. Vulcan"},
                     {"@type": "Person", "name": "C. O'Brien-Smith"}],
          "publisher": {"@type": "Organization", "name": "Geo Weekly"}}
    html = page(f'<script type="application/ld+json">{json.dumps(ld)}</script>',
                "<footer>Copyright 2024</footer>")
    assert load_html(tmp_path, html) == (
        "Dr. A. Vulcan, C. O'Brien-Smith", "2021-05-03", "Geo Weekly", None)


def test_json_ld_graph_with_author_reference(tmp_path: Path) -> None:
    """Yoast's shape: the article's author is an @id pointing at a Person in the graph."""
    ld = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "@id": "https://geo.example/#website", "name": "Geo"},
        {"@type": "Article", "author": {"@id": "https://geo.example/#/person/1"},
         "datePublished": "2020-02-29"},
        {"@type": "Person", "@id": "https://geo.example/#/person/1", "name": "J. R. Magma"}]}
    html = page(f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    assert load_html(tmp_path, html)[:2] == ("J. R. Magma", "2020-02-29")


def test_open_graph_and_canonical(tmp_path: Path) -> None:
    html = page('<meta property="article:published_time" content="2018-11-05T08:00:00Z">'
                '<meta property="article:author" content="https://facebook.com/someone">'
                '<meta name="author" content="E. Ash">'
                '<meta property="og:site_name" content="Geo Weekly">'
                '<link rel="canonical" href="https://geo.example/volcanoes">')
    assert load_html(tmp_path, html) == (
        "E. Ash", "2018-11-05", "Geo Weekly", "https://geo.example/volcanoes")


def test_marked_up_publication_time(tmp_path: Path) -> None:
    html = page(body_end='<p>Posted <time class="entry-date published" '
                         'datetime="2017-07-07T12:00:00+00:00">July 7</time></p>')
    assert load_html(tmp_path, html)[1] == "2017-07-07"


def test_broken_json_ld_declares_nothing(tmp_path: Path) -> None:
    html = page('<script type="application/ld+json">{"author": "X. Y.", </script>'
                '<script type="application/ld+json">' + "[" * 5000 + "</script>")
    assert load_html(tmp_path, html) == (None, None, None, None)


def test_read_html_meta_of_nothing() -> None:
    meta = read_html_meta("")
    assert (meta.title, meta.author, meta.date, meta.publisher, meta.url) == (None,) * 5


def test_front_matter_is_taken_verbatim(tmp_path: Path) -> None:
    """Values stay the strings written: no date parsing, no YAML 1.1 booleans or floats."""
    path = tmp_path / "notes.md"
    path.write_text("---\ntitle: 1.10\nauthor: B. Writer\ndate: 2020-05-01T10:00:00Z\n"
                    "publisher: No\nurl: null\n---\nCopyright 2024. Body text.\n",
                    encoding="utf-8")
    (doc,) = load_file(path)
    assert (doc.title, doc.author, doc.date, doc.publisher, doc.url) == (
        "1.10", "B. Writer", "2020-05-01T10:00:00Z", "No", None)


def test_front_matter_author_list_is_joined(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("---\nauthor: [A. One, B. Two]\n---\nText.\n", encoding="utf-8")
    (doc,) = load_file(path)
    assert doc.author == "A. One, B. Two"


def test_no_front_matter_means_no_author_or_date(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nBy B. Writer, 12 May 2020. Copyright 2024.\n", encoding="utf-8")
    (doc,) = load_file(path)
    assert (doc.title, doc.author, doc.date, doc.url) == ("Notes", None, None, None)


@pytest.mark.parametrize("url, kept", [
    ("https://example.org/a", "https://example.org/a"),
    ("http://example.org", "http://example.org"),
    ("javascript:alert(1)", None),
    ("JavaScript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("//example.org/a", None),
    ("example.org", None),
    (None, None),
])
def test_only_web_urls_are_kept(url: str | None, kept: str | None) -> None:
    """A reading's url reaches API clients, who may make it a link: only http(s) survives."""
    assert web_url(url) == kept
