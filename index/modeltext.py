"""What the models and BM25 read of a text: the text as written, except that a word
hyphenated at a line end ("revolu-\ntion", as a typeset PDF's text layer gives it) is
joined again. Quotes, offsets and the index's passages always keep the text as written."""

from __future__ import annotations

import re

# A letter, a hyphen ending the line, and a lower-case letter starting the next: a word
# broken by the typesetter. "Anglo-\nSaxon" and "1917-\n18" are left alone.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zß-öø-ÿ])")


def for_models(text: str) -> str:
    """`text` with line-end hyphenation undone, for embedding, BM25 and the reader."""
    return _HYPHENATED.sub("", text) if "-\n" in text else text
