"""The LangChain side of `rag bench`'s side-by-side (issue 9): LangChain's FAISS store,
built and queried with the same bundled all-MiniLM-L6-v2 on the same passages.

LangChain lives in its own virtualenv (`.venv-langchain`), never in the project's: it is
not a dependency, and langchain-huggingface may want versions that clash with ours. So
`ensure_venv` makes that venv (CPU torch pinned, as `.ci/setup` does for `.venv`), and
`run_langchain` runs `evals/langchain_child.py` under its python: once to build, search
and save the store, then `COLD_RUNS` times to load the saved store and answer one question,
which is the cold start a LangChain app pays on restart. Any failure is a
`LangChainUnavailable` with a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_VENV = Path(".venv-langchain")
CHILD = Path(__file__).resolve().parent / "langchain_child.py"
TORCH = "2.13.0"  # the same pin as .ci/setup
PACKAGES = ("langchain-community", "langchain-huggingface", "faiss-cpu", "sentence-transformers")
# What the child needs to import; a venv missing any of these is (re)installed.
MODULES = ("langchain_community", "langchain_huggingface", "langchain_core", "faiss",
           "sentence_transformers", "torch")
# Keys the build run's result has; one without them is treated as a failed run.
BUILD_KEYS = ("load_s", "build_s", "texts_per_s", "search_ms", "search_p50_ms",
              "search_p95_ms", "build_run_to_first_answer_s", "save_s", "store_mb",
              "peak_rss_mib", "versions")
# Keys each cold run's result has.
COLD_KEYS = ("cold_start_s", "cold_start_from_spawn_s", "peak_rss_mib")
# Keys every result of `run_langchain` has: the build run's and the cold runs' summary.
RESULT_KEYS = (*BUILD_KEYS, "cold_start_s", "cold_start_from_spawn_s", "cold_start_runs")
# Cold starts are noisy on shared cores: the median of a few, as our own cold start does.
COLD_RUNS = 3
# Embedding a few thousand passages on two shared cores takes minutes, not hours.
DEFAULT_TIMEOUT = 1800.0


class LangChainUnavailable(RuntimeError):
    """The LangChain side could not run; the message is one line for the user."""


def _say(msg: str) -> None:
    print(f"langchain venv: {msg}", file=sys.stderr, flush=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _run(step: str, cmd: Sequence[str], timeout: float = 1800.0) -> str:
    """Run one setup command; its failure becomes one line naming the step."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LangChainUnavailable(f"{step} failed: {e}") from None
    if done.returncode != 0:
        raise LangChainUnavailable(f"{step} failed (exit {done.returncode}): "
                                   f"{_last_line(done.stderr or done.stdout)}")
    return done.stdout


def venv_python(path: Path) -> Path:
    return Path(path) / "bin" / "python"


def _importable(python: Path) -> bool:
    code = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in %r))"
    try:
        return subprocess.run([str(python), "-c", code % (MODULES,)], capture_output=True,
                              timeout=120, stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _torch_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('torch'))"
    try:
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except Exception:  # any failure (DNS, refused, HTTP error) means "use the fallback"
        return False


def _install_torch(python: Path) -> str:
    """torch first and pinned, as `.ci/setup` does: an open requirement (from
    sentence-transformers) would pull a multi-GB CUDA build. PyTorch's CPU index when it
    answers within 5 s; else the default index, where pip's configured find-links (a local
    wheel folder on some machines) may serve the `+cpu` wheel."""
    have = _torch_version(python)
    if have == TORCH or have.startswith(TORCH + "+"):
        return f"torch {have} already installed"
    index = os.environ.get("TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")
    host = index.split("://", 1)[-1].split("/", 1)[0]
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if _reachable(f"{index}/torch/"):
        _run("installing torch", [*pip, "--index-url", index, f"torch=={TORCH}"])
        return f"torch {_torch_version(python)} from {host}"
    _run("installing torch", [*pip, f"torch=={TORCH}"])
    return f"torch {_torch_version(python)} from the default index ({host} not reachable)"


