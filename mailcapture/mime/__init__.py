"""MIME parsing: a fast byte-offset path with the standard library as fallback.

``parse(raw)`` never raises; ``decode``/``iter_decode`` undo transfer encodings leniently;
``decode_text`` turns bytes into text whatever the declared charset; ``html_to_text`` gives
searchable text of an HTML body.
"""

from .charset import decode_text
from .htmltext import html_to_text
from .model import (
    KIND_ATTACHMENT,
    KIND_HTML,
    KIND_INLINE,
    KIND_TEXT,
    Address,
    MimePart,
    ParsedMessage,
)
from .parser import PARSER_FAST, PARSER_HEADERS, PARSER_STDLIB, parse
from .transfer import (
    ENCODING_BASE64,
    IrregularBase64,
    decode,
    decode_range,
    iter_decode,
    iter_decode_regular_base64,
    normalize_encoding,
)

__all__ = [
    "KIND_ATTACHMENT",
    "KIND_HTML",
    "KIND_INLINE",
    "KIND_TEXT",
    "PARSER_FAST",
    "PARSER_HEADERS",
    "PARSER_STDLIB",
    "Address",
    "MimePart",
    "ParsedMessage",
    "ENCODING_BASE64",
    "IrregularBase64",
    "decode",
    "iter_decode_regular_base64",
    "normalize_encoding",
    "decode_range",
    "decode_text",
    "html_to_text",
    "iter_decode",
    "parse",
]
