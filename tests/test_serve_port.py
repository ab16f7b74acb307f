"""`rag serve` on a port it cannot have: one line, its own exit code, and nothing loaded or
announced first. A real subprocess against a port this test holds open."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ui.cli import EXIT_PORT_IN_USE, EXIT_SKIPPED, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny"


def test_a_taken_port_is_one_line_and_exit_code_4_before_anything_loads(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    # An empty data dir: a server that loaded before checking would build an index first.
    env.update(RAG_DATA_DIR=str(tmp_path), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port), "--model", "hash",
             "--corpus", str(TINY)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_PORT_IN_USE == 4
    assert EXIT_PORT_IN_USE not in (0, EXIT_USAGE, EXIT_SKIPPED)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    match = re.fullmatch(rf"rag serve: port {port} is already in use \(try --port (\d+)\)",
                         lines[0])
    assert match and int(match[1]) > port
    assert proc.stdout == ""
    assert not any(tmp_path.iterdir())  # no index was built, nothing was loaded


def test_an_impossible_port_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000", "--model", "hash"]) == EXIT_USAGE
    assert capsys.readouterr().err == "rag: error: --port must be between 1 and 65535, got 70000\n"
