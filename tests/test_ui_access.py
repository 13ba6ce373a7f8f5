"""The access log (``ui.access``): one line a request, its fields, the question only when asked for, where it goes."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.types import BELOW_NULL, DOES_NOT_ANSWER, Decision, DocumentInfo, Hit, Passage, Results
from ui import access
from ui.access import AccessLog, configure, decision


@pytest.fixture(autouse=True)
def restore_the_logger() -> Iterator[None]:
    """``configure`` changes the process's ``rag.access`` logger: put it back for the other tests."""
    handlers, level, propagate = list(access.log.handlers), access.log.level, access.log.propagate
    yield
    for handler in list(access.log.handlers):
        access.log.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        access.log.addHandler(handler)
    access.log.setLevel(level)
    access.log.propagate = propagate


def results(n: int, decided: Decision) -> Results:
    info = DocumentInfo("a.txt", "A")
    hits = tuple(Hit(Passage(f"a.txt:{i}-{i + 1}", "a.txt", i + 1, i, i + 1, "x"), info, 0.5, i + 1) for i in range(n))
    return Results("Quand le groupe-pays Russie a-t-il été créé ?", hits, decided, "fr")


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rag.access"]


def test_a_search_line_says_what_was_found_and_decided_not_what_was_asked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag.access"):
        found = results(5, Decision(False, strength=3.0, confidence="answers"))
        AccessLog().search(time.perf_counter() - 0.25, "alice", found.question, found, k=5, filter=None)
        flagged = results(2, Decision(True, BELOW_NULL, confidence=DOES_NOT_ANSWER))
        AccessLog().search(time.perf_counter(), None, "zxqv ?", flagged, k=2)
    first, second = lines(caplog)
    assert re.fullmatch(r"route=search ms=2\d\d hits=5 decision=answers lang=fr k=5 user=alice", first), first
    assert second.startswith("route=search ms=") and "decision=flagged:below_null" in second and "user=" not in second
    assert "Russie" not in first and "zxqv" not in second


def test_the_question_only_when_the_operator_asks_for_it_quoted_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag.access"):
        AccessLog(questions=True).search(time.perf_counter(), "bob", 'Qui a dit\n"non" ?', None, k=5, outcome="failed")
    (line,) = lines(caplog)
    assert line.endswith(' outcome=failed question="Qui a dit \\"non\\" ?" user=bob'), line
    assert "\n" not in line


def test_values_that_are_not_one_plain_word_are_quoted() -> None:
    assert access.value("convention_2024.pdf") == "convention_2024.pdf"
    assert access.value("refused:unreadable_pdf") == "refused:unreadable_pdf"
    assert access.value("Jean Dupont") == '"Jean Dupont"'
    assert access.value("a=b\nroute=add") == '"a=b\\nroute=add"'  # no forged fields, no forged lines


def test_decisions() -> None:
    assert decision(results(1, Decision())) == "unmeasured"  # dense and lexical modes measure nothing
    assert decision(results(1, Decision(False, confidence="maybe"))) == "maybe"
    assert decision(results(0, Decision(True, "no_passage"))) == "flagged:no_passage"


def test_configure_sends_the_lines_to_a_file_with_their_time(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "access.log"
    configure(str(path))
    AccessLog().write("add", time.perf_counter(), "alice", outcome="added", file="a.txt", passages=3, empty="")
    configure("off")
    AccessLog().write("add", time.perf_counter(), "alice", outcome="added")  # off: not written
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d route=add ms=\d+ outcome=added file=a\.txt passages=3 user=alice",
        line,
    ), line


def test_configure_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure("stderr")
    AccessLog().write("open", time.perf_counter(), None, documents=7)
    assert re.search(r" route=open ms=\d+ documents=7\n$", capsys.readouterr().err)
