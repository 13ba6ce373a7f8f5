"""Checks for uploaded documents: accepted types, size limit, safe file names, a non-clobbering destination."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ACCEPTED = (".txt", ".md", ".pdf", ".docx", ".html")
MAX_STEM_CHARS = 80


# What an upload's outcome says, in the reader's language (the browser's). ``{name}`` is the uploaded file's name;
# ``{reason}`` comes from the library and stays in English (a technical detail, in parentheses).
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "type": "{name}: unsupported file type {suffix}; accepted: {accepted}",
        "no_extension": "(no extension)",
        "empty": "{name}: the file is empty",
        "too_large": "{name}: too large ({size} MB; the limit is {limit} MB)",
        "bad_name": "{name}: invalid file name",
        "same_file": "{name}: this file is already in the corpus as {other}",
        "too_many": "{name}: too many files with this name in the corpus",
        "unindexable": "{name}: cannot be indexed ({reason})",
        "unreadable": "{name}: cannot be read ({reason})",
        "duplicate": "{name}: the same content is already indexed as {other} («{title}»)",
        "index_failed": "{name}: indexing failed ({reason})",
        "no_passage": "{name}: the indexer found no passage to search in this file",
        "not_added": "Nothing was added.",
        "failed": "Adding the document failed unexpectedly; nothing was added.",
        "added": "Added {name}{renamed}: {passages}, now searchable. {index}",
        "renamed": " (saved as {dest})",
        "passage": "{n} passage",
        "passages": "{n} passages",
        "index": "Index: {documents} documents, {total} passages; {embedded} texts embedded, {reused} reused; {seconds} s.",
    },
    "fr": {
        "type": "{name} : type de fichier non pris en charge {suffix} ; acceptés : {accepted}",
        "no_extension": "(sans extension)",
        "empty": "{name} : le fichier est vide",
        "too_large": "{name} : trop volumineux ({size} Mo ; la limite est de {limit} Mo)",
        "bad_name": "{name} : nom de fichier invalide",
        "same_file": "{name} : ce fichier est déjà dans le corpus sous le nom {other}",
        "too_many": "{name} : trop de fichiers portent ce nom dans le corpus",
        "unindexable": "{name} : impossible à indexer ({reason})",
        "unreadable": "{name} : illisible ({reason})",
        "duplicate": "{name} : le même contenu est déjà indexé sous le nom {other} («{title}»)",
        "index_failed": "{name} : l'indexation a échoué ({reason})",
        "no_passage": "{name} : l'indexation n'a trouvé aucun passage à chercher dans ce fichier",
        "not_added": "Rien n'a été ajouté.",
        "failed": "L'ajout du document a échoué de façon inattendue ; rien n'a été ajouté.",
        "added": "{name} ajouté{renamed} : {passages}, désormais dans la recherche. {index}",
        "renamed": " (enregistré sous le nom {dest})",
        "passage": "{n} passage",
        "passages": "{n} passages",
        "index": "Index : {documents} documents, {total} passages ; {embedded} textes calculés, {reused} repris ; {seconds} s.",
    },
}


def number(value: float, lang: str, fmt: str = "g") -> str:
    """``value`` written for ``lang`` (a decimal comma in French)."""
    text = format(value, fmt)
    return text.replace(".", ",") if lang == "fr" else text


def message(lang: str, key: str, **params: object) -> str:
    """The message ``key`` in ``lang`` (English when the language is not French), filled with ``params``."""
    return MESSAGES["fr" if lang == "fr" else "en"][key].format(**params)


class UploadRejected(Exception):
    """An uploaded file that is not added to the corpus; ``message(lang)`` says why (shown to the user).

    ``str()`` gives the English message (logs, tests); ``key`` and ``params`` let the app say it in French.
    """

    def __init__(self, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        # Sizes in MB are numbers: written with the reader's decimal separator.
        params = {
            k: number(v, lang, ".1f" if k == "size" else "g") if k in ("size", "limit") and isinstance(v, float) else v
            for k, v in self.params.items()
        }
        if self.key == "type" and not params.get("suffix"):
            params["suffix"] = message(lang, "no_extension")
        return message(lang, self.key, **params)


def max_upload_bytes() -> int:
    """The upload size limit, resolved by ``rag.config`` (``--max-upload-mb`` > ``$RAG_MAX_UPLOAD_MB`` > rag.toml > 20)."""
    from rag.config import max_upload_bytes as configured

    return configured()


def safe_filename(name: str) -> str:
    """Basename only, ASCII letters/digits/``._-``, no leading dot, lower-case extension, bounded length."""
    base = re.split(r"[/\\]", name)[-1]
    base = unicodedata.normalize("NFKD", base)
    base = "".join(c for c in base if not unicodedata.combining(c))
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem.replace(".", "_"))
    stem = re.sub(r"_+", "_", stem).strip("_-")[:MAX_STEM_CHARS] or "document"
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())
    return f"{stem}.{ext}" if ext else stem


def check_upload(path: Path, name: str, limit: int | None = None) -> None:
    """Raise ``UploadRejected`` when the file's type or size is not acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        raise UploadRejected("type", name=name, suffix=suffix, accepted=" ".join(ACCEPTED))
    limit = max_upload_bytes() if limit is None else limit
    size = path.stat().st_size
    if size == 0:
        raise UploadRejected("empty", name=name)
    if size > limit:
        raise UploadRejected("too_large", name=name, size=size / 2**20, limit=limit / 2**20)


def reserve_destination(folder: Path, name: str, data: bytes) -> Path:
    """Create ``folder/name`` (or ``name-2``, ``name-3``… when a different file has that name) holding ``data``.

    Raises ``UploadRejected`` when an identical file is already there. Never overwrites anything.
    """
    root = folder.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # defence in depth: safe_filename already prevents this
            raise UploadRejected("bad_name", name=name)
        if candidate.exists():
            if candidate.is_file() and candidate.read_bytes() == data:
                raise UploadRejected("same_file", name=name, other=candidate.name)
            continue
        try:
            with open(candidate, "xb") as fh:  # exclusive create: a concurrent writer cannot be clobbered
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected("too_many", name=name)
