"""Index building, the index directory (save/load, atomicity, compatibility) and the retriever, with a fake model."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError
from rag.index import build_index, text_key
from rag.index.lookup import Lookup
from rag.index.vectors import Texts, embed_missing, text_keys, write_vectors
from rag.retrieve.calibration import null_questions
from rag.retrieve.retriever import Retriever
from rag.store import ann
from rag.store.vector_files import key_array, key_strings


def build(corpus: Path, index: Path, embedder: FakeEmbedder) -> Retriever:
    build_index(corpus, index, embedder=embedder)
    return Retriever.load(index, embedder=embedder)


def answers(retriever: Retriever, index: Path) -> list[list[tuple[str, float]]]:
    questions = ["référendums Donetsk Kherson", "groupe-pays Russie créé", "Force multinationale"]
    return [[(h.id, round(h.score, 5)) for h in retriever.search(q, k=3)] for q in questions]


def test_build_and_search(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    retriever = build(corpus_copy, tmp_path / "index", fake_embedder)
    hits = retriever.search("faux référendums organisés à Donetsk, Louhansk, Zaporizhia et Kherson", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].source == "2022-09-23_otan_referendums-ukraine.txt"
    assert hits[0].score >= hits[1].score >= hits[2].score
    top = hits[0]
    document = retriever.document(top.source)
    assert top.citation == f"Déclaration de l'OTAN sur les référendums (2022), ¶{top.paragraph}"
    assert "Kherson" in document.text[top.start : top.end]
    assert top.highlights and "Kherson" in top.text[top.highlights[0].start : top.highlights[0].end]


def test_manifest_records_what_was_built(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    build_index(corpus_copy, tmp_path / "index", embedder=fake_embedder)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["embedder"] == {"id": "fake-hash-64", "spec": "fake", "dim": 64}  # the spec loads it again by name
    assert len(manifest["documents"]) == 5
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())
    assert manifest["chunking"] == {"max_chars": 1200, "min_chars": 150}
    # open formats only: the vectors load without pickle
    vectors = np.load(tmp_path / "index" / manifest["files"]["vectors"], allow_pickle=False)
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_reindex_embeds_only_what_changed(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=first)
    # (one-sentence passages reuse the passage vector; the calibration questions are embedded once, then reused)
    assert report.embedded + report.calibration_embedded == first.texts_embedded > 0
    assert report.calibration_embedded == len(null_questions())

    again = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=again)
    assert again.texts_embedded == 0 and report.embedded == 0

    (corpus_copy / "nouveau.txt").write_text("Une note nouvelle sur le jumelage de Dijon et Volgograd.\n", "utf-8")
    (corpus_copy / "cuf_groupe-pays-russie.txt").unlink()
    third = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=third)
    assert 0 < third.texts_embedded <= 3  # the new passage and its sentence(s) only
    assert report.removed_documents == 1
    retriever = Retriever.load(index, embedder=third)
    assert {d.source for d in retriever.documents} == {
        "2022-02-24_cuf_solidarite-ukraine.txt",
        "2022-09-23_otan_referendums-ukraine.txt",
        "2025-07-03_lettre_cooperation-decentralisee.md",
        "2026-01-06_coalition-des-volontaires_paris.txt",
        "nouveau.txt",
    }
    assert retriever.search("jumelage Dijon Volgograd", k=1)[0].source == "nouveau.txt"


def test_failed_build_leaves_previous_index_intact(
    corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    before = answers(build(corpus_copy, index, fake_embedder), index)
    files_before = sorted(p.name for p in index.iterdir())
    (corpus_copy / "nouveau.txt").write_text("Un texte nouveau.\n", "utf-8")

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ann, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build_index(corpus_copy, index, embedder=fake_embedder)
    monkeypatch.undo()
    assert sorted(p.name for p in index.iterdir()) == files_before  # partial files were removed
    assert answers(Retriever.load(index, embedder=fake_embedder), index) == before


def test_files_of_a_killed_build_are_ignored_then_removed(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    """A build killed while writing leaves its generation, which the journal (written first) names: the next build
    removes it. Files named like rag's that no journal or manifest names are not rag's to delete."""
    index = tmp_path / "index"
    before = answers(build(corpus_copy, index, fake_embedder), index)
    journal = json.loads((index / store.JOURNAL).read_text("utf-8"))
    (index / "gen-deadbeef").mkdir()
    (index / "gen-deadbeef" / "vectors.npy").write_bytes(b"half written")
    (index / store.JOURNAL).write_text(json.dumps({"generations": [*journal["generations"], "gen-deadbeef"]}), "utf-8")
    (index / "vectors-deadbeef.npy").write_bytes(b"not named by rag")
    (index / "manifest.json.deadbeef.tmp").write_text("{", "utf-8")
    assert answers(Retriever.load(index, embedder=fake_embedder), index) == before
    build_index(corpus_copy, index, embedder=fake_embedder)
    assert not (index / "gen-deadbeef").exists()
    assert (index / "vectors-deadbeef.npy").read_bytes() == b"not named by rag"
    assert (index / "manifest.json.deadbeef.tmp").read_text("utf-8") == "{"


def test_missing_and_damaged_indexes_say_to_reindex(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexMissingError, match="rag index"):
        Retriever.load(tmp_path / "nowhere", embedder=fake_embedder)
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    manifest_path = index / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))

    manifest_path.write_text(json.dumps({**manifest, "format_version": 999}), "utf-8")
    with pytest.raises(IndexIncompatibleError, match=r"format 999.*re-run `rag index`"):
        Retriever.load(index, embedder=fake_embedder)

    manifest_path.write_text(json.dumps(manifest), "utf-8")
    faiss_file = index / manifest["files"]["faiss"]
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexIncompatibleError, match="re-run `rag index`"):
        Retriever.load(index, embedder=fake_embedder)

    (index / manifest["files"]["passages"]).unlink()
    with pytest.raises(IndexIncompatibleError, match="missing"):
        Retriever.load(index, embedder=fake_embedder)

    manifest_path.write_text("{not json", "utf-8")
    with pytest.raises(IndexIncompatibleError, match="damaged"):
        Retriever.load(index, embedder=fake_embedder)


def test_index_from_another_embedder_is_refused(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    build_index(corpus_copy, tmp_path / "index", embedder=fake_embedder)

    class Other(FakeEmbedder):
        id = "other-model"

    with pytest.raises(IndexIncompatibleError, match="built with embedder 'fake-hash-64'"):
        Retriever.load(tmp_path / "index", embedder=Other())


def test_search_arguments_are_validated(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    retriever = build(corpus_copy, tmp_path / "index", fake_embedder)
    for bad in ["", "   ", "\x00\x07\n"]:
        with pytest.raises(BadInputError, match="empty"):
            retriever.search(bad)
    with pytest.raises(BadInputError, match="too long"):
        retriever.search("guerre " * 20_000)
    for k in [0, -3]:
        with pytest.raises(BadInputError, match="positive"):
            retriever.search("guerre", k=k)
    assert len(retriever.search("guerre", k=10_000)) == len(retriever.data.passages)
    assert retriever.search("🇺🇦 guerre в Украине\u200b", k=2)  # emoji, mixed scripts, zero-width chars
    with pytest.raises(BadInputError, match="unknown document"):
        retriever.search("guerre", sources=["nope.txt"])


def test_source_filter_min_score_and_context(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    retriever = build(corpus_copy, tmp_path / "index", fake_embedder)
    only = "cuf_groupe-pays-russie.txt"
    hits = retriever.search("Russie", k=20, sources=[only])
    assert hits and {h.source for h in hits} == {only}
    assert len(hits) == retriever.passage_count(only)
    cut = hits[2].score
    assert all(h.score >= cut for h in retriever.search("Russie", k=20, sources=[only], min_score=cut))
    around = retriever.context(hits[0], before=1, after=1)
    assert hits[0].passage in around and all(p.source == only for p in around)
    numbers = [p.paragraph for p in around]
    assert numbers == sorted(numbers) and len(around) <= 3


def test_near_duplicate_hits_are_collapsed(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    shared = (
        "Le groupe-pays Russie a été créé lors de la réunion du bureau exécutif du 20 février 2013. "
        "Plus de cinquante collectivités sont vouées à participer aux activités de ce groupe-pays."
    )
    other = "Un autre paragraphe, plus long, sur la coopération culturelle et scolaire entre villes jumelées. " * 2
    note = "Une note différente sur les jumelages de villes françaises et leurs partenaires étrangers. " * 2
    (corpus / "a.txt").write_text(f"{shared}\n\n{other.strip()}\n", "utf-8")
    (corpus / "b.txt").write_text(f"{note.strip()}\n\n{shared}\n", "utf-8")
    retriever = build(corpus, tmp_path / "index", fake_embedder)
    collapsed = retriever.search("groupe-pays Russie créé février 2013", k=3)
    full = retriever.search("groupe-pays Russie créé février 2013", k=3, collapse=False)
    assert [h.text for h in full[:2]] == [shared, shared]
    assert [h.text for h in collapsed].count(shared) == 1
    assert len(collapsed) == 3 and [h.rank for h in collapsed] == [1, 2, 3]
    assert collapsed[0].start == full[0].start and collapsed[0].end == full[0].end  # the cited span is unchanged


@pytest.mark.parametrize("cached", [[], ["b"]], ids=["all new", "some cached"])
def test_embed_missing_embeds_each_missing_text_once(cached: list[str]) -> None:
    embedder = FakeEmbedder()
    texts = ["alpha beta", "b", "alpha beta", "gamma delta"] if cached else ["alpha beta", "b", "gamma delta"]
    expect = FakeEmbedder().embed(texts, "passage")
    lookup = Lookup()
    if cached:
        lookup.add_rows(key_array([text_key(t) for t in cached]), FakeEmbedder().embed(cached, "passage"))
    keys = text_keys(texts, len(texts))
    n_new = embed_missing(embedder, Texts(keys, lambda rows: [texts[i] for i in rows.tolist()]), lookup, progress=False)
    assert n_new == embedder.texts_embedded == len(set(texts) - set(cached))
    assert len(lookup) == len(set(texts))  # every text's vector is found now, once
    blocks: list[np.ndarray] = []
    write_vectors(keys, lookup, embedder.dim, blocks.append)
    np.testing.assert_allclose(np.concatenate(blocks), expect, rtol=1e-6)


def test_keys_are_the_text_keys() -> None:
    texts = ["un", "deux", "un"]
    assert key_strings(text_keys(texts, 3)) == [text_key(t) for t in texts]
    assert key_strings(text_keys(texts, 3, "query")) == [text_key(t, "query") for t in texts]
    with pytest.raises(ValueError):
        text_keys(texts, 4)


def test_the_lookup_keeps_the_first_sound_vector_of_a_key() -> None:
    lookup = Lookup()
    a, b = (np.full((3, 2), v, np.float32) for v in (1.0, 2.0))
    keys = key_array([text_key(t) for t in ["x", "y", "z"]])
    lookup.add_rows(keys, a, usable=np.array([True, False, True]))
    lookup.add_rows(keys[::-1].copy(), b)  # z, y, x
    sources, rows = lookup.find(keys)
    assert sources.tolist() == [0, 1, 0] and rows.tolist() == [0, 1, 2]
    assert lookup.read(keys[[2, 1, 1, 0]], 2)[:, 0].tolist() == [1.0, 2.0, 2.0, 1.0]
    assert not lookup.contains(key_array([text_key("w")]))[0]
    with pytest.raises(KeyError):
        lookup.read(key_array([text_key("w")]), 2)


RUSSIE = "cuf_groupe-pays-russie.txt"


def test_a_copy_never_replaces_the_indexed_original(
    corpus_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The bug report: a copy named before the original in path order replaced it, losing its catalogue entry."""
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    shutil.copy(corpus_copy / RUSSIE, corpus_copy / "copy_of_russie.txt")
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert report.removed_documents == 0 and report.embedded == 0
    assert any(
        "copy_of_russie.txt" in r.message and RUSSIE in r.message and "same content" in r.message for r in caplog.records
    )
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    info = {d.source: d for d in retriever.documents}
    assert "copy_of_russie.txt" not in info
    assert (info[RUSSIE].title, info[RUSSIE].date, info[RUSSIE].author) == (
        "Groupe-pays Russie : coopération décentralisée franco-russe",
        "2021",
        "Cités Unies France",
    )
    assert retriever.search("groupe-pays Russie", k=1, sources=[RUSSIE])[0].source == RUSSIE


