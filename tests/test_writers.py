"""Questions that name a writer are answered from that writer's words (`rag.writers`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipeline_helpers import tiny_pipeline

from corpus.document import Attribution, Document
from index.passage import Passage
from rag.types import Hit
from rag.writers import NOBODY, Writer, Writers, WriterScopedRetriever, name_keys

ARTICLE = ("The councils met in the spring. Trotsky later wrote about it. "
           "Comment: the councils were rigged. Said by a reader.")
COMMENT_AT = ARTICLE.index("Comment:")
DOCS = {
    "price": Document("price", ARTICLE, "Key words", author="Wayne Price",
                      publisher="Red Pepper",
                      attributions=(Attribution(COMMENT_AT, len(ARTICLE), "Björn Kvidal"),)),
    "sw": Document("sw", "A worker strike began. The state fell in October.", "Soviet power",
                   author="Socialist Worker (unsigned)", publisher="Socialist Worker, issue 2577"),
    "ar": Document("ar", "Wetzel spoke of unions and syndicalism. Power is built.", "Thoughts",
                   author="Beyond Resistance", publisher="The Anarchist Library (anti-copyright)"),
    "lih": Document("lih", "Kamenev drafted the editorial in March.", "Slogan",
                    author="Lars T. Lih",
                    attributions=(Attribution(10, 20, "Felipe Stuart C."),)),
}
PRICE = Writer("price", "Wayne Price")


@pytest.mark.parametrize(("name", "person", "keys"), [
    ("Lars T. Lih", True, ["Lars T. Lih", "Lars Lih", "Lih"]),
    ("Felipe Stuart C.", True, ["Felipe Stuart C", "Felipe Stuart", "Stuart"]),
    ("Björn-Olav Kvidal", True, ["Björn-Olav Kvidal", "Kvidal"]),
    ("Socialist Worker (unsigned)", True, ["Socialist Worker", "Worker"]),
    ("Socialist Worker, issue 2577", False, ["Socialist Worker"]),
    ("The Anarchist Library (anti-copyright)", False, ["Anarchist Library"]),
    ("Plato", True, ["Plato"]),
    # Co-authors, each by name and surname; "Smith, John" is one person.
    ("A. Smith and B. Jones", True, ["A. Smith and B. Jones", "A. Smith", "Smith", "B. Jones",
                                     "Jones"]),
    ("Ann Smith; Bo Jones (eds.)", True, ["Ann Smith; Bo Jones", "Ann Smith", "Smith",
                                          "Bo Jones", "Jones"]),
    ("Ann Smith, Bo Jones", True, ["Ann Smith", "Ann Smith", "Smith", "Bo Jones", "Jones"]),
    ("Smith & Jones", True, ["Smith & Jones", "Smith", "Jones"]),
    ("Smith, John", True, ["Smith"]),
    ("(unsigned)", True, []),
])
def test_name_keys(name: str, person: bool, keys: list[str]) -> None:
    assert name_keys(name, person) == keys


@pytest.mark.parametrize(("question", "writers"), [
    ("According to Wayne Price, what did the councils do?", {PRICE}),
    ("What does Price's article say about Trotsky?", {PRICE}),
    ("What does the Red Pepper piece say about the councils?", {PRICE}),
    ("what does the red pepper piece say?", {PRICE}),          # a full name, any case
    ("According to Socialist Worker, when did the state fall?",
     {Writer("sw", "Socialist Worker (unsigned)")}),
    ("According to the Anarchist Library, what is power?", {Writer("ar", "Beyond Resistance")}),
    ("What did Kvidal say about the councils?", {Writer("price", "Björn Kvidal")}),
    ("What is the price of bread?", set()),       # "price" is a word, "Price" a name
    ("What did the Worker do?", set()),           # the readings say "worker": not a name
    ("What does the Library hold?", set()),       # a publisher is named in full only
    ("What did the councils do?", set()),
])
def test_named_writers(question: str, writers: set[Writer]) -> None:
    assert set(Writers(DOCS).named(question).writers) == writers


def test_a_question_naming_someone_the_writer_never_mentions_is_not_scoped() -> None:
    writers = Writers(DOCS)
    # Trotsky is in Price's reading; Wetzel only in another.
    assert writers.named("What does Price say about Trotsky?").writers == {PRICE}
    assert writers.named("What is mentioned both by Wayne Price and by Tom Wetzel?") is NOBODY


def test_asking_about_comments_on_a_named_reading_takes_in_its_commenters() -> None:
    named = Writers(DOCS).named("What did the commenters on Price's article say?")
    assert named.writers == {PRICE, Writer("price", "Björn Kvidal")}
    assert named.said == ("Price",)


def test_wrote_and_in_passage_follow_the_attributions() -> None:
    writers = Writers(DOCS)
    named = writers.named("According to Wayne Price, were the councils rigged?")
    assert writers.wrote(named, "price", 0)
    assert not writers.wrote(named, "price", COMMENT_AT)
    assert not writers.wrote(named, "sw", 0)
    comment = Passage("price", COMMENT_AT, len(ARTICLE), ARTICLE[COMMENT_AT:], ())
    assert not writers.in_passage(named, comment)
    assert writers.in_passage(named, Passage("price", 0, len(ARTICLE), ARTICLE, ()))


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20), st.sampled_from("ab")),
                max_size=4),
       st.integers(0, 79), st.integers(1, 40))
def test_in_passage_is_whether_a_named_writer_wrote_any_of_its_characters(
        spans: list[tuple[int, int, str]], start: int, length: int) -> None:
    text = "x" * 120
    attributions = tuple(Attribution(s, s + n, f"Commenter {who.upper()}")
                         for s, n, who in spans)
    doc = Document("d", text, "T", author="Ann Author", attributions=attributions)
    writers = Writers({"d": doc})
    passage = Passage("d", start, start + length, text[start:start + length], ())
    for question in ("What did Author say?", "What did Commenter A say?"):
        named = writers.named(question)
        assert writers.in_passage(named, passage) == any(
            writers.wrote(named, "d", o) for o in range(passage.start, passage.end))


class _Listed:
    """A retriever that returns its hits in order and remembers how deep it was asked."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.asked: list[int] = []

    def search(self, query: str, k: int) -> list[Hit]:
        self.asked.append(k)
        return self.hits[:k]


