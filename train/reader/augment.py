"""Training-time question augmentation against PIAF's word-overlap habit (run 2).

PIAF questions are written from their paragraph: they copy its words, so a reader trained on them alone learns
"answers = shares words" and gives English or paraphrased questions low answer probabilities. Three remedies,
applied to training questions only (validation questions stay as written):

- **Paraphrase**: some question words that also occur in the gold passage are replaced by one of their neighbours
  in e5's own input word embeddings (French synonyms, inflections, English translations: ``guerre`` → ``conflit``,
  ``war``; ``construit`` → ``built``, ``conçu``) or dropped. The answer label is unchanged.
- **Code-switch**: many content words are replaced by an English neighbour, so that the reader sees English
  wording against French passages (no English QA data with a usable licence could be had here).
- **Entity swap** (near-topic unanswerable questions): a number or a capitalised name of the question that the
  gold passage contains is replaced by one of the same shape taken from another passage of the same article and
  absent from the gold passage. The question still shares most words with the passage, but the passage no
  longer answers it (as SQuAD 2.0's unanswerable questions are written): answer label 0.

Neighbours come from the base model alone (e5's word embeddings, frozen in training) restricted to words of
French (PIAF training passages, MIT) or English (Debian's ``wamerican`` list, SCOWL): nothing else is read.

    python -m train.reader.augment   # writes $READER_DATA/neighbours.json and prints examples
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np

from rag.lexical import _stopwords, fold
from rag.reader import METASPACE
from train.reader.candidates import DATA
from train.reader.piaf import load_split, piaf_paragraphs

ENGLISH = Path("/usr/share/dict/american-english")
NEIGHBOURS = DATA / "neighbours.json"
_WORD = re.compile(r"[^\W\d_]{3,}(?:['’-][^\W\d_]+)*")
_NUMBER = re.compile(r"\b\d[\d  ,.]*\d\b|\b\d\b")
_NAME = re.compile(r"\b[A-ZÀ-Ý][\w’'-]+")
_INNER_NAME = re.compile(r"(?<=[a-zà-ÿ,] )[A-ZÀ-Ý][\w’'-]+")  # capitalised after a lowercase word: a name


def build_neighbours(top: int = 4, min_sim: float = 0.33) -> dict[str, dict[str, list[str]]]:
    """Per French word piece: its nearest whole-word pieces in e5's word embeddings, French and English apart."""
    from train.reader.e5_base import read_e5

    base = read_e5()
    keep = json.loads((DATA / "vocab.json").read_text())["original_ids"]
    split = load_split()
    counts: Counter[str] = Counter()
    for para in piaf_paragraphs():
        if split[para.title] == "train":
            counts.update(w.lower() for w in _WORD.findall(para.context))
    french = {w for w, n in counts.items() if n >= 3}
    english = {w.strip().lower() for w in ENGLISH.read_text(encoding="utf-8", errors="ignore").split("\n")
               if w.strip().isalpha()}
    pieces = [base.pieces[i] for i in keep]
    words = {i: p[1:] for i, p in enumerate(pieces) if p.startswith(METASPACE) and len(p) > 3 and p[1:].isalpha()}
    lang = {i: ("fr" if w.lower() in french and w.lower() not in english else
                "en" if w.lower() in english and w.lower() not in french else "")
            for i, w in words.items()}
    ids = np.array([i for i in words if lang[i]])
    emb = base.tensors["emb.word"][np.array(keep)[ids]].astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    out: dict[str, dict[str, list[str]]] = {}
    sources = [k for k, i in enumerate(ids) if lang[int(i)] == "fr" and words[int(i)].islower()]
    for start in range(0, len(sources), 2048):
        block = sources[start : start + 2048]
        sims = emb[block] @ emb.T
        for row, k in enumerate(block):
            word = words[int(ids[k])]
            found: dict[str, list[str]] = {"fr": [], "en": []}
            for j in np.argsort(-sims[row])[1 : 40]:
                if sims[row, j] < min_sim:
                    break
                other = words[int(ids[j])]
                if fold(other) == fold(word) or not other.islower():
                    continue
                bucket = found[lang[int(ids[j])]]
                if len(bucket) < top and other not in bucket:
                    bucket.append(other)
            if found["fr"] or found["en"]:
                out[word] = found
    return out


def load_neighbours() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = json.loads(NEIGHBOURS.read_text(encoding="utf-8"))
    return data


def _recase(new: str, old: str) -> str:
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def paraphrase(question: str, passage: str, neighbours: dict[str, dict[str, list[str]]], rnd: random.Random,
               english: float, rate: float = 0.5) -> str:
    """The question with words replaced by embedding neighbours (English ones with probability ``english``) or,
    for words copied from the passage and without neighbours, dropped; ``rate``: share of words touched."""
    in_passage = {fold(w) for w in _WORD.findall(passage)}
    stop = _stopwords()

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        if fold(word) in stop or (word[:1].isupper() and m.start() > 0):
            return word  # function words and names stay
        shared = fold(word) in in_passage
        if rnd.random() > (rate if shared else rate / 2):
            return word
        found = neighbours.get(word.lower())
        if found:
            pool = found["en"] if found["en"] and rnd.random() < english else found["fr"] or found["en"]
            return _recase(rnd.choice(pool[:3]), word)
        return "" if shared and rnd.random() < 0.3 else word

    return re.sub(r" {2,}", " ", _WORD.sub(swap, question)).strip()


def entity_swap(question: str, gold: str, others: list[str], rnd: random.Random) -> str | None:
    """The question with one number or name that the gold passage holds replaced by one of the same shape found in
    ``others`` (passages of the same article) and absent from the gold passage; None when there is none."""
    slots = []
    for pattern, kind in ((_NUMBER, "number"), (_NAME, "name")):
        for m in pattern.finditer(question):
            if kind == "name" and m.start() == 0:
                continue  # the question's first word is capitalised anyway
            if m.group(0) in gold:
                slots.append((m, kind))
    rnd.shuffle(slots)
    for m, kind in slots:
        pattern = _NUMBER if kind == "number" else _INNER_NAME
        pool = sorted({x for text in others for x in pattern.findall(text)
                       if x not in gold and x != m.group(0) and (kind == "name" or len(x) == len(m.group(0)))})
        if kind == "number" and not pool and m.group(0).isdigit() and len(m.group(0)) == 4:
            year = int(m.group(0)) + rnd.choice([-1, 1]) * rnd.randint(2, 40)
            pool = [str(year)] if str(year) not in gold else []
        if pool:
            return question[: m.start()] + rnd.choice(pool) + question[m.end() :]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=12)
    args = ap.parse_args()
    table = build_neighbours()
    NEIGHBOURS.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    with_en = sum(bool(v["en"]) for v in table.values())
    print(f"{len(table)} French words with neighbours ({with_en} with English ones) -> {NEIGHBOURS}")
    rnd = random.Random(0)
    groups = [json.loads(line) for line in (DATA / "groups_train.jsonl").read_text(encoding="utf-8").splitlines()[:400]]
    shown = 0
    for g in groups:
        gold = next(p for p in g["pairs"] if p["label"] == 1)
        others = [p["text"] for p in g["pairs"] if p["kind"] == "article"]
        swapped = entity_swap(g["question"], gold["text"], others, rnd)
        if swapped and shown < args.examples:
            shown += 1
            print(f"Q  {g['question']}\nP  {paraphrase(g['question'], gold['text'], table, rnd, 0.2)}\n"
                  f"EN {paraphrase(g['question'], gold['text'], table, rnd, 1.0, rate=0.8)}\nX  {swapped}\n")


if __name__ == "__main__":
    main()
