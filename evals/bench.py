"""`rag bench`: build throughput, ask latency by stage, cold start and peak memory, measured in
one process so that the ratios (against the bare model and the raw floor) survive a busy
machine better than any figure alone.

    rag bench                                   # the shipped readings, the eval set's questions
    rag bench --corpus DIR                      # any folder of readings
    rag bench --beir ../shared/benchmarks/scifact --passages 10000 --build-sample 1000
    rag bench --beir ../shared/benchmarks/scifact --passages 10000 --copies 10

`--copies N` asks of N copies of those documents (ids suffixed, texts unchanged): the query
path at N times the size, for the cost of embedding one copy, since a build embeds each
distinct text once. Such a build is not timed (its throughput would count each text N
times), and the answers find N copies of each passage, so only the timings mean anything.

A BEIR folder is written out as a folder of readings first (one Markdown file per document,
its title in the front matter), so that every figure, cold start included, comes from the
same `rag` code a user's own folder goes through. Its judged test queries are the questions.
Bench files live under `<data dir>/bench/`, never in the repository. Method and figures:
evals/BENCHMARKS.md.

Stage times come from outside the pipeline: `TimedPipeline` hands `ask` its own retrievers
wrapped in a stopwatch (retrieve) and `TimedJudge` times the judge's `rescore` (reader), so
`rag/pipeline.py` carries no timing code and the path measured is the path the chat takes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.collection import DEFAULT_CORPUS_DIR, load_corpus
from corpus.document import Document
from corpus.loaders import slugify
from evals.beir_data import load_beir
from evals.evalset import DEFAULT_EVAL_SET, load_eval_set
from evals.langchain_side import ensure_venv, run_langchain
from evals.runner import raw_floor_ms
from index.embedder import BUNDLED_MODEL, Embedder, bundled_model_path, make_embedder
from index.store import build_index, chunk_documents, load_index, staleness
from index.units import embedded_parts, quote_units
from rag.judge import Judge
from rag.pipeline import Pipeline, ensure_index, make_judge
from rag.quoting import Candidate
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.types import Hit

# Questions asked per configuration unless --questions says otherwise: enough for a stable
# p95, few enough that the default run takes minutes on two cores.
DEFAULT_QUESTIONS = 100
COLD_RUNS = 3
# The batch size of the bare-model comparison; `SentenceTransformerEmbedder`'s default too.
RAW_BATCH = 32
# Asked once before the clock starts; not one of the questions, which the pipeline's memo of
# question vectors would then answer for free.
WARM_UP_QUESTION = "What is the main argument of this reading?"
ORDER_SEED = 9


class BenchError(ValueError):
    """Arguments or a corpus the bench cannot run on; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """What is benchmarked: a folder of readings, its questions, and where its index lives."""

    name: str
    corpus: Path
    documents: tuple[Document, ...]
    questions: tuple[str, ...]
    settings: Settings
    source: str


# --- the corpus -------------------------------------------------------------------------


def bench_root(settings: Settings) -> Path:
    """Everything the bench writes: `<data dir>/bench`."""
    return settings.data_path / "bench"


def _index_path(settings: Settings, name: str) -> Path:
    # Each index in a folder of its own, so that a fresh build can delete the folder with the
    # index's lock, temp and checkpoint files beside it.
    return bench_root(settings) / name / "index"


def eval_set_questions(documents: Sequence[Document] | None) -> tuple[str, ...]:
    """The shipped eval set's questions, in file order (answerable or not: all cost a search),
    checked against `documents` when given."""
    items = load_eval_set(DEFAULT_EVAL_SET, None if documents is None
                          else {d.id: d.text for d in documents})
    return tuple(i.question for i in items)


def documents_for_passages(documents: Sequence[Document], passages: int | None,
                           settings: Settings) -> list[Document]:
    """The first documents whose passages (as `settings` chunk them) reach `passages`; all of
    them for None."""
    if passages is None:
        return list(documents)
    out: list[Document] = []
    count = 0
    for doc in documents:
        if count >= passages:
            break
        out.append(doc)
        count += len(chunk_documents([doc], settings.max_chars,
                                     settings.context_headers == "on"))
    return out


