"""The JSON API: ask, list documents, fetch one document, health.

Every error, whatever raised it, is `{"error": "one line"}` with a 4xx status, so a course
site's script can show the message as it is. `/api/*` belongs to this module: paths that
match nothing here get a JSON 404 rather than falling through to the chat app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.bibexport import export
from rag.followup import MAX_HISTORY
from rag.pipeline import (
    MAX_QUESTION_CHARS,
    QUESTION_PATTERN,
    Pipeline,
    QuestionError,
    validate_question,
)
from rag.settings import MAX_K

log = logging.getLogger(__name__)

# Far more than a 2,000-character question needs; stops a client from making the server
# buffer megabytes before validation can reject them.
MAX_BODY_BYTES = 64 * 1024
# Document ids are slugs. Anything else (slashes, dots in a row, percent signs) is not an id,
# and is refused before it gets near a lookup.
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_API_ROUTES = {"/api/ask": ("POST",), "/api/documents": ("GET",), "/api/cite": ("GET",)}


def _whole_number(value: Any) -> Any:
    """5.0 is the integer 5 in JSON (and to the schema); strings, booleans and 2.5 stay
    wrong and are refused by the strict check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AskRequest(BaseModel):
    """Body of `POST /api/ask`."""

    # Unknown keys are refused: a typo such as "top_k" should not be silently ignored.
    model_config = ConfigDict(extra="forbid")

    # At least one letter or digit (`validate_question`): "?" alone asks nothing.
    question: Annotated[str, Field(strict=True, min_length=1, max_length=MAX_QUESTION_CHARS,
                                   pattern=QUESTION_PATTERN,
                                   examples=["What does the Russian word sovet mean?"])]
    k: Annotated[Annotated[int, Field(strict=True, ge=1, le=MAX_K)] | None,
                 BeforeValidator(_whole_number),
                 Field(description="number of passages to retrieve")] = None
    mode: Literal["dense", "bm25", "hybrid"] | None = None
    # Additive: the conversation's earlier questions, oldest first, so that a follow-up
    # ("What did he mean by that?") is read against the previous one.
    history: Annotated[
        list[Annotated[str, Field(strict=True, max_length=MAX_QUESTION_CHARS)]] | None,
        Field(max_length=MAX_HISTORY,
              description="earlier questions of the conversation, oldest first; a follow-up "
                          "such as \"And in July?\" is read against the last one",
              examples=[["When did Dorr arrive in Russia?"]])] = None


class CitationOut(BaseModel):
    """One verbatim quote; `quote == document.text[start:end]`."""

    n: int
    doc_id: str
    title: str
    author: str | None
    url: str | None
    date: str | None
    quote: str
    start: int
    end: int
    score: float
    role: str | None = Field(description='e.g. "reader comment" when a commenter wrote it')
    passage_start: int
    passage_end: int
    score_parts: dict[str, float] = Field(
        default_factory=dict,
        description="each signal's share of the log-odds that this quote answers")
    page_start: int | str | None = Field(
        None, description='page of the original where the quote starts ("xii" for a '
        "labelled page); null when unknown")
    page_end: int | str | None = Field(None, description="page where it ends; null when unknown")


class PassageOut(BaseModel):
    """A retrieved passage (the "possibly related" ones when the answer abstains)."""

    doc_id: str
    start: int
    end: int
    text: str
    score: float
    best_start: int | None = Field(None, description="start of its best sentence, to highlight")
    best_end: int | None = None


class Respelled(BaseModel):
    """A misspelt word of the question and the readings' word it was read as."""

    asked: str
    read_as: str


class AnswerOut(BaseModel):
    """The same object as `rag ask --json`."""

    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None = None
    confidence: float = Field(
        description="the best quote's score. With the reader on (the default) a probability, "
                    "0 to 1, that the quote answers the question; the answer abstains below "
                    "settings.abstain_threshold. With reader = \"off\" a similarity score "
                    "(cosine plus word-overlap and rank bonuses, not a probability). 0 when "
                    "nothing was found. The chat does not show it.")
    tentative: bool = Field(
        False, description="quoted, but with a confidence under "
                           "settings.confident_threshold: answers this sure were right only "
                           "about half the time on the eval set. The chat says the quotes may "
                           "not answer and asks the student to check them in context.")
    citations: list[CitationOut]
    passages: list[PassageOut]
    settings: dict[str, Any]
    followup_of: str | None = Field(
        None, description="the earlier question this one was read as a follow-up to")
    respelled: list[Respelled] = Field(
        default_factory=list,
        description="misspelt words of the question, each read as the readings' word "
                    "closest to it (settings.respell)")


