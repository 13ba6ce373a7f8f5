"""kill -9 at random moments of a default build, then a rerun: ``python -m bench.resume_kill --paragraphs 100000``.

An index of the shipped corpus answers while an update adding ``--paragraphs`` paragraphs of the scale corpus is
built in a child process (the default executor: one process, no ``--workers``) and killed with SIGKILL ``--kills``
times at random moments of the embedding, then ``--save-kills`` more times while it writes its new
generation; then the build runs to its end. A reader in this process loads the index and searches it all along.

Prints: the reads that answered neither with the previous generation nor, once a build had committed, with the new
one (must be 0; a kill can land after the commit point, while the build removes the old generation, which ends the
experiment), the texts a rerun embedded although a
shard finished by an earlier run held them (must be 0), the texts embedded in all (against the texts to embed: the
excess is the chunks in flight at each kill), and whether the final index equals an uninterrupted build's.

SYNTHESISED embedding cost: the embedder is rag's fake one (a hash of words, 64-d) slowed by ``--ms-per-text``, so that
a kill lands during embedding as it would with the real model (whose 100k passages take hours here). The ``--kills``
random kills are drawn up front, uniformly over the embedding's progress (the texts embedded, finished shards
included, up to 90 % of them) and sorted; each run is killed once its progress reaches the next one (within a batch).
Progress, not seconds: on a loaded machine a run's duration varies more than its embedding lasts, and a kill timed
in seconds can land after the embedding has finished. A kill while the build reads, chunks or annotates the corpus
would test nothing (and those steps keep no checkpoint).

``--annotate stub``: the runs annotate every passage with nothing instead of spaCy. A build annotates its new
passages before it embeds, and keeps no checkpoint of them: every rerun of a killed build annotates all of them again
(~87 passages/s here, minutes a run at 100k), which would make this experiment last hours without testing anything
more. ``--annotate spacy`` (the default) runs the real annotator.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent

# The child: a default build with the slowed fake embedder, which appends the key of every text it embeds to a log
# (flushed per batch: a kill -9 keeps what was written).
CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from rag.embed import register_embedder
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.index import vectors
from rag.index.vectors import text_key

corpus, index, log_path, delay, chunk = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
vectors.EMBED_CHUNK_BATCHES = max(1, chunk // 32)
if sys.argv[7] == "stub":
    from rag.index import annotate

    class Stub:
        def annotate(self, texts, langs=None):
            return [[] for _ in texts]

    annotate.shared_annotator = Stub

class Slow(FakeEmbedder):
    def embed_batch(self, texts, kind):
        out = super().embed_batch(texts, kind)
        time.sleep(delay * len(texts))
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("".join(text_key(t, kind) + "\\n" for t in texts))
        return out

register_embedder("fake", lambda _: Slow())
report = build_index(corpus, index, embedder="fake")
print(report.summary())
"""


@dataclass
class Result:
    runs: int
    killed: int
    killed_after_their_commit: int
    killed_while_saving: int
    reads: int
    reads_neither_previous_nor_committed: int
    texts_to_embed: int
    texts_embedded: int
    embedded_twice_from_a_finished_shard: int
    final_equals_uninterrupted: bool
    resumed_line: str
    annotate: str
    kill_at_texts_embedded: list[int]
    seconds_before_embedding: list[float]
    seconds: float


def _shard_keys(folder: Path) -> set[str]:
    keys: set[str] = set()
    for record in folder.glob("shard-*.json"):
        try:
            keys.update(json.loads(record.read_text("utf-8"))["keys"])
        except (OSError, ValueError, KeyError):
            continue
    return keys


def _logged(path: Path) -> list[str]:
    return path.read_text("utf-8").split() if path.exists() else []


def _answer(index: Path, q: Any) -> tuple[str, list[int]]:
    from rag import store
    from rag.store import ann

    data = store.load(index, with_vectors=False)
    return str(data.manifest["generation"]), ann.search(data.faiss_index, q, 10)[1].tolist()


def _embedding_started(log: Path, proc: subprocess.Popen[str]) -> float | None:
    """Wait for the run's first embedded batch (its log written); the seconds waited, None if the run ended first."""
    t0 = time.perf_counter()
    while proc.poll() is None:
        if log.exists() and log.stat().st_size:
            return time.perf_counter() - t0
        time.sleep(0.01)
    return None


def _wait_logged(log: Path, proc: subprocess.Popen[str], count: int) -> bool:
    """Wait until the run has logged ``count`` texts (read incrementally); False if it ended first."""
    seen, offset = 0, 0
    while proc.poll() is None:
        with open(log, "rb") as f:
            f.seek(offset)
            new = f.read()
        offset += len(new)
        seen += new.count(b"\n")
        if seen >= count:
            return True
        time.sleep(0.002)
    return False