def test_of_duplicates_the_indexed_then_the_catalogued_one_is_kept(corpus_copy: Path, tmp_path: Path) -> None:
    # A first build: no document is indexed yet, the catalogued one is kept.
    shutil.copy(corpus_copy / RUSSIE, corpus_copy / "copy_of_russie.txt")
    build_index(corpus_copy, tmp_path / "index", embedder=FakeEmbedder())
    assert RUSSIE in {d.source for d in Retriever.load(tmp_path / "index", embedder=FakeEmbedder()).documents}
    # Neither catalogued: the one indexed first stays, whatever the path order of a later copy.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "b-note.txt").write_text("Une note sur le jumelage de Dijon et de Volgograd, suspendu depuis 2022.\n", "utf-8")
    build_index(plain, tmp_path / "plain-index", embedder=FakeEmbedder())
    shutil.copy(plain / "b-note.txt", plain / "a-copie.txt")
    report = build_index(plain, tmp_path / "plain-index", embedder=FakeEmbedder())
    assert report.removed_documents == 0
    assert [d.source for d in Retriever.load(tmp_path / "plain-index", embedder=FakeEmbedder()).documents] == ["b-note.txt"]
    # With no index, the first in path order.
    shutil.rmtree(tmp_path / "plain-index")
    build_index(plain, tmp_path / "plain-index", embedder=FakeEmbedder())
    assert [d.source for d in Retriever.load(tmp_path / "plain-index", embedder=FakeEmbedder()).documents] == ["a-copie.txt"]
