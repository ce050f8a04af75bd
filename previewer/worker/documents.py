"""PDF (page 1) and SVG with PyMuPDF, rendered straight at thumbnail scale; PSD via Pillow's composite."""

from __future__ import annotations

import pymupdf
from PIL import Image

from previewer.worker import images
from previewer.worker.failures import CorruptInput, RenderFailure, UnsupportedInput
from previewer.worker.output import Rendered, thumbnail

MIN_EDGE = 1

pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)
# MuPDF keeps decoded fonts and images in a resource store (up to 256 MiB) that grows across
# documents. Every task opens a new document, so nothing is lost by emptying the store after each
# task (measured: a document worker held ~430 MiB after 2,000 mixed previews without this).


def render(fmt: str, source: str | bytes, size: int, original_size_limit: int) -> Rendered:
    if fmt == "psd":
        return images.render(fmt, source, size, original_size_limit)
    if fmt not in ("pdf", "svg"):
        raise UnsupportedInput(f"no document renderer for {fmt}")
    try:
        if isinstance(source, bytes):
            doc = pymupdf.open(stream=source, filetype=fmt)
        else:
            doc = pymupdf.open(source, filetype=fmt)
    except Exception as exc:
        raise CorruptInput(f"cannot open {fmt.upper()}: {exc}") from None
    with doc:
        try:
            pix = _first_page(doc, fmt, size)
        except RenderFailure:
            raise
        except Exception as exc:
            raise CorruptInput(f"cannot render the first page of the {fmt.upper()}: {exc}") from None
        mode = "RGBA" if pix.alpha else "RGB"
        im = Image.frombytes(mode, (pix.width, pix.height), pix.samples)
    del pix
    pymupdf.TOOLS.store_shrink(100)  # empty the store: the next task is another document
    return thumbnail(im, size)


def _first_page(doc: pymupdf.Document, fmt: str, size: int) -> pymupdf.Pixmap:
    """Page 1 rendered straight at thumbnail scale (a matrix, never a full-size raster)."""
    if doc.needs_pass:
        raise CorruptInput(f"{fmt.upper()} is password-protected")
    if doc.page_count < 1:
        raise CorruptInput(f"{fmt.upper()} has no pages")
    page = doc.load_page(0)
    rect = page.rect
    if rect.width <= 0 or rect.height <= 0 or rect.is_infinite:
        raise CorruptInput(f"first page of the {fmt.upper()} has no size ({rect})")
    zoom = size / max(rect.width, rect.height)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=fmt == "svg")
    if pix.width < MIN_EDGE or pix.height < MIN_EDGE:
        raise CorruptInput(f"first page of the {fmt.upper()} renders to nothing")
    if pix.n - int(pix.alpha) != 3:  # unusual colorspace: let MuPDF convert
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    return pix