# Characters YAML will not read even inside quotes (PyYAML's reader, less the surrogates,
# which no UTF-8 file holds): they go in as \u escapes, which YAML decodes.
_YAML_UNPRINTABLE = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")


def replicate(documents: Sequence[Document], copies: int) -> list[Document]:
    """`documents`, then `copies - 1` more copies of them with the ids suffixed `-copyK`."""
    return list(documents) + [dataclasses.replace(d, id=f"{d.id}-copy{k}")
                              for k in range(1, copies) for d in documents]


def front_matter_string(text: str) -> str:
    """`text` (its runs of white space made one space) as a YAML double-quoted scalar. A
    JSON string is one, once YAML's unprintable characters are escaped too."""
    quoted = json.dumps(" ".join(text.split()), ensure_ascii=False)
    return _YAML_UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def write_readings(documents: Sequence[Document], folder: Path) -> Path:
    """Write documents as a folder of readings (one text file each, metadata in the front
    matter) unless an identical folder is there already; returns the folder. Plain .txt,
    not .md: a benchmark's text is no Markdown, and its "*" or "[x](y)" must load back as
    written."""
    stamp = folder / ".bench-written"
    key = json.dumps(["txt", *sorted(d.content_hash for d in documents)])
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for n, doc in enumerate(documents):
        doc_id = slugify(doc.id)
        (folder / f"{n:07d}-{doc_id[:60]}.txt").write_text(
            f"---\nid: {front_matter_string(doc_id)}\ntitle: {front_matter_string(doc.title)}\n"
            f"---\n\n{doc.text}\n", encoding="utf-8")
    stamp.write_text(key, encoding="utf-8")
    return folder


def resolve_target(args: argparse.Namespace, settings: Settings) -> Target:
    """The corpus, questions and index settings that the arguments name."""
    questions = getattr(args, "questions", None)
    beir = getattr(args, "beir", None)
    if beir:
        bset = load_beir(beir, split="test")
        docs = documents_for_passages(bset.documents, getattr(args, "passages", None), settings)
        suffix = f"-{args.passages}p" if getattr(args, "passages", None) else ""
        copies = getattr(args, "copies", None) or 1
        source = f"BEIR {bset.name} ({len(docs)} of {len(bset.documents)} documents"
        if copies > 1:
            docs = replicate(docs, copies)
            suffix += f"-x{copies}"
            source += f", {copies} copies of each"
        name = f"{bset.name}{suffix}"
        folder = write_readings(docs, bench_root(settings) / "corpora" / name)
        corpus_docs = load_corpus(folder).documents
        asked = tuple(bset.queries.values())
        source += ", test queries)"
    else:
        folder = Path(settings.corpus).expanduser().resolve()
        corpus = load_corpus(folder)
        corpus_docs = corpus.documents
        if folder == DEFAULT_CORPUS_DIR:
            name = "default"
        else:
            name = settings.index_path.name  # the slug and hash `rag build` would use
        # Another folder is asked the shipped questions too, unchecked against it: each costs
        # a search and a reading whatever the answer, which is all a latency needs.
        asked = eval_set_questions(corpus_docs if folder == DEFAULT_CORPUS_DIR else None)
        source = f"readings in {folder}, the eval set's questions"
    asked = asked[:questions or DEFAULT_QUESTIONS]
    settings = settings.replace(corpus=str(folder), index=str(_index_path(settings, name)))
    return Target(name, folder, tuple(corpus_docs), asked, settings, source)


# --- build throughput -------------------------------------------------------------------


def embedded_texts(documents: Sequence[Document], settings: Settings) -> tuple[list[str],
                                                                               list[str]]:
    """The distinct passage texts and quotable-unit texts a fresh build embeds, in the order
    `index.store` first meets them (a two-sentence unit's two sentences, not the pair:
    `index.units.pair_vector`)."""
    passages = chunk_documents(documents, settings.max_chars, settings.context_headers == "on")
    texts = list(dict.fromkeys(p.retrieval_text for p in passages))
    units = list(dict.fromkeys(t for p in passages for u in quote_units(p)
                               for t in embedded_parts(p, u)))
    return texts, units


