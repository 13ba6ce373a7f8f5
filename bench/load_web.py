"""Load test of the web app: N simulated users searching through Gradio's queue while documents are uploaded.

    python -m bench.load_web --users 20 --seconds 60 [--url http://127.0.0.1:PORT] [--uploads 3] [--code DIR]

Without ``--url``, it copies ``corpus/`` to a temporary folder and starts ``rag serve`` on it (a subprocess on a free
port of 127.0.0.1; the index is built there with the real default model). Each user is a thread with its own
``gradio_client.Client`` (its own session) that asks questions back to back (no think time) through the app's
``/search`` endpoint and checks that the answer holds at least one cited result card. Meanwhile another thread uploads
``--uploads`` small ``.txt`` documents, evenly spread over the run, through ``/add_document``; after the run each one
must be found by a question about it. Only loopback addresses are accepted. ``--code DIR`` serves the app of
another source tree (``git archive main | tar -x -C DIR``: the figures before a change, by the same script). Prints
the figures and writes ``bench/results/load_web.json``. ``tests/test_web_load.py`` runs the same code (no latency asserted).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.coldstart import http_status
from bench.measure import free_port, percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load_web.json"
# gradio_client must neither phone home nor send a locally saved Hugging Face token to the app.
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
MAX_REQUESTS = 5000
SEARCH_TIMEOUT = 120.0
UPLOAD_TIMEOUT = 600.0
START_TIMEOUT = 900.0
K = 5

QUESTIONS = [
    "Quelles régions ont organisé les référendums fictifs ?",
    "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    "L'OTAN reconnaît-elle les résultats des référendums ?",
    "Quelle annexion plus ancienne les Alliés refusent-ils de reconnaître ?",
    "Which regions held the sham referendums?",
    "What does NATO call Russia's partial military mobilisation?",
    "Does NATO recognise the annexation of Crimea?",
    "Où la Coalition des volontaires s'est-elle réunie en janvier 2026 ?",
    "Que fera la force multinationale pour l'Ukraine ?",
    "What will the multinational force for Ukraine do?",
    "Who met in Paris with Ukraine and the United States?",
    "Quand le groupe-pays Russie a-t-il été créé ?",
    "Depuis quand les collectivités françaises et russes coopèrent-elles ?",
    "What kind of cooperation existed between French and Russian towns in the 1960s?",
    "Which organisation runs the Russia country group of French local authorities?",
    "Combien de collectivités françaises sont engagées dans des partenariats internationaux ?",
    "Dans combien de pays les collectivités ont-elles des partenariats ?",
    "What is decentralised cooperation a lever for, according to the letter?",
    "Comment les élus de Cités Unies France ont-ils réagi à l'invasion de l'Ukraine ?",
    "How did French local authorities express solidarity with Ukraine in February 2022?",
]

# Fictitious twinnings: distinctive names, so that a question finds the uploaded document among the shipped ones.
UPLOADS = [
    ("Kerlouan", "Berdytchiv", "12 mars 1994", "l'eau potable et les écoles de musique"),
    ("Saint-Flour", "Korosten", "4 juin 2001", "la formation des pompiers et les bibliothèques"),
    ("Pontarlier", "Izioum", "21 septembre 2017", "la reconstruction des écoles et le chauffage urbain"),
    ("Mauriac", "Nijyn", "8 février 2009", "les jardins partagés et la collecte des déchets"),
    ("Lannion", "Konotop", "30 avril 1999", "le tourisme fluvial et les archives municipales"),
]


@dataclass
class Request:
    """One search: when it started and ended (seconds since the start of the run) and how it went."""

    user: int
    question: str
    start: float
    end: float
    ok: bool
    error: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Upload:
    """One uploaded document: its window, the name it was stored under, and whether it was found afterwards."""

    name: str
    question: str
    start: float = 0.0
    end: float = 0.0
    source: str = ""
    status: str = ""
    error: str = ""
    searchable: bool = False


@dataclass
class Run:
    """Everything a load run observed; ``summary()`` gives the figures."""

    url: str
    users: int
    seconds: float
    elapsed: float = 0.0
    requests: list[Request] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    server_log_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Request]:
        return [r for r in self.requests if r.error]

    @property
    def without_results(self) -> list[Request]:
        return [r for r in self.requests if not r.error and not r.ok]

    def during_uploads(self, request: Request) -> bool:
        return any(u.start < request.end and request.start < u.end for u in self.uploads if u.end)

    def summary(self) -> dict[str, Any]:
        done = [r for r in self.requests if not r.error]
        during = [r.latency for r in done if self.during_uploads(r)]
        outside = [r.latency for r in done if not self.during_uploads(r)]
        return {
            "url": self.url,
            "users": self.users,
            "seconds": self.seconds,
            "elapsed_s": round(self.elapsed, 1),
            "requests": len(self.requests),
            "errors": len(self.errors),
            "first_errors": sorted({r.error for r in self.errors})[:5],
            "without_results": len(self.without_results),
            "throughput_rps": round(len(done) / self.elapsed, 2) if self.elapsed else 0.0,
            "latency_s": latency_stats([r.latency for r in done]),
            "latency_during_uploads_s": latency_stats(during),
            "latency_outside_uploads_s": latency_stats(outside),
            "uploads": [asdict(u) for u in self.uploads],
            "uploads_searchable": sum(u.searchable for u in self.uploads),
            # From sending the file to the answer that it is searchable (the app answers once its index is swapped in).
            "upload_to_searchable_s": latency_stats([u.end - u.start for u in self.uploads if u.end and not u.error]),
            "server_log_errors": self.server_log_errors[:5],
        }


def latency_stats(seconds: list[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99 and max of durations in seconds (None when there are none)."""
    if not seconds:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    values = sorted(seconds)
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), 3) for q in (50, 95, 99)}, "max": round(values[-1], 3)}


