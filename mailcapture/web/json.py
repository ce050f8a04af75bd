"""Mailpit-shaped JSON of storage records: pure functions, no I/O.

Field names and shapes follow Mailpit's API v1 (PascalCase), so clients written for Mailpit work
unchanged. Our own extras (``PreviewID``, ``PreviewURL``) are additions clients ignore.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from mailcapture.mime.model import KIND_ATTACHMENT, KIND_INLINE, Address
from mailcapture.storage.base import MessageDetail, MessageSummary, Page, PartRecord

JSON = dict[str, Any]

SNIPPET_MAX = 250  # Mailpit: at most 250 characters of text
PREVIEW_PREFIX = "/preview/"


def rfc3339(dt: datetime) -> str:
    """RFC 3339 with a millisecond fraction; UTC written as ``Z`` (like Go's time encoding)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    text = dt.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def address(addr: Address | None) -> JSON | None:
    if addr is None:
        return None
    return {"Name": addr.name, "Address": addr.address}


def addresses(addrs: Iterable[Address]) -> list[JSON]:
    return [{"Name": a.name, "Address": a.address} for a in addrs]


def summary(msg: MessageSummary) -> JSON:
    return {
        "ID": msg.id,
        "MessageID": msg.message_id,
        "Read": msg.read,
        "From": address(msg.from_),
        "To": addresses(msg.to),
        "Cc": addresses(msg.cc),
        "Bcc": addresses(msg.bcc),
        "ReplyTo": addresses(msg.reply_to),
        "Subject": msg.subject,
        "Created": rfc3339(msg.created),
        "Username": msg.username,
        "Tags": list(msg.tags),
        "Size": msg.size,
        "Attachments": msg.attachments,
        "Snippet": msg.snippet[:SNIPPET_MAX],
    }


def page(result: Page, start: int, tags: Sequence[str], unread_matched: int | None = None) -> JSON:
    """The list/search response. ``unread_matched`` is the unread count among the matches of a
    search (None for the plain list, where it equals the store's unread count)."""
    return {
        "total": result.total,
        "unread": result.unread,
        "count": len(result.messages),
        "messages_count": result.matched,
        "messages_unread": result.unread if unread_matched is None else unread_matched,
        "start": start,
        "tags": list(tags),
        "messages": [summary(m) for m in result.messages],
    }


def part(rec: PartRecord) -> JSON:
    return {
        "PartID": rec.part_id,
        "FileName": rec.filename or rec.content_id,
        "ContentType": rec.content_type,
        "ContentID": rec.content_id,
        "Size": rec.size,
        "Checksums": {"MD5": rec.md5, "SHA1": rec.sha1, "SHA256": rec.sha256},
        "PreviewID": rec.sha256,
        "PreviewURL": PREVIEW_PREFIX + rec.sha256,
    }


# List-Unsubscribe: "<mailto:...>, <https://...>" (RFC 2369); anything outside <> is an error.
_ANGLE = re.compile(r"<([^<>]*)>")
_ALLOWED_SCHEMES = ("mailto:", "http://", "https://")


def list_unsubscribe(header: str | None, header_post: str | None) -> JSON:
    value = (header or "").strip()
    links: list[str] = []
    errors: list[str] = []
    if value:
        for link in _ANGLE.findall(value):
            link = link.strip()
            if not link.lower().startswith(_ALLOWED_SCHEMES):
                errors.append(f"unsupported link {link!r}")
            links.append(link)
        leftover = _ANGLE.sub("", value).replace(",", "").strip()
        if leftover:
            errors.append("links must be enclosed in <>")
        elif not links:
            errors.append("no links found")
    return {
        "Header": value,
        "Links": links,
        "Errors": "; ".join(errors),
        "HeaderPost": (header_post or "").strip(),
    }


def message(
    detail: MessageDetail,
    text: str,
    html: str,
    unsubscribe: str | None = None,
    unsubscribe_post: str | None = None,
) -> JSON:
    """The full message. ``text``/``html`` are the decoded bodies ("" when absent)."""
    return {
        "ID": detail.id,
        "MessageID": detail.message_id,
        "From": address(detail.from_),
        "To": addresses(detail.to),
        "Cc": addresses(detail.cc),
        "Bcc": addresses(detail.bcc),
        "ReplyTo": addresses(detail.reply_to),
        "ReturnPath": detail.return_path,
        "Subject": detail.subject,
        "ListUnsubscribe": list_unsubscribe(unsubscribe, unsubscribe_post),
        "Date": rfc3339(detail.date or detail.created),
        "Created": rfc3339(detail.created),
        "Tags": list(detail.tags),
        "Username": detail.username,
        "Read": detail.read,
        "Text": text,
        "HTML": html,
        "Size": detail.size,
        "Inline": [part(p) for p in detail.parts if p.kind == KIND_INLINE],
        "Attachments": [part(p) for p in detail.parts if p.kind == KIND_ATTACHMENT],
    }


# The name the service uses for "new" events.
summary_json = summary
