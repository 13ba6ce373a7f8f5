"""``rag eval --trec FILE``: a TREC run file (``qid Q0 docid rank score run_name``) from an evaluation result."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from rag.cli import main
from rag.config import SETTINGS
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError
from rag.evaluation import report
from rag.index import build_index

TREC_LINE = r"^\S+ Q0 \S+ [1-9]\d* -?\d+\.\d{6} \S+$"


def _result(questions: list[dict[str, Any]]) -> dict[str, Any]:
    metrics = {"overall": {"n_questions": len(questions)}, "by_lang": {}}
    return {"k": 3, "manifest": {}, "metrics": metrics, "questions": questions}


def _question(qid: str, hits: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "id": qid,
        "lang": "fr",
        "question": "?",
        "answers": [],
        "no_answer": False,
        "abstained": False,
        "rank": None,
        "doc_rank": None,
        "hits": [
            {"rank": i, "id": pid, "source": pid.split(":")[0], "score": score, "text": "", "relevant": False}
            for i, (pid, score) in enumerate(hits, start=1)
        ],
    }


def test_trec_lines_on_a_tiny_result() -> None:
    result = _result(
        [
            _question("fr-01", [("a.txt:0-120", 0.91), ("b.md:452-905", 0.5), ("a.txt:120-300", 0.25)]),
            _question("fr-na-01", []),  # no hit: no line
            _question("en 02", [("mon dossier/c d.txt:10-20", 0.7)]),
        ]
    )
    lines = report.trec_run_lines(result, run_name="rag-hybrid")
    assert lines == [
        "fr-01 Q0 a.txt:0-120 1 0.910000 rag-hybrid",
        "fr-01 Q0 b.md:452-905 2 0.500000 rag-hybrid",
        "fr-01 Q0 a.txt:120-300 3 0.250000 rag-hybrid",
        "en%2002 Q0 mon%20dossier/c%20d.txt:10-20 1 0.700000 rag-hybrid",
    ]
    for line in lines:
        assert len(line.split()) == 6
    assert unquote("mon%20dossier/c%20d.txt:10-20") == "mon dossier/c d.txt:10-20"


def test_ids_are_one_column_and_reversible() -> None:
    for text in ["a b", "tab\there", "new\nline", "100%", "nbsp\u00a0x", "plain.txt:0-5"]:
        encoded = report.trec_id(text)
        assert len(encoded.split()) == 1 and unquote(encoded) == text
    assert report.trec_id("plain.txt:0-5") == "plain.txt:0-5"


def test_scores_keep_rag_order_for_trec_eval() -> None:
    # trec_eval sorts by score, not by the rank column: ties and inversions are nudged to be strictly decreasing.
    result = _result([_question("q", [("a:0-1", 0.8), ("b:0-1", 0.8), ("c:0-1", 0.9), ("d:0-1", -0.1)])])
    lines = report.trec_run_lines(result)
    scores = [float(line.split()[4]) for line in lines]
    assert scores == [0.8, 0.799999, 0.799998, -0.1]
    assert [line.split()[3] for line in lines] == ["1", "2", "3", "4"]
    assert all(line.endswith(" rag") for line in lines)


def test_write_trec_run(tmp_path: Path) -> None:
    out = report.write_trec_run(_result([_question("q1", [("a.txt:0-5", 0.5)])]), tmp_path / "runs" / "run.trec", "r")
    assert out.read_text(encoding="utf-8") == "q1 Q0 a.txt:0-5 1 0.500000 r\n"
    with pytest.raises(BadInputError, match="not an evaluation result"):
        report.write_trec_run({"questions": []}, tmp_path / "x.trec")
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(BadInputError, match="choose another --trec file"):
        report.write_trec_run(_result([]), tmp_path / "blocker" / "run.trec")


def test_rag_eval_writes_the_run(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.chdir(tmp_path)
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    questions = tmp_path / "questions.jsonl"
    answer = {"source": "2022-09-23_otan_referendums-ukraine.txt", "quote": "Donetsk, Louhansk, Zaporizhia et Kherson"}
    rows = [
        {"id": "fr-01", "question": "Quelles régions ont organisé les référendums ?", "lang": "fr", "answers": [answer]},
        {"id": "en-na-01", "question": "Who won the football world cup?", "lang": "en", "answers": []},
    ]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    argv = ["-q", "eval", str(questions), "--index", str(index), "-k", "4", "--mode", "lexical", "--out", str(tmp_path / "out")]
    assert main([*argv, "--trec", str(tmp_path / "run.trec")]) == 0
    assert "run.trec" in capsys.readouterr().out
    lines = (tmp_path / "run.trec").read_text(encoding="utf-8").splitlines()
    report_json = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    expected = [(q["id"], h["id"]) for q in report_json["questions"] for h in q["hits"]]
    assert [(line.split()[0], line.split()[2]) for line in lines] == expected
    assert 0 < len(lines) <= 8
    assert all(re.match(TREC_LINE, line) for line in lines)
    assert {line.split()[5] for line in lines} == {"rag-lexical"}
    assert main(["eval", "--compare", "a.json", "b.json", "--trec", "x.trec"]) == 1
    assert "--trec" in capsys.readouterr().err
