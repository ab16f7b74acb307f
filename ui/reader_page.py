"""The reader view (`/read/{doc_id}`): a whole reading as an HTML page.

It keeps the reading's paragraphs and lists (ui/reader_layout.py), marks where each reader
comment starts and who wrote it, puts "p. 12" in the margin where a page of the original
starts, links back to the chat, and highlights the cited span `text[start:end]` in <mark>
elements, the first with id="cited" (one per block when the span crosses blocks).

Everything the page adds to the reading's words (headings, comment headers, page numbers)
carries the class `reader-aside`, so the article's text minus those elements is the
document's text, whitespace aside; tests check that.
"""

from __future__ import annotations

from itertools import pairwise

from corpus.document import Attribution, Document
from ui.reader_layout import Block, layout
from ui.render import byline, esc, safe_url

ASIDE = "reader-aside"
READER_COMMENT = "reader comment"


def _is_comment(a: Attribution) -> bool:
    return a.role.strip().lower() == READER_COMMENT


def _comment_head(a: Attribution) -> str:
    """"Comment by Felipe Stuart C.", or "By X (role)" for another kind of attribution."""
    who = f'<span class="cr-author">{esc(a.author)}</span>'
    if _is_comment(a):
        return f'<p class="{ASIDE} reader-comment-head">Comment by {who}</p>'
    return (f'<p class="{ASIDE} reader-comment-head">By {who} '
            f'<span class="cr-role">({esc(a.role)})</span></p>')


def _page_mark(labels: tuple[int | str, ...]) -> str:
    text = ", ".join(f"p. {label}" for label in labels)
    return f'<span class="{ASIDE} reader-page">{esc(text)}</span>'


class _Marks:
    """Hands out the <mark> tags: the first piece of the cited span gets id="cited" (the
    chat's links end in #cited), later pieces none, as ids are unique."""

    def __init__(self) -> None:
        self.first = True

    def open(self) -> str:
        tag = '<mark id="cited">' if self.first else "<mark>"
        self.first = False
        return tag


def _inline(text: str, block: Block, span: tuple[int, int] | None,
            pages: dict[int, tuple[int | str, ...]], marks: _Marks) -> str:
    """A block's text, escaped, cut where a page starts (marker between the pieces, never
    inside a <mark>), where the cited span starts and ends, and after a list item's bullet."""
    points = {block.start, block.end}
    if block.lead is not None:
        points.add(block.lead)
    points.update(p for p in pages if block.start < p < block.end)
    if span is not None:
        points.update(x for x in span if block.start < x < block.end)
    parts = []
    for a, z in pairwise(sorted(points)):
        if a in pages:
            parts.append(_page_mark(pages[a]))
        piece = esc(text[a:z])
        if span is not None and span[0] <= a and z <= span[1]:
            piece = f"{marks.open()}{piece}</mark>"
        if block.lead is not None and z <= block.lead:
            # The reading's own bullet, in a box of its own width so wrapped lines align.
            piece = f'<span class="reader-bullet">{piece}</span>'
        parts.append(piece)
    return "".join(parts)


def render_article(doc: Document, start: int | None, end: int | None) -> str:
    """The reading's text as an <article>: paragraphs, lists, reader comments set apart with
    their authors, page markers, and the cited span (if valid) highlighted."""
    text = doc.text
    span = ((start, end) if start is not None and end is not None
            and 0 <= start < end <= len(text) else None)
    lay = layout(doc)
    pages = dict(lay.page_marks)
    marks = _Marks()
    out: list[str] = []
    region: int | None = None
    in_list = in_section = headed = False
    for block in lay.blocks:
        if block.comment != region or (block.kind != "li" and in_list):
            if in_list:
                out.append("</ul>")
                in_list = False
        if block.comment != region:
            if in_section:
                out.append("</section>")
                in_section = False
            region = block.comment
            if region is not None:
                a = lay.comments[region]
                if _is_comment(a) and not headed:
                    out.append(f'<h2 class="{ASIDE} reader-comments-head" id="comments">'
                               f'Reader comments</h2>')
                    headed = True
                out.append(f'<section class="reader-comment" aria-label="'
                           f'{esc(("Comment by " if _is_comment(a) else "By ") + a.author)}">'
                           f"{_comment_head(a)}")
                in_section = True
        body = _inline(text, block, span, pages, marks)
        if block.kind == "li":
            if not in_list:
                out.append('<ul class="reader-list">')
                in_list = True
            out.append(f"<li>{body}</li>")
        else:
            out.append(f"<p>{body}</p>")
    if in_list:
        out.append("</ul>")
    if in_section:
        out.append("</section>")
    # Newlines between blocks keep words of adjacent blocks apart in the text a browser
    # copies (and in textContent); inside a block the text is as the reading has it.
    return '<article class="reader-text">' + "\n".join(out) + "</article>"


def _commenters(doc: Document) -> list[str]:
    """The reader commenters' names, each once, in the order they appear."""
    names = [a.author for a in sorted(doc.attributions, key=lambda a: a.start)
             if _is_comment(a)]
    return list(dict.fromkeys(names))


def _and(names: list[str]) -> str:
    escaped = [esc(n) for n in names]
    return escaped[0] if len(escaped) == 1 else ", ".join(escaped[:-1]) + " and " + escaped[-1]


def render_reader_page(doc: Document, start: int | None, end: int | None,
                       stylesheet: str, chat_url: str = "/") -> str:
    """A whole reading as an HTML page, with the cited span (if valid) in <mark id="cited">
    and a link back to the chat at `chat_url`."""
    url = safe_url(doc.url)
    source = (f' <a href="{esc(url)}" rel="noopener noreferrer">Original source</a>'
              if url else "")
    names = _commenters(doc)
    comments = (f'<p class="reader-note">Includes reader comments by '
                f'<a href="#comments">{_and(names)}</a>.</p>' if names else "")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(doc.title)}</title><link rel=\"stylesheet\" href=\"{esc(stylesheet)}\">"
            "</head><body><main class=\"reader\">"
            f"<nav class=\"reader-nav\"><a class=\"reader-back\" href=\"{esc(chat_url)}\">"
            "← Back to the chat</a></nav>"
            f"<h1>{esc(doc.title)}</h1><p class=\"cr-byline\">"
            f"{byline(doc.author, None, doc.date, doc.publisher)}{source}</p>{comments}"
            f"{render_article(doc, start, end)}</main></body></html>")