class DocumentSummary(BaseModel):
    """One reading in the list."""

    id: str
    title: str
    author: str | None
    date: str | None
    url: str | None


class DocumentOut(DocumentSummary):
    """One reading with its full text, which citation offsets point into."""

    publisher: str | None
    text: str


class ErrorOut(BaseModel):
    """Every error response."""

    error: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 413, 422)}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before asking again",
                                 "schema": {"type": "integer"}}}
# Load shedding (ui/limits.py): refused at once, never queued for minutes.
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    429: {"model": ErrorOut, "headers": _RETRY_AFTER,
          "description": "Too many questions from this client address (`rate_limit` a minute)"},
    503: {"model": ErrorOut, "headers": _RETRY_AFTER,
          "description": "Busy: `ask_workers` questions running and `ask_queue` waiting"},
}


# GET /api/cite: at most this many readings a file (an answer cites a handful).
MAX_CITE_DOCS = 50
# Media types: BibTeX has no registered one; application/x-bibtex is what reference managers
# and servers use. RIS's is application/x-research-info-systems.
_CITE_FORMATS = {"bibtex": ("application/x-bibtex", "bib"),
                 "ris": ("application/x-research-info-systems", "ris")}
_CITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {"description": "A BibTeX or RIS file (UTF-8), sent as an attachment",
          "content": {media: {"schema": {"type": "string"}} for media, _ in
                      _CITE_FORMATS.values()},
          "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                              "description": "attachment; filename=..."}}},
}


def error(status: int, message: str) -> JSONResponse:
    """The one error shape."""
    return JSONResponse({"error": message}, status_code=status)


