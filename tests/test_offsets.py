"""Offset maps: every span of a passage's cleaned text maps to its exact span in the document's text."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.chunk import ChunkSettings, chunk_with_offsets
from rag.ingest.load import load_corpus
from rag.store.rows import OffsetTable
from rag.types import Document, DocumentInfo, OffsetMap
from tests.helpers import squash

ROOT = Path(__file__).resolve().parent.parent


def document(text: str, fmt: str = "txt") -> Document:
    return Document(DocumentInfo("d.txt", "D"), text, fmt, "0" * 64)


def test_a_hand_built_map() -> None:
    # "ab cd" read from "ab\n  c-\nd": the space stands for "\n  " (one run per jump), the hyphen and break dropped.
    runs = OffsetMap.of([0, 1, 2, 5, 8], [1, 2, 3, 6, 9])
    assert runs == OffsetMap((0, 3, 4), (0, 5, 8), (1, 6, 9))
    assert runs.span(0, 2) == (0, 2) and runs.span(3, 5) == (5, 9) and runs.span(0, 5) == (0, 9)
    assert OffsetMap.from_row(runs.to_row()) == runs
    with pytest.raises(ValueError, match="no document span"):
        runs.span(2, 2)


def test_every_span_of_the_shipped_corpus_maps_exactly() -> None:
    """Against the cleaner's own per-character map: for every passage and every sentence of it, the map gives the
    document span the passage text was read from, through hyphenation, line joins and markup."""
    for doc in load_corpus(ROOT / "corpus"):
        for passage, offsets in chunk_with_offsets(doc):
            assert offsets.span(0, len(passage.text)) == (passage.start, passage.end)
            for start in range(0, len(passage.text), 7):
                end = min(len(passage.text), start + 1 + (start * 31) % 200)
                doc_start, doc_end = offsets.span(start, end)
                assert squash(doc.text[doc_start:doc_end]) == squash(passage.text[start:end]), (passage.id, start, end)


WORDS = st.sampled_from(["collecti-\nvités", "franco-\nrusse", "e\u0301lus", "**gras**", "  ", "\n", "mot", "L'OTAN", "1 000"])


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=60), st.sampled_from(["txt", "md"]), st.data())
def test_maps_agree_with_the_cleaner_on_any_text(words: list[str], fmt: str, data: st.DataObject) -> None:
    text = " ".join(words) + ".\n\nFin du texte, assez longue pour faire un passage."
    for passage, offsets in chunk_with_offsets(document(text, fmt), ChunkSettings(max_chars=120, min_chars=20)):
        start = data.draw(st.integers(0, len(passage.text) - 1))
        end = data.draw(st.integers(start + 1, len(passage.text)))
        doc_start, doc_end = offsets.span(start, end)
        cited = unicodedata.normalize("NFC", text[doc_start:doc_end])
        assert squash(cited) == squash(passage.text[start:end])
        assert passage.start <= doc_start < doc_end <= passage.end


def test_the_packed_table_gives_back_each_map() -> None:
    maps = [OffsetMap((0,), (10,), (11,)), OffsetMap((0, 4, 9), (0, 6, 12), (1, 7, 13)), OffsetMap((), (), ())]
    table = OffsetTable(m.to_row() for m in maps)
    assert len(table) == 3 and [table[i] for i in range(3)] == maps and table[-1] == maps[2] and table[0:2] == maps[:2]
    with pytest.raises(IndexError):
        table[3]


def _cited_spans_round_trip(index: Path, questions: list[str], **load: object) -> int:
    from rag.retrieve.retriever import Retriever

    retriever = Retriever.load(index, **load)  # type: ignore[arg-type]
    checked = 0
    for question in questions:
        for hit in retriever.search(question, k=5):
            text = retriever.document(hit.source).text
            for span in hit.highlights:
                assert span.doc_start is not None and span.doc_end is not None
                assert hit.start <= span.doc_start < span.doc_end <= hit.end
                assert squash(text[span.doc_start : span.doc_end]) == squash(hit.text[span.start : span.end])
                assert hit.to_dict()["highlights"][hit.highlights.index(span)]["doc_start"] == span.doc_start
                checked += 1
    return checked


QUESTIONS = [
    "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    "Which regions held the sham referendums?",
    "Quand le groupe-pays Russie a-t-il été créé ?",
    "coopération décentralisée budget 2026",
]


def test_every_highlight_is_cited_by_its_document_offsets(corpus_copy: Path, tmp_path: Path, fake_embedder: object) -> None:
    from rag.index import build_index

    build_index(corpus_copy, tmp_path / "index", embedder=fake_embedder)  # type: ignore[arg-type]
    assert _cited_spans_round_trip(tmp_path / "index", QUESTIONS, embedder=fake_embedder) >= len(QUESTIONS) * 5


@pytest.mark.slow
def test_every_highlight_is_cited_by_its_document_offsets_with_the_real_model(real_index: Path) -> None:
    assert _cited_spans_round_trip(real_index, QUESTIONS) >= len(QUESTIONS) * 5
