"""Quote selection: units are exact slices, lead-ins take what they announce."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.document import Attribution, Document
from index.chunking import LIST_MARKER, chunk_text
from index.embedder import HashingEmbedder
from index.passage import Passage
from index.units import quote_units
from rag.quoting import Candidate, complete_lead_in, contains, pick_quotes, score_candidates
from rag.types import Hit

TEXT = (
    "Dorr wrote columns for American readers in the fall of 1917. "
    "To explain the committee mania she used this analogy:\n\n"
    "Imagine a committee of the American Federation of Labor walking into the White House.\n\n"
    "Her book was sent to press before October."
)


def _passage(text: str = TEXT) -> Passage:
    [p] = chunk_text("dorr", text, max_chars=10_000)
    return p


def _candidates(p: Passage, question: str) -> list[Candidate]:
    """score_candidates for one passage, with the deterministic fake embedder."""
    emb = HashingEmbedder()

    def unit_vectors(hit: Hit) -> np.ndarray:
        return emb.embed([t for *_, t in quote_units(hit.passage)])

    return score_candidates(question, emb.embed([question])[0], [Hit(p, 1.0, 0)],
                            unit_vectors, lexical_weight=0.3)


def test_lead_in_takes_the_next_sentence_across_a_paragraph_break() -> None:
    p = _passage()
    lead = next(s for s in p.sentences if TEXT[s[0]:s[1]].endswith("analogy:"))
    s, e, n = complete_lead_in(p, lead[0], lead[1], 1)
    assert (s, n) == (lead[0], 2)
    assert TEXT[s:e].endswith("walking into the White House.")


def test_other_units_are_left_alone() -> None:
    p = _passage()
    first = p.sentences[0]
    assert complete_lead_in(p, first[0], first[1], 1) == (first[0], first[1], 1)
    last = p.sentences[-1]
    assert complete_lead_in(p, last[0], last[1], 1) == (last[0], last[1], 1)


def test_a_lead_in_at_the_end_of_a_passage_stays_as_it_is() -> None:
    text = "She used this analogy:"
    p = _passage(text)
    s, e = p.sentences[0]
    assert complete_lead_in(p, s, e, 1) == (s, e, 1)


def _lead_in_ending_a_passage(doc: Document) -> tuple[Passage, int, int]:
    """The passage of `doc` that ends with the lead-in, and the lead-in's span."""
    passages = chunk_text(doc.id, doc.text, max_chars=120)
    p = next(p for p in passages if doc.text[p.start:p.end].endswith("analogy:"))
    return p, p.sentences[-1][0], p.sentences[-1][1]


def test_a_lead_in_ending_its_passage_takes_the_next_passages_first_sentence() -> None:
    doc = Document("dorr", TEXT, "Dorr")
    p, s, e = _lead_in_ending_a_passage(doc)
    assert complete_lead_in(p, s, e, 1, doc) == (
        s, TEXT.index("White House.") + len("White House."), 2)


def test_a_lead_in_never_runs_on_into_another_writers_words() -> None:
    comment = TEXT.index("Imagine")
    doc = Document("dorr", TEXT, "Dorr", author="Dorr",
                   attributions=(Attribution(comment, len(TEXT), "Reader"),))
    p, s, e = _lead_in_ending_a_passage(doc)
    assert complete_lead_in(p, s, e, 1, doc) == (s, e, 1)


def test_candidates_complete_a_lead_in_from_the_document() -> None:
    doc = Document("dorr", TEXT, "Dorr")
    p, s, _ = _lead_in_ending_a_passage(doc)
    emb = HashingEmbedder()
    cands = score_candidates(
        "analogy", emb.embed(["analogy"])[0], [Hit(p, 1.0, 0)],
        lambda hit: emb.embed([t for *_, t in quote_units(hit.passage)]), 0.3, documents={
            "dorr": doc})
    lead = next(c for c in cands if c.start == s)
    assert lead.text == TEXT[lead.start:lead.end] and lead.text.endswith("White House.")
    assert lead.sentences == 2 and lead.end > p.end


def test_candidates_quote_what_the_lead_in_announces() -> None:
    p = _passage()
    question = "What analogy did Dorr use for the committee mania?"
    cands = _candidates(p, question)
    best = max(cands, key=lambda c: c.score)
    assert "American Federation of Labor" in best.text
    assert TEXT[best.start:best.end] == best.text


_words = st.sampled_from(["power", "soviet", "Lenin", "said", "this", "analogy", "the",
                          "council", "workers", "It"])
_sentence = st.builds(lambda ws, end: " ".join(ws) + end,
                      st.lists(_words, min_size=1, max_size=8), st.sampled_from([".", ":", "?"]))
# Some paragraphs are list items: a quote starts after the item's number or bullet.
_paragraph = st.builds(lambda mark, ss: mark + " ".join(ss),
                       st.sampled_from(["", "", "3. ", "- ", "(2) ", "b) "]),
                       st.lists(_sentence, min_size=1, max_size=4))
