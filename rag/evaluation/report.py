"""Evaluation reports from ``EvalResult.to_dict()``: JSON, Markdown, a recall plot, a TREC run file, a summary and
A/B comparison."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import BadInputError
from rag.evaluation.stats import paired_difference

# Row labels for the metric keys of rag.evaluation.run (unknown keys are shown as they are).
_LABELS = {
    "n_questions": "questions",
    "n_answerable": "answerable",
    "n_no_answer": "no-answer",
    "n_abstained": "abstained",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "false_abstention_rate": "false abstention rate",
    "n_near": "near-topic questions",
    "n_off": "off-topic questions",
    "flagged_answerable": "answerable flagged",
    "flagged_near": "near-topic flagged",
    "flagged_off": "off-topic flagged",
}
_RECALL = re.compile(r"recall@(\d+)")


def _groups(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Column name → metrics: "all" first, then each language."""
    try:
        found = result["metrics"]
        groups = {"all": dict(found["overall"])}
        groups.update({lang: dict(m) for lang, m in found.get("by_lang", {}).items()})
    except (KeyError, TypeError, AttributeError, ValueError):
        raise BadInputError("not an evaluation result: expected metrics.overall (from EvalResult.to_dict())") from None
    return groups


def check_report(result: dict[str, Any]) -> None:
    """A ``BadInputError`` saying what is wrong unless ``result`` has the shape of ``EvalResult.to_dict()`` in all
    that ``compare_reports`` reads: checked once here, so that a failure there is a bug, not bad input."""
    _groups(result)
    questions = result.get("questions", [])
    if not isinstance(questions, list) or not all(isinstance(q, dict) and isinstance(q.get("id"), str) for q in questions):
        raise BadInputError("not an evaluation result: expected questions, a list of objects each with a string id")
    if not isinstance(result.get("manifest") or {}, dict):
        raise BadInputError("not an evaluation result: expected manifest to be an object")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):  # bool too
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    """Aligned plain-text table (first column left, others right), or a Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    )


def _summary_table(result: dict[str, Any], markdown: bool) -> str:
    groups = _groups(result)
    names = list(groups["all"])
    rows = [[_LABELS.get(n, n)] + [_fmt(g.get(n)) for g in groups.values()] for n in names]
    return _table(["metric", *groups], rows, markdown)


def format_summary(result_dict: dict[str, Any]) -> str:
    """The short table printed after a run: every metric, overall and per language."""
    k = result_dict.get("k")
    title = f"Retrieval evaluation (top {k})" if k else "Retrieval evaluation"
    note = "recall@k: share of answerable questions with a passage containing a quote in the top k"
    return f"{title}\n{_summary_table(result_dict, markdown=False)}\n{note}"


def _rank_text(rank: int | None, k: Any) -> str:
    return str(rank) if rank is not None else f"not in top {k}"


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _manifest_lines(manifest: dict[str, Any]) -> list[str]:
    """Scalar entries, nested dicts flattened to dotted keys; lists are counted (the JSON has them in full)."""

    def walk(prefix: str, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [line for key, v in value.items() for line in walk(f"{prefix}.{key}" if prefix else str(key), v)]
        if isinstance(value, list):
            return [f"- {prefix}: {len(value)} items"]
        return [f"- {prefix}: `{value}`"]

    return walk("", manifest)


def _question_block(q: dict[str, Any], k: Any, heading: str) -> list[str]:
    lines = [f"### {q['id']} ({q['lang']}): {heading}", "", f"> {q['question']}", ""]
    for a in q.get("answers", []):
        lines.append(f"- expected: «{a['quote']}»" + (f" in `{a['source']}`" if a.get("source") else ""))
    if q.get("answers"):
        lines.append(
            f"- first relevant passage: {_rank_text(q.get('rank'), k)}; first hit from the right document: "
            f"{_rank_text(q.get('doc_rank'), k)}"
        )
    if q.get("abstained") and q.get("explanation"):
        lines.append(f"- flagged: {q['explanation']}")
    hits = q.get("hits", [])
    if hits:
        first = hits[0]
        lines.append(f"- first hit instead: `{first['source']}` (score {first['score']:.3f}): “{_excerpt(first['text'])}”")
    else:
        lines.append("- no hit returned")
    return [*lines, ""]


def _markdown(result: dict[str, Any]) -> str:
    k = result.get("k")
    questions: list[dict[str, Any]] = result.get("questions", [])
    overall = _groups(result)["all"]
    lines = [f"# Retrieval evaluation (top {k})", ""]
    manifest = result.get("manifest") or {}
    if manifest:
        lines += ["## Run", "", *_manifest_lines(manifest), ""]
    lines += [
        "## Summary",
        "",
        _summary_table(result, markdown=True),
        "",
        "recall@k: share of answerable questions with a passage containing one of their quotes in the top k; "
        "doc_recall@k: the same with any passage of an answer's document. nDCG counts every quote-bearing passage as "
        "relevant, with an ideal ranking of one relevant passage per distinct answer (more if more were found).",
        "",
        "## Abstention",
        "",
    ]
    n_na, n_abs = overall.get("n_no_answer", 0), overall.get("n_abstained", 0)
    right = sum(1 for q in questions if q["no_answer"] and q["abstained"])
    wrong = sum(1 for q in questions if not q["no_answer"] and q["abstained"])
    lines += [
        f"- abstained on {right} of {n_na} no-answer questions (recall {_fmt(overall.get('abstention_recall'))})",
        f"- {right} of {n_abs} abstentions were on no-answer questions (precision {_fmt(overall.get('abstention_precision'))})",
        f"- abstained on {wrong} of {overall.get('n_answerable', 0)} answerable questions "
        f"(false abstention rate {_fmt(overall.get('false_abstention_rate'))})",
        "",
    ]
    misses = [q for q in questions if not q["no_answer"] and q.get("rank") != 1]
    lines += ["## Answerable questions whose first hit has no quote", ""]
    if not misses:
        lines += ["None: every answerable question has a quote in its first hit.", ""]
    for q in misses:
        lines += _question_block(q, k, f"first relevant {_rank_text(q.get('rank'), k)}")
    false_abs = [q for q in questions if not q["no_answer"] and q["abstained"]]
    missed_abs = [q for q in questions if q["no_answer"] and not q["abstained"]]
    if false_abs or missed_abs:
        lines += ["## Abstention errors", ""]
    for q in false_abs:
        lines += _question_block(q, k, "abstained on an answerable question")
    for q in missed_abs:
        lines += _question_block(q, k, "answered although no document answers")
    return "\n".join(lines).rstrip() + "\n"


def _plot_recall(result: dict[str, Any], path: Path) -> None:
    # The Agg canvas is used directly rather than through pyplot, so no global backend is switched (the web app
    # may have its own) and concurrent calls do not share state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, metrics in _groups(result).items():
        points = sorted(
            (int(m[1]), v) for key, v in metrics.items() if (m := _RECALL.fullmatch(key)) and isinstance(v, (int, float))
        )
        if points:
            overall = name == "all"
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o",
                label=name,
                color="black" if overall else None,
                linestyle="--" if overall else "-",
            )
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("recall@k (passage level)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks([1, 3, 5, 10])
    ax.grid(alpha=0.3)
    ax.legend(title="language")
    ax.set_title("Share of answerable questions with a quote in the top k")
    fig.tight_layout()
    fig.savefig(path, format="png")


def write_reports(result_dict: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``recall.png`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    _groups(result_dict)  # fail early, before writing anything, on a dict that is not an evaluation result
    try:
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path, png_path = out / "report.json", out / "report.md", out / "recall.png"
        json_path.write_text(json.dumps(result_dict, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        md_path.write_text(_markdown(result_dict), encoding="utf-8")
        _plot_recall(result_dict, png_path)
    except OSError as e:
        raise BadInputError(f"cannot write the reports to {out} ({e.strerror}); choose another --out folder") from None
    return [json_path, md_path, png_path]


def _delta(a: Any, b: Any) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        diff = b - a
        return f"{diff:+d}" if isinstance(diff, int) else f"{diff:+.3f}"
    return "–"


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Side-by-side table (metric, A, B, B−A) overall and per language, then the questions whose rank changed."""
    groups_a, groups_b = _groups(a), _groups(b)
    sections: list[str] = []
    sha_a = (a.get("manifest") or {}).get("questions_sha256")
    sha_b = (b.get("manifest") or {}).get("questions_sha256")
    if sha_a and sha_b and sha_a != sha_b:
        sections.append("warning: A and B were run on different question sets (questions_sha256 differs)")
    for group in [*groups_a, *(g for g in groups_b if g not in groups_a)]:
        ma, mb = groups_a.get(group, {}), groups_b.get(group, {})
        names = [*ma, *(n for n in mb if n not in ma)]
        rows = [[_LABELS.get(n, n), _fmt(ma.get(n)), _fmt(mb.get(n)), _delta(ma.get(n), mb.get(n))] for n in names]
        sections.append(f"[{group}]\n" + _table(["metric", "A", "B", "B−A"], rows))
    ranks_a = {q["id"]: q.get("rank") for q in a.get("questions", []) if not q.get("no_answer")}
    changed = [
        (q["id"], ranks_a[q["id"]], q.get("rank"))
        for q in b.get("questions", [])
        if q["id"] in ranks_a and q.get("rank") != ranks_a[q["id"]]
    ]
    sections.append(_significance(a, b))
    k_a, k_b = a.get("k", "k"), b.get("k", "k")
    if changed:
        rows = [[qid, f"{_rank_text(ra, k_a)} → {_rank_text(rb, k_b)}"] for qid, ra, rb in changed]
        sections.append(f"first relevant rank changed ({len(changed)} questions)\n" + _table(["question", "rank A → B"], rows))
    else:
        sections.append("first relevant rank: unchanged for every question in both reports")
    return "\n\n".join(sections)


