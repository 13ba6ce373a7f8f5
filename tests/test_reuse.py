"""A rebuild reuses every intact vector, whatever else of the previous index is damaged or missing (rag.index.reuse).

Each file of a generation is truncated, has bytes flipped, or is deleted (and the manifest deleted, or damaged),
then `rag index` runs again: when every vector file is intact, nothing is embedded again (the passages, sentences,
calibration questions and second opinion's vectors come from the vector files' records and keys, or from the
manifest and the texts); when a vector file is damaged, only its damaged rows are embedded again (passage vectors
come from the FAISS index instead). The rebuilt index is always the one a fresh build gives, and `rag verify` names
each damaged file before the rebuild.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.cli import main
from rag.embed import Embedder, Kind, Vectors
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.store import directory
from rag.store.verify import verify

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ["2022-09-23_otan_referendums-ukraine.txt", "cuf_groupe-pays-russie.txt", "2022-02-24_cuf_solidarite-ukraine.txt"]


class SecondOpinion(FakeEmbedder):
    """A second opinion of the tests' own (the default model's is USE): another model, another id. Counts the passages
    it embeds (calibration also asks it the calibration questions, whose vectors ship with USE and are not stored)."""

    id = "fake-second-64"
    spec = "fake-second"

    def __init__(self) -> None:
        super().__init__()
        self.passages = 0

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        self.passages += len(texts) if kind == "passage" else 0
        return super().embed_batch(texts, kind)


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeEmbedder]:
    """The embedder and the second opinion of the next build, fresh, so that what each embeds can be counted."""
    made: dict[str, FakeEmbedder] = {"main": FakeEmbedder(), "second": SecondOpinion()}

    def second_opinion_for(embedder: Embedder) -> Embedder:
        return made["second"]

    monkeypatch.setattr("rag.index.build.second_opinion_for", second_opinion_for)
    return made


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in CORPUS:
        shutil.copy(ROOT / "corpus" / name, folder / name)
    return folder


def rebuild(corpus: Path, index: Path, models: dict[str, FakeEmbedder]) -> tuple[int, int, int]:
    """`build_index` again with fresh models: texts embedded by the embedder, the second opinion, and the report's
    count of those embedded because their stored vectors were damaged."""
    models["main"], models["second"] = FakeEmbedder(), SecondOpinion()
    report = build_index(corpus, index, embedder=models["main"])
    assert report.embedded + report.calibration_embedded == models["main"].texts_embedded
    assert report.second_embedded == models["second"].passages
    return models["main"].texts_embedded, models["second"].passages, report.damaged_embedded


def contents(index: Path) -> dict[str, object]:
    """What an index holds, exactly: passages, every vector (each kind), the calibration."""
    data = store.load(index)
    manifest = data.manifest
    return {
        "passages": [p.to_dict() for p in data.passages],
        "vectors": np.asarray(data.vectors).tobytes(),
        "sentences": np.asarray(data.sentence_vectors).tobytes(),
        "second": np.asarray(data.second_vectors).tobytes(),
        "questions": np.asarray(data.null_vectors).tobytes(),
        "calibration": manifest["calibration"],
    }


@pytest.fixture
def built(corpus: Path, tmp_path: Path, models: dict[str, FakeEmbedder]) -> tuple[Path, dict[str, object]]:
    index = tmp_path / "built"
    build_index(corpus, index, embedder=models["main"])
    assert models["second"].passages > 0  # the second opinion's vectors are part of the index
    fresh = tmp_path / "fresh"
    shutil.copytree(index, fresh)
    return index, contents(fresh)


def generation_files(index: Path) -> list[Path]:
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    return sorted(p for p in (index / manifest["generation"]).rglob("*") if p.is_file())


VECTOR_FILES = set(directory.VECTOR_FILES.values())


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for at in range(len(data) // 3, len(data), max(1, len(data) // 3)):  # a few bytes, beyond the header
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "flipped": flip,
    "deleted": lambda p: p.unlink(),
}


def verify_command(index: Path, capsys: pytest.CaptureFixture[str]) -> list[Path]:
    """`rag verify --index INDEX` as a user runs it: exit code 1, one error line, and the files its lines name."""
    capsys.readouterr()
    assert main(["verify", "--index", str(index)]) == 1
    out, err = capsys.readouterr()
    assert len(err.strip("\n").split("\n")) == 1 and err.startswith("rag: error: ") and "rag index" in err, err
    return [Path(line.split(": ", 1)[0]) for line in out.splitlines() if not line.startswith("note: ")]


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_damaged_file_costs_no_embedding_when_the_vector_files_are_intact(
    built: tuple[Path, dict[str, object]], tmp_path: Path, corpus: Path, models: dict[str, FakeEmbedder], how: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    index, fresh = built
    files = generation_files(index)
    assert {p.name for p in files} >= {"faiss.index", "documents.jsonl", "passages.jsonl", "vectors.json", "passage_keys.npy"}
    assert any(p.parent.name == "bm25" for p in files)
    tried = 0
    for original in files:
        if original.name in VECTOR_FILES:
            continue
        copy = tmp_path / f"{how}-{original.name}"
        shutil.copytree(index, copy)
        damaged = copy / original.relative_to(index)
        DAMAGES[how](damaged)
        assert verify_command(copy, capsys) == [damaged], original.name  # that file, and no other
        assert rebuild(corpus, copy, models) == (0, 0, 0), original.name
        assert contents(copy) == fresh, original.name
        assert verify(copy).intact
        tried += 1
    assert tried >= 12


@pytest.mark.parametrize("how", ["deleted", "damaged", "emptied"])
def test_without_a_manifest_nothing_is_embedded_again(
    built: tuple[Path, dict[str, object]], corpus: Path, models: dict[str, FakeEmbedder], capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:  # fmt: skip
    index, fresh = built
    manifest = index / store.MANIFEST
    if how == "deleted":
        manifest.unlink()
    else:
        manifest.write_bytes(b"" if how == "emptied" else manifest.read_bytes()[:-300] + b"x" * 300)
    assert main(["verify", "--index", str(index)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{manifest}: ") and "note: without a manifest" in out
    assert rebuild(corpus, index, models) == (0, 0, 0)
    assert contents(index) == fresh
    assert verify(index).intact
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 1  # the old generation is removed


@pytest.mark.parametrize("how", list(DAMAGES))
@pytest.mark.parametrize("name", sorted(VECTOR_FILES))
def test_a_damaged_vector_file_costs_only_its_damaged_rows(
    built: tuple[Path, dict[str, object]], corpus: Path, models: dict[str, FakeEmbedder], name: str, how: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    index, fresh = built
    path = next(p for p in generation_files(index) if p.name == name)
    rows = len(np.load(path))
    DAMAGES[how](path)
    assert verify_command(index, capsys) == [path]
    embedded, second, again = rebuild(corpus, index, models)
    assert contents(index) == fresh
    if name == "vectors.npy":  # read from the FAISS index instead
        assert (embedded, second, again) == (0, 0, 0)
    elif name == "second_opinion.npy":
        assert embedded == 0 and 0 < second <= rows and again == second
    else:
        assert second == 0 and 0 < embedded <= rows and again == embedded


def test_only_the_damaged_blocks_are_embedded_again(
    corpus: Path, tmp_path: Path, models: dict[str, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With blocks of 1 KiB (8 float16 sentence vectors of 64 dimensions), a byte flipped in the middle of the
    sentence vectors costs the sentences of its block (9 at most: one may straddle the block's end)."""
    monkeypatch.setattr(directory, "BLOCK_BYTES", 1024)
    index = tmp_path / "index"
    build_index(corpus, index, embedder=models["main"])
    path = next(p for p in generation_files(index) if p.name == "sentences.npy")
    sentences = len(np.load(path))
    assert path.stat().st_size > 4 * 1024
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    embedded, _, again = rebuild(corpus, index, models)
    assert 0 < embedded <= 1024 // 128 + 1 and again == embedded and embedded < sentences


