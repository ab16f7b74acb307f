"""The `rag` command through `ui.cli.main`: exit codes, one-line errors, the JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ui.cli import main

CITATION_KEYS = {"n", "doc_id", "title", "author", "url", "quote", "start", "end", "score"}
PASSAGE_KEYS = {"doc_id", "start", "end", "text", "score"}


def _assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rag: error:"), err
    assert "Traceback" not in err


def test_build_then_build_again_embeds_nothing(tiny_corpus: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--corpus", str(tiny_corpus), "--model", "hash"]) == 0
    first = capsys.readouterr().err
    assert "Indexed 3 documents" in first
    assert main(["build", "--corpus", str(tiny_corpus), "--model", "hash"]) == 0
    second = capsys.readouterr().err
    assert "embedded 0" in second
    assert "Traceback" not in first + second


def test_build_force_reuses_every_vector(tiny_corpus: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--corpus", str(tiny_corpus), "--model", "hash"]) == 0
    capsys.readouterr()
    assert main(["build", "--corpus", str(tiny_corpus), "--model", "hash", "--force"]) == 0
    assert "embedded 0, reused" in capsys.readouterr().err


def test_ask_json_has_the_documented_shape(tiny_corpus: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "When did Mount Vesuvius erupt and bury Pompeii?", "--json",
                 "--corpus", str(tiny_corpus), "--model", "hash", "--mode", "bm25", "-k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # stdout is exactly one JSON object; status lines go to stderr
    assert {"question", "answer", "abstained", "citations", "passages", "settings"} <= set(data)
    assert data["question"] == "When did Mount Vesuvius erupt and bury Pompeii?"
    assert isinstance(data["abstained"], bool)
    assert isinstance(data["answer"], str) and data["answer"]
    assert data["settings"]["mode"] == "bm25" and data["settings"]["k"] == 3
    assert data["settings"]["model"] == "hash"
    assert 1 <= len(data["passages"]) <= 3
    for p in data["passages"]:
        assert PASSAGE_KEYS <= set(p)
    assert data["passages"][0]["doc_id"] == "volcano"
    from corpus.collection import load_corpus

    docs = {d.id: d for d in load_corpus(tiny_corpus).documents}
    for p in data["passages"]:
        assert docs[p["doc_id"]].text[p["start"]:p["end"]] == p["text"]
    for c in data["citations"]:
        assert CITATION_KEYS <= set(c)
        assert docs[c["doc_id"]].text[c["start"]:c["end"]] == c["quote"]
        assert f"[{c['n']}]" in data["answer"]
    if data["abstained"]:
        assert data["citations"] == []


def test_ask_plain_text(tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "Who engineered the Stockton and Darlington railway line?",
                 "--corpus", str(tiny_corpus), "--model", "hash"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip()
    assert "Traceback" not in captured.out + captured.err


def test_ask_takes_an_unquoted_question(tiny_corpus: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # `rag ask When did Vesuvius erupt?` in a shell: one argument per word.
    code = main(["ask", "When", "did", "Mount", "Vesuvius", "erupt?", "--json",
                 "--corpus", str(tiny_corpus), "--model", "hash", "--mode", "bm25"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["question"] == "When did Mount Vesuvius erupt?"


@pytest.mark.parametrize("argv", [
    ["ask", ""],
    ["ask", "   \n "],
    ["ask", "What is dual power?", "--mode", "psychic"],
    ["ask", "What is dual power?", "-k", "0"],
])
def test_ask_user_mistakes_are_one_line(argv: list[str], tiny_corpus: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*argv, "--corpus", str(tiny_corpus), "--model", "hash"])
    captured = capsys.readouterr()
    assert code == 2
    _assert_one_line_error(captured.err)
    assert captured.out == ""


def test_unknown_mode_error_names_the_choices(tiny_corpus: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    main(["ask", "q?", "--mode", "psychic", "--corpus", str(tiny_corpus), "--model", "hash"])
    err = capsys.readouterr().err
    assert "psychic" in err and "hybrid" in err


@pytest.mark.parametrize("command", [["build"], ["ask", "What is dual power?"]])
def test_missing_corpus_folder(command: list[str], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-folder"
    code = main([*command, "--corpus", str(missing), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 2
    _assert_one_line_error(err)
    assert "not found" in err and "no-such-folder" in err


@pytest.mark.parametrize("command", [["build"], ["ask", "What is dual power?"]])
def test_empty_corpus_folder(command: list[str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main([*command, "--corpus", str(empty), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 2
    _assert_one_line_error(err)
    assert "no readable documents" in err


def test_bad_setting_is_one_line(tiny_corpus: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "rag.toml"
    config.write_text("max_chars = 10\n", encoding="utf-8")
    code = main(["build", "--corpus", str(tiny_corpus), "--model", "hash",
                 "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    _assert_one_line_error(err)
    assert "max_chars" in err


def test_unreadable_file_is_skipped_and_named(tiny_corpus: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "readings"
    corpus.mkdir()
    for f in tiny_corpus.iterdir():
        (corpus / f.name).write_bytes(f.read_bytes())
    (corpus / "broken-notes.md").write_text("---\ntitle: [oops\n---\nText.\n", encoding="utf-8")
    code = main(["build", "--corpus", str(corpus), "--model", "hash"])
    err = capsys.readouterr().err
    assert code == 3
    assert "broken-notes.md" in err
    assert "Indexed 3 documents" in err
    assert "Traceback" not in err


def test_ask_that_builds_names_what_it_skipped_and_keeps_stdout_json(
        tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "readings"
    corpus.mkdir()
    for f in tiny_corpus.iterdir():
        (corpus / f.name).write_bytes(f.read_bytes())
    (corpus / "broken-notes.md").write_text("---\ntitle: [oops\n---\nText.\n", encoding="utf-8")
    (corpus / "old-notes.txt").write_bytes(
        "Trains ran from Stockton to Darlington \u2013 \u201cthe first public railway\u201d "
        "to use steam locomotives, the caf\u00e9 owners said. ".encode("cp1252") * 4)
    argv = ["ask", "Who engineered the Stockton and Darlington railway line?", "--json",
            "--corpus", str(corpus), "--model", "hash"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    lines = err.splitlines()
    (skip,) = [ln for ln in lines if "broken-notes.md" in ln]
    assert skip.startswith("skipped broken-notes.md: front matter")
    (note,) = [ln for ln in lines if "old-notes.txt" in ln]
    assert note.startswith("note: old-notes.txt read as ")
    # Built once, it says nothing again: the index is current.
    assert main(argv) == 0
    assert "broken-notes.md" not in capsys.readouterr().err


def test_broken_pdf_is_named_once_and_pypdf_prints_nothing_of_its_own(tmp_path: Path) -> None:
    # A subprocess, because under pytest a log handler is installed and pypdf's bare warning
    # lines ("EOF marker not found") would never reach stderr anyway.
    corpus = tmp_path / "readings"
    corpus.mkdir()
    (corpus / "good.md").write_text("---\ntitle: Good\n---\nThe soviet was a council of "
                                     "workers. It met in Petrograd.\n", encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "build", "--corpus", str(corpus), "--model", "hash"],
        capture_output=True, text=True, env=env, timeout=300,
        cwd=Path(__file__).resolve().parent.parent)
    err = proc.stderr
    assert proc.returncode == 3, err
    assert err.count("broken.pdf") == 1, err
    (line,) = [ln for ln in err.splitlines() if "broken.pdf" in ln]
    assert line.startswith("skipped broken.pdf: cannot read PDF (")
    assert "EOF marker not found" in line
    assert all("broken.pdf" in ln for ln in err.splitlines() if "EOF marker" in ln), err
    assert "Indexed 1 documents" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_ask_prints_no_model_loading_bar(tiny_corpus: Path, tmp_path: Path) -> None:
    # A fresh process, so that the bundled model really loads (a loaded one is cached).
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "What do bees make?", "--corpus",
         str(tiny_corpus)],
        capture_output=True, text=True, env=env, timeout=600,
        cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert "Loading weights" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[1]" in proc.stdout


def test_installed_console_script_errors_without_traceback(tmp_path: Path) -> None:
    rag = Path(sys.executable).parent / "rag"
    if not rag.exists():
        pytest.skip(f"console script not installed at {rag}")
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    for argv in (["ask", "", "--model", "hash"],
                 ["build", "--corpus", str(tmp_path / "missing"), "--model", "hash"]):
        proc = subprocess.run([str(rag), *argv], capture_output=True, text=True, env=env,
                              timeout=120, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        _assert_one_line_error(proc.stderr)
        assert proc.stdout == ""
