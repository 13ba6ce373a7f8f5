"""Typed short answers on real text with the real models: spaCy's French pipeline annotating the shipped corpus and
English text, and typed reading over what the real retriever returns (the default embedder). Slow: they load spaCy
(seconds) and the embedder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from rag.errors import IndexIncompatibleError
from rag.index import build_index, ensure_index
from rag.ingest.annotate import ANNOTATOR, Annotator
from rag.ingest.annotations import COUNT, DATE, LOC, MISC, ORG, PER, Annotation
from rag.ingest.chunk import ChunkSettings, chunk_document, chunks
from rag.ingest.lang import guess_language
from rag.ingest.load import load_corpus
from rag.retrieve.retriever import Retriever
from rag.types import Answer, Passage
from tests.helpers import downgrade_to_format_6

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
    maps = {c.passage.id: c.offsets for d in documents.values() for c in chunks(d, ChunkSettings())}
    assert sum(len(found) for _, found in _corpus()) > 100
    for passage, found in _corpus():
        for a in found:
            s, e = maps[passage.id].span(a.start, a.end)
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


# -- typed reading in the real search: Results.answer, and the flag that says what is missing --------------------


@pytest.fixture(scope="module")
def retriever(real_index: Path) -> Retriever:
    return Retriever.load(real_index)


def _answer(retriever: Retriever, question: str) -> Answer:
    """The answer of ``question``, checked to be cited exactly: its document offsets give its text, its passage
    offsets give the cleaned text, both inside the sentence it was read from."""
    results = retriever.search(question, k=5)
    answer = results.answer
    assert answer is not None and not results.abstain, (question, results.explanation())
    document = retriever.document(answer.source).text
    assert document[answer.start : answer.end] == answer.text
    hit = results.answer_hit
    assert hit is not None and hit.source == answer.source and hit.rank == answer.rank
    assert hit.text[answer.passage_start : answer.passage_end] == answer.normalized
    assert " ".join(answer.text.replace("-\n", "").split()) == " ".join(answer.normalized.split())
    sentence = answer.sentence
    assert sentence.start <= answer.passage_start < answer.passage_end <= sentence.end
    assert sentence.doc_start is not None and sentence.doc_end is not None
    assert sentence.doc_start <= answer.start < answer.end <= sentence.doc_end
    payload = results.to_dict()["answer"]
    assert payload["text"] == answer.text and payload["sentence"]["text"] == hit.text[sentence.start : sentence.end]
    return answer


def _missing(retriever: Retriever, question: str, lang: str) -> str:
    results = retriever.search(question, k=5)
    assert results.abstain and results.reason == "missing_kind" and results.answer is None, question
    explanation = results.explanation(lang)
    assert explanation is not None
    return explanation


@pytest.mark.parametrize(
    ("question", "kind", "text"),
    [
        ("Combien de collectivités ont vocation à prendre part au groupe-pays Russie ?", "count", "Plus de 50"),
        ("Quel membre du gouvernement russe a assisté à la réunion de juillet 2016 ?", "person", "Alexandre Tsyboulski"),
        ("Quel ministère soutient le groupe-pays Russie ?", "organization", "ministère de l’Europe et des Affaires étrangères"),
        ("Où se sont tenues les Assises de la coopération décentralisée franco-russe en 2016 ?", "place", "Nice"),
        ("Quand l'Assemblée générale des Nations unies a-t-elle adopté sa résolution ?", "date", "2 mars 2022"),
        ("Quelles régions ont organisé les référendums fictifs ?", "place", "Donetsk, Louhansk, Zaporizhia et Kherson"),
    ],
)
def test_each_kind_is_read_and_cited(retriever: Retriever, question: str, kind: str, text: str) -> None:
    answer = _answer(retriever, question)
    assert (answer.kind, " ".join(answer.normalized.split())) == (kind, text)


def test_an_english_question_on_french_text(retriever: Retriever) -> None:
    assert _answer(retriever, "How many people attended the Nice meeting in December 2012?").normalized == "200"
    date = "On what date did the UN General Assembly pass its resolution condemning the aggression?"
    assert _answer(retriever, date).normalized == "2 mars 2022"
    assert _answer(retriever, "Who is the president of Cités Unies France?").label == PER


def test_the_date_of_the_meeting_of_the_rank_asked_in_a_list_of_meetings(retriever: Retriever) -> None:
    # cuf_groupe-pays-russie.txt lists the meetings by rank ("…le 12 février 2014 et la deuxième réunion le 30 juin
    # 2015", "La 3ème réunion a eu lieu le 5 juillet 2016", up to the 7th): each rank gets its own date, in French and
    # in English, and a rank the brochure does not hold is not answered by another's date or place.
    second = "À quelle date le groupe-pays Russie a-t-il tenu sa deuxième réunion ?"
    assert _answer(retriever, second).normalized == "30 juin 2015"
    assert _answer(retriever, "When did the Russia country group hold its third meeting?").normalized == "5 juillet 2016"
    eighth = "Où la huitième réunion du groupe-pays Russie se tiendra-t-elle ?"
    assert "aucun des passages ne donne un lieu" in _missing(retriever, eighth, "fr")
    assert "a date" in _missing(retriever, "When will the Russia country group hold its ninth meeting?", "en")


def test_the_event_the_question_asks_about_picks_the_date(retriever: Retriever) -> None:
    # The web app's own example: the brochure dates the group's creation ("a été créé lors de la réunion du bureau
    # exécutif … du 20 février 2013"), its launch meeting ("s'est tenue le 12 février 2014") and the birth of the
    # cooperation ("née dans les années 1960"); the question's verb says which.
    assert _answer(retriever, "Quand le groupe-pays Russie a-t-il été créé ?").normalized == "20 février 2013"
    assert _answer(retriever, "When was the Russia country group created?").normalized == "20 février 2013"
    assert _answer(retriever, "When did the Russia country group hold its inaugural meeting?").normalized == "12 février 2014"


def test_the_signatory_of_the_office_asked_in_a_signature_block(retriever: Retriever) -> None:
    # The July 2025 letter is signed by three presidents, each name on one line and its offices on the next ones.
    assert _answer(retriever, "Qui est à la tête de Montpellier Méditerranée Métropole ?").normalized == "Michaël Delafosse"
    question = "Which elected official chairs the International Association of Francophone Mayors?"
    assert _answer(retriever, question).normalized == "Anne Hidalgo"


def test_how_much_with_an_auxiliary_asks_for_an_amount(retriever: Retriever) -> None:
    assert "an amount" in _missing(retriever, "How much will the new defence depots cost?", "en")


def test_the_question_of_the_issue_is_flagged_and_says_what_is_missing(retriever: Retriever) -> None:
    # No number of soldiers anywhere in the corpus; its dates ("jeudi 24 février 2022") and its counts of other things
    # do not answer it: a date is no count.
    fr = _missing(retriever, "Combien de soldats la France va-t-elle envoyer en Ukraine ?", "fr")
    assert fr == "Rien dans le corpus ne semble répondre à cette question : aucun des passages ne donne un nombre de soldats."
    en = _missing(retriever, "How many soldiers will France send to Ukraine?", "en")
    assert en == "Nothing in the corpus seems to answer this question: none of the passages gives a number of soldiers."


@pytest.mark.parametrize(
    ("question", "first_line"),
    [
        (
            "Combien de soldats la France va-t-elle envoyer en Ukraine ?",
            "Rien dans le corpus ne semble répondre à cette question : aucun des passages ne donne un nombre de soldats."
            " Les passages les plus proches :",
        ),
        (
            "How many soldiers will France send to Ukraine?",
            "Nothing in the corpus seems to answer this question: none of the passages gives a number of soldiers."
            " The closest passages:",
        ),
    ],
)
def test_rag_ask_says_what_is_missing_in_the_questions_language(
    real_index: Path, question: str, first_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.cli import main

    assert main(["ask", "--index", str(real_index), question]) == 0
    assert capsys.readouterr().out.splitlines()[0] == first_line


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("Quel est le budget annuel de Cités Unies France ?", "aucun des passages ne donne un montant"),
        ("What was the turnout announced for the Donetsk referendum?", "none of the passages gives a percentage"),
        ("Quelle organisation Cités Unies France a-t-elle rejointe ?", "aucun des passages ne nomme d'organisation"),
    ],
)
def test_a_kind_not_given_is_flagged_in_words(retriever: Retriever, question: str, words: str) -> None:
    lang = "fr" if words.startswith("aucun") else "en"
    assert words in _missing(retriever, question, lang)


def test_the_candidate_the_question_contains_is_not_its_answer(retriever: Retriever) -> None:
    # "Cités Unies France" is in every best passage; it names the organisation asked about, not the one it joined.
    results = retriever.search("Quelle organisation Cités Unies France a-t-elle rejointe ?")
    assert results.answer is None
    assert _answer(retriever, "Qui est le président de Cités Unies France ?").normalized == "Michaël Delafosse"


FRENCH = """Communiqué du conseil municipal de Rivebelle, 14 mars 2024

