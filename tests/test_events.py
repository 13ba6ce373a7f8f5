"""Events (rag.retrieve.events) and how reading weighs them: the question's verb or its noun picks the candidate whose
clause tells of the same happening, across French and English. Pure: passages of the shipped corpus written out with
the annotations the annotator finds, similarities given."""

from __future__ import annotations

from rag.ingest.annotations import DATE, Annotation
from rag.retrieve import events
from rag.retrieve.question_type import question_type
from rag.retrieve.read import HitText, of_event, read

# cuf_groupe-pays-russie.txt, as the index keeps it: the creation, the launch meeting, a birth further back.
CREATION = (
    "Le groupe-pays Russie a été créé lors de la réunion du bureau exécutif de Cités Unies France du 20 février 2013."
)
LAUNCH = (
    "La réunion de lancement du groupe-pays Russie s’est tenue le 12 février 2014 et la deuxième réunion le 30 juin "
    "2015, dans le cadre du Forum de l’Action Internationale des Collectivités (AICT)."
)
BIRTH = "La coopération entre collectivités locales françaises et russes est née dans les années 1960."


def _hit(rank: int, text: str, dates: list[str], sim: float) -> HitText:
    found = [Annotation(DATE, text.index(d), text.index(d) + len(d), d, "") for d in dates]
    return HitText(rank, text, [(0, len(text))], [sim], found)


def test_the_events_a_question_names_in_french_and_english() -> None:
    creation = events.asked("Quand le groupe-pays Russie a-t-il été créé ?")
    assert creation and creation == events.asked("When was the Russia country group created?")
    assert creation == events.asked("En quelle année l'association a-t-elle été fondée ?")
    assert creation == events.asked("What year was the network established?")
    held = events.asked("Quand a eu lieu la réunion ?")  # a two-word form
    assert held and held == events.asked("When did the meeting take place?") == events.asked("When was it held?")
    assert held != creation and not events.asked("Qui préside Cités Unies France ?")
    # "fonds" (funds) is no founding, a "form" no creation: forms are listed, not stemmed.
    assert not events.asked("Quel fonds finance la coopération ?") and not events.asked("In what form is it given?")


def test_a_clause_is_cut_at_semicolons_colons_and_brackets() -> None:
    text = "Le réseau a été créé en 2013 ; la réunion de lancement s’est tenue en 2014 (à Paris)."
    start = text.index("2014")
    lo, hi = events.clause(text, (0, len(text)), start, start + 4)
    assert text[lo:hi].strip() == "la réunion de lancement s’est tenue en 2014"
    assert events.told(text, lo, hi) == events.asked("When was it launched and held?")
    assert events.asked("created") & events.told(text, *events.clause(text, (0, len(text)), 24, 28))


def test_the_date_of_the_event_asked_is_preferred_to_a_closer_sentence_of_another_event() -> None:
    # The launch sentence is the more similar (as the embedder finds it); the question asks for the creation.
    hits = [_hit(1, LAUNCH, ["12 février 2014", "30 juin 2015"], 0.89), _hit(2, CREATION, ["20 février 2013"], 0.88),
            _hit(3, BIRTH, ["les années 1960"], 0.85)]  # fmt: skip
    for question in ("Quand le groupe-pays Russie a-t-il été créé ?", "When was the Russia country group created?"):
        typed = question_type(question)
        assert typed is not None
        answer = read(typed, question, hits).answer
        assert answer is not None and answer.text == "20 février 2013", question
    launch = "When was the launch meeting of the Russia country group held?"
    typed = question_type(launch)
    assert typed is not None
    answer = read(typed, launch, hits).answer
    assert answer is not None and answer.text == "12 février 2014"


def test_a_question_without_an_event_weighs_no_clause() -> None:
    hit = _hit(1, CREATION, ["20 février 2013"], 0.9)
    assert of_event(hit.annotations[0], "Quelle est la date de la réunion du bureau ?", hit, 0) == 0.0
    assert of_event(hit.annotations[0], "When was it created?", hit, 0) == 1.0
    assert of_event(hit.annotations[0], "When was it created and launched?", hit, 0) == 0.5
