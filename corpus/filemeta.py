"""Metadata a program wrote rather than a person: a PDF's or a Word file's "title" that is
a file name ("Microsoft Word - week3.docx", "Untitled") and an "author" that is an account
("user", "Administrator"). Cited as written, it would name the wrong thing, and the
question scope (`rag.writers`) would take "docx" for a writer's name. The loaders fall back
to the file's name for a title and to no author."""

from __future__ import annotations

import re

# A program's name before the document's ("Microsoft Word - ..."), a file name, "Untitled".
_PROGRAM = re.compile(r"^\s*microsoft\s+(word|powerpoint|excel)\b", re.I)
_FILE_NAME = re.compile(r"\.(docx?|pdf|pptx?|odt|rtf|tex|indd|txt|xlsx?|pages)\s*$", re.I)
_UNTITLED = re.compile(r"^\s*untitled\b", re.I)
# Accounts that office software writes as the author of whatever the machine makes.
_ACCOUNTS = frozenset({"user", "admin", "administrator", "owner", "author", "unknown",
                       "root", "default", "guest", "microsoft office user", "windows user"})


def real_title(title: str | None) -> str | None:
    """`title`, or None when a program wrote it."""
    if title is None or not title.strip():
        return None
    if _PROGRAM.search(title) or _FILE_NAME.search(title) or _UNTITLED.search(title):
        return None
    return title


def real_author(author: str | None) -> str | None:
    """`author`, or None when it is an account name or a program's."""
    if author is None or not author.strip():
        return None
    if author.strip().lower() in _ACCOUNTS or _PROGRAM.search(author) or _FILE_NAME.search(author):
        return None
    return author
