"""Errors that mean what they say: a bug is never reported as a damaged index (a user would rebuild an index that was
fine, and the bug would stay hidden). Only the signs of damage (a missing file, a size or checksum that does not
match, an unparsable file no checksum vouches for) are "damaged"; anything else is an internal error: one line
asking for a report, the traceback with --debug."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import EXIT_INTERNAL, main
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.retrieve.retriever import Retriever

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def index(tmp_path: Path) -> Path:
    build_index(ROOT / "corpus", tmp_path / "index", embedder=FakeEmbedder())
    return tmp_path / "index"


def bug(*args: object, **kwargs: object) -> None:
    raise TypeError("__init__() got an unexpected keyword argument 'paragraph'")  # a field renamed in the code


def one_line(err: str) -> str:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "where", ["rag.store.directory.Passage", "rag.store.lexical.LexicalIndex.load", "rag.store.directory.SpanTable"]
)
def test_a_bug_while_loading_is_an_internal_error(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_models: None, where: str
) -> None:
    monkeypatch.setattr(where, bug)
    assert main(["ask", "Russie", "--index", str(index)]) == EXIT_INTERNAL
    line = one_line(capsys.readouterr().err)
    assert line.startswith("rag: error: internal error (TypeError: ") and "please report" in line and "--debug" in line
    assert "damaged" not in line and "rag index" not in line
    with pytest.raises(TypeError, match="unexpected keyword"):  # --debug: the exception itself, with its traceback
        main(["--debug", "ask", "Russie", "--index", str(index)])


def test_a_bug_while_reusing_vectors_keeps_the_index(
    index: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    before = [h.id for h in Retriever.load(index, embedder=FakeEmbedder()).search("Russie", k=3)]
    monkeypatch.setattr("rag.index.reuse._reuse", bug)
    assert main(["-q", "index", str(ROOT / "corpus"), "--index", str(index)]) == EXIT_INTERNAL
    line = one_line(capsys.readouterr().err)
    assert "internal error" in line and "previous index" in line and "unchanged" in line and "damaged" not in line
    assert [h.id for h in Retriever.load(index, embedder=FakeEmbedder()).search("Russie", k=3)] == before


def test_damage_is_still_damage(index: Path, capsys: pytest.CaptureFixture[str], fake_models: None) -> None:
    """The other side: a passages file cut short is reported as damaged, naming the file, with the fix."""
    passages = next(index.glob("gen-*/passages.jsonl"))
    passages.write_bytes(passages.read_bytes()[:-10])
    assert main(["ask", "Russie", "--index", str(index)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "passages.jsonl is damaged" in line and "rag index" in line


def test_debug_prints_the_traceback_in_a_real_process(index: Path, tmp_path: Path) -> None:
    """The command as a user runs it: without --debug one line, with it Python's traceback."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import rag.embed, rag.store.lexical\n"
        "from rag.embed.fake import FakeEmbedder\n"
        "from rag.cli import main\n"
        "rag.embed.register_embedder('fake', lambda a: FakeEmbedder())\n"
        "def bug(*a, **k):\n    raise KeyError('a bug')\n"
        "rag.store.lexical.LexicalIndex.load = bug\n"
        "sys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    shutil.copytree(index, tmp_path / "i")
    for debug in (False, True):
        argv = [sys.executable, str(script), *(["--debug"] if debug else []), "docs", "--index", str(tmp_path / "i")]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert run.returncode == (1 if debug else EXIT_INTERNAL), run.stderr
        if debug:
            assert "Traceback (most recent call last)" in run.stderr and "KeyError: 'a bug'" in run.stderr
        else:
            assert one_line(run.stderr).startswith("rag: error: internal error (KeyError: 'a bug')")


def test_a_bug_while_comparing_reports_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two well-formed reports, and a bug in the comparison: not "not a report.json" (the files are fine)."""
    report = tmp_path / "report.json"
    report.write_text('{"metrics": {"overall": {"mrr@10": 0.5}}, "questions": [{"id": "q1", "rank": 1}]}', "utf-8")
    monkeypatch.setattr("rag.evaluation.report.compare_reports", bug)
    assert main(["eval", "--compare", str(report), str(report)]) == EXIT_INTERNAL
    line = one_line(capsys.readouterr().err)
    assert line.startswith("rag: error: internal error (TypeError: ") and "report.json" not in line


def test_a_librarys_logged_traceback_is_shown_with_debug_only(index: Path, tmp_path: Path) -> None:
    """A library that logs an error with its traceback (as milvus-lite does): one line, the traceback with --debug."""
    script = tmp_path / "run.py"
    script.write_text(
        "import logging, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import rag.embed, rag.store.lexical\n"
        "from rag.embed.fake import FakeEmbedder\n"
        "from rag.cli import main\n"
        "rag.embed.register_embedder('fake', lambda a: FakeEmbedder())\n"
        "load = rag.store.lexical.LexicalIndex.load\n"
        "def logged(*a, **k):\n"
        "    try:\n        raise OSError('the library failed')\n"
        "    except OSError:\n        logging.getLogger('somelib').error('somelib could not do it', exc_info=True)\n"
        "    return load(*a, **k)\n"
        "rag.store.lexical.LexicalIndex.load = logged\n"
        "sys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    for debug in (False, True):
        argv = [sys.executable, str(script), *(["--debug"] if debug else []), "docs", "--index", str(index)]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        if debug:
            assert "rag: error: somelib could not do it\nTraceback (most recent call last)" in run.stderr, run.stderr
        else:
            assert one_line(run.stderr) == "rag: error: somelib could not do it"
