"""Property and example tests for index.chunking: every span maps back to the text exactly."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.collection import DEFAULT_CORPUS_DIR, load_corpus
from index.chunking import (
    MAX_WHOLE_QUOTATION,
    chunk_text,
    paragraphs,
    sentence_after,
    sentences,
    wraps,
)
from index.passage import Passage

# Words, punctuation, quotes, footnote markers, unicode letters and every kind of gap the
# chunker has to cope with (spaces, single newlines, blank lines, tabs).
_PIECES = st.sampled_from([
    "Dual power", "soviets", "Lenin", "vlast", "вся власть советам", "Egalité", "“quoted”",
    "‘single’", '"plain"', "'apos'", "[1]", "[23].", "(e.g.", "Mr.", "U.S.", "3.14", "1917",
    "…", "—", "!", "?", ".", ",", ";", ":", "ÅÄÖ", "日本語", "😀", "a", "Z",
])
_GAPS = st.sampled_from([" ", "  ", "\n", "\n\n", " \n \n", "\t", "\n\n\n", ". ", ".\n\n"])
texts = st.lists(st.tuples(_PIECES, _GAPS), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts))
# Unstructured text too: arbitrary unicode with whitespace mixed in.
wild_texts = st.text(
    alphabet=st.one_of(st.characters(blacklist_categories=("Cs",)),
                       st.sampled_from([" ", "\n", "\t", ".", "“", "”", '"'])),
    max_size=300)
any_text = st.one_of(texts, wild_texts)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


def _check_passages(text: str, passages: list[Passage], max_chars: int) -> None:
    prev_end = 0
    prev_sent_end = 0
    for p in passages:
        assert text[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert p.start >= prev_end, "passages overlap or are out of order"
        prev_end = p.end
        assert p.sentences, "a passage without sentences"
        assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end
            assert s >= prev_sent_end, "sentences overlap or are out of order"
            prev_sent_end = e
            piece = text[s:e]
            assert piece == piece.strip(), f"outer whitespace in sentence {piece!r}"
        if len(p.sentences) > 1:
            assert p.end - p.start <= max_chars


@PROPERTY_SETTINGS
@given(text=any_text, max_chars=st.integers(min_value=1, max_value=400))
def test_passages_map_back_exactly(text: str, max_chars: int) -> None:
    passages = chunk_text("doc", text, max_chars=max_chars)
    _check_passages(text, passages, max_chars)
    assert all(p.doc_id == "doc" for p in passages)


@PROPERTY_SETTINGS
@given(text=any_text, max_chars=st.integers(min_value=1, max_value=400))
def test_every_non_whitespace_character_is_in_a_sentence(text: str, max_chars: int) -> None:
    covered = [False] * len(text)
    for p in chunk_text("doc", text, max_chars=max_chars):
        for s, e in p.sentences:
            for i in range(s, e):
                covered[i] = True
    missing = [(i, text[i]) for i, c in enumerate(covered) if not c and not text[i].isspace()]
    assert not missing, f"characters in no sentence: {missing[:5]}"


@PROPERTY_SETTINGS
@given(text=any_text)
def test_sentences_of_a_slice_stay_in_the_slice(text: str) -> None:
    for start, end in paragraphs(text):
        assert text[start:end] == text[start:end].strip()
        prev = start
        for s, e in sentences(text, start, end):
            assert prev <= s < e <= end
            assert text[s:e] == text[s:e].strip()
            prev = e


@PROPERTY_SETTINGS
@given(text=texts, data=st.data(), max_chars=st.integers(min_value=20, max_value=400))
def test_no_passage_spans_a_break(text: str, data: st.DataObject, max_chars: int) -> None:
    starts = sorted({s for p in chunk_text("d", text, max_chars=10_000) for s, _ in p.sentences})
    breaks = tuple(data.draw(st.lists(st.sampled_from(starts), max_size=4, unique=True))
                   if starts else ())
    passages = chunk_text("d", text, max_chars=max_chars, breaks=breaks)
    _check_passages(text, passages, max_chars)
    for p in passages:
        for b in breaks:
            # A break is a sentence start: it may begin a passage, never fall inside one.
            assert not p.start < b < p.end, (b, p.start, p.end)


@pytest.mark.parametrize("text, first", [
    # pysbd emits the marker as a segment of its own here; the chunker merges it back.
    ("Soviet power was real in 1917. [1]. The Provisional Government was weak.",
     "Soviet power was real in 1917. [1]."),
    ("Soviet power was real in 1917. [1]", "Soviet power was real in 1917. [1]"),
    ("It ended in 1917. 12. Then more.", "It ended in 1917. 12."),
    # As in the Lih reading: a marker straight after the full stop.
    ("It is the only government we have.[2]\nNext line.", "It is the only government we have.[2]"),
])
def test_footnote_marker_joins_the_sentence_before(text: str, first: str) -> None:
    pieces = [text[s:e] for s, e in sentences(text)]
    assert pieces[0] == first
    assert not any(not any(ch.isalpha() for ch in p) for p in pieces), pieces


@PROPERTY_SETTINGS
@given(text=any_text, max_chars=st.integers(min_value=1, max_value=400))
def test_the_sentence_after_a_sentence_is_the_next_one_the_chunker_made(
        text: str, max_chars: int) -> None:
    # Across passage and paragraph breaks alike: what a lead-in at a passage's end announces.
    order = [s for p in chunk_text("d", text, max_chars=max_chars) for s in p.sentences]
    for here, following in zip(order, order[1:], strict=False):
        assert sentence_after(text, here[1]) == following
    if order:
        assert sentence_after(text, order[-1][1]) is None
        assert sentence_after(text, 0) == order[0]


def test_blank_lines_are_paragraphs_and_line_breaks_end_sentences() -> None:
    text = "  First para line one\nline two.\n\n\n Second para.  \n"
    assert [text[s:e] for s, e in paragraphs(text)] == [
        "First para line one\nline two.", "Second para."]
    (p,) = chunk_text("d", text, max_chars=1000)
    assert [text[s:e] for s, e in p.sentences] == [
        "First para line one", "line two.", "Second para."]


PROSE = ("Dual power arose in Petrograd after the February Revolution, when the Soviet and "
         "the Provisional Government both claimed authority. Lenin argued that this could not "
         "last. The workers' councils grew quickly in the spring and soon every town in Russia "
         "had one. By the autumn the Bolsheviks held a majority in the Petrograd Soviet.")


@pytest.mark.parametrize("width", [40, 55, 70, 90])
def test_a_hard_wrapped_paragraph_splits_as_if_it_were_one_line(width: int) -> None:
    """A PDF's text layer and plain-text files break every line; a quote must still be the
    whole sentence, with the line breaks it spans."""
    wrapped = textwrap.fill(PROSE, width)
    assert "\n" in wrapped
    (p,) = chunk_text("d", wrapped, max_chars=1000)
    got = [wrapped[s:e].replace("\n", " ") for s, e in p.sentences]
    assert got == [PROSE[s:e] for s, e in sentences(PROSE)]


FULL = "The workers' councils grew quickly in the spring of nineteen seventeen"


@pytest.mark.parametrize(("line", "next_line", "width", "wrapped"), [
    # Runs on after "the", after "and", or into a lower-case word.
    ("Dual power arose in Petrograd after the February Revolution, when the",
     "Soviet and the Provisional Government both claimed authority.", None, True),
    ("The Soviet and the Provisional Government both claimed authority, and",
     "Lenin argued", None, True),
    ("The workers' councils grew quickly in the spring of nineteen",
     "seventeen and soon every town had one.", None, True),
    # Nearly as long as the paragraph's longest line: cut by the wrap width.
    (FULL, "Every town had one.", 72, True),
    (FULL, "Every town had one.", 120, False),   # a short line of a wider paragraph
    (FULL, "Every town had one.", None, False),  # too few lines to tell what full is
    # A sentence end, a list item, a short line, a signature.
    ("The workers' councils grew quickly in the spring of the year.",
     "every town had one.", None, False),
    ("The soviets ensure mass participation in the government of",
     "• Constant re-elections ensure accountability", None, False),
    ("Looking ahead", "the Lenin era", None, False),
    ("Björn-Olav Kvidal,", "Oslo", None, False),
])
def test_which_line_breaks_wrap_a_sentence(line: str, next_line: str, width: int | None,
                                           wrapped: bool) -> None:
    assert wraps(line, next_line, width) is wrapped


def test_long_sentence_is_its_own_passage() -> None:
    long = "word " * 60 + "end."
    text = f"Short one. {long} Short two."
    passages = chunk_text("d", text, max_chars=50)
    assert any(p.text == long.strip() for p in passages)
    _check_passages(text, passages, 50)


def test_empty_and_whitespace_texts_have_no_passages() -> None:
    assert chunk_text("d", "") == []
    assert chunk_text("d", " \n\n\t \n") == []


@pytest.mark.parametrize("max_chars", [200, 1000])
def test_default_corpus_chunks_with_exact_offsets(max_chars: int) -> None:
    corpus = load_corpus(DEFAULT_CORPUS_DIR)
    assert corpus.documents
    for doc in corpus.documents:
        breaks = tuple(a.start for a in doc.attributions)
        passages = chunk_text(doc.id, doc.text, max_chars=max_chars, breaks=breaks)
        assert passages, doc.id
        _check_passages(doc.text, passages, max_chars)
        for p in passages:
            for i in range(len(p.sentences)):
                s, e = p.sentences[i]
                assert p.sentence_text(i) == doc.text[s:e]
            for b in breaks:
                assert not p.start < b < p.end
            # No passage mixes the article's author with a commenter.
            authors = {doc.author_at(s) for s, _ in p.sentences}
            assert len(authors) == 1, (doc.id, p.start, authors)


def test_a_full_stop_inside_closing_quotes_ends_the_sentence() -> None:
    text = ("It translates as ‘dual power’ or ‘double sovereignty.’ This referred to a "
            "situation. He said “Stop.” “Go on,” she said. Mr. Smith met ‘Dr. Who’ today.")
    got = [text[s:e] for s, e in sentences(text)]
    assert got == ["It translates as ‘dual power’ or ‘double sovereignty.’",
                   "This referred to a situation.", "He said “Stop.”", "“Go on,” she said.",
                   "Mr. Smith met ‘Dr. Who’ today."]


def test_a_long_quotation_is_split_into_its_sentences() -> None:
    # pysbd keeps everything between quotation marks as one sentence: a quoted paragraph
    # would be one quote far longer than the reader reads.
    inner = ["One of the weaknesses of anarchism historically was confusion about power.",
             "People say we are against power, but the working class cannot liberate "
             "itself without creating new structures of power to run things.",
             "To run the society, that is power.",
             "If you are just running a collective, like of food distribution, that is "
             "not really power, that is collectively managing a resource.",
             "But I think that is different from social power, which comes about through "
             "struggle and through confrontation with the people that have power."]
    text = "Wetzel sums it up: “" + " ".join(inner) + "” (3). And so on."
    got = [text[s:e] for s, e in sentences(text)]
    assert got == ["Wetzel sums it up: “" + inner[0], *inner[1:-1], inner[-1] + "” (3).",
                   "And so on."]


def test_a_short_quotation_stays_one_sentence() -> None:
    text = "He said: “We have come to control you. Produce your books and papers.” Then he left."
    got = [text[s:e] for s, e in sentences(text)]
    assert got[0] == "He said: “We have come to control you. Produce your books and papers.”"


_WORDS = st.sampled_from(["power", "soviet", "workers", "the", "council", "state", "of",
                          "peasants", "and", "government", "revolution", "land"])
_QUOTED_SENTENCES = st.lists(
    st.lists(_WORDS, min_size=4, max_size=14).map(lambda w: " ".join(w).capitalize() + "."),
    min_size=1, max_size=12)


@PROPERTY_SETTINGS
@given(inner=_QUOTED_SENTENCES, opening=st.sampled_from([("“", "”"), ('"', '"')]))
def test_a_quotation_is_whole_up_to_its_limit_and_split_past_it(
        inner: list[str], opening: tuple[str, str]) -> None:
    left, right = opening
    quotation = left + " ".join(inner) + right
    text = "Lih writes: " + quotation + " The end of it."
    spans = sentences(text)
    # Exact, ordered, trimmed slices, whatever the cut.
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    got = [text[s:e] for s, e in spans]
    if len(quotation) <= MAX_WHOLE_QUOTATION or len(inner) == 1:
        assert got[0] == "Lih writes: " + quotation
    else:
        assert got[:len(inner)] == ["Lih writes: " + left + inner[0], *inner[1:-1],
                                    inner[-1] + right]


def test_a_short_sentence_in_a_long_quotation_joins_the_one_before_it() -> None:
    first = ("Of course the price of oil is going to rise, and nobody in the capitals of "
             "the West should be surprised by it, whatever their newspapers and ministers now say.")
    rest = ("You have increased the price of the wheat you sell us by three hundred "
            "percent, and the same for sugar and cement and the machines we buy from you, "
            "and you expect us to sell you our oil at the old price for ever and ever, as if "
            "nothing had happened since the war.")
    text = "The Shah said: “" + first + " Certainly! " + rest + "”"
    assert len(text) - len("The Shah said: ") > MAX_WHOLE_QUOTATION
    got = [text[s:e] for s, e in sentences(text)]
    assert got == ["The Shah said: “" + first + " Certainly!", rest + "”"]
