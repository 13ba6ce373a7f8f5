"""rag.store.lexical: French-aware BM25 (folding, stemming, stop words) and reproducible index files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

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
