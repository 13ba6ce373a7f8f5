"""rag.retrieve.answer_kind: which questions ask for a figure, and which texts give one (hand-made cases, both languages)."""

from __future__ import annotations

import pytest

from rag.i18n import TEXTS
from rag.retrieve.answer_kind import KINDS, asked_for, missing_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Quel taux de participation a été annoncé pour le référendum ?", "percentage"),
        ("What turnout was announced for the referendum?", "percentage"),
        ("Quelle part du budget va à la culture ?", "percentage"),  # a share: more specific than the budget
        ("Quel est le budget annuel de Cités Unies France ?", "amount"),
        ("What is Cités Unies France's annual budget?", "amount"),
        ("Combien coûte la rénovation ?", "amount"),  # before "combien": a cost, not a count
        ("Combien coûtera la nouvelle bibliothèque ?", "amount"),
        ("How much does the new library cost?", "amount"),
        ("Combien d’argent la ville a-t-elle reçu ?", "amount"),  # typographic apostrophe
        ("Quel montant la ville a-t-elle reçu ?", "amount"),
        ("À combien s'élève le budget de la coopération ?", "amount"),
        ("What was the total cost of the programme?", "amount"),
        ("What annual budget does the network have?", "amount"),  # as "Quel budget annuel…"
        ("What amount of the world's carbon is stored in the forest?", None),  # a quantity (XQuAD)
        ("What amount do the signatories ask for in the budget?", "amount"),
        # Naming a budget or a year is not asking for one (the case of issue 13)
        ("Que demandent les signataires aux ministres pour le budget 2026 ?", None),
        ("What do the mayors ask of the 2026 budget debate?", None),
        ("Quelles coupes budgétaires les collectivités redoutent-elles ?", None),
        ("En quelle année le réseau a-t-il été créé ?", "date"),
        ("À quelle date la résolution a-t-elle été adoptée ?", "date"),
        ("On what date did Russian troops enter Ukraine?", "date"),
        ("Combien de collectivités participent ?", "number"),
        ("How many soldiers will France send?", "number"),
        ("Quel nombre de villes est concerné ?", "number"),
    ],
)
def test_questions_asking_for_a_figure(question: str, kind: str | None) -> None:
    found = asked_for(question)
    assert (found.name if found is not None else None) == kind


@pytest.mark.parametrize(
    "question",
    [
        "Qui dirigera le dispositif de surveillance de la trêve ?",
        "Where will the coordination cell be based?",
        "Quand la nouvelle bibliothèque ouvrira-t-elle ?",  # "when" answers are too varied ("dès que…") to check
        "Quel prix a reçu la ville ?",  # an award, not a price
        "Comment l'OTAN décrit-elle sa propre nature ?",
        "Un taxi ?",  # "taux" must be a word, not part of one
    ],
)
def test_questions_asking_for_no_checkable_figure(question: str) -> None:
    assert asked_for(question) is None


@pytest.mark.parametrize(
    ("kind", "text", "holds"),
    [
        ("percentage", "Le taux atteint 97 % selon les autorités.", True),
        ("percentage", "Council tax will rise by 2.9 per cent.", True),
        ("percentage", "La moitié des communes ont répondu.", True),
        ("percentage", "Les référendums sont une violation du droit international.", False),
        ("amount", "Un budget de 182 millions d'euros.", True),
        ("amount", "A loan of 45 million pounds.", True),
        ("amount", "Le coût est de 3 000 €.", True),
        ("amount", "Plus de 50 collectivités sont vouées à participer.", False),
        ("date", "adoptée le 2 mars 2022", True),
        ("date", "née dans les années 1960", True),
        ("date", "in the autumn of next year", True),
        ("date", "dès qu'un cessez-le-feu sera en vigueur", False),
        ("number", "Plus de 50 collectivités", True),
        ("number", "plusieurs dizaines de villes", True),
        ("number", "a dozen cities", True),
        ("number", "une seule fois", True),
        ("number", "La Russie porte l'entière responsabilité de la guerre.", False),
    ],
)
def test_texts_that_give_a_figure(kind: str, text: str, holds: bool) -> None:
    assert next(k for k in KINDS if k.name == kind).found_in(text) is holds


def test_missing_kind_needs_every_text_to_lack_it() -> None:
    question = "Quel est le budget annuel de Cités Unies France ?"
    assert missing_kind(question, ["Cités Unies France est une association.", "Elle fédère des collectivités."]) == "amount"
    assert missing_kind(question, ["Cités Unies France est une association.", "Son budget : 2 M€."]) is None
    assert missing_kind(question, []) == "amount"  # nothing retrieved gives nothing
    assert missing_kind("Qui préside Cités Unies France ?", ["Aucun chiffre ici."]) is None


def test_every_kind_is_named_in_both_languages() -> None:
    for lang in ("en", "fr"):
        named = {key.removeprefix("kind.") for key in TEXTS[lang] if key.startswith("kind.")}
        assert named == {k.name for k in KINDS}
