"""The collection survives a kill -9 at any moment of a change (add, describe, replace, remove, restore).

Each change runs in a child process (the web app's ``Library``, fake embedder) that announces every fsync, rename,
replace, unlink and rmdir before making it; the test sends SIGKILL before one of them. The app then opens the
collection again (which finishes or undoes the change it finds pending) and the test checks that:

- the index answers exactly as before the change or exactly as after it (documents with their text and details,
  passages, the hits of fixed questions), never a mixture;
- the uploads folder agrees with the index (one file a document, with its content; the catalogue gives each its
  details), no change is left pending and no half-written file is left;
- no file is lost: every content ever given to the app is in the uploads folder or in its trash, and the trash holds
  what it held before the change, or what it holds after it (an upload that was not added goes there as well);
- the change then completes (run again when it was undone) and reaches the state after it.

The fast suite kills each change once, at a random step; the slow one at every step of a replacement, and at a
spread of seven or eight steps of the others.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.ingest.load import load_catalog
from rag.retrieve.retriever import Retriever
from ui.collection import HISTORY, PENDING, RECORD, TRASH
from ui.library import Library

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["jumelage Trouville Zelenograd", "écoles de musique", "référendums OTAN", "coopération décentralisée"]
TEXTS = {
    "a.md": "# Jumelage Trouville – Zelenograd\n\nLe jumelage entre Trouville et Zelenograd a été signé en 1994.\n",
    "a2.md": "# Jumelage Trouville – Zelenograd\n\nLe jumelage entre Trouville et Zelenograd a été signé en 1995. Corrigé.\n",
    "b.txt": "Écoles de musique\n\nLes écoles de musique de Kerlouan et de Berdytchiv échangent leurs élèves chaque été.\n",
    "c.html": "<html><head><title>Chauffage urbain</title></head><body><p>Izioum reconstruit son chauffage urbain avec "
    "Pontarlier depuis 2023.</p></body></html>",
    "c.txt": "Chauffage urbain\n\nIzioum et Pontarlier reconstruisent ensemble le chauffage urbain, depuis 2023.\n",
}


def change_of(name: str) -> Callable[[Library, Path], object]:
    """The change ``name`` run on a library; ``given`` is the folder of the files the visitor gives."""
    changes: dict[str, Callable[[Library, Path], object]] = {
        "add": lambda lib, given: lib.add_document(given / "c.html", details={"date": "2023", "author": "Izioum"}, user="ana"),
        "describe": lambda lib, given: lib.describe("a.md", {"title": "Convention Trouville", "date": "1994-03-12"}, user="ben"),
        "replace": lambda lib, given: lib.replace_document("a.md", given / "a2.md", user="cléo"),
        "replace_format": lambda lib, given: lib.replace_document("c.html", given / "c.txt", user="dan"),
        "remove": lambda lib, given: lib.remove_document("b.txt", user="eva"),
        "restore": lambda lib, given: lib.restore(next(i.id for i in lib.trash() if i.source == "b.txt"), user="fil"),
    }
    return changes[name]


# In order: each change starts from the state the previous ones left.
SEQUENCE = ["add", "describe", "replace", "replace_format", "remove", "restore"]

RUNNER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from rag.embed.fake import FakeEmbedder
    from rag.retrieve.retriever import Retriever
    from tests.test_collection_faults import change_of
    from ui.library import Library

    index, uploads, given, name = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
    library = Library(index, uploads, Retriever.load(index, embedder=FakeEmbedder()))

    def announced(real):
        def call(*args, **kwargs):
            sys.stdout.write("step\\n")
            sys.stdout.flush()
            time.sleep(0.003)
            return real(*args, **kwargs)
        return call

    for attr in ("fsync", "replace", "rename", "unlink", "rmdir"):
        setattr(os, attr, announced(getattr(os, attr)))
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    change_of(name)(library, given)
    sys.stdout.write("done\\n")
    sys.stdout.flush()
    """
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_state(index: Path) -> dict[str, Any]:
    """What the index holds and answers."""
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    return {
        "documents": {d.info.source: (d.sha256, d.info.title, d.info.date, d.info.author) for d in retriever.data.documents},
        "passages": [p.id for p in retriever.data.passages],
        "answers": [[(h.id, round(h.score, 5)) for h in retriever.search(q, k=4)] for q in QUESTIONS],
    }


def trash_state(uploads: Path) -> Counter[tuple[str, str, str]]:
    """The trash as (name, content hash, why) of each item (item names are drawn at random: not compared)."""
    items: Counter[tuple[str, str, str]] = Counter()
    for record in (uploads / TRASH).glob(f"*/{RECORD}"):
        item = json.loads(record.read_text(encoding="utf-8"))
        file = record.parent / item["source"]
        assert file.is_file() and sha(file.read_bytes()) == item["sha256"], f"trash item {record.parent.name} lost its file"
        items[(item["source"], item["sha256"], item["why"])] += 1
    return items


def contents(uploads: Path) -> set[str]:
    """The hashes of every file of the uploads folder and its trash."""
    return {sha(p.read_bytes()) for p in uploads.rglob("*") if p.is_file() and p.name not in (RECORD, HISTORY, "catalog.toml")}


def check_consistent(index: Path, uploads: Path) -> None:
    """The uploads folder agrees with the index; nothing pending, nothing half-written."""
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    here = str(uploads.resolve())
    added = {s for s, e in manifest["documents"].items() if e.get("folder") == here}
    on_disk = {p.name for p in uploads.iterdir() if p.is_file()} - {"catalog.toml", HISTORY}
    assert on_disk == added, "the uploads folder holds other files than the index's documents"
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    catalog = load_catalog(uploads)
    for source in added:
        document = retriever.document(source)
        assert sha((uploads / source).read_bytes()) == document.sha256, source
        entry = catalog[source]
        assert (entry.get("title", ""), entry.get("date", ""), entry.get("author", "")) == (
            document.info.title, document.info.date, document.info.author,
        ), source  # fmt: skip
    assert set(catalog) == added
    assert not (uploads / PENDING).exists()


