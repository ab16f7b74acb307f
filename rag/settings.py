"""One `Settings` object. Layers, later wins: defaults, the calibration file shipped with the
package, a TOML config file, `RAG_*` environment variables, then CLI flags."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from corpus.collection import DEFAULT_CORPUS_DIR
from corpus.loaders import slugify
from index.chunking import SEGMENTATION_VERSION
from index.embedder import BUNDLED_MODEL, ONNX_MODELS
from index.lexicon import LEXICON_VERSION
from index.modeltext import MODEL_TEXT_VERSION
from index.onnx_encoder import BACKENDS
from index.paths import default_data_dir
from index.units import UNITS_VERSION

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
MODES = ("dense", "bm25", "hybrid")
MAX_K = 50
# The keys of rag.cite.STYLES (not imported: settings load without citeproc).
CITATION_STYLES = ("chicago-author-date", "mla", "apa")
# "auto": ONNX fp32 for the models on disk, the bundled one and mpnet (the same vectors as
# torch, a question encoded 2-3x faster, and a `rag ask` that never imports torch), torch for
# any other model.
ENCODER_BACKENDS = ("auto", *BACKENDS)


def model_variant(default: Path, model: str) -> Path:
    """The file fitted for `model`, beside `default` (which belongs to the bundled model):
    `calibration.json` becomes `calibration-all-mpnet-base-v2.json`. Scores, and so fitted
    weights and thresholds, differ between embedders."""
    if model == BUNDLED_MODEL:
        return default
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
    return default.with_name(f"{default.stem}-{safe}{default.suffix}")


def fitted_file(default: Path, model: str) -> Path:
    """The file to load for `model`: its own (`model_variant`) if one was fitted, else the
    bundled model's, the best available for an embedder nobody fitted."""
    own = model_variant(default, model)
    return own if own.exists() else default


def calibration_file(model: str) -> Path:
    """The calibration to apply for `model` (see `fitted_file`)."""
    return fitted_file(CALIBRATION_FILE, model)


