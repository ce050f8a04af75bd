"""Raster images with Pillow: header check first, JPEG DCT scaling (draft), EXIF orientation."""

from __future__ import annotations

import io
import logging
import os
import warnings
from typing import IO

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from previewer.worker.failures import CorruptInput, TooLargeInput, UnsupportedInput, check_decoded_size
from previewer.worker.output import Rendered, thumbnail

log = logging.getLogger(__name__)

# sniffed format -> the Pillow plugin allowed to open it
PIL_FORMATS: dict[str, str] = {
    "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tiff": "TIFF", "ico": "ICO",
    "avif": "AVIF", "heic": "HEIF", "psd": "PSD",
}


# Freed image memory blocks (up to 16 MiB each) Pillow keeps for the next picture. Without a cache each
# decoded image is a fresh calloc, which jemalloc zeroes by giving the pages back to the kernel and
# faulting them in again: a 2560x1440 PNG cost 3,600-7,200 minor page faults and ~30 % more time
# (44 -> 57-71 ms) under jemalloc, none under glibc. With 4 blocks cached: no faults, glibc's speed,
# at most 64 MiB held by an idle worker after a very large picture (usually one block, ~15 MiB).
PILLOW_BLOCKS_MAX = 4


def configure(original_size_limit: int) -> None:
    """Pillow's own bomb guard as a backstop behind our header check (pixels <= decoded bytes), and its
    block cache (unless PILLOW_BLOCKS_MAX is set in the environment)."""
    Image.MAX_IMAGE_PIXELS = original_size_limit
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    if "PILLOW_BLOCKS_MAX" not in os.environ:
        Image.core.set_blocks_max(PILLOW_BLOCKS_MAX)  # type: ignore[attr-defined]  # the C core: not in the stubs


_heif_registered = False


def _register_heif() -> None:
    """HEIC/HEIF needs the pillow-heif plugin; imported on the first HEIC only (it is not small)."""
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise UnsupportedInput("HEIC/HEIF images are not supported here (pillow-heif is not installed)") from None
    pillow_heif.register_heif_opener()
    _heif_registered = True


def open_source(source: str | bytes | IO[bytes]) -> IO[bytes] | str:
    """A path, the bytes, or a file object (a streamed input: read while it still arrives)."""
    return io.BytesIO(source) if isinstance(source, bytes) else source


def render(fmt: str, source: str | bytes | IO[bytes], size: int, original_size_limit: int) -> Rendered:
    plugin = PIL_FORMATS.get(fmt)
    if plugin is None:
        raise UnsupportedInput(f"no image decoder for {fmt}")
    if fmt == "heic":
        _register_heif()
    try:
        im = Image.open(open_source(source), formats=[plugin])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeInput(f"decompression bomb refused: {exc}") from None
    except UnidentifiedImageError:
        raise CorruptInput(f"not a readable {fmt.upper()} file (bad or truncated header)") from None
    with im:
        check_decoded_size(im.width, im.height, len(im.getbands()), original_size_limit, fmt.upper())
        if im.format == "JPEG" or im.format == "MPO":
            im.draft(None, (size, size))  # DCT scaling: decode at 1/2, 1/4 or 1/8 when that is enough
        im.load()
        oriented = _oriented(im)
        return thumbnail(oriented, size)


def _oriented(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception as exc:  # hostile EXIF must not lose the picture
        log.warning("ignoring unreadable EXIF orientation: %s", exc)
        return im
