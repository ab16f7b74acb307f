"""Settings layers (defaults < calibration < TOML < RAG_* env < overrides) and validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.collection import DEFAULT_CORPUS_DIR
from index.chunking import SEGMENTATION_VERSION
from index.lexicon import LEXICON_VERSION
from index.modeltext import MODEL_TEXT_VERSION
from index.units import UNITS_VERSION
from rag.settings import CALIBRATION_FILE, Settings, SettingsError


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _calibrated(name: str) -> object:
    """The default of a field after the shipped calibration file (if any) is applied."""
    default = getattr(Settings(), name)
    if CALIBRATION_FILE.exists():
        cal = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
        return cal.get("settings", {}).get(name, default)
    return default


@pytest.fixture(autouse=True)
def _no_local_rag_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings.load reads ./rag.toml; run from an empty folder so a developer's file is ignored.
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def test_defaults_work_offline() -> None:
    s = Settings.load(env={})
    assert s.model == "all-MiniLM-L6-v2"
    assert Path(s.corpus) == DEFAULT_CORPUS_DIR
    assert (s.mode, s.k, s.max_chars) == ("hybrid", 5, 1000)
    assert s.abstain_threshold == _calibrated("abstain_threshold")
    assert s.confident_threshold == _calibrated("confident_threshold")
    assert s.abstain_threshold < s.confident_threshold < 1


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    config = _toml(tmp_path / "c.toml",
                   'mode = "bm25"\nk = 7\nrrf_k = 11\nmax_quotes = 2\nabstain_threshold = 0.7\n')
    env = {"RAG_CONFIG": str(config), "RAG_K": "8", "RAG_RRF_K": "12",
           "RAG_ABSTAIN_THRESHOLD": "0.8"}
    s = Settings.load(env=env, rrf_k=13, max_quotes=None)
    assert s.mode == "bm25"              # TOML over default
    assert s.max_quotes == 2             # None overrides are ignored
    assert s.k == 8                      # env over TOML
    assert s.rrf_k == 13                 # override over env
    assert s.abstain_threshold == 0.8    # env over TOML over calibration


def test_toml_overrides_calibration(tmp_path: Path) -> None:
    config = _toml(tmp_path / "c.toml", "abstain_threshold = 0.123\n")
    assert Settings.load(config=config, env={}).abstain_threshold == 0.123


def test_explicit_config_beats_rag_config_env(tmp_path: Path) -> None:
    a = _toml(tmp_path / "a.toml", "k = 3\n")
    b = _toml(tmp_path / "b.toml", "k = 4\n")
    assert Settings.load(config=a, env={"RAG_CONFIG": str(b)}).k == 3
    assert Settings.load(env={"RAG_CONFIG": str(b)}).k == 4


def test_rag_toml_in_working_folder_is_read(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    _toml(Path("rag.toml"), 'mode = "dense"\n')
    assert Settings.load(env={}).mode == "dense"
    other = _toml(tmp_path / "other.toml", 'mode = "bm25"\n')
    assert Settings.load(env={"RAG_CONFIG": str(other)}).mode == "bm25"


def test_env_strings_are_cast_to_field_types() -> None:
    s = Settings.load(env={"RAG_K": "12", "RAG_QUOTE_MARGIN": "0.25", "RAG_MODEL": "hash",
                           "RAG_CONTEXT_HEADERS": "off"})
    assert s.k == 12 and isinstance(s.k, int)
    assert s.quote_margin == 0.25
    assert s.model == "hash"
    assert s.index_settings() == {"max_chars": 1000, "context_headers": False,
                                  "segmentation": SEGMENTATION_VERSION,
                                  "units": UNITS_VERSION, "words": LEXICON_VERSION,
                                  "model_text": MODEL_TEXT_VERSION}


def test_load_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_MODE", "dense")
    assert Settings.load().mode == "dense"


@pytest.mark.parametrize("env, match", [
    ({"RAG_MODE": "psychic"}, "mode"),
    ({"RAG_K": "0"}, "k must be"),
    ({"RAG_K": "51"}, "k must be"),
    ({"RAG_K": "many"}, "k must be int"),
    ({"RAG_MAX_CHARS": "10"}, "max_chars"),
    ({"RAG_MAX_QUOTES": "11"}, "max_quotes"),
    ({"RAG_CONTEXT_HEADERS": "maybe"}, "context_headers"),
    ({"RAG_ABSTAIN_THRESHOLD": "high"}, "abstain_threshold must be float"),
])
def test_bad_env_values(env: dict[str, str], match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        Settings.load(env=env)


def test_bad_override_values() -> None:
    with pytest.raises(SettingsError, match="mode"):
        Settings.load(env={}, mode="psychic")
    with pytest.raises(SettingsError, match="k must be"):
        Settings.load(env={}, k=100)
    with pytest.raises(SettingsError, match="mode"):
        Settings.load(env={}).replace(mode="nope")


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        Settings.load(config=_toml(tmp_path / "u.toml", 'colour = "red"\n'), env={})
    with pytest.raises(SettingsError, match="cannot read config"):
        Settings.load(config=_toml(tmp_path / "b.toml", "k = = 3\n"), env={})
    with pytest.raises(SettingsError, match="cannot read config"):
        Settings.load(config=tmp_path / "missing.toml", env={})
    with pytest.raises(SettingsError, match="cannot read config"):
        Settings.load(env={"RAG_CONFIG": str(tmp_path / "missing.toml")})


def test_settings_error_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(config=_toml(tmp_path / "b.toml", "k = = 3\n"), env={})
    assert "\n" not in str(info.value)


def test_float_for_int_field_is_rejected_from_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="k"):
        Settings.load(config=_toml(tmp_path / "f.toml", "k = 2.7\n"), env={})


def test_index_path_differs_per_corpus_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "course-a", tmp_path / "course-b"
    a.mkdir()
    b.mkdir()
    data = tmp_path / "data"
    pa = Settings.load(env={}, corpus=str(a), data_dir=str(data)).index_path
    pb = Settings.load(env={}, corpus=str(b), data_dir=str(data)).index_path
    pd = Settings.load(env={}, data_dir=str(data)).index_path
    assert len({pa, pb, pd}) == 3
    assert pd == data / "indexes" / "default"
    assert pa.parent == pb.parent == data / "indexes"
    assert pa.name.startswith("course-a-")
    # The same folder named another way gets the same index.
    same = Settings.load(env={}, corpus=str(a / ".." / "course-a"), data_dir=str(data))
    assert same.index_path == pa
    # Another embedder gets its own beside it (a model path or hub name made safe).
    other = Settings.load(env={}, corpus=str(a), data_dir=str(data), model="org/m")
    assert other.index_path == pa.with_name(pa.name + "-org_m")


def test_explicit_index_and_data_dir(tmp_path: Path, data_dir: Path) -> None:
    assert Settings.load(env={}, index=str(tmp_path / "ix")).index_path == tmp_path / "ix"
    # Without data_dir, indexes live under $RAG_DATA_DIR (the autouse fixture sets it).
    assert Settings.load(env={}).index_path == data_dir / "indexes" / "default"
    # Each embedder has its own: switching models and back rebuilds nothing.
    assert (Settings.load(env={}, model="all-mpnet-base-v2").index_path
            == data_dir / "indexes" / "default-all-mpnet-base-v2")


def test_public_settings_have_no_paths(tmp_path: Path) -> None:
    s = Settings.load(env={}, corpus=str(tmp_path), index=str(tmp_path / "ix"))
    public = s.public()
    assert {"mode", "k", "model", "max_chars", "abstain_threshold"} <= set(public)
    assert str(tmp_path) not in json.dumps(public)


def test_each_model_gets_its_own_calibration(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.settings as rs

    default = tmp_path / "calibration.json"
    default.write_text(json.dumps({"settings": {"abstain_threshold": 0.02}}), encoding="utf-8")
    monkeypatch.setattr(rs, "CALIBRATION_FILE", default)
    own = rs.model_variant(default, "all-mpnet-base-v2")
    assert own.name == "calibration-all-mpnet-base-v2.json"
    assert rs.model_variant(default, "all-MiniLM-L6-v2") == default
    assert rs.model_variant(default, "org/some model").name == "calibration-org_some_model.json"
    # No file of its own yet: a model falls back to the bundled model's calibration.
    assert Settings.load(env={"RAG_MODEL": "all-mpnet-base-v2"}).abstain_threshold == 0.02
    own.write_text(json.dumps({"settings": {"abstain_threshold": 0.07}}), encoding="utf-8")
    assert Settings.load(env={"RAG_MODEL": "all-mpnet-base-v2"}).abstain_threshold == 0.07
    assert Settings.load(model="all-mpnet-base-v2").abstain_threshold == 0.07
    assert Settings.load(env={}).abstain_threshold == 0.02
    # Any layer above the calibration still wins over it.
    assert Settings.load(env={"RAG_MODEL": "all-mpnet-base-v2",
                              "RAG_ABSTAIN_THRESHOLD": "0.5"}).abstain_threshold == 0.5
