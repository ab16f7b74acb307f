"""Minimal PDFs written by hand for the loader, page and citation tests: `text_pdf` makes one
with a real (Helvetica) text layer, `pdf_file` writes any object bodies with the
cross-reference table and trailer."""

from __future__ import annotations

from collections.abc import Sequence


def pdf_file(objects: Sequence[bytes], info: int) -> bytes:
    """Objects numbered from 1 (object 1 the catalog), with object `info` as /Info."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, info, xref))
    return bytes(out)


def _literal(line: str) -> str:
    """A PDF string literal: backslash and parentheses escaped."""
    return "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def text_pdf(pages: Sequence[Sequence[str]], info: bytes, catalog_extra: bytes = b"") -> bytes:
    """One page per list of lines, each line a line of text; `info` is the /Info dictionary
    and `catalog_extra` more catalog entries (e.g. /PageLabels)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
               b"",  # the page tree, filled in once the pages have numbers
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", info]
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL",
               *(f"{_literal(line)} Tj T*" for line in lines), "ET"]
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
                       % len(objects))
        kids.append(len(objects))
    objects[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                  + b"] /Count %d >>" % len(kids))
    return pdf_file(objects, info=4)
