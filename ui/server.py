"""`rag serve`: one FastAPI app with the JSON API, the chat at `/`, the embed at `/embed`,
a reader view of each document at `/read/{doc_id}`, and the static embed example.

Build it with `create_app(pipeline)` (tests do, without uvicorn); `serve` opens the pipeline
once, then runs uvicorn on localhost unless told otherwise.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

# Before gradio is imported anywhere in this process: no telemetry from the server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.middleware.cors import CORSMiddleware  # noqa: E402
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from fastapi_offline import FastAPIOffline  # noqa: E402

from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402
from ui.api import BodyLimit, api_router, install_error_handlers  # noqa: E402
from ui.chat import CHAT_CSS, CHAT_JS, STATIC_DIR, ChatApp, theme  # noqa: E402
from ui.feedback import FeedbackLog  # noqa: E402
from ui.limits import AskLimits  # noqa: E402
from ui.reader_page import render_reader_page  # noqa: E402
from ui.render import esc  # noqa: E402

EMBED_PATH = "/embed"
GRADIO_JS = Path(gr.__file__).resolve().parent / "templates" / "frontend" / "gradio.js"
# Gradio serves its own files under `/static` of each mounted app, so ours live elsewhere.
STATIC_PATH = "/ui-static"
# Swagger UI's files for /docs, served from here (fastapi-offline ships them) rather than
# from FastAPI's default CDN: the docs work offline and load nothing from a third party.
DOCS_STATIC_PATH = "/docs-static"
# How many answers the chat computes at the same time (Gradio's default is 1). Every
# question passes through the embedder's one lock (torch gains nothing from parallel calls
# on 2 cores), but retrieval, BM25 and quote scoring can overlap with another question's
# embedding, so a few workers keep a quick question from queueing behind a slow one (a
# first-time passage embedding takes seconds). More than a few only adds threads waiting on
# that lock: with 20 simultaneous browser users, limits 1, 4 and 20 all answered everyone
# in a few seconds, within the noise of 20 browsers sharing the same 2 cores.
CHAT_CONCURRENCY = 4
# Beyond this many waiting questions, new ones are told the queue is full rather than
# waiting minutes: a classroom is dozens of students, not thousands.
QUEUE_MAX = 200
# Page width, per mount: a readable column for the full page, edge to edge in an iframe.
# (No @media here: Gradio rewrites rules inside one to sit under its `.contain` element.)
FULL_CSS = (".gradio-container { max-width: 900px !important; margin: 0 auto !important; }"
            ".gradio-container .main.app { padding-left: min(32px, 2.5vw) !important;"
            " padding-right: min(32px, 2.5vw) !important; }")
EMBED_CSS = (".gradio-container { max-width: none !important; }"
             ".gradio-container .main.app { padding: 6px !important; }")


def create_app(pipeline: Pipeline, feedback: str | Path | None = None,
               cors_origins: Sequence[str] = (), root_path: str = "") -> FastAPI:
    """The whole server as an ASGI app: API, chat, embed, reader and static files.

    `root_path` is the public prefix behind a reverse proxy (a path such as "/course-chat",
    or a full URL); the proxy strips it, and uvicorn is told it (see `serve`)."""
    root_path = root_path.rstrip("/")
    prefix = url_path(root_path)
    app = FastAPIOffline(title="Cited readings", version="0.1.0",
                         description="Ask the course readings; every answer is verbatim quotes "
                                     "with citations to exact character spans.",
                         static_url=DOCS_STATIC_PATH,
                         # ReDoc's bundle shows a logo from Redocly's CDN that no option turns
                         # off, so /redoc leads to /docs instead (below).
                         redoc_url=None,
                         # Swagger UI would show a badge image from validator.swagger.io for a
                         # schema on a public host.
                         swagger_ui_parameters={"validatorUrl": None})
    install_error_handlers(app)
    # Inside CORS (added next, so it wraps this): a 429 or 503 reaches an allowed course site's
    # script with its CORS headers, readable like any other error.
    limits = pipeline.settings
    app.add_middleware(AskLimits, rate_limit=limits.rate_limit, running=limits.ask_workers,
                       waiting=limits.ask_queue)
    # Always install CORSMiddleware, even with no origins: Gradio then leaves CORS to us
    # instead of adding its own localhost rules, so the allow-list is the only policy.
    app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                       allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"], allow_credentials=False)
    app.add_middleware(BodyLimit)
    app.include_router(api_router(pipeline))

    reader_css = f"{prefix}{STATIC_PATH}/reader.css"

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> RedirectResponse:
        """The one set of API docs; relative, so it also works under a proxy's sub-path."""
        return RedirectResponse("docs", status_code=307)

    @app.get("/read/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def read(doc_id: str, start: int | None = None, end: int | None = None) -> HTMLResponse:
        """The whole reading with the cited span highlighted: the chat's source viewer."""
        doc = pipeline.documents.get(doc_id)
        if doc is None:
            return HTMLResponse(f"<!doctype html><title>Not found</title><p>No reading with id "
                                f"{esc(doc_id)}.</p>", status_code=404)
        # The chat is the app's root, under the proxy's prefix when there is one.
        return HTMLResponse(render_reader_page(doc, start, end, reader_css,
                                               chat_url=f"{prefix}/"))

    @app.get(EMBED_PATH, include_in_schema=False)
    def embed_slash() -> RedirectResponse:
        """`/embed` to `/embed/`; relative, so it also works under a proxy's sub-path."""
        return RedirectResponse(EMBED_PATH.lstrip("/") + "/", status_code=307)

    @app.get(f"{EMBED_PATH}/gradio.js", include_in_schema=False)
    def web_component() -> FileResponse:
        """Gradio's `<gradio-app>` loader, served from here rather than Gradio's CDN: a course
        page then loads nothing from a third party. It imports `./assets/…`, which is the
        embed app's own asset route."""
        return FileResponse(GRADIO_JS, media_type="text/javascript")

    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="ui-static")

    log = FeedbackLog(feedback) if feedback else None
    chat = ChatApp(pipeline, log, root_path=root_path)
    common = {"theme": theme(), "css_paths": [CHAT_CSS], "footer_links": [],
              "js": CHAT_JS.read_text(encoding="utf-8"),
              # Run history would keep every question in the browser for a "runs" page,
              # beside our own stored chat; one copy is enough.
              "run_history": False, "ssr_mode": False, "show_error": False}
    # The embed first: a mount at "/" matches every path, so it must come last.
    embed = chat.build(embed=True).queue(default_concurrency_limit=CHAT_CONCURRENCY,
                                         max_size=QUEUE_MAX)
    app = gr.mount_gradio_app(app, embed, path=EMBED_PATH,
                              root_path=f"{root_path}{EMBED_PATH}" if root_path else None,
                              css=EMBED_CSS, **common)
    full = chat.build(embed=False).queue(default_concurrency_limit=CHAT_CONCURRENCY,
                                         max_size=QUEUE_MAX)
    return gr.mount_gradio_app(app, full, path="/", root_path=root_path or None, css=FULL_CSS,
                               **common)


