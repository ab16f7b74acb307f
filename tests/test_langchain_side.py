"""`evals.langchain_side` against fake "pythons": small scripts standing in for the LangChain
venv's interpreter, so no network and no real LangChain are needed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evals import langchain_side
from evals.langchain_side import (
    CHILD,
    COLD_RUNS,
    RESULT_KEYS,
    LangChainUnavailable,
    ensure_venv,
    run_langchain,
)

CANNED = {
    "library": "langchain", "load_s": 1.5, "build_s": 2.0, "texts_per_s": 1.0,
    "search_ms": [3.0, 5.0], "search_p50_ms": 4.0, "search_p95_ms": 4.9,
    "build_run_to_first_answer_s": 6.5, "save_s": 0.1, "store_mb": 0.2,
    "peak_rss_mib": 512.0, "versions": {"langchain-core": "1.0"},
}
# The cold runs' start-up seconds, in the order the fake children print them: median 2.0.
COLD_SECONDS = (3.0, 1.0, 2.0)

# A two-phase fake child: the build run saves a file into the store folder, each cold run
# checks it is there, and every run appends what it saw to `record` (one JSON line each).
TWO_PHASE = f"""
spec = json.load(open(args[-1]))
seen = {{'args': args, 'spec': spec, 'offline': os.environ.get('HF_HUB_OFFLINE'),
        'spawn': os.environ.get('RAG_LANGCHAIN_SPAWN_TIME')}}
n = sum(1 for _ in open(record)) if os.path.exists(record) else 0
with open(record, 'a') as f:
    f.write(json.dumps(seen) + '\\n')
print('a library chatting on stdout')
if spec['mode'] == 'build':
    os.makedirs(spec['store'])
    open(os.path.join(spec['store'], 'index.faiss'), 'w').write('x')
    print(json.dumps({CANNED!r}))
else:
    saved = os.path.exists(os.path.join(spec['store'], 'index.faiss'))
    s = {COLD_SECONDS!r}[(n - 1) % 3]
    print(json.dumps({{'cold_start_s': s if saved else -1.0, 'cold_start_from_spawn_s': s + 0.5,
                      'peak_rss_mib': 300.0 + n, 'hits': [0]}}))
"""


def fake_python(tmp_path: Path, body: str) -> Path:
    """An executable that runs `body` with `args` (its argv) and `record` (a path) defined."""
    path = tmp_path / "python"
    record = tmp_path / "record.json"
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\nargs = sys.argv[1:]\n"
                    f"record = {str(record)!r}\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def calls(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "record.json").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_build_then_cold_runs_on_the_saved_store(tmp_path: Path) -> None:
    python = fake_python(tmp_path, TWO_PHASE)
    before = time.time()
    result = run_langchain(python, "/models/minilm", ["one text", "two text"],
                           ["why?", "how?"], k=3, threads=1, timeout=60)
    seen = calls(tmp_path)
    build, colds = seen[0], seen[1:]
    assert len(colds) == COLD_RUNS == 3
    assert build["args"][:2] == ["-I", str(CHILD)]
    store = build["spec"]["store"]
    assert build["spec"] == {"mode": "build", "model": "/models/minilm", "store": store,
                             "texts": ["one text", "two text"], "questions": ["why?", "how?"],
                             "k": 3, "threads": 1}
    for cold in colds:
        assert cold["args"][:2] == ["-I", str(CHILD)]
        # The folder the build run saved, the first question only, no texts.
        assert cold["spec"] == {"mode": "cold", "model": "/models/minilm", "store": store,
                                "questions": ["why?"], "k": 3, "threads": 1}
    for run in seen:
        assert run["offline"] == "1"
        assert before <= float(run["spawn"]) <= time.time()
    # Each cold run gets its own spawn time, taken as it starts.
    assert [float(r["spawn"]) for r in seen] == sorted(float(r["spawn"]) for r in seen)
    # The build run's figures, with the cold start the median of the cold runs.
    assert {k: result[k] for k in CANNED} == CANNED
    assert [r["cold_start_s"] for r in result["cold_start_runs"]] == list(COLD_SECONDS)
    assert result["cold_start_s"] == 2.0
    assert result["cold_start_from_spawn_s"] == 2.5
    assert result["cold_start_peak_rss_mib"] == 302.0
    assert all(key in result for key in RESULT_KEYS)
    # The input files and the saved store live in a temporary folder gone afterwards.
    assert not Path(store).exists()
    assert not Path(build["args"][-1]).exists()


def test_a_failing_cold_run_is_one_line_and_leaves_no_store(tmp_path: Path) -> None:
    body = TWO_PHASE.replace(
        "else:\n", "elif n == 2:\n    print('Traceback (most recent call last):', "
        "file=sys.stderr)\n    print('ValueError: pickle refused', file=sys.stderr)\n"
        "    sys.exit(4)\nelse:\n", 1)
    with pytest.raises(LangChainUnavailable) as e:
        run_langchain(fake_python(tmp_path, body), "/m", ["t"], ["q"], timeout=60)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == "a LangChain cold run failed (exit 4): ValueError: pickle refused"
    seen = calls(tmp_path)
    assert len(seen) == 3  # the build run, one good cold run, the failing one; no more
    assert not Path(seen[0]["spec"]["store"]).exists()


def test_a_cold_run_without_its_keys_is_one_line(tmp_path: Path) -> None:
    body = TWO_PHASE.replace("'peak_rss_mib': 300.0 + n, ", "")
    with pytest.raises(LangChainUnavailable) as e:
        run_langchain(fake_python(tmp_path, body), "/m", ["t"], ["q"], timeout=60)
    assert str(e.value) == "cold run's result lacks peak_rss_mib"


def test_cold_start_from_spawn_is_none_when_no_run_has_it(tmp_path: Path) -> None:
    body = TWO_PHASE.replace("s + 0.5", "None")
    result = run_langchain(fake_python(tmp_path, body), "/m", ["t"], ["q"], timeout=60)
    assert result["cold_start_s"] == 2.0
    assert result["cold_start_from_spawn_s"] is None


def test_a_relative_python_path_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_python(tmp_path, TWO_PHASE)
    monkeypatch.chdir(tmp_path)
    assert run_langchain(Path("python"), "/m", ["t"], ["q"], timeout=60)["cold_start_s"] == 2.0


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
    ("print(json.dumps({'cold_start_s': 1.0, 'peak_rss_mib': 1.0, 'versions': {}}))",
     "lacks load_s"),  # the old one-phase result: no build run's keys
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


def test_real_child_cold_mode_rejects_a_missing_store_in_one_line(tmp_path: Path) -> None:
    # Checked before importing LangChain, so the project's python runs this far.
    inp = tmp_path / "cold.json"
    inp.write_text(json.dumps({"mode": "cold", "model": str(tmp_path), "questions": ["q"],
                               "store": str(tmp_path / "gone")}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(CHILD), str(inp)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"langchain child: saved store not found: {str(tmp_path / 'gone')!r}"]
