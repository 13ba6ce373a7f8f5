"""``python -m bench.repeat_latency INDEX``: the latency measurement of ``bench.run``, repeated, with medians.

One run on a shared machine says little about a p95: this repeats ``bench.child latency`` (100 questions, no
LangChain) ``--rounds`` times, with default OpenMP settings and with ``OMP_WAIT_POLICY=PASSIVE``, and prints the
median of each figure over the rounds. ``--against SRC INDEX`` also runs another checkout of rag (e.g. the previous
commit, extracted with ``git archive``) on its own index, alternating with this one so that load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import data
from bench.child import PREFIX

REPO = Path(__file__).resolve().parent.parent


def _run(src: Path, index: str, questions: list[str], passive: bool) -> dict[str, Any]:
    env = dict(os.environ)
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    args = json.dumps({"index": index, "questions": questions})
    load = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.child", "latency", "--json-args", args],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"latency run in {src} failed: {proc.stderr[-500:]}")
    result = json.loads(lines[-1][len(PREFIX) :])
    return {
        "load1": round(load, 2),
        "rag": result["rag"],
        "parts_p50": {name: part["p50"] for name, part in result["rag_parts"].items()},
        "floor_same_index": result["floor_same_index"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.repeat_latency", description=__doc__)
    p.add_argument("index", help="a rag index (e.g. --workdir/index-100000 of a bench run)")
    p.add_argument("--against", nargs=2, metavar=("SRC", "INDEX"), help="another rag checkout and its index")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n-questions", type=int, default=100)
    p.add_argument("--out", type=Path, help="write every run as JSON here")
    args = p.parse_args(argv)
    questions = data.load_questions(data.DEFAULT_QUESTIONS, args.n_questions)
    systems = {"current": (REPO, args.index)}
    if args.against:
        systems["other"] = (Path(args.against[0]), args.against[1])
    runs: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        order = list(systems) if round_ % 2 == 0 else list(systems)[::-1]
        for passive in (False, True):
            for name in order:
                src, index = systems[name]
                run = {"round": round_, "code": name, "omp": "passive" if passive else "default"}
                run.update(_run(src, index, questions, passive))
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    print("| code | OpenMP | rag p50 / p95 | embed | FAISS | highlight | rest | (ms, median of runs) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in systems:
        for omp in ("default", "passive"):
            mine = [r for r in runs if r["code"] == name and r["omp"] == omp]

            def med(get: Any, mine: list[dict[str, Any]] = mine) -> str:
                return f"{statistics.median(get(r) for r in mine):.1f}"

            parts = [med(lambda r, k=k: r["parts_p50"][k]) for k in ("embed_query", "faiss_search", "highlight", "rest")]
            total = f"{med(lambda r: r['rag']['p50'])} / {med(lambda r: r['rag']['p95'])}"
            print(f"| {name} | {omp} | {total} | {' | '.join(parts)} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
