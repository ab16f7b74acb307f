"""`python -m evals.wrap_bench SQUAD_JSON`: are answer sentences still quotable whole when
the text is hard-wrapped, as a PDF's text layer or a plain-text file is?

Each sampled SQuAD paragraph is wrapped at `--width` columns (`textwrap.fill`), chunked,
and cut into quotable units (`index.units.quote_units`). A question's answer sentence (the
sentence of the unwrapped paragraph holding the answer's start) counts when some unit of
the wrapped text is that sentence, line breaks read as spaces.

With `--page-lines N`, the sampled paragraphs of each article are one reading, wrapped and
cut into pages of N lines as a PDF's text layer gives them: each page starts with a running
header (the article's title) and ends with its page number, and a sentence may run on to
the next page. The pages are joined as the PDF loader joins them (`corpus.pages`), and the
report adds how many quotable units hold a header or a page number.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from corpus.pages import join_pages
from index.chunking import chunk_text, sentences
from index.units import quote_units


def _units(text: str) -> set[str]:
    return {" ".join(t.split()) for p in chunk_text("d", text, 1000)
            for _, _, _, t in quote_units(p)}


def _sampled(path: Path, sample: int, seed: int) -> list[tuple[str, dict]]:
    """(article title, paragraph) for a seeded sample of the file's paragraphs."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paras = [(a["title"], p) for a in data for p in a["paragraphs"]]
    return random.Random(seed).sample(paras, min(sample, len(paras)))


def _answer_sentences(p: dict) -> tuple[str, set[str]]:
    """A paragraph's text, spaces collapsed, and the sentences holding its answers."""
    text = " ".join(p["context"].split())
    spans = sentences(text)
    return text, {text[s:e] for qa in p["qas"] if qa.get("answers")
                  for s, e in spans if s <= qa["answers"][0]["answer_start"] < e}


def _pages(title: str, lines: list[str], per_page: int) -> list[tuple[int | str, str]]:
    """Lines cut into pages of `per_page`, each with a running header and a page number."""
    return [(n, "\n".join([title, *lines[i:i + per_page], str(n)]))
            for n, i in enumerate(range(0, len(lines), per_page), start=1)]


def measure_pages(path: Path, width: int, per_page: int, sample: int,
                  seed: int) -> dict[str, float | int]:
    """The share of answer sentences quotable whole when the sampled paragraphs of each
    article are wrapped at `width` and paged `per_page` lines a page, and how many units
    hold a running header or page number."""
    paras = _sampled(path, sample, seed)
    by_article: dict[str, list[dict]] = {}
    for title, p in paras:
        by_article.setdefault(title.replace("_", " "), []).append(p)
    wanted = found = units = noisy = pages = 0
    for title, ps in by_article.items():
        lines: list[str] = []
        answers: set[str] = set()
        texts = []
        for p in ps:
            text, sents = _answer_sentences(p)
            texts.append(text)
            answers |= sents
            lines += [*textwrap.wrap(text, width), ""]
        paged = _pages(title, lines[:-1], per_page)
        pages += len(paged)
        got = _units(join_pages(paged)[0])
        wanted += len(answers)
        found += len(answers & got)
        units += len(got)
        # A unit holding the header (where the article's own text does not).
        noisy += sum(1 for u in got if title in u and title not in " ".join(texts))
    return {"width": width, "page_lines": per_page, "pages": pages, "paragraphs": len(paras),
            "answer_sentences": wanted, "quotable_whole": round(found / max(wanted, 1), 3),
            "units": units, "units_with_header": noisy}


def measure(path: Path, width: int, sample: int, seed: int) -> dict[str, float | int]:
    """The share of answer sentences quotable whole after wrapping at `width`."""
    paras = _sampled(path, sample, seed)
    wanted = found = 0
    for _, p in paras:
        text, answers = _answer_sentences(p)
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
    ap.add_argument("--page-lines", type=int, default=0,
                    help="cut each article into pages of this many lines (0: no pages)")
    args = ap.parse_args(argv)
    if not args.squad_json.is_file():
        print(f"error: no such file: {args.squad_json}", file=sys.stderr)
        return 2
    for width in args.width or [70, 90]:
        if args.page_lines > 0:
            print(json.dumps(measure_pages(args.squad_json, width, args.page_lines,
                                           args.sample, args.seed)))
        else:
            print(json.dumps(measure(args.squad_json, width, args.sample, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
