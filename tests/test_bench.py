"""`rag bench` (evals/bench.py): the report's shape, the table, the stage timers, one-line
errors, and BEIR documents written out as readings. No timing is asserted: only that each
figure is there and is a number."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.collection import load_corpus
from corpus.document import Document
from corpus.loaders import normalise_text
from evals.bench import (
    BenchError,
    Stopwatch,
    TimedPipeline,
    TimedRetriever,
    format_table,
    langchain_side_by_side,
    replicate,
    rows,
    summarise,
    write_readings,
)
from rag.settings import Settings
from ui.cli import main


def _numbers(report: dict[str, Any], *path: str) -> float:
    value: Any = report
    for key in path:
        value = value[key]
    assert isinstance(value, int | float) and not isinstance(value, bool), path
    assert value >= 0, path
    return float(value)


BUILD_KEYS = ("documents", "passages", "texts_embedded", "seconds", "passages_per_s",
              "texts_per_s", "raw_encode_seconds", "raw_texts_per_s", "ratio")
STAGES = ("total", "retrieve", "reader", "quote")


def _check_report(report: dict[str, Any]) -> None:
    for key in BUILD_KEYS:
        _numbers(report, "build", key)
    _numbers(report, "ask", "floor", "p50")
    _numbers(report, "ask", "floor", "p95")
    _numbers(report, "ask", "floor_own_encoder", "p50")
    for config in ("reader_off", "reader_on"):
        for stage in STAGES:
            for q in ("p50", "p95"):
                _numbers(report, "ask", config, stage, q)
        _numbers(report, "ask", config, "ratio_p50")
        _numbers(report, "ask", config, "ratio_of_p50s")
    assert report["ask"]["reader_off"]["reader"] == {"p50": 0.0, "p95": 0.0}
    for key in ("seconds_median", "seconds_max", "child_peak_rss_mb"):
        _numbers(report, "cold_start", key)
    assert _numbers(report, "cold_start", "child_peak_rss_mb") > 0
    assert _numbers(report, "peak_rss_mb") > 0
    for key in ("documents", "passages", "units"):
        assert _numbers(report, "corpus", key) >= 1


def test_bench_on_a_folder_prints_one_json_object_and_saves_it(
        tiny_corpus: Path, tmp_path: Path, data_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(["bench", "--corpus", str(tiny_corpus), "--model", "hash", "--questions", "3",
                 "--cold-runs", "1", "--json", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)  # stdout is exactly the object; progress is on stderr
    assert json.loads(out.read_text(encoding="utf-8")) == report
    _check_report(report)
    assert report["build"]["sampled"] is False
    assert report["ask"]["questions"] == 3
    assert report["corpus"]["documents"] == 3
    assert "bench: asking" in captured.err and "Traceback" not in captured.err
    # The bench's index lives under the data directory, never beside the readings.
    assert Path(report["settings"]["model"]) and (data_dir / "bench").is_dir()
    assert not any(p.name == "manifest.json" for p in tiny_corpus.rglob("*"))

    table = format_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("rag bench ")
    assert len(lines) == 1 + len(list(rows(report)))
    units = {u for _, _, u in rows(report)}
    assert {"ms", "s", "x", "MiB", "passages/s", "texts/s"} <= units
    assert any(line.startswith("reader on: reader p50") and line.endswith(" ms")
               for line in lines)
    # Aligned: every value ends in the same column, its unit (if any) one space after.
    col = max(len(name) for name, _, _ in rows(report)) + 12
    for line in lines[1:len(list(rows(report))) + 1]:
        assert line[col - 1].isdigit(), line
        assert len(line) == col or line[col] == " ", line


def _beir(folder: Path, n_docs: int = 6) -> Path:
    folder.mkdir()
    docs = [{"_id": str(i), "title": f"Paper {i}: on topic {i}",
             "text": " ".join(f"Sentence {j} of paper {i} reports finding {i * j}."
                              for j in range(30))} for i in range(n_docs)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(
        json.dumps({"_id": f"q{i}", "text": f"What does paper {i} report?"})
        for i in range(3)) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{i}\t1\n" for i in range(3)))
    return folder


def test_bench_on_beir_takes_the_first_passages_and_times_a_sample(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beir = _beir(tmp_path / "fakebeir")
    code = main(["bench", "--beir", str(beir), "--passages", "8", "--build-sample", "3",
                 "--model", "hash", "--cold-runs", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    _check_report(report)
    assert report["build"]["sampled"] is True
    assert 3 <= report["build"]["passages"] < report["corpus"]["passages"]
    assert 8 <= report["corpus"]["passages"]
    assert report["corpus"]["documents"] < 6  # only the documents that make 8 passages
    assert report["ask"]["questions"] == 3  # the judged test queries
    assert "sample" in format_table(report)

    # Measured again on the index it built, without building: no build figures.
    assert main(["bench", "--beir", str(beir), "--passages", "8", "--no-build", "--model",
                 "hash", "--cold-runs", "1", "--questions", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["build"] is None
    assert again["corpus"] == report["corpus"]
    assert "build" not in format_table(again)


def test_copies_ask_of_n_copies_and_build_without_timing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beir = _beir(tmp_path / "fakebeir")
    assert main(["bench", "--beir", str(beir), "--passages", "8", "--build-sample", "3",
                 "--model", "hash", "--cold-runs", "1", "--questions", "1", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    code = main(["bench", "--beir", str(beir), "--passages", "8", "--copies", "3", "--model",
                 "hash", "--cold-runs", "1", "--questions", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["build"] is None  # a build of copies would count each text three times
    assert report["corpus"]["copies"] == 3
    for key in ("documents", "passages", "units"):
        assert report["corpus"][key] == 3 * one["corpus"][key]
    assert "3 copies" in report["source"]
    assert report["ask"]["questions"] == 2


def test_replicate_keeps_the_texts_and_makes_the_ids_unique() -> None:
    docs = [Document(id=f"d{i}", text=f"Text {i}.", title=f"T{i}") for i in range(3)]
    out = replicate(docs, 4)
    assert out[:3] == docs
    assert len(out) == 12 and len({d.id for d in out}) == 12
    assert [d.text for d in out] == [d.text for d in docs] * 4
    assert replicate(docs, 1) == docs


@pytest.mark.parametrize("argv", [
    ["--beir", "x", "--corpus", "y"],
    ["--copies", "2"],
    ["--beir", "x", "--copies", "0"],
    ["--beir", "x", "--copies", "2", "--build-sample", "3"],
    ["--passages", "5"],
    ["--questions", "0"],
    ["--cold-runs", "0"],
    ["--build-sample", "5", "--no-build"],
    ["--beir", "/no/such/benchmark"],
    ["--corpus", "/no/such/readings"],
    ["--no-build"],  # no bench index built yet
])
def test_bad_arguments_give_one_line_and_exit_2(
        argv: list[str], tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if argv == ["--no-build"]:
        argv = ["--no-build", "--corpus", str(tiny_corpus)]
    code = main(["bench", "--model", "hash", *argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert lines and lines[-1].startswith("rag: error:"), err
    assert sum(line.startswith("rag: error:") for line in lines) == 1
    assert "Traceback" not in err


class _SlowRetriever:
    def search(self, query: str, k: int) -> list[Any]:
        return []


def test_stage_timer_adds_up_per_question() -> None:
    clock = Stopwatch()
    timed = TimedRetriever(_SlowRetriever(), clock)
    assert timed.search("q", 3) == []
    assert timed.search("q", 3) == []
    assert clock.seconds["retrieve"] >= 0
    clock.reset()
    assert clock.seconds == {}


def test_timed_pipeline_answers_exactly_as_the_library_does(tiny_corpus: Path) -> None:
    from index.embedder import make_embedder
    from index.store import load_index
    from rag.pipeline import Pipeline, ensure_index, make_judge
    from rag.settings import Settings

    s = Settings.load(corpus=str(tiny_corpus), model="hash")
    embedder = make_embedder("hash")
    ensure_index(s, embedder, progress=False, status=lambda _m: None)
    index = load_index(s.index_path)
    question = "When did Mount Vesuvius erupt and bury Pompeii?"
    for judge in (None, make_judge(s)):
        plain = Pipeline(s, index, embedder, judge).ask(question).to_dict()
        timed = TimedPipeline(s, index, embedder, judge)
        stages = timed.timed_ask(question)
        assert timed.ask(question).to_dict() == plain
        assert stages["retrieve"] > 0
        assert (stages["reader"] > 0) == (judge is not None)
        assert stages["retrieve"] + stages["reader"] <= stages["total"]


def test_summarise_reports_percentiles_and_ratios() -> None:
    samples = [{"total": t, "retrieve": t / 2, "reader": 0.0, "quote": t / 2}
               for t in (10.0, 20.0, 30.0)]
    out = summarise(samples, [5.0, 10.0, 15.0])
    assert out["total"]["p50"] == 20.0
    assert out["retrieve"]["p50"] == 10.0
    assert out["ratio_p50"] == 2.0 and out["ratio_of_p50s"] == 2.0


# No "{" (page markers) and nothing UTF-8 cannot write (lone surrogates): anything else a text
# may hold.
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="{"),
                min_size=1, max_size=200).filter(lambda t: t.strip())
_TITLE = st.text(st.characters(codec="utf-8"), min_size=1, max_size=80).filter(
    lambda t: " ".join(t.split()) not in ("", "~", "null", "Null", "NULL"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(_TITLE, _TEXT), min_size=1, max_size=4))
def test_written_readings_load_back_with_the_same_text_and_title(
        texts: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory) -> None:
    docs = [Document(id=f"doc{i}", text=text, title=title)
            for i, (title, text) in enumerate(texts)]
    folder = write_readings(docs, tmp_path_factory.mktemp("readings") / "r")
    loaded = load_corpus(folder).documents
    assert [d.id for d in loaded] == [d.id for d in docs]
    for d, back in zip(docs, loaded, strict=True):
        # What is quoted is the loaded text: offsets index into it, so it must be the
        # document's own text as any reading's is normalised.
        assert back.text == normalise_text(d.text)
        assert back.title == " ".join(d.title.split())


def test_langchain_side_by_side_divides_langchains_figures_by_ours(tmp_path: Path) -> None:
    from types import SimpleNamespace

    canned = {"load_s": 1.0, "build_s": 30.0, "texts_per_s": 2.0, "search_ms": [8.0],
              "search_p50_ms": 8.0, "search_p95_ms": 9.0, "build_run_to_first_answer_s": 40.0,
              "save_s": 0.1, "store_mb": 0.1, "peak_rss_mib": 700.0, "versions": {},
              "hits": [[0]]}
    cold_run = {"cold_start_s": 9.0, "cold_start_from_spawn_s": 10.0, "peak_rss_mib": 300.0}
    python = tmp_path / "python"
    seen = tmp_path / "spec.json"
    # The build run, then the cold runs over its saved store (see langchain_side).
    python.write_text(f"#!{sys.executable}\nimport json, shutil, sys\n"
                      "if json.load(open(sys.argv[-1]))['mode'] == 'build':\n"
                      f"    shutil.copy(sys.argv[-1], {str(seen)!r})\n"
                      f"    print(json.dumps({canned!r}))\n"
                      f"else:\n    print(json.dumps({cold_run!r}))\n", encoding="utf-8")
    python.chmod(0o755)
    passages = [SimpleNamespace(retrieval_text=t) for t in ("Title\n\nOne.", "Title\n\nTwo.")]
    ask = {"reader_off": {"total": {"p50": 4.0}}, "reader_on": {"total": {"p50": 80.0}},
           "reader_off_alone": {"p50": 3.2, "p95": 4.0}}
    build = {"sampled": True, "seconds": 1.0, "full_build_seconds": 60.0}
    out = langchain_side_by_side(str(python), SimpleNamespace(passages=passages), ["Why?"],
                                 Settings(), build, ask, {"seconds_median": 2.0},
                                 lambda _m: None)
    spec = json.loads(seen.read_text(encoding="utf-8"))
    assert spec["texts"] == ["Title\n\nOne.", "Title\n\nTwo."] and spec["questions"] == ["Why?"]
    assert "search_ms" not in out and "hits" not in out  # per-question lists stay out
    assert out["ours_build_seconds"] == 60.0  # the whole build, not the timed sample
    assert out["langchain_over_ours"] == {"build": 0.5, "cold_start": 5.0,
                                          "ask_reader_off": 2.0, "ask_reader_on": 0.1,
                                          "ask_reader_off_alone": 2.5}
    with pytest.raises(BenchError, match="bundled"):
        langchain_side_by_side(str(python), SimpleNamespace(passages=passages), ["Why?"],
                               Settings(model="hash"), None, ask, {"seconds_median": 2.0},
                               lambda _m: None)


def test_asking_alone_times_every_question_in_a_process_of_its_own(
        tiny_corpus: Path, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from evals.bench import ask_alone
    from rag.pipeline import Pipeline

    settings = Settings.load(env={}, model="hash", corpus=str(tiny_corpus),
                             data_dir=str(tmp_path / "data"))
    Pipeline.open(settings, status=lambda _m: None, progress=False)  # the index to ask
    out = ask_alone(SimpleNamespace(settings=settings), ["How do bees make honey?",
                                                         "What is lava?"])
    assert set(out) == {"p50", "p95"} and 0 < out["p50"] <= out["p95"]
    broken = settings.replace(corpus=str(tmp_path / "missing"))
    with pytest.raises(BenchError, match="asking alone"):
        ask_alone(SimpleNamespace(settings=broken), ["What is lava?"])
