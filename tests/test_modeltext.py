"""What the models read: a word hyphenated at a line end is joined again (`index.modeltext`);
the quote keeps the text as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.modeltext import for_models
from rag.pipeline import Pipeline
from rag.settings import Settings


@pytest.mark.parametrize(("text", "read"), [
    ("the revolu-\ntion of 1917", "the revolution of 1917"),
    ("Anglo-\nSaxon kings", "Anglo-\nSaxon kings"),        # a capital: a real hyphen
    ("in 1917-\n18 the war", "in 1917-\n18 the war"),      # digits: a range
    ("a list -\nnext item", "a list -\nnext item"),        # a dash, not a broken word
    ("no breaks here", "no breaks here"),
    ("wrapped\nline", "wrapped\nline"),
])
def test_for_models_joins_words_broken_at_a_line_end(text: str, read: str) -> None:
    assert for_models(text) == read


@given(st.text(alphabet=st.sampled_from(list("ab A-\n 1é")), max_size=60))
def test_for_models_only_removes_hyphen_line_breaks(text: str) -> None:
    read = for_models(text)
    assert (len(text) - len(read)) == 2 * (text.count("-\n") - read.count("-\n"))
    assert read.replace("-\n", "") == text.replace("-\n", "")
    if "-\n" not in text:
        assert read == text


@pytest.mark.parametrize(("text", "read"), [
    ("the de\ufb01nition of power", "the definition of power"),
    ("\ufb02ows and \ufb00orts, e\ufb03cient, \ufb04uid", "flows and fforts, efficient, ffluid"),
    ("revo\u00adlution", "revolution"),                       # a soft hyphen
    ("the revo\u00adlu-\ntion", "the revolution"),
])
def test_for_models_spells_out_ligatures_and_drops_soft_hyphens(text: str, read: str) -> None:
    assert for_models(text) == read


def _bm25_pipeline(tmp_path: Path, text: str) -> Pipeline:
    """A BM25 pipeline over one reading holding `text`, refusing nothing."""
    corpus = tmp_path / "readings"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(text, encoding="utf-8")
    settings = Settings.load(env={}, model="hash", corpus=str(corpus),
                             data_dir=str(tmp_path / "data"), abstain_threshold=-1.0,
                             mode="bm25")
    return Pipeline.open(settings, status=lambda _: None, progress=False)


def test_a_ligature_word_is_found_and_quoted_as_written(tmp_path: Path) -> None:
    pipeline = _bm25_pipeline(tmp_path, (
        "The soviets gave power a new de\ufb01nition in the spring of that year.\n\n"
        "The workers met every evening in the palace to decide what to do next.\n"))
    (hit, *_) = pipeline.base_retriever("bm25").search("definition", 5)
    assert "de\ufb01nition" in hit.passage.text  # found by its letters, kept as written
    # A question pasted from the PDF, ligature and all, is read the same way.
    answer = pipeline.ask("What new de\ufb01nition did the soviets give power?")
    assert answer.question == "What new de\ufb01nition did the soviets give power?"
    assert any("de\ufb01nition" in c.quote for c in answer.citations)


def test_a_hyphenated_word_is_found_and_quoted_as_written(tmp_path: Path) -> None:
    pipeline = _bm25_pipeline(tmp_path, (
        "The workers of the capital formed councils in the spring of that year, and the\n"
        "councils soon claimed authority over the army and the railways. The revolu-\n"
        "tionaries met every evening in the palace to decide what to do next.\n"))
    hits = pipeline.base_retriever("bm25").search("revolutionaries", 5)
    assert hits  # BM25 reads "revolutionaries", not "revolu" and "tionaries"
    answer = pipeline.ask("Where did the revolutionaries meet every evening?")
    quote = next(c.quote for c in answer.citations if "palace" in c.quote)
    assert "revolu-\ntionaries" in quote  # verbatim
    assert pipeline.documents["notes"].text.find(quote) >= 0


def test_the_name_check_knows_a_hyphenated_word_whole() -> None:
    from corpus.document import Document
    from index.lexicon import document_words

    words = document_words([Document("d", "The Bolshe-\nviks met.", "T")])
    assert "bolsheviks" in words