@dataclass
class Stage:
    """The collection before one change: a saved copy of its folders (restored in place before each run: the index
    records where the uploads folder is), and what it holds after the change."""

    name: str
    base: Path
    snapshot: Path
    before: dict[str, Any]
    after: dict[str, Any]
    trash_before: Counter[tuple[str, str, str]]
    trash_after: Counter[tuple[str, str, str]]
    steps: int = 0


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    """The sequence run once without faults, the folders saved before each change."""
    base = tmp_path_factory.mktemp("collection")
    corpus, index, uploads, given = base / "corpus", base / "index", base / "uploads", base / "given"
    shutil.copytree(ROOT / "corpus", corpus)
    given.mkdir()
    for name, text in TEXTS.items():
        (given / name).write_text(text, encoding="utf-8")
    build_index(corpus, index, embedder=FakeEmbedder())
    library = Library(index, uploads, Retriever.load(index, embedder=FakeEmbedder()))
    library.add_document(given / "a.md", user="ana")
    library.add_document(given / "b.txt", details={"author": "Kerlouan"}, user="ana")
    out: dict[str, Stage] = {}
    for name in SEQUENCE:
        snapshot = base.parent / f"{base.name}-before-{name}"
        shutil.copytree(base, snapshot)
        before, trash_before = index_state(index), trash_state(uploads)
        change_of(name)(library, given)
        check_consistent(index, uploads)
        out[name] = Stage(name, base, snapshot, before, index_state(index), trash_before, trash_state(uploads))
        assert out[name].after != before, name
    (base.parent / "runner.py").write_text(RUNNER, encoding="utf-8")
    for stage in out.values():  # how many steps each change takes, counted as the child announces them
        work = fresh(stage)
        proc = subprocess.run(child(work, stage.name), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and proc.stdout.endswith("done\n"), proc.stderr
        stage.steps = proc.stdout.count("step\n")
        assert index_state(work / "index") == stage.after
    return out


def fresh(stage: Stage) -> Path:
    """The folders as they were before the change, where they were."""
    shutil.rmtree(stage.base)
    shutil.copytree(stage.snapshot, stage.base)
    return stage.base


def child(work: Path, name: str) -> list[str]:
    runner = work.parent / "runner.py"
    return [sys.executable, str(runner), str(ROOT), str(work / "index"), str(work / "uploads"), str(work / "given"), name]


def kill_at(stage: Stage, step: int) -> str:
    """Run the change, SIGKILL it before its ``step``-th announced call, open the collection again, check; which
    state it is in ("before" or "after")."""
    work = fresh(stage)
    held = contents(work / "uploads")  # every file the collection holds, in the uploads folder or its trash
    proc = subprocess.Popen(child(work, stage.name), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.communicate()
    seen = 0
    for line in proc.stdout:
        seen += line == "step\n"
        if seen >= step or line == "done\n":
            break
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGKILL), err
    where = f"{stage.name} killed before step {step}/{stage.steps}"

    library = Library(work / "index", work / "uploads", Retriever.load(work / "index", embedder=FakeEmbedder()))
    now = index_state(work / "index")
    assert now in (stage.before, stage.after), f"{where}: the index is neither the state before nor the one after"
    state = "after" if now == stage.after else "before"
    check_consistent(work / "index", work / "uploads")
    trash = trash_state(work / "uploads")
    expected = stage.trash_after if state == "after" else stage.trash_before
    interrupted = Counter({k: v for k, v in (trash - expected).items() if k[2] == "interrupted"})
    assert trash - interrupted == expected, f"{where}: the trash holds {trash}, not {expected}"
    assert sum(interrupted.values()) <= 1 and (not interrupted or state == "before"), where
    assert held <= contents(work / "uploads"), f"{where}: files lost"
    assert not list((work / "uploads").glob(".*.tmp")), f"{where}: a half-written file is left"
    if state == "before":  # undone: the change can be made again, and gets where it would have
        change_of(stage.name)(library, work / "given")
        assert index_state(work / "index") == stage.after, where
        check_consistent(work / "index", work / "uploads")
    return state


def test_the_collection_survives_a_kill_during_each_change(stages: dict[str, Stage]) -> None:
    rng = random.Random(25)
    states = [kill_at(stage, rng.randint(1, stage.steps)) for stage in stages.values()]
    print("kill -9 during each change:", dict(zip(stages, states, strict=True)), {n: s.steps for n, s in stages.items()})


@pytest.mark.slow
def test_the_collection_survives_a_kill_at_every_step_of_a_replacement(stages: dict[str, Stage]) -> None:
    # Every step of a replacement (it takes the old version out as a removal does, and indexes the new one as an
    # addition does, through the same journal: ~75 steps, 4 minutes here); seven or eight steps of each other change,
    # spread from the first to the last.
    seen: dict[str, Counter[str]] = {}
    for name, stage in stages.items():
        every = name == "replace"
        spread = range(1, stage.steps + 1, max(1, stage.steps // 6))
        steps = range(1, stage.steps + 1) if every else sorted({1, stage.steps, *spread})
        seen[name] = Counter(kill_at(stage, step) for step in steps)
    print("kill -9 at these steps ended before/after:", seen)
    for name, counts in seen.items():
        assert counts["before"] and counts["after"], (name, counts)  # kills landed on both sides of the commit
