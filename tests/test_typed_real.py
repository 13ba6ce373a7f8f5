"""Typed short answers on real text with the real models: spaCy's French pipeline annotating the shipped corpus and
English text, and typed reading over what the real retriever returns (the default embedder). Slow: they load spaCy
(seconds) and the embedder."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from rag.ingest.annotate import ANNOTATOR, Annotator
from rag.ingest.annotations import COUNT, DATE, LOC, MISC, ORG, PER, Annotation
from rag.ingest.chunk import ChunkSettings, chunk_document, raw_spans
from rag.ingest.lang import guess_language
from rag.ingest.load import load_corpus
from rag.retrieve.question_type import question_type
from rag.retrieve.read import HitText, Reading, read
from rag.retrieve.retriever import Retriever
from rag.types import Passage

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@cache
def _annotator() -> Annotator:
    return Annotator()


@cache
def _corpus() -> tuple[tuple[Passage, list[Annotation]], ...]:
    """Every passage of the shipped corpus with its annotations."""
    passages = [p for doc in load_corpus(ROOT / "corpus") for p in chunk_document(doc, ChunkSettings())]
    found = _annotator().annotate([p.text for p in passages], [guess_language(p.text) for p in passages])
    return tuple(zip(passages, found, strict=True))


def _all(kind: str) -> list[tuple[Passage, Annotation]]:
    return [(p, a) for p, found in _corpus() for a in found if a.kind == kind]


def test_importing_the_annotator_loads_no_spacy() -> None:
    code = "import sys, rag.ingest.annotate, rag.retrieve.read; assert 'spacy' not in sys.modules, 'spacy imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert ANNOTATOR.startswith("fr_core_news_md==3.8.0+spacy==3.8.18+rules")


def test_every_annotation_of_the_corpus_is_cut_from_its_passage_and_found_again_in_its_document() -> None:
    documents = {d.info.source: d for d in load_corpus(ROOT / "corpus")}
    assert sum(len(found) for _, found in _corpus()) > 100
    for passage, found in _corpus():
        spans = raw_spans(documents[passage.source], passage, [(a.start, a.end) for a in found])
        for a, (s, e) in zip(found, spans, strict=True):
            assert passage.text[a.start : a.end] == a.text
            raw = documents[passage.source].text[s:e]
            assert " ".join(raw.replace("-\n", "").split()) == " ".join(a.text.split()), (a, raw)


def test_counts_with_their_noun_and_dates_that_are_no_counts() -> None:
    counts = {(a.text, a.detail) for _, a in _all(COUNT)}
    assert ("Plus de 50", "collectivité") in counts  # "Plus de 50 collectivités sont vouées à participer"
    assert ("200", "représentant") in counts  # "Elle a rassemblé 200 représentants de collectivités"
    dates = [(p, a) for p, a in _all(DATE)]
    assert "jeudi 24 février 2022" in {a.text for _, a in dates}
    count_spans = {(p.id, a.start, a.end) for p, a in _all(COUNT)}
    for p, d in dates:  # no day of the month, no year is also a count
        assert not any(pid == p.id and s < d.end and e > d.start for pid, s, e in count_spans), d
    # "La 3ème réunion a eu lieu…": an ordinal is no count.
    assert not any(a.text.startswith("3") for _, a in _all(COUNT))


def test_names_of_people_places_and_organisations() -> None:
    assert {"Alexandre Tsyboulski", "Mikhail Shvydkoy"} <= {a.text for _, a in _all(PER)}
    assert {"Strasbourg", "Donetsk", "Kherson"} <= {a.text for _, a in _all(LOC)}
    organisations = {" ".join(a.text.split()) for _, a in _all(ORG)}
    assert "ministère de l’Europe et des Affaires étrangères" in organisations  # in lower case, found by pattern
    assert "Cités Unies France" in organisations
    # Roles are no names: "Président de Cités Unies France" is not a person.
    assert not any(a.text.split()[0].casefold() in ("président", "présidente", "maire") for _, a in _all(PER))


def test_english_text_is_annotated_too() -> None:
    # From XQuAD's English contexts (SQuAD v1.1, CC BY-SA 4.0): the Carolina Panthers' 2015 season.
    text = (
        "The Panthers defense gave up just 308 points, ranking sixth in the league, while also leading the NFL in "
        "interceptions with 24 and boasting four Pro Bowl selections. Pro Bowl defensive tackle Kawann Short led the "
        "team in sacks with 11, while also forcing three fumbles and recovering two. The team played in Charlotte on "
        "February 7, 2016, and 84 percent of the seats were sold."
    )
    [found] = _annotator().annotate([text], ["en"])
    by_text = {a.text: a for a in found}
    assert by_text["just 308"].kind == COUNT and by_text["just 308"].detail == "point"
    assert by_text["four"].detail == "selection" and by_text["three"].detail == "fumble"
    assert by_text["February 7, 2016"].kind == DATE and by_text["84 percent"].kind == "PERCENT"
    # Names are the capitalised runs (the French model's label is a guess on English text: reading takes any name).
    names = {a.text for a in found if a.kind in (PER, ORG, LOC, MISC)}
    assert {"Panthers", "NFL", "Kawann Short", "Charlotte"} <= names
    assert not any(n[0].islower() or n.startswith(("The ", "While ")) for n in names)
    assert all(text[a.start : a.end] == a.text for a in found)


# -- typed reading over the real retriever ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retriever(real_index: Path) -> Retriever:
    return Retriever.load(real_index)


def _reading(retriever: Retriever, question: str) -> tuple[Reading, list[Passage]]:
    """The typed reading of ``question`` over the real search's hits, as the query path will run it."""
    typed = question_type(question)
    assert typed is not None, question
    results = retriever.search(question, k=5)
    vector = retriever.query(question).vector
    assert vector is not None
    row_of = {p.id: row for row, p in enumerate(retriever.data.passages)}
    hits, passages = [], []
    for hit in results:
        row = row_of[hit.id]
        [found] = _annotator().annotate([hit.text], [guess_language(hit.text)])
        spans = [tuple(s) for s in retriever.data.sentence_spans[row]]
        sims = retriever.sentence_similarities(row, vector)
        hits.append(HitText(hit.rank, hit.text, spans, sims, found, guess_language(hit.text)))
        passages.append(hit.passage)
    return read(typed, question, hits), passages


