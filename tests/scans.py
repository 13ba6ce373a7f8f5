"""Scans that the tests and benchmarks make: text typeset into page images at 300 dpi, wrapped into PDFs.

The source text of every page is kept, so that what OCR recognises can be scored against it (``char_accuracy``).
Needs Pillow (the ``rag[ocr]`` extra) and a TrueType font with French accents (DejaVu, Debian's
``fonts-dejavu-core``, which ``./scripts/test.sh`` installs).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
A4_INCHES = (8.27, 11.69)

# A council's twinning charter (invented for rag's tests): accents, apostrophes, guillemets, figures and dates.
CHARTE = [
    "Charte de jumelage entre Trouville-sur-Mer et Zelenograd",
    "Réunis en séance publique le 14 mars 2023, les conseils municipaux des deux villes décident de "
    "sceller un jumelage fondé sur l'amitié entre leurs habitants, la coopération culturelle et "
    "l'échange de savoir-faire entre leurs services publics.",
    "Article premier. Les deux villes s'engagent à favoriser les échanges scolaires : chaque année, "
    "vingt-quatre élèves du collège André-Maurois séjourneront à Zelenograd, et autant d'élèves "
    "russes seront accueillis en Normandie, hébergés dans des familles volontaires.",
    "Article 2. Un comité de jumelage, présidé par l'adjointe chargée des relations internationales, "
    "se réunit deux fois par an. Il prépare le budget des échanges, qui s'élève à 18 500 euros pour "
    "l'exercice 2024, et rend compte de son activité au conseil municipal.",
    "Article 3. Les bibliothèques des deux villes créent un fonds commun d'ouvrages traduits ; la "
    "médiathèque de Trouville reçoit à ce titre une œuvre de Pouchkine, « Le Cavalier de bronze ».",
]
CHARTE_2 = [
    "Article 4. Les services techniques échangent leurs pratiques de gestion de l'eau et de l'éclairage "
    "public. Une délégation de six agents se rend à Zelenograd au printemps ; elle étudie notamment le "
    "réseau de chaleur urbain, dont l'efficacité énergétique dépasse 85 %.",
    "Article 5. Le présent jumelage est conclu pour une durée indéterminée. Il peut être suspendu par "
    "l'une ou l'autre des parties, après délibération de son conseil, si les circonstances l'exigent.",
    "Fait à Trouville-sur-Mer, le 14 mars 2023, en deux exemplaires originaux, l'un en français, "
    "l'autre en russe, les deux textes faisant également foi.",
]
ENGLISH = [
    "Minutes of the council meeting of 2 May 2023",
    "The council noted that the twinning committee met on 28 April. Its chair reported that the school "
    "exchange with Zelenograd had been postponed until further notice, following the advice of the "
    "Ministry of Foreign Affairs.",
    "The council agreed to keep the budget line of 18,500 euros in reserve, and asked the committee to "
    "propose a cultural project with another partner city before the end of the year.",
]
PAGES = [CHARTE, CHARTE_2, ENGLISH]


@dataclass(frozen=True)
class Scan:
    """A page image and the text it shows (paragraphs as typeset, one line each)."""

    image: Image.Image
    text: str


def font_path(bold: bool = False) -> Path:
    name = "DejaVuSerif-Bold.ttf" if bold else "DejaVuSerif.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found: apt-get install -y fonts-dejavu-core")


def typeset(paragraphs: list[str], dpi: int = 300, points: float = 11.0) -> Scan:
    """An A4 page at ``dpi`` with the paragraphs set in black on white (the first one as a bold heading)."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = (round(inches * dpi) for inches in A4_INCHES)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    margin = dpi  # one inch
    size = round(points * dpi / 72)
    y = margin
    for i, paragraph in enumerate(paragraphs):
        font = ImageFont.truetype(str(font_path(bold=i == 0)), size + (4 * dpi // 72 if i == 0 else 0))
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) > width - 2 * margin and line:
                draw.text((margin, y), line, font=font, fill=0)
                y += round(size * 1.45)
                line = word
            else:
                line = trial
        draw.text((margin, y), line, font=font, fill=0)
        y += round(size * 1.45) + size
    return Scan(page, "\n".join(paragraphs))


def scanned_look(image: Image.Image, degrees: float = 0.7, noise: float = 0.02, seed: int = 0) -> Image.Image:
    """The page as a photocopier gives it back: slightly rotated, a little blurred, with specks and grey noise."""
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    blurred = turned.filter(ImageFilter.GaussianBlur(0.8))
    pixels = bytearray(blurred.tobytes())
    for _ in range(int(len(pixels) * noise)):
        at = rng.randrange(len(pixels))
        pixels[at] = rng.choice((0, 90, 160)) if rng.random() < 0.3 else max(0, min(255, pixels[at] + rng.randint(-60, 60)))
    return Image.frombytes("L", blurred.size, bytes(pixels))


def write_scan_pdf(path: Path, images: list[Image.Image], dpi: int = 300) -> None:
    """A PDF with one image per page and no text layer (what a scanner writes)."""
    first, *rest = [im.convert("L") for im in images]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi))


def char_accuracy(recognised: str, reference: str) -> float:
    """1 - edit distance / reference length, on both texts with whitespace runs made one space (as OCR is scored)."""
    import numpy as np

    a, b = " ".join(recognised.split()), " ".join(reference.split())
    if not b:
        return 1.0 if not a else 0.0
    codes_a = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    columns = np.arange(len(codes_b) + 1)
    row = columns.copy()
    for i, code in enumerate(codes_a, start=1):
        # substitution or match from the row above, deletion from above; then insertions along the row, in one
        # pass: new[j] = min over k <= j of (base[k] + j - k)
        base = np.empty_like(row)
        base[0] = i
        base[1:] = np.minimum(row[:-1] + (codes_b != code), row[1:] + 1)
        row = np.minimum.accumulate(base - columns) + columns
    return max(0.0, 1.0 - float(row[-1]) / len(codes_b))
