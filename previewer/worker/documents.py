"""PDF (page 1) and SVG with PyMuPDF, rendered straight at thumbnail scale; PSD via Pillow's composite."""

from __future__ import annotations

import os

import pymupdf
from PIL import Image

from previewer import jemalloc
from previewer.worker import images
from previewer.worker.failures import CorruptInput, RenderFailure, UnsupportedInput
from previewer.worker.output import Rendered, thumbnail

MIN_EDGE = 1

pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)
# MuPDF keeps decoded fonts and images in a resource store (up to 256 MiB) that grows across
# documents: a document worker held ~430 MiB after 2,000 mixed previews when it was never emptied.
# Emptying it after every task cost 2-3 ms per PDF (~30 %: fonts decoded again each time), so it is
# emptied every STORE_SHRINK_EVERY documents, or sooner when the worker's RSS grew STORE_BUDGET over
# what it was after its first document (one document's store may be big; its memory goes back then).
# The budget bounds the memory; the count only spreads the refill (~2 ms on the next document) thinly.
# It runs after the reply is sent (``__main__.serve``), not within the task's time.
STORE_SHRINK_EVERY = 64
STORE_BUDGET = 48 * 1024 * 1024


class _Store:
    def __init__(self) -> None:
        self.since_shrink = 0
        self.baseline = 0

    def after_document(self) -> bool:
        """Empty MuPDF's store when due; True when it was emptied."""
        self.since_shrink += 1
        rss = _rss_bytes()
        if not self.baseline:
            self.baseline = rss
        if self.since_shrink < STORE_SHRINK_EVERY and rss - self.baseline < STORE_BUDGET:
            return False
        pymupdf.TOOLS.store_shrink(100)
        jemalloc.purge()  # a no-op under glibc
        self.since_shrink = 0
        return True


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


store = _Store()


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