def _hit(doc_id: str, row: int) -> Hit:
    text = DOCS[doc_id].text
    return Hit(Passage(doc_id, 0, len(text), text, ()), 1.0 / (row + 1), row)


def test_the_scoped_retriever_searches_deeper_for_the_named_writers_passages() -> None:
    base = _Listed([_hit("sw", 0), _hit("ar", 1), _hit("price", 2), _hit("lih", 3)])
    scoped = WriterScopedRetriever(base, Writers(DOCS), depth=10)
    assert [h.row for h in scoped.search("What does the Red Pepper article say?", 1)] == [2]
    assert base.asked == [10]
    # Naming no one: the base ranking, as deep as asked.
    assert [h.row for h in scoped.search("What did the councils do?", 2)] == [0, 1]
    assert base.asked == [10, 2]
    # The named writer's passages are not among the first `depth`: the base ranking stays.
    shallow = WriterScopedRetriever(base, Writers(DOCS), depth=2)
    assert [h.row for h in shallow.search("According to Wayne Price?", 2)] == [0, 1]


def test_an_answer_quotes_only_the_named_writer(tmp_path: Path) -> None:
    pipeline = tiny_pipeline(tmp_path, abstain_threshold=-1.0)
    plain = pipeline.ask("What did the grandfather keep in the hives in the orchard?")
    assert any(c.author == "Jo Reader" for c in plain.citations)
    scoped = pipeline.ask("According to A. Keeper, what did the grandfather keep in the hives?")
    assert scoped.citations
    assert {(c.doc_id, c.author) for c in scoped.citations} == {("bees", "A. Keeper")}


