"""rag.evaluation.beir on a 3-document BEIR folder (fake embedder, lexical mode so that the ranking is known) and
rag.evaluation.highlight_eval on prepared hits; every expected number is computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError
from rag.evaluation.beir import document_run, evaluate_beir, tatoeba_accuracy
from rag.evaluation.highlight_eval import highlight_quality, highlighted_texts
from rag.evaluation.questions import Answer, Question
from rag.types import DocumentInfo, Hit, Passage, Results, Span

CORPUS = [
    {"_id": "d1", "title": "Chats", "text": "Le chat dort tout l'après-midi sur le canapé rouge du salon."},
    {"_id": "d2", "title": "Chiens", "text": "Le chien court chaque matin dans le jardin derrière la maison."},
    {"_id": "d3", "title": "Oiseaux", "text": "Les oiseaux chantent au printemps dans les grands arbres."},
]
QUERIES = [
    {"_id": "q1", "text": "canapé du chat"},  # only d1 shares terms: d1 first (relevant)
    {"_id": "q2", "text": "chien jardin"},  # only d2 shares terms; the qrels say d3: never retrieved
    {"_id": "q3", "text": "chien jardin oiseaux"},  # d2 shares two terms, d3 one: d3 (relevant) second
    {"_id": "q4", "text": "printemps"},  # only a grade-0 judgement: not evaluated
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\nq3\td3\t1\nq4\td3\t0\n"


def _beir(folder: Path) -> Path:
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUERIES), encoding="utf-8")
    (folder / "qrels.tsv").write_text(QRELS, encoding="utf-8")
    return folder


def test_lexical_metrics_match_hand_computation(tmp_path: Path) -> None:
    result = evaluate_beir(_beir(tmp_path / "set"), embedder=FakeEmbedder(), mode="lexical", per_query=True)
    assert result["ranks"] == {"q1": 1, "q2": None, "q3": 2}
    m = result["metrics"]
    # Per query (q1, q2, q3): reciprocal rank 1, 0, 1/2; nDCG@10 1, 0, 1/log2(3); hits at 1: 1, 0, 0; at 5 and 10: 1, 0, 1.
    assert m["mrr@10"] == pytest.approx(1.5 / 3, abs=1e-6)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 3, abs=1e-6)
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["recall@5"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["recall@10"] == pytest.approx(2 / 3, abs=1e-6)
    man = result["manifest"]
    assert (man["documents"], man["passages"], man["queries"], man["queries_in_set"]) == (3, 3, 3, 4)
    assert man["mode"] == "lexical" and man["embedder"] == FakeEmbedder.id and man["index"] is None
    json.dumps(result)  # JSON-ready


def test_index_is_reused_for_the_same_corpus_and_rebuilt_when_it_changes(tmp_path: Path) -> None:
    folder = _beir(tmp_path / "set")
    index = tmp_path / "index"
    embedder = FakeEmbedder()
    first = evaluate_beir(folder, index_dir=index, embedder=embedder, mode="dense")
    embedded = embedder.texts_embedded
    assert not first["manifest"]["index_reused"] and embedded > 0
    second = evaluate_beir(folder, index_dir=index, embedder=embedder, mode="hybrid", limit=2)
    assert second["manifest"]["index_reused"] and second["manifest"]["queries"] == 2
    assert embedder.texts_embedded == embedded + 2  # only the two queries
    changed = [dict(CORPUS[0], text="Le chat dort sur le canapé bleu."), *CORPUS[1:]]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in changed), encoding="utf-8")
    third = evaluate_beir(folder, index_dir=index, embedder=embedder, mode="dense")
    assert not third["manifest"]["index_reused"]
    assert 0.0 <= third["metrics"]["ndcg@10"] <= 1.0


def test_documents_rank_where_their_best_passage_does() -> None:
    def hit(source: str, rank: int) -> Hit:
        passage = Passage(id=f"{source}:{rank}", source=source, paragraph=1, start=0, end=1, text="x")
        return Hit(passage=passage, document=DocumentInfo(source=source, title=""), score=1.0, rank=rank)

    hits = [hit("a", 1), hit("b", 2), hit("a", 3), hit("c", 4)]
    assert document_run(hits, 10) == {"a": 10.0, "b": 9.0, "c": 8.0}
    assert document_run(hits, 2) == {"a": 2.0, "b": 1.0}


def test_bad_beir_input(tmp_path: Path) -> None:
    folder = _beir(tmp_path / "set")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq4\td3\t0\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no query has a relevant document"):
        evaluate_beir(folder, embedder=FakeEmbedder())
    with pytest.raises(BadInputError, match="k must be"):
        evaluate_beir(folder, embedder=FakeEmbedder(), k=0)


def test_tatoeba_accuracy(tmp_path: Path) -> None:
    # The fake embedder hashes word stems: identical lines are each other's nearest, a shared word is not enough.
    (tmp_path / "tatoeba.fra-eng.fra").write_text("chat noir dort\nchien blanc court\noiseau bleu chante\n", encoding="utf-8")
    (tmp_path / "tatoeba.fra-eng.eng").write_text("chat noir dort\nchien blanc court\nchat rouge mange\n", encoding="utf-8")
    result = tatoeba_accuracy(tmp_path, embedder=FakeEmbedder())
    assert result["metrics"]["fr_to_en_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert result["manifest"]["pairs"] == 3 and result["manifest"]["prefixes"] == {"fr": "query: ", "en": "query: "}
    with pytest.raises(BadInputError, match="kind"):
        tatoeba_accuracy(tmp_path, embedder=FakeEmbedder(), kinds=("query", "doc"))
    assert np.isclose(tatoeba_accuracy(tmp_path, embedder=FakeEmbedder(), limit=2)["metrics"]["en_to_fr_accuracy"], 1.0)


# --- highlight quality -----------------------------------------------------------------------------------------

TEXT = "La Russie porte l'entière responsabilité de la guerre. Les Alliés ne reconnaîtront jamais ces référendums."
SECOND = TEXT.index("Les")


def _hit(text: str, source: str, spans: list[tuple[int, int]]) -> Hit:
    passage = Passage(id=f"{source}:0", source=source, paragraph=1, start=0, end=len(text), text=text)
    return Hit(
        passage=passage,
        document=DocumentInfo(source=source, title=source),
        score=0.9,
        rank=1,
        highlights=tuple(Span(s, e) for s, e in spans),
    )


class _Searcher:
    def __init__(self, hits: dict[str, list[Hit]]) -> None:
        self.hits = hits

    def search(self, query: str, k: int = 5, *, mode: str | None = None) -> Results:
        return Results(query, tuple(self.hits[query][:k]))


def test_highlight_quality_counts_only_gold_first_questions() -> None:
    questions = [
        Question("h1", "Qui est responsable ?", "fr", (Answer("a.txt", "porte l’entière responsabilité"),)),
        Question("h2", "Reconnaissance ?", "fr", (Answer("a.txt", "ne reconnaîtront jamais"),)),
        Question("h3", "Who is to blame?", "en", (Answer("a.txt", "porte l'entière responsabilité"),)),
        Question("h4", "Wrong document first", "en", (Answer("b.txt", "porte l'entière responsabilité"),)),
        Question("h5", "No answer", "en", ()),
    ]
    searcher = _Searcher(
        {
            "Qui est responsable ?": [_hit(TEXT, "a.txt", [(0, SECOND - 1)])],  # right sentence
            "Reconnaissance ?": [_hit(TEXT, "a.txt", [(0, SECOND - 1)])],  # wrong sentence
            "Who is to blame?": [_hit(TEXT, "a.txt", [(0, SECOND - 1), (SECOND, len(TEXT))])],  # both
            "Wrong document first": [_hit(TEXT, "a.txt", [(0, len(TEXT))])],  # quote, but not in b.txt: not gold
            "No answer": [],
        }
    )
    result = highlight_quality(searcher, questions)
    assert result["overall"] == {"n_answerable": 4, "n_gold_first": 3, "n_contains": 2, "share": pytest.approx(2 / 3, abs=1e-6)}
    assert result["by_lang"]["fr"]["share"] == 0.5 and result["by_lang"]["en"]["share"] == 1.0
    assert [m["id"] for m in result["misses"]] == ["h2"]


def test_adjacent_highlights_are_merged() -> None:
    # A quote straddling a (wrong) sentence split is found when both halves are highlighted.
    cut = TEXT.index(" responsabilité")
    hit = _hit(TEXT, "a.txt", [(0, cut), (cut + 1, 40), (SECOND, SECOND + 10)])
    assert highlighted_texts(hit) == [TEXT[0:40], TEXT[SECOND : SECOND + 10]]
