"""rag.i18n: every text in both languages, with the same fields; one fallback rule."""

from __future__ import annotations

import re
import string

from rag import i18n


def test_both_languages_have_the_same_texts_with_the_same_fields() -> None:
    en, fr = i18n.TEXTS["en"], i18n.TEXTS["fr"]
    assert en.keys() == fr.keys()

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    assert {k: fields(v) for k, v in en.items()} == {k: fields(v) for k, v in fr.items()}
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", key) for key in en)  # area.name


def test_one_fallback_rule_french_for_fr_english_for_anything_else() -> None:
    assert [i18n.language(lang) for lang in ("fr", "en", "und", "de", None, "")] == ["fr", "en", "en", "en", "en", "en"]
    assert i18n.text("match.strong", "fr") == "dans le sujet"
    assert i18n.text("match.strong", "und") == i18n.text("match.strong", "en") == "on the subject"
    assert i18n.text("upload.passages", "fr", n=3) == "3 passages"
    assert i18n.area("match", "fr") == {"strong": "dans le sujet", "fair": "proche du sujet", "weak": "loin du sujet"}


def test_numbers_and_colons_are_written_for_the_language() -> None:
    assert (i18n.number(2.5, "fr", ".1f"), i18n.number(2.5, "en", ".1f")) == ("2,5", "2.5")
    assert (i18n.colon("fr"), i18n.colon("en")) == (" : ", ": ")


def test_the_module_imports_nothing_of_rag() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(i18n))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.split(".")[0] == "rag"]
