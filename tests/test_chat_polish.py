"""The chat's polish for newcomers (issue 10, item 6): quote marks that never double up, the
readings list, settings in a student's words, example buttons. Browser checks are in
test_chat_polish_browser.py."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.document import Document
from rag.pipeline import Pipeline
from rag.settings import MODES, Settings
from ui.chat import EXAMPLES, MODE_CHOICES, ChatApp, example_questions, readings_list
from ui.render import _quoted

TINY = Path(__file__).parent / "data" / "tiny"
DOUBLE = '"“”'
MARKS = DOUBLE + "‘’'"
NNBSP = "\u202f"


def shown(rendered: str) -> str:
    """What the reader sees of `_quoted`'s HTML: tags gone (only <br>), entities decoded."""
    return html.unescape(rendered.replace("<br>", "\n"))


def words(text: str) -> str:
    """Everything but quote marks and spacing: what must never change."""
    return "".join(ch for ch in text if ch not in MARKS and not ch.isspace())


# -- quote marks -------------------------------------------------------------------------

@pytest.mark.parametrize(("quote", "expected"), [
    # The case: a quote opening with a quotation of its own.
    ('"Dual Power" was a term first used by Lenin.',
     f"“{NNBSP}‘Dual Power’ was a term first used by Lenin.”"),
    ("“Dual Power” was a term.", f"“{NNBSP}‘Dual Power’ was a term.”"),
    ("The Russian word “sovet” simply means council.",
     "“The Russian word ‘sovet’ simply means council.”"),
    ('He said "no."', f"“He said ‘no.’{NNBSP}”"),
    # One quotation from end to end: its own pair, curled, and nothing more.
    ('"All power to the soviets!"', "“All power to the soviets!”"),
    ("“All power to the soviets!”", "“All power to the soviets!”"),
    ("A plain sentence.", "“A plain sentence.”"),
    ("The phrase ‘dual power’ came out of it.", "“The phrase ‘dual power’ came out of it.”"),
    ("‘Dual power’ is older.", f"“{NNBSP}‘Dual power’ is older.”"),
    ('A "quoted" word (and "another").', "“A ‘quoted’ word (and ‘another’).”"),
])
def test_quote_marks_never_double_up(quote: str, expected: str) -> None:
    assert shown(_quoted(quote)) == expected


def test_quoted_text_is_still_escaped() -> None:
    out = _quoted('<img src=x onerror=alert("x")>')
    assert "<img" not in out and "&lt;img" in out
    assert shown(out) == "“<img src=x onerror=alert(‘x’)>”"


QUOTES = st.text(alphabet=st.sampled_from(list("ab Z9.,;:!?()-—\n<>&") + list(MARKS)),
                 max_size=60)


@given(QUOTES)
def test_quoted_changes_only_quote_marks(quote: str) -> None:
    assert words(shown(_quoted(quote))) == words(quote)


@given(QUOTES)
def test_quoted_has_one_pair_of_double_marks_and_space_beside_inner_marks(quote: str) -> None:
    out = shown(_quoted(quote))
    assert out[0] == "“" and out[-1] == "”"
    # Every double mark of the quote became a single one (or is the outer pair itself).
    assert not any(ch in DOUBLE for ch in out[1:-1])
    # Never two marks side by side at the edges, e.g. “‘ or ’”.
    inner = out[1:-1]
    assert not (inner[:1] and inner[0] in MARKS) and not (inner[-1:] and inner[-1] in MARKS)


# -- readings list -----------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs))


DOCS = {
    "lih": Document(id="lih", text="x", title="‘All Power to the Soviets’", author="Lars T. Lih"),
    "odd id/<1>": Document(id="odd id/<1>", text="x", title="<b>Bold</b> & co",
                           author=None),
}


def test_readings_list_links_each_reading_to_its_full_text() -> None:
    out = readings_list(DOCS, "")
    parser = _Links()
    parser.feed(out)
    assert [a["href"] for a in parser.links] == ["/read/lih", "/read/odd%20id%2F%3C1%3E"]
    assert all(a["target"] == "_blank" and a["rel"] == "noopener" for a in parser.links)
    assert "The 2 readings it answers from" in out
    assert "‘All Power to the Soviets’</a> <span class=\"cr-readings-by\">by Lars T. Lih" in out
    # Titles are text, never markup; a reading with no author gets no "by".
    assert "<b>" not in out and "&lt;b&gt;Bold&lt;/b&gt; &amp; co</a></li>" in out
    assert parser.tags.count("b") == 0


@pytest.mark.parametrize(("root", "href"), [
    ("/course-chat/", "/course-chat/read/lih"),
    ("https://chat.example.edu/course", "https://chat.example.edu/course/read/lih"),
])
def test_readings_list_links_under_the_apps_root(root: str, href: str) -> None:
    parser = _Links()
    parser.feed(readings_list({"lih": DOCS["lih"]}, root))
    assert parser.links[0]["href"] == href


def test_one_reading_is_not_plural() -> None:
    assert "The 1 reading it answers from" in readings_list({"lih": DOCS["lih"]}, "")


# -- the page as built: words, examples ----------------------------------------------------

