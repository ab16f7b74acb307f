"""A two-sentence unit's vector is made from its sentences' (index.units.pair_parts,
pair_vector), so that a build embeds sentences only."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from test_chunking import any_text

from index.chunking import chunk_text
from index.embedder import HashingEmbedder
from index.units import pair_parts, pair_vector, quote_units


@given(text=any_text)
def test_a_pairs_parts_begin_and_end_it(text: str) -> None:
    for p in chunk_text("d", text, 300):
        for s, e, n, unit in quote_units(p):
            if n != 2:
                continue
            first, second = pair_parts(p, s, e)
            assert unit == p.text[s - p.start:e - p.start]
            assert first and second and unit.startswith(first) and unit.endswith(second)
            assert len(first) + len(second) <= len(unit)


def test_a_pairs_first_part_drops_its_note_marker_as_its_own_unit_does() -> None:
    [p] = chunk_text("d", "The soviet held real power in the city.[3] The government did "
                     "not hold it at all.", 1000)
    pair = next(u for u in quote_units(p) if u[2] == 2)
    single = next(u for u in quote_units(p) if u[2] == 1)
    assert pair_parts(p, pair[0], pair[1])[0] == single[3]


def test_the_pair_vector_leans_to_the_longer_sentence_and_has_unit_length() -> None:
    emb = HashingEmbedder()
    short, long_ = "Soviets ruled.", "The government of the liberals held the ministries then."
    a, b = emb.embed([short, long_])
    v = pair_vector(a, b, short, long_)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert float(v @ b) > float(v @ a)
