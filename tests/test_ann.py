"""rag.store.ann: every index kind finds exact neighbours on easy data; filtered search is exact; threads are restored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.store import ann


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ann.KINDS)
def test_each_kind_finds_the_vector_itself_and_survives_write_read(kind: str, tmp_path: Path) -> None:
    x = _unit(3000)
    index = ann.build(x, kind)
    ann.write(index, str(tmp_path / "i.index"))
    for loaded in (index, ann.read(str(tmp_path / "i.index"))):
        scores, ids = ann.search(loaded, x[42], 5)
        assert ids[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ann.KINDS)
def test_filtered_search_is_exact_within_the_allowed_rows(kind: str) -> None:
    x = _unit(3000)
    allowed = np.arange(0, 3000, 7, dtype=np.int64)
    _, ids = ann.search(ann.build(x, kind), x[5], 10, allowed)
    expected = allowed[np.argsort(-(x[allowed] @ x[5]), kind="stable")[:10]]
    assert ids.tolist() == expected.tolist()


def test_auto_switches_at_the_threshold_and_unknown_kinds_fail() -> None:
    assert ann.choose_kind(ann.APPROX_THRESHOLD - 1) == "flat"
    assert ann.choose_kind(ann.APPROX_THRESHOLD) == "hnsw"
    with pytest.raises(ValueError):
        ann.choose_kind(10, "pq")


def test_search_restores_the_thread_setting() -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    ann.search(ann.build(_unit(100), "flat"), _unit(1)[0], 3)
    assert faiss.omp_get_max_threads() == before
