"""Trim e5's 250,002-piece vocabulary to French and English.

Kept, in the original order (so the trimmed tokenizer is the same unigram model restricted to fewer pieces):
- the special pieces <s>, <pad>, </s>, <unk>;
- every piece the full tokenizer produces on large French and English text: PIAF v1.0 (train and validation
  articles only), the two scale corpora (French law and service-public.fr), the shipped corpus, and
  ``--extra`` files (e.g. SQuAD train contexts and questions when available);
- every piece of the words of an English spelling word list (Debian's ``wamerican``, SCOWL: permissive licence;
  only used to choose pieces, nothing of it is shipped), each word as written and capitalised: English running
  text is scarce here, and a word's pieces do not depend on its neighbours;
- the most probable pieces (by unigram score) made only of Latin-script letters, digits and punctuation, up to
  ``--latin-top`` (covers everyday English and French words absent from the counting text);
- every single character of the Latin scripts, of Greek, and of punctuation/symbol blocks, with and without the
  word-start mark, so any such text still tokenizes without <unk>.

    python -m train.reader.vocab --out /work/data/reader/vocab.json
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rag.reader import METASPACE, PieceTokenizer
from train.reader.e5_base import read_e5
from train.reader.piaf import BENCH, load_split, piaf_paragraphs

ROOT = Path(__file__).resolve().parents[2]
WORDLISTS = (Path("/usr/share/dict/american-english"),)


def latin_char(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp < 0x250  # Basic Latin … Latin Extended-B
        or 0x1E00 <= cp < 0x1F00  # Latin Extended Additional
        or 0x2000 <= cp < 0x2C00  # punctuation, super/subscripts, currency, letterlike, arrows, maths, shapes
        or 0x300 <= cp < 0x400  # combining marks and Greek
        or 0x2C60 <= cp < 0x2C80 or 0xA720 <= cp < 0xA800  # Latin Extended-C/D
        or 0xFB00 <= cp < 0xFB07  # ligatures (ﬁ, ﬂ)
        or ch == METASPACE
    )


def counting_texts(extra: list[Path], scale_lines: int) -> Iterator[str]:
    split = load_split()
    for para in piaf_paragraphs():
        if split[para.title] != "test":
            yield para.context
            yield from para.questions
    for name in ("fr_legi_codes_paragraphs.jsonl.gz", "fr_service_public_paragraphs.jsonl.gz"):
        with gzip.open(BENCH / "scale" / name, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= scale_lines:
                    break
                yield json.loads(line)["text"]
    for path in sorted((ROOT / "corpus").glob("*")):
        if path.suffix in (".txt", ".md"):
            yield from path.read_text(encoding="utf-8").split("\n\n")
    for path in extra:
        yield from path.read_text(encoding="utf-8").split("\n")


def wordlist_texts(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        for word in path.read_text(encoding="utf-8").split():
            yield word
            yield word[:1].upper() + word[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--extra", type=Path, action="append", default=[], help="more text files (one text per line)")
    ap.add_argument("--scale-lines", type=int, default=60000, help="lines read from each scale corpus")
    ap.add_argument("--wordlist", type=Path, action="append", default=[], help="word lists (default: Debian's wamerican)")
    ap.add_argument("--latin-top", type=int, default=10000)
    args = ap.parse_args()
    wordlists = args.wordlist or [p for p in WORDLISTS if p.exists()]
    if len(wordlists) < len(WORDLISTS) and not args.wordlist:
        raise SystemExit("install the word list first: apt-get install wamerican")

    m = read_e5()
    full = PieceTokenizer(m.pieces, m.scores.tolist(), m.normalize, **m.special)
    counts: Counter[int] = Counter()
    batch: list[str] = []
    for text in itertools.chain(counting_texts(args.extra, args.scale_lines), wordlist_texts(wordlists)):
        batch.append(text)
        if len(batch) == 2000:
            for ids in full.encode_batch(batch):
                counts.update(ids)
            batch = []
    for ids in full.encode_batch(batch):
        counts.update(ids)

    keep = set(m.special.values()) | set(counts)
    seen = len(keep)
    latin = [i for i, p in enumerate(m.pieces) if p and all(latin_char(c) for c in p) and not p.startswith("<")]
    latin.sort(key=lambda i: -m.scores[i])
    keep.update(latin[: args.latin_top])
    for i, p in enumerate(m.pieces):
        core = p[1:] if p.startswith(METASPACE) and len(p) == 2 else p
        if len(core) == 1 and latin_char(core):
            keep.add(i)
    kept = sorted(keep)
    unk = [i for i in kept if m.pieces[i] == "<unk>"]
    print(f"pieces seen on the counting text and word lists: {seen:,}; kept in all: {len(kept):,} of {len(m.pieces):,}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"original_ids": kept, "unk": unk[0], "counted_tokens": sum(counts.values())}))
    # The trimmed tokenizer must split the counting text exactly as the full one did (all its pieces are kept).
    index = {old: new for new, old in enumerate(kept)}
    trimmed = PieceTokenizer([m.pieces[i] for i in kept], m.scores[np.array(kept)].tolist(), m.normalize,
                             **{k: index[v] for k, v in m.special.items()})
    sample = [t for i, t in enumerate(counting_texts(args.extra, 2000)) if i % 50 == 0]
    same = sum([index[j] for j in a] == b for a, b in zip(full.encode_batch(sample), trimmed.encode_batch(sample), strict=True))
    print(f"trimmed tokenizer identical on {same}/{len(sample)} sampled counting texts")


if __name__ == "__main__":
    main()
