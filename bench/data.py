"""Benchmark inputs: French paragraphs from the shared scale corpora, written as a folder of text files; questions."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCALE_DIR = REPO.parent / "shared" / "benchmarks" / "scale"
DEFAULT_QUESTIONS = REPO.parent / "shared" / "benchmarks" / "piaf_v1.1" / "queries.jsonl"
SOURCES = {
    "legi": "fr_legi_codes_paragraphs.jsonl.gz",
    "sp": "fr_service_public_paragraphs.jsonl.gz",
}
PER_FILE = 100  # paragraphs per written text file (one "document")

# Questions on the domain of the scale corpora (labour law, social security, public services).
DOMAIN_QUESTIONS = [
    "Quelle est la durée du préavis en cas de licenciement ?",
    "Comment déclarer une association en préfecture ?",
    "Qui peut bénéficier du congé parental d'éducation ?",
    "Quelles sont les conditions pour toucher le RSA ?",
    "Combien de jours de congés payés un salarié acquiert-il par mois ?",
    "Comment contester une décision de l'administration ?",
    "Quel est le délai pour faire appel d'un jugement du conseil de prud'hommes ?",
    "Qui fixe le montant du salaire minimum de croissance ?",
    "Comment obtenir une carte d'identité pour un enfant mineur ?",
    "Quelles sont les obligations de l'employeur en matière de sécurité ?",
    "Quand un bail rural peut-il être résilié ?",
    "Comment demander le remboursement des frais de santé ?",
    "What notice period applies when an employee resigns?",
    "How do I register a new association?",
    "Quelle est la durée maximale d'un contrat à durée déterminée ?",
    "Qui peut saisir le comité social et économique ?",
    "Comment calculer l'indemnité de rupture conventionnelle ?",
    "Quels documents faut-il pour une demande de passeport ?",
    "Quelle est la durée légale du travail hebdomadaire ?",
    "Comment s'inscrire sur les listes électorales ?",
]


def _clean(text: str) -> str:
    """One paragraph: inner blank lines collapsed so the written file keeps one paragraph per block."""
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _blocks(path: Path, seen: set[str]) -> Iterator[list[str]]:
    """Unique paragraphs of one gzipped JSONL file, ``PER_FILE`` at a time (``seen`` dedupes across files)."""
    block: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            text = _clean(str(json.loads(line).get("text") or ""))
            if len(text) < 2 or text in seen:
                continue
            seen.add(text)
            block.append(text)
            if len(block) == PER_FILE:
                yield block
                block = []
    if block:
        yield block


def paragraph_blocks(scale_dir: Path) -> Iterator[tuple[str, list[str]]]:
    """(source name, paragraphs) blocks, alternating between the corpora until both are exhausted.

    Deterministic, so a smaller benchmark corpus is a prefix of a larger one (and reuses its cached vectors).
    """
    seen: set[str] = set()
    streams = {name: _blocks(scale_dir / fname, seen) for name, fname in SOURCES.items() if (scale_dir / fname).is_file()}
    if not streams:
        raise FileNotFoundError(f"no scale corpus in {scale_dir} (expected {', '.join(SOURCES.values())}); use --scale-dir")
    while streams:
        for name in list(streams):
            block = next(streams[name], None)
            if block is None:
                del streams[name]
            else:
                yield name, block


def write_corpus(scale_dir: Path, n_paragraphs: int, folder: Path) -> int:
    """Write the first ``n_paragraphs`` unique paragraphs as blank-line separated text files; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    counters: dict[str, int] = {}
    for name, block in paragraph_blocks(scale_dir):
        block = block[: n_paragraphs - written]
        counters[name] = counters.get(name, 0) + 1
        (folder / f"{name}-{counters[name]:05d}.txt").write_text("\n\n".join(block) + "\n", encoding="utf-8")
        written += len(block)
        if written >= n_paragraphs:
            break
    return written


def paragraphs_for(n_passages: int, paragraphs_per_passage: float) -> int:
    """How many paragraphs to write to get about ``n_passages`` passages after chunking."""
    return max(1, math.ceil(n_passages * paragraphs_per_passage))


def load_questions(path: Path | None, n: int) -> list[str]:
    """``n`` questions: the domain questions above, then PIAF questions (French) when the file is there."""
    questions = list(DOMAIN_QUESTIONS)
    if path is not None and path.is_file():
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                text = str(json.loads(line).get("text", "")).strip()
                if len(text) >= 15 and text not in questions:
                    questions.append(text)
                if len(questions) >= n:
                    break
    while len(questions) < n:  # no PIAF file: cycle the domain questions
        questions.append(DOMAIN_QUESTIONS[len(questions) % len(DOMAIN_QUESTIONS)])
    return questions[:n]
