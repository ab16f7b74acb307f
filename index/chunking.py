"""Pure functions that cut text into paragraphs, sentences and passages with exact offsets.

Every span returned here is a (start, end) pair into the text that was passed in, so that
`text[start:end]` is the unit itself. Nothing is rewritten: no stripping of inner
whitespace, no quote normalisation.
"""

from __future__ import annotations

import re
from functools import lru_cache

from index.passage import Passage

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# pysbd keeps "... ‘double sovereignty.’ This referred ..." as one sentence: a full stop
# inside closing quotes, then a capital (or an opening quote), ends a sentence too.
_AFTER_QUOTED_STOP = re.compile(r"(?<=[.!?][’”\"'])\s+(?=[A-Z“‘\"])")
# pysbd keeps a whole quotation as one sentence, so a quoted paragraph ("“One of the
# weaknesses of anarchism ... and so on.”", ten sentences) was one quote of 1,600 characters,
# of which the reader (96 tokens with the question) sees the first 400 or so. A longer
# double-quoted stretch is split again inside; a shorter one stays one sentence, as a
# quotation reads best whole. A cut needs this many words on each side (counted from the
# last cut: see _split_inside_quotations).
_QUOTATION = re.compile(r"“[^“”]+”|\"[^\"]+\"")
MAX_WHOLE_QUOTATION = 400
MIN_QUOTED_SENTENCE_WORDS = 4
# Bump when sentence or passage boundaries change (or what the models read of them,
# `index.modeltext`), so that old indexes are rebuilt.
SEGMENTATION_VERSION = 6


def _trim(text: str, start: int, end: int) -> Span | None:
    """Shrink a span to exclude outer whitespace; None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def paragraphs(text: str) -> list[Span]:
    """Spans of blank-line separated paragraphs, trimmed of outer whitespace."""
    spans: list[Span] = []
    pos = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        if (span := _trim(text, pos, m.start())) is not None:
            spans.append(span)
        pos = m.end()
    if (span := _trim(text, pos, len(text))) is not None:
        spans.append(span)
    return spans


@lru_cache(maxsize=1)
def _segmenter():  # type: ignore[no-untyped-def]
    import pysbd

    # clean=False keeps the text as is, so segments can be located in the original.
    return pysbd.Segmenter(language="en", clean=False)


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans within text[start:end], using pysbd and re-locating each in the text.

    pysbd's own char spans have been off by a few characters on some inputs, so each
    segment is found again with `str.find` from a moving cursor; the spans are exact by
    construction and never overlap.

    The segmenter's processor is called directly: `Segmenter.segment` would first locate
    every sentence itself, compiling a regex for each, which is a quarter of pysbd's time
    (6,392 texts of the readings, SciFact and SQuAD: 95.5 s against 69.5 s, the same
    sentences), only to be located again here.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for seg in _segmenter().processor(text[start:end]).process():
        piece = seg.strip()
        if not piece:
            continue
        pos = text.find(piece, cursor, end)
        if pos < 0:  # pysbd altered the text after all; keep the rest as one sentence
            break
        if spans and not any(ch.isalpha() for ch in piece):
            # A footnote marker such as "[1]" belongs to the sentence before it.
            spans[-1] = (spans[-1][0], pos + len(piece))
        else:
            spans.append((pos, pos + len(piece)))
        cursor = pos + len(piece)
    if cursor < end and (rest := _trim(text, cursor, end)) is not None:
        spans.append(rest)
    return [part for span in spans for cut in _split_after_quoted_stops(text, span)
            for part in _split_inside_quotations(text, cut)]


def _split_after_quoted_stops(text: str, span: Span) -> list[Span]:
    """`span` cut where a quoted sentence ends and a new one begins (see _AFTER_QUOTED_STOP)."""
    s, e = span
    out = []
    for m in _AFTER_QUOTED_STOP.finditer(text, s, e):
        out.append((s, m.start()))
        s = m.end()
    out.append((s, e))
    return out


def _split_inside_quotations(text: str, span: Span) -> list[Span]:
    """`span` cut between the sentences of any quotation in it longer than
    MAX_WHOLE_QUOTATION characters (see _QUOTATION): each cut starts a sentence that pysbd
    finds inside the quotation marks, when it and the part before it (since the last cut)
    have MIN_QUOTED_SENTENCE_WORDS words or more. The quotation marks stay where they are:
    the first part opens with "“", the last closes with "”"."""
    s, e = span
    cuts = []
    for m in _QUOTATION.finditer(text, s, e):
        if m.end() - m.start() <= MAX_WHOLE_QUOTATION:
            continue
        inner = sentences(text, m.start() + 1, m.end() - 1)
        last = m.start()
        for c, d in inner[1:]:
            # A short sentence ("Really.") joins the one before it, and no more.
            if min(len(text[last:c].split()), len(text[c:d].split())) >= MIN_QUOTED_SENTENCE_WORDS:
                cuts.append(c)
                last = c
    out = []
    for cut in cuts:
        out.append((s, cut))
        s = cut
    out.append((s, e))
    return [t for a, b in out if (t := _trim(text, a, b)) is not None]


# A line that ends a sentence (or a clause: "...; " and a lead-in's colon).
ENDS_SENTENCE = re.compile(r"[.!?:;][”’\"')\]]*\s*$")
# A list item's marker: a bullet or dash, "1." / "2)" / "(3)", "a)".
LIST_MARKER = r"(?:[•◦▪●*+\-–—]|\d{1,3}[.)]|\(\d{1,3}\)|[a-zA-Z]\))"
LIST_ITEM = re.compile(r"\s*" + LIST_MARKER + r"\s")
# A line ending in a comma, a hyphen or a word that cannot end a sentence runs on.
_RUNS_ON = re.compile(r"(?:[,\-–—]|\b(?:a|an|the|of|to|in|on|at|by|for|from|with|and|or|but|"
                      r"nor|that|which|who|whose|as|than|is|are|was|were|be|been|its|their|his|"
                      r"her|our|my|your|this|these|those))\s*$", re.I)
# Shorter lines are headings, signatures or verse more often than a wrapped sentence.
MIN_WRAPPED_LINE = 30
# A line this close to its paragraph's longest was cut by the wrap width, not by its writer.
FULL_LINE = 0.75


def wraps(line: str, next_line: str, width: int | None = None) -> bool:
    """Whether the break between two lines of one paragraph only wraps a sentence, as a
    PDF's text layer or a plain-text file does at every line ("... when the" / "Soviet
    and ..."): the line is long and does not end a sentence, the next is not a list item,
    and either the next starts in lower case or with a digit (not a list number), or the
    line ends in a comma, a hyphen or a word such as "the", or it is nearly as long as the
    paragraph's longest line (`width`; None when too few lines tell what full is)."""
    n = len(line.strip())
    if n < MIN_WRAPPED_LINE or ENDS_SENTENCE.search(line) or LIST_ITEM.match(next_line):
        return False
    first = next_line.lstrip()[:1]
    return (first.islower() or first.isdigit() or bool(_RUNS_ON.search(line))
            or (width is not None and n >= FULL_LINE * width))


