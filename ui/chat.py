"""The Gradio chat: the full page at `/` and the compact embed at `/embed`.

The conversation lives in the student's browser (`gr.BrowserState`, i.e. localStorage) as
the answers' JSON, not as HTML. Every render, including after a page reload, rebuilds the
messages on the server from that JSON and the documents, escaping all text again, so the
citations survive a reload and nothing stored in the browser is ever trusted as markup.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

# Before gradio is imported: it reads this when the module loads.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from gradio.components.chatbot import Message, MessageDict  # noqa: E402

from corpus.collection import DEFAULT_CORPUS_DIR  # noqa: E402
from corpus.document import Document  # noqa: E402
from rag.followup import MAX_HISTORY  # noqa: E402
from rag.pipeline import Pipeline, QuestionError, validate_question  # noqa: E402
from rag.settings import MAX_K, MODES, Settings  # noqa: E402
from ui.feedback import FeedbackLog  # noqa: E402
from ui.render import (  # noqa: E402
    esc,
    render_answer,
    render_error,
    render_pending,
    render_question,
)

Messages = list[MessageDict | Message]
STATIC_DIR = Path(__file__).resolve().parent / "static"
CHAT_CSS = STATIC_DIR / "chat.css"
CHAT_JS = STATIC_DIR / "chat.js"

# The bundled readings' examples; other readings have none unless the `examples` setting
# names some (`example_questions`).
EXAMPLES = (
    "What does dvoevlastie translate to in English?",
    "What did Kalinin say about Lenin's April Theses?",
    "What does the Russian word sovet mean?",
)
# In a student's words: no "dense", "BM25" or "k" on screen. The values are the API's.
MODE_CHOICES = [("Best of both (recommended)", "hybrid"), ("By meaning", "dense"),
                ("By exact words", "bm25")]
MODE_INFO = ("“By meaning” also finds passages that say it in other words; “By exact words” "
             "looks for the words you typed.")
K_LABEL = "How widely to look (passages)"
K_INFO = ("How many passages it reads before answering. More can find more, but the answer "
          "may be less to the point.")
# A long-running chat stays usable in localStorage (a few kB per answer, ~5 MB available).
MAX_TURNS = 40
# Passages kept for an abstention in the browser: enough to show "possibly related" again.
KEEP_RELATED = 3
KEEP_RELATED_CHARS = 400

INTRO = (
    '<header class="cr-header"><h1>Ask the readings</h1>'
    "<p>Every answer is quoted word for word from the course readings, with numbered "
    "sources you can check. If the readings don't say, it tells you so.</p></header>"
)
FOOTER = (
    '<footer class="cr-footer"><p>Answers are quotes, not summaries: read them in context '
    'before you cite them. <a href="{base}/docs" target="_blank" rel="noopener">JSON API</a>'
    "</p></footer>"
)
PLACEHOLDER = ("<strong>Ask a question about the readings.</strong><br>"
               "Answers are quoted word for word, with numbered sources.")
EXAMPLES_LABEL = "Try an example:"


def example_questions(settings: Settings) -> tuple[str, ...]:
    """The questions the chat offers as examples: the `examples` setting's, else the bundled
    readings' own when they are the corpus, else none."""
    named = tuple(q.strip() for q in settings.examples.split("|") if q.strip())
    if named:
        return named
    bundled = Path(settings.corpus).expanduser().resolve() == DEFAULT_CORPUS_DIR
    return EXAMPLES if bundled else ()


def readings_list(documents: Mapping[str, Document], base: str) -> str:
    """The readings the chat quotes from, each linked to its full text, as a collapsed list
    under the intro: a newcomer sees what it can answer about without it taking the page."""
    items = []
    for doc in documents.values():
        href = f"{base.rstrip('/')}/read/{quote(doc.id, safe='')}"
        by = f' <span class="cr-readings-by">by {esc(doc.author)}</span>' if doc.author else ""
        items.append(f'<li><a href="{esc(href)}" target="_blank" rel="noopener">'
                     f"{esc(doc.title or doc.id)}</a>{by}</li>")
    n = len(items)
    return (f'<details class="cr-readings"><summary>The {n} reading{"" if n == 1 else "s"} '
            f'it answers from</summary><ul>{"".join(items)}</ul></details>')