def _question_message(question: object) -> str:
    """What `validate_question` says of a question the schema's pattern refused."""
    try:
        validate_question(question)
    except QuestionError as e:
        return str(e)
    return "question has no words"  # unreachable while both test the same pattern


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """Status and one line for a request that failed parsing or validation."""
    errors: Sequence[Any] = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "request body is not valid JSON"
    parts = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        if not loc:
            parts.append('request body must be a JSON object such as {"question": "..."}')
        elif e.get("type") == "string_pattern_mismatch" and loc == ["question"]:
            parts.append(_question_message(e.get("input")))
        elif e.get("type") == "extra_forbidden":
            parts.append(f"unknown field {loc[-1]!r}; allowed: question, k, mode, history")
        else:
            parts.append(f"{'.'.join(loc)}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Turn every error of the app's own routes into `{"error": ...}`."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(QuestionError)
    async def _question(_: Request, exc: QuestionError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500, but JSON and without a traceback; the log keeps the details.
        log.exception("unhandled error on %s", request.url.path)
        return error(500, "internal error")


def route_path(scope: Scope) -> str:
    """The path the app routes on: uvicorn puts `--root-path` in front of it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class BodyLimit:
    """ASGI middleware: refuse `/api/` request bodies over `limit` bytes with a JSON 413.

    The body is read here, up to the limit, and replayed to the app: FastAPI would otherwise
    buffer any size before validation could refuse it, and a declared Content-Length can lie.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through except an over-long `/api/` body."""
        if scope["type"] != "http" or not route_path(scope).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        too_big = error(413, f"request body over {self.limit} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_big(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await too_big(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def api_router(pipeline: Pipeline) -> APIRouter:
    """The `/api/*` and `/healthz` routes, answering from one shared pipeline."""
    router = APIRouter()

    # Plain `def` endpoints: FastAPI runs them in its thread pool, so twenty slow questions
    # don't block the event loop, and the pipeline is safe to call from several threads.
    @router.post("/api/ask", response_model=AnswerOut, responses=_ASK_ERRORS, tags=["api"])
    def ask(body: AskRequest) -> JSONResponse:
        """Answer a question with verbatim quotes and citations (or abstain)."""
        answer = pipeline.ask(body.question, k=body.k, mode=body.mode,
                              history=body.history or ())
        return JSONResponse(answer.to_dict())

    @router.get("/api/documents", response_model=list[DocumentSummary], tags=["api"])
    def documents() -> list[dict[str, Any]]:
        """Every reading: id, title, author, date, url."""
        return [{k: d.metadata()[k] for k in ("id", "title", "author", "date", "url")}
                for d in sorted(pipeline.documents.values(), key=lambda d: d.id)]

    @router.get("/api/documents/{doc_id}", response_model=DocumentOut, responses=_ERRORS,
                tags=["api"])
    def document(doc_id: str) -> JSONResponse:
        """One reading's metadata and full text, so a client can show a citation in context."""
        doc = pipeline.documents.get(doc_id) if _DOC_ID.fullmatch(doc_id) else None
        if doc is None:
            return error(404, "unknown document id; GET /api/documents lists them")
        return JSONResponse({**doc.metadata(), "text": doc.text})

    @router.get("/api/cite", response_class=Response, responses=_CITE_RESPONSES, tags=["api"])
    def cite(doc_id: Annotated[list[str], Query(
                 min_length=1, max_length=MAX_CITE_DOCS,
                 description="a reading's id (repeat for several), as in GET /api/documents",
                 examples=[["lih-all-power-to-the-soviets"]])],
             fmt: Annotated[Literal["bibtex", "ris"], Query(
                 alias="format", description="bibtex (a .bib file) or ris")] = "bibtex",
             ) -> Response:
        """The readings' references as a BibTeX or RIS file, for a reference manager (the
        chat's "Cite all sources" links)."""
        docs = [pipeline.documents.get(i) if _DOC_ID.fullmatch(i) else None for i in doc_id]
        missing = [i for i, d in zip(doc_id, docs, strict=True) if d is None]
        if missing:
            return error(404, f"unknown document id {missing[0][:200]!r}; "
                              "GET /api/documents lists them")
        unique = list({d.id: d for d in docs if d is not None}.values())
        media, ext = _CITE_FORMATS[fmt]
        return Response(export(unique, fmt), media_type=f"{media}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="sources.{ext}"'})

    # `async`: it runs on the event loop, never in the thread pool behind busy questions, and
    # reads only what was loaded at start (no lock), so it answers at once under load.
    @router.get("/healthz", tags=["api"])
    async def healthz() -> dict[str, Any]:
        """Liveness plus what is loaded."""
        manifest = pipeline.index.manifest
        return {"status": "ok", "documents": len(pipeline.documents),
                "passages": len(pipeline.index.passages), "model": pipeline.settings.model,
                "mode": pipeline.settings.mode, "index_built": manifest.get("built_at")}

    # TRACE and QUERY too: a method missing here falls through to the chat app's own 404
    # (schemathesis found TRACE doing so).
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "QUERY"]

    def wrong_method(path: str, allowed: str) -> JSONResponse:
        """A JSON 405 with the `Allow` header that HTTP requires of one."""
        response = error(405, f"{path} accepts {allowed}")
        response.headers["Allow"] = allowed
        return response

    @router.api_route("/healthz", include_in_schema=False,
                      methods=[m for m in methods if m != "GET"])
    def healthz_method() -> JSONResponse:
        """Any other method on `/healthz`: a JSON 405, not the chat app's 404."""
        return wrong_method("/healthz", "GET")

    @router.api_route("/api", include_in_schema=False, methods=methods)
    @router.api_route("/api/{rest:path}", include_in_schema=False, methods=methods)
    def not_found(request: Request, rest: str = "") -> JSONResponse:
        """Keep `/api/` ours: wrong method or unknown path, never the chat app's HTML."""
        path = "/api/" + rest
        if path in _API_ROUTES:
            return wrong_method(path, ", ".join(_API_ROUTES[path]))
        if re.fullmatch(r"documents/[^/]+", rest) and request.method != "GET":
            return wrong_method("/api/documents/{doc_id}", "GET")
        if path.startswith("/api/documents/"):
            return error(404, "unknown document id; GET /api/documents lists them")
        return error(404, f"no such endpoint: {request.method} {path}")

    return router
