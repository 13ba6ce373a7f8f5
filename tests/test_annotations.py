"""The stored form of sentence annotations (rag.ingest.annotations): int32 rows and a string list, read back exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rag.ingest.annotations import COLUMNS, KINDS, Annotation, from_rows, in_span, rows_of, to_rows

TEXTS = [
    "Plus de 50 collectivités sont vouées à participer. Cités Unies France a été créée.",
    "Aucune annotation ici.",
    "Le 2 mars 2022, 182 millions d'euros, soit 12 %.",
]


def _annotations() -> list[list[Annotation]]:
    t0, t2 = TEXTS[0], TEXTS[2]

    def at(text: str, piece: str, kind: str, detail: str = "") -> Annotation:
        start = text.index(piece)
        return Annotation(kind, start, start + len(piece), piece, detail)

    return [
        [at(t0, "Cités Unies France", "ORG"), at(t0, "Plus de 50", "COUNT", "collectivité")],
        [],
        [at(t2, "2 mars 2022", "DATE"), at(t2, "182 millions d'euros", "AMOUNT", "EUR"), at(t2, "12 %", "PERCENT")],
    ]


def test_rows_round_trip_through_an_npy_file() -> None:
    annotations = _annotations()
    rows, strings = to_rows(annotations)
    assert rows.dtype == np.int32 and rows.shape == (5, len(COLUMNS))
    assert strings == ["collectivité", "EUR"]
    assert rows[:, 0].tolist() == [0, 0, 2, 2, 2]  # sorted by passage, then by start
    buffer = io.BytesIO()
    np.save(buffer, rows, allow_pickle=False)
    buffer.seek(0)
    back = from_rows(np.load(buffer, allow_pickle=False), strings, TEXTS)
    assert back == [sorted(a, key=lambda a: a.start) for a in annotations]
    for text, found in zip(TEXTS, back, strict=True):
        assert all(text[a.start : a.end] == a.text for a in found)


def test_no_annotation_gives_an_empty_table() -> None:
    rows, strings = to_rows([[], []])
    assert rows.shape == (0, len(COLUMNS)) and strings == []
    assert from_rows(rows, strings, ["a", "b"]) == [[], []]


def test_rows_that_do_not_fit_their_passages_are_refused() -> None:
    rows, strings = to_rows(_annotations())
    with pytest.raises(ValueError, match="does not fit"):
        from_rows(rows, strings, TEXTS[:2])  # passage 2 is missing
    shorter = [TEXTS[0], TEXTS[1], TEXTS[2][:10]]
    with pytest.raises(ValueError, match="does not fit"):
        from_rows(rows, strings, shorter)
    bad = rows.copy()
    bad[0, 3] = len(KINDS)
    with pytest.raises(ValueError, match="does not fit"):
        from_rows(bad, strings, TEXTS)
    with pytest.raises(ValueError, match="outside"):
        from_rows(rows, strings[:1], TEXTS)
    with pytest.raises(ValueError, match="columns"):
        from_rows(rows[:, :4], strings, TEXTS)


def test_rows_of_one_passage_and_annotations_of_one_sentence() -> None:
    rows, _ = to_rows(_annotations())
    assert rows_of(rows, 2).shape[0] == 3 and rows_of(rows, 1).shape[0] == 0 and rows_of(rows, 0)[:, 0].tolist() == [0, 0]
    first = _annotations()[0]
    sentence_end = TEXTS[0].index(".") + 1
    assert [a.text for a in in_span(first, 0, sentence_end)] == ["Plus de 50"]
