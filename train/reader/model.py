"""The reader network in torch (training only) and its export to ONNX (+ int8 dynamic quantisation).

A BERT/XLM-R encoder with e5-small's shapes (hidden 384, 12 heads, FFN 1,536, post-LayerNorm, GELU), the first
``layers`` of its 12 layers, the trimmed vocabulary, mean pooling over the pair's tokens (as e5 pools), and a
linear head with two outputs: relevance (trained listwise: the gold passage against its retrieved candidates)
and the answer logit (trained pointwise: does this passage answer the question).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from train.reader.e5_base import E5Base


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.ao = nn.Linear(hidden, hidden)
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.fi, self.fo = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
        self.oln = nn.LayerNorm(hidden, eps=eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        hd = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.aln(x + self.drop(self.ao(ctx)))
        return self.oln(x + self.drop(self.fo(nn.functional.gelu(self.fi(x)))))


class CrossEncoder(nn.Module):
    def __init__(self, vocab: int, layers: int, hidden: int = 384, heads: int = 12, ffn: int = 1536,
                 max_positions: int = 512, eps: float = 1e-12, dropout: float = 0.1) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Parameter(torch.zeros(hidden))
        self.eln = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(Layer(hidden, heads, ffn, eps, dropout) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 2)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device)
        x = self.eln(self.word(input_ids) + self.pos(positions)[None] + self.token_type)
        x = self.drop(x)
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        logits: torch.Tensor = self.head(self.drop(pooled))
        return logits


def from_e5(base: E5Base, keep_ids: list[int], layers: int, dropout: float = 0.1) -> CrossEncoder:
    """A CrossEncoder initialised from e5's first ``layers`` layers and the kept rows of its word embeddings."""
    model = CrossEncoder(len(keep_ids), layers, base.hidden, base.heads, base.ffn, base.max_positions, base.eps, dropout)
    t = base.tensors

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)).reshape(param.shape))

    put(model.word.weight, t["emb.word"][np.array(keep_ids)])
    put(model.pos.weight, t["emb.pos"])
    put(model.token_type, t["emb.type"][0])
    put(model.eln.weight, t["emb.ln.w"])
    put(model.eln.bias, t["emb.ln.b"])
    for i, layer in enumerate(model.layers):
        for name in ("q", "k", "v", "ao", "fi", "fo"):
            lin = getattr(layer, name)
            put(lin.weight, t[f"l{i}.{name}.w"])
            put(lin.bias, t[f"l{i}.{name}.b"])
        for name in ("aln", "oln"):
            ln = getattr(layer, name)
            put(ln.weight, t[f"l{i}.{name}.w"])
            put(ln.bias, t[f"l{i}.{name}.b"])
    return model


def export_onnx(model: CrossEncoder, path: Path, quantize: bool = True) -> Path:
    """Write ``path`` (float32 ONNX, dynamic batch and length); with ``quantize`` also ``path`` with int8 weights
    (dynamic quantisation of the MatMuls and the embedding Gather), returned instead."""
    model.eval()
    ids = torch.randint(5, 100, (2, 16))
    mask = torch.ones_like(ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                      "logits": {0: "batch"}},
        opset_version=17, dynamo=False,
    )
    if not quantize:
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + ".int8.onnx")
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])
    return out
