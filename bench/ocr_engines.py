"""OCRmyPDF against pytesseract with rag's own rendering (pypdfium2), on the same scans: why rag uses the second.

    python -m bench.ocr_engines [--pages 6] [--ocrmypdf /path/to/venv/bin/ocrmypdf]

Both run Tesseract with ``fra+eng`` on each page of a scan that ``tests/scans.py`` makes (clean and scanned-looking
pages, 300 dpi). Printed per engine: seconds a page, pages a minute, peak resident memory of the whole process tree
(sampled), character accuracy against the source text. OCRmyPDF is measured as its command line (it is not a
dependency of rag; install it in a separate venv), text read back from its ``--sidecar``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.scans import PAGES, char_accuracy, scanned_look, typeset, write_scan_pdf


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants (Linux /proc)."""
    total = 0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run_sampled(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident bytes (process tree, sampled every 50 ms) of a command."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{command[0]} failed: {err.decode(errors='replace')[-500:]}")
    return time.perf_counter() - started, peak


RAG_CHILD = """
import sys, json
from pathlib import Path
from rag.ingest import ocr
pages = ocr.recognise_pdf(Path(sys.argv[1]), range(int(sys.argv[2])), threads=int(sys.argv[3]))
Path(sys.argv[4]).write_text("\\f".join(p.text for p in pages), encoding="utf-8")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per scan (the three test pages repeated)")
    parser.add_argument("--ocrmypdf", default="", help="an ocrmypdf command (not a dependency of rag)")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scans = [typeset(PAGES[i % len(PAGES)]) for i in range(args.pages)]
        reference = [s.text for s in scans]
        noisy = [scanned_look(s.image, seed=i) for i, s in enumerate(scans)]
        for kind, images in (("clean", [s.image for s in scans]), ("scanned", noisy)):
            pdf = folder / f"{kind}.pdf"
            write_scan_pdf(pdf, images)
            runs: list[tuple[str, list[str], dict[str, str] | None]] = [
                (f"rag (pytesseract + pypdfium2, {n} thread{'s' if n > 1 else ''})",
                 [sys.executable, "-c", RAG_CHILD, str(pdf), str(args.pages), str(n), str(folder / "rag.txt")], None)
                for n in (1, 2)
            ]  # fmt: skip
            if args.ocrmypdf:
                for jobs in (1, 2):
                    command = [
                        args.ocrmypdf, "-l", "fra+eng", "--mode", "skip", "--output-type", "pdf", "--rasterizer",
                        "pypdfium", "--optimize", "0", "-j", str(jobs), "--sidecar", str(folder / "ocrmypdf.txt"),
                        str(pdf), str(folder / "out.pdf"),
                    ]
                    runs.append((f"OCRmyPDF (-j {jobs})", command, None))
            for name, command, env in runs:
                seconds, peak = run_sampled(command, env)
                out = folder / ("rag.txt" if name.startswith("rag") else "ocrmypdf.txt")
                pages = out.read_text(encoding="utf-8").split("\f")
                accuracy = [char_accuracy(p, r) for p, r in zip(pages, reference, strict=False)]
                mean = sum(accuracy) / len(reference)
                print(
                    f"{kind:8s} {name:45s} {seconds / args.pages:5.2f} s/page  {60 * args.pages / seconds:5.1f} pages/min  "
                    f"peak {peak / 2**20:6.0f} MiB  accuracy {100 * mean:6.2f} % (worst page {100 * min(accuracy):.2f} %)"
                )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
