"""Question typing (rag.retrieve.question_type), French and English: the kind, its focus, and the questions that must
stay untyped (the budget/year misfire class among them)."""

from __future__ import annotations

import pytest

from rag.retrieve.question_type import (
    AMOUNT,
    COUNT,
    DATE,
    ORGANIZATION,
    PERCENTAGE,
    PERSON,
    PLACE,
    QuestionType,
    date_unit,
    question_type,
    singular,
)


@pytest.mark.parametrize(
    ("question", "kind", "focus"),
    [
        ("Combien de soldats la France va-t-elle envoyer en Ukraine ?", COUNT, "soldats"),
        ("How many soldiers will France send to Ukraine?", COUNT, "soldiers"),
        ("Combien d'élus locaux ukrainiens ont été tués ?", COUNT, "élus"),
        ("How many French local authorities run partnerships with foreign counterparts?", COUNT, "authorities"),
        ("How many people attended the Nice meeting in December 2012?", COUNT, "people"),
        # Adjectives joined by "and": the head noun comes after them.
        ("How many French local and regional authorities take part in partnerships?", COUNT, "authorities"),
        ("Dans combien de pays les collectivités françaises ont-elles des partenaires ?", COUNT, "pays"),
        ("Combien coûte le programme ?", AMOUNT, None),
        ("How much money did Cités Unies France raise for emergency aid?", AMOUNT, None),
        # "How much" with an auxiliary and a money verb several words on, as French "Combien coûtera…" is.
        ("How much will building the new town hall cost?", AMOUNT, None),
        ("How much does France contribute each year to the fund?", AMOUNT, None),
        ("How much does a first-class ticket cost?", AMOUNT, None),
        ("Quel budget le ministère consacre-t-il chaque année à la coopération décentralisée ?", AMOUNT, None),
        ("What annual budget does the French foreign ministry devote to decentralised cooperation?", AMOUNT, None),
        ("Quel pourcentage de « oui » les autorités d'occupation ont-elles annoncé ?", PERCENTAGE, None),
        ("What turnout did the occupation authorities claim for the vote in Luhansk?", PERCENTAGE, None),
        ("À quelle date l'Assemblée générale a-t-elle voté sa résolution ?", DATE, "date"),
        ("En quelle année la Russie a-t-elle annexé la Crimée ?", DATE, "année"),
        ("When did Sweden join NATO?", DATE, None),
        ("Quand la Finlande est-elle devenue membre de l'OTAN ?", DATE, None),
        ("In what century was the castle built?", DATE, "century"),
        ("Où sera installée la cellule de coordination ?", PLACE, None),
        ("Where will the coordination cell be based?", PLACE, None),
        ("Quelle ville a accueilli l'édition consacrée à l'innovation ?", PLACE, "ville"),
        ("Which Russian city hosted the second edition?", PLACE, "city"),
        ("Quel ministère appuie l'animation des groupes-pays ?", ORGANIZATION, "ministère"),
        ("Which mayors' network does Anne Hidalgo chair?", ORGANIZATION, "network"),
        ("Quel ministre a répondu à la lettre ?", PERSON, "ministre"),
        ("Which general will command the operational headquarters?", PERSON, "general"),
        ("Qui était le secrétaire général de l'OTAN en 2022 ?", PERSON, "secrétaire"),
        ("Who is the president of Cités Unies France?", PERSON, "president"),
        ("Quel membre du gouvernement russe a assisté à la réunion ?", PERSON, None),
        ("Combien de prix remporte-t-il ?", COUNT, "prix"),  # awards, not money
    ],
)
def test_kind_and_focus(question: str, kind: str, focus: str | None) -> None:
    typed = question_type(question)
    assert typed is not None and (typed.kind, typed.focus) == (kind, focus)


def test_the_language_of_the_rule_that_matched() -> None:
    assert question_type("Combien de pays ont signé ?") == QuestionType(COUNT, "pays", "fr")
    assert question_type("How many countries signed?") == QuestionType(COUNT, "countries", "en")


def test_who_without_a_noun_accepts_more_than_a_person() -> None:
    typed = question_type("Selon l'Alliance, à qui incombe la faute de ce conflit ?")
    assert typed == QuestionType(PERSON, None, "fr", strict=False)
    chair = question_type("Who chaired the launch meeting of the Russia country group?")
    assert chair is not None and (chair.kind, chair.focus, chair.strict) == (PERSON, "chair", False)


@pytest.mark.parametrize(
    "question",
    [
        # The known misfire class: a budget or a year named, not asked for.
        "À quel budget la lettre fait-elle référence ?",
        "Que demandent-ils pour le budget 2026 ?",
        "Which budget does the letter refer to?",
        "Quelle année thématique franco-russe le groupe-pays prévoyait-il d'aider à organiser ?",
        "Which Franco-Russian theme year did the country group plan to help organise?",
        # No kind rag can check.
        "Quel était le thème de la deuxième Rencontre franco-russe ?",
        "Comment l'OTAN décrit-elle sa propre nature ?",
        "Why did the Alliance condemn the referendums?",
        "Combien de temps dure le mandat ?",
        "How much does the statue weigh?",  # a quantity, not money
        "Quel prix la ville a-t-elle reçu ?",
        "Evolution of what part of the immune system occurred in jawed vertebrates?",
        "What is the time rate of change of electric charge?",
        "How and when did the first variant of Y. pestis enter Europe?",
        # Two questions in one.
        "Which country first proposed the Coalition of the Willing, and when?",
        "Où et quand la réunion s'est-elle tenue ?",
        # "qui" as a relative pronoun.
        "Pourquoi les élus qui ont signé la lettre s'inquiètent-ils ?",
        # "which" as a relative pronoun: an article follows it, no noun it asks about.
        "Once a breach of the truce has been examined, what else falls to the special commission on which the Coalition sits?",
        # An area is a zone, a field, as often as a place: untyped, as "Dans quelle zone…" is in French.
        "In which area does NATO say it will keep striving for peace, security and stability?",
        "Dans quelle zone l'OTAN dit-elle continuer de lutter pour la paix ?",
    ],
)
def test_untyped(question: str) -> None:
    assert question_type(question) is None


def test_plural_questions_and_units() -> None:
    regions = question_type("Quelles régions ont organisé les référendums fictifs ?")
    assert regions is not None and regions.plural and regions.focus == "régions"
    city = question_type("Which French city is twinned with Odesa?")
    assert city is not None and not city.plural
    assert date_unit(QuestionType(DATE, "années")) == "year" and date_unit(QuestionType(DATE, "day")) == "day"
    assert date_unit(QuestionType(DATE, None)) is None
    assert [singular(w, "fr") for w in ("villes", "pays", "généraux")] == ["ville", "pays", "général"]
    assert [singular(w, "en") for w in ("cities", "countries", "people", "regions")] == ["city", "country", "person", "region"]
