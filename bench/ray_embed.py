"""Embedding throughput of `rag index --executor ray` with N workers, on a corpus of about N passages of the scale
corpora, and the projected wall time at 1M and 10M passages.

    python -m bench.ray_embed --passages 1000 --workers 1,2 --out bench/results/ray-embed.json
    python -m bench.ray_embed --passages 10000 --workers 2 --out bench/results/ray-embed-10k.json

Each run is a fresh `rag index` process (a new index, nothing reused) with Ray started on this machine; the load
average is sampled every 5 s during the run (the machine is shared: read every figure beside it). Run it under
`nice`: the measured rate is then what the machine spared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import data
from bench.run import calibrate


def _load_sampler(stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(5.0):
        samples.append(os.getloadavg()[0])


def run_once(corpus: Path, index: Path, workers: int, executor: str) -> dict[str, Any]:
    """One `rag index` run; its wall time, what it embedded, and the load average around it."""
    shutil.rmtree(index, ignore_errors=True)
    samples = [os.getloadavg()[0]]
    stop = threading.Event()
    sampler = threading.Thread(target=_load_sampler, args=(stop, samples), daemon=True)
    sampler.start()
    started = time.perf_counter()
    command = [sys.executable, "-m", "rag.cli", "-q", "index", str(corpus), "--index", str(index),
               "--executor", executor, "--workers", str(workers)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if out.returncode != 0:
        raise SystemExit(f"rag index failed: {out.stderr.strip()}")
    found = re.search(r"(\d+) passages .*embedded (\d+) texts", out.stdout)
    if found is None:
        raise SystemExit(f"unexpected output: {out.stdout}")
    passages, texts = int(found.group(1)), int(found.group(2))
    return {
        "executor": executor,
        "workers": workers,
        "passages": passages,
        "texts_embedded": texts,
        "seconds": round(seconds, 1),
        "passages_per_s": round(passages / seconds, 2),
        "texts_per_s": round(texts / seconds, 2),
        "load_average": {"min": min(samples), "mean": round(sum(samples) / len(samples), 2), "max": max(samples)},
        "output": out.stdout.strip(),
    }


def project(rate: float, workers: int) -> dict[str, str]:
    """Wall time at 1M and 10M passages for 1, 10 and 100 such workers, from a measured per-worker rate."""
    per_worker = rate / workers
    out = {}
    for n in (1_000_000, 10_000_000):
        for w in (1, 10, 100):
            hours = n / (per_worker * w) / 3600
            out[f"{n:,} passages, {w} workers"] = f"{hours:.1f} h"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts, one run each")
    parser.add_argument("--executor", default="ray", choices=["ray", "local"])
    parser.add_argument("--scale-dir", type=Path, default=data.DEFAULT_SCALE_DIR)
    parser.add_argument("--workdir", type=Path, help="keep the corpus and indexes here")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rag-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-{args.passages}"
    if not corpus.is_dir():
        data.write_corpus(args.scale_dir, data.paragraphs_for(args.passages, calibrate(args.scale_dir, work)), corpus)
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        result = run_once(corpus, work / f"index-{args.executor}-{workers}", workers, args.executor)
        result["projection"] = project(result["passages_per_s"], workers)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        runs.append(result)
    report = {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": runs}
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