def run(
    base: Path, update: Path, work: Path, *, kills: int = 10, save_kills: int = 2, ms_per_text: float = 0.2,
    chunk_texts: int = 4096, seed: int = 0, annotate: str = "spacy",
) -> Result:  # fmt: skip
    """The experiment of the module docstring: ``base`` is indexed first, then ``update``'s files are added to it."""
    import shutil

    from rag.embed import register_embedder
    from rag.embed.fake import FakeEmbedder
    from rag.index import build_index

    register_embedder("fake", lambda _: FakeEmbedder())
    started = time.perf_counter()
    rng = random.Random(seed)
    corpus, index, reference = work / "corpus", work / "index", work / "reference"
    shutil.copytree(base, corpus)
    build_index(corpus, index, embedder="fake")
    for path in sorted(update.iterdir()):
        shutil.copy(path, corpus / path.name)
    # The uninterrupted build: what to compare with, and the texts whose embedding the kills are spread over.
    child = [sys.executable, "-c", CHILD, str(REPO), str(corpus)]
    shutil.copytree(index, reference)
    subprocess.run(
        [*child, str(reference), str(work / "reference.log"), str(ms_per_text / 1000), str(chunk_texts), annotate],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    reference_keys = set(_logged(work / "reference.log"))
    texts_to_embed = len(reference_keys)
    # The kills, uniform over the embedding's progress (texts embedded, finished shards included), in order.
    kill_points = sorted(rng.randint(1, max(1, int(0.9 * texts_to_embed))) for _ in range(kills))
    batch_seconds = 32 * ms_per_text / 1000  # the child embeds 32 texts a batch

    q = FakeEmbedder().embed(["Donetsk Kherson référendum annexion coopération"], "query")[0]
    previous = _answer(index, q)
    answers: list[tuple[str, list[int]]] = []
    stop = threading.Event()

    def read() -> None:
        """Load and search the index until the last run starts (an error is recorded as an empty answer)."""
        while not stop.is_set():
            try:
                answers.append(_answer(index, q))
            except Exception:  # any failure to answer is what this counts
                answers.append(("", []))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    shards = index / "embedding-shards"
    twice, embedded, killed, killed_saving, runs, switched_early = 0, 0, 0, 0, 0, 0
    before_embedding: list[float] = []
    kill_at: list[int] = []
    out = ""
    while True:
        finished = _shard_keys(shards)
        log = work / f"run-{runs}.log"
        final = killed >= kills and killed_saving >= save_kills
        if final:
            stop.set()  # reads after the commit see the new generation
        proc = subprocess.Popen(
            [*child, str(index), str(log), str(ms_per_text / 1000), str(chunk_texts), annotate],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        runs += 1
        if killed < kills:
            waited = _embedding_started(log, proc)
            if waited is not None:
                before_embedding.append(round(waited, 1))
                # A run resumes after its finished shards: its progress is those plus what it logs.
                done = len(finished & reference_keys)
                if _wait_logged(log, proc, max(1, kill_points[killed] - done)):
                    time.sleep(rng.uniform(0.0, batch_seconds))  # within the batch in flight
                    kill_at.append(done + len(_logged(log)))
        elif not final:  # while it writes its generation: a new gen-* folder appears
            gens = set(index.glob("gen-*"))
            while proc.poll() is None and set(index.glob("gen-*")) == gens:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
        if not final and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGKILL):
            raise RuntimeError(f"a build failed: {err[-2000:]}")
        logged = _logged(log)
        embedded += len(logged)
        twice += len(set(logged) & finished)
        if proc.returncode == 0:
            break
        killed, killed_saving = (killed + 1, killed_saving) if killed < kills else (killed, killed_saving + 1)
        if _answer(index, q)[0] != previous[0]:  # killed after its commit point: the update is complete
            switched_early += 1
            break
    stop.set()
    reader.join()
    # Every read answered with the previous generation, or with the new one once a build had committed it (a kill
    # can land after the commit point, while the build removes the old generation): never an error, never another.
    committed = _answer(index, q)
    wrong = sum(a not in (previous, committed) for a in answers)
    from rag import store

    a, b = store.load(index), store.load(reference)
    same = [p.id for p in a.passages] == [p.id for p in b.passages] and np.array_equal(
        np.asarray(a.vectors), np.asarray(b.vectors)
    ) and np.array_equal(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors))
    resumed = next((part for part in out.split("; ") if part.startswith("resumed:")), "")
    return Result(
        runs, killed, switched_early, killed_saving, len(answers), wrong, texts_to_embed, embedded, twice, bool(same), resumed,
        annotate, kill_at, before_embedding, time.perf_counter() - started,
    )  # fmt: skip


def main() -> None:
    from bench.data import DEFAULT_SCALE_DIR, write_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--save-kills", type=int, default=2)
    parser.add_argument("--ms-per-text", type=float, default=0.2)
    parser.add_argument("--chunk-texts", type=int, default=4096, help="texts per checkpointed chunk (the default build's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--annotate", choices=["spacy", "stub"], default="spacy", help="the runs' annotator (see above)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-resume-") as tmp:
        work = Path(tmp)
        update = work / "update"
        update.mkdir()
        write_corpus(DEFAULT_SCALE_DIR, args.paragraphs, update)
        result = run(
            REPO / "corpus", update, work, kills=args.kills, save_kills=args.save_kills, ms_per_text=args.ms_per_text,
            chunk_texts=args.chunk_texts, seed=args.seed, annotate=args.annotate,
        )  # fmt: skip
    print(json.dumps({"paragraphs": args.paragraphs, **asdict(result)}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