@pytest.mark.slow
def test_the_real_models_vectors_survive_a_damaged_index(real_index: Path, tmp_path: Path, real_embedder: Embedder) -> None:
    """The default model and its second opinion (USE): faiss.index truncated, the BM25 index and the documents
    damaged, the manifest deleted; the rebuild embeds nothing (it re-embedded everything) and gives the index a fresh
    build gives."""
    index = tmp_path / "index"
    shutil.copytree(real_index, index)
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    generation = index / manifest["generation"]
    assert (generation / "second_opinion.json").is_file()  # the second opinion's vectors have their record too
    (generation / "faiss.index").write_bytes((generation / "faiss.index").read_bytes()[:1000])
    flip(generation / "documents.jsonl")
    flip(next((generation / "bm25").glob("*.json")))
    (index / store.MANIFEST).unlink()
    problems = {p.path.name for p in verify(index).problems}
    assert problems == {store.MANIFEST}  # without a manifest, what a rebuild reuses: intact
    report = build_index(ROOT / "corpus", index, embedder=real_embedder)
    assert (report.embedded, report.second_embedded, report.calibration_embedded) == (0, 0, 0), report
    assert report.reused == report.embedded + report.reused > 100
    assert contents(index) == contents(real_index)
    assert verify(index).intact


def test_a_format_5_index_is_reused_through_its_manifest(
    built: tuple[Path, dict[str, object]], corpus: Path, models: dict[str, FakeEmbedder]
) -> None:
    """Format 5 had no vector file records nor keys: its vectors are keyed by the stored texts, nothing embedded."""
    index, fresh = built
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    for kind in [k for k in manifest["files"] if k.endswith(("_keys", "_record"))]:
        name = manifest["files"].pop(kind)
        (index / name).unlink()
        manifest["sizes"].pop(name)
        manifest["checksums"].pop(name)
    manifest["format_version"] = 5
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")
    assert verify(index).intact
    assert rebuild(corpus, index, models) == (0, 0, 0)
    assert contents(index) == fresh
    assert store.read_manifest(index)["format_version"] == store.FORMAT_VERSION