def raw_encode_seconds(embedder: Embedder, texts: Sequence[Sequence[str]]) -> float:
    """Seconds for the bare model to encode each list of texts (batch 32): the model inside
    a sentence-transformers embedder, or the embedder itself for one without a model."""
    warm = getattr(embedder, "warm_up", None)
    if warm:
        warm()
    # The loaded SentenceTransformer that `SentenceTransformerEmbedder.embed` wraps: timing it
    # directly leaves out the wrapper's lock and normalisation, which is the point.
    model = getattr(embedder, "_model", None)
    t0 = time.perf_counter()
    for group in texts:
        if not group:
            continue
        if model is not None:
            model.encode(list(group), batch_size=RAW_BATCH, convert_to_numpy=True,
                         normalize_embeddings=True, show_progress_bar=False)
        else:
            for b in range(0, len(group), RAW_BATCH):
                embedder.embed(list(group[b:b + RAW_BATCH]))
    return time.perf_counter() - t0


def measure_build(target: Target, embedder: Embedder, sample: int | None,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """Time a fresh build (of the whole corpus, or of its first documents up to `sample`
    passages), then the bare model on the same texts, in this process."""
    s = target.settings
    docs = documents_for_passages(target.documents, sample, s)
    name = target.name if sample is None else f"{target.name}-sample{sample}"
    path = _index_path(s, name)
    shutil.rmtree(path.parent, ignore_errors=True)  # fresh: nothing to reuse
    warm = getattr(embedder, "warm_up", None)
    if warm:
        warm()
    embedder.embed(["warm up the model before either clock starts"])
    say(f"bench: building a fresh index of {len(docs)} documents at {path}")
    report = build_index(path, docs, embedder, s.embedder_key, s.index_settings(), s.public(),
                         progress=False)
    texts, units = embedded_texts(docs, s)
    say(f"bench: encoding the same {len(texts) + len(units)} texts with the bare model")
    raw = raw_encode_seconds(make_embedder(s.model), [texts, units])
    if sample is not None:
        shutil.rmtree(path.parent, ignore_errors=True)
    embedded = report.embedded + report.units_embedded
    return {"sampled": sample is not None, "documents": len(docs),
            "passages": report.passages, "texts_embedded": embedded,
            "seconds": report.seconds, "passages_per_s": report.passages / report.seconds,
            "texts_per_s": embedded / report.seconds,
            "raw_encode_seconds": raw, "raw_texts_per_s": (len(texts) + len(units)) / raw,
            "ratio": report.seconds / raw}


# --- ask latency ------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Seconds spent per stage since the last `reset`."""

    seconds: dict[str, float] = field(default_factory=dict)

    def reset(self) -> None:
        """Start a new question."""
        self.seconds.clear()

    def add(self, stage: str, t0: float) -> None:
        """Add the time since `t0` (a `perf_counter` reading) to `stage`."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


class TimedRetriever:
    """A retriever whose searches count as the "retrieve" stage."""

    def __init__(self, inner: Retriever, clock: Stopwatch) -> None:
        self.inner = inner
        self.clock = clock

    def search(self, query: str, k: int) -> list[Hit]:
        """The inner retriever's hits, timed."""
        t0 = time.perf_counter()
        try:
            return self.inner.search(query, k)
        finally:
            self.clock.add("retrieve", t0)


class TimedJudge(Judge):
    """The same reader and combiner, with `rescore` (reading the candidates and combining
    the scores) counted as the "reader" stage."""

    def __init__(self, inner: Judge, clock: Stopwatch) -> None:
        super().__init__(inner.reader, inner.combiner, inner.depth)
        self.clock = clock

    def rescore(self, question: str, candidates: Sequence[Candidate],
                writers: Sequence[str] | None = None,
                first: Sequence[bool] | None = None) -> list[Candidate]:
        """`Judge.rescore`, timed."""
        t0 = time.perf_counter()
        try:
            return super().rescore(question, candidates, writers, first)
        finally:
            self.clock.add("reader", t0)


class TimedPipeline(Pipeline):
    """A pipeline whose base retrievers and judge run under a stopwatch. `ask` itself is
    the library's, unchanged."""

    def __init__(self, settings: Settings, index: Any, embedder: Embedder,
                 judge: Judge | None = None) -> None:
        self.clock = Stopwatch()
        timed = TimedJudge(judge, self.clock) if judge is not None else None
        super().__init__(settings, index, embedder, timed)
        self._timed: dict[str, TimedRetriever] = {}

    def base_retriever(self, mode: str) -> Retriever:
        """The library's retriever for `mode`, wrapped once in the stopwatch."""
        if mode not in self._timed:
            self._timed[mode] = TimedRetriever(super().base_retriever(mode), self.clock)
        return self._timed[mode]

    def timed_ask(self, question: str) -> dict[str, float]:
        """Ask once; milliseconds for the whole ask and each stage ("quote" is the rest)."""
        self.clock.reset()
        t0 = time.perf_counter()
        self.ask(question)
        total = (time.perf_counter() - t0) * 1000
        retrieve = self.clock.seconds.get("retrieve", 0.0) * 1000
        reader = self.clock.seconds.get("reader", 0.0) * 1000
        return {"total": total, "retrieve": retrieve, "reader": reader,
                "quote": max(total - retrieve - reader, 0.0)}


def _summary(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95))}


