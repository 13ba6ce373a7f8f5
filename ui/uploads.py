"""Checks for uploaded documents: accepted types, size limit, safe file names, a non-clobbering destination; and
what the app says about an upload, in French or English."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from pathlib import Path

ACCEPTED = (".txt", ".md", ".pdf", ".docx", ".html", ".png", ".jpg", ".jpeg", ".tif", ".tiff")  # images: by OCR
MAX_STEM_CHARS = 80


# What an upload's outcome says, in the reader's language (the browser's): a sentence saying what happened and what
# the reader can do about it. ``{name}`` is the uploaded file's name. The reader never sees a library's technical
# reason: the server log has it (``ui.library``).
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "type": "{name} cannot be added: {suffix} files are not supported. Save it as one of {accepted} and add it again.",
        "no_extension": "{name} cannot be added: files without an extension are not supported. Save it as one of "
        "{accepted} and add it again.",
        "empty": "{name} is empty. Check that you chose the right file.",
        "too_large": "{name} is too large ({size} MB; the limit is {limit} MB). Split it into smaller files, or ask "
        "whoever runs this app to raise the limit.",
        "bad_name": "{name} cannot be added under this name. Rename the file (letters, digits, dashes) and add it again.",
        "too_many": "Too many files already have a name like {name}. Rename the file and add it again.",
        "duplicate": "{name} is already in the collection, as «{title}» ({other}): there is nothing more to do.",
        "encrypted": "{name} is protected by a password. Save a copy without the password and add that copy.",
        "scanned": "{name} holds images of pages but no text (a scan?), and text recognition (OCR) is not installed "
        "on this server. Ask whoever runs this app to install it (see rag's README), or run OCR on it and add the result.",
        "not_text": "{name} is not a text file, whatever its extension says. Give it its real extension (.pdf, .docx…) "
        "or save it as plain text, and add it again.",
        "no_text": "{name} contains no text to search. Check that you chose the right file.",
        "too_complex": "{name} is too large or too complex to be read here. Split it into smaller files, or save it as "
        "plain text (.txt), and add them again.",
        "unreadable_pdf": "{name} could not be read as a PDF: it may be damaged, or not really a PDF. If it opens on "
        "your computer, save or print it again as a PDF and add the new copy.",
        "unreadable_docx": "{name} could not be read as a Word document: it may be damaged, or an older .doc renamed. "
        "Open it in your word processor, save it as .docx and add it again.",
        "unreadable": "{name} could not be read. If it opens on your computer, save a fresh copy (or export it as plain "
        "text) and add it again.",
        "no_passage": "{name} was read, but it holds no paragraph of text to search. Check that it contains running "
        "text.",
        "index_failed": "{name} could not be added: the index could not be updated. Try again in a moment; if it fails "
        "again, ask whoever runs this app to look at its log.",
        "not_added": "Nothing was added.",
        "failed": "Adding the document failed unexpectedly; nothing was added. Try again; if it fails again, ask "
        "whoever runs this app to look at its log.",
        "added": "Added {name}{renamed}: {passages}, now searchable. {index}",
        "renamed": " (saved as {dest})",
        "passage": "{n} passage",
        "passages": "{n} passages",
        "index": "Index: {documents} documents, {total} passages; {embedded} texts embedded, {reused} reused; {seconds} s.",
    },
    "fr": {
        "type": "{name} ne peut pas être ajouté : les fichiers {suffix} ne sont pas pris en charge. Enregistrez-le "
        "dans l'un de ces formats, {accepted}, puis ajoutez-le à nouveau.",
        "no_extension": "{name} ne peut pas être ajouté : les fichiers sans extension ne sont pas pris en charge. "
        "Enregistrez-le dans l'un de ces formats, {accepted}, puis ajoutez-le à nouveau.",
        "empty": "{name} est vide. Vérifiez que vous avez choisi le bon fichier.",
        "too_large": "{name} est trop volumineux ({size} Mo ; la limite est de {limit} Mo). Découpez-le en fichiers "
        "plus petits, ou demandez à la personne qui gère cette application de relever la limite.",
        "bad_name": "{name} ne peut pas être ajouté sous ce nom. Renommez le fichier (lettres, chiffres, tirets) et "
        "ajoutez-le à nouveau.",
        "too_many": "Trop de fichiers portent déjà un nom comme {name}. Renommez le fichier et ajoutez-le à nouveau.",
        "duplicate": "{name} est déjà dans la collection, sous le titre «{title}» ({other}) : il n'y a rien d'autre "
        "à faire.",
        "encrypted": "{name} est protégé par un mot de passe. Enregistrez-en une copie sans mot de passe et ajoutez "
        "cette copie.",
        "scanned": "{name} contient des images de pages mais pas de texte (un document numérisé ?), et la "
        "reconnaissance de texte (OCR) n'est pas installée sur ce serveur. Demandez à la personne qui gère cette "
        "application de l'installer (voir le README de rag), ou passez-le dans un logiciel d'OCR et ajoutez le résultat.",
        "not_text": "{name} n'est pas un fichier texte, quoi qu'en dise son extension. Donnez-lui sa véritable "
        "extension (.pdf, .docx…) ou enregistrez-le en texte brut, puis ajoutez-le à nouveau.",
        "no_text": "{name} ne contient aucun texte à chercher. Vérifiez que vous avez choisi le bon fichier.",
        "too_complex": "{name} est trop volumineux ou trop complexe pour être lu ici. Découpez-le en fichiers plus "
        "petits, ou enregistrez-le en texte brut (.txt), puis ajoutez-les.",
        "unreadable_pdf": "{name} n'a pas pu être lu comme un PDF : il est peut-être endommagé, ou ce n'est pas "
        "vraiment un PDF. S'il s'ouvre sur votre ordinateur, enregistrez-le ou imprimez-le à nouveau en PDF et "
        "ajoutez la nouvelle copie.",
        "unreadable_docx": "{name} n'a pas pu être lu comme un document Word : il est peut-être endommagé, ou c'est un "
        "ancien .doc renommé. Ouvrez-le dans votre traitement de texte, enregistrez-le en .docx et ajoutez-le à "
        "nouveau.",
        "unreadable": "{name} n'a pas pu être lu. S'il s'ouvre sur votre ordinateur, enregistrez-en une nouvelle copie "
        "(ou exportez-le en texte brut) et ajoutez-la.",
        "no_passage": "{name} a été lu, mais il ne contient aucun paragraphe de texte à chercher. Vérifiez qu'il "
        "contient du texte suivi.",
        "index_failed": "{name} n'a pas pu être ajouté : l'index n'a pas pu être mis à jour. Réessayez dans un "
        "instant ; si l'échec se répète, demandez à la personne qui gère cette application de consulter son journal.",
        "not_added": "Rien n'a été ajouté.",
        "failed": "L'ajout du document a échoué de façon inattendue ; rien n'a été ajouté. Réessayez ; si l'échec se "
        "répète, demandez à la personne qui gère cette application de consulter son journal.",
        "added": "{name} ajouté{renamed} : {passages}, désormais dans la recherche. {index}",
        "renamed": " (enregistré sous le nom {dest})",
        "passage": "{n} passage",
        "passages": "{n} passages",
        "index": "Index : {documents} documents, {total} passages ; {embedded} textes calculés, {reused} repris ; {seconds} s.",
    },
}

# Why a reader refused a file (its English reason, as ``rag.ingest.load`` words it) → the message that says what to do.
# Checked in order; a reason none of them matches gets the generic message of its format.
READING_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("encrypted", "password"), "encrypted"),
    (("ocr is not installed", "no text layer (scanned"), "scanned"),
    (("looks binary",), "not_text"),
    (("no text", "empty"), "no_text"),
    (("too large", "too big", "too many", "too long", "too deep", "limit", "timed out", "time out", "seconds"), "too_complex"),
)
UNREADABLE = {".pdf": "unreadable_pdf", ".docx": "unreadable_docx"}


def reading_problem(reason: str, name: str) -> str:
    """The message key for a file that rag's readers refused for ``reason``."""
    text = reason.lower()
    for words, key in READING_PROBLEMS:
        if any(word in text for word in words):
            return key
    return UNREADABLE.get(Path(name).suffix.lower(), "unreadable")


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
        key = "no_extension" if self.key == "type" and not params.get("suffix") else self.key
        return message(lang, key, **params)


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


def check_upload(path: Path, name: str, limit: int) -> None:
    """Raise ``UploadRejected`` when the file's type or size (``limit``, in bytes) is not acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        raise UploadRejected("type", name=name, suffix=suffix, accepted=" ".join(ACCEPTED))
    size = path.stat().st_size
    if size == 0:
        raise UploadRejected("empty", name=name)
    if size > limit:
        raise UploadRejected("too_large", name=name, size=size / 2**20, limit=limit / 2**20)


def reserve_destination(folder: Path, name: str, data: bytes, taken: Collection[str] = ()) -> Path:
    """Create ``folder/name`` (or ``name-2``, ``name-3``… when a file there, or a document in ``taken``, has that
    name) holding ``data``; the folder is created if needed. Never overwrites anything.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # defence in depth: safe_filename already prevents this
            raise UploadRejected("bad_name", name=name)
        if candidate.name in taken or candidate.exists():
            continue
        try:
            with open(candidate, "xb") as fh:  # exclusive create: a concurrent writer cannot be clobbered
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected("too_many", name=name)
