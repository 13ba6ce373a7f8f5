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

from rag import store
from rag.embed import Embedder, get_embedder
from rag.errors import BadInputError, IndexIncompatibleError
from rag.ingest.lang import guess_language
from rag.retrieve import rank
from rag.retrieve.abstention import NO_PASSAGE, decide, evidence_strength, needs_second_opinion
from rag.retrieve.answer_kind import DEPTH, missing_kind
from rag.retrieve.calibration import Calibration
from rag.retrieve.highlight import highlight_spans
from rag.store import ann
from rag.store.rows import SpanTable, read_ranges
from rag.types import DEFAULT_MODE, MODES, Decision, Document, DocumentInfo, Hit, Passage, Results, Span

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
    and fused with the lexical evidence; see ``rag.retrieve.rank``).
    """

    def __init__(
        self, data: store.IndexData, embedder: Embedder, path: Path | None = None, *, second: Embedder | None = None
    ) -> None:
        self.data = data
        self.embedder = embedder
        self.path = path
        # The second opinion on whether the corpus answers (rag.embed.use), when the index has its passage vectors.
        self.second = second if data.second_vectors is not None else None
        self.manifest = data.manifest
        self._docs: dict[str, Document] = {d.info.source: d for d in data.documents}
        if isinstance(data.sentence_spans, SpanTable):  # as loaded: the offsets are already there
            self._sentence_start = data.sentence_spans.starts
        else:
            counts = np.array([len(s) for s in data.sentence_spans], dtype=np.int64)
            self._sentence_start = np.concatenate([[0], np.cumsum(counts)])
        self.corpus_lang = _corpus_language(data.documents)
        # The corpus's null distribution (rag.retrieve.calibration), computed when the index was built.
        self.calibration = Calibration.from_dict(self.manifest.get("calibration"))
        self._rows_by_source: dict[str, list[int]] = {}
        for row, passage in enumerate(data.passages):
            self._rows_by_source.setdefault(passage.source, []).append(row)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] = "index", embedder: Embedder | None = None, second: Embedder | None = None
    ) -> Retriever:
        """Open an index; the embedder (and second opinion) recorded in its manifest are loaded unless given (ids
        must match: a server reopening its index after an upload passes the models it has loaded already)."""
        data = store.load(path, with_vectors=False)
        info = data.manifest.get("embedder", {})
        if embedder is None:
            embedder = get_embedder(str(info.get("spec") or info.get("id", "")))
        if embedder.id != info.get("id"):
            raise IndexIncompatibleError(
                f"{path} was built with embedder {info.get('id')!r}, not {embedder.id!r}; query it with the same "
                "embedder or rebuild it with `rag index --embedder ...`"
            )
        recorded = data.manifest.get("second_opinion")
        if not isinstance(recorded, dict) or data.second_vectors is None:
            second = None
        else:
            second = second or get_embedder(str(recorded.get("spec") or recorded.get("id", "")))  # loads on first use
            if recorded.get("id") != second.id:
                raise IndexIncompatibleError(
                    f"{path} was built with the second opinion {recorded.get('id')!r}, not {second.id!r}; re-run "
                    "`rag index` (its vectors are reused)"
                )
        return cls(data, embedder, Path(path), second=second)

    def warm(self) -> None:
        """Load the models now rather than at the first question (a server calls it at start, in the background: the
        second opinion takes seconds to load, and is needed only for some questions)."""
        self.embedder.embed_query("warm up")
        if self.second is not None:
            self.second.embed_query("warm up")

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

    def sentence_similarities(self, row: int, query_vector: npt.NDArray[np.float32]) -> list[float]:
        """The cosine similarity to the question of each sentence of passage ``row`` (``data.sentence_spans[row]``)."""
        lo, hi = int(self._sentence_start[row]), int(self._sentence_start[row + 1])
        return [float(x) for x in self._possible(np.asarray(self.data.sentence_vectors[lo:hi]) @ query_vector)]

    def _possible(self, sims: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``sims``, unless one of them is no cosine of unit vectors: then the index is damaged, and says so."""
        worst = float(np.abs(sims).max(initial=0.0))
        if not worst <= MAX_SIMILARITY:  # NaN too
            raise IndexIncompatibleError(
                f"{self.path or 'the index'} is damaged (a similarity of {worst:.4g} is impossible for unit vectors); "
                "re-run `rag index` to rebuild it"
            )
        return sims

    def highlight(self, row: int, query_vector: npt.NDArray[np.float32]) -> tuple[Span, ...]:
        """The sentence(s) of passage ``row`` closest to the question, as spans of its text."""
        spans = self.data.sentence_spans[row]
        if not spans:
            return ()
        return highlight_spans(self.data.passages[row].text, spans, self.sentence_similarities(row, query_vector))

    def candidates(
        self,
        question: str,
        depth: int = rank.CANDIDATES,
        *,
        sources: Iterable[str] | str | None = None,
        mode: str = DEFAULT_MODE,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> rank.Candidates:
        """The passages worth ranking for ``question`` and the evidence on each (see ``rank.Candidates``).

        The dense ``depth`` best by passage vector (modes ``dense`` and ``hybrid``) and the lexical ``depth`` best by
        BM25 (``lexical`` and ``hybrid``). ``vector`` is the question's embedding when the caller has it already (a
        batch of questions embedded at once); it is computed otherwise, except in lexical mode, where it is optional
        (it gives the dense evidence, and highlights).
        """
        if mode not in MODES:
            raise BadInputError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        text = clean_query(question)
        allowed = self._allowed_rows(sources)
        if vector is None and mode != "lexical":
            vector = self.embedder.embed_query(text)
        lexical = self._lexical_scores(text, allowed) if mode != "dense" else None
        if mode == "lexical":
            assert lexical is not None
            rows = np.sort(rank.lexical_top(lexical, depth))
        else:
            assert vector is not None
            _, dense_rows = ann.search(self.data.faiss_index, vector, depth, allowed)
            rows = np.unique(dense_rows) if lexical is None else rank.union(dense_rows, lexical, depth)
        lexical_max = float(lexical.max(initial=0.0)) if lexical is not None else 0.0
        lexical_rows = lexical[rows] if lexical is not None else np.zeros(len(rows), dtype=np.float32)
        passage, sentence = self._dense_evidence(rows, vector)
        return rank.Candidates(text, mode, rows, passage, sentence, lexical_rows, lexical_max, vector)

    def _lexical_scores(self, text: str, allowed: npt.NDArray[np.int64] | None) -> npt.NDArray[np.float32]:
        """BM25 score of every passage (0 outside ``allowed``, when given)."""
        if self.data.lexical is None:
            return np.zeros(len(self.data.passages), dtype=np.float32)
        lexical = self.data.lexical.scores(text)
        if allowed is not None:
            mask = np.zeros(len(lexical), dtype=bool)
            mask[allowed] = True
            lexical = np.where(mask, lexical, np.float32(0.0))
        return lexical

    def _dense_evidence(
        self, rows: npt.NDArray[np.int64], vector: npt.NDArray[np.float32] | None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Each row's cosine to the question, and its best sentence's (its own when it has no sentence)."""
        if vector is None or not len(rows):
            zeros = np.zeros(len(rows), dtype=np.float32)
            return zeros, zeros.copy()
        passage = self._possible((np.asarray(self.data.vectors[rows]) @ vector).astype(np.float32))  # rows ascending
        # The best sentence of every candidate, in one read and one product (a loop over ~200 candidates cost ~2 ms).
        lo, hi = self._sentence_start[rows], self._sentence_start[rows + 1]
        sentence_sims = self._possible(read_ranges(self.data.sentence_vectors, lo, hi) @ vector)
        sentence = passage.copy()
        counts = hi - lo
        if (has := counts > 0).any():
            sentence[has] = np.maximum.reduceat(sentence_sims, (np.cumsum(counts) - counts)[has])
        return passage, sentence

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

    def evidence(
        self,
        question: str,
        depth: int = rank.CANDIDATES,
        *,
        vector: npt.NDArray[np.float32] | None = None,
        second_vector: npt.NDArray[np.float32] | None = None,
    ) -> dict[str, float]:
        """The evidence a hybrid search finds for ``question`` (``rag.retrieve.calibration.SIGNALS``), the second
        opinion's included when the index has one (``second_vector``: the question's embedding by it, when known)."""
        candidates = self.candidates(question, depth, vector=vector)
        evidence = _evidence(candidates, rank.fuse(candidates))
        if self.second is not None:
            evidence["second"] = self.second_similarity(candidates, second_vector)
        return evidence

    def second_similarities(
        self, candidates: rank.Candidates, vector: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32] | None:
        """The second opinion's similarity between the question and each candidate (the question is embedded by it,
        loading it, unless ``vector`` is given); None without a second opinion."""
        if self.second is None or self.data.second_vectors is None:
            return None
        if not len(candidates.rows):
            return np.zeros(0, dtype=np.float32)
        if vector is None:
            vector = self.second.embed_query(candidates.question)
        sims: npt.NDArray[np.float32] = self._possible(np.asarray(self.data.second_vectors[candidates.rows]) @ vector)
        return sims

    def second_similarity(self, candidates: rank.Candidates, vector: npt.NDArray[np.float32] | None = None) -> float:
        """The second opinion's best similarity between the question and its candidates (0 without one)."""
        sims = self.second_similarities(candidates, vector)
        return float(sims.max(initial=0.0)) if sims is not None else 0.0

    def decide(self, candidates: rank.Candidates, ranking: rank.Ranking) -> Decision:
        """Whether the ranked candidates answer their question (see ``rag.retrieve.abstention``)."""
        return self._decide(candidates, ranking)[0]

    def _decide(
        self, candidates: rank.Candidates, ranking: rank.Ranking
    ) -> tuple[Decision, npt.NDArray[np.float32] | None]:
        """The decision, and the second opinion's similarity to each candidate when it was consulted."""
        texts = (self.data.passages[row].text for row in ranking.rows[:DEPTH].tolist())
        missing = missing_kind(candidates.question, texts)
        if self.calibration is None or candidates.mode != "hybrid" or not len(ranking.rows):
            return decide(ranking, missing), None
        lang = guess_language(candidates.question)
        evidence = _evidence(candidates, ranking)
        strength = evidence_strength(self.calibration, lang, evidence)
        second_sims = None
        if self.second is not None and needs_second_opinion(strength):
            second_sims = self.second_similarities(candidates)
            if second_sims is not None:
                evidence["second"] = float(second_sims.max(initial=0.0))
                strength = evidence_strength(self.calibration, lang, evidence)
        return decide(ranking, missing, strength, consulted=second_sims is not None), second_sims

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
    ) -> Results:
        """The ``k`` passages that best answer ``query``, best first, and whether they seem to answer it.

        ``sources`` restricts the search to some documents (paths relative to the corpus: one, or an iterable);
        ``min_score`` drops weaker hits; ``highlight`` computes the answering sentence(s) of each hit; ``mode`` is ``dense``,
        ``lexical`` or ``hybrid`` (the default); ``collapse`` drops a hit whose text is a near-duplicate of a better
        one (a title repeated on a cover page, say). ``candidates`` then ``rank.fuse`` then the decision: when
        nothing seems to answer, ``Results.abstain`` is True (the hits are still returned, for the user to judge) and
        ``Results.reason`` says why.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise BadInputError(f"k must be a positive whole number, not {k!r}")
        if min_score is not None and not (isinstance(min_score, numbers.Real) and math.isfinite(min_score)):
            raise BadInputError(f"the minimum score must be a number, not {min_score!r}")
        mode = mode or DEFAULT_MODE
        text = clean_query(query)
        allowed = self._allowed_rows(sources)
        if not self.data.passages or (allowed is not None and len(allowed) == 0):
            return Results(query, (), Decision(True, NO_PASSAGE))
        vector = self.embedder.embed_query(text) if highlight and mode == "lexical" else None
        depth = max(rank.CANDIDATES, 4 * (k + COLLAPSE_EXTRA))
        candidates = self.candidates(text, depth, sources=sources, mode=mode, vector=vector)
        ranking = rank.fuse(candidates)
        decision, second_sims = self._decide(candidates, ranking)
        rows = self._collapse(ranking.rows[: k + COLLAPSE_EXTRA]) if collapse else ranking.rows
        score_of = dict(zip(ranking.rows.tolist(), ranking.scores.tolist(), strict=True))
        position = {row: i for i, row in enumerate(candidates.rows.tolist())}
        hits: list[Hit] = []
        for row in rows.tolist()[:k]:
            score = float(score_of[row])
            if min_score is not None and score < min_score:
                continue
            passage = self.data.passages[row]
            spans = self.highlight(row, candidates.vector) if highlight and candidates.vector is not None else ()
            strength = None
            if decision.strength is not None and self.calibration is not None:
                i = position[row]
                evidence = {
                    "fused": score, "passage": float(candidates.passage[i]), "sentence": float(candidates.sentence[i]),
                    "lexical": float(candidates.lexical[i]),
                }  # fmt: skip
                if second_sims is not None:
                    evidence["second"] = float(second_sims[i])
                strength = evidence_strength(self.calibration, guess_language(text), evidence)
            hits.append(Hit(passage, self._docs[passage.source].info, score, len(hits) + 1, spans, strength))
        return Results(query, tuple(hits), decision)


def _evidence(candidates: rank.Candidates, ranking: rank.Ranking) -> dict[str, float]:
    """The signals of ``rag.retrieve.calibration.SIGNALS`` for one question's ranked candidates."""
    return {
        "fused": float(ranking.scores[0]) if len(ranking.rows) else 0.0,
        "passage": float(candidates.passage.max(initial=0.0)),
        "sentence": float(candidates.sentence.max(initial=0.0)),
        "lexical": candidates.lexical_max,
    }


def _corpus_language(documents: list[Document], sample: int = 200) -> str:
    """The main language of the indexed text (catalogue ``lang`` when given, else guessed from each text's start)."""
    votes: dict[str, int] = {}
    for doc in documents[:sample]:
        lang = doc.info.lang or guess_language(doc.text[:2000])
        votes[lang] = votes.get(lang, 0) + 1
    return max(votes, key=lambda lang: votes[lang]) if votes else "und"