def summarise(samples: Sequence[Mapping[str, float]], floor_ms: Sequence[float]
              ) -> dict[str, Any]:
    """p50/p95 of each stage and of the whole ask; the median per-question ratio to the
    floor (measured beside each ask) and the ratio of the two medians."""
    out: dict[str, Any] = {stage: _summary([s[stage] for s in samples])
                           for stage in ("total", "retrieve", "reader", "quote")}
    totals = np.array([s["total"] for s in samples])
    floors = np.maximum(np.asarray(floor_ms, dtype=float), 1e-3)
    out["ratio_p50"] = float(np.percentile(totals / floors, 50))
    out["ratio_of_p50s"] = out["total"]["p50"] / max(float(np.percentile(floors, 50)), 1e-3)
    return out


def measure_asks(pipelines: Mapping[str, TimedPipeline], questions: Sequence[str],
                 progress: bool = True) -> dict[str, Any]:
    """Each question through each pipeline, the raw floor measured beside it: per-question
    interleaving, so a burst of other work on the machine hits every configuration alike.
    The pipelines share no memo of question vectors, so each ask pays its own encode."""
    first = next(iter(pipelines.values()))
    for p in pipelines.values():
        p.warm_up()
        p.ask(WARM_UP_QUESTION)  # first-use costs (vocabulary, BM25 load) are no question's
    raw_floor_ms(first, WARM_UP_QUESTION)
    # The pipelines' own encoder (ONNX by default) beside the bare torch model of the floor.
    own = getattr(first.embedder, "inner", first.embedder)
    raw_floor_ms(first, WARM_UP_QUESTION, embedder=own)
    floor: list[float] = []
    own_floor: list[float] = []
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in pipelines}
    # A new, seeded order for each question: whatever runs right after the reader is slowed
    # by its (ONNX Runtime's) threads still spinning, and that must fall on each measurement
    # alike. (Turning the order round fixed which one followed the reader most often.)
    order: list[str | None] = [None, *pipelines]
    shuffle = random.Random(ORDER_SEED).shuffle
    for n, q in enumerate(questions, 1):
        shuffle(order)
        for name in order:
            if name is None:
                floor.append(raw_floor_ms(first, q))
                own_floor.append(raw_floor_ms(first, q, embedder=own))
            else:
                samples[name].append(pipelines[name].timed_ask(q))
        if progress and (n % 25 == 0 or n == len(questions)):
            print(f"bench: asked {n}/{len(questions)} questions", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"questions": len(questions), "floor": _summary(floor),
                           "floor_own_encoder": _summary(own_floor)}
    out.update({name: summarise(s, floor) for name, s in samples.items()})
    return out


# --- cold start -------------------------------------------------------------------------


# The child is `rag ask`'s own `main`, which reports its peak RSS (VmHWM) on the way out:
# `wait4`'s figure is no good here, since Linux carries the parent's peak over into a child
# at exec.
_CHILD = ("import atexit, sys\n"
          "def _peak():\n"
          "    try:\n"
          "        with open('/proc/self/status') as f:\n"
          "            kb = [l.split()[1] for l in f if l.startswith('VmHWM:')][0]\n"
          "        print('bench-peak-rss-kb', kb, file=sys.stderr)\n"
          "    except (OSError, IndexError):\n"
          "        pass\n"
          "atexit.register(_peak)\n"
          "from ui.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")
