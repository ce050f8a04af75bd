"""Converting between the contract's dataclasses and column values."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from mailcapture.mime.model import Address
from mailcapture.storage.base import MessageDetail, MessageSummary, PartRecord

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MICROSECOND = timedelta(microseconds=1)
ID_BYTES = 16  # 22 URL-safe characters, like Mailpit's IDs

SUMMARY_COLUMNS = (
    "m.pk, m.id, m.message_id, m.read, m.from_json, m.to_json, m.cc_json, m.bcc_json, m.reply_to_json, "
    "m.subject, m.created, m.username, m.size, m.attachments, m.snippet"
)
DETAIL_COLUMNS = SUMMARY_COLUMNS + ", m.return_path, m.date, m.header_end"
PART_COLUMNS = (
    "part_id, kind, content_type, charset, filename, content_id, disposition, size, md5, sha1, sha256"
)


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def address_json(address: Address | None) -> str | None:
    return None if address is None else json.dumps([address.name, address.address], ensure_ascii=False)


def addresses_json(addresses: list[Address]) -> str:
    return json.dumps([[a.name, a.address] for a in addresses], ensure_ascii=False)


def addresses_search(addresses: list[Address]) -> str:
    return ", ".join(f"{a.name} <{a.address}>" if a.name else a.address for a in addresses).lower()


def _address(value: Any) -> Address:
    return Address(str(value[0]), str(value[1]))


def _addresses(text: str) -> list[Address]:
    return [_address(v) for v in json.loads(text)]


def summary(row: tuple[Any, ...], tags: list[str]) -> MessageSummary:
    return MessageSummary(**_summary_fields(row, tags))


def _summary_fields(row: tuple[Any, ...], tags: list[str]) -> dict[str, Any]:
    (_pk, id_, message_id, read, from_json, to_json, cc_json, bcc_json, reply_json,
     subject, created, username, size, attachments, snippet) = row[:15]
    return {
        "id": id_, "message_id": message_id, "read": bool(read),
        "from_": _address(json.loads(from_json)) if from_json else None,
        "to": _addresses(to_json), "cc": _addresses(cc_json), "bcc": _addresses(bcc_json),
        "reply_to": _addresses(reply_json), "subject": subject, "created": from_micros(created),
        "username": username, "tags": tags, "size": size, "attachments": attachments, "snippet": snippet,
    }


def detail(row: tuple[Any, ...], tags: list[str], parts: list[PartRecord]) -> MessageDetail:
    return_path, date, header_end = row[15:18]
    return MessageDetail(
        **_summary_fields(row, tags), return_path=return_path,
        date=datetime.fromisoformat(date) if date else None, header_end=header_end, parts=parts,
    )


def part_record(row: tuple[Any, ...]) -> PartRecord:
    return PartRecord(*row[:11])