def check_loopback(url: str) -> str:
    """The URL with a trailing slash; refuses anything but http(s) on a loopback address."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise SystemExit(f"--url must be http(s) on a loopback address (127.0.0.1, ::1, localhost), not {url!r}")
    return url if url.endswith("/") else url + "/"


def has_results(html: Any) -> bool:
    """True when the results HTML holds at least one result card with a paragraph citation."""
    return isinstance(html, str) and 'class="rag-card' in html and "¶" in html


def client(url: str) -> Any:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def search(c: Any, question: str, timeout: float = SEARCH_TIMEOUT) -> str:
    """One question through the app's queue (``/search``), with a timeout; returns the results HTML."""
    job = c.submit(question, K, [], api_name="/search")
    try:
        return str(job.result(timeout=timeout))
    except FutureTimeout:
        job.cancel()
        raise TimeoutError(f"no answer within {timeout:g} s") from None


def _user(url: str, user: int, run: Run, t0: float, deadline: float, budget: threading.Semaphore, lock: threading.Lock) -> None:
    rng = random.Random(user)
    try:
        c = client(url)
    except Exception as exc:  # a user that cannot even connect is one failed request
        now = time.perf_counter() - t0
        with lock:
            run.requests.append(Request(user, "(connect)", now, now, False, f"connect: {exc.__class__.__name__}: {exc}"))
        return
    try:
        while time.perf_counter() < deadline and budget.acquire(blocking=False):
            question = rng.choice(QUESTIONS)
            start = time.perf_counter() - t0
            try:
                html, error = search(c, question), ""
            except Exception as exc:
                html, error = "", f"{exc.__class__.__name__}: {str(exc)[:200]}"
            request = Request(user, question, start, time.perf_counter() - t0, has_results(html), error)
            with lock:
                run.requests.append(request)
    finally:
        c.close()


def upload_defaults(c: Any) -> list[Any]:
    """The inputs of ``/add_document`` after the file, left empty (a filter, the details of an upload: none given), so
    that the same script measures the app before and after its upload form changed."""
    parameters = c.view_api(print_info=False, return_format="dict")["named_endpoints"]["/add_document"]["parameters"]
    return [p["parameter_default"] if p.get("parameter_has_default") else "" if p.get("component") == "Textbox" else None
            for p in parameters[1:]]  # fmt: skip