def url_path(root_path: str) -> str:
    """The path part of a root path given as a path or a full URL, without a trailing slash."""
    path = urlsplit(root_path).path if "://" in root_path else root_path
    return path.rstrip("/")


class PortInUseError(OSError):
    """The port asked for is taken; the message names it and suggests a free one."""


def claim_port(host: str, port: int) -> socket.socket:
    """Bind host:port (not yet listening) as uvicorn would, so a taken port is reported in a
    second rather than after the models load. Raises `PortInUseError`, or `OSError` with one
    line for an address that cannot be used at all."""
    if not 0 < port < 65536:
        raise OSError(f"--port must be between 1 and 65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a port a previous run left in TIME_WAIT is free to use again.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} is already in use "
                                 f"(try --port {_free_port_after(host, port)})") from None
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def _free_port_after(host: str, port: int) -> int:
    """The first of the next few ports that binds now, for the suggestion (else port + 1)."""
    for candidate in range(port + 1, min(port + 21, 65536)):
        try:
            claim_port(host, candidate).close()
            return candidate
        except OSError:
            continue
    return port + 1


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860,
          feedback: str | None = None, cors_origins: Sequence[str] = (),
          root_path: str = "") -> int:
    """Load the model and index once, then serve until interrupted. Returns an exit code."""
    import uvicorn

    def status(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    # Claimed before anything is loaded or announced, and handed to uvicorn, so a taken port
    # fails at once and no other process can take it in between.
    with claim_port(host, port) as sock:
        status(f"Loading the index for {settings.corpus} …")
        pipeline = Pipeline.open(settings, status=status)
        # Loading the models up front keeps the first students' questions as fast as later
        # ones; sentence vectors are already in the index.
        pipeline.warm_up()
        # The `cors_origins` setting (comma-separated; config file or RAG_CORS_ORIGINS) adds
        # to the --cors-origin flags.
        configured = settings.cors_origins
        origins = list(dict.fromkeys([*cors_origins, *filter(None, (
            o.strip() for o in configured.split(",")))]))
        app = create_app(pipeline, feedback=feedback, cors_origins=origins,
                         root_path=root_path)
        shown = f"[{host}]" if ":" in host else host
        status(f"Chat:  http://{shown}:{port}/   "
               f"(embed: {EMBED_PATH}/, API docs: /docs)")
        if feedback:
            status(f"Feedback votes are appended to {feedback}")
        if origins:
            status(f"API open to these origins (CORS): {', '.join(origins)}")
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                # uvicorn puts the prefix back in front of each path the proxy
                                # stripped, so every mounted app (chat, embed, static) routes
                                # and links consistently.
                                root_path=url_path(root_path),
                                # Trust X-Forwarded-* only from a proxy on this machine.
                                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl+C is how a server is stopped, not an error
            pass
    return 0