def _reciprocal_ranks(result: dict[str, Any], cutoff: int = 10) -> dict[str, tuple[str, float]]:
    """Answerable question id → (language, reciprocal rank of its first relevant passage, 0 beyond ``cutoff``)."""
    out: dict[str, tuple[str, float]] = {}
    for q in result.get("questions", []):
        if q.get("no_answer"):
            continue
        rank = q.get("rank")
        out[q["id"]] = (str(q.get("lang", "")), 1.0 / rank if isinstance(rank, int) and 0 < rank <= cutoff else 0.0)
    return out


def _significance(a: dict[str, Any], b: dict[str, Any]) -> str:
    """MRR@10 difference B−A per group, over the answerable questions both reports share, with its uncertainty."""
    rr_a, rr_b = _reciprocal_ranks(a), _reciprocal_ranks(b)
    shared = [qid for qid in rr_b if qid in rr_a]
    if not shared:
        return "MRR@10 B−A: no answerable question in common"
    lines = [f"MRR@10 B−A over the {len(shared)} answerable questions of both reports"]
    for lang in ["all", *sorted({rr_a[qid][0] for qid in shared})]:
        ids = [qid for qid in shared if lang == "all" or rr_a[qid][0] == lang]
        diff = paired_difference([rr_a[qid][1] for qid in ids], [rr_b[qid][1] for qid in ids])
        lines.append(f"  {lang}: {diff.describe()}")
    return "\n".join(lines)