def _uploader(url: str, uploads: list[Upload], folder: Path, run_id: str, t0: float, seconds: float) -> None:
    """Upload each document at an evenly spaced moment of the run; record its window and outcome."""
    from gradio_client import handle_file

    c = client(url)
    try:
        rest = upload_defaults(c)
        for i, upload in enumerate(uploads):
            pause = t0 + seconds * (i + 1) / (len(uploads) + 1) - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            town, ua, date, topics = UPLOADS[i % len(UPLOADS)]
            path = folder / upload.name
            path.write_text(
                f"Jumelage {town} – {ua}\n\nLe jumelage entre la commune de {town} et la ville ukrainienne de {ua} "
                f"a été signé le {date}. Il porte sur {topics}.\n\nDossier de coopération {run_id}-{i}.\n",
                encoding="utf-8",
            )
            upload.start = time.perf_counter() - t0
            try:
                job = c.submit(handle_file(str(path)), *rest, api_name="/add_document")
                status = str(job.result(timeout=UPLOAD_TIMEOUT)[0])
                upload.status = re.sub(r"<[^>]+>", "", status)
                saved = re.search(r"saved as ([\w.-]+)", upload.status)
                upload.source = saved.group(1) if saved else upload.name
                if "now searchable" not in upload.status:
                    upload.error = f"upload refused: {upload.status[:200]}"
            except Exception as exc:
                upload.error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            upload.end = time.perf_counter() - t0
    finally:
        c.close()


def check_searchable(url: str, uploads: list[Upload]) -> None:
    """After the run: each uploaded document must appear among the hits of a question about it."""
    c = client(url)
    try:
        for upload in uploads:
            if upload.error:
                continue
            try:
                html = search(c, upload.question)
            except Exception as exc:
                upload.error = f"search after upload: {exc.__class__.__name__}: {exc}"
                continue
            upload.searchable = has_results(html) and upload.source in html  # a name made for this run
    finally:
        c.close()


