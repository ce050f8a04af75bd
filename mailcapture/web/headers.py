"""Reading a message's header block (the bytes before the first blank line), without the body."""

from __future__ import annotations

import re
from email.parser import HeaderParser
from email.policy import compat32

_FOLD = re.compile(r"\r?\n[ \t]+")
_TOKEN_CHARS = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def canonical_name(name: str) -> str:
    """Header name the way Go's net/textproto spells it (Mailpit's keys): ``Message-Id``,
    ``Content-Type``, ``X-Mailer``. Names with characters outside a token are kept as they are."""
    if not _TOKEN_CHARS.match(name):
        return name
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def parse_header_block(block: bytes) -> dict[str, list[str]]:
    """``{name: [values in order]}`` with names sorted; values unfolded and left undecoded
    (as Mailpit returns them). Bytes that are not UTF-8 become U+FFFD."""
    text = block.decode("utf-8", "replace")
    msg = HeaderParser(policy=compat32).parsestr(text, headersonly=True)
    out: dict[str, list[str]] = {}
    for name, value in msg.items():
        unfolded = _FOLD.sub(" ", str(value)).strip()
        out.setdefault(canonical_name(name), []).append(unfolded)
    return dict(sorted(out.items()))


def first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(canonical_name(name))
    return values[0] if values else None
