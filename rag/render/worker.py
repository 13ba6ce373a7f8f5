"""The page view's drawing, as the reader's child process does it (``rag.ingest.extraction``: time and memory
limits; a page that takes too long is stopped with its process). It keeps the last pages' glyphs and images, so
that another passage of a page already shown is drawn without rendering the page again."""

from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any

from PIL import Image

from rag.render.boxes import PageLayout, PageRef, layout
from rag.render.page import base_image, draw, marks

KEPT = 8  # pages kept drawn (about 4 MB each at 1000 pixels wide)
_layouts: OrderedDict[tuple[str, str, int], PageLayout] = OrderedDict()
_images: OrderedDict[tuple[str, str, int, int], Image.Image] = OrderedDict()


def _kept(store: OrderedDict[Any, Any], key: Any, make: Any) -> Any:
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = store[key] = make()
    while len(store) > KEPT:
        store.popitem(last=False)
    return value


def render_page(request: dict[str, Any]) -> dict[str, Any]:
    """``{"ref": PageRef fields, "passage": [s, e], "sentences": [[s, e]...], "width": px, "ocr_folder": path}`` →
    ``{"png": base64, "marks": Marks.to_dict()}``."""
    import io

    ref = PageRef(**request["ref"])
    folder = request.get("ocr_folder")
    found = _kept(_layouts, (ref.path, ref.sha256, ref.page), lambda: layout(ref, folder))
    passage = (int(request["passage"][0]), int(request["passage"][1]))
    drawn = marks(ref, passage, [(int(s), int(e)) for s, e in request.get("sentences", ())], found)
    width = int(request["width"])
    image = _kept(_images, (ref.path, ref.sha256, ref.page, width), lambda: base_image(ref.path_obj, ref.format, ref.page, width))
    out = io.BytesIO()
    draw(image, drawn).save(out, "PNG", compress_level=3)
    return {"png": base64.b64encode(out.getvalue()).decode("ascii"), "marks": drawn.to_dict()}