_PEAK_TAG = "bench-peak-rss-kb"


def cold_start(target: Target, question: str, runs: int, config: str | None = None
               ) -> dict[str, Any]:
    """Run `rag ask QUESTION --json` on the built index in a fresh process `runs` times:
    wall seconds from spawn to exit (median, max) and the child's peak RSS."""
    s = target.settings
    cmd = [sys.executable, "-c", _CHILD, "ask", question, "--json", "--corpus", s.corpus,
           "--index", s.index, "--model", s.model]
    if config:
        cmd += ["--config", config]
    env = {**os.environ, "RAG_DATA_DIR": str(s.data_path)}
    seconds: list[float] = []
    rss_kb = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, env=env, check=False)
        seconds.append(time.perf_counter() - t0)
        err = done.stderr.decode(errors="replace").splitlines()
        if done.returncode != 0:
            last = [line for line in err if not line.startswith(_PEAK_TAG)] or ["?"]
            raise BenchError(f"cold start: `rag ask` exited {done.returncode}: {last[-1]}")
        json.loads(done.stdout)  # one answer, or the run does not count
        peaks = [int(line.split()[1]) for line in err if line.startswith(_PEAK_TAG)]
        rss_kb = max(rss_kb, *peaks, 0)
    return {"runs": runs, "seconds_median": statistics.median(seconds),
            "seconds_max": max(seconds), "child_peak_rss_mb": rss_kb / 1024}


# --- ask alone ----------------------------------------------------------------------------


# Our asks, reader off, in a process of their own, as LangChain's are measured in its child:
# in the bench's own process the bare torch floor runs beside each ask, and its threads are
# still spinning when the next measurement starts (the ONNX encode alone took 4.2 ms by
# itself and 7.5 ms there, the same questions).
_ALONE = ("import json, sys, time\n"
          "from rag.pipeline import Pipeline\n"
          "from rag.settings import Settings\n"
          "from pathlib import Path\n"
          "args = json.loads(sys.stdin.read())\n"
          "config = args['config'] and Path(args['config'])\n"
          "s = Settings.load(config, **args['settings'])\n"
          "p = Pipeline.open(s, status=lambda _: None, progress=False)\n"
          "p.warm_up()\n"
          "p.ask(args['warm_up'])\n"
          "ms = []\n"
          "for q in args['questions']:\n"
          "    t = time.perf_counter()\n"
          "    p.ask(q)\n"
          "    ms.append((time.perf_counter() - t) * 1000)\n"
          "print(json.dumps(ms))\n")


def ask_alone(target: Target, questions: Sequence[str], config: str | None = None
              ) -> dict[str, float]:
    """p50/p95 of `Pipeline.ask`, reader off, over `questions` in a fresh process."""
    s = target.settings
    payload = {"settings": {"corpus": s.corpus, "index": s.index, "model": s.model,
                            "reader": "off"}, "config": config,
               "warm_up": WARM_UP_QUESTION, "questions": list(questions)}
    env = {**os.environ, "RAG_DATA_DIR": str(s.data_path)}
    done = subprocess.run([sys.executable, "-c", _ALONE], input=json.dumps(payload).encode(),
                          capture_output=True, env=env, check=False)
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines() or ["?"]
        raise BenchError(f"asking alone: the child exited {done.returncode}: {last[-1]}")
    return _summary(json.loads(done.stdout.decode().strip().splitlines()[-1]))


# --- the command ------------------------------------------------------------------------


