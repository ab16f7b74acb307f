"""Render an answer as HTML for the chat and the source reader.

Every string that comes from a question or a document goes through `esc`, so a question like
`<img src=x onerror=alert(1)>` is shown as text. The chat's sanitiser is a second line of
defence, not the first. Output has no newlines: the chat renders messages as Markdown, and a
blank line would end the HTML block and let Markdown loose on quoted text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from corpus.document import Document
from rag.cite import DEFAULT_STYLE, STYLE_LABELS, copy_text
from rag.followup import NO_HISTORY
from rag.quotemarks import enclose
from rag.smalltalk import SMALL_TALK
from rag.types import ABSTAIN_TEXT, TENTATIVE_BADGE, TENTATIVE_TEXT

# How much of the passage to show on each side of a quote in a source card. The full
# passage can be 700 characters; a sentence or two either side is enough to judge the
# quote, and the reader view has the whole document.
CONTEXT_CHARS = 220
# How many "possibly related" passages to show when the readings don't answer.
RELATED_SHOWN = 3
RELATED_CHARS = 260

_PARAGRAPH = re.compile(r"\s*\n\s*\n\s*")
_SPACE = re.compile(r"\s+")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def esc(text: object) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape("" if text is None else str(text), quote=True)


def safe_url(url: object) -> str | None:
    """The url if it is plain http(s), else None: a `javascript:` url must never be a link."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def _flow(text: str) -> str:
    """Escape text and keep its paragraph breaks as <br>, with no newline characters."""
    parts = [_SPACE.sub(" ", p) for p in _PARAGRAPH.split(text)]
    return "<br>".join(esc(p) for p in parts)


def _trim_left(text: str, limit: int) -> str:
    """The last `limit` characters of text, cut at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "… " + (cut[space + 1:] if 0 <= space < 40 else cut)


def _trim_right(text: str, limit: int) -> str:
    """The first `limit` characters of text, cut at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + " …"


def byline(author: str | None, role: str | None, date: str | None,
           publisher: str | None = None) -> str:
    """"Author (reader comment) · date · publisher" as escaped HTML."""
    who = esc(author or "Unknown author")
    if role:
        who += f' <span class="cr-role">({esc(role)})</span>'
    parts = [f'<span class="cr-author">{who}</span>']
    if date:
        parts.append(f'<time class="cr-date">{esc(date)}</time>')
    if publisher:
        parts.append(f'<span class="cr-publisher">{esc(publisher)}</span>')
    return ' <span class="cr-dot">·</span> '.join(parts)


def reader_href(base_url: str, doc_id: str, start: int, end: int) -> str:
    """Link to the full reading with the span highlighted (see `render_reader_page`)."""
    return f"{base_url.rstrip('/')}/read/{quote(doc_id, safe='')}?start={start}&end={end}#cited"


def verified(doc: Document | None, citation: Mapping[str, Any]) -> bool:
    """True if the document's text still holds the quote at the cited offsets."""
    start, end = citation.get("start"), citation.get("end")
    return (doc is not None and isinstance(start, int) and isinstance(end, int)
            and 0 <= start < end and doc.text[start:end] == citation.get("quote"))


def quote_in_context(doc: Document | None, citation: Mapping[str, Any]) -> str:
    """The cited passage with the quote in <mark>, trimmed around it; the bare quote if the
    document's text no longer matches the citation (e.g. a reloaded chat after a corpus edit)."""
    q = str(citation.get("quote", ""))
    if doc is None or not verified(doc, citation):
        return f"<mark>{_flow(q)}</mark>"
    start, end = int(citation["start"]), int(citation["end"])
    ps = citation.get("passage_start")
    pe = citation.get("passage_end")
    ps = ps if isinstance(ps, int) and 0 <= ps <= start else start
    pe = pe if isinstance(pe, int) and end <= pe <= len(doc.text) else end
    before = _trim_left(doc.text[ps:start], CONTEXT_CHARS)
    after = _trim_right(doc.text[end:pe], CONTEXT_CHARS)
    return f"{_flow(before)}<mark>{_flow(q)}</mark>{_flow(after)}"


def _page(value: object) -> bool:
    """A page number worth showing: an int, or a short label such as "xii" (the citation may
    come back from the browser's storage, so nothing else is trusted)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and 0 < len(value) <= 20)


def pages_label(start: object, end: object) -> str | None:
    """"p. 12" or "pp. 12–13" for a citation's pages, None when the page is unknown."""
    if not _page(start):
        return None
    if not _page(end) or end == start:
        return f"p. {start}"
    return f"pp. {start}–{end}"


