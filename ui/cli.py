"""The `rag` command: a thin layer over the library. User mistakes get one line on stderr and a
non-zero exit code, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_SKIPPED = 3


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _status(msg: str) -> None:
    print(msg, file=sys.stderr)


def _settings(args: argparse.Namespace, **extra: object):  # type: ignore[no-untyped-def]
    from rag.settings import Settings

    return Settings.load(
        config=Path(args.config) if getattr(args, "config", None) else None,
        corpus=getattr(args, "corpus", None), index=getattr(args, "index", None),
        model=getattr(args, "model", None), **extra)


def cmd_build(args: argparse.Namespace) -> int:
    """`rag build`: (re)build the index for a corpus folder."""
    from corpus.collection import load_corpus
    from index.embedder import make_embedder
    from rag.pipeline import ensure_index

    settings = _settings(args)
    corpus = load_corpus(settings.corpus)
    for s in corpus.skipped:
        _status(f"skipped {s.path}: {s.reason}")
    report = ensure_index(settings, make_embedder(settings.model), corpus, status=_status,
                          force=args.force)
    if report is None:
        _status(f"Index is up to date ({len(corpus.documents)} documents) at "
                f"{settings.index_path}; embedded 0 passages.")
    else:
        _status(f"Indexed {len(corpus.documents)} documents, {report.passages} passages at "
                f"{settings.index_path}: embedded {report.embedded}, reused {report.reused}, "
                f"{report.seconds:.1f} s.")
    if corpus.skipped:
        _status(f"{len(corpus.skipped)} file(s) skipped; exit code {EXIT_SKIPPED}.")
        return EXIT_SKIPPED
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """`rag ask`: answer one question with quotes and citations."""
    from rag.pipeline import Pipeline, validate_question
    from ui.terminal import render_answer

    validate_question(args.question, args.k, args.mode)
    settings = _settings(args, mode=args.mode, k=args.k)
    pipeline = Pipeline.open(settings, status=_status)
    answer = pipeline.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer, pipeline.documents))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`rag serve`: reserved for the chat app and HTTP API."""
    raise CliError("`rag serve` is not available yet")


def cmd_eval(args: argparse.Namespace) -> int:
    """`rag eval`: reserved for retrieval evals."""
    raise CliError("`rag eval` is not available yet")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="folder of readings (default: the bundled dual-power set)")
    p.add_argument("--index", help="index folder (default: under the data directory)")
    p.add_argument("--model", help="sentence-transformers model name or path")
    p.add_argument("--config", help="TOML file with settings")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="rag", description="Ask course readings; answers are verbatim, cited quotes.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build or update the index")
    _common(p)
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, help="number of passages to retrieve (default 5)")
    p.add_argument("--mode", help="dense, bm25 or hybrid (default hybrid)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the chat app and HTTP API")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("eval", help="run retrieval evals")
    p.set_defaults(func=cmd_eval)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from corpus.collection import CorpusError
    from index.store import IndexError_
    from rag.settings import SettingsError

    return (CliError, CorpusError, IndexError_, SettingsError, ValueError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        _status("interrupted")
        return 130
    except _user_errors() as e:  # one line, no traceback, for anything the user can fix
        print(f"rag: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
