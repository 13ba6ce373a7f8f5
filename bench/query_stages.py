"""Each stage of ``Retriever.search`` as the index grows: ``python -m bench.query_stages --passages 1000000``.

SYNTHESISED index: a real index of ``--base`` (built by ``bench.stores --step build``: scale-corpus texts, spaCy's
annotations, synthesised vectors) repeated ``--passages / base`` times into a new index folder (``tile``): each copy's
documents and passage ids prefixed with its number, its passage, sentence and second-opinion vectors the base's
plus noise (cosine ~0.93 to the original: no copy collapses into another), its BM25 postings and annotations
the base's shifted by the copy's rows (each term's document frequency grows with the index, as in a corpus of the
same kind; scores are the base's). Questions: the domain and PIAF questions, embedded by the real default model.

Modes:
- up to ``--full-max`` passages (default 1M, what loads in this machine's share of memory): the whole index is
  written and loaded by ``Retriever.load``; each question runs ``Retriever.search`` with every stage timed
  (p50/p95 ms), beside the unbounded versions of the stages this work bounded (BM25 as a dense array of every
  passage, annotation lookups with Python ints, the id map); RSS after load and after the questions, and what the
  passages, documents and tables held as Python objects weigh.
- above it (10M): only the stages whose data grows with the index are built and timed on their own (BM25
  memory-mapped, annotation lookups), old and new; the vector search at 10M is ``bench.ann_scale``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import PhaseTimer, peak_rss_mb, rss_mb, summary_ms

NOISE = 0.02  # per dimension, before renormalising: cosine ~0.93 to the original vector
CHUNK_ROWS = 200_000


def _manifest(index: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((index / "manifest.json").read_text("utf-8"))
    return result


def _noisy(block: np.ndarray[Any, Any], rng: np.random.Generator) -> np.ndarray[Any, Any]:
    v = block.astype(np.float32) + rng.standard_normal(block.shape).astype(np.float32) * NOISE
    out: np.ndarray[Any, Any] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _tile_rows(src: Path, dst: Path, copies: int, seed: int) -> None:
    """A ``.npy`` of vectors repeated ``copies`` times with noise (copy 0 unchanged), written block by block."""
    base = np.load(src, mmap_mode="r")
    out = np.lib.format.open_memmap(dst, mode="w+", dtype=base.dtype, shape=(len(base) * copies, base.shape[1]))
    for k in range(copies):
        rng = np.random.default_rng(seed + k)
        for start in range(0, len(base), CHUNK_ROWS):
            block = np.asarray(base[start : start + CHUNK_ROWS])
            rows = slice(k * len(base) + start, k * len(base) + start + len(block))
            out[rows] = block if k == 0 else _noisy(block, rng).astype(base.dtype)
    out.flush()
    del out


def _prefix(k: int) -> str:
    return f"copy{k:04d}/"


def _tile_jsonl(src: Path, dst: Path, copies: int, fields: tuple[str, ...]) -> None:
    lines = src.read_text("utf-8").splitlines()
    with open(dst, "w", encoding="utf-8") as out:
        for k in range(copies):
            for line in lines:
                row = json.loads(line)
                for name in fields:
                    row[name] = _prefix(k) + row[name]
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _tile_bm25(src: Path, dst: Path, copies: int, n: int) -> None:
    """bm25s's CSC score matrix with every column's postings repeated for each copy (rows shifted)."""
    dst.mkdir()
    data = np.load(src / "data.csc.index.npy", mmap_mode="r")
    indices = np.load(src / "indices.csc.index.npy", mmap_mode="r")
    indptr = np.load(src / "indptr.csc.index.npy")
    total = len(data) * copies
    out_data = np.lib.format.open_memmap(dst / "data.csc.index.npy", mode="w+", dtype=data.dtype, shape=(total,))
    out_idx = np.lib.format.open_memmap(dst / "indices.csc.index.npy", mode="w+", dtype=indices.dtype, shape=(total,))
    shift = (np.arange(copies, dtype=np.int64) * n)[:, None]
    pos = 0
    step = 2000  # terms at a time
    for t0 in range(0, len(indptr) - 1, step):
        a, b = int(indptr[t0]), int(indptr[min(t0 + step, len(indptr) - 1)])
        for t in range(t0, min(t0 + step, len(indptr) - 1)):
            lo, hi = int(indptr[t]) - a, int(indptr[t + 1]) - a
            if hi == lo:
                continue
            cols_idx = np.asarray(indices[a + lo : a + hi], dtype=np.int64)[None, :] + shift
            size = cols_idx.size
            out_idx[pos : pos + size] = cols_idx.ravel().astype(indices.dtype)
            out_data[pos : pos + size] = np.tile(np.asarray(data[a + lo : a + hi]), copies)
            pos += size
        del b
    assert pos == total
    out_data.flush()
    out_idx.flush()
    del out_data, out_idx
    np.save(dst / "indptr.csc.index.npy", (indptr.astype(np.int64) * copies).astype(indptr.dtype))
    shutil.copy(src / "vocab.index.json", dst / "vocab.index.json")
    params = json.loads((src / "params.index.json").read_text("utf-8"))
    params["num_docs"] = n * copies
    (dst / "params.index.json").write_text(json.dumps(params, indent=4), "utf-8")


def _tile_annotations(src: Path, dst: Path, copies: int, n: int) -> None:
    rows = np.load(src, allow_pickle=False)
    out = np.lib.format.open_memmap(dst, mode="w+", dtype=np.int32, shape=(len(rows) * copies, rows.shape[1]))
    for k in range(copies):
        block = rows.copy()
        block[:, 0] += k * n
        out[k * len(rows) : (k + 1) * len(rows)] = block
    out.flush()
    del out


def tile(base: Path, out: Path, copies: int, index_type: str) -> dict[str, Any]:
    """Write the SYNTHESISED index of ``copies`` copies of ``base`` at ``out`` (see the module docstring)."""
    from rag.store import ann, directory, files, generations
    from rag.store.rows import block_checksums

    t0 = time.perf_counter()
    manifest = _manifest(base)
    names = manifest["files"]
    n = int(manifest["passages"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    gen = f"gen-{time.time_ns():x}"
    folder = out / gen
    folder.mkdir()
    src = {kind: base / name for kind, name in names.items()}
    kinds = ["documents", "passages", "vectors", "sentences", "faiss", "bm25", "questions", "second", "annotations",
             "annotation_meta"]  # fmt: skip
    new = {kind: f"{gen}/{Path(names[kind]).name}" for kind in kinds if kind in names}
    _tile_jsonl(src["documents"], out / new["documents"], copies, ("source",))
    _tile_jsonl(src["passages"], out / new["passages"], copies, ("source", "id"))
    for i, kind in enumerate(("vectors", "sentences", "second")):
        if kind in new:
            _tile_rows(src[kind], out / new[kind], copies, 1000 * i)
    shutil.copy(src["questions"], out / new["questions"])
    shutil.copy(src["annotation_meta"], out / new["annotation_meta"])
    _tile_annotations(src["annotations"], out / new["annotations"], copies, n)
    _tile_bm25(src["bm25"], out / new["bm25"], copies, n)
    vectors = np.load(out / new["vectors"], mmap_mode="r")
    kind = ann.choose_kind(len(vectors), index_type)
    index = ann.build(np.ascontiguousarray(vectors), kind)
    ann.write(index, str(out / new["faiss"]))
    del index, vectors
    rows_files = [new[k] for k in directory.ROW_FILES if k in new]
    sizes = directory._sizes(out, new.values())
    documents = {}
    for k in range(copies):
        for source, entry in manifest["documents"].items():
            documents[_prefix(k) + source] = entry
    manifest.update(
        generation=gen, files=new, sizes=sizes, index_type=kind, documents=documents,
        checksums={name: files.sha256(out / name) for name in sizes if name not in rows_files},
        block_checksums={
            "block_bytes": directory.BLOCK_BYTES,
            "files": {name: block_checksums(out / name, directory.BLOCK_BYTES) for name in rows_files},
        },
        passages=n * copies, sentences=int(manifest["sentences"]) * copies,
    )  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    generations.write_journal(out, [gen])
    return {"tile_seconds": round(time.perf_counter() - t0, 1), "index_type": kind, "tile_peak_rss_mib": peak_rss_mb()}


# -- the stages -----------------------------------------------------------------------------------------------------

STAGES = {  # (module, attribute) → stage name; the retriever's stages, then the parts of candidates and hits
    ("rag.retrieve.retriever", "make_query"): "query: clean, language, embed",
    ("rag.retrieve.retriever", "candidates"): "candidates (all)",
    ("rag.retrieve.candidates", "lexical_matches"): "  lexical BM25",
    ("rag.store.ann", "search"): "  vector search (ANN)",
    ("rag.retrieve.candidates", "dense_evidence"): "  dense evidence (passage + sentence vectors)",
    ("rag.retrieve.rank", "fuse"): "fusion",
    ("rag.retrieve.retriever", "weigh"): "abstention evidence (second opinion when consulted)",
    ("rag.retrieve.retriever", "hits"): "hits (all)",
    ("rag.retrieve.hits", "collapse"): "  collapse",
    ("rag.retrieve.hits", "highlight"): "  sentence highlights",
    ("rag.retrieve.answer", "read_hits"): "typed reading (all)",
    ("rag.retrieve.retriever", "decide"): "decision",
    ("rag.retrieve.answer", "cited"): "cited answer",
}


def _timed_instance(timer: PhaseTimer, owner: Any, attr: str, name: str) -> Any:
    return timer.wrap(owner, attr, name)


def _unbounded(retriever: Any, questions: list[str]) -> dict[str, Any]:
    """The stages as they were before this work, timed on the same index: BM25 as one array of every passage (with
    its mask, scan and max), an annotation lookup searched with Python ints, the map of every passage id."""
    from rag.retrieve import rank

    lexical = retriever.data.lexical
    dense: list[float] = []
    sparse: list[float] = []
    for q in questions:
        text = retriever.query(q, "lexical").text
        t0 = time.perf_counter()
        scores = lexical.scores(text)
        matching = np.flatnonzero(scores > 0)
        matching[rank.top(scores[matching], rank.CANDIDATES)]
        float(scores.max(initial=0.0))
        t1 = time.perf_counter()
        found = lexical.matches(text)
        rank.lexical_top(found, rank.CANDIDATES)
        found.best()
        t2 = time.perf_counter()
        dense.append(t1 - t0)
        sparse.append(t2 - t1)
    out: dict[str, Any] = {"bm25 dense array (before)": summary_ms(dense), "bm25 matches (now)": summary_ms(sparse)}
    table = retriever.data.annotations
    n = len(retriever.data.passages)
    rows = np.random.default_rng(0).integers(0, n, 50)
    before, now = [], []
    for row in rows.tolist():
        t0 = time.perf_counter()
        np.searchsorted(table.rows[:, 0], [row, row + 1])
        t1 = time.perf_counter()
        table.of(row, retriever.data.passages[row].text)
        t2 = time.perf_counter()
        before.append(t1 - t0)
        now.append(t2 - t1)
    out["annotation lookup, Python ints (before)"] = summary_ms(before)
    out["annotation lookup (now)"] = summary_ms(now)
    ids = [retriever.data.passages[r].id for r in rows.tolist()]
    t0 = time.perf_counter()
    before_rss = rss_mb()
    id_map = {p.id: r for r, p in enumerate(retriever.data.passages)}
    out["id map of every passage (before, once)"] = {"ms": round(1000 * (time.perf_counter() - t0), 1),
                                                      "rss_added_mib": round(rss_mb() - before_rss, 1)}  # fmt: skip
    del id_map
    t0 = time.perf_counter()
    for passage_id in ids:
        retriever.view.row_of(passage_id)
    out["row_of within its document (now), per lookup"] = {"ms": round(1000 * (time.perf_counter() - t0) / len(ids), 3)}
    return out


def _held(retriever: Any) -> dict[str, float]:
    """What the loaded index holds as Python objects and tables, in MiB (passages sampled, the rest measured)."""
    data = retriever.data
    passages = data.passages
    sample = passages[:: max(1, len(passages) // 2000)]
    per_passage = np.mean([sys.getsizeof(p) + sys.getsizeof(p.text) + sys.getsizeof(p.id) for p in sample])
    documents = sum(sys.getsizeof(d.text) for d in data.documents)
    spans = data.sentence_spans
    offsets = data.offsets
    by_source = sum(sys.getsizeof(rows) + 28 * len(rows) for rows in retriever.view.rows_by_source.values())
    mib = 2**20
    return {
        "passages (objects, text, id)": round(per_passage * len(passages) / mib, 1),
        "passage list": round(sys.getsizeof(passages) / mib, 1),
        "documents' text": round(documents / mib, 1),
        "sentence span table": round((spans.starts.nbytes + spans.bounds.nbytes) / mib, 1),
        "offset table": round((offsets.starts.nbytes + offsets.bounds.nbytes) / mib, 1) if offsets is not None else 0.0,
        "annotations": round(data.annotations.rows.nbytes / mib, 1) if data.annotations is not None else 0.0,
        "rows by source": round(by_source / mib, 1),
        "faiss index (vectors)": round(data.faiss_index.ntotal * data.faiss_index.d * 4 / mib, 1),
    }


def stages(index: Path, questions: list[str], k: int = 5) -> dict[str, Any]:
    import importlib

    from rag.retrieve.retriever import Retriever

    before = rss_mb()
    t0 = time.perf_counter()
    retriever = Retriever.load(index)
    load_s = time.perf_counter() - t0
    after_load = rss_mb()
    retriever.warm()
    for q in questions[:5]:  # warm-up: the models' first calls, the first blocks read
        retriever.search(q, k=k)
    timer = PhaseTimer()
    per_stage: dict[str, list[float]] = {name: [] for name in STAGES.values()}
    per_stage["annotation lookups"] = []
    per_stage["row lookups"] = []
    total: list[float] = []
    from contextlib import ExitStack

    with ExitStack() as stack:
        for (module, attr), name in STAGES.items():
            stack.enter_context(timer.wrap(importlib.import_module(module), attr, name))
        if retriever.data.annotations is not None:
            stack.enter_context(_timed_instance(timer, retriever.data.annotations, "of", "annotation lookups"))
        stack.enter_context(_timed_instance(timer, retriever.view, "row_of", "row lookups"))
        for q in questions:
            timer.seconds = {}
            t = time.perf_counter()
            retriever.search(q, k=k)
            total.append(time.perf_counter() - t)
            for name in per_stage:
                per_stage[name].append(timer.seconds.get(name, 0.0))
    hits_all, collapse, highlights = (per_stage[STAGES[("rag.retrieve.retriever", "hits")]],
                                      per_stage[STAGES[("rag.retrieve.hits", "collapse")]],
                                      per_stage[STAGES[("rag.retrieve.hits", "highlight")]])  # fmt: skip
    per_stage["  hit building (hits minus collapse and highlights)"] = [
        a - b - c for a, b, c in zip(hits_all, collapse, highlights, strict=True)
    ]
    after_questions = rss_mb()
    result = {
        "passages": len(retriever.data.passages),
        "index_type": retriever.manifest.get("index_type"),
        "load_seconds": round(load_s, 1),
        "rss_before_load_mib": before,
        "rss_after_load_mib": after_load,
        "rss_after_questions_mib": after_questions,
        "peak_rss_mib": peak_rss_mb(),
        "search_ms": summary_ms(total),
        "stages_ms": {name: summary_ms(values) for name, values in per_stage.items()},
        "held_mib": _held(retriever),
        "unbounded_vs_bounded": _unbounded(retriever, questions),
    }
    return result


def kernels(base: Path, work: Path, copies: int, questions: list[str]) -> dict[str, Any]:
    """Above ``--full-max``: the BM25 matrix and the annotations of the tiled index only, each stage timed alone."""
    from rag.ingest.annotations import AnnotationTable
    from rag.retrieve import rank
    from rag.retrieve.query import clean_query
    from rag.store.lexical import LexicalIndex

    manifest = _manifest(base)
    names = manifest["files"]
    n = int(manifest["passages"])
    work.mkdir(parents=True, exist_ok=True)
    bm25 = work / "bm25"
    t0 = time.perf_counter()
    params = bm25 / "params.index.json"
    if not params.exists() or json.loads(params.read_text())["num_docs"] != n * copies:
        shutil.rmtree(bm25, ignore_errors=True)
        _tile_bm25(base / names["bm25"], bm25, copies, n)
    annotations = work / "annotations.npy"
    wanted = np.load(base / names["annotations"], mmap_mode="r").shape[0] * copies
    if not annotations.exists() or np.load(annotations, mmap_mode="r").shape[0] != wanted:
        _tile_annotations(base / names["annotations"], annotations, copies, n)
    built = time.perf_counter() - t0
    before = rss_mb()
    lexical = LexicalIndex.load(bm25, n * copies, mmap=True)
    loaded = rss_mb()
    dense, sparse, postings = [], [], []
    for q in questions:
        text = clean_query(q)
        t1 = time.perf_counter()
        scores = lexical.scores(text)
        matching = np.flatnonzero(scores > 0)
        matching[rank.top(scores[matching], rank.CANDIDATES)]
        float(scores.max(initial=0.0))
        t2 = time.perf_counter()
        found = lexical.matches(text)
        rank.lexical_top(found, rank.CANDIDATES)
        found.best()
        t3 = time.perf_counter()
        dense.append(t2 - t1)
        sparse.append(t3 - t2)
        postings.append(len(found))
        del scores, matching
    after_bm25 = rss_mb()
    details = json.loads((base / names["annotation_meta"]).read_text("utf-8"))["details"]
    table = AnnotationTable(np.load(annotations), details)
    rows = np.random.default_rng(0).integers(0, n * copies, 50).tolist()
    before_ann, now_ann = [], []
    for row in rows:
        t1 = time.perf_counter()
        np.searchsorted(table.rows[:, 0], [row, row + 1])
        t2 = time.perf_counter()
        table.of(row, "x" * 100_000)
        t3 = time.perf_counter()
        before_ann.append(t2 - t1)
        now_ann.append(t3 - t2)
    return {
        "passages": n * copies,
        "synthesised": f"{copies} copies of {n} passages (kernels only)",
        "build_seconds": round(built, 1),
        "bm25_on_disk_mib": round(sum(p.stat().st_size for p in bm25.iterdir()) / 2**20, 1),
        "bm25_rss_added_by_load_mib": round(loaded - before, 1),
        "bm25_rss_after_questions_added_mib": round(after_bm25 - before, 1),
        "matching_passages_per_question": {"p50": float(np.median(postings)), "max": int(max(postings))},
        "bm25 dense array (before)": summary_ms(dense),
        "bm25 matches (now)": summary_ms(sparse),
        "annotations": len(table),
        "annotations_mib": round(table.rows.nbytes / 2**20, 1),
        "annotation lookup, Python ints (before)": summary_ms(before_ann),
        "annotation lookup (now)": summary_ms(now_ann),
        "peak_rss_mib": peak_rss_mb(),
    }


def _questions(n: int) -> list[str]:
    from bench import data

    return data.load_questions(data.DEFAULT_QUESTIONS, n)


def _print_table(result: dict[str, Any]) -> Iterator[str]:
    for name, s in (result.get("stages_ms") or {}).items():
        yield f"{name:58s} p50 {s['p50']:8.2f} ms   p95 {s['p95']:8.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--base", type=Path, default=Path("/tmp/qs-work/base-10k"), help="bench.stores' built index")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qs-work"))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--full-max", type=int, default=1_000_000)
    parser.add_argument("--index-type", default="auto", help="of the tiled index (auto: flat, then HNSW; ivf at 1M)")
    parser.add_argument("--keep", action="store_true", help="keep the tiled index for the next run")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--step", choices=["stages"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_base = int(_manifest(args.base)["passages"])
    copies = max(1, round(args.passages / n_base))
    questions = _questions(args.questions)
    report: dict[str, Any] = {"requested": args.passages, "load_average_start": os.getloadavg()}
    if n_base * copies <= args.full_max:
        index = args.work / f"tiled-{copies}" if copies > 1 else args.base
        if args.step == "stages":  # the child: a process that has held nothing else
            print(json.dumps(stages(index, questions)))
            return 0
        if not (index / "manifest.json").exists():
            report["tile"] = tile(args.base, index, copies, args.index_type)
        report["synthesised"] = f"{copies} copies of {n_base} passages"
        command = [sys.executable, "-m", "bench.query_stages", *(argv if argv is not None else sys.argv[1:]), "--step", "stages"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"the serving process failed: {done.stderr[-3000:]}")
        report.update(json.loads(done.stdout.strip().splitlines()[-1]))
        if not args.keep and copies > 1:
            shutil.rmtree(index, ignore_errors=True)
    else:
        report.update(kernels(args.base, args.work / f"kernels-{copies}", copies, questions))
    report["load_average_end"] = os.getloadavg()
    print("\n".join(_print_table(report)), file=sys.stderr)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