def load(url: str, users: int, seconds: float, uploads: int, max_requests: int = MAX_REQUESTS) -> Run:
    """Run ``users`` searching users and ``uploads`` uploads for ``seconds`` against the app at ``url``."""
    url = check_loopback(url)
    run = Run(url, users, seconds)
    run_id = f"{random.randrange(16**6):06x}"
    run.uploads = [
        Upload(
            f"jumelage-{run_id}-{i}.txt",
            f"Quand le jumelage entre {UPLOADS[i % len(UPLOADS)][0]} et {UPLOADS[i % len(UPLOADS)][1]} a-t-il été signé ?",
        )
        for i in range(uploads)
    ]
    warm = client(url)
    try:
        search(warm, QUESTIONS[0])  # warm-up: the first query pays for lazy loading
    finally:
        warm.close()
    lock = threading.Lock()
    budget = threading.Semaphore(max_requests)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        threads = [
            threading.Thread(target=_user, args=(url, u, run, t0, deadline, budget, lock), name=f"user-{u}", daemon=True)
            for u in range(users)
        ]
        if uploads:
            threads.append(
                threading.Thread(
                    target=_uploader, args=(url, run.uploads, Path(tmp), run_id, t0, seconds), name="uploader", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + UPLOAD_TIMEOUT + SEARCH_TIMEOUT)
        run.elapsed = time.perf_counter() - t0
    for upload in run.uploads:
        if not upload.end and not upload.error:
            upload.error = "the upload did not finish"
    check_searchable(url, run.uploads)
    run.requests.sort(key=lambda r: r.start)
    return run


# -- the app under test --------------------------------------------------------------------------------------------


@contextmanager
def served_app(timeout: float = START_TIMEOUT, code: Path | None = None) -> Iterator[tuple[str, Path]]:
    """``rag serve`` on a copy of ``corpus/`` and a new index (built with the real model) on a free local port; with
    ``code``, the app and corpus of that source tree (run by this interpreter, its packages first on the path).

    Yields ``(url, log_path)``; the server is stopped on exit.
    """
    with tempfile.TemporaryDirectory(prefix="rag-load-app-") as tmp:
        base = Path(tmp)
        corpus, index, log_path = base / "corpus", base / "index", base / "serve.log"
        shutil.copytree((code or ROOT) / "corpus", corpus)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        rag = Path(sys.executable).parent / "rag"
        command = [str(rag)] if rag.is_file() and code is None else [sys.executable, "-m", "rag.cli"]
        command += ["serve", "--index", str(index), "--corpus", str(corpus), "--host", "127.0.0.1", "--port", str(port)]
        env = dict(os.environ, **QUIET_ENV, PYTHONUNBUFFERED="1")
        env.pop("RAG_PASSWORD", None)
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(code.resolve()), *filter(None, [env.get("PYTHONPATH")])])
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base)
        try:
            started = time.perf_counter()
            while http_status(url, timeout=5) != 200:
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-1000:]
                    raise RuntimeError(f"rag serve exited with {proc.returncode}:\n{tail}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"rag serve did not answer on {url} within {timeout:.0f} s")
                time.sleep(0.5)
            yield url, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def log_errors(log_path: Path) -> list[str]:
    """Lines of the server log that report an error or a traceback."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if re.search(r"Traceback|\bERROR\b", line)]


def run_load(
    users: int, seconds: float, uploads: int, url: str | None = None, max_requests: int = MAX_REQUESTS,
    code: Path | None = None,
) -> Run:  # fmt: skip
    """``load`` against ``url``, or against an app started here for the run (from ``code`` when given)."""
    if url:
        return load(url, users, seconds, uploads, max_requests)
    with served_app(code=code) as (served, log_path):
        run = load(served, users, seconds, uploads, max_requests)
        run.server_log_errors = log_errors(log_path)
    return run


# -- report --------------------------------------------------------------------------------------------------------


def report(summary: dict[str, Any]) -> str:
    """The figures as a few readable lines."""

    def fmt(stats: dict[str, Any]) -> str:
        if not stats["n"]:
            return "n=0"
        return f"n={stats['n']}  " + "  ".join(f"{key} {stats[key]:.2f} s" for key in ("p50", "p95", "p99", "max"))

    lines = [
        f"{summary['users']} users for {summary['seconds']:g} s against {summary['url']} ({summary['elapsed_s']} s elapsed)",
        f"requests: {summary['requests']}   errors: {summary['errors']}   without results: {summary['without_results']}"
        f"   throughput: {summary['throughput_rps']} req/s",
        f"latency, all:             {fmt(summary['latency_s'])}",
        f"latency, during uploads:  {fmt(summary['latency_during_uploads_s'])}",
        f"latency, outside uploads: {fmt(summary['latency_outside_uploads_s'])}",
    ]
    lines.append(f"upload to searchable:     {fmt(summary['upload_to_searchable_s'])}")
    lines += [f"  error: {message}" for message in summary["first_errors"]]
    for u in summary["uploads"]:
        took = f"{u['end'] - u['start']:.1f} s at t={u['start']:.1f} s" if u["end"] else "unfinished"
        state = "searchable" if u["searchable"] else f"NOT searchable {u['error']}".strip()
        lines.append(f"upload {u['source'] or u['name']}: {took}, {state}")
    lines += [f"  server log: {line}" for line in summary["server_log_errors"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent simulated users (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the run (default 60)")
    parser.add_argument("--url", help="a running app on a loopback address (default: start one on a copy of corpus/)")
    parser.add_argument(
        "--uploads", type=int, help="documents uploaded during the run (default 3; 0 with --url: they stay in its corpus)"
    )
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS, help=f"stop after this many (default {MAX_REQUESTS})")
    parser.add_argument("--code", type=Path, help="serve the app of this source tree (default: this one)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.url:
        check_loopback(args.url)
    if args.code and (args.url or not (args.code / "rag" / "cli.py").is_file()):
        parser.error("--code needs a source tree of rag (with rag/cli.py), and no --url")
    if args.users < 1 or args.seconds <= 0 or args.max_requests < 1 or (args.uploads or 0) < 0:
        parser.error("--users, --seconds and --max-requests must be positive, --uploads not negative")
    uploads = args.uploads if args.uploads is not None else (0 if args.url else 3)
    run = run_load(args.users, args.seconds, uploads, args.url, args.max_requests, args.code)
    summary = run.summary()
    print(report(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    failed = summary["errors"] or summary["without_results"] or summary["uploads_searchable"] < len(run.uploads)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
