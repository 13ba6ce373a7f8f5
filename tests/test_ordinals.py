"""Ordinals (rag.retrieve.ordinals) and typed reading of lists of ranked events (rag.retrieve.read): the date of "la
deuxième réunion" is the one written after "la deuxième réunion", a rank the passages do not hold is not answered by
another's date, ranks and dates written in pairs go together, and a rank in a standing ranks no event."""

from __future__ import annotations

from collections.abc import Sequence

from rag.ingest.annotations import DATE, LOC, ORG, Annotation
from rag.ingest.sentences import split_sentences
from rag.retrieve import ordinals
from rag.retrieve.question_type import question_type
from rag.retrieve.read import HitText, read


def _at(text: str, piece: str, kind: str) -> Annotation:
    start = text.index(piece)
    return Annotation(kind, start, start + len(piece), piece)


def _answer(question: str, text: str, annotations: Sequence[Annotation], sims: Sequence[float] | None = None) -> str | None:
    typed = question_type(question)
    assert typed is not None, question
    spans = split_sentences(text)
    hit = HitText(1, text, spans, list(sims) if sims is not None else [0.8] * len(spans), annotations, "fr")
    answer = read(typed, question, [hit]).answer
    return answer.text if answer else None


def test_ranks_and_the_nouns_they_rank() -> None:
    found = ordinals.find("la deuxième réunion, la 3ème séance, les 5ème et 6ème réunions, la réunion de lancement")
    assert [(o.rank, o.noun) for o in found] == [(2, "réunion"), (3, "séance"), (5, "réunions"), (6, "réunions"), (1, "réunion")]
    assert [(o.rank, o.noun) for o in ordinals.asked("When was the inaugural meeting held?")] == [(1, "meeting")]
    # Picking one of a set, and a rank in a standing, rank no event.
    assert ordinals.asked("On what date was the first of its two meetings held?") == ()
    assert ordinals.find("la quatrième place du tournoi, the world's second-largest exporter") == []
    assert ordinals.rank_of("7ème") == 7 and ordinals.rank_of("21st") == 21 and ordinals.rank_of("réunion") is None


# cuf_groupe-pays-russie.txt, as the index keeps it: one sentence, two meetings, two dates.
LAUNCH = (
    "La réunion de lancement du groupe-pays Russie s’est tenue le 12 février 2014 et la deuxième réunion le 30 juin "
    "2015, dans le cadre du Forum de l’Action Internationale des Collectivités (AICT). La 3ème réunion a eu lieu le 5 "
    "juillet 2016. Les 5ème et 6ème réunions se sont tenues lors des Rencontres de l’AICT de CUF, le 3 juillet 2019 et "
    "le 22 septembre 2020."
)
DATES = ("12 février 2014", "30 juin 2015", "5 juillet 2016", "3 juillet 2019", "22 septembre 2020")
LAUNCH_ANN = [_at(LAUNCH, d, DATE) for d in DATES]


def test_the_date_of_the_rank_asked() -> None:
    assert _answer("À quelle date s'est tenue la deuxième réunion du groupe-pays ?", LAUNCH, LAUNCH_ANN) == "30 juin 2015"
    assert _answer("When was the inaugural meeting of the country group held?", LAUNCH, LAUNCH_ANN) == "12 février 2014"
    # Ranks and dates in pairs: the fifth meeting's date is the first of the two.
    assert _answer("Quand la cinquième réunion a-t-elle eu lieu ?", LAUNCH, LAUNCH_ANN) == "3 juillet 2019"
    assert _answer("When did the sixth meeting take place?", LAUNCH, LAUNCH_ANN) == "22 septembre 2020"


def test_the_sentence_that_names_the_rank_answers_however_close_the_others_are() -> None:
    # The first sentence is by far the closest to the question; the third meeting's date is in the second.
    assert _answer("Quand la troisième réunion a-t-elle eu lieu ?", LAUNCH, LAUNCH_ANN, [0.90, 0.80, 0.78]) == "5 juillet 2016"


def test_a_rank_the_passages_do_not_hold_is_not_answered_by_another_ranks_date() -> None:
    assert _answer("Quand la huitième réunion du groupe-pays a-t-elle eu lieu ?", LAUNCH, LAUNCH_ANN) is None
    assert _answer("When was the eighth meeting held?", LAUNCH, LAUNCH_ANN) is None


# The corpus's list of Rencontres: an item runs over the sentences after its rank, until the next rank.
EVENTS = (
    "Organisées par l’Ambassade de France à Moscou, les rencontres franco-russes réunissent les collectivités. "
    "• la 2ème Rencontre franco-russe s’est déroulée à Saint-Pétersbourg avec le soutien du ministère russe du "
    "Développement régional. • la 3ème Rencontre franco-russe a été organisée à Strasbourg. Cités Unies France a "
    "participé à cet événement."
)
EVENTS_ANN = [
    _at(EVENTS, "Ambassade de France", ORG), _at(EVENTS, "Moscou", LOC), _at(EVENTS, "Saint-Pétersbourg", LOC),
    _at(EVENTS, "ministère russe du Développement régional", ORG),
    _at(EVENTS, "Strasbourg", LOC), _at(EVENTS, "Cités Unies France", ORG),
]  # fmt: skip


def test_an_item_of_a_list_runs_until_the_next_rank() -> None:
    question = "Quelle organisation a participé à la troisième Rencontre franco-russe ?"
    assert _answer(question, EVENTS, EVENTS_ANN, [0.80, 0.90, 0.85, 0.70]) == "Cités Unies France"
    assert _answer("Quelle organisation a soutenu la deuxième Rencontre ?", EVENTS, EVENTS_ANN) == (
        "ministère russe du Développement régional"
    )
    # What the passage says before its first item is about none of the ranked Rencontres: not the tenth one's place.
    tenth = "Où la dixième Rencontre franco-russe s'est-elle tenue ?"
    assert _answer(tenth, EVENTS, EVENTS_ANN, [0.95, 0.8, 0.8, 0.8]) is None


def test_a_question_without_a_rank_reads_as_before() -> None:
    # No rank asked: the closest sentence's date, as always.
    assert _answer("Quand le groupe-pays s'est-il réuni ?", LAUNCH, LAUNCH_ANN, [0.90, 0.80, 0.78]) == "12 février 2014"