# -- TREC run file -------------------------------------------------------------------------------------------------

_TREC_SPACE = re.compile(r"[\s%]")


def trec_id(text: str) -> str:
    """An id as one TREC column: whitespace (and ``%`` itself) percent-encoded, so ``my file.txt:0-120`` becomes
    ``my%20file.txt:0-120`` and the encoding can be undone with ``urllib.parse.unquote``."""
    return _TREC_SPACE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), text) or "%00"


def trec_run_lines(result_dict: dict[str, Any], run_name: str = "rag") -> list[str]:
    """The lines of a TREC run, ``qid Q0 docid rank score run_name``, from ``EvalResult.to_dict()``.

    One line per retrieved passage, in the order rag returned them (rank 1 first); docid is the passage id
    (``source:start-end``, see ``trec_id``). trec_eval ranks by score, not by the rank column, so scores are the
    retriever's, lowered by the smallest step where needed to be strictly decreasing within a question.
    """
    _groups(result_dict)  # the same check as the other reports
    name = trec_id(run_name)
    lines: list[str] = []
    for question in result_dict.get("questions", []):
        qid = trec_id(str(question["id"]))
        previous: float | None = None
        for rank, hit in enumerate(question.get("hits", []), start=1):
            score = round(float(hit["score"]), 6)
            if previous is not None and score >= previous:
                score = round(previous - 1e-6, 6)
            previous = score
            lines.append(f"{qid} Q0 {trec_id(str(hit['id']))} {rank} {score:.6f} {name}")
    return lines


def write_trec_run(result_dict: dict[str, Any], path: str | os.PathLike[str], run_name: str = "rag") -> Path:
    """Write ``trec_run_lines`` to ``path`` (parent folders created); returns the path."""
    out = Path(path)
    lines = trec_run_lines(result_dict, run_name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as e:
        raise BadInputError(f"cannot write the TREC run to {out} ({e.strerror}); choose another --trec file") from None
    return out
