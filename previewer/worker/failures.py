"""Failures a renderer reports as values (a code the service maps to its error class + a message)."""

from __future__ import annotations


class RenderFailure(Exception):
    code = "corrupt"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CorruptInput(RenderFailure):
    code = "corrupt"


class TooLargeInput(RenderFailure):
    code = "too_large"


class UnsupportedInput(RenderFailure):
    code = "unsupported"


class MissingInput(RenderFailure):
    """The input is gone (its message was deleted while the job waited)."""

    code = "not_found"


def check_decoded_size(width: int, height: int, bands: int, limit: int, what: str = "image") -> None:
    """Refuse a picture whose decoded size (from its header) is over the limit, before decoding."""
    if width <= 0 or height <= 0:
        raise CorruptInput(f"{what} header claims an empty size {width}x{height}")
    decoded = width * height * max(1, bands)
    if decoded > limit:
        raise TooLargeInput(
            f"{what} is {width}x{height} with {bands} band(s) = {decoded / 2**20:.0f} MB decoded, over "
            f"THUMBNAIL_IMAGE_ORIGINAL_SIZE_LIMIT ({limit / 2**20:.0f} MB)")
