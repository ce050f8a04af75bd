"""``parse``: raw message bytes to a ParsedMessage. Never raises."""

from __future__ import annotations

import re

from .entity import entity_info
from .fallback import stdlib_leaves
from .fast import FastParser
from .fields import fill_fields
from .headers import decode_words, find_header_end, parse_header_block
from .kinds import assign_kinds
from .model import MimePart, ParsedMessage

PARSER_FAST = "fast"
PARSER_STDLIB = "stdlib"
PARSER_HEADERS = "headers"
MAX_DEFECTS = 100
# For the last-resort header reader: "Name: value" lines, continuations folded in.
_MINIMAL_HEADER = re.compile(rb"^([!-9;-~]+):[ \t]*(.*(?:\r?\n[ \t].*)*)", re.MULTILINE)
_MINIMAL_HEADER_LIMIT = 1024 * 1024


def parse(raw: bytes | bytearray | memoryview) -> ParsedMessage:
    """Headers and MIME structure of one message; problems are reported in ``defects``."""
    try:
        data = raw if isinstance(raw, bytes) else bytes(raw)
    except Exception as exc:
        return ParsedMessage(header_end=0, headers=[], parser=PARSER_HEADERS, defects=[f"unreadable input: {exc!r}"])
    try:
        parsed = _parse(data)
    except Exception as exc:  # the contract is "never raises"
        parsed = _headers_only(data, f"parse failed: {type(exc).__name__}: {exc}")
    if len(parsed.defects) > MAX_DEFECTS:
        dropped = len(parsed.defects) - MAX_DEFECTS + 1
        parsed.defects[MAX_DEFECTS - 1 :] = [f"... and {dropped} more defects"]
    return parsed


def _parse(raw: bytes) -> ParsedMessage:
    header_end, separated = find_header_end(raw, 0, len(raw))
    top = parse_header_block(raw[:header_end])
    parsed = ParsedMessage(header_end=header_end, headers=[])
    if raw and not separated and header_end < len(raw):
        parsed.defects.append("no blank line after the headers")
    fill_fields(parsed, top)
    leaves: list[MimePart]
    try:
        fast_defects: list[str] = []
        leaves, multipart = FastParser(raw, fast_defects).run(entity_info(top), header_end)
        parsed.defects.extend(fast_defects)
        parsed.parser = PARSER_FAST
    except Exception as exc:  # anything the fast path trips on goes to the stdlib
        parsed.defects.append(f"fast parser gave up: {type(exc).__name__}: {exc}")
        try:
            leaves, multipart = stdlib_leaves(raw, parsed.defects)
            parsed.parser = PARSER_STDLIB
        except Exception as exc2:
            parsed.defects.append(f"standard parser failed: {type(exc2).__name__}: {exc2}")
            parsed.parser = PARSER_HEADERS
            leaves, multipart = [], False
    parsed.parts = assign_kinds(leaves, multipart)
    return parsed


def _headers_only(raw: bytes, reason: str) -> ParsedMessage:
    """Last resort: read "Name: value" lines from the top of the message with a regex."""
    parsed = ParsedMessage(header_end=0, headers=[], parser=PARSER_HEADERS, defects=[reason])
    try:
        header_end, _ = find_header_end(raw, 0, min(len(raw), _MINIMAL_HEADER_LIMIT))
        parsed.header_end = header_end
        for match in _MINIMAL_HEADER.finditer(raw, 0, header_end):
            value = re.sub(rb"\r?\n(?=[ \t])", b"", match.group(2)).rstrip(b"\r\n")
            name = match.group(1).decode("ascii", "replace")
            parsed.headers.append((name, decode_words(value.decode("utf-8", "replace"))))
        lookup = {name.lower(): value for name, value in reversed(parsed.headers)}
        parsed.subject = lookup.get("subject", "")
        parsed.message_id = lookup.get("message-id", "").strip().strip("<>")
    except Exception as exc:
        parsed.defects.append(f"header reader failed: {type(exc).__name__}: {exc}")
    return parsed
