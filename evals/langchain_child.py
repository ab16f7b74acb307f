"""Run by the LangChain venv's python (see `evals/langchain_side.py`), never imported by the
project: it imports no project module, only LangChain and what LangChain brings.

    python -I langchain_child.py INPUT.json

INPUT.json: {"mode": "build" | "cold", "model": folder, "store": folder, "texts": [...],
"questions": [...], "k": 5, "threads": 2} ("mode" defaults to "build"; "texts" only there).

build: builds LangChain's FAISS store over the texts with HuggingFaceEmbeddings (the model
folder, CPU, normalised vectors), times a `similarity_search` per question after one
warm-up, then saves the store with `FAISS.save_local(store)`.
cold: what a LangChain app restarting over that saved store does, and nothing more: imports,
loads the embeddings and `FAISS.load_local(store)`, answers the first question once.

Either prints ONE JSON object on stdout (keys: see `build` and `cold`). Anything else goes
to stderr; a failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before any import: the child's own cold start counts from here

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

VERSIONS = ("langchain-community", "langchain-huggingface", "langchain-core",
            "sentence-transformers", "faiss-cpu", "torch", "transformers")


def _fail(msg: str) -> NoReturn:
    print(f"langchain child: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def _read_input(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        _fail(f"cannot read input {path}: {e}")
    if not isinstance(spec, dict):
        _fail("input is not a JSON object")
    mode = spec.setdefault("mode", "build")
    if mode not in ("build", "cold"):
        _fail(f"'mode' must be 'build' or 'cold', not {mode!r}")
    texts, questions = spec.get("texts"), spec.get("questions")
    if not isinstance(spec.get("model"), str) or not os.path.isdir(spec["model"]):
        _fail(f"model folder not found: {spec.get('model')!r}")
    if not isinstance(spec.get("store"), str) or not spec["store"]:
        _fail("'store' must be a folder path")
    if mode == "cold" and not os.path.isdir(spec["store"]):
        _fail(f"saved store not found: {spec['store']!r}")
    if mode == "build" and (not isinstance(texts, list) or not texts
                            or not all(isinstance(t, str) for t in texts)):
        _fail("'texts' must be a non-empty list of strings")
    if (not isinstance(questions, list) or not questions
            or not all(isinstance(q, str) for q in questions)):
        _fail("'questions' must be a non-empty list of strings")
    k, threads = spec.setdefault("k", 5), spec.setdefault("threads", 2)
    if not isinstance(k, int) or k < 1 or not isinstance(threads, int) or threads < 1:
        _fail("'k' and 'threads' must be positive integers")
    return spec


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries the parent's peak over into a child at exec, so
    # under a big `rag bench` process ru_maxrss reports the bench's peak, not this one's.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
        return round(int(kb) / 1024, 1)
    except (OSError, StopIteration, ValueError):
        # ru_maxrss is KiB on Linux (bytes on macOS, where this bench is not run).
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _spawn_time() -> float | None:
    try:
        return float(os.environ["RAG_LANGCHAIN_SPAWN_TIME"])
    except (KeyError, ValueError):
        return None


def _folder_mib(path: str) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
                 / 2**20, 3)


def _since(t: float, start: float | None) -> float | None:
    return round(t - start, 3) if start else None


def _imports(threads: int) -> tuple[Any, Any]:
    """FAISS and HuggingFaceEmbeddings, torch held to `threads` first."""
    import torch

    torch.set_num_threads(threads)
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    return FAISS, HuggingFaceEmbeddings


def _embeddings(cls: Any, model: str) -> Any:
    return cls(model_name=model, model_kwargs={"device": "cpu"},
               encode_kwargs={"normalize_embeddings": True})


def build(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    FAISS, embeddings_cls = _imports(spec["threads"])
    imported = time.time()
    model, texts, questions, k = spec["model"], spec["texts"], spec["questions"], spec["k"]

    t0 = time.perf_counter()
    embeddings = _embeddings(embeddings_cls, model)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    # The text's position as metadata, so the hits can be compared with the project's.
    store = FAISS.from_texts(texts, embeddings, metadatas=[{"i": i} for i in range(len(texts))])
    build_s = time.perf_counter() - t0

    store.similarity_search(questions[0], k=k)  # warm-up, and the first answer
    first_answer = time.time()

    search_ms: list[float] = []
    hits: list[list[Any]] = []
    for q in questions:
        t0 = time.perf_counter()
        docs = store.similarity_search(q, k=k)
        search_ms.append((time.perf_counter() - t0) * 1000)
        hits.append([d.metadata.get("i") for d in docs])

    # Saved after the timed searches, so saving never weighs on them.
    t0 = time.perf_counter()
    store.save_local(spec["store"])
    save_s = time.perf_counter() - t0

    a = np.asarray(search_ms)
    return {
        "library": "langchain",
        "mode": "build",
        "model": model,
        "texts": len(texts),
        "questions": len(questions),
        "k": k,
        "threads": spec["threads"],
        "torch_threads": torch.get_num_threads(),
        "import_s": round(imported - STARTED, 3),
        "load_s": round(load_s, 3),
        "build_s": round(build_s, 3),
        "texts_per_s": round(len(texts) / build_s, 1) if build_s > 0 else None,
        "search_ms": [round(x, 3) for x in search_ms],
        "search_p50_ms": round(float(np.percentile(a, 50)), 3),
        "search_p95_ms": round(float(np.percentile(a, 95)), 3),
        "search_mean_ms": round(float(a.mean()), 3),
        # Script top to first answer, building the store included: not a restart's cost.
        "build_run_to_first_answer_s": round(first_answer - STARTED, 3),
        "build_run_to_first_answer_from_spawn_s": _since(first_answer, _spawn_time()),
        "save_s": round(save_s, 3),
        "store_mb": _folder_mib(spec["store"]),
        "peak_rss_mib": _peak_rss_mib(),
        "versions": _versions(),
        "hits": hits,
    }


def cold(spec: dict[str, Any]) -> dict[str, Any]:
    """A restart over the saved store: only what answering the first question needs."""
    FAISS, embeddings_cls = _imports(spec["threads"])
    imported = time.time()

    t0 = time.perf_counter()
    embeddings = _embeddings(embeddings_cls, spec["model"])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # Our own folder, written by the build run a moment ago: the pickle is trusted.
    store = FAISS.load_local(spec["store"], embeddings, allow_dangerous_deserialization=True)
    store_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    docs = store.similarity_search(spec["questions"][0], k=spec["k"])
    answer_ms = (time.perf_counter() - t0) * 1000
    first_answer = time.time()
    return {
        "library": "langchain",
        "mode": "cold",
        "cold_start_s": round(first_answer - STARTED, 3),
        "cold_start_from_spawn_s": _since(first_answer, _spawn_time()),
        "import_s": round(imported - STARTED, 3),
        "load_s": round(load_s, 3),
        "store_load_s": round(store_load_s, 3),
        "answer_ms": round(answer_ms, 3),
        "peak_rss_mib": _peak_rss_mib(),
        "hits": [d.metadata.get("i") for d in docs],
    }


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        _fail("usage: langchain_child.py INPUT.json")
    spec = _read_input(argv[1])
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # Libraries may print on stdout; keep it for the one JSON line.
    out, sys.stdout = sys.stdout, sys.stderr
    result = cold(spec) if spec["mode"] == "cold" else build(spec)
    sys.stdout = out
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except SystemExit:
        raise
    except BaseException as e:  # one line, never a traceback: the parent shows the last line
        _fail(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
