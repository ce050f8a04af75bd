"""Mailpit's search syntax, parsed into an engine-independent query (every term must match).

Free words match addresses, subject, text and attachment names. Filters: ``from: to: cc: bcc:
reply-to: addressed: subject: message-id: tag: is:read is:unread is:tagged has:attachment
has:inline after: before: larger: smaller:``; a leading ``-`` or ``!`` negates; quotes group words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailcapture.config import parse_size
from mailcapture.errors import BadRequest

TEXT_FIELDS = frozenset({"from", "to", "cc", "bcc", "reply-to", "addressed", "subject", "message-id", "tag"})
FLAG_VALUES = {"is": frozenset({"read", "unread", "tagged"}), "has": frozenset({"attachment", "attachments", "inline"})}


@dataclass(frozen=True, slots=True)
class Term:
    field: str  # "text" (free words), one of TEXT_FIELDS, "is", "has", "after", "before", "larger", "smaller"
    value: str | int | datetime
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]
    source: str = ""


_TOKEN = re.compile(r'\s*([-!]?)(?:([a-zA-Z-]+):)?("(?:[^"]*)"?|\S+)?')


def _tokens(text: str) -> list[tuple[bool, str | None, str]]:
    out: list[tuple[bool, str | None, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        neg, name, value = m.group(1), m.group(2), m.group(3) or ""
        if value.startswith('"'):
            value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        if name is not None and name.lower() not in TEXT_FIELDS | set(FLAG_VALUES) | {
            "after", "before", "larger", "smaller"
        }:
            # not a filter we know (e.g. "re:"): treat the whole token as a free word
            value, name = f"{name}:{value}", None
        if not value and name is None:
            continue
        out.append((bool(neg), name.lower() if name else None, value))
    return out


def _parse_date(value: str, tz: tzinfo) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%d-%b-%Y", "%d %b %Y"):
        try:
            dt = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return dt.replace(tzinfo=tz)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"invalid date {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def parse(text: str, tz_name: str = "") -> Query:
    """Parse a search string. Raises :class:`BadRequest` for a filter with a bad value."""
    tz: tzinfo = timezone.utc
    if tz_name:
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(f"unknown time zone {tz_name!r}") from None
    terms: list[Term] = []
    for neg, name, value in _tokens(text):
        if name is None:
            terms.append(Term("text", value.lower(), neg))
        elif name in TEXT_FIELDS:
            terms.append(Term(name, value.lower(), neg))
        elif name in FLAG_VALUES:
            v = value.lower()
            if v not in FLAG_VALUES[name]:
                raise BadRequest(f"unknown {name}:{value} (use {', '.join(sorted(FLAG_VALUES[name]))})")
            terms.append(Term(name, "attachment" if v == "attachments" else v, neg))
        elif name in ("after", "before"):
            terms.append(Term(name, _parse_date(value, tz), neg))
        else:  # larger / smaller
            try:
                terms.append(Term(name, parse_size(value), neg))
            except ValueError as exc:
                raise BadRequest(f"invalid {name}:{value}: {exc}") from None
    return Query(tuple(terms), text)
