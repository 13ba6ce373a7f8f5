"""The typed reading stage (rag.retrieve.read), pure: passages of the shipped corpus with annotations written out as
the annotator finds them, and similarities given. Each kind found and not found, the date that is no count, the
question that already holds the candidate, an English question on French text, the offsets of the answer."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rag.ingest import figures
from rag.ingest.annotations import AMOUNT, COUNT, DATE, LOC, ORG, PER, PERCENT, Annotation
from rag.ingest.sentences import split_sentences
from rag.retrieve.question_type import QuestionType, question_type
from rag.retrieve.read import HitText, answering_sentences, in_question, line_blocks, missing_text, read


def _at(text: str, piece: str, kind: str, detail: str = "") -> Annotation:
    start = text.index(piece)
    return Annotation(kind, start, start + len(piece), piece, detail)


def _hit(text: str, annotations: Sequence[Annotation], sims: Sequence[float] | None = None, rank: int = 1,
         lang: str = "fr") -> HitText:  # fmt: skip
    spans = split_sentences(text)
    return HitText(rank, text, spans, list(sims) if sims is not None else [0.8] * len(spans), annotations, lang)


def _read(question: str, *hits: HitText) -> tuple[str | None, str | None]:
    typed = question_type(question)
    assert typed is not None, question
    reading = read(typed, question, hits)
    answer = reading.answer
    return (answer.text if answer else None), reading.missing("fr")


# From cuf_groupe-pays-russie.txt and 2022-02-24_cuf_solidarite-ukraine.txt (the corpus), as the index keeps them.
RUSSIA = (
    "Le groupe-pays Russie a été créé lors de la réunion du bureau exécutif de Cités Unies France du 20 février 2013. "
    "Plus de 50 collectivités sont vouées à participer aux activités de ce groupe-pays."
)
RUSSIA_ANN = [
    _at(RUSSIA, "Cités Unies France", ORG), _at(RUSSIA, "20 février 2013", DATE),
    _at(RUSSIA, "Plus de 50", COUNT, "collectivité"),
]  # fmt: skip
SOLIDARITY = "Ce jeudi 24 février 2022, les forces militaires russes ont pénétré sur le territoire ukrainien."
SOLIDARITY_ANN = [_at(SOLIDARITY, "jeudi 24 février 2022", DATE)]
MEETING = (
    "La 3ème réunion a eu lieu le 5 juillet 2016, honorée par la présence de M. Alexandre Tsyboulski, Vice-Ministre "
    "russe du Développement économique."
)
MEETING_ANN = [_at(MEETING, "5 juillet 2016", DATE), _at(MEETING, "Alexandre Tsyboulski", PER)]
REFERENDUMS = (
    "Les faux référendums organisés dans les régions ukrainiennes de Donetsk, Louhansk, Zaporizhia et Kherson n'ont "
    "aucune légitimité."
)
REFERENDUMS_ANN = [_at(REFERENDUMS, name, LOC) for name in ("Donetsk", "Louhansk", "Zaporizhia", "Kherson")]


def test_a_count_of_the_focus_noun_is_found_in_french_and_in_english() -> None:
    hit = _hit(RUSSIA, RUSSIA_ANN)
    assert _read("Combien de collectivités ont vocation à prendre part au groupe-pays Russie ?", hit)[0] == "Plus de 50"
    # An English question on French text: "local authorities" counts what "collectivités" counts.
    assert _read("How many local authorities are meant to take part in the Russia country group?", hit)[0] == "Plus de 50"


def test_a_count_of_another_noun_does_not_answer_and_the_message_names_what_is_missing() -> None:
    hit = _hit(RUSSIA, RUSSIA_ANN)
    answer, missing = _read("Combien de soldats la France va-t-elle envoyer en Ukraine ?", hit)
    assert answer is None and missing == "aucun des passages ne donne un nombre de soldats"
    typed = question_type("How many soldiers will France send to Ukraine?")
    assert typed is not None
    assert read(typed, "How many soldiers…", [hit]).missing("en") == "none of the passages gives a number of soldiers"


def test_a_date_is_not_a_count() -> None:
    # The case: the day of the month in "Ce jeudi 24 février 2022" is no number of soldiers.
    taken = [(a.start, a.end) for a in SOLIDARITY_ANN]
    assert figures.numbers(SOLIDARITY, taken) == []
    answer, missing = _read(
        "Combien de soldats russes ont pénétré sur le territoire ukrainien ?", _hit(SOLIDARITY, SOLIDARITY_ANN)
    )
    assert answer is None and missing == "aucun des passages ne donne un nombre de soldats"
    assert _read("Quand les forces russes ont-elles pénétré en Ukraine ?", _hit(SOLIDARITY, SOLIDARITY_ANN))[0] == (
        "jeudi 24 février 2022"
    )


def test_dates_of_the_unit_asked() -> None:
    hit = _hit(MEETING, MEETING_ANN)
    assert _read("À quelle date la troisième réunion a-t-elle eu lieu ?", hit)[0] == "5 juillet 2016"
    assert _read("In what year did the third meeting take place?", hit)[0] == "2016"  # the year of the date
    decade = "La coopération entre collectivités françaises et russes est née dans les années 1960."
    decade_hit = _hit(decade, [_at(decade, "les années 1960", DATE)])
    assert _read("Quand la coopération est-elle née ?", decade_hit)[0] == "les années 1960"
    assert _read("En quelle année la coopération est-elle née ?", decade_hit) == (None, "aucun des passages ne donne une année")
    assert _read("Au cours de quel siècle la coopération est-elle née ?", decade_hit)[0] is None


def test_a_person_asked_by_role_must_be_called_so() -> None:
    hit = _hit(MEETING, MEETING_ANN)
    assert _read("Quel ministre a assisté à la 3ème réunion ?", hit)[0] == "Alexandre Tsyboulski"
    assert _read("Which minister attended the third meeting?", hit)[0] == "Alexandre Tsyboulski"
    answer, missing = _read("Quel général a assisté à la 3ème réunion ?", hit)
    assert answer is None and missing == "aucun des passages ne nomme de général"
    assert _read("Qui a honoré la réunion de sa présence ?", hit)[0] == "Alexandre Tsyboulski"


def test_the_candidate_the_question_already_contains_does_not_count() -> None:
    hit = _hit(RUSSIA, RUSSIA_ANN)
    answer, missing = _read("Quelle organisation est Cités Unies France ?", hit)
    assert answer is None and missing == "aucun des passages ne nomme d'organisation"
    assert in_question(RUSSIA_ANN[0], "Who is the president of Cités Unies France?")
    assert in_question(
        _at("à Saint-Pétersbourg", "Saint-Pétersbourg", LOC), "Which French city is twinned with Saint Petersburg?"
    )
    assert in_question(_at(RUSSIA, "20 février 2013", DATE), "What happened on 20 February 2013?")
    assert not in_question(_at(RUSSIA, "20 février 2013", DATE), "What happened in February 2014?")


def test_places_lists_and_countries() -> None:
    hit = _hit(REFERENDUMS, REFERENDUMS_ANN)
    # A plural question gets the whole list, offsets included.
    answer = read(
        QuestionType("place", "régions", "fr", plural=True), "Quelles régions ont organisé les référendums ?", [hit]
    ).answer
    assert answer is not None and answer.text == "Donetsk, Louhansk, Zaporizhia et Kherson"
    assert REFERENDUMS[answer.start : answer.end] == answer.text
    # A city is not answered by a country.
    text = "Les membres de la Coalition se sont réunis à Paris aux côtés de l'Ukraine."
    hit = _hit(text, [_at(text, "Paris", LOC), _at(text, "Ukraine", LOC)])
    assert _read("Dans quelle ville la Coalition s'est-elle réunie ?", hit)[0] == "Paris"
    assert _read("Aux côtés de quel pays la Coalition s'est-elle réunie ?", hit)[0] == "Ukraine"
    only_country = _hit(text, [_at(text, "Ukraine", LOC)])
    assert _read("Dans quelle ville la Coalition s'est-elle réunie ?", only_country) == (
        None,
        "aucun des passages ne nomme de ville",
    )


def test_amounts_and_percentages_found_and_not_found() -> None:
    text = "Le ministère consacre 182 millions d'euros à l'action extérieure, soit 12 % de plus qu'en 2025."
    hit = _hit(text, [_at(text, "182 millions d'euros", AMOUNT, "EUR"), _at(text, "12 %", PERCENT), _at(text, "2025", DATE)])
    assert _read("Quel budget le ministère consacre-t-il à l'action extérieure ?", hit)[0] == "182 millions d'euros"
    assert _read("By what percentage does the ministry raise its spending?", hit)[0] == "12 %"
    bare = _hit(RUSSIA, RUSSIA_ANN)
    assert _read("Quel est le budget annuel de Cités Unies France ?", bare) == (None, "aucun des passages ne donne un montant")
    assert _read("Quel taux de participation a été annoncé ?", bare) == (None, "aucun des passages ne donne un pourcentage")


def test_the_answer_carries_its_hit_sentence_and_offsets() -> None:
    first = _hit(SOLIDARITY, SOLIDARITY_ANN, rank=1)
    second = _hit(RUSSIA, RUSSIA_ANN, [0.70, 0.86], rank=2)
    typed = question_type("How many local authorities take part?")
    assert typed is not None
    answer = read(typed, "How many local authorities take part?", [first, second]).answer
    assert answer is not None and (answer.rank, answer.kind, answer.label) == (2, "count", COUNT)
    assert RUSSIA[answer.start : answer.end] == "Plus de 50"
    start, end = answer.sentence
    assert RUSSIA[start:end] == "Plus de 50 collectivités sont vouées à participer aux activités de ce groupe-pays."
    # Only the ``depth`` best hits are read.
    assert read(typed, "How many local authorities take part?", [first, second], depth=1).answer is None


def test_answering_sentences_ways() -> None:
    text = "Première phrase assez longue pour compter. Deuxième phrase assez longue aussi. Troisième phrase enfin là."
    hit = _hit(text, [], [0.80, 0.85, 0.83])
    assert answering_sentences(hit, "top1") == [1]
    assert answering_sentences(hit, "top2") == [1, 2]
    assert answering_sentences(hit, "margin", 0.03) == [1, 2]
    assert answering_sentences(hit, "margin", 0.01) == [1]
    assert set(answering_sentences(hit, "highlight")) <= set(answering_sentences(hit, "highlight+margin", 0.03))
    with pytest.raises(ValueError, match="unknown answering"):
        answering_sentences(hit, "all")


@pytest.mark.parametrize(
    ("question", "fr", "en"),
    [
        ("Combien d'élus ont été tués ?", "aucun des passages ne donne un nombre d'élus",
         "none of the passages gives a number of officials"),
        ("How many refugees were taken in?", "aucun des passages ne donne un nombre de réfugiés",
         "none of the passages gives a number of refugees"),
        ("Which minister replied?", "aucun des passages ne nomme de ministre", "none of the passages names a minister"),
        ("Quelle ville est jumelée avec Odessa ?", "aucun des passages ne nomme de ville", "none of the passages names a city"),
        ("When did Sweden join NATO?", "aucun des passages ne donne une date", "none of the passages gives a date"),
        ("How much money was raised?", "aucun des passages ne donne un montant", "none of the passages gives an amount of money"),
        ("Qui a gagné ?", "aucun des passages ne donne le nom d'une personne", "none of the passages gives the name of a person"),
    ],
)  # fmt: skip
def test_what_is_missing_in_words(question: str, fr: str, en: str) -> None:
    typed = question_type(question)
    assert typed is not None
    assert (missing_text(typed, "fr"), missing_text(typed, "en"), missing_text(typed, "und")) == (fr, en, en)


def test_the_question_words_near_the_answer_count_across_languages() -> None:
    # Two names as close to the question as each other; the English question's "mayor" stands near the French "maire"
    # of one of them (the bilingual noun groups of rag.retrieve.nouns), as "maire" would in a French question.
    text = "Le groupe réunit Jean Valère, président du réseau, et Marie Rocher, maire de Lunel depuis 2020."
    hit = _hit(text, [_at(text, "Jean Valère", PER), _at(text, "Marie Rocher", PER)])
    assert _read("Who is the mayor in the group?", hit)[0] == "Marie Rocher"
    assert _read("Who is the president in the group?", hit)[0] == "Jean Valère"


# The signature block of 2025-07-03_lettre_cooperation-decentralisee.md as the index keeps it: one line a sentence,
# the name on one line, the offices on the next ones.
SIGNATURES = [
    "Philippe Laurent, Président de l'Association", "Française du Conseil des", "Communes et Régions d'Europe",
    "Maire de Sceaux", "Michaël Delafosse, Président de Cités Unies\nFrance", "Maire de Montpellier et",
    "Président de Montpellier", "Méditerranée Métropole", "Anne Hidalgo, Présidente de l'Association",
    "Internationale des Maires", "Francophones", "Maire de Paris",
]  # fmt: skip


def _signatures(best_line: str) -> HitText:
    text = "\n".join(SIGNATURES)
    spans, at = [], 0
    for line in SIGNATURES:
        spans.append((at, at + len(line)))
        at += len(line) + 1
    found = [_at(text, name, PER) for name in ("Philippe Laurent", "Michaël Delafosse", "Anne Hidalgo")]
    # The line most similar to the question is not the name's line: the block of lines answers at its similarity.
    sims = [0.9 if line == best_line else 0.75 for line in SIGNATURES]
    return HitText(1, text, spans, sims, found)


def test_a_block_of_lines_is_read_whole_one_signatory_at_a_time() -> None:
    hit = _signatures("Président de Montpellier")
    assert line_blocks(hit) == [0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8]
    assert _read("Qui est à la tête de Montpellier Méditerranée Métropole ?", hit)[0] == "Michaël Delafosse"
    question = "Which elected official chairs the International Association of Francophone Mayors?"
    assert _read(question, _signatures("Francophones"))[0] == "Anne Hidalgo"
    assert _read("Qui est maire de Sceaux ?", _signatures("Maire de Sceaux"))[0] == "Philippe Laurent"
    # Sentences that end are no block: each is read alone.
    assert line_blocks(_hit(RUSSIA, RUSSIA_ANN)) == [0, 1]
