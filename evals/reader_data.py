"""Training and held-out data for the reader, from the offline benchmarks only.

SQuAD 2.0 dev is split by article (never by question), so that held-out articles share no
paragraph with training. SciFact contributes its train claims only (the test claims are for
reporting). `evals/eval_set.jsonl` and `evals/holdout.jsonl` are never read here.

A pair is (question, unit, label): a unit is one sentence or two adjacent sentences of the
paragraph, the same shapes the quoter scores (`rag.quoting.quote_units`).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.chunking import sentences

# Article shares, by a seeded shuffle of the 35 SQuAD 2.0 dev titles: the reader trains on
# the first part, the score combiner is fitted on the second (so that it sees reader
# scores on text the reader never trained on), and the rest is only reported.
READER_SHARE = 0.6
COMBINER_SHARE = 0.2
SPLIT_SEED = 13


@dataclass(frozen=True)
class Pair:
    """One training example for a (question, text) scorer."""

    question: str
    text: str
    label: float
    source: str


@dataclass(frozen=True)
class SquadQuestion:
    """A SQuAD 2.0 question with its paragraph cut into sentences."""

    id: str
    article: str
    question: str
    context: str
    sentences: tuple[tuple[int, int], ...]
    # Sentence indexes holding a gold answer start; for an impossible question, the
    # sentences holding a "plausible" (wrong) answer, the hardest lookalikes there are.
    answer_sentences: frozenset[int]
    impossible: bool
    # Character spans of the gold answers in `context` (none for an impossible question).
    answers: tuple[tuple[int, int], ...] = ()


def file_sha256(path: Path) -> str:
    """Hex digest of a file, for the reader's manifest."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_articles(titles: Sequence[str], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Title -> "reader" | "combiner" | "heldout", by a seeded shuffle."""
    order = sorted(titles)
    random.Random(seed).shuffle(order)
    n_reader = round(len(order) * READER_SHARE)
    n_comb = round(len(order) * COMBINER_SHARE)
    return {t: ("reader" if i < n_reader else "combiner" if i < n_reader + n_comb
                else "heldout") for i, t in enumerate(order)}


def _sentence_of(spans: Sequence[tuple[int, int]], offset: int) -> int | None:
    for i, (s, e) in enumerate(spans):
        if s <= offset < e:
            return i
    return None


def load_squad(path: Path) -> list[SquadQuestion]:
    """Every question of a SQuAD 2.0 json file, with sentence spans of its paragraph."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        for para in article["paragraphs"]:
            ctx = para["context"]
            spans = tuple(sentences(ctx))
            for qa in para["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = qa.get("plausible_answers", []) if impossible else qa["answers"]
                idx = {_sentence_of(spans, a["answer_start"]) for a in answers}
                idx.discard(None)
                gold = () if impossible else tuple(sorted(
                    {(a["answer_start"], a["answer_start"] + len(a["text"]))
                     for a in answers}))
                out.append(SquadQuestion(qa["id"], article["title"], qa["question"], ctx,
                                         spans, frozenset(i for i in idx if i is not None),
                                         impossible, gold))
    return out


def unit_text(q: SquadQuestion, i: int, n: int = 1) -> str:
    """Sentence i (and the n-1 after it) of the question's paragraph, sliced verbatim."""
    return q.context[q.sentences[i][0]:q.sentences[min(i + n, len(q.sentences)) - 1][1]]


def squad_pairs(questions: Iterable[SquadQuestion], rng: random.Random,
                mined: dict[str, list[str]] | None = None, negatives: int = 3,
                pair_share: float = 0.3) -> list[Pair]:
    """Pairs from SQuAD 2.0. Answerable: the answer sentence is positive (sometimes with a
    neighbour, as the quoter's two-sentence units); other sentences of the same paragraph
    are negatives. Impossible: every sentence is negative, plausible-answer ones first.
    `mined` adds, per question id, lookalike sentences from other paragraphs."""
    out = []
    for q in questions:
        n = len(q.sentences)
        if not q.impossible and q.answer_sentences:
            for i in sorted(q.answer_sentences)[:1]:
                out.append(Pair(q.question, unit_text(q, i), 1.0, "squad"))
                if n > 1 and rng.random() < pair_share:
                    j = i if i + 1 < n and rng.random() < 0.5 else max(i - 1, 0)
                    out.append(Pair(q.question, unit_text(q, j, 2), 1.0, "squad-pair"))
            others = [i for i in range(n) if i not in q.answer_sentences]
        else:
            others = sorted(q.answer_sentences) + [
                i for i in range(n) if i not in q.answer_sentences]
            others = others[:len(q.answer_sentences)] + rng.sample(
                others[len(q.answer_sentences):],
                k=len(others) - len(q.answer_sentences))
        for i in others[:negatives]:
            out.append(Pair(q.question, unit_text(q, i), 0.0,
                            "squad-impossible" if q.impossible else "squad-neg"))
        for text in (mined or {}).get(q.id, []):
            out.append(Pair(q.question, text, 0.0, "squad-mined"))
    return out