def _check_args(args: argparse.Namespace) -> None:
    if getattr(args, "beir", None) and getattr(args, "corpus", None):
        raise BenchError("give --corpus or --beir, not both")
    if getattr(args, "passages", None) is not None and not getattr(args, "beir", None):
        raise BenchError("--passages needs --beir (a folder of readings is used whole)")
    if getattr(args, "copies", None) is not None and not getattr(args, "beir", None):
        raise BenchError("--copies needs --beir")
    if (getattr(args, "copies", None) or 1) > 1 and getattr(args, "build_sample", None):
        raise BenchError("--build-sample times a build; --copies builds without timing")
    for flag in ("passages", "questions", "build_sample", "cold_runs", "copies"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            raise BenchError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if getattr(args, "no_build", False) and getattr(args, "build_sample", None):
        raise BenchError("--build-sample times a build; it cannot go with --no-build")


def run_bench(args: argparse.Namespace, settings: Settings,
              say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every measurement the arguments ask for, as one JSON-ready object."""
    say = say or (lambda m: print(m, file=sys.stderr, flush=True))
    _check_args(args)
    target = resolve_target(args, settings)
    if not target.questions:
        raise BenchError(f"no questions to ask of {target.corpus} (an eval set question needs "
                         "the shipped readings; use --beir for a corpus with its own queries)")
    s = target.settings
    embedder = make_embedder(s.embedder_key)
    build = None
    copies = getattr(args, "copies", None) or 1
    if not getattr(args, "no_build", False) and copies == 1:
        build = measure_build(target, embedder, getattr(args, "build_sample", None), say)
    index_path = Path(s.index)
    if build is None or build["sampled"]:
        if staleness(index_path, target.documents, s.embedder_key, s.index_settings()) is not None:
            if getattr(args, "no_build", False):
                raise BenchError(f"no current bench index at {index_path}; run without "
                                 "--no-build to build it")
            say(f"bench: building the full index at {index_path}")
            full = ensure_index(s, embedder, load_corpus(target.corpus), status=say,
                                progress=True)
            if build is not None and full is not None:
                # The sample's figures stand; the whole build's time is for the side-by-side.
                build["full_build_seconds"] = full.seconds
                build["full_build_passages"] = full.passages
    index = load_index(index_path)
    say(f"bench: asking {len(target.questions)} questions, reader off and on")
    pipelines = {"reader_off": TimedPipeline(s.replace(reader="off"), index, embedder)}
    judge = make_judge(s)
    if judge is not None:
        pipelines["reader_on"] = TimedPipeline(s, index, embedder, judge)
    ask = measure_asks(pipelines, target.questions)
    ask.setdefault("reader_on", None)
    runs = getattr(args, "cold_runs", None) or COLD_RUNS
    say(f"bench: cold start, {runs} x `rag ask --json`")
    cold = cold_start(target, target.questions[0], runs, getattr(args, "config", None))
    versus = None
    if getattr(args, "langchain", None):
        say("bench: the same questions, reader off, in a process of their own")
        ask["reader_off_alone"] = ask_alone(target, target.questions,
                                            getattr(args, "config", None))
        versus = langchain_side_by_side(args.langchain, index, target.questions, s, build,
                                        ask, cold, say)
    return {
        "bench": target.name, "source": target.source,
        "corpus": {"documents": len(index.documents), "passages": len(index.passages),
                   "units": int(index.unit_vectors.shape[0]), "copies": copies},
        "settings": s.public(),
        "build": build,
        "ask": ask,
        "cold_start": cold,
        "langchain": versus,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def langchain_side_by_side(python: str, index: Any, questions: Sequence[str],
                           settings: Settings, build: Mapping[str, Any] | None,
                           ask: Mapping[str, Any], cold: Mapping[str, Any],
                           say: Callable[[str], None]) -> dict[str, Any]:
    """LangChain's FAISS store built on this index's passages (the text the dense retriever
    embeds) with the same model, asked the same questions; and each figure of ours over
    LangChain's, so that >1 means LangChain takes longer. Our build embeds every sentence
    too, LangChain's only the passages."""
    if settings.model != BUNDLED_MODEL:
        raise BenchError("--langchain compares the bundled model only")
    exe = ensure_venv() if python == "auto" else Path(python)
    texts = [p.retrieval_text for p in index.passages]
    say(f"bench: LangChain FAISS store on the same {len(texts)} passages")
    lc = run_langchain(exe, bundled_model_path(), texts, questions, k=settings.k)
    lc = {k: v for k, v in lc.items() if k not in ("search_ms", "hits")}
    ours_build = None
    if build is not None:
        ours_build = build.get("full_build_seconds") or (
            None if build["sampled"] else build["seconds"])
    speedup: dict[str, float | None] = {
        "build": lc["build_s"] / ours_build if ours_build else None,
        "cold_start": (lc.get("cold_start_from_spawn_s") or lc["cold_start_s"])
        / cold["seconds_median"]}
    for config in ("reader_off", "reader_on"):
        mine = ask.get(config)
        speedup[f"ask_{config}"] = lc["search_p50_ms"] / mine["total"]["p50"] if mine else None
    # Both measured alone, each in its own process: the like-for-like figure.
    alone = ask.get("reader_off_alone")
    speedup["ask_reader_off_alone"] = lc["search_p50_ms"] / alone["p50"] if alone else None
    return {**lc, "ours_build_seconds": ours_build, "langchain_over_ours": speedup}


def rows(report: Mapping[str, Any]) -> Iterator[tuple[str, float, str]]:
    """(figure, value, unit) for every number the table shows."""
    b = report["build"]
    if b is not None:
        what = "sample build" if b["sampled"] else "build"
        yield f"{what}: passages", b["passages"], ""
        yield f"{what}: texts embedded (passages + sentences)", b["texts_embedded"], ""
        yield f"{what}: time", b["seconds"], "s"
        yield f"{what}: throughput", b["passages_per_s"], "passages/s"
        yield f"{what}: throughput", b["texts_per_s"], "texts/s"
        yield "bare model encode, same texts", b["raw_texts_per_s"], "texts/s"
        yield "build time / bare encode time", b["ratio"], "x"
    a = report["ask"]
    yield "raw floor (encode + FAISS) p50", a["floor"]["p50"], "ms"
    yield "raw floor (encode + FAISS) p95", a["floor"]["p95"], "ms"
    if "floor_own_encoder" in a:
        yield (f"floor with the {report['settings'].get('encoder_backend', '')} encoder p50",
               a["floor_own_encoder"]["p50"], "ms")
    for config in ("reader_off", "reader_on"):
        if a.get(config) is None:
            continue
        label = config.replace("_", " ")
        for stage in ("total", "retrieve", "reader", "quote"):
            if config == "reader_off" and stage == "reader":
                continue
            name = "ask" if stage == "total" else stage
            for q in ("p50", "p95"):
                yield f"{label}: {name} {q}", a[config][stage][q], "ms"
        yield f"{label}: ask / floor, median per question", a[config]["ratio_p50"], "x"
    if a.get("reader_off_alone"):
        for q in ("p50", "p95"):
            yield f"reader off, in a process of its own: ask {q}", a["reader_off_alone"][q], "ms"
    c = report["cold_start"]
    yield f"cold start `rag ask --json` (median of {c['runs']})", c["seconds_median"], "s"
    yield "cold start peak RSS (child)", c["child_peak_rss_mb"], "MiB"
    yield "bench process peak RSS", report["peak_rss_mb"], "MiB"
    lc = report.get("langchain")
    if lc:
        yield "LangChain FAISS: build (passages only)", lc["build_s"], "s"
        if lc["ours_build_seconds"]:
            yield "ours: build (passages and sentences)", lc["ours_build_seconds"], "s"
        yield "LangChain FAISS: similarity_search p50", lc["search_p50_ms"], "ms"
        yield "LangChain FAISS: cold start to first answer", lc["cold_start_s"], "s"
        for what, ratio in lc["langchain_over_ours"].items():
            if ratio is not None:
                yield f"LangChain / ours: {what.replace('_', ' ')}", ratio, "x"


def format_table(report: Mapping[str, Any]) -> str:
    """One aligned line per figure, with its unit."""
    c = report["corpus"]
    head = (f"rag bench {report['bench']}: {report['source']}; {c['documents']} documents, "
            f"{c['passages']} passages, {c['units']} quotable units; "
            f"{report['ask']['questions']} questions; model {report['settings']['model']}")
    lines = list(rows(report))
    width = max(len(name) for name, _, _ in lines)
    body = [f"{name:<{width}}  {value:>10.{0 if float(value).is_integer() and not unit else 1}f}"
            f" {unit}".rstrip() for name, value, unit in lines]
    if report["build"] and report["build"]["sampled"]:
        body.append("(build timed on a sample of the corpus: --build-sample)")
    return "\n".join([head, *body])


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`rag bench`: print the table (or, with --json, one object); --out writes the JSON."""
    report = _rounded(run_bench(args, settings))
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if getattr(args, "out", None):
        Path(args.out).expanduser().write_text(text + "\n", encoding="utf-8")
    print(text if getattr(args, "json", False) else format_table(report))
    return 0
