"""rag.evaluation.run and rag.evaluation.report with a fake retriever returning prepared hits; numbers computed by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.evaluation import report, run
from rag.evaluation.questions import Answer, Question, load_questions
from rag.types import BELOW_NULL, Decision, DocumentInfo, Hit, Passage, Results
from tests.helpers import missing_decision

# Passages of a tiny corpus: (id, source, text).
PASSAGES = {
    "a1": ("a.txt", "La Russie porte l’entière\nresponsabilité de la guerre."),
    "a2": ("a.txt", "La résolution fut adoptée le 2 mars 2022 par l'Assemblée."),
    "a3": ("a.txt", "Les Alliés ne reconnaîtront jamais ces référendums."),
    "b1": ("b.txt", "Le groupe-\npays Russie fut créé en 2014."),
    "b2": ("b.txt", "Les collecti-\nvités territoriales coopèrent."),
}


def _hit(pid: str, rank: int) -> Hit:
    source, text = PASSAGES[pid]
    passage = Passage(id=pid, source=source, paragraph=rank, start=0, end=len(text), text=text)
    document = DocumentInfo(source=source, title=source)
    return Hit(passage=passage, document=document, score=1.0 - rank / 10, rank=rank)


class FakeRetriever:
    """Returns the prepared passage ids for each question text; records the calls."""

    def __init__(
        self, answers: dict[str, list[str]], abstain: frozenset[str] = frozenset(), missing: dict[str, str] | None = None
    ) -> None:
        self.answers = answers
        self.abstain = abstain
        self.missing = missing or {}
        self.calls: list[tuple[str, int]] = []

    def search(self, query: str, k: int = 5, *, mode: str | None = None) -> Results:
        self.calls.append((query, k))
        missing = self.missing.get(query)
        hits = tuple(_hit(pid, i) for i, pid in enumerate(self.answers[query][:k], start=1))
        if missing is not None:
            return Results(query, hits, missing_decision(missing))
        return Results(query, hits, Decision(True, BELOW_NULL) if query in self.abstain or not hits else Decision())


QUESTIONS = [
    Question("q1", "Qui est responsable ?", "fr", (Answer("a.txt", "porte l'entière responsabilité"),)),
    Question("q2", "Quand la résolution ?", "fr", (Answer("a.txt", "adoptée le 2 mars 2022"),)),
    Question("q3", "When was the group created?", "en", (Answer("b.txt", "groupe-pays Russie fut créé"),)),
    Question("q4", "What about Mars?", "en", ()),
    Question("q5", "Who won the cup?", "en", ()),
    Question("q6", "Weather tomorrow?", "en", ()),
]
# q1: quote at rank 1. q2: quote at rank 2 (rank 1 is the right document). q3: not retrieved, and the retriever
# abstains (a false abstention). q4: abstains (right). q5: answers although it should not. q6: no hit (abstains).
HITS_A = {
    "Qui est responsable ?": ["a1", "a3"],
    "Quand la résolution ?": ["a3", "a2", "b2"],
    "When was the group created?": ["a1", "a3"],
    "What about Mars?": ["a2"],
    "Who won the cup?": ["b2", "a3"],
    "Weather tomorrow?": [],
}
ABSTAIN_A = frozenset({"When was the group created?", "What about Mars?"})


@pytest.fixture
def result_a() -> run.EvalResult:
    return run.run_eval(FakeRetriever(HITS_A, ABSTAIN_A), QUESTIONS, k=10, manifest={"embedder": "fake"})


def test_per_question_results(result_a: run.EvalResult) -> None:
    by_id = {r.id: r for r in result_a.questions}
    assert [(r.rank, r.doc_rank) for r in result_a.questions[:3]] == [(1, 1), (2, 1), (None, None)]
    assert {r.id for r in result_a.questions if r.abstained} == {"q3", "q4", "q6"}
    assert by_id["q4"].no_answer and not by_id["q1"].no_answer
    q2 = by_id["q2"]
    assert [(h.rank, h.id, h.source, h.relevant) for h in q2.hits] == [
        (1, "a3", "a.txt", False),
        (2, "a2", "a.txt", True),
        (3, "b2", "b.txt", False),
    ]
    assert q2.hits[0].score == pytest.approx(0.9)
    assert q2.answers == QUESTIONS[1].answers


def test_overall_metrics(result_a: run.EvalResult) -> None:
    m = result_a.metrics["overall"]
    assert (m["n_questions"], m["n_answerable"], m["n_no_answer"], m["n_abstained"]) == (6, 3, 3, 3)
    # Answerable questions q1, q2, q3 with the quote at ranks 1, 2 and none.
    assert m["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-6)
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["recall@3"] == m["recall@5"] == m["recall@10"] == pytest.approx(2 / 3, abs=1e-6)
    # One gold passage each: nDCG = 1, 1/log2(3), 0.
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0) / 3, abs=1e-6)
    # Document level: q1 and q2 have a.txt first; q3's b.txt never comes back.
    assert m["doc_recall@1"] == m["doc_recall@10"] == pytest.approx(2 / 3, abs=1e-6)
    # Abstained on q3, q4, q6; no-answer questions are q4, q5, q6.
    assert m["abstention_precision"] == pytest.approx(2 / 3, abs=1e-6)  # q4, q6 of 3 abstentions
    assert m["abstention_recall"] == pytest.approx(2 / 3, abs=1e-6)  # q4, q6 of 3 no-answer questions
    assert m["false_abstention_rate"] == pytest.approx(1 / 3, abs=1e-6)  # q3 of 3 answerable questions


def test_metrics_per_language(result_a: run.EvalResult) -> None:
    fr, en = result_a.metrics["by_lang"]["fr"], result_a.metrics["by_lang"]["en"]
    assert list(result_a.metrics["by_lang"]) == ["en", "fr"]
    assert fr["mrr@10"] == pytest.approx(0.75)  # (1 + 1/2) / 2
    assert fr["recall@1"] == 0.5
    # fr has no no-answer question and no abstention: the empty ratios take their perfect values.
    assert (fr["abstention_precision"], fr["abstention_recall"], fr["false_abstention_rate"]) == (1.0, 1.0, 0.0)
    assert en["mrr@10"] == 0.0
    assert en["false_abstention_rate"] == 1.0  # q3, the only answerable en question


def test_group_without_answerable_question_has_no_ranking_metrics() -> None:
    result = run.run_eval(FakeRetriever(HITS_A), [QUESTIONS[4]], k=10)
    m = result.metrics["overall"]
    assert m["mrr@10"] is None and m["recall@1"] is None and m["ndcg@10"] is None
    assert m["abstention_recall"] == 0.0


def test_retriever_gets_question_and_k() -> None:
    fake = FakeRetriever(HITS_A)
    result = run.run_eval(fake, QUESTIONS[:2], k=3)
    assert fake.calls == [("Qui est responsable ?", 3), ("Quand la résolution ?", 3)]
    # Only the cutoffs that fit in k; mrr and ndcg at k.
    assert [n for n in result.metrics["overall"] if "@" in n] == [
        "recall@1",
        "recall@3",
        "doc_recall@1",
        "doc_recall@3",
        "mrr@3",
        "ndcg@3",
    ]


def test_ndcg_ideal_counts_distinct_answers() -> None:
    two = Question("m", "Deux réponses ?", "fr", (Answer("a.txt", "adoptée le 2 mars"), Answer("b.txt", "collectivités")))
    # Only the first answer is retrieved, at rank 1. Ideal: two relevant passages → DCG 1 + 1/log2(3).
    result = run.run_eval(FakeRetriever({"Deux réponses ?": ["a2", "a3"]}), [two], k=10)
    assert result.metrics["overall"]["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)), abs=1e-6)
    # Any one answer is enough for recall.
    assert result.metrics["overall"]["recall@1"] == 1.0
    # One answer whose quote is in two passages, ranked 1 and 2: the ideal grows to two, so nDCG is 1, not above.
    twice = Question("t", "Russie ?", "fr", (Answer(None, "Russie"),))
    result = run.run_eval(FakeRetriever({"Russie ?": ["a1", "b1", "a3"]}), [twice], k=10)
    assert result.metrics["overall"]["ndcg@10"] == 1.0
    assert result.questions[0].doc_rank == 1  # no source named: a passage with the quote counts for its document


def test_hit_order_beats_scores() -> None:
    # Retrievers may return equal scores; the hit order is what counts.
    class Flat(FakeRetriever):
        def search(self, query: str, k: int = 5, *, mode: str | None = None) -> Results:
            found = super().search(query, k)
            return Results(query, tuple(Hit(h.passage, h.document, 0.5, h.rank) for h in found), found.decision)

    result = run.run_eval(Flat({"Quand la résolution ?": ["a3", "a2"]}), [QUESTIONS[1]], k=10)
    assert result.questions[0].rank == 2  # a2 is second although "a2" < "a3" would sort it first on a tie


def test_run_eval_input_errors() -> None:
    with pytest.raises(BadInputError, match="empty"):
        run.run_eval(FakeRetriever({}), [], k=10)
    with pytest.raises(BadInputError, match="k must be"):
        run.run_eval(FakeRetriever(HITS_A), QUESTIONS, k=0)
    with pytest.raises(BadInputError, match="duplicate question id 'q1'"):
        run.run_eval(FakeRetriever(HITS_A), [QUESTIONS[0], QUESTIONS[0]], k=10)


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run.run_eval(FakeRetriever(HITS_A), QUESTIONS, k=10, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "6/6" in err


def test_to_dict_is_json_ready(result_a: run.EvalResult) -> None:
    data = json.loads(json.dumps(result_a.to_dict()))
    assert data["k"] == 10 and data["manifest"] == {"embedder": "fake"}
    q3 = data["questions"][2]
    assert q3["rank"] is None and q3["abstained"] is True
    assert q3["answers"] == [{"source": "b.txt", "quote": "groupe-pays Russie fut créé"}]
    assert q3["hits"][0]["text"].startswith("La Russie porte")
    assert data["metrics"]["overall"]["mrr@10"] == 0.5


def test_text_excerpt_is_cut() -> None:
    long = Question("l", "Long ?", "fr", (Answer(None, "zzz"),))

    class Long:
        def search(self, query: str, k: int = 5, *, mode: str | None = None) -> Results:
            text = "mot " * 100
            p = Passage(id="x", source="c.txt", paragraph=1, start=0, end=len(text), text=text)
            return Results(query, (Hit(p, DocumentInfo("c.txt", "c"), 1.0, 1),))

    result = run.run_eval(Long(), [long], k=10)
    assert len(result.questions[0].hits[0].text) == run.EXCERPT_CHARS


def test_git_commit_and_file_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commit = run.git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    assert run.git_commit(tmp_path) is None  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert run.git_commit() is None
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"abc")
    assert run.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(BadInputError, match="cannot read"):
        run.file_sha256(tmp_path / "missing")


# --- reports ---------------------------------------------------------------------------------------------------


def test_write_reports(tmp_path: Path, result_a: run.EvalResult) -> None:
    data = result_a.to_dict()
    paths = report.write_reports(data, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "recall.png"]
    assert all(p.is_file() for p in paths)
    assert json.loads(paths[0].read_text(encoding="utf-8")) == data
    assert paths[2].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    md = paths[1].read_text(encoding="utf-8")
    assert "- embedder: `fake`" in md
    assert "| mrr@10 | 0.500 | 0.000 | 0.750 |" in md
    assert "abstained on 2 of 3 no-answer questions" in md
    assert "abstained on 1 of 3 answerable questions" in md
    # q2 failed at rank 1: its expected quote, its rank and what came first instead.
    assert "### q2 (fr): first relevant 2" in md
    assert "expected: «adoptée le 2 mars 2022» in `a.txt`" in md
    assert "first hit instead: `a.txt` (score 0.900): “Les Alliés ne reconnaîtront jamais" in md
    assert "### q3 (en): first relevant not in top 10" in md
    assert "### q1" not in md.split("## Abstention errors")[0]  # found at rank 1: not a failure
    assert "### q5 (en): answered although no document answers" in md
    assert "### q3 (en): abstained on an answerable question" in md


def test_reports_say_which_missing_figure_made_a_question_abstain(tmp_path: Path) -> None:
    fake = FakeRetriever(HITS_A, missing={"Quand la résolution ?": "date"})
    data = run.run_eval(fake, QUESTIONS[:2], k=10).to_dict()
    assert [(q["id"], q["abstained"], q["missing"]) for q in data["questions"]] == [("q1", False, None), ("q2", True, "date")]
    md = report.write_reports(data, tmp_path)[1].read_text(encoding="utf-8")
    block = md.split("### q2 (fr): abstained on an answerable question")[1]
    assert (
        "- flagged: Nothing in the corpus seems to answer this question: none of the passages gives a date."
        in (block.split("###")[0])
    )


def test_write_reports_rejects_other_dicts(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not an evaluation result"):
        report.write_reports({"foo": 1}, tmp_path)
    assert not list(tmp_path.iterdir())


def test_format_summary(result_a: run.EvalResult) -> None:
    text = report.format_summary(result_a.to_dict())
    lines = text.splitlines()
    assert lines[0] == "Retrieval evaluation (top 10)"
    assert lines[1].split() == ["metric", "all", "en", "fr"]
    assert re.search(r"^mrr@10\s+0\.500\s+0\.000\s+0\.750$", text, re.M)
    assert re.search(r"^false abstention rate\s+0\.333\s+1\.000\s+0\.000$", text, re.M)


def test_compare_reports_shows_deltas_and_rank_changes(result_a: run.EvalResult) -> None:
    # B finds q2's quote first and q3's at rank 2.
    hits_b = dict(HITS_A, **{"Quand la résolution ?": ["a2"], "When was the group created?": ["a1", "b1"]})
    result_b = run.run_eval(FakeRetriever(hits_b), QUESTIONS, k=10)
    text = report.compare_reports(result_a.to_dict(), result_b.to_dict())
    # mrr@10: A (1 + 1/2 + 0)/3 = 0.500, B (1 + 1 + 1/2)/3 = 0.833.
    assert re.search(r"^mrr@10\s+0\.500\s+0\.833\s+\+0\.333$", text, re.M)
    assert re.search(r"^abstained\s+3\s+1\s+-2$", text, re.M)
    assert "[all]" in text and "[fr]" in text and "[en]" in text
    assert re.search(r"^q2\s+2 → 1$", text, re.M)
    assert re.search(r"^q3\s+not in top 10 → 2$", text, re.M)
    assert "q1 " not in text
    # Reciprocal ranks A (1, 1/2, 0), B (1, 1, 1/2): differences (0, +0.5, +0.5); the two non-zero ones flip to sums
    # ±1 or 0, so 2 of the 4 assignments are as extreme as the observed +1: p = 0.5.
    significance = r"^  all: \+0\.333 \(95% CI .*; p = 0\.500, paired randomization test; 2 up, 0 down, 1 unchanged\)$"
    assert re.search(significance, text, re.M)
    assert "over the 3 answerable questions of both reports" in text
    same = report.compare_reports(result_a.to_dict(), result_a.to_dict())
    assert "unchanged for every question" in same
    assert re.search(r"^  all: \+0\.000 .*p = 1\.000", same, re.M)


def test_compare_warns_on_different_question_sets(result_a: run.EvalResult) -> None:
    a, b = result_a.to_dict(), result_a.to_dict()
    a["manifest"] = {"questions_sha256": "1"}
    b["manifest"] = {"questions_sha256": "2"}
    assert report.compare_reports(a, b).startswith("warning: A and B were run on different question sets")


def test_sets_with_kinds_get_the_share_flagged_of_each_kind() -> None:
    kinds = [
        Question("k1", "Qui est responsable ?", "fr", (Answer("a.txt", "porte l'entière responsabilité"),), "answerable"),
        Question("k2", "When was the group created?", "en", (Answer("b.txt", "groupe-pays Russie fut créé"),), "answerable"),
        Question("k3", "What about Mars?", "en", (), "off"),
        Question("k4", "Who won the cup?", "en", (), "near"),
        Question("k5", "Weather tomorrow?", "en", (), "off"),
    ]
    # k2 and k3 are flagged (FakeRetriever's abstain set and no hit), k4 and k5 answered: by hand, answerable 1/2,
    # near 0/1, off 1/2 overall; in English answerable 1/1, near 0/1, off 1/2.
    answers = {"Qui est responsable ?": ["a1"], "When was the group created?": ["b1"], "What about Mars?": [],
               "Who won the cup?": ["a2"], "Weather tomorrow?": ["a3"]}  # fmt: skip
    result = run.run_eval(FakeRetriever(answers, frozenset({"When was the group created?"})), kinds, k=10)
    overall, english = result.metrics["overall"], result.metrics["by_lang"]["en"]
    assert (overall["n_answerable"], overall["n_near"], overall["n_off"]) == (2, 1, 2)
    assert (overall["flagged_answerable"], overall["flagged_near"], overall["flagged_off"]) == (0.5, 0.0, 0.5)
    assert (english["flagged_answerable"], english["flagged_near"], english["flagged_off"]) == (1.0, 0.0, 0.5)
    assert "flagged_near" not in result.metrics["by_lang"]["fr"]  # no near-topic question in French
    assert [q["kind"] for q in result.to_dict()["questions"]] == ["answerable", "answerable", "off", "near", "off"]


def test_a_kind_must_match_the_answers(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q", "question": "Qui ?", "lang": "fr", "answers": [], "kind": "answerable"}\n', "utf-8")
    with pytest.raises(BadInputError, match="must have answers"):
        load_questions(path)
    path.write_text('{"id": "q", "question": "Qui ?", "lang": "fr", "answers": [], "kind": "elsewhere"}\n', "utf-8")
    with pytest.raises(BadInputError, match='"kind" must be one of answerable, near, off'):
        load_questions(path)
