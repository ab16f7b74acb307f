"""`python -m evals.wrap_bench SQUAD_JSON`: are answer sentences still quotable whole when
the text is hard-wrapped, as a PDF's text layer or a plain-text file is?

Each sampled SQuAD paragraph is wrapped at `--width` columns (`textwrap.fill`), chunked,
and cut into quotable units (`index.units.quote_units`). A question's answer sentence (the
sentence of the unwrapped paragraph holding the answer's start) counts when some unit of
the wrapped text is that sentence, line breaks read as spaces.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from index.chunking import chunk_text, sentences
from index.units import quote_units


def _units(text: str) -> set[str]:
    return {" ".join(t.split()) for p in chunk_text("d", text, 1000)
            for _, _, _, t in quote_units(p)}


def measure(path: Path, width: int, sample: int, seed: int) -> dict[str, float | int]:
    """The share of answer sentences quotable whole after wrapping at `width`."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paras = [p for article in data for p in article["paragraphs"]]
    paras = random.Random(seed).sample(paras, min(sample, len(paras)))
    wanted = found = 0
    for p in paras:
        text = " ".join(p["context"].split())
        spans = sentences(text)
        answers = {text[s:e] for qa in p["qas"] if qa.get("answers")
                   for s, e in spans if s <= qa["answers"][0]["answer_start"] < e}
        got = _units(textwrap.fill(text, width))
        wanted += len(answers)
        found += len(answers & got)
    return {"width": width, "paragraphs": len(paras), "answer_sentences": wanted,
            "quotable_whole": round(found / max(wanted, 1), 3)}


def main(argv: Sequence[str] | None = None) -> int:
    """Print one JSON line per width."""
    ap = argparse.ArgumentParser(prog="python -m evals.wrap_bench", description=__doc__)
    ap.add_argument("squad_json", type=Path, help="a SQuAD file, e.g. dev-v1.1.json")
    ap.add_argument("--width", type=int, action="append", help="wrap width (repeatable)")
    ap.add_argument("--sample", type=int, default=600, help="paragraphs to sample")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if not args.squad_json.is_file():
        print(f"error: no such file: {args.squad_json}", file=sys.stderr)
        return 2
    for width in args.width or [70, 90]:
        print(json.dumps(measure(args.squad_json, width, args.sample, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