def compact(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an answer worth keeping in the browser (passages only for abstentions)."""
    kept = dict(answer)
    if answer.get("abstained"):
        kept["passages"] = [{**p, "text": str(p.get("text", ""))[:KEEP_RELATED_CHARS]}
                            for p in list(answer.get("passages") or [])[:KEEP_RELATED]]
    else:
        kept["passages"] = []
    return kept


def _records(value: object) -> list[dict[str, Any]]:
    """Stored turns from the browser, dropping anything malformed (it is client data)."""
    if not isinstance(value, list):
        return []
    good = [r for r in value if isinstance(r, dict) and isinstance(r.get("q"), str)
            and (isinstance(r.get("a"), dict) or isinstance(r.get("error"), str))]
    return good[-MAX_TURNS:]


def earlier_questions(records: list[dict[str, Any]]) -> list[str]:
    """The questions of the stored turns that got an answer (not an error), newest last,
    for reading a follow-up ("What did he mean by that?") against the previous one."""
    return [r["q"] for r in records if "a" in r and r["q"].strip()][-MAX_HISTORY:]


def public_base(request: gr.Request | None, root_path: str) -> str:
    """The app's public URL, so source links also work inside a `<gradio-app>` on another
    site (where a path-only link would point at the course site instead)."""
    if root_path.startswith(("http://", "https://")):
        return root_path.rstrip("/")
    if request is None:
        return root_path.rstrip("/")
    headers = {k.lower(): v for k, v in dict(request.headers).items()}
    host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip()
    if not host:
        return root_path.rstrip("/")
    proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = str(getattr(request, "url", "http://")).split(":", 1)[0]
        proto = proto if proto in ("http", "https") else "http"
    return f"{proto}://{host}{root_path.rstrip('/')}"


class ChatApp:
    """Builds the Blocks and holds what their event handlers need."""

    def __init__(self, pipeline: Pipeline, feedback: FeedbackLog | None = None,
                 root_path: str = "") -> None:
        self.pipeline = pipeline
        self.feedback = feedback
        self.root_path = root_path
        # Stable for one index: a reload, or a server restart on the same readings, can
        # decrypt the stored chat; a changed corpus starts a fresh one, since old offsets
        # might no longer point at the quoted words.
        corpus_hash = str(pipeline.index.manifest.get("corpus_hash", ""))
        self.state_secret = hashlib.sha256(f"cited-readings:{corpus_hash}".encode()).hexdigest()
        self.examples = example_questions(pipeline.settings)

    # -- rendering ---------------------------------------------------------------------

    def messages(self, records: list[dict[str, Any]], base: str) -> Messages:
        """Chat messages for the stored turns: always two per turn, question then answer."""
        out: Messages = []
        for i, r in enumerate(records):
            out.append({"role": "user", "content": render_question(r["q"])})
            if "error" in r:
                body = render_error(r["error"])
            else:
                body = render_answer(r["a"], self.pipeline.documents, uid=f"cr{i}", base_url=base,
                                     citation_style=self.pipeline.settings.citation_style)
            out.append({"role": "assistant", "content": body})
        return out

    def votes(self, records: list[dict[str, Any]]) -> list[str | None]:
        """The thumbs shown on each assistant message, so they survive a reload too."""
        names = {"up": "Like", "down": "Dislike"}
        return [names.get(str(r.get("vote"))) for r in records]

    # -- event handlers ----------------------------------------------------------------

    def respond(self, message: str, stored: object, mode: str | None, k: float | None,
                request: gr.Request) -> Iterator[tuple[Any, list[dict[str, Any]], str]]:
        """Show the question at once, then the answer; keep both in the browser."""
        records = _records(stored)
        base = public_base(request, self.root_path)
        if not isinstance(message, str) or not message.strip():
            yield self.messages(records, base), records, ""
            return
        ask: Messages = [{"role": "user", "content": render_question(message)},
                                  {"role": "assistant", "content": render_pending()}]
        pending = self.messages(records, base) + ask
        yield pending, records, ""
        k_int = int(k) if isinstance(k, int | float) else None
        mode = mode if mode in MODES else None
        try:
            validate_question(message, k_int, mode)
            answer = self.pipeline.ask(message, k=k_int, mode=mode,
                                       history=earlier_questions(records))
            records = [*records, {"q": message, "a": compact(answer.to_dict()), "vote": None}]
        except QuestionError as e:
            records = [*records, {"q": message[:500], "error": str(e)}]
        records = records[-MAX_TURNS:]
        yield gr.Chatbot(value=self.messages(records, base),
                         feedback_value=self.votes(records)), records, ""

    def restore(self, stored: object, request: gr.Request) -> Any:
        """On page load: the conversation from the browser, rendered afresh."""
        records = _records(stored)
        return gr.Chatbot(value=self.messages(records, public_base(request, self.root_path)),
                          feedback_value=self.votes(records))

    def vote(self, stored: object, data: gr.LikeData) -> list[dict[str, Any]]:
        """Append a thumbs up/down to the feedback file, and remember it in the browser."""
        records = _records(stored)
        index = data.index if isinstance(data.index, int) else -1
        turn = index // 2
        if index % 2 != 1 or not 0 <= turn < len(records) or "a" not in records[turn]:
            return records
        vote = "up" if data.liked is True else "down" if data.liked is False else None
        if vote is None:  # the thumb was taken back
            records[turn] = {**records[turn], "vote": None}
            return records
        if self.feedback is not None:
            self.feedback.record(records[turn]["a"], vote)
        records[turn] = {**records[turn], "vote": vote}
        return records

    @staticmethod
    def clear() -> list[dict[str, Any]]:
        """The trash button empties the stored conversation as well."""
        return []

    @staticmethod
    def pick_example(data: gr.SelectData) -> str:
        """An example question, clicked on the empty chat, goes into the box and is sent."""
        value = data.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    # -- layout ------------------------------------------------------------------------

    def build(self, embed: bool = False) -> gr.Blocks:
        """The chat page; `embed` drops the header, readings list, footer and settings for an
        iframe or a `<gradio-app>` on a course page, where the page says what the readings are."""
        title = "Ask the readings"
        # The embed uses its frame's whole width (Gradio caps the page at 640 px in a narrow
        # frame otherwise); the full page's width is set in ui/server.py.
        with gr.Blocks(title=title, analytics_enabled=False, fill_height=True,
                       fill_width=embed) as blocks:
            if not embed:
                gr.HTML(INTRO, padding=False)
                # Filled on load rather than built into the page's config, which is a <script>:
                # reading titles, however odd, then never sit inside one, even escaped.
                readings = gr.HTML("", padding=False, elem_classes=["cr-readings-box"])
            stored = gr.BrowserState([], storage_key="cited-readings-chat",
                                     secret=self.state_secret)
            chatbot = gr.Chatbot(
                label="Conversation", show_label=False, elem_id="cr-chat", layout="panel",
                # The embed fills its iframe, leaving room for the question box below. In a
                # <gradio-app> this is only where it starts: chat.css lets it shrink to fit a
                # course page's box of any height (100vh there is the page's, not the box's).
                height="calc(100vh - 96px)" if embed else "58vh", min_height=200, scale=1,
                placeholder=PLACEHOLDER,
                # The full page has example buttons under the box, which stay after the first
                # question; the embed, short on room, shows them only on the empty chat.
                examples=[{"text": q} for q in self.examples] if embed and self.examples
                else None,
                feedback_options=("Like", "Dislike") if self.feedback else None,
                # Our HTML is escaped server-side; keep the sanitiser on as a second guard,
                # and let no custom tags through it.
                sanitize_html=True, allow_tags=False,
                # Quotes can contain "$"; LaTeX rendering would rewrite them.
                latex_delimiters=[],
                # Copy would copy our markup; share would send the chat to a third party.
                buttons=[],
                # chat.js scrolls to the new question instead, so the answer starts on screen.
                autoscroll=False,
            )
            with gr.Row(equal_height=True, elem_classes=["cr-ask-row"]):
                question = gr.Textbox(
                    label="Your question", show_label=False, scale=5, lines=1, max_lines=4,
                    placeholder="Ask a question about the readings…", autofocus=not embed,
                    max_length=2000, submit_btn=False, elem_id="cr-question")
                send = gr.Button("Ask", variant="primary", scale=1, min_width=72,
                                 elem_id="cr-send")
            examples: list[gr.Button] = []
            if not embed and self.examples:
                with gr.Row(elem_classes=["cr-examples"]):
                    gr.HTML(f'<p class="cr-examples-label">{esc(EXAMPLES_LABEL)}</p>',
                            padding=False, container=False, elem_classes=["cr-examples-head"])
                    examples = [gr.Button(q, size="sm", variant="secondary", scale=0,
                                          elem_classes=["cr-example"]) for q in self.examples]
            with gr.Accordion("Settings", open=False, visible=not embed,
                              elem_classes=["cr-settings"]):
                mode = gr.Radio(MODE_CHOICES, value=self.pipeline.settings.mode,
                                label="How to search the readings", info=MODE_INFO)
                k = gr.Slider(1, min(20, MAX_K), value=self.pipeline.settings.k, step=1,
                              label=K_LABEL, info=K_INFO)
            if not embed:
                gr.HTML(FOOTER.format(base=self.root_path.rstrip("/")), padding=False)

            inputs = [question, stored, mode, k]
            outputs = [chatbot, stored, question]
            question.submit(self.respond, inputs, outputs, api_visibility="private")
            send.click(self.respond, inputs, outputs, api_visibility="private")
            for button in examples:  # a button's value is its question
                button.click(self.respond, [button, *inputs[1:]], outputs,
                             api_visibility="private")
            chatbot.example_select(self.pick_example, None, question, queue=False,
                                   api_visibility="private").then(
                self.respond, inputs, outputs, api_visibility="private")
            chatbot.clear(self.clear, None, stored, queue=False, api_visibility="private")
            if self.feedback is not None:
                chatbot.like(self.vote, stored, stored, queue=False, api_visibility="private")
            blocks.load(self.restore, stored, chatbot, queue=False, api_visibility="private")
            if not embed:
                blocks.load(self.readings, None, readings, queue=False,
                            api_visibility="private")
        return blocks

    def readings(self) -> str:
        """The full page's list of the readings (see `readings_list`)."""
        return readings_list(self.pipeline.documents, self.root_path)


def theme() -> gr.themes.Base:
    """A calm reading theme with system fonts: no web fonts fetched from a third party."""
    sans = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
            "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    base = gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate",
                          font=sans, font_mono=mono, radius_size="md")
    # Soft's subdued text (slate-400 on white) is under 3:1 contrast; bylines and notes
    # carry real information here, so make them readable (WCAG AA).
    return base.set(body_text_color_subdued="*neutral_600",
                    body_text_color_subdued_dark="*neutral_400")
