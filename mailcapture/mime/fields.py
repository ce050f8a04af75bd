"""Top-level header fields of a message: addresses, date, identifiers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from .headers import decode_words
from .model import Address, ParsedMessage

_ANGLE = re.compile(r"<([^<>]*)>")
# getaddresses is a character-by-character Python parser: bound what it is given.
MAX_ADDRESS_FIELD = 256 * 1024
MAX_ADDRESSES = 10_000


def strip_angles(value: str) -> str:
    """``<id@host> (comment)`` -> ``id@host``; values without brackets are returned stripped."""
    match = _ANGLE.search(value)
    return (match.group(1) if match else value).strip()


def parse_addresses(values: list[str]) -> list[Address]:
    values = [value[:MAX_ADDRESS_FIELD] for value in values if value and value.strip()]
    if not values:
        return []
    try:
        pairs = getaddresses(values)
    except Exception:  # garbage in a header must not stop parsing
        pairs = []
    found = [
        Address(name=decode_words(name).strip(), address=decode_words(addr).strip())
        for name, addr in pairs[:MAX_ADDRESSES]
        if name or addr
    ]
    if not found:
        # Nothing address-like: keep the text so the message still shows who it claims to be from.
        found = [Address(name="", address=decode_words(value).strip()) for value in values]
    return found


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return when


def _all(msg: Message, name: str) -> list[str]:
    return [str(value) for value in msg.get_all(name, [])]


def _read_all(parsed: ParsedMessage, msg: Message) -> Iterator[tuple[str, Callable[[], None]]]:
    """One (field name, reader) per field; each reader stores its result on ``parsed``."""

    def headers() -> None:
        parsed.headers = [(name, decode_words(str(value))) for name, value in msg.items()]

    def identifiers() -> None:
        parsed.message_id = strip_angles(msg.get("Message-ID", ""))
        parsed.return_path = strip_angles(msg.get("Return-Path", ""))

    def subject() -> None:
        parsed.subject = decode_words(msg.get("Subject", "")).strip()

    def date() -> None:
        parsed.date = parse_date(msg.get("Date"))

    def senders() -> None:
        parsed.from_ = _first(parse_addresses(_all(msg, "From")))
        parsed.sender = _first(parse_addresses(_all(msg, "Sender")))

    def recipients() -> None:
        parsed.to = parse_addresses(_all(msg, "To"))
        parsed.cc = parse_addresses(_all(msg, "Cc"))
        parsed.bcc = parse_addresses(_all(msg, "Bcc"))
        parsed.reply_to = parse_addresses(_all(msg, "Reply-To"))

    yield from (
        ("headers", headers),
        ("identifiers", identifiers),
        ("subject", subject),
        ("date", date),
        ("senders", senders),
        ("recipients", recipients),
    )


def fill_fields(parsed: ParsedMessage, msg: Message) -> None:
    """Copy header fields from ``msg`` into ``parsed``; a bad field becomes a defect, not an error."""
    for name, read in _read_all(parsed, msg):
        try:
            read()
        except Exception as exc:  # garbage in one header must not hide the others
            parsed.defects.append(f"header {name}: {type(exc).__name__}: {exc}")


def _first(addresses: list[Address]) -> Address | None:
    return addresses[0] if addresses else None