class SettingsError(ValueError):
    """A setting with a value that cannot work; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Every knob, with defaults that work offline out of the box."""

    corpus: str = str(DEFAULT_CORPUS_DIR)
    data_dir: str = ""
    index: str = ""
    model: str = BUNDLED_MODEL
    # What runs the embedder: "torch", or the bundled model exported to ONNX ("onnx-fp32",
    # "onnx-int8"; index/onnx_encoder.py, figures in evals/BENCHMARKS.md), or "auto" (see
    # ENCODER_BACKENDS). Vectors differ a little between backends, so a change rebuilds the
    # index (see embedder_key).
    encoder_backend: str = "auto"
    max_chars: int = 1000
    # Index each passage with its document's title and writer (see Passage.context).
    context_headers: str = "on"
    mode: str = "hybrid"
    k: int = 5
    # Chosen on SciFact train (evals/BENCHMARKS.md): 10 beat 30, 60 and 100 there.
    rrf_k: int = 10
    # Hybrid also fuses passages ranked by their best sentence's cosine ("on"), or only dense
    # passages and BM25 ("off"); see rag/sentence_retrieval.py.
    sentence_channel: str = "on"
    max_quotes: int = 3
    # A second or third quote must score within this margin of the best one.
    quote_margin: float = 0.12
    # How much the share of question words found in a sentence adds to its cosine score.
    lexical_weight: float = 0.3
    # Bonus rank_weight / (1 + rank) for sentences of higher-ranked passages.
    rank_weight: float = 0.1
    # Below this answer score the system abstains. The shipped value comes from
    # rag/calibration.json, which `rag eval --calibrate` fits by cross-validation.
    abstain_threshold: float = 0.45
    # An answer scoring below this is shown as tentative ("may not answer": check the
    # quotes in context). `rag eval --calibrate` fits it, by cross-validation too, as the
    # lowest score above which answers were right at least 85% of the time; 0 marks none.
    confident_threshold: float = 0.0
    # Refuse a question naming what the readings never mention, and quote only sentences
    # with a date (a number) for a "when" ("how many") question; see rag/evidence.py.
    evidence_checks: str = "on"
    # Read a misspelt question word as the readings' word one edit from it ("Kerensy" as
    # "Kerensky"), and say so with the answer; see rag/spelling.py.
    respell: str = "on"
    # The reader that judges candidate quotes: "bundled" (the project's own, rag/reader_model),
    # "off" (cosine + overlap only), a folder with model.onnx, or any sentence-transformers
    # cross-encoder name or path. With a reader, abstain_threshold is a probability.
    reader: str = "bundled"
    # Passages fetched and reordered by their best quote before the top k are kept.
    rerank_depth: int = 20
    # Candidate quotes read by the reader per question (the best by cosine + overlap). Each
    # costs about 10 ms of CPU (int8 MiniLM), so this bounds the latency of a question.
    reader_depth: int = 10
    # Origins (comma-separated) allowed to call the HTTP API from a browser; `rag serve
    # --cors-origin` adds to these. Empty: CORS closed.
    cors_origins: str = ""
    # `POST /api/ask` questions a minute per client address (0: no limit), with bursts of up
    # to a minute's worth: a class behind one NAT address can all ask at once, a runaway
    # script cannot take every turn. Over it: 429 with Retry-After.
    rate_limit: int = 60
    # `POST /api/ask` questions answered at once (see CHAT_CONCURRENCY in ui/server.py for why
    # a few), and how many more may wait their turn; past that: 503 with Retry-After at once,
    # rather than a line that grows for minutes.
    ask_workers: int = 4
    ask_queue: int = 32
    # The style of a source card's "Copy citation" (rag/cite.py): chicago-author-date, mla
    # (MLA 9) or apa (APA 7).
    citation_style: str = "chicago-author-date"
    # Example questions the chat offers under its question box, separated by "|". Empty: the
    # bundled readings' own examples when the corpus is the bundled one, and none for other
    # readings, where questions about dual power would only be refused (ui/chat.py).
    examples: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SettingsError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if not 1 <= self.k <= MAX_K:
            raise SettingsError(f"k must be between 1 and {MAX_K}, got {self.k}")
        if not 1 <= self.max_quotes <= 10:
            raise SettingsError(f"max_quotes must be between 1 and 10, got {self.max_quotes}")
        if self.context_headers not in ("on", "off"):
            raise SettingsError(f"context_headers must be on or off, got {self.context_headers!r}")
        if self.sentence_channel not in ("on", "off"):
            raise SettingsError(f"sentence_channel must be on or off, got "
                                f"{self.sentence_channel!r}")
        if self.evidence_checks not in ("on", "off"):
            raise SettingsError(f"evidence_checks must be on or off, got {self.evidence_checks!r}")
        if self.respell not in ("on", "off"):
            raise SettingsError(f"respell must be on or off, got {self.respell!r}")
        if not 1 <= self.rerank_depth <= MAX_K:
            raise SettingsError(f"rerank_depth must be between 1 and {MAX_K}, "
                                f"got {self.rerank_depth}")
        if not 1 <= self.reader_depth <= 500:
            raise SettingsError(f"reader_depth must be between 1 and 500, got {self.reader_depth}")
        if self.max_chars < 100:
            raise SettingsError(f"max_chars must be at least 100, got {self.max_chars}")
        if self.rate_limit < 0:
            raise SettingsError(f"rate_limit must be 0 (off) or more, got {self.rate_limit}")
        if self.citation_style not in CITATION_STYLES:
            raise SettingsError(f"citation_style must be one of {', '.join(CITATION_STYLES)}, "
                                f"got {self.citation_style!r}")
        if self.encoder_backend not in ENCODER_BACKENDS:
            raise SettingsError(f"encoder_backend must be one of {', '.join(ENCODER_BACKENDS)}, "
                                f"got {self.encoder_backend!r}")
        if self.encoder_backend not in ("auto", "torch") and self.model not in ONNX_MODELS:
            raise SettingsError(f"encoder_backend {self.encoder_backend} works with "
                                f"{' and '.join(ONNX_MODELS)} only, not {self.model!r}")
        if self.ask_workers < 1 or self.ask_queue < 0:
            raise SettingsError(f"ask_workers must be at least 1 and ask_queue at least 0, got "
                                f"{self.ask_workers} and {self.ask_queue}")

    @property
    def data_path(self) -> Path:
        """The data directory, resolved."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()

    @property
    def index_path(self) -> Path:
        """The index folder: explicit, or one per corpus folder and embedder under the data
        directory ("default" for the bundled readings and model, "default-all-mpnet-base-v2"
        for them with mpnet): trying another model and going back rebuilds nothing, where one
        folder per corpus was rebuilt from scratch at each switch."""
        if self.index:
            return Path(self.index).expanduser()
        corpus = Path(self.corpus).expanduser().resolve()
        if corpus == DEFAULT_CORPUS_DIR:
            name = "default"
        else:
            digest = hashlib.sha256(str(corpus).encode()).hexdigest()[:8]
            name = f"{slugify(corpus.name)}-{digest}"
        return model_variant(self.data_path / "indexes" / name, self.model)

    @property
    def backend(self) -> str:
        """The encoder backend that runs: `encoder_backend` with "auto" resolved."""
        if self.encoder_backend != "auto":
            return self.encoder_backend
        return "onnx-fp32" if self.model in ONNX_MODELS else "torch"

    @property
    def embedder_key(self) -> str:
        """The model as the index knows it: its name, plus "@backend" for a non-torch
        backend, so that the manifest and the vector-reuse keys tell the vectors apart (and
        a torch index stays exactly as it was)."""
        if self.backend == "torch":
            return self.model
        return f"{self.model}@{self.backend}"

    def index_settings(self) -> dict[str, Any]:
        """The settings that shape the stored index (a change means a rebuild)."""
        return {"max_chars": self.max_chars, "context_headers": self.context_headers == "on",
                "segmentation": SEGMENTATION_VERSION, "units": UNITS_VERSION,
                "words": LEXICON_VERSION, "model_text": MODEL_TEXT_VERSION}

    def public(self) -> dict[str, Any]:
        """Settings worth reporting with an answer or an eval (no local paths)."""
        return {"mode": self.mode, "k": self.k, "model": self.model,
                "encoder_backend": self.backend, "max_chars": self.max_chars,
                "context_headers": self.context_headers, "rrf_k": self.rrf_k,
                "sentence_channel": self.sentence_channel,
                "max_quotes": self.max_quotes, "quote_margin": self.quote_margin,
                "lexical_weight": self.lexical_weight, "rank_weight": self.rank_weight,
                "abstain_threshold": self.abstain_threshold,
                "evidence_checks": self.evidence_checks, "respell": self.respell,
                "reader": self.reader, "rerank_depth": self.rerank_depth,
                "reader_depth": self.reader_depth}

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored), validated."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def load(cls, config: Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> Settings:
        """Build settings from all layers. Raises `SettingsError` with a one-line message."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        config = config or (Path(env["RAG_CONFIG"]) if env.get("RAG_CONFIG") else None)
        if config is None and Path("rag.toml").exists():
            config = Path("rag.toml")
        if config is not None:
            try:
                values.update(tomllib.loads(config.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise SettingsError(f"cannot read config {config}: {e}") from None
        for f in fields(cls):
            if (raw := env.get(f"RAG_{f.name.upper()}")) is not None:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        # The calibration sits under every other layer, and which file applies depends on
        # the model those layers chose.
        cal_file = calibration_file(str(values.get("model", BUNDLED_MODEL)))
        if cal_file.exists():
            cal = json.loads(cal_file.read_text(encoding="utf-8"))
            values = {**cal.get("settings", {}), **values}
        return cls(**_coerce(values))


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Cast strings from env/TOML to each field's type; reject unknown names."""
    types = {f.name: f.type for f in fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            raise SettingsError(f"unknown setting {name!r}")
        kind = types[name]
        try:
            # TOML gives real types: a float or bool where an int belongs is a mistake, not
            # something to round silently.
            if kind == "int":
                if isinstance(value, bool | float):
                    raise ValueError
                out[name] = int(value)
            elif kind == "float":
                if isinstance(value, bool):
                    raise ValueError
                out[name] = float(value)
            else:
                out[name] = str(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {name} must be {kind}, got {value!r}") from None
    return out
