"""rag.store.lexical: French-aware BM25 (folding, stemming, stop words) and reproducible index files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.store.lexical import LexicalIndex, tokenize

TEXTS = [
    "Les Alliés ne reconnaîtront jamais l'annexion illégale de la Crimée.",
    "Les faux référendums organisés à Donetsk, Louhansk, Zaporizhia et Kherson.",
    "Cités Unies France fédère les collectivités territoriales engagées à l'international.",
    "",
]

BUILD = """
import sys
from pathlib import Path
from rag.store.lexical import LexicalIndex
texts = [line for line in sys.stdin.read().split("\\x1e")]
LexicalIndex.build(texts).save(Path(sys.argv[1]))
"""


def test_tokens_are_folded_stemmed_and_stripped_of_stop_words() -> None:
    assert tokenize("Les référendums") == tokenize("referendum")
    assert "les" not in tokenize("Les Alliés") and tokenize("Les Alliés")


def test_scores_find_the_rare_terms() -> None:
    index = LexicalIndex.build(TEXTS)
    scores = index.scores("référendum de Kherson")
    assert int(np.argmax(scores)) == 1 and scores[0] == scores[3] == 0.0
    assert not index.scores("zzzz").any()


def test_the_same_texts_give_the_same_files_whatever_the_hash_seed(tmp_path: Path) -> None:
    # bm25s numbers its vocabulary in set order, which follows the per-process string hash seed.
    folders = []
    for seed in ("1", "2"):
        folder = tmp_path / f"seed{seed}"
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        subprocess.run([sys.executable, "-c", BUILD, str(folder)], input="\x1e".join(TEXTS), text=True, check=True, env=env)
        folders.append({p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})
    assert folders[0] and folders[0] == folders[1]


def _random_texts(n: int, seed: int) -> list[str]:
    words = "loi décret travail salarié employeur congé préavis contrat durée jours mois Kherson référendum 2022".split()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 30)))) for _ in range(n)]


def test_matches_are_the_positive_scores_to_the_bit(tmp_path: Path) -> None:
    """``matches`` reads the question's columns only: the same rows and float32 sums as the dense ``scores``
    (repeated words count again, as in bm25s), memory-mapped or not."""
    texts = _random_texts(3000, 0)
    built = LexicalIndex.build(texts)
    built.save(tmp_path / "bm25")
    mapped = LexicalIndex.load(tmp_path / "bm25", len(texts), mmap=True)
    questions = ["durée du préavis", "congé congé congé du salarié", "Kherson 2022 référendum loi", "zzzz", "", "les"]
    for index in (built, mapped):
        for question in questions:
            dense = index.scores(question)
            found = index.matches(question)
            assert found.rows.tolist() == np.flatnonzero(dense > 0).tolist()
            assert found.scores.dtype == np.float32 and found.scores.tobytes() == dense[found.rows].tobytes()
            assert found.best() == float(dense.max(initial=0.0))
            some = np.array([0, 5, 17, 2999, 1000], dtype=np.int64)
            assert found.at(some).tobytes() == dense[some].tobytes()
    assert len(built.matches("préavis")) < len(texts)  # the questions above match a part of the corpus, not all


def test_matches_within_allowed_rows() -> None:
    index = LexicalIndex.build(_random_texts(500, 1))
    found = index.matches("contrat de travail")
    allowed = np.array([400, 3, 250, 251, 7], dtype=np.int64)
    dense = index.scores("contrat de travail")
    inside = found.within(allowed)
    assert inside.rows.tolist() == sorted(r for r in allowed.tolist() if dense[r] > 0)
    assert inside.scores.tolist() == dense[inside.rows].tolist()
    assert len(found.within(np.zeros(0, dtype=np.int64))) == 0 and found.within(np.zeros(0, dtype=np.int64)).best() == 0.0


def test_matches_of_common_terms_are_the_same_summed_densely(monkeypatch: pytest.MonkeyPatch) -> None:
    """Postings covering much of the index are summed in one array: the same rows and bits as sorting them."""
    import rag.store.lexical as lexical

    index = LexicalIndex.build(_random_texts(2000, 2))
    question = "congé salarié contrat durée jours"
    monkeypatch.setattr(lexical, "DENSE_SHARE", 0)  # never dense
    sorted_found = index.matches(question)
    monkeypatch.setattr(lexical, "DENSE_SHARE", 10**9)  # always
    dense_found = index.matches(question)
    assert len(sorted_found) > 100
    assert dense_found.rows.tolist() == sorted_found.rows.tolist()
    assert dense_found.scores.tobytes() == sorted_found.scores.tobytes()
