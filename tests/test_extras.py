"""Optional extras: a command whose extra is missing says in one line which one to install (the core install has
neither gradio nor matplotlib; see pyproject.toml)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import pytest

from rag.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``importlib.util.find_spec`` report the given top-level packages as not installed."""

    def hide(*names: str) -> None:
        real = importlib.util.find_spec

        def find_spec(name: str, package: str | None = None) -> Any:
            return None if name.split(".")[0] in names else real(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return hide


def test_serve_without_the_web_extra_says_which_to_install(without: Any, capsys: pytest.CaptureFixture[str]) -> None:
    without("gradio")
    assert main(["serve", "--index", "nowhere"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`rag serve` needs the web extra: pip install 'rag[web]'" in err


def test_eval_without_the_eval_extra_says_which_to_install(
    without: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without("matplotlib")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "q", "question": "Qui ?", "lang": "fr", "answers": []}\n', encoding="utf-8")
    assert main(["eval", str(questions), "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'rag[eval]'" in err


def test_the_core_install_has_neither_gradio_nor_matplotlib() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    assert "gradio" not in core and "matplotlib" not in core
    extras = project["optional-dependencies"]
    assert any(d.startswith("gradio") for d in extras["web"]) and any(d.startswith("matplotlib") for d in extras["eval"])


def test_index_on_ray_or_milvus_without_their_extras_says_which_to_install(
    without: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without("ray", "pymilvus")
    for flags, extra in ((["--executor", "ray"], "ray"), (["--store", "milvus://127.0.0.1:19530"], "milvus")):
        assert main(["index", str(ROOT / "corpus"), "--index", str(tmp_path / "i"), *flags]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"pip install 'rag[{extra}]'" in err
    assert not (tmp_path / "i").exists()  # nothing was read or written


def test_asking_an_index_kept_in_milvus_without_the_extra_says_which_to_install(
    without: Any, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from rag import store

    assert main(["-q", "index", str(ROOT / "corpus"), "--index", str(tmp_path / "i")]) == 0
    manifest = json.loads((tmp_path / "i" / store.MANIFEST).read_text("utf-8"))
    manifest["store"] = {"backend": "milvus", "uri": "milvus://127.0.0.1:19530", "collection": "rag_x"}
    (tmp_path / "i" / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")
    capsys.readouterr()
    without("pymilvus")
    assert main(["ask", "Russie", "--index", str(tmp_path / "i")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'rag[milvus]'" in err


def test_the_core_install_has_neither_ray_nor_milvus() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    assert "ray" not in core and "milvus" not in core
    extras = project["optional-dependencies"]
    assert any(d.startswith("ray") for d in extras["ray"]) and any(d.startswith("pymilvus") for d in extras["milvus"])
