"""`evals.langchain_side` against fake "pythons": small scripts standing in for the LangChain
venv's interpreter, so no network and no real LangChain are needed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from evals import langchain_side
from evals.langchain_side import CHILD, LangChainUnavailable, ensure_venv, run_langchain

CANNED = {
    "library": "langchain", "load_s": 1.5, "build_s": 2.0, "texts_per_s": 1.0,
    "search_ms": [3.0, 5.0], "search_p50_ms": 4.0, "search_p95_ms": 4.9,
    "cold_start_s": 6.5, "peak_rss_mib": 512.0, "versions": {"langchain-core": "1.0"},
}


def fake_python(tmp_path: Path, body: str) -> Path:
    """An executable that runs `body` with `args` (its argv) and `record` (a path) defined."""
    path = tmp_path / "python"
    record = tmp_path / "record.json"
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\nargs = sys.argv[1:]\n"
                    f"record = {str(record)!r}\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_happy_path_passes_input_and_returns_the_childs_json(tmp_path: Path) -> None:
    body = (
        "spec = json.load(open(args[-1]))\n"
        "json.dump({'args': args, 'spec': spec, 'offline': os.environ.get('HF_HUB_OFFLINE'),\n"
        "           'spawn': os.environ.get('RAG_LANGCHAIN_SPAWN_TIME')}, open(record, 'w'))\n"
        "print('a library chatting on stdout')\n"
        f"print(json.dumps({CANNED!r}))\n"
    )
    python = fake_python(tmp_path, body)
    before = time.time()
    result = run_langchain(python, "/models/minilm", ["one text", "two text"], ["why?"],
                           k=3, threads=1, timeout=60)
    assert result == CANNED
    seen = json.loads((tmp_path / "record.json").read_text())
    assert seen["args"][:2] == ["-I", str(CHILD)]
    assert seen["spec"] == {"model": "/models/minilm", "texts": ["one text", "two text"],
                            "questions": ["why?"], "k": 3, "threads": 1}
    assert seen["offline"] == "1"
    assert before <= float(seen["spawn"]) <= time.time()
    # The input file lives in a temporary folder that is gone afterwards.
    assert not Path(seen["args"][-1]).exists()


def test_a_relative_python_path_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_python(tmp_path, f"print(json.dumps({CANNED!r}))")
    monkeypatch.chdir(tmp_path)
    assert run_langchain(Path("python"), "/m", ["t"], ["q"], timeout=60) == CANNED


def test_child_failure_is_one_line_with_its_last_stderr_line(tmp_path: Path) -> None:
    body = ("print('Traceback (most recent call last):', file=sys.stderr)\n"
            "print('  File x, line 1', file=sys.stderr)\n"
            "print('OSError: model folder unreadable', file=sys.stderr)\n"
            "sys.exit(3)\n")
    with pytest.raises(LangChainUnavailable) as e:
        run_langchain(fake_python(tmp_path, body), "/m", ["t"], ["q"], timeout=60)
    msg = str(e.value)
    assert "\n" not in msg
    assert "exit 3" in msg
    assert msg.endswith("OSError: model folder unreadable")
    assert "Traceback" not in msg


@pytest.mark.parametrize("printed, expected", [
    ("print('{not json')", "printed no JSON result"),
    ("print('[1, 2]')", "printed no JSON result"),
    ("pass", "printed no JSON result"),
    ("print(json.dumps({'load_s': 1.0}))", "lacks build_s"),
])
def test_bad_child_output_is_one_line(tmp_path: Path, printed: str, expected: str) -> None:
    with pytest.raises(LangChainUnavailable) as e:
        run_langchain(fake_python(tmp_path, printed), "/m", ["t"], ["q"], timeout=60)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_python_and_timeout_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(LangChainUnavailable, match="cannot run"):
        run_langchain(tmp_path / "no-such-python", "/m", ["t"], ["q"])
    with pytest.raises(LangChainUnavailable, match="ran past 1 s"):
        run_langchain(fake_python(tmp_path, "time.sleep(30)"), "/m", ["t"], ["q"], timeout=1)


def test_bad_arguments_are_refused_before_spawning(tmp_path: Path) -> None:
    python = tmp_path / "never-run"
    with pytest.raises(LangChainUnavailable, match="at least one text"):
        run_langchain(python, "/m", [], ["q"])
    with pytest.raises(LangChainUnavailable, match="k=0"):
        run_langchain(python, "/m", ["t"], ["q"], k=0)


def test_real_child_rejects_a_missing_model_folder_in_one_line(tmp_path: Path) -> None:
    # The child checks its input before importing LangChain, so any python can run this far.
    with pytest.raises(LangChainUnavailable) as e:
        run_langchain(Path(sys.executable), str(tmp_path / "nowhere"), ["t"], ["q"], timeout=60)
    assert "exit 1" in str(e.value)
    assert "model folder not found" in str(e.value)
    assert "\n" not in str(e.value)


def test_ensure_venv_reuses_a_complete_venv(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake_python(bin_dir, "sys.exit(0)")  # every import check passes
    monkeypatch.setattr(langchain_side, "_run", lambda *a, **k: pytest.fail("installed"))
    assert ensure_venv(tmp_path / "venv") == bin_dir / "python"


def test_ensure_venv_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON", str(tmp_path / "no-python3"))
    with pytest.raises(LangChainUnavailable) as e:
        ensure_venv(tmp_path / "venv")
    assert str(e.value).startswith("creating the venv failed")
    assert "\n" not in str(e.value)
