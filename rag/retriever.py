"""``Retriever.load(dir).search(question, k)`` → hits with citations and the answering sentence highlighted."""

from __future__ import annotations

import math
import numbers
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag import ann, rank, store
from rag.answer_kind import DEPTH, missing_kind
from rag.embed import Embedder, get_embedder
from rag.errors import BadInputError, IndexIncompatibleError
from rag.highlight import highlight_spans
from rag.lang import guess_language
from rag.rows import SpanTable, read_ranges
from rag.types import Document, DocumentInfo, Hit, Passage, Span

MAX_QUERY_CHARS = 2000
# Cosines of unit vectors lie in [-1, 1], float16 rounding aside: a similarity beyond this comes from damaged vectors.
MAX_SIMILARITY = 1.01
# Passages whose vectors are this close say the same thing (repeated titles, boilerplate): only the best is shown.
DUPLICATE_SIMILARITY = 0.985
COLLAPSE_EXTRA = 5


def clean_query(query: str) -> str:
    """NFC, control characters removed, whitespace collapsed; raises ``BadInputError`` when nothing is left."""
    if not isinstance(query, str):
        raise BadInputError(f"the question must be a string, not {type(query).__name__}")
    text = unicodedata.normalize("NFC", query)
    # Control and format characters become spaces; lone surrogates (from broken input) cannot be encoded at all.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    if not text:
        raise BadInputError("the question is empty: type a question in French or English")
    if len(text) > MAX_QUERY_CHARS:
        raise BadInputError(f"the question is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    return text


class Retriever:
    """Searches one index directory. Load once, then call ``search`` as often as needed (thread-safe reads).

    Modes: ``dense`` (FAISS over passage embeddings), ``lexical`` (BM25 with French stemming) and ``hybrid``
    (the default: dense candidates and BM25 candidates, re-scored with the best-matching sentence of each passage
    and fused with the lexical evidence; see ``rag.rank``).
    """

    default_mode: str = "hybrid"

    def __init__(self, data: store.IndexData, embedder: Embedder, path: Path | None = None) -> None:
        self.data = data
        self.embedder = embedder
        self.path = path
        self.manifest = data.manifest
        self._docs: dict[str, Document] = {d.info.source: d for d in data.documents}
        if isinstance(data.sentence_spans, SpanTable):  # as loaded: the offsets are already there
            self._sentence_start = data.sentence_spans.starts
        else:
            counts = np.array([len(s) for s in data.sentence_spans], dtype=np.int64)
            self._sentence_start = np.concatenate([[0], np.cumsum(counts)])
        self.corpus_lang = _corpus_language(data.documents)
        self._rows_by_source: dict[str, list[int]] = {}
        for row, passage in enumerate(data.passages):
            self._rows_by_source.setdefault(passage.source, []).append(row)

    @classmethod
    def load(cls, path: str | os.PathLike[str] = "index", embedder: Embedder | None = None) -> Retriever:
        """Open an index; the embedder recorded in its manifest is loaded unless one is given (ids must match)."""
        data = store.load(path, with_vectors=False)
        info = data.manifest.get("embedder", {})
        if embedder is None:
            embedder = get_embedder(str(info.get("spec") or info.get("id", "")))
        if embedder.id != info.get("id"):
            raise IndexIncompatibleError(
                f"{path} was built with embedder {info.get('id')!r}, not {embedder.id!r}; query it with the same "
                "embedder or rebuild it with `rag index --embedder ...`"
            )
        return cls(data, embedder, Path(path))

    # -- what is indexed ---------------------------------------------------------------------------------------

    @property
    def documents(self) -> list[DocumentInfo]:
        return [d.info for d in self.data.documents]

    def passage_count(self, source: str) -> int:
        return len(self._rows_by_source.get(source, ()))

    def document(self, source: str) -> Document:
        try:
            return self._docs[source]
        except KeyError:
            raise BadInputError(f"unknown document {source!r}; indexed: {', '.join(sorted(self._docs))}") from None

    def context(self, hit: Hit | Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """The passage with its neighbouring passages in the same document, in reading order."""
        passage = hit.passage if isinstance(hit, Hit) else hit
        rows = self._rows_by_source.get(passage.source, [])
        ids = [self.data.passages[r].id for r in rows]
        i = ids.index(passage.id)
        return [self.data.passages[r] for r in rows[max(0, i - before) : i + after + 1]]

    # -- search --------------------------------------------------------------------------------------------------

    def _allowed_rows(self, sources: Iterable[str] | str | None) -> npt.NDArray[np.int64] | None:
        if sources is None:
            return None
        wanted = [sources] if isinstance(sources, str) else list(sources)  # one name, not its characters
        unknown = [s for s in wanted if s not in self._docs]
        if unknown:
            raise BadInputError(f"unknown document(s) {unknown}; indexed: {', '.join(sorted(self._docs))}")
        return np.array([r for s in wanted for r in self._rows_by_source.get(s, [])], dtype=np.int64)

    def highlight(self, row: int, query_vector: npt.NDArray[np.float32]) -> tuple[Span, ...]:
        """The sentence(s) of passage ``row`` closest to the question, as spans of its text."""
        spans = self.data.sentence_spans[row]
        if not spans:
            return ()
        sims = self._sentence_sims(row, query_vector)
        return highlight_spans(self.data.passages[row].text, spans, [float(x) for x in sims])

    def _sentence_sims(self, row: int, query_vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        lo, hi = int(self._sentence_start[row]), int(self._sentence_start[row + 1])
        sims: npt.NDArray[np.float32] = np.asarray(self.data.sentence_vectors[lo:hi]) @ query_vector
        return self._possible(sims)

    def _possible(self, sims: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``sims``, unless one of them is no cosine of unit vectors: then the index is damaged, and says so."""
        worst = float(np.abs(sims).max(initial=0.0))
        if not worst <= MAX_SIMILARITY:  # NaN too
            raise IndexIncompatibleError(
                f"{self.path or 'the index'} is damaged (a similarity of {worst:.4g} is impossible for unit vectors); "
                "re-run `rag index` to rebuild it"
            )
        return sims

    def _rank(
        self, text: str, vector: npt.NDArray[np.float32] | None, k: int, allowed: npt.NDArray[np.int64] | None, mode: str
    ) -> rank.Ranking:
        if mode == "dense":
            assert vector is not None
            scores, rows = ann.search(self.data.faiss_index, vector, k, allowed)
            scores = self._possible(scores)
            return rank.Ranking(rows, scores, scores, np.zeros_like(scores))
        lexical = (
            self.data.lexical.scores(text)
            if self.data.lexical is not None
            else np.zeros(len(self.data.passages), dtype=np.float32)
        )
        if allowed is not None:
            mask = np.zeros(len(lexical), dtype=bool)
            mask[allowed] = True
            lexical = np.where(mask, lexical, np.float32(0.0))
        if mode == "lexical":
            return rank.lexical_only(lexical, k)
        assert vector is not None
        n = max(rank.CANDIDATES, 4 * k)
        _, dense_rows = ann.search(self.data.faiss_index, vector, n, allowed)
        rows = rank.candidates(dense_rows, lexical, n)
        passage_sims = self._possible(np.asarray(self.data.vectors[rows]) @ vector)  # rows sorted: sequential reads
        # The best sentence of every candidate, in one read and one product (a loop over ~200 candidates cost ~2 ms).
        lo, hi = self._sentence_start[rows], self._sentence_start[rows + 1]
        sentence_sims = self._possible(read_ranges(self.data.sentence_vectors, lo, hi) @ vector)
        sentence_best = passage_sims.astype(np.float32)  # a passage without sentences counts its own similarity
        counts = hi - lo
        if (has := counts > 0).any():
            sentence_best[has] = np.maximum.reduceat(sentence_sims, (np.cumsum(counts) - counts)[has])
        return rank.hybrid(rows, passage_sims, sentence_best, lexical[rows], k, float(lexical.max(initial=0.0)))

    def _collapse(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Rows without near-duplicates of a better-ranked row (the cited spans themselves are never changed)."""
        if len(rows) < 2:
            return rows
        vectors = np.asarray(self.data.vectors[np.sort(rows)])[np.argsort(np.argsort(rows))]
        kept: list[int] = []
        for i in range(len(rows)):
            if all(float(vectors[i] @ vectors[j]) < DUPLICATE_SIMILARITY for j in kept):
                kept.append(i)
        return rows[kept]

    def evidence(self, query: str) -> rank.Evidence:
        """What the abstention decision sees for a question in hybrid mode (used to calibrate it)."""
        text = clean_query(query)
        ranking = self._rank(text, self.embedder.embed_query(text), DEPTH, None, "hybrid")
        top = float(ranking.scores[0]) if len(ranking.rows) else 0.0
        return rank.Evidence(top, ranking.lexical_max, guess_language(text), self.corpus_lang, self._missing(text, ranking))

    def _missing(self, text: str, ranking: rank.Ranking) -> str | None:
        """The kind of answer ``text`` asks for that none of the best passages holds (see ``rag.answer_kind``)."""
        return missing_kind(text, (self.data.passages[row].text for row in ranking.rows[:DEPTH].tolist()))

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        sources: Iterable[str] | str | None = None,
        min_score: float | None = None,
        highlight: bool = True,
        mode: str | None = None,
        collapse: bool = True,
    ) -> list[Hit]:
        """The ``k`` passages that best answer ``query``, best first.

        ``sources`` restricts the search to some documents (paths relative to the corpus: one, or an iterable);
        ``min_score`` drops weaker hits; ``highlight`` computes the answering sentence(s) of each hit; ``mode`` is
        ``dense``, ``lexical`` or ``hybrid`` (default: ``self.default_mode``); ``collapse`` drops a hit whose text is a
        near-duplicate of a better one (a title repeated on a cover page, say). When nothing seems to answer, every
        hit has ``abstain=True`` (the hits are still returned, for the user to judge); when that is because the
        question asks for a figure that none of the best passages gives, ``missing`` names its kind (``percentage``,
        ``amount``, ``date`` or ``number``).
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise BadInputError(f"k must be a positive whole number, not {k!r}")
        if min_score is not None and not (isinstance(min_score, numbers.Real) and math.isfinite(min_score)):
            raise BadInputError(f"the minimum score must be a number, not {min_score!r}")
        mode = mode or self.default_mode
        if mode not in rank.MODES:
            raise BadInputError(f"unknown retrieval mode {mode!r}; use one of {', '.join(rank.MODES)}")
        text = clean_query(query)
        allowed = self._allowed_rows(sources)
        if not self.data.passages or (allowed is not None and len(allowed) == 0):
            return []
        vector = self.embedder.embed_query(text) if mode != "lexical" or highlight else None
        # At least DEPTH rows, so that the answer-kind check always reads the same passages whatever k is.
        ranking = self._rank(text, vector, max(DEPTH, k + COLLAPSE_EXTRA if collapse else k), allowed, mode)
        missing = self._missing(text, ranking)
        abstain = rank.should_abstain(ranking, mode, guess_language(text), self.corpus_lang, missing)
        rows = self._collapse(ranking.rows) if collapse else ranking.rows
        score_of = dict(zip(ranking.rows.tolist(), ranking.scores.tolist(), strict=True))
        hits: list[Hit] = []
        for row in rows.tolist()[:k]:
            score = score_of[row]
            if min_score is not None and score < min_score:
                continue
            passage = self.data.passages[row]
            hits.append(
                Hit(
                    passage=passage,
                    document=self._docs[passage.source].info,
                    score=float(score),
                    rank=len(hits) + 1,
                    highlights=self.highlight(row, vector) if highlight and vector is not None else (),
                    abstain=abstain,
                    missing=missing,
                )
            )
        return hits


def _corpus_language(documents: list[Document], sample: int = 200) -> str:
    """The main language of the indexed text (catalogue ``lang`` when given, else guessed from each text's start)."""
    votes: dict[str, int] = {}
    for doc in documents[:sample]:
        lang = doc.info.lang or guess_language(doc.text[:2000])
        votes[lang] = votes.get(lang, 0) + 1
    return max(votes, key=lambda lang: votes[lang]) if votes else "und"
