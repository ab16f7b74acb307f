"""Packaging: the wheel builds without setuptools warnings and carries every data file the
code reads at run time; `rag --version` reports the installed version. Offline throughout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from ui.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _source_copy(dest: Path) -> Path:
    """The files a build reads, copied so that the build's own outputs (build/, *.egg-info)
    land in a temp folder rather than in the working tree."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tops = {name.split(".")[0] for name in config["tool"]["setuptools"]["packages"]}
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for top in sorted(tops):
        shutil.copytree(ROOT / top, dest / top,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.fp32.onnx"))
    return dest


def test_wheel_builds_without_warnings_and_ships_the_data(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    # A local unquantised export sits beside model.onnx while training; it must not ship.
    (src / "rag" / "reader_model" / "model.fp32.onnx").write_bytes(b"not shipped")
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    warnings = [line for line in log.splitlines() if re.search("warning", line, re.I)]
    assert warnings == [], log

    (wheel,) = out.glob("cited_readings-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("rag/combiner.json", "rag/calibration.json", "rag/reader_model/model.onnx",
                   "rag/reader_model/tokenizer.json", "ui/static/chat.css",
                   "ui/static/chat.js", "ui/static/embed-example.html", "evals/eval_set.jsonl",
                   "ui/cli.py"):
        assert needed in names, needed
    readings = {p.name for p in (ROOT / "corpus" / "readings").glob("*.md")}
    assert readings
    assert {n.removeprefix("corpus/readings/") for n in names
            if n.startswith("corpus/readings/")} == readings
    assert "rag/reader_model/model.fp32.onnx" not in names
    assert not any("__pycache__" in n for n in names)


def test_version_flag_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag {version('cited-readings')}"


def test_installed_console_script_prints_its_version(tmp_path: Path) -> None:
    rag = Path(sys.executable).parent / "rag"
    if not rag.exists():
        pytest.skip(f"console script not installed at {rag}")
    proc = subprocess.run([str(rag), "--version"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"rag \d+\.\d+\.\d+\S*", proc.stdout.strip()), proc.stdout
    assert proc.stderr == ""