Le conseil municipal a adopté mardi soir son budget 2024, d'un montant de 182 millions d'euros, par 31 voix contre 9.
La participation aux élections municipales de l'an dernier avait atteint 54 %, un record pour la commune.

La nouvelle médiathèque de la place du Marché ouvrira à l'automne 2026. Elle accueillera une salle de lecture pour
les enfants et des espaces d'étude ouverts jusqu'à 22 heures.
"""


@pytest.fixture(scope="module")
def figures_retriever(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Retriever:
    corpus = tmp_path_factory.mktemp("figures") / "corpus"
    corpus.mkdir()
    (corpus / "rivebelle.txt").write_text(FRENCH, encoding="utf-8")
    (corpus / "riverside.txt").write_text(ENGLISH, encoding="utf-8")
    index = corpus.parent / "index"
    build_index(corpus, index, embedder=real_embedder)  # type: ignore[arg-type]
    return Retriever.load(index, embedder=real_embedder)  # type: ignore[arg-type]


ENGLISH = """Statement by the Riverside City Council, 14 March 2024

The City Council approved its 2024 budget of 182 million pounds on Tuesday evening. Council tax will rise by 2.9 per
cent, the lowest increase in the region.

The council will buy 250 empty homes over the next three years and let them at social rents.
"""


def test_amounts_and_percentages_in_french_and_english_text(figures_retriever: Retriever) -> None:
    assert _answer(figures_retriever, "Quel est le montant du budget 2024 de Rivebelle ?").normalized == "182 millions d'euros"
    assert (
        _answer(figures_retriever, "Quel taux de participation les élections de Rivebelle ont-elles atteint ?").normalized
        == "54 %"
    )
    assert _answer(figures_retriever, "By what percentage will council tax rise in Riverside?").normalized == "2.9 per cent"
    assert _answer(figures_retriever, "Combien de logements vides Riverside va-t-il acheter ?").normalized == "250"
    # The English passages hold no count of soldiers either.
    assert "soldiers" in _missing(figures_retriever, "How many soldiers does Riverside employ?", "en")


# -- the annotations in the index: previous format, another annotator, reuse by content ---------------------------


def test_an_index_of_the_previous_format_is_rebuilt_never_read_without_annotations(
    real_index: Path, tmp_path: Path, real_embedder: object
) -> None:
    index = tmp_path / "index"
    shutil.copytree(real_index, index)
    downgrade_to_format_6(index)
    with pytest.raises(IndexIncompatibleError, match=r"format 6 .* re-run `rag index`.*vectors are reused"):
        Retriever.load(index, embedder=real_embedder)  # type: ignore[arg-type]
    report = ensure_index(index, ROOT / "corpus", embedder=real_embedder)  # type: ignore[arg-type]
    assert report is not None and report.embedded == 0 and report.annotated == report.passages
    rebuilt = Retriever.load(index, embedder=real_embedder)  # type: ignore[arg-type]
    assert (
        _answer(rebuilt, "Quand l'Assemblée générale des Nations unies a-t-elle adopté sa résolution ?").normalized
        == "2 mars 2022"
    )


def test_another_annotator_is_annotated_again_and_unchanged_passages_are_reused(
    real_index: Path, tmp_path: Path, real_embedder: object
) -> None:
    index = tmp_path / "index"
    shutil.copytree(real_index, index)
    manifest_path = index / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["annotator"]["id"] = "fr_core_news_md==3.7.0+spacy==3.7.0+rules1"
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexIncompatibleError, match=r"annotated by .*rules1.*re-run `rag index`"):
        Retriever.load(index, embedder=real_embedder)  # type: ignore[arg-type]
    report = ensure_index(index, ROOT / "corpus", embedder=real_embedder)  # type: ignore[arg-type]
    assert report is not None and report.embedded == 0 and report.annotated == report.passages
    # A corpus with one more document: only its passages are annotated (spaCy reads nothing else).
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "rivebelle.txt").write_text(FRENCH, encoding="utf-8")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["corpus"] = str(corpus.resolve())
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    report = build_index(corpus, index, embedder=real_embedder)  # type: ignore[arg-type]
    added = Retriever.load(index, embedder=real_embedder).passage_count("rivebelle.txt")  # type: ignore[arg-type]
    assert added >= 1 and report.annotated == added