JARGON = re.compile(r"\b(k|dense|vectors?|bm25|embeddings?|cosine|confidence)\b", re.I)


# The tiny corpus is about bees, trains and a volcano: its examples are named in a setting.
TINY_EXAMPLES = ("How do bees make honey?", "When did Mount Vesuvius erupt?")


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> ChatApp:
    settings = Settings.load(env={}, model="hash", corpus=str(TINY), reader="off",
                             data_dir=str(tmp_path_factory.mktemp("rag-data")),
                             examples=" | ".join(TINY_EXAMPLES))
    return ChatApp(Pipeline.open(settings, status=lambda _: None, progress=False))


def test_examples_belong_to_the_readings() -> None:
    """The bundled readings' examples are offered over the bundled readings only: over an
    instructor's own they would only be refused."""
    assert example_questions(Settings.load(env={})) == EXAMPLES
    assert example_questions(Settings.load(env={}, corpus=str(TINY))) == ()
    assert example_questions(Settings.load(env={"RAG_EXAMPLES": "What is a bee? | |Why?"},
                                           corpus=str(TINY))) == ("What is a bee?", "Why?")


def test_no_examples_no_example_row(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings.load(env={}, model="hash", corpus=str(TINY), reader="off",
                             data_dir=str(tmp_path_factory.mktemp("rag-data")))
    app = ChatApp(Pipeline.open(settings, status=lambda _: None, progress=False))
    for embed in (False, True):
        blocks = app.build(embed=embed)
        assert not any(isinstance(b, gr.Button) and b.value in EXAMPLES
                       for b in blocks.blocks.values())
        assert all("cr-examples" not in (b.elem_classes or []) for b in blocks.blocks.values()
                   if isinstance(b, gr.Row))
        chatbot = next(b for b in blocks.blocks.values() if isinstance(b, gr.Chatbot))
        assert not chatbot.examples


def visible_text(blocks: gr.Blocks) -> list[str]:
    """Every label, hint, choice name, button text and HTML value the page shows."""
    texts: list[str] = []
    for block in blocks.blocks.values():
        for attr in ("label", "info", "placeholder"):
            text = getattr(block, attr, None)
            if isinstance(text, str):
                texts.append(text)
        for choice in getattr(block, "choices", None) or []:
            texts.append(str(choice[0]))
        value: Any = getattr(block, "value", None)
        if isinstance(block, gr.Button | gr.HTML) and isinstance(value, str):
            texts.append(re.sub(r"<[^>]+>", " ", value))
    return texts


@pytest.mark.parametrize("embed", [False, True])
def test_no_jargon_on_the_page(chat: ChatApp, embed: bool) -> None:
    texts = visible_text(chat.build(embed=embed))
    assert texts
    assert [t for t in texts if JARGON.search(t)] == []


def test_settings_keep_the_api_values() -> None:
    assert sorted(value for _, value in MODE_CHOICES) == sorted(MODES)
    assert MODE_CHOICES[0] == ("Best of both (recommended)", "hybrid")


def test_full_page_has_example_buttons_and_the_readings(chat: ChatApp) -> None:
    blocks = chat.build(embed=False)
    buttons = [b.value for b in blocks.blocks.values() if isinstance(b, gr.Button)]
    assert set(TINY_EXAMPLES) <= set(buttons)
    assert any("cr-readings-box" in (b.elem_classes or []) for b in blocks.blocks.values()
               if isinstance(b, gr.HTML))
    readings = chat.readings()
    for doc in chat.pipeline.documents.values():
        assert f'href="/read/{doc.id}"' in readings


def test_reading_titles_are_not_in_the_page_config(chat: ChatApp) -> None:
    """The config is served inside a <script>: the list comes on load instead."""
    config = str(chat.build(embed=False).get_config_file())
    for doc in chat.pipeline.documents.values():
        assert f"/read/{doc.id}" not in config


def test_embed_keeps_examples_on_the_empty_chat_and_no_readings_list(chat: ChatApp) -> None:
    blocks = chat.build(embed=True)
    buttons = [b.value for b in blocks.blocks.values() if isinstance(b, gr.Button)]
    assert not set(TINY_EXAMPLES) & set(buttons)
    chatbot = next(b for b in blocks.blocks.values() if isinstance(b, gr.Chatbot))
    assert [e["text"] for e in chatbot.examples or []] == list(TINY_EXAMPLES)
    assert all("cr-readings" not in str(b.value) for b in blocks.blocks.values()
               if isinstance(b, gr.HTML))


def test_the_plain_answer_text_never_doubles_quote_marks() -> None:
    from rag.types import Answer, Citation

    c = Citation(1, "d", "T", None, None, None, '"Dual Power" was a term', 0, 23, 0.9, 0, 23)
    text = Answer("q", (c,), (), False, 0.9).text
    assert text == "“‘Dual Power’ was a term” [1]"
    whole = Citation(1, "d", "T", None, None, None, '"All power to the Soviets!"', 0, 27, 0.9,
                     0, 27)
    assert Answer("q", (whole,), (), False, 0.9).text == "“All power to the Soviets!” [1]"
