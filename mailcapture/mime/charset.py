"""Bytes to text with a declared charset that may be missing, misspelled or hostile."""

from __future__ import annotations

import codecs

FALLBACK_CHARSET = "utf-8"

# Labels seen in mail that Python does not know, or knows as a narrower charset than senders mean.
_ALIASES = {
    "": FALLBACK_CHARSET,
    "us-ascii": FALLBACK_CHARSET,  # 8-bit text is routinely labelled us-ascii
    "ascii": FALLBACK_CHARSET,
    "ansi_x3.4-1968": FALLBACK_CHARSET,
    "unknown-8bit": FALLBACK_CHARSET,
    "x-unknown": FALLBACK_CHARSET,
    "unknown": FALLBACK_CHARSET,
    "default": FALLBACK_CHARSET,
    "utf8": FALLBACK_CHARSET,
    "iso-8859-1": "cp1252",  # as browsers do: the C1 range is almost always Windows-1252
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "tis-620": "cp874",
}

# Codecs Python lists as text encodings that are not character sets a sender could mean.
_REFUSED = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "palmos"})


def resolve_charset(charset: str) -> str:
    """A Python codec name for a mail charset label; FALLBACK_CHARSET when unknown or unsafe."""
    label = charset.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return FALLBACK_CHARSET
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return FALLBACK_CHARSET
    return info.name


def decode_text(data: bytes | bytearray | memoryview, charset: str) -> str:
    """Decode body or header bytes; never raises (undecodable bytes become U+FFFD)."""
    codec = resolve_charset(charset or "")
    try:
        return bytes(data).decode(codec, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return bytes(data).decode(FALLBACK_CHARSET, errors="replace")
