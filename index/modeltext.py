"""What the models and BM25 read of a text: the text as written, except that a word
hyphenated at a line end ("revolu-\ntion", as a typeset PDF's text layer gives it) is
joined again, and a typesetter's ligature ("deﬁnition", with U+FB01, as many PDFs' text
layers give it) or soft hyphen is read as its letters. Quotes, offsets and the index's
passages always keep the text as written."""

from __future__ import annotations

import re

# A letter, a hyphen ending the line, and a lower-case letter starting the next: a word
# broken by the typesetter. "Anglo-\nSaxon" and "1917-\n18" are left alone.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zß-öø-ÿ])")


# Bumped when what the models read of a text changes, so that indexes are rebuilt
# (`rag.settings.Settings.index_settings`). 2: ligatures and soft hyphens.
MODEL_TEXT_VERSION = 2
# The Latin ligatures of Unicode's Alphabetic Presentation Forms, and the soft hyphen: BM25
# would not match "definition" to "deﬁnition", and the models' vocabulary has no "ﬁ".
_LETTERS = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
                          "ﬅ": "st", "ﬆ": "st", "\u00ad": None})
_SPECIAL = re.compile("[ﬀ-ﬆ\u00ad]")


def for_models(text: str) -> str:
    """`text` with line-end hyphenation undone and ligatures spelt out, for embedding, BM25
    and the reader."""
    if _SPECIAL.search(text):
        text = text.translate(_LETTERS)
    return _HYPHENATED.sub("", text) if "-\n" in text else text
