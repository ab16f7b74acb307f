"""The HTTP API and the chat's server side, against `create_app` with the hash model and the
tiny corpus: no model load, no uvicorn, no browser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pipeline_helpers import tiny_pipeline

from rag.pipeline import Pipeline
from ui.chat import ChatApp
from ui.feedback import FeedbackLog
from ui.server import create_app

ALLOWED = "https://course.example.edu"
ANSWER_KEYS = {"question", "answer", "abstained", "abstain_reason", "confidence", "citations",
               "passages",
               "settings", "followup_of", "respelled", "tentative"}
CITATION_KEYS = {"n", "doc_id", "title", "author", "url", "date", "quote", "start", "end",
                 "score", "role", "passage_start", "passage_end", "score_parts", "page_start",
                 "page_end"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """One tiny-corpus pipeline for the module (env ignored, its own data dir)."""
    return tiny_pipeline(tmp_path_factory.mktemp("rag-data"))


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app with CORS closed (the default)."""
    with TestClient(create_app(pipeline)) as c:
        yield c


def ask(client: TestClient, **body: Any) -> Any:
    """POST /api/ask and return the response."""
    return client.post("/api/ask", json=body)


def test_ask_returns_the_cli_json_with_verbatim_quotes(client: TestClient,
                                                       pipeline: Pipeline) -> None:
    r = ask(client, question="How do bees make honey?")
    assert r.status_code == 200
    data = r.json()
    assert set(data) == ANSWER_KEYS
    assert data == json.loads(json.dumps(pipeline.ask("How do bees make honey?").to_dict()))
    assert not data["abstained"] and data["citations"]
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
        doc = client.get(f"/api/documents/{c['doc_id']}").json()
        assert doc["text"][c["start"]:c["end"]] == c["quote"]
        assert f"[{c['n']}]" in data["answer"]


def test_ask_accepts_k_and_mode(client: TestClient) -> None:
    r = ask(client, question="Why do volcanoes erupt?", k=1, mode="bm25")
    assert r.status_code == 200
    assert r.json()["settings"]["k"] == 1 and r.json()["settings"]["mode"] == "bm25"
    assert len(r.json()["passages"]) == 1


def test_reader_comment_is_attributed_to_the_commenter(client: TestClient) -> None:
    data = ask(client, question="Whose grandfather kept twelve hives in his orchard?").json()
    quoted = [c for c in data["citations"] if "grandfather" in c["quote"]]
    assert quoted, data
    assert quoted[0]["author"] == "Jo Reader" and quoted[0]["role"] == "reader comment"


def test_documents_list_and_one_document(client: TestClient, pipeline: Pipeline) -> None:
    docs = client.get("/api/documents").json()
    assert [d["id"] for d in docs] == sorted(pipeline.documents)
    assert all(set(d) == {"id", "title", "author", "date", "url"} for d in docs)
    bees = client.get("/api/documents/bees").json()
    assert bees["title"] == "How bees make honey" and bees["url"] == "https://example.org/bees"
    assert bees["text"] == pipeline.documents["bees"].text


def test_healthz_and_openapi(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 3
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/documents", "/api/documents/{doc_id}", "/healthz"} <= set(
        schema["paths"])
    ask_body = schema["components"]["schemas"]["AskRequest"]
    assert ask_body["required"] == ["question"]
    assert client.get("/docs").status_code == 200


LONG = "x" * 2001
BAD_ASKS: list[tuple[str, Any, int]] = [
    ("missing question", {}, 422),
    ("empty question", {"question": ""}, 422),
    ("blank question", {"question": "   \n"}, 422),
    ("question without words", {"question": "?!"}, 422),
    ("question of a control character", {"question": "\u0000"}, 422),
    ("number as question", {"question": 42}, 422),
    ("list as question", {"question": ["what?"]}, 422),
    ("null question", {"question": None}, 422),
    ("object as question", {"question": {"text": "hi"}}, 422),
    ("over-long question", {"question": LONG}, 422),
    ("k zero", {"question": "bees", "k": 0}, 422),
    ("k negative", {"question": "bees", "k": -3}, 422),
    ("k too big", {"question": "bees", "k": 51}, 422),
    ("k as string", {"question": "bees", "k": "5"}, 422),
    ("k as float", {"question": "bees", "k": 2.5}, 422),
    ("k as bool", {"question": "bees", "k": True}, 422),
    ("unknown mode", {"question": "bees", "mode": "magic"}, 422),
    ("mode as number", {"question": "bees", "mode": 3}, 422),
    ("unknown field", {"question": "bees", "top_k": 3}, 422),
    ("body is a string", "bees?", 422),
    ("body is a list", ["bees?"], 422),
]


