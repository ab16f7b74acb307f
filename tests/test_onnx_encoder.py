"""The ONNX encoder backend: export + quantise of the bundled model, pooling, padding, the
cache, and how the backend reaches the settings and the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.document import Document
from index import onnx_encoder
from index.embedder import (
    BUNDLED_MODEL,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    make_embedder,
)
from index.onnx_encoder import (
    INT8_RECIPE,
    RECIPES,
    OnnxEmbedder,
    OnnxExportError,
    export_fp32,
    quantise,
)
from index.store import build_index, staleness
from rag.settings import Settings, SettingsError

TEXTS = [
    "Bees communicate the direction of food with a waggle dance.",
    "Volcanoes form where tectonic plates pull apart or one slides beneath another, "
    "and magma rises through the crust to the surface over thousands of years.",
    "Trains.",
    "Vitamin D supplementation did not reduce fractures in older adults living at home.",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-data")


@pytest.fixture(scope="module")
def fp32(data_dir: Path) -> OnnxEmbedder:
    emb = OnnxEmbedder(bundled_model_path(), "onnx-fp32", data_dir=data_dir, threads=1)
    emb.warm_up()  # the export: a few seconds on the real bundled model
    return emb


@pytest.fixture(scope="module")
def int8(data_dir: Path, fp32: OnnxEmbedder) -> OnnxEmbedder:
    emb = OnnxEmbedder(bundled_model_path(), "onnx-int8", data_dir=data_dir, threads=1)
    emb.warm_up()  # reuses fp32's export, then quantises
    return emb


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEmbedder(BUNDLED_MODEL).embed(TEXTS)


def test_batches_side_by_side_give_each_text_its_own_vector(
        data_dir: Path, int8: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    # With `threads` unset, batches run on a thread each (one core per run): the vectors
    # must be those of one batch after another, each back in its own text's row.
    monkeypatch.setattr(onnx_encoder, "usable_cpus", lambda: 3)
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 5)]
    side = OnnxEmbedder(bundled_model_path(), "onnx-int8", data_dir=data_dir, batch_size=2,
                        threads=None)
    one = OnnxEmbedder(bundled_model_path(), "onnx-int8", data_dir=data_dir, batch_size=2,
                       threads=1)
    assert np.array_equal(side.embed(texts), one.embed(texts))
    assert side._pool is not None and one._pool is None
    assert np.array_equal(side.embed(texts[:1]), one.embed(texts[:1]))


def test_shape_and_unit_rows(fp32: OnnxEmbedder, int8: OnnxEmbedder) -> None:
    for emb in (fp32, int8):
        vecs = emb.embed(TEXTS)
        assert vecs.shape == (len(TEXTS), 384) and vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert emb.embed([]).shape == (0, 384)


def test_fp32_matches_torch(fp32: OnnxEmbedder, torch_vectors: np.ndarray) -> None:
    cos = (fp32.embed(TEXTS) * torch_vectors).sum(axis=1)
    assert cos.min() >= 0.9999


def test_int8_close_to_torch(int8: OnnxEmbedder, torch_vectors: np.ndarray) -> None:
    # Per-channel int8 keeps ~0.99 cosine on SciFact abstracts (evals/BENCHMARKS.md).
    cos = (int8.embed(TEXTS) * torch_vectors).sum(axis=1)
    assert cos.min() >= 0.97


def test_padding_does_not_change_a_vector(fp32: OnnxEmbedder) -> None:
    alone = fp32.embed([TEXTS[2]])[0]
    in_batch = fp32.embed([TEXTS[1], TEXTS[2]])[1]  # padded to the long text's length
    assert np.abs(alone - in_batch).max() < 1e-5


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh xyz.", min_size=1, max_size=80), min_size=1,
                max_size=6))
def test_rows_do_not_depend_on_the_batch(fp32: OnnxEmbedder, texts: list[str]) -> None:
    together = fp32.embed(texts)
    for i, text in enumerate(texts):
        assert np.abs(fp32.embed([text])[0] - together[i]).max() < 1e-4


def test_second_warm_up_reuses_the_cache(data_dir: Path, int8: OnnxEmbedder,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def no_export(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    again = OnnxEmbedder(bundled_model_path(), "onnx-int8", data_dir=data_dir)
    assert np.allclose(again.embed(TEXTS), int8.embed(TEXTS))
    assert again.model_file == int8.model_file
    assert again.model_file is not None and again.model_file.parent.parent == data_dir / "models"


@pytest.mark.parametrize("arch", ["bert", "mpnet"])
def test_export_feeds_only_the_inputs_the_model_takes(arch: str, tmp_path: Path) -> None:
    # MPNet (all-mpnet-base-v2) takes no token_type_ids; a tiny random model of each kind
    # must export, run, and give torch's token vectors.
    import onnxruntime as ort
    import torch
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    # The export traces with real BERT token ids (up to 7592), so the vocabulary must hold them.
    dims = {"vocab_size": 8000, "hidden_size": 16, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 32}
    torch.manual_seed(0)
    model = (BertModel(BertConfig(**dims)) if arch == "bert"
             else MPNetModel(MPNetConfig(**dims))).eval()
    model.save_pretrained(tmp_path / "model")
    out = export_fp32(tmp_path / "model", tmp_path / "model.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    expected = ["input_ids", "attention_mask"] + (["token_type_ids"] if arch == "bert" else [])
    assert names == expected
    ids = np.array([[0, 5, 9, 7, 2], [0, 8, 2, 1, 1]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    got = session.run(None, {n: feed[n] for n in names})[0]
    with torch.no_grad():
        want = model(**{n: torch.from_numpy(feed[n]) for n in names}).last_hidden_state
    real = mask.astype(bool)  # padded positions are pooled away
    assert np.allclose(got[real], want.numpy()[real], atol=1e-4)


def test_quantising_leaves_the_root_logger_as_it_was(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # onnxruntime logs through `logging.warning`, which installs a root handler when there is
    # none; left there, it would print every library's debug lines (bm25s's) to the user.
    import logging
    import types

    import onnx
    import onnxruntime.quantization as q

    def noisy(_src: str, dst: str, **_kwargs: object) -> None:
        logging.warning("Please consider to run pre-processing before quantization.")
        Path(dst).write_bytes(b"int8")

    monkeypatch.setattr(q, "quantize_dynamic", noisy)
    monkeypatch.setattr(onnx, "load", lambda _p: types.SimpleNamespace(
        graph=types.SimpleNamespace(node=[])))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a plain `rag ask`, not under pytest
    level = root.level
    out = quantise(tmp_path / "model.fp32.onnx", tmp_path / "model.int8.onnx",
                   RECIPES[INT8_RECIPE])
    assert out.read_bytes() == b"int8"
    assert root.handlers == [] and root.level == level


def test_failed_export_leaves_nothing_and_says_one_line(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def half_export(_model: object, _args: object, f: str, **_kwargs: object) -> None:
        Path(f).write_bytes(b"half an onnx file")
        raise RuntimeError("disk full\nmore detail")

    monkeypatch.setattr(torch.onnx, "export", half_export)
    emb = OnnxEmbedder(bundled_model_path(), "onnx-fp32", data_dir=tmp_path)
    with pytest.raises(OnnxExportError) as err:
        emb.warm_up()
    assert "\n" not in str(err.value) and "disk full" in str(err.value)
    assert "RAG_ENCODER_BACKEND=torch" in str(err.value)  # the way round it
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_backend_setting_is_validated() -> None:
    assert Settings().encoder_backend == "auto"
    with pytest.raises(SettingsError, match="encoder_backend") as err:
        Settings(encoder_backend="onnx-int4")
    assert "\n" not in str(err.value)
    with pytest.raises(SettingsError, match="works with all-MiniLM-L6-v2 and all-mpnet"):
        Settings(encoder_backend="onnx-int8", model="hash")
    assert Settings.load(env={"RAG_ENCODER_BACKEND": "onnx-int8"}).encoder_backend == "onnx-int8"


def test_auto_backend_is_onnx_fp32_for_the_models_on_disk() -> None:
    assert Settings().backend == "onnx-fp32"
    assert Settings().embedder_key == f"{BUNDLED_MODEL}@onnx-fp32"
    assert Settings().public()["encoder_backend"] == "onnx-fp32"
    assert Settings(model="all-mpnet-base-v2").embedder_key == "all-mpnet-base-v2@onnx-fp32"
    # A hub name or a path may be any architecture: auto runs it with torch, key bare.
    assert Settings(model="hash").backend == "torch"
    assert Settings(model="org/some-model").embedder_key == "org/some-model"
    assert Settings(encoder_backend="torch").embedder_key == BUNDLED_MODEL


def test_model_key_names_the_backend(tmp_path: Path) -> None:
    # torch indexes are untouched
    assert Settings(encoder_backend="torch").embedder_key == BUNDLED_MODEL
    key = Settings(encoder_backend="onnx-int8").embedder_key
    assert key == f"{BUNDLED_MODEL}@onnx-int8"
    emb = make_embedder(key)
    assert isinstance(emb, OnnxEmbedder) and emb.model_name == key and emb.backend == "onnx-int8"
    # The manifest records the key, so switching backend makes the index stale.
    docs = [Document(id="d", title="D", text="One sentence here. Another one there.")]
    build_index(tmp_path / "idx", docs, HashingEmbedder(), key, {"max_chars": 300},
                progress=False)
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["model"] == key
    assert staleness(tmp_path / "idx", docs, key, {"max_chars": 300}) is None
    assert "model" in (staleness(tmp_path / "idx", docs, BUNDLED_MODEL, {"max_chars": 300})
                       or "")


@pytest.mark.slow
def test_asking_with_the_default_backend_never_imports_torch(data_dir: Path,
                                                             tiny_corpus: Path) -> None:
    """The point of the ONNX default: a cold `rag ask` loads neither torch nor
    sentence-transformers (seconds of start-up), once the index and the export exist."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("RAG_ENCODER_BACKEND", None)
    build = subprocess.run([sys.executable, "-c", "import sys; from ui.cli import main; "
                            "sys.exit(main(sys.argv[1:]))", "build", "--corpus", str(tiny_corpus)],
                           capture_output=True, text=True, env=env, timeout=600, check=False)
    assert build.returncode == 0, build.stderr[-500:]
    child = ("import json, sys\n"
             "from ui.cli import main\n"
             "rc = main(['ask', 'How do bees communicate?', '--json', '--corpus', sys.argv[1]])\n"
             "print(json.dumps({'rc': rc, 'loaded': sorted(m for m in ('torch', "
             "'sentence_transformers', 'transformers') if m in sys.modules)}), "
             "file=sys.stderr)\n")
    ask = subprocess.run([sys.executable, "-c", child, str(tiny_corpus)], capture_output=True,
                         text=True, env=env, timeout=600, check=False)
    report = json.loads(ask.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "loaded": []}
    assert json.loads(ask.stdout)["citations"], ask.stdout[:300]


def test_a_failed_export_stops_rag_ask_in_one_line(tmp_path: Path, tiny_corpus: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from ui.cli import main

    def no_export(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("no space left on device")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("RAG_ENCODER_BACKEND", raising=False)
    make_embedder.cache_clear()  # a warmed-up encoder from another test would not export
    try:
        code = main(["ask", "How do bees communicate?", "--corpus", str(tiny_corpus)])
    finally:
        make_embedder.cache_clear()
    err = capsys.readouterr().err
    assert code != 0
    assert "cannot export" in err and "RAG_ENCODER_BACKEND=torch" in err
    assert "Traceback" not in err