_text = st.lists(_paragraph, min_size=1, max_size=4).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(_text)
def test_units_and_lead_ins_are_exact_slices_within_the_passage(text: str) -> None:
    for p in chunk_text("d", text, max_chars=120):
        for s, e, n, unit in quote_units(p):
            assert text[s:e] == unit
            assert not re.match(LIST_MARKER + r"\s", unit)
            s2, e2, n2 = complete_lead_in(p, s, e, n)
            assert p.start <= s2 == s < e <= e2 <= p.end
            assert n2 in (n, n + 1)
            # It ends where a sentence of the passage ends, so quotes stay whole sentences.
            assert e2 in {b for _, b in p.sentences}
            # Given the document, it may end where the next passage's first sentence does.
            s3, e3, n3 = complete_lead_in(p, s, e, n, Document("d", text, "T"))
            assert s3 == s and n3 in (n, n + 1)
            assert e3 == e2 or (e2 == e == p.end and n3 == n + 1
                                and e3 in {b for q in chunk_text("d", text, max_chars=120)
                                           for _, b in q.sentences})


def test_a_question_is_never_quoted_alone_but_a_question_with_its_answer_is() -> None:
    text = ("What impact did the April Theses make on the slogan? "
            "The April Theses made the slogan official party policy.")
    p = _passage(text)
    question = "What impact did the April Theses make on the slogan?"
    cands = _candidates(p, question)
    texts = {c.text for c in cands}
    assert "What impact did the April Theses make on the slogan?" not in texts
    assert "The April Theses made the slogan official party policy." in texts
    assert text in texts  # the pair: a question, then its answer


def test_a_reference_in_parentheses_is_never_quoted_alone() -> None:
    text = ("Trotsky accused the opposition of placing elections above the party.\n"
            "(Party Congress, 8-16 March 1921.)")
    p = _passage(text)
    question = "What did Trotsky say at the March 1921 Party Congress?"
    cands = _candidates(p, question)
    assert {c.text for c in cands} == {
        "Trotsky accused the opposition of placing elections above the party."}


ANARCHISTS = (
    "Today, dual power is often used in reference to anarchist strategies and theories. "
    "Many anarchists have advocated building alternate, non-capitalist organizations to "
    "undermine capitalism and the state. Proudhon advocated a cooperative bank.")


def _units(scores: list[float], readers: list[float | None],
           text: str = ANARCHISTS) -> list[Candidate]:
    """The passage's units in `quote_units` order (a sentence, then it and the next one, and
    so on) with given scores and reader log-odds (None: no reader feature)."""
    p = _passage(text)
    hit = Hit(p, 1.0, 0)
    out = []
    for (s, e, n, t), sc, r in zip(quote_units(p), scores, readers, strict=False):
        feats = (("cosine", sc),) + ((("reader", r),) if r is not None else ())
        out.append(Candidate(0, hit, s, e, t, sc, n, feats))
    return out


def test_a_fuller_unit_the_reader_prefers_replaces_the_topic_sentence() -> None:
    units = _units([0.80, 0.78, 0.30, 0.20, 0.10], [0.65, 0.70, 0.1, -0.5, -1.0])
    topic, pair = units[0], units[1]
    assert pair.sentences == 2 and contains(pair, topic)
    assert pick_quotes(units, 3, 0.12)[0] is pair
    # The reader must prefer it, and it must score within the margin.
    assert pick_quotes(_units([0.80, 0.78, 0.30, 0.20, 0.10],
                              [0.65, 0.60, 0.1, -0.5, -1.0]), 3, 0.12)[0].text == topic.text
    assert pick_quotes(_units([0.80, 0.60, 0.30, 0.20, 0.10],
                              [0.65, 0.70, 0.1, -0.5, -1.0]), 3, 0.12)[0].text == topic.text
    # Without a reader (cosine scoring) the best unit is quoted as it is.
    assert pick_quotes(_units([0.80, 0.78, 0.30, 0.20, 0.10], [None] * 5), 3,
                       0.12)[0].text == topic.text


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=5, max_size=5),
       readers=st.lists(st.floats(-5, 5), min_size=5, max_size=5),
       max_quotes=st.integers(1, 3), margin=st.floats(0, 0.5))
def test_picked_quotes_keep_their_promises(scores: list[float], readers: list[float],
                                           max_quotes: int, margin: float) -> None:
    units = _units(scores, list(readers))
    chosen = pick_quotes(units, max_quotes, margin)
    top = sorted(units, key=lambda c: (-c.score, c.hit_rank, c.start))[0]
    first = chosen[0]
    # The first quote is the best unit, or a unit containing it that the reader prefers
    # and that scores within the margin.
    assert first is top or (contains(first, top) and first.score >= top.score - margin
                            and dict(first.features)["reader"] > dict(top.features)["reader"])
    assert all(c.score >= top.score - margin for c in chosen)
    assert sum(c.sentences for c in chosen) <= max(max_quotes, top.sentences)
    assert not any(a.overlaps(b) for i, a in enumerate(chosen) for b in chosen[i + 1:])
