"""Read one split of a benchmark in BEIR layout: `corpus.jsonl`, `queries.jsonl` (or
`queries_<split>.jsonl`) and `qrels/<split>.tsv`, plus `qa.jsonl` gold answers for QA sets such
as SQuAD. Every malformed line is a one-line `path:line: message` error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from corpus.document import Document
from corpus.loaders import slugify
from evals.jsonl import at, read_jsonl
from rag.settings import Settings

# "header": the title is only the document title, which the index's context header puts in
# front of every passage (switches the `context_headers` setting on); "text": the title
# leads the document text, where chunking makes it a passage of its own.
BEIR_TITLE = "header"
TITLE_MODES = ("header", "text")


class BenchmarkError(ValueError):
    """A benchmark folder or split that cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class BeirSet:
    """One split of a BEIR benchmark: documents, the judged queries, and their qrels."""

    name: str
    path: Path
    split: str
    documents: tuple[Document, ...]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    # Gold answer strings per query id, only for QA sets such as SQuAD (qa.jsonl).
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    title_mode: str = BEIR_TITLE


def _field(path: Path, n: int, row: Mapping[str, Any], key: str, kind: type) -> Any:
    value = row.get(key)
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some BEIR sets write numeric ids
    if not isinstance(value, kind):
        raise BenchmarkError(at(path, n, f"missing or non-{kind.__name__} {key!r}"))
    return value


def load_documents(path: Path, name: str, title_mode: str = BEIR_TITLE
                   ) -> tuple[Document, ...]:
    """BEIR corpus rows as documents; see `BEIR_TITLE` for where the title goes."""
    if title_mode not in TITLE_MODES:
        raise BenchmarkError(f"unknown title mode {title_mode!r}; choose one of "
                             f"{', '.join(TITLE_MODES)}")
    docs: list[Document] = []
    seen: set[str] = set()
    for n, row in read_jsonl(path, BenchmarkError):
        doc_id = _field(path, n, row, "_id", str)
        text = _field(path, n, row, "text", str)
        title = row.get("title") or ""
        if not isinstance(title, str):
            raise BenchmarkError(at(path, n, "'title' is not a string"))
        if doc_id in seen:
            raise BenchmarkError(at(path, n, f"duplicate document id {doc_id!r}"))
        seen.add(doc_id)
        title = title.strip()
        in_text = title and title_mode == "text"
        docs.append(Document(id=doc_id, text=f"{title}\n\n{text}" if in_text else text,
                             title=title or doc_id, source=f"{name}/corpus.jsonl"))
    if not docs:
        raise BenchmarkError(f"{path} holds no documents")
    return tuple(docs)


def abstract_texts(folder: Path) -> tuple[list[str], list[str]]:
    """(ids, "title. text") of every row of a BEIR `corpus.jsonl`, raw as the file has them:
    what the encoder and ANN benches embed (the pipeline's documents go through
    `load_documents` instead)."""
    rows = [row for _, row in read_jsonl(folder / "corpus.jsonl", BenchmarkError)]
    return ([str(r["_id"]) for r in rows],
            [f"{r.get('title', '')}. {r['text']}" for r in rows])


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`query-id <tab> corpus-id <tab> score` rows (BEIR's header line is optional)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (n == 1 and parts[0] == "query-id"):
                continue
            if len(parts) != 3:
                raise BenchmarkError(at(path, n, "expected 3 tab-separated columns "
                                        f"(query-id, corpus-id, score), got {len(parts)}"))
            try:
                score = int(parts[2])
            except ValueError:
                raise BenchmarkError(at(path, n, f"score {parts[2]!r} is not an integer")
                                     ) from None
            qrels.setdefault(parts[0], {})[parts[1]] = score
    if not qrels:
        raise BenchmarkError(f"{path} holds no judgements")
    return qrels


def default_title_mode() -> str:
    """`BEIR_TITLE`, or "text" where this version of rag has no context headers."""
    return BEIR_TITLE if "context_headers" in {f.name for f in fields(Settings)} else "text"


def load_beir(path: Path | str, split: str = "test", limit: int | None = None,
              title_mode: str | None = None) -> BeirSet:
    """Read one split of a BEIR folder; only queries judged in that split are kept."""
    title_mode = title_mode or default_title_mode()
    root = Path(path).expanduser()
    if not root.is_dir():
        raise BenchmarkError(f"BEIR folder not found: {root}")
    corpus = root / "corpus.jsonl"
    if not corpus.is_file():
        raise BenchmarkError(f"not a BEIR folder: {root} has no corpus.jsonl")
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise BenchmarkError(f"no qrels/{split}.tsv in {root} (splits found: "
                             f"{', '.join(found) or 'none'})")
    # BEIR ships a test-only query file for some sets; the full queries.jsonl of SciFact
    # also carries gold evidence in `metadata`, which is never read here.
    queries_path = root / f"queries_{split}.jsonl"
    if not queries_path.is_file():
        queries_path = root / "queries.jsonl"
    if not queries_path.is_file():
        raise BenchmarkError(f"not a BEIR folder: {root} has no queries.jsonl")
    name = slugify(root.resolve().name)
    qrels = load_qrels(qrels_path)
    all_queries = {_field(queries_path, n, r, "_id", str): _field(queries_path, n, r, "text", str)
                   for n, r in read_jsonl(queries_path, BenchmarkError)}
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise BenchmarkError(f"{qrels_path} judges {len(missing)} query id(s) missing from "
                             f"{queries_path.name}, e.g. {missing[0]!r}")
    queries = {q: t for q, t in all_queries.items() if q in qrels}
    if limit is not None:
        if limit < 1:
            raise BenchmarkError(f"--limit must be at least 1, got {limit}")
        queries = dict(list(queries.items())[:limit])
    answers: dict[str, tuple[str, ...]] = {}
    qa = root / "qa.jsonl"
    if qa.is_file():
        for n, row in read_jsonl(qa, BenchmarkError):
            golds = row.get("answers")
            if not isinstance(golds, list) or not all(isinstance(a, str) for a in golds):
                raise BenchmarkError(at(qa, n, "'answers' must be a list of strings"))
            answers[_field(qa, n, row, "id", str)] = tuple(golds)
    return BeirSet(name, root, split, load_documents(corpus, name, title_mode), queries,
                   {q: qrels[q] for q in queries}, answers, title_mode)