@pytest.mark.parametrize(("question", "message"), [
    ("   ", "question is empty"), ("?", "question has no words"),
    ("\u0000", "question has no words")])
def test_a_question_without_words_says_so(client: TestClient, question: str,
                                          message: str) -> None:
    r = client.post("/api/ask", json={"question": question})
    assert (r.status_code, r.json()) == (422, {"error": message})


@pytest.mark.parametrize(("name", "body", "status"), BAD_ASKS, ids=[b[0] for b in BAD_ASKS])
def test_bad_ask_is_a_4xx_json_error(client: TestClient, name: str, body: Any,
                                     status: int) -> None:
    r = client.post("/api/ask", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["error"], str) and r.json()["error"]
    assert "Traceback" not in r.text


RAW_BAD: list[tuple[str, str, str, bytes | None, dict[str, str], int]] = [
    ("malformed JSON", "POST", "/api/ask", b'{"question": "bees"', {}, 400),
    ("not JSON at all", "POST", "/api/ask", b"question=bees", {}, 400),
    ("no body", "POST", "/api/ask", None, {}, 422),
    ("body over 64 kB", "POST", "/api/ask",
     json.dumps({"question": "x" * 70_000}).encode(), {}, 413),
    ("GET on ask", "GET", "/api/ask", None, {}, 405),
    ("unknown endpoint", "GET", "/api/nope", None, {}, 404),
    ("unknown doc id", "GET", "/api/documents/no-such-doc", None, {}, 404),
    ("encoded traversal", "GET", "/api/documents/..%2F..%2Fetc%2Fpasswd", None, {}, 404),
    ("lower-case encoded traversal", "GET", "/api/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
     None, {}, 404),
    ("double-encoded traversal", "GET", "/api/documents/..%252F..%252Fetc%252Fpasswd", None, {},
     404),
    ("dot-dot id", "GET", "/api/documents/..", None, {}, 404),
    ("encoded dot-dot id", "GET", "/api/documents/%2e%2e", None, {}, 404),
    ("NUL in id", "GET", "/api/documents/bees%00", None, {}, 404),
    ("backslash traversal", "GET", "/api/documents/..%5C..%5Cetc%5Cpasswd", None, {}, 404),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "headers", "status"), RAW_BAD,
                         ids=[b[0] for b in RAW_BAD])
def test_bad_request_is_a_4xx_json_error(client: TestClient, name: str, method: str, path: str,
                                         body: bytes | None, headers: dict[str, str],
                                         status: int) -> None:
    r = client.request(method, path, content=body,
                       headers={"content-type": "application/json", **headers})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["error"], str)
    assert "root:" not in r.text  # never the contents of /etc/passwd


def _raw_get(app: Any, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as given (HTTP clients would resolve the `..` segments first)."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize("raw", ["/api/documents/../../etc/passwd",
                                 "/api/documents/../../../../../../etc/passwd",
                                 "/api/documents/./../healthz"])
def test_unnormalised_traversal_is_a_json_404(client: TestClient, raw: str) -> None:
    status, body = _raw_get(client.app, raw)
    assert status == 404
    assert json.loads(body)["error"]
    assert b"root:" not in body


def test_traversal_resolved_by_the_client_serves_no_file(client: TestClient) -> None:
    # httpx turns /api/documents/../../etc/passwd into /etc/passwd, which reaches the chat app.
    r = client.get("/api/documents/../../etc/passwd")
    assert 400 <= r.status_code < 500
    assert "root:" not in r.text


