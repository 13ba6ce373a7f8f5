"""The README and the pages of docs/ are executable: their ```python snippets run (real model, slow), every
`rag ...` command line they show parses, the configuration table and rag.toml example match rag.config; the README
stays a page a newcomer reads in a minute, and links to every page of docs/."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from rag.cli import COMMANDS, build_parser
from rag.config import SETTINGS, load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# What a user reads: the README, then the pages of docs/ it links to.
PAGES = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}
DOCS = "\n".join(PAGES.values())
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def fenced(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOCS) if lang == language]


def shell_lines() -> list[str]:
    """Lines of the shell examples: 4-space indented blocks outside fences, and ```sh/bash/console fences."""
    shells = ("sh", "bash", "shell", "console")
    lines = [line for lang, body in FENCE.findall(DOCS) if lang in shells for line in body.splitlines()]
    outside = FENCE.sub("", DOCS)
    lines += [line[4:] for line in outside.splitlines() if line.startswith("    ") and line.strip()]
    return [line.strip().removeprefix("$ ") for line in lines]


def rag_commands() -> list[list[str]]:
    """The argument lists of every `rag ...` (or `.venv/bin/rag ...`) command shown, environment assignments skipped."""
    commands = []
    for line in shell_lines():
        words = line.split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)
        if not words or not (words[0] == "rag" or words[0].endswith("/rag")):
            continue  # an output example or another program
        argv = shlex.split(line, comments=True)
        start = next(i for i, w in enumerate(argv) if w == "rag" or w.endswith("/rag"))
        commands.append(argv[start + 1 :])
    return commands


def test_every_rag_command_in_the_readme_parses() -> None:
    commands = rag_commands()
    assert len(commands) >= 8
    shown = {argv[0] for argv in commands}
    assert {"index", "ask", "docs", "eval"} <= shown
    for argv in commands:
        assert argv[0] in COMMANDS, argv
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:  # the parser's error: print it with the command that failed
            pytest.fail(f"README command does not parse: rag {shlex.join(argv)} ({exc})")


def test_scripts_shown_in_the_readme_exist() -> None:
    scripts = set(re.findall(r"\./scripts/[\w.-]+", README))
    assert scripts >= {"./scripts/start.sh", "./scripts/test.sh"}
    for script in scripts:
        assert os.access(ROOT / script, os.X_OK), script


def test_the_readme_is_short_and_reaches_every_page_of_docs() -> None:
    assert len(README.splitlines()) < 150
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", README))
    assert linked == {page for page in PAGES if page.startswith("docs/")}
    for page, text in PAGES.items():  # every relative link of every page points at a file
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (ROOT / page).parent.joinpath(target).exists(), f"{page} links to {target}, which does not exist"


def test_the_configuration_table_matches_rag_config() -> None:
    section = PAGES["docs/configuration.md"]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(SETTINGS)
    for row, s in zip(rows, SETTINGS, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        flag, env, key, default = cells[1:]
        assert s.flag in flag, (s.key, flag)
        assert env == f"`{s.env}`" and key == f"`{s.key}`", row
        shown = f"{s.default:g}" if isinstance(s.default, float) else str(s.default)
        assert default == f"`{shown}`", row


def test_the_rag_toml_example_is_valid(tmp_path: Path) -> None:
    (example,) = fenced("toml")
    (tmp_path / "rag.toml").write_text(example, encoding="utf-8")
    config = load_config(environ={}, directory=tmp_path)
    assert {key for key, origin in config.origins.items() if origin != "default"} == set(re.findall(r"^(\w+) =", example, re.M))


@pytest.fixture
def readme_dir(real_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder like the repository after `rag index corpus/`: a copy of corpus/ and its index, as the current one."""
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    shutil.copytree(real_index, tmp_path / "index")
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_there_are_python_snippets() -> None:
    snippets = fenced("python")
    assert len(snippets) >= 4
    assert any("build_index" in s for s in snippets) and any("RagRetriever" in s for s in snippets)


@pytest.mark.slow
@pytest.mark.parametrize("number", range(len(fenced("python"))))
def test_python_snippet_runs(number: int, readme_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = fenced("python")[number]
    exec(compile(code, f"README.md or docs/ python snippet {number + 1}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.strip(), f"snippet {number + 1} printed nothing"
    assert "Traceback" not in out


def test_the_architecture_doc_names_every_module() -> None:
    """docs/architecture.md has one row per package of rag/ (and ui/), naming each of its modules: the layout and
    its description cannot drift apart."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w/]+/)` \| ([^|]*) \|", doc, re.M)}
    for package in [ROOT / "rag", *sorted(p for p in (ROOT / "rag").iterdir() if (p / "__init__.py").is_file()), ROOT / "ui"]:
        key = package.relative_to(ROOT).as_posix() + "/"
        assert key in rows, f"docs/architecture.md has no row for {key}"
        modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
        named = set(re.findall(r"`(\w+)`", rows[key]))
        assert modules <= named, f"{key}: {sorted(modules - named)} not described in docs/architecture.md"


def test_the_readme_gives_the_line_that_enables_ocr() -> None:
    """A scan skipped for want of Tesseract names the install line; the README gives the same one."""
    from rag.ingest import ocr

    assert ocr.APT_LINE in README and "'.[ocr]'" in README
