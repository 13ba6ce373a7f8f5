"""One reader per format: a file's bytes → the text rag cites (and page starts for PDFs).

Each reader raises ``SkipFile`` (with the reason) for a file that must be skipped, and bounds the work that a small
hostile file can cause: a .docx is read by a streaming parser with limits on its uncompressed size, compression
ratio and number of XML elements; HTML has a limit on its number of tags and is walked in linear time; pypdf bounds
each PDF stream (pypdf.Configuration: 75 MB decompressed, a parsing budget per content stream). What is left, time
and memory in total, is bounded by running the PDF, .docx and HTML readers in a child process (``rag.ingest.extraction``).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rag.errors import SkipFile

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from lxml import etree

    from rag.ingest.ocr import OcrPage
    from rag.ingest.ocr_cache import OcrJob


log = logging.getLogger("rag")


# Signatures of binary formats that are sometimes given a text extension by mistake (the start of the file).
BINARY_SIGNATURES = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a zip archive (.docx, .odt, .zip...)",
    b"\xd0\xcf\x11\xe0": "an old Office document (.doc, .xls)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "a program",
    b"{\\rtf": "an RTF document",
}

# A .docx is a zip; its text is one XML part (word/document.xml). A 65 KB file holding 20 MB of empty paragraphs
# (compressed 670 times, 3.5 million elements) took python-docx 167 s and 1.2 GB; it is now refused before its XML
# is read, and the streaming reader needs 6 s to reach the element limit when the ratio is hidden. The limits are far
# above real documents: 2 million elements is 100,000 paragraphs of 20 elements (run properties, proofing marks).
MAX_DOCX_XML_BYTES = 64 * 2**20
MAX_DOCX_COMPRESSION_RATIO = 100  # checked on parts above 1 MiB (the XML of a text compresses ~10 times)
MAX_XML_ELEMENTS = 2_000_000
MAX_GRID_SPAN = 64  # Word tables have at most 63 columns; a cell is repeated once per column it spans
# BeautifulSoup needs about 40 µs and 1 KB per tag here: 500,000 tags take 20 s and 600 MB.
MAX_HTML_TAGS = 500_000


def decode(data: bytes) -> tuple[str, str | None]:
    """A text file's text, and a note for the user when bytes had to be replaced.

    BOMs first, then strict UTF-8, then cp1252 (legacy French; latin-1 for its undefined bytes). UTF-8 with a few
    invalid bytes (a damaged or truncated file) stays UTF-8, the bad bytes becoming U+FFFD: decoding it as cp1252
    would turn every accented letter into mojibake ("Ã©").
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _utf8(data[3:])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    for signature, kind in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise SkipFile(f"looks binary: it is {kind}, not text (give it its real extension)")
    # NUL bytes near the start mean UTF-16 without a BOM or a binary format; later ones are removed (read_text).
    if b"\x00" in data[:4096]:
        raise SkipFile("looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text, note = _utf8(data)
    if note is not None and _mostly_utf8(text):
        return text, note
    # cp1252, its five undefined bytes read as latin-1 (as browsers do): one stray byte must not turn every
    # typographic apostrophe of the file into a control character.
    text = data.decode("cp1252", errors="surrogateescape")
    text = re.sub("[\udc80-\udcff]", lambda m: chr(ord(m.group()) - 0xDC00), text)
    # C0 and C1 control characters never occur in text.
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise SkipFile("looks binary (not text in UTF-8, cp1252 or latin-1)")
    return text, None


def _utf8(data: bytes) -> tuple[str, str | None]:
    """UTF-8, invalid bytes replaced by U+FFFD, with a note saying how many."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    return text, f"invalid UTF-8 ({bad} bad byte sequence(s) replaced by U+FFFD)"


def _mostly_utf8(text: str) -> bool:
    """True when correctly decoded non-ASCII characters outnumber the replaced sequences (a damaged UTF-8 file).

    A legacy cp1252 file has (almost) no valid multi-byte UTF-8 sequence: each accented letter is a bad byte.
    """
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return bad <= max(8, len(text) // 100) and good > bad


@dataclass(frozen=True)
class Extracted:
    """What a reader gives: the text rag cites, where each page starts in it (paginated formats), for each page
    whose text was recognised by OCR its 1-based number and the mean confidence of its words (0-100), and the title
    the file declares (PDF and .docx metadata, HTML ``<title>``; "" when it declares none: ``rag.ingest.titles``)."""

    text: str
    pages: tuple[int, ...] = ()
    ocr: tuple[tuple[int, float], ...] = ()
    title: str = ""


# A page whose text layer has fewer letters and digits than this, and that shows an image, is a scan to recognise
# (a scanner's page number or stamp is not its text).
MIN_LAYER_CHARS = 16


def read_pdf(path: Path, job: OcrJob | None = None) -> Extracted:
    """The text of every page, separated by form feeds (as pdftotext does), and where each page starts.

    Pages without a text layer that show an image are recognised by OCR (``rag.ingest.ocr``; ``job`` says how);
    the others keep the text of their layer.
    """
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise SkipFile(f"PDF is encrypted and cannot be opened ({exc.__class__.__name__})") from exc
            if opened == PasswordType.NOT_DECRYPTED:  # decrypt() returns this instead of raising
                raise SkipFile("PDF is encrypted with a password; save a copy without the password to index it")
        pages = [page.extract_text() or "" for page in reader.pages]
        scanned = [i for i, page in enumerate(reader.pages) if _is_scan(pages[i], page)]
        title = _pdf_title(reader)
    except (SkipFile, MemoryError):
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise SkipFile(f"unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:  # a damaged file can make pypdf fail anywhere (AttributeError, LimitReachedError...)
        raise SkipFile(f"unreadable PDF, probably damaged ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    confidences: list[tuple[int, float]] = []
    if scanned:
        from rag.ingest import ocr

        try:
            recognised = _recognise_pdf(path, scanned, job or _ocr_job())
        except ocr.OcrUnavailable as exc:
            if not any(p.strip() for p in pages):
                raise SkipFile(f"PDF has no text layer (scanned images?). {exc}") from exc
            log.warning("%s: %s without a text layer not read (scanned?). %s", path, _pages(scanned), exc)
            recognised = {}
        for i, result in sorted(recognised.items()):
            # (a photograph with a caption keeps its caption when OCR reads less than that in it)
            if result.confidence is not None and _letters(result.text) > _letters(pages[i]):
                pages[i] = result.text
                confidences.append((i + 1, round(result.confidence, 1)))
    if not any(p.strip() for p in pages):
        raise SkipFile("PDF has no text layer, and OCR found no text on its pages" if scanned else "PDF has no text layer")
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 1
    return Extracted("\f".join(pages), tuple(starts), tuple(confidences), title)


def _pdf_title(reader: Any) -> str:
    """The title in a PDF's document information ("" when there is none or it cannot be read)."""
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a damaged information dictionary does not make the text unreadable
        return ""
    return str(title)[:1000] if title else ""


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _pages(indices: list[int]) -> str:
    shown = ", ".join(str(i + 1) for i in indices[:10]) + (", ..." if len(indices) > 10 else "")
    return f"page {shown}" if len(indices) == 1 else f"{len(indices)} pages ({shown})"


def _is_scan(text: str, page: Any) -> bool:
    """Whether a page is a scan: too little text in its layer, and an image (a blank page has none)."""
    return _letters(text) < MIN_LAYER_CHARS and _shows_image(page)


def _shows_image(page: Any, depth: int = 0) -> bool:
    """Whether a pypdf page (or form) draws an image XObject, looking two forms deep; True when unsure."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else {}
        xobjects = resources.get("/XObject")
        if xobjects is None:
            return False
        for ref in xobjects.get_object().values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                return True
            if xobject.get("/Subtype") == "/Form" and depth < 2 and _shows_image(xobject, depth + 1):
                return True
        return False
    except Exception:  # a damaged resource dictionary: let OCR look
        return True


def _recognise_pdf(path: Path, indices: list[int], job: OcrJob) -> dict[int, OcrPage]:
    from rag.ingest import ocr

    ocr.require()
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise SkipFile(f"unreadable PDF for OCR ({exc})") from exc
    try:
        return job.run(indices, lambda i: ocr.render_pdf_page(pdf, i))
    finally:
        pdf.close()


def read_image(path: Path, job: OcrJob | None = None) -> Extracted:
    """The text of an image (PNG, JPEG, TIFF; each frame of a TIFF a page), recognised by OCR."""
    from rag.ingest import ocr

    try:
        ocr.require()
    except ocr.OcrUnavailable as exc:
        raise SkipFile(f"an image is read by OCR. {exc}") from exc
    count = ocr.frame_count(path)
    recognised = (job or _ocr_job()).run(list(range(count)), lambda i: ocr.image_frame(path, i))
    pages = [recognised[i].text for i in range(count)]
    if not any(p.strip() for p in pages):
        raise SkipFile("OCR found no text in the image")
    starts = [0]
    for page in pages[:-1]:
        starts.append(starts[-1] + len(page) + 1)
    confidences = tuple((i + 1, round(c, 1)) for i in range(count) if (c := recognised[i].confidence) is not None)
    return Extracted("\f".join(pages), tuple(starts), confidences)


def read_docx(path: Path) -> str:
    """Body paragraphs, then table rows (cells joined by " | "), as python-docx gives them, read in a stream."""
    return _read_docx(path).text


def _read_docx(path: Path) -> Extracted:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(_main_part(archive))
            _check_part(info)
            with archive.open(info) as xml:
                text = _docx_text(xml)
            return Extracted(text, title=_docx_title(archive))
    except (SkipFile, MemoryError):
        raise
    except Exception as exc:  # BadZipFile, KeyError (no such part), XMLSyntaxError, zlib.error...
        raise SkipFile(f"not a valid .docx ({exc.__class__.__name__}: {str(exc)[:200]})") from exc


CORE_PROPERTIES = "docProps/core.xml"
DUBLIN_CORE = "{http://purl.org/dc/elements/1.1/}"


def _docx_title(archive: zipfile.ZipFile) -> str:
    """``dc:title`` of the document's core properties ("" when there is none, or the part is missing or too large)."""
    from lxml import etree

    try:
        info = archive.getinfo(CORE_PROPERTIES)
    except KeyError:
        return ""
    if info.file_size > 2**20:
        return ""
    try:
        root = etree.fromstring(archive.read(info), _xml_parser())
    except etree.XMLSyntaxError:
        return ""
    title = root.find(f"{DUBLIN_CORE}title")
    return "".join(title.itertext()) if title is not None else ""


OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def _main_part(archive: zipfile.ZipFile) -> str:
    """The name of the document's main XML part: where the package relationships point (as python-docx finds it)."""
    from lxml import etree

    try:
        rels = archive.getinfo("_rels/.rels")
    except KeyError:
        return "word/document.xml"
    if rels.file_size > 2**20:
        raise SkipFile(f"not a valid .docx (_rels/.rels is {rels.file_size // 2**20} MiB)")
    root = etree.fromstring(archive.read(rels), _xml_parser())
    for rel in root:
        if rel.get("Type") == OFFICE_DOCUMENT and rel.get("TargetMode") != "External":
            return str(rel.get("Target", "")).lstrip("/")
    return "word/document.xml"


def _check_part(info: zipfile.ZipInfo) -> None:
    """Refuse to decompress a part that is too large or compressed like a bomb (before reading a byte of it).

    The sizes can be trusted: zipfile stops at the declared size and checks the CRC. Only stored and deflated parts
    are read (what Word writes): the other methods decompress whole blocks at once.
    """
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise SkipFile(f"not a valid .docx ({info.filename} uses zip compression method {info.compress_type})")
    mib = info.file_size / 2**20
    if info.file_size > MAX_DOCX_XML_BYTES:
        raise SkipFile(f"its text is too large ({mib:.0f} MiB of XML > {MAX_DOCX_XML_BYTES // 2**20} MiB); split the document")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > 2**20 and ratio > MAX_DOCX_COMPRESSION_RATIO:
        raise SkipFile(f"its text is compressed {ratio:.0f} times ({mib:.0f} MiB of XML): a decompression bomb?")


def _xml_parser() -> etree.XMLParser:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _docx_text(xml: IO[bytes]) -> str:
    """The text of word/document.xml, parsed in a stream: each child of the body is dropped once read.

    Like python-docx: only the body's own paragraphs and tables (not those nested in revision marks or content
    controls), and in a paragraph only its runs and hyperlinks.
    """
    from lxml import etree

    paragraphs: list[str] = []
    rows: list[str] = []
    w = ""  # "{namespace}" of the root element: the transitional one, or strict OOXML's
    depth = 0
    elements = 0
    # huge_tree=False: libxml2 limits nesting depth and the size of one text node.
    events = etree.iterparse(
        xml, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    for event, element in events:
        if event == "start":
            elements += 1
            if elements > MAX_XML_ELEMENTS:
                raise SkipFile(f"has more than {MAX_XML_ELEMENTS:,} XML elements (a decompression bomb?)")
            depth += 1
            if depth == 1 and isinstance(element.tag, str):
                w = element.tag[: element.tag.find("}") + 1]
            continue
        depth -= 1
        if depth == 2:  # a child of a child of the root has been read whole
            parent = element.getparent()
            if parent is not None:
                if parent.tag == w + "body":
                    if element.tag == w + "p":
                        paragraphs.append(_paragraph_text(element, w))
                    elif element.tag == w + "tbl":
                        rows.extend(_table_rows(element, w))
                element.clear()
                parent.remove(element)
    return "\n\n".join(p for p in paragraphs + rows if p.strip())


def _paragraph_text(p: etree._Element, w: str) -> str:
    parts: list[str] = []
    for child in p:
        if child.tag == w + "r":
            parts.append(_run_text(child, w))
        elif child.tag == w + "hyperlink":
            parts.extend(_run_text(r, w) for r in child.iterchildren(w + "r"))
    return "".join(parts)


def _run_text(r: etree._Element, w: str) -> str:
    parts: list[str] = []
    for e in r:
        tag = e.tag
        if tag == w + "t":
            parts.append(e.text or "")
        elif tag in (w + "tab", w + "ptab"):
            parts.append("\t")
        elif tag == w + "cr" or (tag == w + "br" and e.get(w + "type", "textWrapping") == "textWrapping"):
            parts.append("\n")  # a line break; page and column breaks give nothing
        elif tag == w + "noBreakHyphen":
            parts.append("-")
    return "".join(parts)


def _table_rows(tbl: etree._Element, w: str) -> list[str]:
    """Each row's cells joined by " | ", a cell repeated once per grid column it spans; a cell that continues a
    vertical merge repeats the cell above it (python-docx's ``row.cells``)."""
    rows: list[str] = []
    above: dict[int, tuple[str, int]] = {}  # grid column where a cell of the previous row starts → its text, span
    for tr in tbl.iterchildren(w + "tr"):
        cells: list[str] = []
        here: dict[int, tuple[str, int]] = {}
        column = _number(tr.find(f"{w}trPr/{w}gridBefore"), w, 0)
        for tc in tr.iterchildren(w + "tc"):
            span = _number(tc.find(f"{w}tcPr/{w}gridSpan"), w, 1)
            merge = tc.find(f"{w}tcPr/{w}vMerge")
            if merge is not None and merge.get(w + "val", "continue") == "continue" and column in above:
                here[column] = above[column]
            else:
                here[column] = ("\n".join(_paragraph_text(p, w) for p in tc.iterchildren(w + "p")), span)
            text, repeat = here[column]
            cells.extend([text] * repeat)
            column += span
        rows.append(" | ".join(cells))
        above = here
    return rows


def _number(element: etree._Element | None, w: str, default: int) -> int:
    """The ``w:val`` of a grid span or offset, kept within what a Word table can have."""
    if element is None:
        return default
    try:
        return max(0, min(int(element.get(w + "val", default)), MAX_GRID_SPAN))
    except ValueError:
        return default


BLOCK_TAGS = frozenset(
    "p div section article header footer li ul ol h1 h2 h3 h4 h5 h6 tr table blockquote br pre main aside".split()
)
_END = object()  # marks the end of a block element in the walk below


def read_html(data: bytes) -> str:
    """The page's text without scripts, styles and other hidden parts; block elements separated by blank lines."""
    return _read_html(data).text


def _read_html(data: bytes) -> Extracted:
    """The page's text (``read_html``) and its title: its ``<title>``, else its first ``<h1>``."""
    from bs4 import BeautifulSoup

    tags = len(re.findall(rb"<[A-Za-z]", data))
    if tags > MAX_HTML_TAGS:
        raise SkipFile(f"has {tags:,} HTML tags (more than {MAX_HTML_TAGS:,}); save it as text to index it")
    soup = BeautifulSoup(data, "html.parser")
    named = soup.find("title") or soup.find("h1")
    title = named.get_text(" ") if named is not None else ""
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        tag.decompose()
    return Extracted(re.sub(r"\n\s*\n(\s*\n)+", "\n\n", _html_text(soup)).strip(), title=title[:1000])


def _html_text(soup: BeautifulSoup) -> str:
    """``soup.get_text()`` with a blank line before and after each block element, in one pass over the tree.

    (Inserting the blank lines into the tree instead costs time in the square of the nesting depth: 100,000 nested
    ``<div>`` took longer than 15 minutes.)
    """
    from bs4.element import CData, NavigableString, Tag

    wanted = soup.interesting_string_types or {NavigableString, CData}  # what get_text() keeps: no comments...
    parts: list[str] = []
    stack: list[object] = list(reversed(soup.contents))
    while stack:
        node = stack.pop()
        if node is _END:
            parts.append("\n\n")
        elif isinstance(node, Tag):
            if node.name in BLOCK_TAGS:
                parts.append("\n\n")
                stack.append(_END)
            stack.extend(reversed(node.contents))
        elif type(node) in wanted:
            parts.append(str(node))
    return "".join(parts)


def _ocr_job() -> OcrJob:
    """How a file is recognised when the caller says nothing: without a cache (imported here: OCR is optional)."""
    from rag.ingest.ocr_cache import OcrJob

    return OcrJob()


def read_text(path: Path, fmt: str, job: OcrJob | None = None) -> Extracted:
    """The document's text as rag cites it, page start offsets for paginated formats, and which pages were
    recognised by OCR (PDF scans and images; ``job`` says how, see ``rag.ingest.ocr_cache.OcrJob``)."""
    if fmt == "pdf":
        return _without_nul(path, read_pdf(path, job))
    if fmt == "image":
        return _without_nul(path, read_image(path, job))
    if fmt == "docx":
        return _read_docx(path)  # XML cannot hold a NUL
    data = path.read_bytes()
    if fmt == "html":
        stray = data.count(b"\x00")
        # A few NUL bytes make the encoding detector guess UTF-16 (the page becomes CJK mojibake); UTF-16 has many.
        if stray and stray * 10 < len(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            _nul_removed(path, stray)
            data = data.replace(b"\x00", b"")
        return _without_nul(path, _read_html(data))
    text, note = decode(data)
    if note:
        log.warning("%s: %s", path, note)
    return _without_nul(path, Extracted(text))


def _without_nul(path: Path, extracted: Extracted) -> Extracted:
    """The text without NUL characters (a damaged file, a PDF font without a character map), page starts moved to
    match. A NUL is never part of a word: removing it keeps the rest of the document, as for damaged UTF-8."""
    text, pages = extracted.text, extracted.pages
    if "\x00" not in text:
        return extracted
    starts: list[int] = []
    removed = previous = 0
    for start in pages:
        removed += text.count("\x00", previous, start)
        starts.append(start - removed)
        previous = start
    _nul_removed(path, text.count("\x00"))
    return Extracted(text.replace("\x00", ""), tuple(starts), extracted.ocr, extracted.title.replace("\x00", ""))


def _nul_removed(path: Path, count: int) -> None:
    log.warning("%s: %d NUL character(s) removed (a damaged file?)", path, count)