def _line_sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of one paragraph, also breaking at line ends that are not wraps.

    A line break inside a paragraph is a list item, a verse line or a signature in
    Markdown and HTML readings, and quoting across one reads badly; in a PDF or a
    hard-wrapped text file it is mostly a wrapped sentence (`wraps`), which is split as if
    the break were a space, so that a quote is the whole sentence, line break included.
    """
    lines = []
    pos = start
    for m in re.finditer(r"\n", text[start:end]):
        lines.append((pos, start + m.start()))
        pos = start + m.end()
    lines.append((pos, end))
    width = max(len(text[s:e].strip()) for s, e in lines) if len(lines) > 2 else None
    flows = [list(lines[0])]
    for (s, e), (ns, ne) in zip(lines, lines[1:], strict=False):
        if wraps(text[s:e], text[ns:ne], width):
            flows[-1][1] = ne
        else:
            flows.append([ns, ne])
    out: list[Span] = []
    for fs, fe in flows:
        if (span := _trim(text, fs, fe)) is None:
            continue
        fs, fe = span
        if "\n" not in text[fs:fe]:
            out.extend(sentences(text, fs, fe))
        else:
            # Split with the wraps as spaces (the same length, so the offsets hold).
            flat = text[fs:fe].replace("\n", " ")
            out.extend((fs + a, fs + b) for a, b in sentences(flat))
    return out


# Kept because the same lead-ins come up question after question, and splitting their next
# paragraph costs a few milliseconds; a document's text hashes once (str caches its hash).
@lru_cache(maxsize=1024)
def sentence_after(text: str, pos: int) -> Span | None:
    """The first sentence, as `chunk_text` splits `text`, that starts at or after `pos`; None
    when there is none. What a lead-in at the end of a passage ("... how we define Dual
    Power:") announces is the first sentence of the next passage."""
    for p_start, p_end in paragraphs(text):
        if p_end <= pos:
            continue
        for span in _line_sentences(text, p_start, p_end):
            if span[0] >= pos:
                return span
    return None


def chunk_text(doc_id: str, text: str, max_chars: int = 700,
               breaks: tuple[int, ...] = ()) -> list[Passage]:
    """Cut a document into passages of whole sentences, packing paragraphs up to `max_chars`.

    Paragraphs are packed greedily; a paragraph longer than `max_chars` is split between
    sentences, and a single sentence longer than `max_chars` becomes its own passage. No
    passage spans an offset in `breaks` (where another writer's words begin).
    """
    passages: list[Passage] = []
    group: list[Span] = []

    def flush() -> None:
        if group:
            s, e = group[0][0], group[-1][1]
            passages.append(Passage(doc_id, s, e, text[s:e], tuple(group)))
            group.clear()

    for p_start, p_end in paragraphs(text):
        sents = _line_sentences(text, p_start, p_end)
        if group and p_end - group[0][0] > max_chars:
            flush()
        for sent in sents:
            crosses = any(group[0][0] < b <= sent[0] for b in breaks) if group else False
            if group and (crosses or sent[1] - group[0][0] > max_chars):
                flush()
            group.append(sent)
    flush()
    return passages