def _source_card(c: Mapping[str, Any], doc: Document | None, uid: str, base_url: str,
                 citation_style: str = DEFAULT_STYLE) -> str:
    """One entry of the sources list: number, title (linked), byline, quote in context, and
    a "Copy citation" button (ui/static/chat.js copies its text on click)."""
    n = esc(c.get("n"))
    title = esc(c.get("title") or (doc.title if doc else c.get("doc_id")))
    url = safe_url(c.get("url"))
    heading = (f'<a class="cr-title" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
               f'{title}</a>' if url else f'<span class="cr-title">{title}</span>')
    links = []
    if doc is not None and verified(doc, c):
        href = reader_href(base_url, doc.id, c["start"], c["end"])
        links.append(f'<a class="cr-read" href="{esc(href)}" target="_blank" rel="noopener">'
                     f'Read it in the full text<span class="cr-sr"> ({title})</span></a>')
    if url:
        links.append(f'<a class="cr-orig" href="{esc(url)}" target="_blank" '
                     f'rel="noopener noreferrer">Original source</a>')
    if doc is not None and verified(doc, c):
        copy = copy_text(doc, str(c["quote"]), citation_style, c.get("page_start"),
                         c.get("page_end"))
        # Gradio's sanitiser drops data-* and aria-* attributes, but keeps a button's
        # `value` and the `hidden` attribute: the plain text rides in `value` (its line breaks
        # as &#10;, since a raw blank line would end the HTML block for the Markdown
        # renderer), the rich text (the style's italics) in a hidden span. The label names
        # the style, so a student sees what the course asks for.
        plain = esc(copy.text).replace("\n", "&#10;")
        links.append(f'<button type="button" class="cr-copy" value="{plain}">'
                     f'<span class="cr-copy-label">Copy citation'
                     f'<span class="cr-sr"> for source {n}</span> '
                     f'<span class="cr-copy-style">({esc(STYLE_LABELS[citation_style])})'
                     f'</span></span><span class="cr-cite-rich" hidden>{copy.html}</span>'
                     f'</button>')
    links_html = f'<p class="cr-links">{" ".join(links)}</p>' if links else ""
    who = byline(c.get("author"), c.get("role"), c.get("date"), doc.publisher if doc else None)
    label = pages_label(c.get("page_start"), c.get("page_end"))
    # The leading space keeps "Title p. 12" apart when copied or read aloud (flex hides it).
    pages = f'<span class="cr-pages"> {esc(label)}</span>' if label else ""
    return (f'<li class="cr-source" id="{uid}-src-{n}">'
            f'<p class="cr-source-head"><span class="cr-num">{n}</span>'
            f'{heading}{pages}</p>'
            f'<p class="cr-byline">{who}</p>'
            f'<blockquote class="cr-context">{quote_in_context(doc, c)}</blockquote>'
            f'{links_html}</li>')


def _best_sentence(doc: Document | None, p: Mapping[str, Any]) -> dict[str, Any] | None:
    """A citation-shaped dict for the passage's best sentence, if it is valid."""
    bs, be, ps, pe = p.get("best_start"), p.get("best_end"), p.get("start"), p.get("end")
    if doc is None or not all(isinstance(v, int) for v in (bs, be, ps, pe)):
        return None
    if not ps <= bs < be <= pe <= len(doc.text):  # type: ignore[operator]
        return None
    return {"quote": doc.text[bs:be], "start": bs, "end": be,  # type: ignore[misc]
            "passage_start": ps, "passage_end": pe}


def _related(passages: Sequence[Mapping[str, Any]], documents: Mapping[str, Document],
             base_url: str) -> str:
    """The "possibly related" list shown with an abstention."""
    items = []
    for p in list(passages)[:RELATED_SHOWN]:
        doc = documents.get(str(p.get("doc_id")))
        title = esc(doc.title if doc else p.get("doc_id"))
        snippet = esc(_trim_right(_SPACE.sub(" ", str(p.get("text", ""))).strip(), RELATED_CHARS))
        best = _best_sentence(doc, p)
        if best is not None:
            # The passage's best sentence, marked, so the student sees where to look.
            snippet = quote_in_context(doc, best)
        link = ""
        if doc is not None and isinstance(p.get("start"), int) and isinstance(p.get("end"), int):
            start, end = (best["start"], best["end"]) if best else (p["start"], p["end"])
            href = reader_href(base_url, doc.id, start, end)
            link = (f' <a class="cr-read" href="{esc(href)}" target="_blank" rel="noopener">'
                    f'Read the passage<span class="cr-sr"> in {title}</span></a>')
        items.append(f'<li><p class="cr-related-title">{title}</p>'
                     f'<p class="cr-related-text">{snippet}{link}</p></li>')
    if not items:
        return ""
    return ('<h4 class="cr-h">Possibly related passages <span class="cr-note">(not an answer)'
            f'</span></h4><ul class="cr-related">{"".join(items)}</ul>')


_NO_VERDICT_BADGES = {NO_HISTORY: "Needs an earlier question", SMALL_TALK: "Not a question"}


