"""A text reading's bytes as text: UTF-8 when they are, otherwise the encoding the file
declares or, failing that, the one charset-normalizer recognises.

A .txt or .html saved by an older Windows or Mac editor is often in Windows-1252 or Mac
Roman; rejecting it as "not UTF-8" loses a reading the instructor can see is fine. A guess
can be wrong, so the caller is told which encoding was used (`EncodingNote`), and a guess
that yields control characters (binary junk decodes to something in most single-byte
encodings) is refused.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Iterator

import charset_normalizer

# How far into an HTML file its <meta charset> is looked for (the HTML standard's prescan
# reads the first 1,024 bytes; a little more costs nothing).
_PRESCAN_BYTES = 4096
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Control characters other than tab, line and page breaks: text has none, junk has many.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")


class EncodingNote(UserWarning):
    """A file was read in an encoding other than UTF-8; the message names it."""


def decode_text(data: bytes, html: bool = False) -> str | None:
    """`data` as text, or None when it is no text in any encoding recognised. UTF-8 (with
    or without a byte-order mark) is tried first; then, for HTML, the charset its <meta>
    declares; then charset-normalizer's best match. Anything but UTF-8 is announced with
    an `EncodingNote` warning."""
    try:
        # utf-8-sig drops a byte-order mark, which would hide front matter.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for encoding in _candidates(data, html):
        if encoding is None:
            continue
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if not _CONTROL.search(text):
            warnings.warn(f"read as {encoding}, not UTF-8", EncodingNote, stacklevel=2)
            return text
    return None


def _candidates(data: bytes, html: bool) -> Iterator[str | None]:
    # A generator: charset-normalizer reads the whole file, so it runs only when needed.
    if html:
        yield _declared(data)
    yield _recognised(data)


def _declared(data: bytes) -> str | None:
    """The Python codec of the charset an HTML file declares, if it is one Python knows."""
    m = _DECLARED.search(data[:_PRESCAN_BYTES])
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


def _recognised(data: bytes) -> str | None:
    match = charset_normalizer.from_bytes(data).best()
    return match.encoding if match is not None else None
