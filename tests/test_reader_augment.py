"""Training-time question augmentation of the reader (train/reader/augment.py): what it changes and what it keeps."""

from __future__ import annotations

import random

from train.reader.augment import entity_swap, paraphrase

GOLD = "Le traité de Lisbonne a été signé en 2007 par les chefs d'État, à l'initiative de la présidence portugaise."
OTHERS = ["Le traité de Nice, signé en 2001 sous la présidence française, réformait les institutions.",
          "La ratification par l'Irlande a échoué en 2008."]
NEIGHBOURS = {"signé": {"fr": ["paraphé"], "en": ["signed"]}, "traité": {"fr": ["accord"], "en": ["treaty"]}}


def test_entity_swap_replaces_a_number_the_gold_passage_holds_by_one_it_does_not() -> None:
    for seed in range(20):
        q = entity_swap("En quelle année le traité a-t-il été signé, en 2007 ?", GOLD, OTHERS, random.Random(seed))
        assert q is not None
        year = q.split("en ")[-1].rstrip(" ?")
        assert year in {"2001", "2008"}, q


def test_entity_swap_replaces_a_name_by_a_name_of_the_article() -> None:
    q = entity_swap("Quand le traité de Lisbonne a-t-il été signé ?", GOLD, OTHERS, random.Random(0))
    assert q == "Quand le traité de Nice a-t-il été signé ?"


def test_entity_swap_needs_something_to_swap() -> None:
    # nothing of the question is in the gold passage, or nothing of the same shape elsewhere
    assert entity_swap("Qui présidait la conférence ?", GOLD, OTHERS, random.Random(0)) is None
    assert entity_swap("Quand le traité de Lisbonne a-t-il été signé ?", GOLD, [], random.Random(0)) is None


def test_paraphrase_replaces_shared_words_by_neighbours_and_keeps_names_and_function_words() -> None:
    question = "Quand le traité de Lisbonne a-t-il été signé ?"
    english = paraphrase(question, GOLD, NEIGHBOURS, random.Random(0), english=1.0, rate=1.0)
    assert english == "Quand le treaty de Lisbonne a-t-il été signed ?"
    french = paraphrase(question, GOLD, NEIGHBOURS, random.Random(0), english=0.0, rate=1.0)
    assert french == "Quand le accord de Lisbonne a-t-il été paraphé ?"
    assert paraphrase(question, GOLD, NEIGHBOURS, random.Random(0), english=1.0, rate=0.0) == question
