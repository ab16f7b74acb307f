"""The `Reader` seam: a model that reads a question and a candidate quote together and says
how well the text answers it (0-1). A bi-encoder compares two vectors made apart; a reader
(cross-encoder) sees both texts at once, so it can tell the answer from a lookalike.

Two implementations:
- `OnnxReader`: the project's own reader, an int8 ONNX cross-encoder shipped in
  `rag/reader_model/` (trained by `python -m evals.train_reader`), run with onnxruntime.
- `CrossEncoderReader`: any sentence-transformers `CrossEncoder`, by hub name or local path.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.cpus import run_batches, usable_cpus
from index.onnx_encoder import open_session

BUNDLED_READER = "bundled"
NO_READER = "off"
READER_DIR = Path(__file__).resolve().parent / "reader_model"


class ReaderError(RuntimeError):
    """A reader that cannot be loaded; the message says which and why."""


class Reader(Protocol):
    """Scores how well each text answers the question, higher is better, in [0, 1]."""

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One float32 score per text."""
        ...


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


class OnnxReader:
    """A cross-encoder exported to ONNX (`model.onnx` + `tokenizer.json` in one folder).

    Cheap to construct; the session loads on first use (`warm_up`).

    By default each pair runs alone (`batch_size=1`): nothing is padded, and a pair's score
    does not depend on the others read with it (dynamic int8 picks one activation scale
    per batch, which moved scores by up to 0.2). The ten candidates a question reads took
    69 ms one by one against 77 ms in one padded batch on 2 cores, and held-out SQuAD
    accuracy did not move (evals/BENCHMARKS.md, "Reader speed").

    Pairs are read `threads` at a time, each run on one core: one pair is too small a
    matrix for onnxruntime to share between cores well, so on 2 cores two pairs side by side
    took the ten candidates from 57 to 29 ms, with the same scores bit for bit
    (evals/BENCHMARKS.md, "Reading pairs side by side")."""

    def __init__(self, folder: Path = READER_DIR, model_file: Path | None = None,
                 max_len: int | None = None, batch_size: int = 1,
                 threads: int | None = None) -> None:
        self.folder = Path(folder)
        self.model_file = model_file or self.folder / "model.onnx"
        self.batch_size = batch_size
        self.threads = threads or usable_cpus()
        self.max_len = max_len or self._manifest().get("max_len", 128)
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._pad_id = 0
        self._lock = threading.Lock()

    def _manifest(self) -> dict[str, Any]:
        path = self.folder / "manifest.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def warm_up(self) -> None:
        """Load the tokenizer and the onnxruntime session now."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            for need in (self.model_file, self.folder / "tokenizer.json"):
                if not need.exists():
                    raise ReaderError(f"reader model incomplete: {need} is missing "
                                      "(train one with: python -m evals.train_reader)")
            # One core per run: the parallelism is across pairs (`_pool`). onnxruntime's
            # `run` releases the GIL and may be called from several threads at once.
            tok, session = open_session(
                self.model_file, self.folder / "tokenizer.json", self.max_len, threads=1)
            # Padding happens per batch here, to that batch's longest pair.
            self._pad_id = int((tok.padding or {}).get("pad_id", 0))
            tok.no_padding()
            self._tokenizer = tok
            if self.threads > 1:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="reader")
            self._session = session

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Scores for (question, text) pairs, batched by token length to waste little
        padding."""
        self.warm_up()
        out = np.zeros(len(pairs), dtype=np.float32)
        enc = self._tokenizer.encode_batch(list(pairs))
        order = sorted(range(len(pairs)), key=lambda i: len(enc[i].ids))
        inputs = {i.name for i in self._session.get_inputs()}

        def run(idx: list[int]) -> None:
            feed = {"input_ids": self._padded([enc[i].ids for i in idx], self._pad_id),
                    "attention_mask": self._padded([enc[i].attention_mask for i in idx], 0),
                    "token_type_ids": self._padded([enc[i].type_ids for i in idx], 0)}
            logits = self._session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
            out[idx] = _sigmoid(np.asarray(logits).reshape(-1))

        run_batches(self._pool, order, self.batch_size, run)
        return out

    @staticmethod
    def _padded(rows: Sequence[Sequence[int]], pad: int) -> np.ndarray:
        """Rows right-padded with `pad` to the longest, as one int64 array."""
        a = np.full((len(rows), max(len(r) for r in rows)), pad, dtype=np.int64)
        for i, r in enumerate(rows):
            a[i, :len(r)] = r
        return a

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text."""
        return self.score_pairs([(question, t) for t in texts])


class CrossEncoderReader:
    """Any sentence-transformers cross-encoder, by hub name or local folder."""

    def __init__(self, model: str) -> None:
        self.model_name = model
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now."""
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                from index.embedder import quiet_model_loading

                try:
                    with quiet_model_loading():
                        self._model = CrossEncoder(self.model_name, device="cpu")
                except (OSError, ValueError) as e:
                    raise ReaderError(f"cannot load reader {self.model_name!r}: "
                                      f"{str(e).splitlines()[0]}") from None

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text (the model's own activation; sigmoid for one-logit models)."""
        self.warm_up()
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            s = self._model.predict([(question, t) for t in texts], show_progress_bar=False)
        return np.asarray(s, dtype=np.float32).reshape(-1)


@functools.lru_cache(maxsize=4)
def make_reader(name: str) -> Reader | None:
    """The reader for a `reader` setting: "bundled", "off", a folder with `model.onnx`, or
    any sentence-transformers cross-encoder name or path. Shared per process."""
    if name == NO_READER:
        return None
    if name == BUNDLED_READER:
        return OnnxReader(READER_DIR)
    if (Path(name).expanduser() / "model.onnx").exists():
        return OnnxReader(Path(name).expanduser())
    return CrossEncoderReader(name)