def _respelled(changes: Any) -> str:
    """Says which misspelt words were read as the readings' words (rag/spelling.py), so a
    student can see that "Kerensy" was read as "Kerensky" and ask again if it was not."""
    if not isinstance(changes, list):
        return ""
    pairs = [f"“{esc(c.get('asked'))}” as “{esc(c.get('read_as'))}”"
             for c in changes if isinstance(c, Mapping)]
    return f'<p class="cr-respelled">Read {", ".join(pairs)}.</p>' if pairs else ""


def render_answer(answer: Mapping[str, Any], documents: Mapping[str, Document],
                  uid: str = "cr", base_url: str = "",
                  citation_style: str = DEFAULT_STYLE) -> str:
    """HTML for one answer in the `Answer.to_dict()` shape (what the API returns and the
    browser keeps): quotes with [n] markers, then one source card per citation."""
    uid = _ID_UNSAFE.sub("-", uid) or "cr"
    citations = answer.get("citations") or []
    after = answer.get("followup_of")
    # Says how a follow-up was read, so a student can see which earlier question it joined.
    note = (f'<p class="cr-followup">Read as a follow-up to: “{esc(after)}”</p>'
            if isinstance(after, str) and after else "") + _respelled(answer.get("respelled"))
    if answer.get("abstained") or not citations:
        related = _related(answer.get("passages") or [], documents, base_url)
        why = answer.get("abstain_reason")
        if why in _NO_VERDICT_BADGES:
            # Not a verdict on the readings: no question, or one pointing at an earlier one.
            badge, text, reason = _NO_VERDICT_BADGES[why], "", esc(why)
        else:
            badge, text = "Not in the readings", esc(ABSTAIN_TEXT)
            reason = (f' <span class="cr-reason">{esc(why)}</span>'
                      if isinstance(why, str) else "")
        return (f'<section class="cr-answer cr-abstain"><h3 class="cr-sr">No answer</h3>'
                f'<p class="cr-abstain-text"><span class="cr-badge">{badge}</span> '
                f'{text}{reason}</p>{note}{related}</section>')
    if answer.get("tentative"):
        # Quoted, but as sure as answers that were right about half the time: say so first.
        note += (f'<p class="cr-tentative"><span class="cr-badge">{TENTATIVE_BADGE}</span> '
                 f'{esc(TENTATIVE_TEXT)}</p>')
    quotes = []
    cards = []
    for c in citations:
        n = esc(c.get("n"))
        quotes.append(f'<p class="cr-quote">{_quoted(str(c.get("quote", "")))}'
                      f'<a class="cr-marker" href="#{uid}-src-{n}">'
                      f'[<span class="cr-sr">source </span>{n}]</a></p>')
        cards.append(_source_card(c, documents.get(str(c.get("doc_id"))), uid, base_url,
                                  citation_style))
    return (f'<section class="cr-answer"><h3 class="cr-sr">Answer, quoted from the readings</h3>'
            f'{note}<div class="cr-quotes">{"".join(quotes)}</div>'
            f'<h4 class="cr-h">Sources</h4><ol class="cr-sources">{"".join(cards)}</ol>'
            f'{_cite_all(citations, documents, base_url)}</section>')


def _cite_all(citations: Sequence[Mapping[str, Any]], documents: Mapping[str, Document],
              base_url: str) -> str:
    """"Cite all sources": BibTeX and RIS downloads (GET /api/cite) of the answer's readings."""
    ids = list(dict.fromkeys(str(c.get("doc_id")) for c in citations
                             if str(c.get("doc_id")) in documents))
    if not ids:
        return ""
    query = "&".join(f"doc_id={quote(i, safe='')}" for i in ids)
    links = " ".join(
        f'<a class="cr-export" href="{esc(base_url.rstrip("/"))}/api/cite?{esc(query)}'
        f'&amp;format={fmt}" download="sources.{ext}">{label}</a>'
        for fmt, ext, label in (("bibtex", "bib", "BibTeX"), ("ris", "ris", "RIS")))
    return f'<p class="cr-cite-all">Cite all sources: {links}</p>'


def _quoted(quote: str) -> str:
    """The quote in curly double quotes, escaped, its own double quotes made single so that
    marks never double up (`rag.quotemarks`). The source card shows the passage exactly as
    written."""
    return enclose(quote, body=_flow)


def render_question(question: str) -> str:
    """The student's question, escaped, as the user's chat message."""
    return f'<p class="cr-question">{_flow(question)}</p>'


def render_error(message: str) -> str:
    """A one-line problem (e.g. an empty question) as an assistant message."""
    return f'<p class="cr-error">{esc(message)}</p>'


def render_pending() -> str:
    """The placeholder shown while the answer is being looked up."""
    return '<p class="cr-pending">Searching the readings…</p>'