# Words a cut leaves dangling before the words it removes ("born in ___ in 1879").
_DANGLING = re.compile(r"(?:\b(?:in|on|at|by|of|from|to|for|with|during|about|as|than|"
                       r"since|until|into|the|a|an)\s+)+$", re.IGNORECASE)


def without_span(text: str, start: int, end: int) -> str:
    """`text` with [start, end) cut out, with the function words left dangling before it
    and the space or comma left doubled after it."""
    before = _DANGLING.sub("", text[:start]).rstrip()
    after = text[end:].lstrip()
    if after[:1] in {",", ";", ".", ":", ")"}:
        if not before or before[-1:] in ",;(:":
            after = after[1:].lstrip()
        else:
            return before + after
    return f"{before} {after}" if before and after else before or after


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\w[\w'’-]*", text)]


def answer_cut_pairs(questions: Iterable[SquadQuestion], rng: random.Random) -> list[Pair]:
    """Pairs that teach the reader to look for the answer, not the topic. For an answerable
    question, its answer sentence with the answer cut out is a negative: on topic, with the
    question's words, and no answer (the lookalike of a near-topic question the readings
    cannot answer). So that a cut alone is no tell, the same sentence with as many other
    words cut, the answer kept, is a positive."""
    out = []
    for q in questions:
        if q.impossible or not q.answers:
            continue
        a0, a1 = q.answers[0]
        i = _sentence_of(q.sentences, a0)
        if i is None:
            continue
        s0, s1 = q.sentences[i]
        if a1 > s1:
            continue
        sent = q.context[s0:s1]
        a0, a1 = a0 - s0, a1 - s0
        cut = without_span(sent, a0, a1)
        if len(cut.split()) < 4:
            continue
        words = _word_spans(sent)
        n = max(1, min(4, sum(1 for w in words if a0 <= w[0] < a1)))
        starts = [k for k in range(len(words) - n + 1)
                  if words[k + n - 1][1] <= a0 or words[k][0] >= a1]
        if not starts:
            continue
        k = rng.choice(starts)
        kept = without_span(sent, words[k][0], words[k + n - 1][1])
        out.append(Pair(q.question, cut, 0.0, "squad-answer-cut"))
        out.append(Pair(q.question, kept, 1.0, "squad-other-cut"))
    return out


def scifact_pairs(folder: Path, rng: random.Random, negatives: int = 3) -> list[Pair]:
    """Pairs from SciFact train claims: rationale sentences are positives, the other
    sentences of the cited abstracts are negatives. Only `claims_train.jsonl` is read."""
    abstracts = {}
    with (folder / "corpus_sentences.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            abstracts[str(row["doc_id"])] = row["abstract"]
    out = []
    with (folder / "claims_train.jsonl").open(encoding="utf-8") as f:
        for line in f:
            claim = json.loads(line)
            for doc_id in claim["cited_doc_ids"]:
                sents = abstracts.get(str(doc_id))
                if not sents:
                    continue
                gold = {i for ev in claim["evidence"].get(str(doc_id), [])
                        for i in ev["sentences"]}
                for i in sorted(gold):
                    out.append(Pair(claim["claim"], sents[i], 1.0, "scifact"))
                rest = [i for i in range(len(sents)) if i not in gold]
                for i in rng.sample(rest, k=min(negatives, len(rest))):
                    out.append(Pair(claim["claim"], sents[i], 0.0, "scifact-neg"))
    return out
