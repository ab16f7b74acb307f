"""The `rag` command: a thin layer over the library. User mistakes get one line on stderr and a
non-zero exit code, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.settings import Settings

EXIT_USAGE = 2
EXIT_SKIPPED = 3
EXIT_PORT_IN_USE = 4


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _status(msg: str) -> None:
    print(msg, file=sys.stderr)


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
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
    for line in corpus.messages():
        _status(line)
    report = ensure_index(settings, make_embedder(settings.embedder_key), corpus, status=_status,
                          force=args.force)
    if report is None:
        _status(f"Index is up to date ({len(corpus.documents)} documents) at "
                f"{settings.index_path}; embedded 0 passages.")
    else:
        _status(f"Indexed {len(corpus.documents)} documents, {report.passages} passages at "
                f"{settings.index_path}: embedded {report.embedded}, reused {report.reused}, "
                f"and {report.units_embedded} quotable sentences; {report.seconds:.1f} s.")
    if corpus.skipped:
        _status(f"{len(corpus.skipped)} file(s) skipped; exit code {EXIT_SKIPPED}.")
        return EXIT_SKIPPED
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """`rag ask`: answer one question with quotes and citations."""
    from rag.pipeline import Pipeline, validate_history, validate_question
    from ui.terminal import render_answer

    # The words of an unquoted question arrive one argument each: `rag ask What is vlast?`.
    question = " ".join(args.question)
    validate_question(question, args.k, args.mode)
    history = args.after or []
    validate_history(history)
    settings = _settings(args, mode=args.mode, k=args.k)
    pipeline = Pipeline.open(settings, status=_status)
    answer = pipeline.ask(question, history=history)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer, pipeline.documents))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`rag serve`: the chat app and the JSON API on one local server."""
    from ui.server import PortInUseError, serve

    settings = _settings(args)
    try:
        return serve(settings, host=args.host, port=args.port, feedback=args.feedback,
                     cors_origins=args.cors_origin or [], root_path=args.root_path or "")
    except PortInUseError as e:
        print(f"rag serve: {e}", file=sys.stderr)
        return EXIT_PORT_IN_USE


def cmd_eval(args: argparse.Namespace) -> int:
    """`rag eval`: score retrieval and answers on an eval set or a BEIR benchmark."""
    from evals.cli import run

    return run(args, _settings(args, mode=args.mode))


def cmd_bench(args: argparse.Namespace) -> int:
    """`rag bench`: build throughput, ask latency by stage, cold start and peak memory."""
    from evals.bench import run

    return run(args, _settings(args))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="folder of readings (default: the bundled dual-power set)")
    p.add_argument("--index", help="index folder (default: under the data directory)")
    p.add_argument("--model", help="sentence-transformers model name or path")
    p.add_argument("--config", help="TOML file with settings")


def _version() -> str:
    """The installed package's version (pyproject.toml is the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cited-readings")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="rag", description="Ask course readings; answers are verbatim, cited quotes.")
    parser.add_argument("--version", action="version", version=f"rag {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build or update the index")
    _common(p)
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question", nargs="+",
                   help="the question; quotes around it are optional")
    p.add_argument("-k", type=int, help="number of passages to retrieve (default 5)")
    p.add_argument("--mode", help="dense, bm25 or hybrid (default hybrid)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--after", action="append", metavar="EARLIER_QUESTION",
                   help="an earlier question of the conversation, so a follow-up such as "
                        "\"And in July?\" is read against it (repeatable, oldest first)")
    _common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the chat app and HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--feedback", help="append thumbs up/down votes to this JSONL file")
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="allow this origin to call the API (repeatable; default: none)")
    p.add_argument("--root-path", help="URL prefix when served behind a reverse proxy")
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="score retrieval and answers")
    p.add_argument("--eval-set", help="JSONL eval set (default: the shipped one)")
    p.add_argument("--mode", help="dense, bm25 or hybrid (default hybrid)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="also write the JSON report to this file")
    p.add_argument("--compare", action="store_true",
                   help="run dense, bm25 and hybrid side by side with a significance test")
    p.add_argument("--against", metavar="REPORT",
                   help="compare with a report saved by --out: before/after, paired tests, "
                        "the questions that changed")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the abstention and confident thresholds by cross-validation "
                        "and store them")
    p.add_argument("--calibrate-with", action="append", metavar="FILE",
                   help="with --calibrate: also fit on this question set (repeatable; "
                        "default: the shipped dev set, with the shipped eval set; "
                        "'none' for the eval set alone)")
    p.add_argument("--beir", metavar="DIR", help="score a BEIR-format benchmark folder")
    p.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    p.add_argument("--limit", type=int, help="only the first N questions (quick runs)")
    p.add_argument("--rerank", action="store_true",
                   help="with --beir: also score hybrid reordered by the reader (hybrid+reader)")
    p.add_argument("--plot", metavar="FILE",
                   help="write the risk-coverage PNG here (default: beside --out)")
    p.add_argument("--followups", metavar="FILE",
                   help="two-turn follow-up cases to score apart (default: the shipped ones, "
                        "when the eval set is the shipped one)")
    p.add_argument("--no-followups", action="store_true",
                   help="skip the follow-up cases")
    _common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="measure build throughput, ask latency and cold start")
    p.add_argument("--corpus", help="folder of readings (default: the bundled dual-power set)")
    p.add_argument("--beir", metavar="DIR",
                   help="a BEIR-format folder: its first documents and its test queries")
    p.add_argument("--passages", type=int, metavar="N",
                   help="with --beir: as many documents as make N passages (default: all)")
    p.add_argument("--copies", type=int, metavar="N",
                   help="with --beir: ask of N copies of the documents (timings at N times "
                        "the size; the build embeds one copy and is not timed)")
    p.add_argument("--questions", type=int, metavar="N",
                   help="ask the first N questions (default 100)")
    p.add_argument("--build-sample", type=int, metavar="N",
                   help="time the build on the first documents making N passages only")
    p.add_argument("--no-build", action="store_true",
                   help="skip the build timing; the bench index must exist already")
    p.add_argument("--cold-runs", type=int, metavar="N",
                   help="cold starts to time (default 3; the median is reported)")
    p.add_argument("--langchain", nargs="?", const="auto", metavar="PYTHON",
                   help="also build and query LangChain's FAISS store on the same passages, "
                        "run by this python (default: .venv-langchain, made if missing)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="also write the JSON report to this file")
    p.add_argument("--model", help="sentence-transformers model name or path")
    p.add_argument("--config", help="TOML file with settings")
    p.set_defaults(func=cmd_bench)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from corpus.collection import CorpusError
    from evals.langchain_side import LangChainUnavailable
    from index.mpnet import ModelAssemblyError
    from index.onnx_encoder import OnnxExportError
    from index.store import IndexError_
    from rag.reader import ReaderError
    from rag.settings import SettingsError

    return (CliError, CorpusError, IndexError_, LangChainUnavailable, ModelAssemblyError,
            OnnxExportError, ReaderError, SettingsError, ValueError, OSError)


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
