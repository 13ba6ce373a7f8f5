"""Chunking: paragraphs become passages whose offsets recover the cited span exactly."""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.chunk import ChunkSettings, chunk_document
from rag.ingest.load import load_corpus
from rag.types import Document, DocumentInfo
from tests.helpers import squash

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def doc(text: str, fmt: str = "txt") -> Document:
    return Document(DocumentInfo(source="d.txt", title="D"), text, fmt, "0" * 64)


DOCUMENTS = load_corpus(CORPUS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.info.source)
def test_every_passage_of_the_shipped_corpus_round_trips(document: Document) -> None:
    passages = chunk_document(document)
    assert passages
    for p in passages:
        assert squash(document.text[p.start : p.end]) == squash(p.text), p.id
    # paragraphs are numbered 1..n in reading order, spans never overlap
    assert [p.paragraph for p in passages] == sorted(p.paragraph for p in passages)
    assert passages[0].paragraph == 1
    assert all(a.end <= b.start for a, b in itertools.pairwise(passages))


def test_shipped_corpus_has_no_tiny_or_oversized_passages() -> None:
    settings = ChunkSettings()
    for document in DOCUMENTS:
        for p in chunk_document(document):
            assert len(p.text) <= settings.max_chars, p.id
            assert len(p.text) >= settings.min_chars, p.id


def test_headings_attach_to_the_following_paragraph() -> None:
    text = (
        "Un soutien durable aux Forces armées ukrainiennes\n"
        "La Coalition s'engage à poursuivre une aide militaire de long terme, indispensable au maintien des "
        "capacités opérationnelles de l'armée ukrainienne, première ligne de défense et de dissuasion, selon eux.\n"
    )
    passages = chunk_document(doc(text))
    assert len(passages) == 1 and passages[0].text.startswith("Un soutien durable")


def test_list_stays_with_its_introduction() -> None:
    text = "Ce soutien comprendra notamment :\n- des programmes de défense,\n- un appui financier.\n"
    passages = chunk_document(doc(text))
    assert [p.text for p in passages] == [
        "Ce soutien comprendra notamment :\n- des programmes de défense,\n- un appui financier."
    ]


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    sentences = [f"Phrase numéro {i} qui parle de coopération décentralisée entre villes." for i in range(60)]
    document = doc(" ".join(sentences) + "\n")
    passages = chunk_document(document, ChunkSettings(max_chars=500, min_chars=50))
    assert len(passages) > 1
    assert all(len(p.text) <= 500 for p in passages)
    assert all(p.text.endswith(".") for p in passages)  # cut after a sentence, never inside one
    assert {p.paragraph for p in passages} == {1}  # parts of one paragraph share its number
    assert squash("".join(p.text for p in passages)) == squash(document.text)


def test_passage_ids_are_stable_across_runs() -> None:
    first = [p.id for d in DOCUMENTS for p in chunk_document(d)]
    second = [p.id for d in load_corpus(CORPUS) for p in chunk_document(d)]
    assert first == second and len(set(first)) == len(first)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*"abcdé .,:;!?\n-•ÉA", "e\u0301", "Paris", "\n\n", "collecti-\nvités"]), max_size=600))
def test_chunking_arbitrary_text_loses_and_duplicates_nothing(pieces: list[str]) -> None:
    text = "".join(pieces)
    document = doc(text)
    passages = chunk_document(document, ChunkSettings(max_chars=300, min_chars=40))
    for p in passages:
        assert squash(document.text[p.start : p.end]) == squash(p.text)
    assert squash("".join(p.text for p in passages)) == squash(text)


@pytest.mark.parametrize("marks", ["\u0300\u0316", "\u0316\u0300"])
def test_a_cut_never_falls_inside_a_run_of_combining_marks(marks: str) -> None:
    # NFC reorders "\u0300\u0316" (classes 230, 220): a cut between them gave two passages overlapping raw spans.
    text = "0" * 19 + marks  # 21 characters: a cut at 20 would fall inside the run
    passages = chunk_document(doc(text), ChunkSettings(max_chars=20, min_chars=0))
    assert [(p.start, p.end) for p in passages] == [(0, 18), (18, 21)]  # the base "0" goes with its marks
    assert [p.text for p in passages] == ["0" * 18, unicodedata.normalize("NFC", "0" + marks)]
    for p in passages:
        assert squash(text[p.start : p.end]) == squash(p.text)


def test_a_run_of_marks_longer_than_a_passage_is_kept_whole() -> None:
    # no cut inside it keeps raw spans apart (NFC sorts the marks by class): the one passage allowed over max_chars
    text = "a" + "\u0300\u0316" * 15 + " bb"
    passages = chunk_document(doc(text), ChunkSettings(max_chars=20, min_chars=0))
    assert [(p.start, p.end) for p in passages] == [(0, 31), (32, 34)]
    assert passages[0].end <= passages[1].start
    assert squash("".join(p.text for p in passages)) == squash(text)
