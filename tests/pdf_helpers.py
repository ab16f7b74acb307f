"""A PDF file from its object bodies: the cross-reference table and trailer that the
test PDF makers in test_loaders and test_pages would otherwise each write out."""

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
