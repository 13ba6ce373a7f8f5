"""The contract every vector store keeps (``rag.store.backends.base.Backend``), run against each backend the registry
knows: the FAISS files of the index folder, and Milvus (a local milvus-lite store, the real engine). What a store is
given it gives back; its search is the exact one over the generation it serves (filtered too); a failed build leaves
the previous generation answering; an update's stale rows never come back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError, RagError
from rag.index import build_index
from rag.index.vectors import embedding_text
from rag.store import ann, backends
from rag.store.backends.base import Backend
from rag.store.lexical import LexicalIndex

STORES = ["faiss", pytest.param("milvus", marks=pytest.mark.slow)]
QUERIES = ["groupe-pays Russie création", "coopération décentralisée Ukraine", "jumelage ville Moscou", "aide humanitaire"]


@pytest.fixture(scope="module")
def milvus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("milvus") / "vectors.db"


@pytest.fixture(params=STORES)
def uri(request: pytest.FixtureRequest, milvus_db: Path) -> Iterator[str]:
    """A store address for each backend (one local Milvus store for the module: milvus-lite serves it to one process,
    and each index keeps its own collection in it)."""
    yield "faiss" if request.param == "faiss" else f"milvus://{milvus_db}"


def _exact(vectors: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    rows = np.arange(len(vectors)) if allowed is None else np.sort(allowed)
    scores = vectors[rows] @ q
    return [int(rows[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def test_the_registry_gives_the_backend_of_each_scheme(uri: str) -> None:
    record = backends.store_record(uri)
    backend = backends.backend_for(record)
    assert isinstance(backend, Backend) and backend.scheme == backends.scheme_of(uri)
    assert backends.address_problem(uri) is None


def test_what_a_store_is_given_it_gives_back(corpus_copy: Path, tmp_path: Path, uri: str) -> None:
    embedder = FakeEmbedder()
    build_index(corpus_copy, tmp_path / "i", embedder=embedder, store_uri=uri)
    full = store.load(tmp_path / "i")
    titles = {d.info.source: d.info.title for d in full.documents}
    expected = embedder.embed([embedding_text(titles[p.source], p.text) for p in full.passages], "passage")
    assert np.allclose(np.asarray(full.vectors), expected, atol=1e-6)
    sentences = [p.text[s:e] for p, spans in zip(full.passages, full.sentence_spans, strict=True) for s, e in spans]
    stored = np.asarray(full.sentence_vectors)
    assert stored.shape == (len(sentences), embedder.dim)
    assert np.array_equal(stored, embedder.embed(sentences, "passage").astype(np.float16).astype(np.float32))
    # Serving reads the same rows on demand, in any order.
    served = store.load(tmp_path / "i", with_vectors=False)
    rows = np.random.default_rng(0).choice(len(full.passages), 25, replace=False)
    assert np.array_equal(served.vectors[rows], np.asarray(full.vectors)[rows])
    lo, hi = served.sentence_spans.starts[rows], served.sentence_spans.starts[rows + 1]  # type: ignore[attr-defined]
    wanted = np.concatenate([stored[a:b] for a, b in zip(lo, hi, strict=True)])
    assert np.array_equal(served.sentence_vectors.ranges(lo, hi), wanted)


def test_its_search_is_the_exact_search_of_its_generation(corpus_copy: Path, tmp_path: Path, uri: str) -> None:
    embedder = FakeEmbedder()
    build_index(corpus_copy, tmp_path / "i", embedder=embedder, store_uri=uri)
    served = store.load(tmp_path / "i", with_vectors=False)
    vectors = np.asarray(store.load(tmp_path / "i").vectors)
    one_source = np.array([i for i, p in enumerate(served.passages) if p.source == served.passages[0].source])
    for text in QUERIES:
        q = embedder.embed([text], "query")[0]
        scores, ids = ann.search(served.faiss_index, q, 10)
        assert ids.tolist() == _exact(vectors, q, 10)
        assert np.allclose(scores, vectors[ids] @ q, atol=1e-5)
        _, ids = ann.search(served.faiss_index, q, 5, one_source)
        assert ids.tolist() == _exact(vectors, q, 5, one_source)


def test_a_failed_build_leaves_the_previous_generation_and_its_rows_never_come_back(
    corpus_copy: Path, tmp_path: Path, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = FakeEmbedder()
    index = tmp_path / "i"
    build_index(corpus_copy, index, embedder=embedder, store_uri=uri)
    before = store.load(index, with_vectors=False)
    q = embedder.embed(["Donetsk Kherson référendum annexion"], "query")[0]
    answer = ann.search(before.faiss_index, q, 10)[1].tolist()
    # An update that fails after the store has written the new passages' vectors (while saving BM25).
    new = corpus_copy / "nouveau.txt"
    new.write_text("\n\n".join(f"Donetsk Kherson référendum annexion, paragraphe {i}." * 3 for i in range(4)), "utf-8")

    def fail(self: LexicalIndex, path: Path) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(LexicalIndex, "save", fail)
    with pytest.raises(OSError, match="disk gone"):
        build_index(corpus_copy, index, embedder=embedder)
    monkeypatch.undo()
    after = store.load(index, with_vectors=False)
    assert after.manifest["generation"] == before.manifest["generation"]
    assert ann.search(after.faiss_index, q, 10)[1].tolist() == answer  # the killed build's rows are invisible
    # The next build commits; then removing the document removes its rows from every search.
    build_index(corpus_copy, index, embedder=embedder)
    served = store.load(index, with_vectors=False)
    assert served.passages[int(ann.search(served.faiss_index, q, 1)[1][0])].source == "nouveau.txt"
    new.unlink()
    build_index(corpus_copy, index, embedder=embedder)
    served = store.load(index, with_vectors=False)
    assert ann.search(served.faiss_index, q, 10)[1].tolist() == answer
    assert len(list(index.glob("gen-*"))) == 1


def test_unknown_or_malformed_addresses_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    for uri, expected in (
        ("qdrant://x", "unknown store 'qdrant://x': use faiss"),
        ("milvus://relative/x.db", "milvus:///path/to/vectors.db"),
        ("faiss://x", "the FAISS files store is named .faiss."),
    ):
        with pytest.raises(BadInputError, match=expected):
            build_index(tmp_path / "nothing-read", tmp_path / "i", embedder=FakeEmbedder(), store_uri=uri)
    with pytest.raises(RagError, match="unknown store"):
        backends.backend_for({"backend": "qdrant"})


def test_a_registered_backend_is_chosen_by_its_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.store.backends.faiss_files import FaissFiles

    class Other(FaissFiles):
        scheme = "other"
        address = "other://NAME"

        @classmethod
        def check_address(cls, uri: str) -> None:
            if not uri.startswith("other://") or len(uri) == len("other://"):
                raise ValueError("an other store is other://NAME")

        @classmethod
        def new_record(cls, uri: str, previous: dict[str, object] | None) -> dict[str, object]:
            return {"backend": "other", "uri": uri}

    monkeypatch.setitem(backends.BACKENDS, "other", backends.Registered(lambda: Other))
    assert backends.store_record("other://x") == {"backend": "other", "uri": "other://x"}
    assert type(backends.backend_for({"backend": "other", "uri": "other://x"})) is Other
    assert backends.address_problem("other://") == "an other store is other://NAME"
    assert "other://NAME" in str(backends.address_problem("nope://x"))
