"""The lexical (BM25) part of an index: how text is tokenised, and its files in the index folder.

It is built with the index and saved beside the vectors, then loaded memory-mapped, so that
starting a process does not tokenise and score the whole corpus again. Searching it is
`rag.retrieval.BM25Retriever`'s concern; this module only makes, saves and loads the model,
so that building and querying tokenise the same way."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import Stemmer

from index.folder import LEXICAL_PREFIX

# bm25s's own file names, each given a `bm25.` prefix so the files sit flat in the index
# folder next to the others. `nnoc` exists only for BM25 variants that need it.
FILE_NAMES = {
    "data_name": f"{LEXICAL_PREFIX}data.npy",
    "indices_name": f"{LEXICAL_PREFIX}indices.npy",
    "indptr_name": f"{LEXICAL_PREFIX}indptr.npy",
    "vocab_name": f"{LEXICAL_PREFIX}vocab.json",
    "params_name": f"{LEXICAL_PREFIX}params.json",
    "nnoc_name": f"{LEXICAL_PREFIX}nnoc.npy",
}

# PyStemmer objects are not documented as thread-safe; one per thread is cheap.
_local = threading.local()


def _stemmer() -> Any:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stopwords: the one tokenisation used both
    to build the index and to query it."""
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False,
                          show_progress=False)


def build(texts: Sequence[str]) -> bm25s.BM25:
    """An Okapi BM25 model (bm25s defaults) over `texts`, one document per text.

    Words are numbered in sorted order: given strings, bm25s numbers them in the order of a
    Python set, which hash randomisation changes in every process, so two builds of the same
    corpus wrote different files (same scores, different manifest hashes)."""
    tokens = tokenize(texts)
    vocab = {t: i for i, t in enumerate(sorted({t for doc in tokens for t in doc}))}
    if not vocab:
        # bm25s fails on this with "max() arg is an empty sequence": say what is wrong.
        raise ValueError("the readings have no words to search, only numbers, punctuation "
                         "or words as common as 'the' (is it a scan without a text layer?)")
    ids = [[vocab[t] for t in doc] for doc in tokens]
    model = bm25s.BM25()
    model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return model


def save(model: bm25s.BM25, folder: Path) -> list[str]:
    """Write `model` into `folder`; returns the names of the files written."""
    model.save(str(folder), show_progress=False, **FILE_NAMES)
    return sorted(name for name in FILE_NAMES.values() if (folder / name).exists())


def load(folder: Path) -> bm25s.BM25:
    """Load a model written by `save`, its score arrays memory-mapped (read on demand)."""
    return bm25s.BM25.load(str(folder), mmap=True, show_progress=False, **FILE_NAMES)
