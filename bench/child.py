"""Entry point of the benchmark's subprocesses: ``python -m bench.child COMMAND --json-args '{...}'``.

Each measurement runs in a fresh process so its peak RSS and imports are its own. The result is the last line of
stdout, prefixed with ``BENCH_JSON``; progress goes to stderr (``bench.measure.log``). This driver imports the
measurements; they never import it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

PREFIX = "BENCH_JSON "


def _commands() -> dict[str, Callable[..., dict[str, Any]]]:
    from bench import annbench, indexing, langchain_baseline, querying

    return {
        "embedrate": indexing.embed_rate,
        "index": indexing.index_corpus,
        "serve-mem": querying.serve_memory,
        "latency": querying.latency,
        "lc-embedrate": langchain_baseline.embed_rate,
        "ann": annbench.compare,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("command")
    parser.add_argument("--json-args", default="{}")
    args = parser.parse_args(argv)
    result = _commands()[args.command](**json.loads(args.json_args))
    print(PREFIX + json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
