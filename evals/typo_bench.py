"""`python -m evals.typo_bench SQUAD2_JSON`: are misspelt questions still answered, and are
well-spelt ones left alone?

The SQuAD 2.0 articles that trained neither the reader nor the combiner (`split_articles`:
the "combiner" and "heldout" shares) are indexed as one corpus, and a seeded sample of their
questions is asked through `Pipeline.ask` with the shipped reader, with `respell` off and
on. Each sampled answerable question is asked as written and with one typo: a random edit
(a letter dropped, doubled, replaced by a neighbour on the keyboard, or swapped with the
next) in one of its words of five letters or more that its article uses. Unanswerable
questions are asked as written, to see that respelling does not make them answerable.

An answer hits when one of its quotes holds a whole answer sentence.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from evals.reader_data import SquadQuestion, load_squad, split_articles
from evals.squad_corpus import Spans, holds_answer, sample, squad_pipeline
from index.lexicon import WORD, words_of
from rag.pipeline import Pipeline, make_judge
from rag.settings import Settings
from rag.terms import stopwords
from rag.types import Answer

_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours(c: str) -> str:
    for row in _KEYBOARD:
        if (i := row.find(c)) >= 0:
            return row[max(0, i - 1):i] + row[i + 1:i + 2]
    return ""


def typo(word: str, rng: random.Random) -> str:
    """`word` with one edit a typist makes: drop, double, neighbour key, or swap."""
    i = rng.randrange(len(word))
    kind = rng.choice(("drop", "double", "key", "swap"))
    if kind == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "key" and (near := _neighbours(word[i].lower())):
        c = rng.choice(near)
        return word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1:]


def misspelt(q: SquadQuestion, vocab: frozenset[str], rng: random.Random) -> str | None:
    """The question with a typo in one of its longer words that its article uses, or None
    when it has no such word."""
    words = [m for m in WORD.finditer(q.question)
             if len(m.group()) >= 5 and m.group().lower() in vocab
             and m.group().lower() not in stopwords()]
    if not words:
        return None
    m = rng.choice(words)
    return q.question[:m.start()] + typo(m.group(), rng) + q.question[m.end():]


def _hit(answer: Answer, q: SquadQuestion, gold: dict[str, Spans]) -> bool:
    spans = gold.get(q.id, [])
    return not answer.abstained and any(
        c.doc_id == q.article and holds_answer(c.start, c.end, spans)
        for c in answer.citations)


def measure(path: Path, folder: Path, n: int, seed: int) -> dict[str, object]:
    """The benchmark's figures (see the module docstring)."""
    qs = load_squad(path)
    split = split_articles(sorted({q.article for q in qs}))
    qs = [q for q in qs if split[q.article] in ("combiner", "heldout")]
    settings = Settings.load()
    base, gold = squad_pipeline(qs, folder, settings.replace(reader="off"))
    pipes = {flag: Pipeline(settings.replace(respell=flag), base.index, base.embedder,
                            make_judge(settings)) for flag in ("off", "on")}
    # One document per article (`squad_corpus.article_documents`): its words.
    vocab = {d.id: words_of([d.text]) for d in base.index.documents.values()}
    rng = random.Random(seed)
    answerable = sample([q for q in qs if not q.impossible and q.id in gold], n, seed)
    unanswerable = sample([q for q in qs if q.impossible], n, seed)
    typed = [(q, t) for q in answerable if (t := misspelt(q, vocab[q.article], rng))]
    hits: Counter[str] = Counter()
    changed_clean = 0
    for q, t in tqdm(typed, desc="Asking", unit="q", file=sys.stderr):
        for flag, pipe in pipes.items():
            clean = pipe.ask(q.question)
            hits[f"clean_{flag}"] += _hit(clean, q, gold)
            hits[f"typo_{flag}"] += _hit(pipe.ask(t), q, gold)
            if flag == "on":
                changed_clean += bool(clean.respelled)
    refused = {flag: sum(pipe.ask(q.question).abstained
                         for q in tqdm(unanswerable, desc=f"Unanswerable, respell {flag}",
                                       unit="q", file=sys.stderr))
               for flag, pipe in pipes.items()}
    m = len(typed)
    return {
        "file": path.name, "articles": len(vocab), "sample_seed": seed,
        "answerable_with_a_typo": m,
        "answer_hit": {k: round(v / m, 4) for k, v in sorted(hits.items())},
        "clean_questions_respelled": changed_clean,
        "unanswerable": len(unanswerable),
        "unanswerable_refused": {k: round(v / max(1, len(unanswerable)), 4)
                                 for k, v in refused.items()},
        "examples": [t for _, t in typed[:5]],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.typo_bench", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("squad", type=Path, help="SQuAD 2.0 dev JSON (dev-v2.0.json)")
    ap.add_argument("--index", type=Path, default=Path("typo-bench-index"),
                    help="folder for the articles' index (reused while unchanged)")
    ap.add_argument("--sample", type=int, default=300, help="questions of each kind")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    if not args.squad.is_file():
        print(f"error: no such file: {args.squad}", file=sys.stderr)
        return 2
    print(json.dumps(measure(args.squad, args.index, args.sample, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
