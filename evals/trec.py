"""TREC run and qrels files, so benchmark results can be checked with trec_eval or ranx."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from evals.benchmark_metrics import rank_scores


def write_run(path: Path, run: Mapping[str, Sequence[str]], tag: str) -> Path:
    """Write `qid Q0 docid rank score tag` lines, best first; scores fall strictly with rank."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for qid, docs in run.items():
            for rank, (doc, score) in enumerate(rank_scores(docs).items(), start=1):
                f.write(f"{qid} Q0 {doc} {rank} {score:g} {tag}\n")
    return path


def read_run(path: Path) -> dict[str, list[str]]:
    """Read a run file back into ranked document ids per query (by score, as trec_eval does)."""
    scored: dict[str, list[tuple[float, str]]] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise ValueError(f"{path} line {n}: expected 6 columns, got {len(parts)}")
            scored.setdefault(parts[0], []).append((float(parts[4]), parts[2]))
    return {q: [d for _, d in sorted(rows, key=lambda r: (-r[0], r[1]))]
            for q, rows in scored.items()}


def write_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> Path:
    """Write `qid 0 docid relevance` lines, the four-column form trec_eval reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for qid, rels in qrels.items():
            for doc, rel in rels.items():
                f.write(f"{qid} 0 {doc} {rel}\n")
    return path
