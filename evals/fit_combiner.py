"""Fit the score combiner (`rag/combiner.json`) on SQuAD 2.0 articles the reader never saw.

    python -m evals.fit_combiner [--benchmarks ../shared/benchmarks] [--work DIR]

All SQuAD 2.0 dev articles are indexed as one corpus, one document per article, with the
project's own `build_index`. Each question of the "combiner" share of articles (see
`evals.reader_data.split_articles`) then goes through the pipeline's own path: hybrid retrieval of
`rerank_depth` passages, every quotable unit scored (cosine, overlap, rank), the best
`reader_depth` read by the reader. A unit is a positive when it holds a gold answer of an
answerable question; every unit of an unanswerable question is a negative. A logistic
regression on standardised features is fitted on those rows and written as plain numbers.
The "heldout" share is only reported: answer accuracy and no-answer AUC of the combiner
against the cosine score alone. The project's eval sets are never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals.reader_data import SquadQuestion, file_sha256, load_squad, split_articles
from evals.squad_corpus import (
    Spans,
    holds_answer,
    read_candidates,
    sample,
    squad_pipeline,
    unit_label,
)
from evals.train_reader import DEFAULT_BENCHMARKS
from index.embedder import BUNDLED_MODEL
from rag.combiner import COMBINER_FILE, FEATURES, Combiner, feature_rows
from rag.judge import reader_features
from rag.pipeline import Pipeline
from rag.reader import READER_DIR, OnnxReader
from rag.settings import Settings, model_variant

SEED = 13


def passage_rank(pool: Sequence[Any], doc_id: str, spans: Spans) -> int | None:
    """1-based rank of the first retrieved passage holding a gold answer sentence."""
    for i, h in enumerate(pool, 1):
        p = h.passage
        if p.doc_id == doc_id and holds_answer(p.start, p.end, spans):
            return i
    return None


Row = tuple[dict[str, float], int, float]


def question_rows(pipeline: Pipeline, reader: OnnxReader, q: SquadQuestion,
                  gold: Spans) -> tuple[list[Row], int | None]:
    """(features, label, cheap score) for the read candidates of one question, made as the
    pipeline makes them (`read_candidates`, then `Judge.rescore`'s features); and the rank
    of the first passage holding the answer."""
    pool, cands = read_candidates(pipeline, q.question)
    rank = passage_rank(pool, q.article, gold) if gold else None
    rows = reader_features(reader, q.question, cands, len(cands))
    return [(f, unit_label(c, q.article, gold), c.score)
            for f, c in zip(rows, cands, strict=True)], rank


def _auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(a random positive scores above a random negative), ties half."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def report(per_question: Sequence[tuple[SquadQuestion, list[Row]]], combiner: Combiner
           ) -> dict[str, dict[str, float]]:
    """Held-out figures: top-1 answer accuracy over answerable questions, and the AUC of the
    question's best score for answerable against unanswerable, per scorer."""
    out = {}
    for name in ("cosine_overlap_rank", "reader_only", "combiner"):
        right, best_ans, best_unans = 0, [], []
        n_ans = 0
        for q, rows in per_question:
            if not rows:
                scores = np.zeros(0)
            elif name == "combiner":
                scores = combiner.probability(
                    feature_rows([r[0] for r in rows], combiner.features))
            elif name == "reader_only":
                scores = np.asarray([r[0]["reader"] for r in rows])
            else:
                scores = np.asarray([r[2] for r in rows])
            top = float(scores.max()) if len(scores) else -1e9
            if q.impossible:
                best_unans.append(top)
            else:
                n_ans += 1
                best_ans.append(top)
                if len(scores) and rows[int(np.argmax(scores))][1] == 1:
                    right += 1
        out[name] = {"answer_accuracy": right / max(1, n_ans),
                     "no_answer_auc": _auc(best_ans, best_unans),
                     "answerable": n_ans, "unanswerable": len(best_unans)}
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: build the two small indexes, fit, report, write rag/combiner.json."""
    ap = argparse.ArgumentParser(prog="python -m evals.fit_combiner", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    ap.add_argument("--work", type=Path, default=Path("reader-work"))
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write (default: the model's file in rag/)")
    ap.add_argument("--reader", type=Path, default=READER_DIR,
                    help="reader model folder (model.onnx + tokenizer.json) to fit against")
    ap.add_argument("--model", default=BUNDLED_MODEL,
                    help="the embedder whose cosines the combiner weighs (its own combiner "
                         "file: see rag.combiner.combiner_file)")
    ap.add_argument("--reader-depth", type=int, default=Settings.reader_depth,
                    help="candidates read per question (the reader_depth setting)")
    ap.add_argument("--fit-sample", type=int, default=900,
                    help="combiner-article questions to fit on (a seeded sample; 0: all)")
    ap.add_argument("--heldout-sample", type=int, default=600,
                    help="held-out questions to report on (a seeded sample; 0: all)")
    args = ap.parse_args(argv)
    squad_file = args.benchmarks / "squad-v2.0-dev" / "dev-v2.0.json"
    if not squad_file.exists():
        print(f"error: {squad_file} not found; pass --benchmarks DIR", file=sys.stderr)
        return 2
    t0 = time.time()
    from sklearn.linear_model import LogisticRegression

    questions = load_squad(squad_file)
    split = split_articles(sorted({q.article for q in questions}))
    reader = OnnxReader(args.reader)
    per_part: dict[str, list[Any]] = {}
    ranks: list[int | None] = []  # where the answer sits in the fused ranking
    # One index over every SQuAD 2.0 dev article: the other articles are distractors, so
    # that retrieval is about as unsure as on a course's readings (with only the 7
    # combiner articles indexed, the top passage held the answer 3 times in 4, and the
    # fit learnt to trust passage rank more than it deserves elsewhere).
    settings = Settings(reader="off", model=args.model, reader_depth=args.reader_depth)
    folder = model_variant(args.work / "squad-all-index", args.model)
    pipe, gold = squad_pipeline(questions, folder, settings)
    for part in ("combiner", "heldout"):
        # Reading the candidates costs ~0.1 s per question on 2 cores: seeded samples (about
        # 9k rows for 7 weights) keep scoring near 3 minutes. Building the index comes first
        # and is reused: about 2 minutes with MiniLM, 12 with mpnet.
        n = args.fit_sample if part == "combiner" else args.heldout_sample
        qs = sample([q for q in questions if split[q.article] == part], n, SEED)
        for q in tqdm(qs, desc=f"Scoring {part} questions", unit="q"):
            rows_q, rank = question_rows(pipe, reader, q, gold.get(q.id, []))
            per_part.setdefault(part, []).append((q, rows_q))
            if not q.impossible:
                ranks.append(rank)
    recall = {f"base_passage_recall@{n}": sum(1 for r in ranks if r is not None and r <= n)
              / max(1, len(ranks)) for n in (1, 5, 10, 20)}
    rows = [r for _, rs in per_part["combiner"] for r in rs]
    x = feature_rows([r[0] for r in rows])
    y = np.asarray([r[1] for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    combiner = Combiner(FEATURES, tuple(float(w) for w in lr.coef_[0]),
                        float(lr.intercept_[0]), tuple(mean.tolist()), tuple(scale.tolist()))
    figures = {"fit_rows": len(rows), "fit_positives": int(y.sum()), **recall,
               "heldout": report(per_part["heldout"], combiner),
               "combiner_articles": report(per_part["combiner"], combiner)}
    payload = {
        "model": combiner.to_dict(),
        "method": "logistic regression (scikit-learn, C=1) on standardised features",
        "embedder": settings.embedder_key,
        "reader_depth": settings.reader_depth,
        "reader": json.loads((args.reader / "manifest.json").read_text())["name"],
        "command": "python -m evals.fit_combiner " + " ".join(argv or sys.argv[1:]),
        "data": {"squad-v2.0-dev/dev-v2.0.json": file_sha256(squad_file)},
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": round((time.time() - t0) / 60, 1),
        "figures": figures,
    }
    out = args.out or model_variant(COMBINER_FILE, args.model)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(json.dumps({"weights": dict(zip(FEATURES, combiner.weights, strict=True)),
                      **figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
