"""The bundled encoder run by onnxruntime instead of torch: exported once with `torch.onnx`
(no optimum: it pins transformers<5), optionally quantised to int8, cached under the data
directory keyed by the weights' hash.

The models are MiniLM (a BertModel) and all-mpnet-base-v2 (an MPNetModel, which takes no
token_type_ids): token vectors mean-pooled over the attention mask and L2-normalised (both
folders' 1_Pooling config); pooling happens here in numpy, so the graph is the plain
transformer and the export stays simple.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.cpus import run_batches, usable_cpus
from index.paths import default_data_dir

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Bump when the export or a quantisation recipe changes, so old cached files are not reused.
EXPORT_VERSION = 1


class OnnxExportError(RuntimeError):
    """The model could not be exported or quantised; the message is one line."""


@dataclass(frozen=True)
class Recipe:
    """How to quantise: dynamic int8 weights, with some MatMuls left in fp32.

    `keep_fp32` holds regular expressions searched in MatMul node names of the torch export
    (e.g. "/bert/encoder/layer.5/output/dense/MatMul"); matching nodes stay unquantised.
    """

    name: str
    per_channel: bool = True
    reduce_range: bool = False
    keep_fp32: tuple[str, ...] = ()


# The recipes evals/encoder_bench.py compares; "onnx-int8" uses INT8_RECIPE (see
# evals/BENCHMARKS.md for the figures).
RECIPES = {r.name: r for r in (
    Recipe("default", per_channel=False),
    Recipe("per-channel"),
    # Without VNNI, u8*s8 products can saturate; 7-bit weights avoid that at some precision.
    Recipe("per-channel-reduce-range", reduce_range=True),
    # The feed-forward output projections carry BERT's activation outliers.
    Recipe("per-channel-keep-ffn-out", keep_fp32=(r"layer\.\d+/output/dense/",)),
    # The last layer shapes the pooled vector most directly.
    Recipe("per-channel-keep-last", keep_fp32=(r"layer\.5/",)),
)}
INT8_RECIPE = "per-channel"


def file_digest(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).exists():
            return model_dir / name
    raise OnnxExportError(f"no model weights in {model_dir}")


def _atomic_target(out: Path) -> Path:
    """A temp path beside `out` (same filesystem, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".onnx.tmp", dir=out.parent)
    os.close(fd)
    return Path(tmp)


def export_fp32(model_dir: Path, out: Path) -> Path:
    """Export the transformer in `model_dir` to `out` (token vectors, dynamic batch and
    length)."""
    if out.exists():
        return out
    tmp = _atomic_target(out)
    try:
        import torch
        from transformers import AutoModel

        # Imported here: index.embedder imports this module.
        from index.embedder import quiet_model_loading

        # Eager attention: the sdpa path builds its mask with ops the tracer handles worse.
        with quiet_model_loading():
            bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

        # MPNet's forward has no token_type_ids; export only the inputs the model takes.
        names = [n for n in INPUTS if n in inspect.signature(bert.forward).parameters]

        class _ByName(torch.nn.Module):
            # forward()'s positional order changed across transformers versions: pass names.
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, *args: Any) -> Any:
                return self.bert(**dict(zip(names, args, strict=True))).last_hidden_state

        model = _ByName().eval()
        ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
        example = {"input_ids": ids, "attention_mask": (ids != 0).long(),
                   "token_type_ids": torch.zeros_like(ids)}
        axes = {n: {0: "batch", 1: "seq"} for n in names}
        axes["last_hidden_state"] = {0: "batch", 1: "seq"}
        # The tracer warns about shapes it freezes (mask padding, index ops); the tests check
        # that vectors do not depend on batch or length, and users need no such noise.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, tuple(example[n] for n in names), str(tmp),
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        tmp.replace(out)
    except OnnxExportError:
        raise
    except Exception as e:  # torch/onnx raise many kinds; the user needs one line
        detail = str(e).splitlines()[0] if str(e) else ""
        raise OnnxExportError(f"cannot export {model_dir} to ONNX: {type(e).__name__}: "
                              f"{detail} (RAG_ENCODER_BACKEND=torch runs the model without "
                              "ONNX)") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out