def test_server_still_answers_after_bad_requests(client: TestClient) -> None:
    for body in (b"{", b"[]", b'{"question": 1}', b"\xff\xfe"):
        assert client.post("/api/ask", content=body,
                           headers={"content-type": "application/json"}).status_code < 500
    r = ask(client, question="How do bees make honey?")
    assert r.status_code == 200 and r.json()["citations"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_cors_closed_by_default(client: TestClient) -> None:
    r = client.get("/api/documents", headers={"origin": ALLOWED})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/ask", headers={"origin": ALLOWED,
                                              "access-control-request-method": "POST",
                                              "access-control-request-headers": "content-type"})
    assert pre.headers.get("access-control-allow-origin") is None
    # The chat app's own routes follow the same policy (Gradio defers to ours).
    assert "access-control-allow-origin" not in client.get(
        "/config", headers={"origin": ALLOWED}).headers


def test_cors_open_for_an_allowed_origin_only(pipeline: Pipeline) -> None:
    with TestClient(create_app(pipeline, cors_origins=[ALLOWED])) as c:
        r = c.post("/api/ask", json={"question": "How do bees make honey?"},
                   headers={"origin": ALLOWED})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ALLOWED
        pre = c.options("/api/ask", headers={"origin": ALLOWED,
                                             "access-control-request-method": "POST",
                                             "access-control-request-headers": "content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == ALLOWED
        other = c.get("/api/documents", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_chat_pages_static_files_and_reader(client: TestClient) -> None:
    assert "<gradio-app" in client.get("/").text
    assert "<gradio-app" in client.get("/embed/").text
    assert client.get("/embed", follow_redirects=False).headers["location"] == "embed/"
    example = client.get("/ui-static/embed-example.html")
    assert example.status_code == 200 and '<iframe src="../embed/"' in example.text
    page = client.get("/read/bees", params={"start": 0, "end": 39})
    assert page.status_code == 200
    assert '<mark id="cited">Honey bees collect nectar from flowers.</mark>' in page.text
    missing = client.get("/read/%3Cscript%3E")
    assert missing.status_code == 404 and "<script>" not in missing.text


def test_analytics_are_off(client: TestClient) -> None:
    assert client.get("/config").json()["analytics_enabled"] is False


# -- the chat's handlers (what the Gradio events call) -----------------------------------

class _Request:
    headers = {"host": "chat.example.edu", "x-forwarded-proto": "https"}
    url = "http://chat.example.edu/"


class _Like:
    def __init__(self, index: int, liked: bool | None) -> None:
        self.index, self.liked = index, liked


def _contents(update: Any) -> list[str]:
    """The HTML of each chat message, from a gr.Chatbot update or a plain message list."""
    out = []
    for m in update.value if hasattr(update, "value") else update:
        c = m["content"]
        out.append(c if isinstance(c, str) else "".join(p.get("text", "") for p in c))
    return out


def _final(chat: ChatApp, question: str, stored: list[Any]) -> tuple[Any, list[Any]]:
    *_, (messages, records, box) = chat.respond(question, stored, "hybrid", 3.0,
                                                 _Request())  # type: ignore[arg-type]
    assert box == ""
    return messages, records


def test_chat_turn_renders_cited_html_and_stores_json(pipeline: Pipeline) -> None:
    chat = ChatApp(pipeline)
    update, records = _final(chat, "How do bees make honey?", [])
    assert len(records) == 1 and records[0]["a"]["citations"]
    _, answer_html = _contents(update)
    assert "<mark>" in answer_html and "[<span class=\"cr-sr\">source </span>1]" in answer_html
    # Links use the public address, so they also work inside <gradio-app> on another site.
    assert "https://chat.example.edu/read/bees?start=" in answer_html


def test_chat_shows_markup_in_a_question_as_text(pipeline: Pipeline) -> None:
    update, records = _final(ChatApp(pipeline), "bees <img src=x onerror=alert(1)>", [])
    question_html, answer_html = _contents(update)
    assert records[0]["q"] == "bees <img src=x onerror=alert(1)>"
    assert "&lt;img src=x onerror=alert(1)&gt;" in question_html
    assert "<img" not in question_html + answer_html


def test_chat_restores_from_browser_state_and_drops_junk(pipeline: Pipeline) -> None:
    chat = ChatApp(pipeline)
    _, records = _final(chat, "How do bees make honey?", [])
    junk = [None, 3, {"q": 5}, {"q": "x", "a": "not a dict"}, {"nothing": True}]
    restored = chat.restore(junk + records, _Request())  # type: ignore[arg-type]
    assert len(_contents(restored)) == 2
    assert "<mark>" in _contents(restored)[1]


def test_chat_refuses_an_over_long_question_politely(pipeline: Pipeline) -> None:
    update, records = _final(ChatApp(pipeline), LONG, [])
    assert "error" in records[0]
    assert "longer than 2000" in _contents(update)[1]


def test_votes_go_to_the_feedback_file_without_personal_data(pipeline: Pipeline,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "votes.jsonl"
    chat = ChatApp(pipeline, FeedbackLog(path))
    _, records = _final(chat, "How do bees make honey?", [])
    records = chat.vote(records, _Like(1, True))  # type: ignore[arg-type]
    records = chat.vote(records, _Like(1, False))  # type: ignore[arg-type]
    chat.vote(records, _Like(0, True))  # a user message: ignored
    chat.vote(records, _Like(7, True))  # out of range: ignored
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["vote"] for x in lines] == ["up", "down"]
    assert set(lines[0]) == {"time", "vote", "question", "answer", "abstained", "citations",
                             "settings"}
    assert lines[0]["question"] == "How do bees make honey?"
    assert lines[0]["citations"][0]["quote"]
    assert records[0]["vote"] == "down"
    assert chat.votes(records) == ["Dislike"]


def test_no_feedback_file_without_a_path(pipeline: Pipeline, tmp_path: Path) -> None:
    chat = ChatApp(pipeline)
    _, records = _final(chat, "How do bees make honey?", [])
    assert chat.vote(records, _Like(1, True))[0]["vote"] == "up"  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def _behind_proxy(app: Any, prefix: str) -> Any:
    """What uvicorn's --root-path does for a proxy that strips the prefix: put it back in
    front of the path and record it as the root path."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": prefix, "path": prefix + scope["path"],
                     "raw_path": prefix.encode() + scope.get("raw_path", b"")}
        await app(scope, receive, send)

    return asgi


def test_everything_works_under_a_proxy_sub_path(pipeline: Pipeline) -> None:
    app = create_app(pipeline, root_path="/course-chat")
    with TestClient(_behind_proxy(app, "/course-chat")) as c:
        for path in ("/", "/embed/", "/ui-static/embed-example.html", "/healthz",
                     "/api/documents", "/embed/gradio.js", "/read/bees"):
            assert c.get(path).status_code == 200, path
        assert c.post("/api/ask", json={"question": "How do bees make honey?"}).json()[
            "citations"]
        assert "url: '/course-chat/openapi.json'" in c.get("/docs").text
        assert c.get("/config").json()["root"].endswith("/course-chat")
        assert c.get("/embed/config").json()["root"].endswith("/course-chat/embed")
        assert 'href="/course-chat/ui-static/reader.css"' in c.get("/read/bees").text
        assert c.get("/api/documents/nope").json()["error"]


def test_chat_settings_reach_the_pipeline(pipeline: Pipeline) -> None:
    chat = ChatApp(pipeline)
    *_, (_, records, _) = chat.respond("How do bees make honey?", [], "bm25", 1.0,
                                       _Request())  # type: ignore[arg-type]
    assert records[0]["a"]["settings"]["mode"] == "bm25"
    assert records[0]["a"]["settings"]["k"] == 1
    # Values the UI cannot send (a tampered request) fall back to the defaults.
    *_, (_, records, _) = chat.respond("How do bees make honey?", [], "magic", None,
                                       _Request())  # type: ignore[arg-type]
    assert records[0]["a"]["settings"]["mode"] == pipeline.settings.mode
