"""Every text rag shows a person, in French and English, with one fallback rule (``language``).

The library's messages (why a question is flagged, how closely a passage matches), the web app's labels, results and
upload messages all live here, keyed ``area.name``; the CLI's own output stays English. Texts are formatted with
``str.format``; a test checks that both languages have the same keys and the same fields. This module imports
nothing of rag, so any module may use it.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        # Why a question is flagged (rag.retrieve.abstention): ``{what}`` is a ``kind.*`` text.
        "decision.flagged": "Nothing in the corpus seems to answer this question",
        "decision.below_null": "the closest passages are no closer to it than to questions this corpus does not answer",
        # How one passage matches the question (Hit.match).
        "match.strong": "on the subject",
        "match.fair": "near the subject",
        "match.weak": "far from the subject",
        # What typed reading found missing (rag.retrieve.read): ``{what}`` is one of the ``read.*`` phrases below.
        "read.missing": "none of the passages gives {what}",
        "read.missing_named": "none of the passages names {what}",
        "read.named": "a {noun}",
        "read.named_vowel": "an {noun}",
        "read.count_of": "a number of {noun}",
        "read.count_of_vowel": "a number of {noun}",
        "read.count": "a number",
        "read.person": "the name of a person",
        "read.organization": "the name of an organisation",
        "read.place": "a place",
        "read.date": "a date",
        "read.year": "a year",
        "read.century": "a century",
        "read.month": "a month",
        "read.amount": "an amount of money",
        "read.percentage": "a percentage",
        # The short answer of a typed question (rag ask, the web app), and the state where none was read.
        "answer.label": "Answer",
        "answer.on_subject": "These passages are on the subject of the question; check that they answer it.",
        "answer.title": "Read from passage [{rank}]: check it in its sentence, marked below.",
        # The results area of the web app (ui.render), in the question's language.
        "results.weak_shown": "The closest passages are shown below, marked as weak.",
        "results.closest": "The closest passages:",
        "results.none_found": "No passage found for «{question}».",
        "results.summary": "{n} passage{s} for",
        "results.weak": "weak",
        "results.context": "Context",
        "results.whole": "the whole document",
        "results.copy": "Copy",
        "results.copy_title": "Copy the citation",
        "results.copied": "Copied",
        "results.match_title": (
            "How closely this passage matches the question, compared with how unrelated questions match these documents "
            "(ranking score {score:.3f})"
        ),
        "results.empty_question": "Type a question, in French or English.",
        "results.search_failed": "The search failed unexpectedly; the server log has the details.",
        "results.no_documents": "No document is indexed yet.",
        "results.intro": (
            "Ask a question in French or English: the answer is the passages of the documents that say it, each with its "
            "citation and the answering sentence highlighted."
        ),
        # The web app's labels (ui.app), in the browser's language.
        "ui.header": (
            "# rag · questions on your documents\nAsk in French or English. The answer is the passages themselves, cited by "
            "document, date and paragraph, with the answering sentence highlighted."
        ),
        "ui.question": "Question",
        "ui.placeholder": "Ask your question, in French or English…",
        "ui.search": "Search",
        "ui.examples": "Examples",
        "ui.passages": "Passages",
        "ui.only": "Only these documents",
        "ui.only_info": "Leave empty to search everything",
        "ui.add": "Add a document",
        "ui.upload": "{types} · up to {mb} MB",
        "ui.add_details": (
            "Title, date and author are optional: the title is otherwise the document's own, and all three can be "
            "corrected later."
        ),
        "ui.title": "Title",
        "ui.date": "Date",
        "ui.author": "Author",
        "ui.title_placeholder": "the document's own title",
        "ui.date_placeholder": "2024, 2024-03 or 2024-03-15",
        "ui.author_placeholder": "who wrote or published it",
        "ui.manage": "Change a document added here",
        "ui.manage_info": "Only documents added in the app can be changed here; the shipped collection cannot.",
        "ui.document": "Document",
        "ui.save": "Save the details",
        "ui.remove": "Remove from the collection",
        "ui.replace": "Replace with a new version ({types} · up to {mb} MB)",
        "ui.trash": "Trash",
        "ui.trash_info": "Removed and replaced documents stay here {days} days, then are deleted.",
        "ui.trash_item": "Removed document",
        "ui.restore": "Restore",
        # What an upload's outcome says (ui.uploads, ui.library): what happened and what the reader can do. ``{name}`` is the
        # uploaded file's name; the reader never sees a library's technical reason (the server log has it).
        "upload.type": "{name} cannot be added: {suffix} files are not supported. Save it as one of {accepted} and add it again.",
        "upload.no_extension": (
            "{name} cannot be added: files without an extension are not supported. Save it as one of {accepted} and add it "
            "again."
        ),
        "upload.empty": "{name} is empty. Check that you chose the right file.",
        "upload.too_large": (
            "{name} is too large ({size} MB; the limit is {limit} MB). Split it into smaller files, or ask whoever runs this "
            "app to raise the limit."
        ),
        "upload.bad_name": "{name} cannot be added under this name. Rename the file (letters, digits, dashes) and add it again.",
        "upload.too_many": "Too many files already have a name like {name}. Rename the file and add it again.",
        "upload.duplicate": "{name} is already in the collection, as «{title}» ({other}): there is nothing more to do.",
        "upload.encrypted": "{name} is protected by a password. Save a copy without the password and add that copy.",
        "upload.scanned": (
            "{name} holds images of pages but no text (a scan?), and text recognition (OCR) is not installed on this "
            "server. Ask whoever runs this app to install it (see rag's README), or run OCR on it and add the result."
        ),
        "upload.not_text": (
            "{name} is not a text file, whatever its extension says. Give it its real extension (.pdf, .docx…) or save it as "
            "plain text, and add it again."
        ),
        "upload.no_text": "{name} contains no text to search. Check that you chose the right file.",
        "upload.too_complex": (
            "{name} is too large or too complex to be read here. Split it into smaller files, or save it as plain text "
            "(.txt), and add them again."
        ),
        "upload.unreadable_pdf": (
            "{name} could not be read as a PDF: it may be damaged, or not really a PDF. If it opens on your computer, save "
            "or print it again as a PDF and add the new copy."
        ),
        "upload.unreadable_docx": (
            "{name} could not be read as a Word document: it may be damaged, or an older .doc renamed. Open it in your word "
            "processor, save it as .docx and add it again."
        ),
        "upload.unreadable": (
            "{name} could not be read. If it opens on your computer, save a fresh copy (or export it as plain text) and add "
            "it again."
        ),
        "upload.no_passage": "{name} was read, but it holds no paragraph of text to search. Check that it contains running text.",
        "upload.index_failed": (
            "{name} could not be added: the index could not be updated. Try again in a moment; if it fails again, ask "
            "whoever runs this app to look at its log."
        ),
        "upload.not_added": "Nothing was added.",
        "upload.failed": (
            "Adding the document failed unexpectedly; nothing was added. Try again; if it fails again, ask whoever runs this "
            "app to look at its log."
        ),
        "upload.added": "Added {name}{renamed}: {passages}, now searchable. {index}",
        "upload.renamed": " (saved as {dest})",
        "upload.passage": "{n} passage",
        "upload.passages": "{n} passages",
        "upload.index": (
            "Index: {documents} documents, {total} passages; {embedded} texts embedded, {reused} reused; {seconds} s."
        ),
        # What a change of the collection says (ui.library), and while it runs (ui.app), in the browser's language.
        "library.removed": (
            "Removed {name} («{title}»): it is no longer searched. Its file stays in the trash for {days} days: restore "
            "it from there if this was a mistake."
        ),
        "library.replaced": (
            "Replaced {name} by the new version {new}: {passages}, now searchable, with the same title, date and author. "
            "The previous version stays in the trash for {days} days."
        ),
        "library.restored": "Restored {name} («{title}»): {passages}, searchable again.",
        "library.restored_as": "Restored «{title}» as {dest} (the name {name} is taken): {passages}, searchable again.",
        "library.described": "Saved the details of {name}: its citations now name it «{title}».",
        "library.unknown": (
            "{name} is no longer in the collection (someone may have removed it meanwhile); the lists are up to date again."
        ),
        "library.shipped": (
            "{name} belongs to the shipped collection: it cannot be changed from the app. Only documents added here can "
            "be removed, replaced or described."
        ),
        "library.not_in_trash": "This document is no longer in the trash: it was restored, or its time there ran out.",
        "library.unchanged": "Nothing to save: these are already the details of {name}.",
        "library.no_title": "Give the document a title: its citations name it.",
        "library.long_title": "The title is too long: keep it under {limit} characters.",
        "library.long_author": "The author is too long: keep it under {limit} characters.",
        "library.bad_date": (
            "«{date}» is not a date a citation can give: write a year (2024), a month (2024-03) or a day (2024-03-15, "
            "or 15/03/2024)."
        ),
        "library.not_changed": "Nothing was changed.",
        "library.choose": "Choose a document in the list first.",
        "library.choose_trash": "Choose a document in the trash first.",
        "library.failed": (
            "The change failed unexpectedly; nothing was changed. Try again; if it fails again, ask whoever runs this app "
            "to look at its log."
        ),
        "library.working_add": "Reading and indexing {name}…",
        "library.working_replace": "Putting the new version of {name} in place…",
        "library.working_remove": "Removing {name}…",
        "library.working_restore": "Restoring {name}…",
        "library.working_describe": "Saving the details of {name}…",
        # The list of documents and the trash (ui.render, ui.app).
        "docs.passage": "{n} passage",
        "docs.passages": "{n} passages",
        "docs.added": "added on {date}",
        "docs.added_by": "added on {date} by {user}",
        "docs.uploaded": "added here",
        "docs.none_uploaded": "No document has been added in the app yet.",
        "docs.trash_empty": "The trash is empty.",
        "docs.removed": "removed on {date}",
        "docs.replaced": "replaced by a new version on {date}",
        "docs.interrupted": "upload interrupted on {date}",
        "docs.by": " by {user}",
        # The page view of a hit (ui.pages): its control on the card, and the note on text recognised by OCR.
        "page.page": "See page {page}",
        "page.alt": "Page {page} of {source}, the passage marked",
        "page.full": "open full size",
        "page.ocr": "text recognised (OCR) · {confidence:.0f} %",
        "page.ocr_title": (
            "This text was recognised from a scan by OCR (mean confidence {confidence:.0f} %); it may hold recognition "
            "errors: check it on the page before you quote it."
        ),
    },
    "fr": {
        "decision.flagged": "Rien dans le corpus ne semble répondre à cette question",
        "decision.below_null": (
            "les passages les plus proches n'en sont pas plus proches que de questions auxquelles ce corpus ne répond pas"
        ),
        "match.strong": "dans le sujet",
        "match.fair": "proche du sujet",
        "match.weak": "loin du sujet",
        "read.missing": "aucun des passages ne donne {what}",
        "read.missing_named": "aucun des passages ne nomme {what}",
        "read.named": "de {noun}",
        "read.named_vowel": "d'{noun}",
        "read.count_of": "un nombre de {noun}",
        "read.count_of_vowel": "un nombre d'{noun}",
        "read.count": "un nombre",
        "read.person": "le nom d'une personne",
        "read.organization": "le nom d'une organisation",
        "read.place": "un lieu",
        "read.date": "une date",
        "read.year": "une année",
        "read.century": "un siècle",
        "read.month": "un mois",
        "read.amount": "un montant",
        "read.percentage": "un pourcentage",
        "answer.label": "Réponse",
        "answer.on_subject": "Ces passages portent sur le sujet de la question ; vérifiez qu'ils y répondent.",
        "answer.title": "Lue dans le passage [{rank}] : vérifiez-la dans sa phrase, marquée ci-dessous.",
        "results.weak_shown": "Les passages les plus proches sont affichés ci-dessous, marqués comme faibles.",
        "results.closest": "Les passages les plus proches :",
        "results.none_found": "Aucun passage trouvé pour «{question}».",
        "results.summary": "{n} passage{s} pour",
        "results.weak": "faible",
        "results.context": "Contexte",
        "results.whole": "le document entier",
        "results.copy": "Copier",
        "results.copy_title": "Copier la citation",
        "results.copied": "Copié",
        "results.match_title": (
            "Proximité de ce passage avec la question, comparée à celle de questions sans rapport avec ces documents (score "
            "de classement {score:.3f})"
        ),
        "results.empty_question": "Saisissez une question, en français ou en anglais.",
        "results.search_failed": "La recherche a échoué de façon inattendue ; le journal du serveur donne les détails.",
        "results.no_documents": "Aucun document n'est encore indexé.",
        "results.intro": (
            "Posez une question en français ou en anglais : la réponse, ce sont les passages des documents qui le disent, "
            "chacun avec sa citation et la phrase qui répond surlignée."
        ),
        "ui.header": (
            "# rag · questions sur vos documents\nPosez votre question en français ou en anglais. La réponse, ce sont les "
            "passages eux-mêmes, cités par document, date et paragraphe, la phrase qui répond surlignée."
        ),
        "ui.question": "Question",
        "ui.placeholder": "Posez votre question, en français ou en anglais…",
        "ui.search": "Rechercher",
        "ui.examples": "Exemples",
        "ui.passages": "Passages",
        "ui.only": "Seulement ces documents",
        "ui.only_info": "Laisser vide pour chercher partout",
        "ui.add": "Ajouter un document",
        "ui.upload": "{types} · jusqu'à {mb} Mo",
        "ui.add_details": (
            "Titre, date et auteur sont facultatifs : le titre est sinon celui du document, et les trois se corrigent "
            "ensuite."
        ),
        "ui.title": "Titre",
        "ui.date": "Date",
        "ui.author": "Auteur",
        "ui.title_placeholder": "le titre du document",
        "ui.date_placeholder": "2024, 2024-03 ou 2024-03-15",
        "ui.author_placeholder": "qui l'a écrit ou publié",
        "ui.manage": "Modifier un document ajouté ici",
        "ui.manage_info": (
            "Seuls les documents ajoutés dans l'application se modifient ici ; la collection fournie ne se modifie pas."
        ),
        "ui.document": "Document",
        "ui.save": "Enregistrer",
        "ui.remove": "Retirer de la collection",
        "ui.replace": "Remplacer par une nouvelle version ({types} · jusqu'à {mb} Mo)",
        "ui.trash": "Corbeille",
        "ui.trash_info": "Les documents retirés ou remplacés y restent {days} jours, puis sont supprimés.",
        "ui.trash_item": "Document retiré",
        "ui.restore": "Restaurer",
        "upload.type": (
            "{name} ne peut pas être ajouté : les fichiers {suffix} ne sont pas pris en charge. Enregistrez-le dans l'un de "
            "ces formats, {accepted}, puis ajoutez-le à nouveau."
        ),
        "upload.no_extension": (
            "{name} ne peut pas être ajouté : les fichiers sans extension ne sont pas pris en charge. Enregistrez-le dans "
            "l'un de ces formats, {accepted}, puis ajoutez-le à nouveau."
        ),
        "upload.empty": "{name} est vide. Vérifiez que vous avez choisi le bon fichier.",
        "upload.too_large": (
            "{name} est trop volumineux ({size} Mo ; la limite est de {limit} Mo). Découpez-le en fichiers plus petits, ou "
            "demandez à la personne qui gère cette application de relever la limite."
        ),
        "upload.bad_name": (
            "{name} ne peut pas être ajouté sous ce nom. Renommez le fichier (lettres, chiffres, tirets) et ajoutez-le à "
            "nouveau."
        ),
        "upload.too_many": "Trop de fichiers portent déjà un nom comme {name}. Renommez le fichier et ajoutez-le à nouveau.",
        "upload.duplicate": (
            "{name} est déjà dans la collection, sous le titre «{title}» ({other}) : il n'y a rien d'autre à faire."
        ),
        "upload.encrypted": (
            "{name} est protégé par un mot de passe. Enregistrez-en une copie sans mot de passe et ajoutez cette copie."
        ),
        "upload.scanned": (
            "{name} contient des images de pages mais pas de texte (un document numérisé ?), et la reconnaissance de "
            "texte (OCR) n'est pas installée sur ce serveur. Demandez à la personne qui gère cette application de "
            "l'installer (voir le README de rag), ou passez-le dans un logiciel d'OCR et ajoutez le résultat."
        ),
        "upload.not_text": (
            "{name} n'est pas un fichier texte, quoi qu'en dise son extension. Donnez-lui sa véritable extension (.pdf, "
            ".docx…) ou enregistrez-le en texte brut, puis ajoutez-le à nouveau."
        ),
        "upload.no_text": "{name} ne contient aucun texte à chercher. Vérifiez que vous avez choisi le bon fichier.",
        "upload.too_complex": (
            "{name} est trop volumineux ou trop complexe pour être lu ici. Découpez-le en fichiers plus petits, ou "
            "enregistrez-le en texte brut (.txt), puis ajoutez-les."
        ),
        "upload.unreadable_pdf": (
            "{name} n'a pas pu être lu comme un PDF : il est peut-être endommagé, ou ce n'est pas vraiment un PDF. S'il "
            "s'ouvre sur votre ordinateur, enregistrez-le ou imprimez-le à nouveau en PDF et ajoutez la nouvelle copie."
        ),
        "upload.unreadable_docx": (
            "{name} n'a pas pu être lu comme un document Word : il est peut-être endommagé, ou c'est un ancien .doc renommé. "
            "Ouvrez-le dans votre traitement de texte, enregistrez-le en .docx et ajoutez-le à nouveau."
        ),
        "upload.unreadable": (
            "{name} n'a pas pu être lu. S'il s'ouvre sur votre ordinateur, enregistrez-en une nouvelle copie (ou exportez-le "
            "en texte brut) et ajoutez-la."
        ),
        "upload.no_passage": (
            "{name} a été lu, mais il ne contient aucun paragraphe de texte à chercher. Vérifiez qu'il contient du texte suivi."
        ),
        "upload.index_failed": (
            "{name} n'a pas pu être ajouté : l'index n'a pas pu être mis à jour. Réessayez dans un instant ; si l'échec se "
            "répète, demandez à la personne qui gère cette application de consulter son journal."
        ),
        "upload.not_added": "Rien n'a été ajouté.",
        "upload.failed": (
            "L'ajout du document a échoué de façon inattendue ; rien n'a été ajouté. Réessayez ; si l'échec se répète, "
            "demandez à la personne qui gère cette application de consulter son journal."
        ),
        "upload.added": "{name} ajouté{renamed} : {passages}, désormais dans la recherche. {index}",
        "upload.renamed": " (enregistré sous le nom {dest})",
        "upload.passage": "{n} passage",
        "upload.passages": "{n} passages",
        "upload.index": (
            "Index : {documents} documents, {total} passages ; {embedded} textes calculés, {reused} repris ; {seconds} s."
        ),
        "library.removed": (
            "{name} retiré («{title}») : il n'est plus dans la recherche. Son fichier reste dans la corbeille pendant "
            "{days} jours : restaurez-le depuis celle-ci en cas d'erreur."
        ),
        "library.replaced": (
            "{name} remplacé par la nouvelle version {new} : {passages}, désormais dans la recherche, avec les mêmes "
            "titre, date et auteur. La version précédente reste dans la corbeille pendant {days} jours."
        ),
        "library.restored": "{name} restauré («{title}») : {passages}, de nouveau dans la recherche.",
        "library.restored_as": (
            "«{title}» restauré sous le nom {dest} (le nom {name} est pris) : {passages}, de nouveau dans la recherche."
        ),
        "library.described": "Informations de {name} enregistrées : ses citations le nomment désormais «{title}».",
        "library.unknown": (
            "{name} n'est plus dans la collection (quelqu'un l'a peut-être retiré entre-temps) ; les listes sont de "
            "nouveau à jour."
        ),
        "library.shipped": (
            "{name} fait partie de la collection fournie : il ne se modifie pas depuis l'application. Seuls les "
            "documents ajoutés ici peuvent être retirés, remplacés ou décrits."
        ),
        "library.not_in_trash": (
            "Ce document n'est plus dans la corbeille : il a été restauré, ou son délai y est écoulé."
        ),
        "library.unchanged": "Rien à enregistrer : ce sont déjà les informations de {name}.",
        "library.no_title": "Donnez un titre au document : ses citations le nomment.",
        "library.long_title": "Le titre est trop long : restez sous {limit} caractères.",
        "library.long_author": "L'auteur est trop long : restez sous {limit} caractères.",
        "library.bad_date": (
            "«{date}» n'est pas une date qu'une citation peut donner : écrivez une année (2024), un mois (2024-03) ou un "
            "jour (2024-03-15, ou 15/03/2024)."
        ),
        "library.not_changed": "Rien n'a été changé.",
        "library.choose": "Choisissez d'abord un document dans la liste.",
        "library.choose_trash": "Choisissez d'abord un document dans la corbeille.",
        "library.failed": (
            "La modification a échoué de façon inattendue ; rien n'a été changé. Réessayez ; si l'échec se répète, "
            "demandez à la personne qui gère cette application de consulter son journal."
        ),
        "library.working_add": "Lecture et indexation de {name}…",
        "library.working_replace": "Mise en place de la nouvelle version de {name}…",
        "library.working_remove": "Retrait de {name}…",
        "library.working_restore": "Restauration de {name}…",
        "library.working_describe": "Enregistrement des informations de {name}…",
        "docs.passage": "{n} passage",
        "docs.passages": "{n} passages",
        "docs.added": "ajouté le {date}",
        "docs.added_by": "ajouté le {date} par {user}",
        "docs.uploaded": "ajouté ici",
        "docs.none_uploaded": "Aucun document n'a encore été ajouté dans l'application.",
        "docs.trash_empty": "La corbeille est vide.",
        "docs.removed": "retiré le {date}",
        "docs.replaced": "remplacé par une nouvelle version le {date}",
        "docs.interrupted": "ajout interrompu le {date}",
        "docs.by": " par {user}",
        "page.page": "Voir la page {page}",
        "page.alt": "Page {page} de {source}, le passage marqué",
        "page.full": "ouvrir en grand",
        "page.ocr": "texte reconnu (OCR) · {confidence:.0f} %",
        "page.ocr_title": (
            "Ce texte a été reconnu par OCR sur un document numérisé (confiance moyenne {confidence:.0f} %) ; il peut "
            "contenir des erreurs de reconnaissance : vérifiez-le sur la page avant de le citer."
        ),
    },
}


def language(lang: str | None) -> str:
    """The language texts are given in for ``lang``: French for ``fr``, English for anything else (``und`` too)."""
    return "fr" if lang == "fr" else "en"


def text(key: str, lang: str | None = "en", **params: object) -> str:
    """The text ``key`` in ``lang`` (see ``language``), filled with ``params``."""
    template = TEXTS[language(lang)][key]
    return template.format(**params) if params else template


def area(prefix: str, lang: str | None) -> dict[str, str]:
    """The texts of one area (``ui``, ``results``...) in ``lang``, keyed without the prefix."""
    head = f"{prefix}."
    return {key[len(head) :]: value for key, value in TEXTS[language(lang)].items() if key.startswith(head)}


def number(value: float, lang: str | None, fmt: str = "g") -> str:
    """``value`` written for ``lang`` (a decimal comma in French)."""
    written = format(value, fmt)
    return written.replace(".", ",") if language(lang) == "fr" else written


def colon(lang: str | None) -> str:
    """The colon that joins a statement to its reason: French puts a space before it."""
    return " : " if language(lang) == "fr" else ": "
