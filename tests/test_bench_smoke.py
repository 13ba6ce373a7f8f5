"""Smoke test of the benchmark *code* (bench/), not a benchmark: ~200 passages, a fake embedder, no timing asserted."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WORDS = (
    "salarié employeur contrat travail durée préavis licenciement congé association déclaration préfecture demande "
    "administration décision recours délai tribunal indemnité rupture sécurité sociale allocation prestation"
).split()


def _scale_dir(root: Path, per_file: int = 300) -> Path:
    """Two small gzipped JSONL corpora shaped like shared/benchmarks/scale (one paragraph a line, field ``text``)."""
    rng = random.Random(7)
    root.mkdir()
    for name in ("fr_legi_codes_paragraphs.jsonl.gz", "fr_service_public_paragraphs.jsonl.gz"):
        with gzip.open(root / name, "wt", encoding="utf-8") as fh:
            for i in range(per_file):
                sentences = [
                    " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."
                    for _ in range(rng.randint(1, 5))
                ]
                fh.write(json.dumps({"id": f"{name}#{i}", "text": f"Article {i}. " + " ".join(sentences)}) + "\n")
    return root


def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    from bench import run

    out = tmp_path / "results"
    argv = [
        "--embedder", "fake",
        "--cache-dir", str(tmp_path / "cache"),
        "--scale-dir", str(_scale_dir(tmp_path / "scale")),
        "--questions", str(tmp_path / "no-piaf.jsonl"),
        "--sizes", "100,200",
        "--sample", "32",
        "--real-max", "0",
        "--n-questions", "8",
        "--ann-min", "200",
        "--no-cold", "--no-omp-variant", "--no-langchain",
        "--out", str(out),
        "--workdir", str(tmp_path / "work"),
    ]  # fmt: skip
    assert run.main(argv) == 0

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(results["sizes"]) == {"100", "200"}
    for size in results["sizes"].values():
        assert size["index"]["passages"] > 0
        assert size["latency"]["rag"]["n"] == 8
        assert size["serve_memory"]["peak_rss_mb"] > 0
    ann = results["sizes"]["200"]["ann"]["results"]
    assert {"flat", "hnsw (rag default)", "ivf (rag default)"} <= {row["index"] for row in ann}
    assert all(0.0 <= row["recall_at_10"] <= 1.0 for row in ann)
    assert "## Targets" in (out / "results.md").read_text(encoding="utf-8")
    assert not (Path(run.__file__).parent / "cache" / "bench-fake-hash-64").exists()  # the cache went to --cache-dir


def test_verify_cost_measures_an_index(tmp_path: Path) -> None:
    from bench import verify_cost
    from rag.embed.fake import FakeEmbedder
    from rag.index import build_index

    build_index(Path(__file__).resolve().parent.parent / "corpus", tmp_path / "index", embedder=FakeEmbedder())
    result = verify_cost.measure(tmp_path / "index")
    assert result["passages"] > 0 and result["index_bytes"] > result["vector_file_bytes"] > 0
    assert result["verify_seconds"] > 0 and result["disk_read_mib_per_s"] > 0
    assert result["projected_1m_verify_seconds"] > result["verify_seconds"]
    assert "at 1M" in verify_cost.report(result)
