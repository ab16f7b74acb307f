"""Ask latency on a BEIR corpus, reader on, against the raw floor: a benchmark script, not a
test. The benchmark's own index is built first if needed (as `rag eval --beir` does).

    .venv/bin/python -m evals.ask_latency ../shared/benchmarks/scifact --limit 150

Each query is asked through `Pipeline.ask` with the judge the settings ask for; the floor
(encode the query with the bare model, then search FAISS) is measured for the same query in
the same process, so the ratio survives a busy machine better than either figure alone.
"""

from __future__ import annotations

import argparse
import json
import sys

from evals.beir import _judged, benchmark_settings, open_pipeline
from evals.beir_data import load_beir
from evals.bench import TimedPipeline, measure_asks
from rag.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Print p50/p95 ask latency, the floor and their ratio; `--json` for one object."""
    p = argparse.ArgumentParser(prog="python -m evals.ask_latency", description=__doc__)
    p.add_argument("beir", help="a BEIR-format benchmark folder")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=150, help="the first N queries")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        bset = load_beir(args.beir, split=args.split)
        pipeline = _judged(open_pipeline(bset, benchmark_settings(Settings()), progress=True))
    except Exception as e:  # a one-line error for a bad folder or a missing reader
        print(f"ask_latency: {e}", file=sys.stderr)
        return 2
    # The loop is `rag bench`'s (evals/bench.py), reader on only: the floor measured beside
    # each ask, on the bare embedder, so no question's vector is remembered for the ask.
    inner = getattr(pipeline.embedder, "inner", pipeline.embedder)
    timed = TimedPipeline(pipeline.settings, pipeline.index, inner, pipeline.judge)
    queries = list(bset.queries.values())[:args.limit]
    lat = measure_asks({"reader_on": timed}, queries, progress=False)
    out = {"benchmark": bset.name, "split": args.split, "queries": len(queries),
           "passages": len(pipeline.index.passages),
           "ask_ms_p50": round(lat["reader_on"]["total"]["p50"], 1),
           "ask_ms_p95": round(lat["reader_on"]["total"]["p95"], 1),
           "floor_ms_p50": round(lat["floor"]["p50"], 1),
           "ratio_p50": round(lat["reader_on"]["ratio_p50"], 2)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['benchmark']} ({out['split']}), {out['queries']} queries over "
              f"{out['passages']} passages, reader on: ask p50 {out['ask_ms_p50']} ms, p95 "
              f"{out['ask_ms_p95']} ms; raw floor p50 {out['floor_ms_p50']} ms; ratio p50 "
              f"{out['ratio_p50']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