def test_no_passage_by_the_named_writer_is_a_refusal_that_says_so(tmp_path: Path) -> None:
    pipeline = tiny_pipeline(tmp_path, abstain_threshold=-1.0, k=1, rerank_depth=1)
    retriever = pipeline.base_retriever("hybrid")
    assert isinstance(retriever, WriterScopedRetriever)
    retriever.depth = 1  # too shallow to reach the bees reading for a question on volcanoes
    answer = pipeline.ask("According to Jo Reader, what erupts from the volcano?")
    assert answer.abstained and not answer.citations
    assert answer.abstain_reason == "None of the closest passages is by “Jo Reader”."
    assert answer.passages  # still shown as possibly related


def test_either_co_author_names_their_reading() -> None:
    doc = Document("co", "Councils met in the spring.", "Two views",
                   author="Ann Smith and Bo Jones")
    writers = Writers({"co": doc})
    both = Writer("co", "Ann Smith and Bo Jones")
    assert writers.named("What do Smith and Jones say about councils?").writers == {both}
    assert writers.named("According to Jones, when did councils meet?").writers == {both}
    assert writers.named("What did Jonesy say?") is NOBODY


def test_of_several_questions_the_last_that_names_a_writer_decides() -> None:
    writers = Writers(DOCS)
    # A follow-up, searched with the question it follows.
    assert writers.named("What did Kvidal say about the councils? And Price?").writers == {
        PRICE}
    assert writers.named("What does Price say about the councils? Why?").writers == {PRICE}
    assert writers.named("What did the councils do? And the state?") is NOBODY


def test_a_follow_up_naming_another_writer_quotes_that_writer(tmp_path: Path) -> None:
    pipeline = tiny_pipeline(tmp_path, abstain_threshold=-1.0)
    first = pipeline.ask("According to A. Keeper, what do worker bees do with their wings?")
    assert {c.author for c in first.citations} == {"A. Keeper"}
    then = pipeline.ask("And Jo Reader?", history=[first.question])
    assert then.followup_of == first.question
    assert then.citations and {c.author for c in then.citations} == {"Jo Reader"}


def test_asking_about_comments_without_a_writer_takes_in_every_comment() -> None:
    named = Writers(DOCS).named("What did the commenters say about the councils?")
    assert named.writers == {Writer("price", "Björn Kvidal"), Writer("lih", "Felipe Stuart C.")}
    assert named.said == ("commenters",)
    assert Writers(DOCS).named("What did the readers say?") is NOBODY  # not the role's word


@pytest.mark.parametrize(("question", "open_ask"), [
    ("What did Felipe Stuart say?", True),
    ("What is Wayne Price's argument?", True),
    ("What does the Red Pepper article argue?", True),
    ("What did the commenters think?", True),
    ("What do the comments criticise about the article?", True),
    ("Did the commenters disagree with Wayne Price?", True),
    ("What was Felipe Stuart's response?", True),
    ("Do any commenters disagree with Lih?", True),
    ("What did Kvidal criticise about the councils?", False),  # asks about something
    ("What did Kvidal say about the councils?", False),   # asks about something
    ("What did the councils do?", False),                 # names no writer
    ("What does Lih say about vlast? And Price?", False),  # the follow-up keeps "vlast"
    ("Who is Wayne Price?", False),                       # asks about him, not his words
    ("When did Price write?", False),
    ("What about Price?", False),                          # no word for saying
])
def test_asks_what_they_say(question: str, open_ask: bool) -> None:
    assert Writers(DOCS).asks_what_they_say(question) is open_ask


def test_what_a_commenter_said_is_quoted_however_low_it_scores(tmp_path: Path) -> None:
    # A threshold no candidate reaches: only the question that asks what the writer said,
    # and nothing else, is answered.
    pipeline = tiny_pipeline(tmp_path, abstain_threshold=2.0)
    answer = pipeline.ask("What did Jo Reader say?")
    assert not answer.abstained
    assert answer.citations and {c.author for c in answer.citations} == {"Jo Reader"}
    assert pipeline.ask("What did Jo Reader say about the orchard?").abstained
    comments = pipeline.ask("What did the comments say?")
    assert not comments.abstained and {c.author for c in comments.citations} == {"Jo Reader"}
