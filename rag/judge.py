"""Judge candidate quotes with the reader and the combiner: the reader reads the question
and each of the best candidates together, and the combiner turns its score, the cosine, the
word overlap, the passage rank and the answer type into one probability that the quote
answers. Quotes, passage order and refusal all follow that probability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from index.modeltext import for_models
from rag.combiner import Combiner, feature_rows, logit, question_type, type_features
from rag.quoting import Candidate
from rag.reader import Reader


def read_first(candidates: Sequence[Candidate], depth: int,
               first: Sequence[bool] | None = None) -> list[int]:
    """Indexes of the `depth` candidates the reader reads: the best by the cheap score,
    those marked `first` before the others (the words of a commenter the question asks
    about: a comment's sentences rarely say "comment" or repeat their writer's name, so for
    "What did the comments say?" the cheap score put the article's sentences above them,
    and unread they could not be quoted)."""
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
    if first:
        order = [i for i in order if first[i]] + [i for i in order if not first[i]]
    return order[:depth]


def reader_features(reader: Reader, question: str, candidates: Sequence[Candidate],
                    depth: int, writers: Sequence[str] | None = None,
                    first: Sequence[bool] | None = None) -> list[dict[str, float]]:
    """Each candidate's features for the combiner: its own (cosine, overlap, rank, pair),
    the reader's log-odds and the answer type. Only the `depth` candidates with the best
    cheap score are read; the others get the reader's floor, as if it found nothing.
    `writers[i]`, when given and not empty, is who wrote candidate i: the reader reads
    "writer: text", so that "What did Kvidal argue?" can match a sentence of his comment
    that does not repeat his name (the quote itself stays the bare text)."""
    read = read_first(candidates, depth, first)
    who = writers or [""] * len(candidates)
    scores = reader.score(question, [
        f"{who[i]}: {for_models(candidates[i].text)}" if who[i]
        else for_models(candidates[i].text) for i in read])
    logits = {i: logit(float(s)) for i, s in zip(read, scores, strict=True)}
    kind = question_type(question)
    rows = []
    for i, c in enumerate(candidates):
        asked, given = type_features(kind, c.text)
        rows.append(dict(c.features) | {"reader": logits.get(i, logit(0.0)),
                                        "type_asked": asked, "type_given": given})
    return rows


class Judge:
    """A reader and a combiner. Reading costs the most, so only the `depth` candidates
    that the cheap score (cosine + overlap + rank) ranks highest are read; the rest keep a
    probability computed as if the reader had found nothing in them."""

    def __init__(self, reader: Reader, combiner: Combiner, depth: int = 10) -> None:
        self.reader = reader
        self.combiner = combiner
        self.depth = depth

    def warm_up(self) -> None:
        """Load the reader now, not on the first question."""
        warm = getattr(self.reader, "warm_up", None)
        if warm:
            warm()

    def rescore(self, question: str, candidates: Sequence[Candidate],
                writers: Sequence[str] | None = None,
                first: Sequence[bool] | None = None) -> list[Candidate]:
        """The same candidates, each with `score` = P(answers) and its features extended
        (see `reader_features`)."""
        if not candidates:
            return []
        rows = reader_features(self.reader, question, candidates, self.depth, writers, first)
        probs = self.combiner.probability(feature_rows(rows, self.combiner.features))
        return [replace(c, score=float(p), features=tuple(r.items()))
                for c, p, r in zip(candidates, probs, rows, strict=True)]
