"""Question sets: loading with clear errors, quote matching across typography and line breaks, BEIR folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.evaluation.questions import (
    Answer,
    Question,
    load_beir,
    load_questions,
    matched_answers,
    normalize_for_match,
)

# --- normalize_for_match ---------------------------------------------------------------------------------------


def _found(quote: str, passage: str) -> bool:
    return normalize_for_match(quote) in normalize_for_match(passage)


def test_normalize_basics() -> None:
    assert normalize_for_match("  La  **Russie**\n porte ") == "la russie porte"
    assert normalize_for_match("« Quoi ? » — dit-il.") == "quoi ditil"
    assert normalize_for_match("E\u0301TAT") == normalize_for_match("État")  # NFD input
    assert normalize_for_match("100\u202f000\u00a0€") == "100 000 €"  # narrow and non-breaking spaces
    assert normalize_for_match("__gras__ et # titre") == "gras et titre"
    assert normalize_for_match("") == ""


@pytest.mark.parametrize(
    ("quote", "passage"),
    [
        ("collectivités", "les collecti-\nvités territoriales"),  # end-of-line hyphenation joined
        ("collectivités", "les collecti-\n  vités"),
        ("collectivités", "les collecti\u00ad\nvités"),  # soft hyphen
        ("groupe-pays", "le groupe-\npays Russie"),  # the quote kept the hyphen of a broken compound
        ("groupe-pays", "le groupepays Russie"),  # ... which the passage lost
        ("groupepays", "le groupe-pays Russie"),  # ... and the other way round
        ("franco-russe", "coopération franco- russe"),
        ("franco-russe", "coopération franco-russe"),
        ("franco‑russe", "coopération franco-russe"),  # non-breaking hyphen U+2011
        ("cessez-le-feu", "un cessez‑le‑feu durable"),
        ("l’Ukraine", "soutien à l'Ukraine"),
        ("l'Ukraine", "soutien à l’Ukraine"),
        ("l'Ukraine", "soutien à lʼUkraine"),  # modifier letter apostrophe
        ("LA RUSSIE PORTE", "**La Russie** porte"),
        ("2 mars 2022", "adoptée le 2\nmars 2022."),
        ("Paris – Kyiv", "l'axe Paris - Kyiv"),  # en dash vs hyphen-minus
    ],
)
def test_quotes_match_across_typography(quote: str, passage: str) -> None:
    assert _found(quote, passage)


@pytest.mark.parametrize(
    ("quote", "passage"),
    [
        ("collectivités", "les collectivés"),
        ("Russie", "la Prusse"),
        ("2 mars 2022", "le 20 mars 2022"),
        ("entière responsabilité", "entière\n\nculpabilité"),
    ],
)
def test_different_text_does_not_match(quote: str, passage: str) -> None:
    assert not _found(quote, passage)


def test_matched_answers_checks_source_and_quote() -> None:
    q = Question("q1", "?", "fr", (Answer("a.txt", "porte l’entière responsabilité"),))
    text = "La Russie porte l'entière\nresponsabilité de la guerre."
    assert matched_answers(q, "a.txt", text) == q.answers
    assert matched_answers(q, "b.txt", text) == ()  # same words, other document
    assert matched_answers(q, "a.txt", "La Russie porte la responsabilité.") == ()
    anywhere = Question("q2", "?", "fr", (Answer(None, "porte l'entière responsabilité"), Answer("a.txt", "guerre")))
    assert matched_answers(anywhere, "b.txt", text) == (anywhere.answers[0],)
    assert matched_answers(anywhere, "a.txt", text) == anywhere.answers
    assert matched_answers(Question("q3", "?", "fr", ()), "a.txt", text) == ()


# --- load_questions --------------------------------------------------------------------------------------------


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _line(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_load_questions(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _line(id="fr-01", question="Qui ?", lang="fr", answers=[{"source": "a.txt", "quote": "la Russie"}]),
        "",
        "   ",
        _line(id="x-na", question="Quoi ?", answers=[]),
        _line(id="en-01", question="Who?", lang="en", answers=[{"quote": "la Russie"}, {"source": None, "quote": "l'OTAN"}]),
    )
    questions = load_questions(path, known_sources={"a.txt"})
    assert [q.id for q in questions] == ["fr-01", "x-na", "en-01"]
    assert questions[0] == Question("fr-01", "Qui ?", "fr", (Answer("a.txt", "la Russie"),))
    assert questions[1].lang == "und"
    assert questions[1].no_answer and not questions[0].no_answer
    assert questions[2].answers == (Answer(None, "la Russie"), Answer(None, "l'OTAN"))


GOOD = _line(id="q1", question="Qui ?", answers=[{"source": "a.txt", "quote": "x y"}])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "q2", "question": "Qui ?"', r"line 2: invalid JSON .*one complete JSON object per line"),
        ('["q2"]', r"line 2: expected a JSON object"),
        (_line(question="Qui ?", answers=[]), r'line 2: missing field "id"'),
        (_line(id="q2", answers=[]), r'line 2: missing field "question"'),
        (_line(id="q2", question="  ", answers=[]), r'line 2: "question" must be a non-empty string'),
        (_line(id=2, question="Qui ?", answers=[]), r'line 2: "id" must be a non-empty string'),
        (_line(id="q2", question="Qui ?", lang=3, answers=[]), r'"lang" must be a non-empty string'),
        (_line(id="q2", question="Qui ?"), r'line 2: missing field "answers".*"answers": \[\]'),
        (_line(id="q2", question="Qui ?", answers="x"), r'"answers" must be a list'),
        (_line(id="q2", question="Qui ?", answers=["x"]), r"line 2, answer 1: each answer must be an object"),
        (_line(id="q2", question="Qui ?", answers=[{"source": "a.txt"}]), r'answer 1: missing field "quote"'),
        (_line(id="q2", question="Qui ?", answers=[{"quote": ""}]), r'"quote" must be a non-empty string'),
        (_line(id="q2", question="Qui ?", answers=[{"quote": " … "}]), r"no letters or digits"),
        (_line(id="q2", question="Qui ?", answers=[{"source": 5, "quote": "x"}]), r'"source" must be a file name'),
        (_line(id="q1", question="Qui ?", answers=[]), r"line 2: duplicate id 'q1' \(first used on line 1\)"),
        (
            _line(id="q2", question="Qui ?", answers=[{"source": "c.txt", "quote": "x"}]),
            r"line 2, answer 1: source 'c.txt' is not an indexed document.*known: a\.txt, b\.txt",
        ),
    ],
)
def test_load_questions_errors_name_file_line_and_fix(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(BadInputError, match=message) as info:
        load_questions(path, known_sources={"a.txt", "b.txt"})
    assert str(path) in str(info.value)


def test_unknown_sources_are_accepted_without_a_list(tmp_path: Path) -> None:
    path = _write(tmp_path, _line(id="q", question="Qui ?", answers=[{"source": "c.txt", "quote": "x"}]))
    assert load_questions(path)[0].answers[0].source == "c.txt"


def test_load_questions_file_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        load_questions(tmp_path / "missing.jsonl")
    with pytest.raises(BadInputError, match="no questions"):
        load_questions(_write(tmp_path, "", ""))
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(_line(id="q", question="Où ?", answers=[]).encode("latin-1"))
    with pytest.raises(BadInputError, match="not UTF-8"):
        load_questions(latin1)


# --- load_beir -------------------------------------------------------------------------------------------------

# Excerpt in the layout of /work/shared/benchmarks/piaf_v1.1 (ids shortened).
CORPUS = [
    {"_id": "c1", "title": "Sport", "text": "Les dépenses des ménages représentent plus de 50 % de ces montants."},
    {"_id": "c2", "title": "Sport", "text": "Le Ministère de la Jeunesse et des Sports estime à 100 000 le nombre d'emplois."},
    {"_id": "c3", "text": "Sans titre."},
]
QUERIES = [
    {"_id": "p1", "text": "Combien de personnes travaillent au ministère des sports"},
    {"_id": "p2", "text": "Quel part du budget des ménages"},
    {"_id": "p3", "text": "Question sans jugement"},
]


def _beir(folder: Path, qrels: str, qrels_name: str = "qrels.tsv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in CORPUS) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in QUERIES) + "\n", encoding="utf-8")
    (folder / qrels_name).parent.mkdir(parents=True, exist_ok=True)
    (folder / qrels_name).write_text(qrels, encoding="utf-8")
    return folder


QRELS = "query-id\tcorpus-id\tscore\np1\tc2\t1\np2\tc1\t1\np2\tc3\t0\n"


def test_load_beir_top_level_qrels(tmp_path: Path) -> None:
    beir = load_beir(_beir(tmp_path / "set", QRELS))
    assert beir.corpus["c1"] == ("Sport", CORPUS[0]["text"])
    assert beir.corpus["c3"] == ("", "Sans titre.")
    assert beir.queries["p3"] == "Question sans jugement"
    assert beir.qrels == {"p1": {"c2": 1}, "p2": {"c1": 1, "c3": 0}}


def test_load_beir_qrels_test_split(tmp_path: Path) -> None:
    beir = load_beir(_beir(tmp_path / "set", QRELS, "qrels/test.tsv"))
    assert beir.qrels["p1"] == {"c2": 1}


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\np1\tc2\n", r"qrels\.tsv, line 2: expected 3 tab-separated columns"),
        ("query-id\tcorpus-id\tscore\np1\tc2\tyes\n", r"line 2: the score 'yes' is not an integer"),
        ("query-id\tcorpus-id\tscore\np9\tc2\t1\n", r"line 2: query-id 'p9' is not in queries\.jsonl"),
        ("query-id\tcorpus-id\tscore\np1\tc1\t1\np1\tc9\t1\n", r"line 3: corpus-id 'c9' is not in corpus\.jsonl"),
    ],
)
def test_load_beir_qrels_errors(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        load_beir(_beir(tmp_path / "set", qrels))


def test_load_beir_file_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a folder"):
        load_beir(tmp_path / "nothing")
    folder = _beir(tmp_path / "set", QRELS, "other.tsv")
    with pytest.raises(BadInputError, match=r"no qrels; expected .*qrels\.tsv or .*test\.tsv"):
        load_beir(folder)
    (folder / "qrels.tsv").write_text(QRELS, encoding="utf-8")
    with (folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"_id": "c1", "text": "again"}\n{"title": "no id"}\n')
    with pytest.raises(BadInputError, match=r"corpus\.jsonl, line 4: duplicate _id 'c1'"):
        load_beir(folder)
    (folder / "queries.jsonl").write_text('{"_id": "p1", "text": 3}\n', encoding="utf-8")
    (folder / "corpus.jsonl").write_text('{"_id": "c1", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=r'queries\.jsonl, line 1: "text" must be a string'):
        load_beir(folder)


# --- the shipped question sets ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["questions.jsonl", "heldout.jsonl"])
def test_shipped_question_sets_quote_their_documents(name: str) -> None:
    corpus = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "corpus").iterdir() if p.suffix in (".txt", ".md")}
    questions = load_questions(ROOT / "eval" / name, known_sources=set(corpus))
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        for answer in q.answers:
            assert answer.source is not None and matched_answers(q, answer.source, corpus[answer.source]), (q.id, answer)
    # Each English question translates the French one with the same id and has the same answers.
    by_id = {q.id: q for q in questions}
    for q in questions:
        if q.lang == "en":
            twin = by_id[q.id.replace("en-", "fr-", 1)]
            assert twin.lang == "fr" and twin.answers == q.answers, q.id
