"""Benchmark suite for rag: indexing, query latency, cold start, memory, approximate indexes, baselines.

Run with ``bash bench/run.sh`` (see ``bench/README.md``); never run by the test suite.
"""