def test_a_count_is_read_from_the_best_passages_with_its_citation(retriever: Retriever) -> None:
    reading, passages = _reading(retriever, "Combien de collectivités ont vocation à prendre part au groupe-pays Russie ?")
    answer = reading.answer
    assert answer is not None and answer.text == "Plus de 50" and answer.kind == "count"
    passage = passages[answer.rank - 1]
    assert passage.text[answer.start : answer.end] == "Plus de 50"
    assert passage.text[answer.sentence[0] : answer.sentence[1]].startswith("Plus de 50 collectivités")
    document = retriever.document(passage.source)
    [(s, e)] = raw_spans(document, passage, [(answer.start, answer.end)], ChunkSettings())
    assert document.text[s:e] == "Plus de 50"


def test_an_english_question_on_french_text(retriever: Retriever) -> None:
    reading, _ = _reading(retriever, "How many people attended the Nice meeting in December 2012?")
    assert reading.answer is not None and reading.answer.text == "200"  # "200 représentants": people ↔ représentants
    reading, _ = _reading(retriever, "On what date did the UN General Assembly pass its resolution condemning the aggression?")
    assert reading.answer is not None and reading.answer.text == "2 mars 2022"


def test_the_question_of_the_issue_is_not_answered_and_says_what_is_missing(retriever: Retriever) -> None:
    # No number of soldiers anywhere in the corpus; the dates and the counts of other things do not answer it.
    reading, _ = _reading(retriever, "Combien de soldats la France va-t-elle envoyer en Ukraine ?")
    assert reading.answer is None
    assert reading.missing("fr") == "aucun des passages ne donne un nombre de soldats"
    reading, _ = _reading(retriever, "How many soldiers will France send to Ukraine?")
    assert reading.answer is None and reading.missing("en") == "none of the passages gives a number of soldiers"


def test_the_candidate_the_question_contains_is_not_its_answer(retriever: Retriever) -> None:
    reading, _ = _reading(retriever, "Quelle organisation Cités Unies France a-t-elle rejointe ?")
    assert reading.answer is None or "Cités Unies" not in reading.answer.text
    reading, _ = _reading(retriever, "Quel membre du gouvernement russe a assisté à la réunion de juillet 2016 ?")
    assert reading.answer is not None and reading.answer.text == "Alexandre Tsyboulski" and reading.answer.label == PER
