"""The index folder: rag deletes only what it provably wrote, refuses folders of other files (the corpus above all),
and a reader never sees a build's commit as damage."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag import store
from rag.cli import main
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError, IndexMissingError, RagError
from rag.index import build_index
from rag.retrieve.retriever import Retriever
from tests.helpers import downgrade

ROOT = Path(__file__).resolve().parent.parent


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) with a hash of its content."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def user_files(folder: Path) -> dict[str, str]:
    """Files a user keeps in ``folder``, named like rag's data files of every format (the case of the bug report)."""
    files = {
        "documents-notes.txt": "notes\n",
        "bm25-runs/a.csv": "r\n",
        "vectors-1234abcd.npy": "not a rag file\n",
        "gen-notes/plan.md": "# plan\n",
        "gen-abc123/x.txt": "a folder named like a generation, but no journal names it\n",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}


def one_line_error(err: str) -> str:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rag: error: "), err
    return lines[0]


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(
    corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = user_files(out)
    assert main(["-q", "index", str(corpus_copy), "--index", str(out)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert str(out) in line and "new or empty folder" in line, line
    assert snapshot(out) == mine  # nothing deleted, nothing added (not even a lock file)
    with pytest.raises(BadInputError, match="not a rag index"):
        build_index(corpus_copy, out, embedder=FakeEmbedder())
    assert snapshot(out) == mine


@pytest.mark.parametrize("where", ["the corpus", "inside the corpus", "holding the corpus"])
def test_the_corpus_folder_is_never_an_index_folder(
    corpus_copy: Path, capsys: pytest.CaptureFixture[str], fake_models: None, where: str
) -> None:
    # Documents named like rag's data files (the bug report: `rag index corpus/ --index corpus` deleted them).
    (corpus_copy / "documents-2024-rapport.txt").write_text("Rapport annuel de coopération.\n", "utf-8")
    (corpus_copy / "vectors-et-valeurs.md").write_text("# Vecteurs et valeurs\n\nUne note.\n", "utf-8")
    index = {"the corpus": corpus_copy, "inside the corpus": corpus_copy / "index", "holding the corpus": corpus_copy.parent}
    before = snapshot(corpus_copy)
    assert main(["-q", "index", str(corpus_copy), "--index", str(index[where])]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "corpus" in line and "outside the corpus" in line, line
    assert snapshot(corpus_copy) == before and not (corpus_copy / "index").exists()


def test_a_missing_index_never_suggests_indexing_into_the_corpus(
    corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    corpus = corpus_copy.name  # the command as a user types it, in the folder that holds the corpus
    before = snapshot(corpus_copy)
    assert main(["ask", "référendums", "--index", corpus]) == 1
    line = one_line_error(capsys.readouterr().err)
    suggested = re.search(r"`(rag index [^`]*)`", line)
    assert suggested, line
    argv = suggested.group(1).split()[1:]
    assert argv[argv.index("--index") + 1] != corpus, line
    assert main(["-q", *argv]) == 0  # the suggestion works, and leaves the documents alone
    capsys.readouterr()
    assert snapshot(corpus_copy) == before
    assert main(["ask", "référendums", "--index", argv[argv.index("--index") + 1]]) == 0
    # An empty or new folder: the usual suggestion.
    with pytest.raises(IndexMissingError, match=r"`rag index corpus/ --index .*nowhere`"):
        Retriever.load(tmp_path / "nowhere", embedder=FakeEmbedder())


def test_files_next_to_an_index_are_never_deleted(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    mine = user_files(index)
    for change in range(2):
        (corpus_copy / f"nouveau-{change}.txt").write_text(f"Une note nouvelle numéro {change} sur le jumelage.\n", "utf-8")
        build_index(corpus_copy, index, embedder=FakeEmbedder())
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    assert {name: digest for name, digest in snapshot(index).items() if name in mine} == mine
    owned = {p.name for p in index.iterdir()} - {n.split("/")[0] for n in mine}
    assert owned == {store.MANIFEST, store.LOCK, store.JOURNAL, manifest["generation"]}


def test_rebuilding_a_format_2_index_removes_its_files_and_nothing_else(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    downgrade(index, 2)
    old_files = set(json.loads((index / store.MANIFEST).read_text("utf-8"))["files"].values())
    assert all((index / name).exists() for name in old_files)
    mine = user_files(index)
    embedder = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=embedder)
    # Its vectors are reused; only the calibration questions are embedded (format 2 had none).
    assert report.embedded == 0 and embedder.texts_embedded == report.calibration_embedded > 0
    manifest = store.read_manifest(index)
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert not any((index / name).exists() for name in old_files)
    assert {name: digest for name, digest in snapshot(index).items() if name in mine} == mine
    assert json.loads((index / store.JOURNAL).read_text("utf-8"))["generations"] == [manifest["generation"]]


def test_an_index_of_a_killed_first_build_can_be_rebuilt(corpus_copy: Path, tmp_path: Path) -> None:
    """Only rag's files (lock, journal, the generation it names): rag's folder, though there is no manifest yet."""
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    (index / store.MANIFEST).unlink()
    with pytest.raises(IndexMissingError, match=r"`rag index corpus/ --index "):
        Retriever.load(index, embedder=FakeEmbedder())
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert Retriever.load(index, embedder=FakeEmbedder()).search("référendums", k=1)


BUILDER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from rag.index import build_index
    from rag.embed.fake import FakeEmbedder

    for n in range(int(sys.argv[4])):
        build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder())
        print("committed", flush=True)
    """
)


def test_loading_while_builds_commit_never_fails(corpus_copy: Path, tmp_path: Path) -> None:
    """A real build loop (a subprocess) and a loader loop: every load reads one whole generation, no false alarm."""
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    expected = len(store.load(index, with_vectors=False).passages)
    runner = tmp_path / "builder.py"
    runner.write_text(BUILDER, encoding="utf-8")
    builder = subprocess.Popen(
        [sys.executable, str(runner), str(corpus_copy), str(index), str(ROOT), "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    loads, failures, generations = 0, [], set()
    deadline = time.monotonic() + 300
    while builder.poll() is None and time.monotonic() < deadline:
        try:
            data = store.load(index, with_vectors=False)
        except RagError as exc:
            failures.append(str(exc))
            continue
        loads += 1
        generations.add(data.manifest["generation"])
        assert len(data.passages) == expected and len(data.sentence_vectors) == int(data.sentence_spans.starts[-1])
    out, err = builder.communicate(timeout=60)
    assert builder.returncode == 0, err
    print(f"{loads} loads over {out.count('committed')} commits, {len(generations)} generations seen")
    assert not failures, f"{len(failures)} of {loads + len(failures)} loads failed: {failures[:3]}"
    assert loads >= 40 and len(generations) >= 10


def test_a_copied_index_folder_keeps_working(corpus_copy: Path, tmp_path: Path) -> None:
    """Nothing in an index is tied to its folder's absolute path: a copy loads and rebuilds."""
    build_index(corpus_copy, tmp_path / "index", embedder=FakeEmbedder())
    shutil.copytree(tmp_path / "index", tmp_path / "copy")
    build_index(corpus_copy, tmp_path / "copy", embedder=FakeEmbedder())
    assert Retriever.load(tmp_path / "copy", embedder=FakeEmbedder()).search("référendums", k=1)
    assert Retriever.load(tmp_path / "index", embedder=FakeEmbedder()).search("référendums", k=1)
