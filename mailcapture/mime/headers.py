"""Header blocks: where they end, how to read them, and RFC 2047 encoded words."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import Compat32

from .charset import decode_text
from .transfer import decode

# A header line as the standard library's feed parser recognises one (email.feedparser.headerRE).
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_LF = 0x0A
_CR = 0x0D


def _text_of_raw_value(value: str) -> str:
    """Header values come in as ASCII with surrogate escapes for 8-bit bytes: make them text."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class UnfoldingPolicy(Compat32):
    """compat32 that hands out unfolded ``str`` values, with raw 8-bit bytes decoded as
    UTF-8 (Latin-1 when not valid UTF-8) instead of ``Header`` objects. Encoded words are left
    alone so that structured fields (parameters, addresses) are split before they are decoded."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return _text_of_raw_value(_FOLD.sub("", value).rstrip("\r\n"))


POLICY = UnfoldingPolicy()


def find_header_end(raw: bytes, start: int, end: int) -> tuple[int, bool]:
    """Where the body of the entity in ``raw[start:end]`` begins, and whether a blank line
    separated it from the headers. Like the standard parser, the first line that is neither a
    header nor a continuation also ends the headers (it belongs to the body)."""
    pos = start
    while pos < end:
        newline = raw.find(b"\n", pos, end)
        line_end = end if newline < 0 else newline + 1
        first = raw[pos]
        if first == _LF or (first == _CR and (pos + 1 == end or raw[pos + 1] == _LF)):
            return line_end, True
        if not _HEADER_LINE.match(raw, pos, line_end):
            return pos, False
        pos = line_end
    return end, False


def parse_header_block(block: bytes) -> Message:
    return BytesHeaderParser(policy=POLICY).parsebytes(block)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_ONLY_SPACE = re.compile(r"[ \t\r\n]*")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently. Adjacent words are joined (whitespace between
    them dropped) and bytes of adjacent words in one charset are decoded together, so that
    multi-byte characters split across words survive."""
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (pending and _ONLY_SPACE.fullmatch(between)):
            if pending:
                out.append(decode_text(pending, pending_charset))
                pending = bytearray()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        if pending and charset != pending_charset:
            out.append(decode_text(pending, pending_charset))
            pending = bytearray()
        pending_charset = charset
        pending += _decode_word(match.group(2), match.group(3))
        pos = match.end()
    if pending:
        out.append(decode_text(pending, pending_charset))
    out.append(value[pos:])
    return "".join(out)


def _decode_word(kind: str, text: str) -> bytes:
    data = text.encode("ascii", "replace")
    if kind in "bB":
        return decode(data, "base64")
    return decode(data.replace(b"_", b" "), "quoted-printable")