def quantise(fp32: Path, out: Path, recipe: Recipe) -> Path:
    """Dynamic int8 quantisation of `fp32` into `out` following `recipe`."""
    if out.exists():
        return out
    tmp = _atomic_target(out)
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        graph = onnx.load(str(fp32)).graph
        exclude = [n.name for n in graph.node if n.op_type == "MatMul"
                   and any(re.search(k, n.name) for k in recipe.keep_fp32)]
        # It logs a hint on the root logger to "pre-process" first (shape inference, which
        # this graph already has); quiet it for the moment. Logging through the `logging`
        # module also installs a root handler when there is none (basicConfig), after which
        # every library's debug lines (bm25s's) would reach the user: put the handlers back.
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8,
                             per_channel=recipe.per_channel, reduce_range=recipe.reduce_range,
                             nodes_to_exclude=exclude)
        finally:
            root.setLevel(level)
            root.handlers[:] = handlers
        tmp.replace(out)
    except Exception as e:
        raise OnnxExportError(f"cannot quantise {fp32}: {type(e).__name__}: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out


def model_files(model_dir: Path, backend: str, data_dir: Path | None = None,
                recipe: str = INT8_RECIPE) -> Path:
    """The cached .onnx for `backend`, exporting (and quantising) it first if missing."""
    if backend not in BACKENDS[1:]:
        raise OnnxExportError(f"unknown ONNX backend {backend!r}")
    digest = file_digest(_weights_file(model_dir))[:16]
    folder = (data_dir or default_data_dir()) / "models" / f"onnx-{digest}-v{EXPORT_VERSION}"
    fp32 = export_fp32(model_dir, folder / "model.fp32.onnx")
    if backend == "onnx-fp32":
        return fp32
    return quantise(fp32, folder / f"model.int8-{recipe}.onnx", RECIPES[recipe])


def _max_seq_length(model_dir: Path) -> int:
    import json

    cfg = model_dir / "sentence_bert_config.json"
    if cfg.exists():
        return int(json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length", 256))
    return 256


def open_session(model_file: Path, tokenizer_file: Path, max_len: int,
                 threads: int | None = None) -> tuple[Any, Any]:
    """A padding, truncating fast tokenizer and a quiet CPU onnxruntime session: what the
    encoder here and the reader (`rag.reader`) both run on."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.enable_truncation(max_length=max_len)
    # Pad to the longest in the batch, with the model's own pad token (MPNet's is id 1, and
    # it derives position ids from it).
    pad = tok.padding or {}
    tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # Idle worker threads otherwise spin for a while after each run, and on two cores that
    # steals the CPU from whatever runs next (the encoder after the reader, BM25, another
    # request): measured with `rag bench`, ask p50 fell from 111 to 92 ms, reader off from
    # 18 to 10 ms, when they were told to sleep instead.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
    return tok, session


class OnnxEmbedder:
    """`Embedder` over an ONNX export of a BertModel: mean pooling, L2 normalisation.

    Constructing it is cheap; the first `warm_up` exports (once per data dir and weights).

    Texts run in batches of 8, sorted by length: on 2 cores, onnxruntime embedded SciFact
    passages at 61 texts/s in batches of 8 against 49 in batches of 32, and sentences at 188
    against 169 (fp32; int8 gains as much), where torch does best at 32 (evals/BENCHMARKS.md,
    "Encoder batch size").

    With `threads` unset, batches run side by side, one core each (a batch of eight shares
    between cores less well than two batches do): 1,350 SciFact texts took 6.2 s against 5.5
    in int8, 10.0 against 9.3 in fp32, with the same vectors ("Reading pairs side by side").
    With `threads` set, one batch at a time runs on that many cores.
    """

    def __init__(self, model_dir: str | Path, backend: str = "onnx-int8",
                 model_name: str = "", batch_size: int = 8, threads: int | None = None,
                 data_dir: Path | None = None, recipe: str = INT8_RECIPE) -> None:
        if backend not in BACKENDS[1:]:
            raise OnnxExportError(f"unknown ONNX backend {backend!r}")
        self.model_dir = Path(model_dir)
        self.backend = backend
        self.model_name = model_name or f"{self.model_dir.name}@{backend}"
        self.batch_size = batch_size
        self.threads = threads
        self.data_dir = data_dir
        self.recipe = recipe
        self.model_file: Path | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Export if needed and load the session now rather than on the first question."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            self.model_file = model_files(self.model_dir, self.backend, self.data_dir,
                                          self.recipe)
            cores = usable_cpus()
            side_by_side = self.threads is None and cores > 1
            tokenizer, session = open_session(
                self.model_file, self.model_dir / "tokenizer.json",
                _max_seq_length(self.model_dir), 1 if side_by_side else self.threads)
            if side_by_side:
                self._pool = ThreadPoolExecutor(cores, thread_name_prefix="encoder")
            self._tokenizer = tokenizer
            self._session = session  # last: another thread takes a set session as ready

    @property
    def dimension(self) -> int:
        """Vector size of the model."""
        self.warm_up()
        return int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors, batched by length so that little padding is computed."""
        self.warm_up()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        names = {i.name for i in self._session.get_inputs()}

        def run(idx: list[int]) -> None:
            with self._lock:  # the tokenizer's padding state is shared
                enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask,
                    "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in names})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.maximum(norms, 1e-12)

        run_batches(self._pool, order, self.batch_size, run)
        return out
