"""Setting a quote in quotation marks so that the marks never double up.

A quote is put in curly double quotes; its own double quotes become single ones (‘…’), as
style guides (Chicago 13.30, MLA 6.41, APA 8.32) do for a quotation within a quotation, so
`"Dual Power" is…` reads “ ‘Dual Power’ is…”, never “"Dual Power" is…”. Only quote marks
change: every other character of the quote is kept. The chat, the plain `answer` text of
the API and the CLI, and the copied citation all use this one rule.
"""

from __future__ import annotations

from collections.abc import Callable

DOUBLE = '"“”'
# A straight double mark opens a quotation at the start or after these.
_OPENS_AFTER = "([{—–-/"
# A narrow no-break space keeps a single mark apart from ours, as typesetters do.
THIN = "\u202f"


def enclose(quote: str, spaced: bool = True,
            body: Callable[[str], str] = lambda text: text) -> str:
    """`quote` in “…”, its own double quotes made single. A quote that is one quotation from
    end to end keeps just its own pair, curled. With `spaced`, a mark right inside ours gets
    a narrow no-break space. `body` formats the text between the marks (the chat escapes
    it as HTML)."""
    doubles = [i for i, ch in enumerate(quote) if ch in DOUBLE]
    if (len(quote) > 2 and doubles == [0, len(quote) - 1]
            and quote[0] in '"“' and quote[-1] in '"”'):
        inner = quote[1:-1]
    else:
        def single(i: int, ch: str) -> str:
            opens = ch == "“" or (ch == '"' and (i == 0 or quote[i - 1].isspace()
                                                 or quote[i - 1] in _OPENS_AFTER))
            return "‘" if opens else "’"
        inner = "".join(single(i, ch) if ch in DOUBLE else ch for i, ch in enumerate(quote))
    marks = "‘’'"
    lead = THIN if spaced and inner[:1] and inner[0] in marks else ""
    trail = THIN if spaced and inner[-1:] and inner[-1] in marks else ""
    return f"“{lead}{body(inner)}{trail}”"