def _check_cpu_only(python: Path) -> list[str]:
    """The venv's packages; fails if any CUDA runtime package came along."""
    out = _run("listing packages", [str(python), "-m", "pip", "list", "--format", "json"])
    try:
        names = [str(p["name"]) for p in json.loads(out)]
    except (ValueError, KeyError, TypeError):
        raise LangChainUnavailable("pip list printed no package list") from None
    cuda = sorted(n for n in names if n.lower().startswith(("nvidia-", "cuda-", "triton")))
    if cuda:
        raise LangChainUnavailable(f"CUDA packages were installed ({', '.join(cuda[:4])}); "
                                   "delete the LangChain venv and retry")
    return names


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """The python of the LangChain venv at `path`, created and filled if missing. Safe to
    call again: a venv that already imports everything is used as it is."""
    path = Path(path)
    python = venv_python(path.absolute())
    if python.exists() and _importable(python):
        return python
    if not python.exists():
        _say(f"creating {path}")
        _run("creating the venv", [os.environ.get("PYTHON") or "python3", "-m", "venv",
                                   str(path)], timeout=300)
    _say("upgrading pip")
    _run("upgrading pip", [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _say(f"installing torch=={TORCH} (CPU build)")
    _say(_install_torch(python))
    have = _torch_version(python)
    _say(f"installing {' '.join(PACKAGES)}")
    # Hold torch at the CPU build just installed, so no resolver step swaps it for CUDA.
    with tempfile.TemporaryDirectory() as tmp:
        pin = Path(tmp) / "torch-pin.txt"
        pin.write_text(f"torch=={have}\n", encoding="utf-8")
        _run("installing LangChain", [str(python), "-m", "pip", "install", "--quiet",
                                      "-c", str(pin), *PACKAGES])
    names = _check_cpu_only(python)
    if not _importable(python):
        raise LangChainUnavailable(f"{path} was set up but cannot import one of "
                                   f"{', '.join(MODULES)}")
    _say(f"ready: {len(names)} packages, torch {_torch_version(python)}, no CUDA packages")
    return python


def run_langchain(python: Path, model_dir: str, texts: Sequence[str],
                  questions: Sequence[str], k: int = 5, threads: int = 2,
                  timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Build LangChain's FAISS store over `texts` with the model folder `model_dir`, time
    `similarity_search` on each question and save the store, in a child process under
    `python` (the LangChain venv's); then time `COLD_RUNS` fresh children that load the
    saved store and answer the first question. Returns the build run's JSON object (see
    `langchain_child.py`) with `cold_start_s` and `cold_start_from_spawn_s` set to the cold
    runs' medians and every cold run under `cold_start_runs`. `timeout` covers all runs."""
    if not texts or not questions:
        raise LangChainUnavailable("the LangChain side needs at least one text and one question")
    if k < 1 or threads < 1:
        raise LangChainUnavailable(f"k and threads must be at least 1, got k={k}, "
                                   f"threads={threads}")
    # absolute, not resolved: the child runs elsewhere, and a venv's python is a symlink
    # whose target would not know the venv.
    python = Path(python).absolute()
    deadline = time.monotonic() + timeout
    # The saved store lives in this folder too, so it goes whatever happens.
    with tempfile.TemporaryDirectory(prefix="rag-langchain-") as tmp:
        store = str(Path(tmp) / "store")
        common = {"model": str(model_dir), "store": store, "k": k, "threads": threads}
        result = _parse(_child(python, tmp, {**common, "mode": "build", "texts": list(texts),
                                             "questions": list(questions)},
                               threads, deadline, timeout), BUILD_KEYS)
        # Only the question a restarted app answers first; the texts are in the store now.
        runs = [_parse(_child(python, tmp, {**common, "mode": "cold",
                                            "questions": [questions[0]]},
                              threads, deadline, timeout), COLD_KEYS, "cold run")
                for _ in range(COLD_RUNS)]
    result["cold_start_runs"] = runs
    result["cold_start_s"] = _median([r["cold_start_s"] for r in runs])
    result["cold_start_from_spawn_s"] = _median([r["cold_start_from_spawn_s"] for r in runs])
    result["cold_start_peak_rss_mib"] = _median([r["peak_rss_mib"] for r in runs])
    return result


def _median(values: Sequence[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return round(statistics.median(numbers), 3) if numbers else None


def _child(python: Path, tmp: str, payload: dict[str, Any], threads: int, deadline: float,
           timeout: float) -> str:
    """One child run on `payload`; its stdout, or one line saying why it failed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise LangChainUnavailable(f"the LangChain child ran past {timeout:.0f} s")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    inp = Path(tmp) / f"{payload['mode']}-input.json"
    inp.write_text(json.dumps(payload), encoding="utf-8")
    # The spawn time lets the child count interpreter start-up in its cold start.
    env["RAG_LANGCHAIN_SPAWN_TIME"] = repr(time.time())
    # -I: the child must see only its own venv, not evals/ (sys.path[0] would shadow
    # packages such as `beir`) nor PYTHONPATH pointing into the project.
    cmd = [str(python), "-I", str(CHILD), str(inp)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=left,
                              env=env, cwd=tmp, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LangChainUnavailable(f"the LangChain child ran past {timeout:.0f} s") from None
    except OSError as e:
        raise LangChainUnavailable(f"cannot run {python}: {e.strerror or e}") from None
    if done.returncode != 0:
        what = "the LangChain child" if payload["mode"] == "build" else "a LangChain cold run"
        raise LangChainUnavailable(f"{what} failed (exit {done.returncode}): "
                                   f"{_last_line(done.stderr)}")
    return done.stdout


def _parse(stdout: str, keys: Sequence[str], what: str = "the LangChain child") -> dict[str, Any]:
    """The child's one JSON object: its last non-empty stdout line, holding `keys`."""
    line = _last_line(stdout) if stdout.strip() else ""
    try:
        result = json.loads(stdout.strip().splitlines()[-1]) if line else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise LangChainUnavailable(f"{what} printed no JSON result: {line[:80]!r}")
    missing = [key for key in keys if key not in result]
    if missing:
        raise LangChainUnavailable(f"{what}'s result lacks {', '.join(missing)}")
    return result
