"""From received bytes to what the store keeps: parse once, decode and hash each part once.

``prepare`` is CPU work (decoding, hashing): callers run it in a thread, never on the event loop.
It never raises on bad input: a message the parser cannot understand is still stored, raw, with
best-effort fields.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from email.utils import parseaddr

from mailcapture import mime
from mailcapture.mime.model import KIND_ATTACHMENT, KIND_HTML, KIND_TEXT, Address, MimePart, ParsedMessage
from mailcapture.storage.base import NewMessage, NewPart, PartRecord

SNIPPET_LENGTH = 250
MAX_SEARCH_TEXT = 1024 * 1024  # characters of body text kept searchable per message
MAX_TAG_LENGTH = 100
HASH_CHUNK = 1024 * 1024
# Hashing releases the GIL: parts are hashed on this small pool while the next part is decoded.
# At most HASH_AHEAD decoded parts wait for their hashes, which bounds the memory this costs.
HASH_AHEAD = 2
PARALLEL_HASH_MIN = 256 * 1024
# MD5 and SHA-1 (Mailpit's "Checksums") of parts this big are computed when first asked for, not at
# ingest: they cost ~45 ms per 27 MB of attachments and most captured mail is never opened.
LAZY_CHECKSUMS_MIN = 256 * 1024
# Base64 attachments this big (encoded) are hashed piece by piece, never decoded whole at ingest: a
# 5 MB decoded buffer is a fresh mmap and ~1,300 page faults, which cost more than the decoding.
PIECEWISE_MIN = 1024 * 1024
_hash_pool = ThreadPoolExecutor(HASH_AHEAD, thread_name_prefix="hash")

_TAG_UNSAFE = re.compile(r"[^\w .:/@-]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def clean_tag(raw: str) -> str:
    """Mailpit-like tag clean-up: printable word characters, spaces collapsed, bounded length."""
    return _SPACES.sub(" ", _TAG_UNSAFE.sub("", raw)).strip()[:MAX_TAG_LENGTH]


def _plus_tag(address: str) -> str:
    local = address.rpartition("@")[0] if "@" in address else ""
    if "+" not in local:
        return ""
    return clean_tag(local.split("+", 1)[1])


def extract_tags(parsed: ParsedMessage, rcpt_tos: list[str]) -> list[str]:
    """Tags from ``X-Tags`` (comma separated) and plus-addressing, unique without regard to case."""
    found: list[str] = []
    for name, value in parsed.headers:
        if name.lower() == "x-tags":
            found.extend(clean_tag(t) for t in value.split(","))
    addresses = [a.address for a in parsed.to + parsed.cc] + [parseaddr(r)[1] for r in rcpt_tos]
    found.extend(_plus_tag(a) for a in addresses)
    seen: set[str] = set()
    tags: list[str] = []
    for tag in found:
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags


def _bcc(parsed: ParsedMessage, rcpt_tos: list[str]) -> list[Address]:
    """Envelope recipients not named in To/Cc were blind copies (as Mailpit shows them)."""
    named = {a.address.lower() for a in parsed.to + parsed.cc + parsed.bcc}
    extra = []
    for rcpt in rcpt_tos:
        addr = parseaddr(rcpt)[1] or rcpt
        if addr and addr.lower() not in named:
            named.add(addr.lower())
            extra.append(Address("", addr))
    return parsed.bcc + extra


def _part_bytes(raw: bytes, part: MimePart) -> bytes:
    if part.data is not None:
        return part.data
    return mime.decode_range(raw, part.start, part.end, part.encoding)


Digests = tuple[int, str, str, str]  # decoded size, md5, sha1, sha256


def _digests(data: bytes) -> Digests:
    """Size and ``(md5, sha1, sha256)``; for a part of :data:`LAZY_CHECKSUMS_MIN` bytes or more only
    SHA-256 (its preview id): MD5 and SHA-1 stay ``""`` until the message is first read (``Store.detail``)."""
    view = memoryview(data)
    sha256 = hashlib.sha256()
    if len(view) >= LAZY_CHECKSUMS_MIN:
        for offset in range(0, len(view), HASH_CHUNK):
            sha256.update(view[offset : offset + HASH_CHUNK])
        return len(view), "", "", sha256.hexdigest()
    md5, sha1 = hashlib.md5(view, usedforsecurity=False), hashlib.sha1(view, usedforsecurity=False)
    sha256.update(view)
    return len(view), md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest()


def _in_pieces(part: MimePart) -> bool:
    return (part.data is None and part.kind not in (KIND_TEXT, KIND_HTML)
            and part.end - part.start >= PIECEWISE_MIN
            and mime.normalize_encoding(part.encoding) == mime.ENCODING_BASE64)


def _digests_in_pieces(raw: bytes, part: MimePart) -> Digests:
    """SHA-256 and size of a big base64 part, decoded a piece at a time (see
    ``mime.iter_decode_regular_base64``); an irregular part is decoded whole instead."""
    sha256 = hashlib.sha256()
    size = 0
    try:
        for piece in mime.iter_decode_regular_base64(raw, part.start, part.end):
            sha256.update(piece)
            size += len(piece)
    except mime.IrregularBase64:
        return _digests(_part_bytes(raw, part))
    return size, "", "", sha256.hexdigest()


def _snippet(text: str) -> str:
    return _SPACES.sub(" ", text[: SNIPPET_LENGTH * 8]).strip()[:SNIPPET_LENGTH]


def _address_text(addresses: list[Address]) -> str:
    return " ".join(f"{a.name} {a.address}" for a in addresses)


def prepare(raw: bytes, mail_from: str, rcpt_tos: list[str], username: str,
            now: datetime | None = None) -> NewMessage:
    """Parse ``raw`` and build the :class:`NewMessage` to store. Never raises on bad input."""
    parsed = mime.parse(raw)
    parts: list[NewPart] = []
    text = html_text = ""
    pending: deque[tuple[MimePart, Future[Digests] | Digests]] = deque()

    def finish_one() -> None:
        part, digests = pending.popleft()
        size, md5, sha1, sha256 = digests.result() if isinstance(digests, Future) else digests
        record = PartRecord(
            part_id=part.part_id, kind=part.kind, content_type=part.content_type, charset=part.charset,
            filename=part.filename, content_id=part.content_id, disposition=part.disposition,
            size=size, md5=md5, sha1=sha1, sha256=sha256,
        )
        parts.append(NewPart(record, part.encoding, part.start, part.end, part.data))

    html_part: tuple[bytes, str] | None = None  # made into text only when there is no text part
    for part in parsed.parts:
        if _in_pieces(part):  # a big attachment: hashed from its encoded bytes, never held decoded
            pending.append((part, _hash_pool.submit(_digests_in_pieces, raw, part)))
        else:
            data = _part_bytes(raw, part)
            if part.kind == KIND_TEXT and not text:
                text = mime.decode_text(data, part.charset)
            elif part.kind == KIND_HTML and html_part is None:
                html_part = (data, part.charset)
            if len(data) >= PARALLEL_HASH_MIN:
                pending.append((part, _hash_pool.submit(_digests, data)))
            else:
                pending.append((part, _digests(data)))
            del data
        while len(pending) > HASH_AHEAD:
            finish_one()
    while pending:
        finish_one()
    if not text and html_part is not None:
        html_text = mime.html_to_text(mime.decode_text(*html_part))
    del html_part
    body_text = text or html_text
    bcc = _bcc(parsed, rcpt_tos)
    file_names = " ".join(p.record.filename for p in parts if p.record.kind != KIND_TEXT and p.record.kind != KIND_HTML)
    search_text = " ".join((
        _address_text([parsed.from_] if parsed.from_ else []), _address_text(parsed.to), _address_text(parsed.cc),
        _address_text(bcc), _address_text(parsed.reply_to), parsed.subject, file_names,
        body_text[:MAX_SEARCH_TEXT],
    )).lower()
    return NewMessage(
        raw=raw,
        created=now or datetime.now(timezone.utc),
        message_id=parsed.message_id,
        from_=parsed.from_,
        to=parsed.to,
        cc=parsed.cc,
        bcc=bcc,
        reply_to=parsed.reply_to,
        return_path=parsed.return_path or mail_from,
        subject=parsed.subject,
        date=parsed.date,
        username=username,
        tags=extract_tags(parsed, rcpt_tos),
        snippet=_snippet(body_text),
        search_text=search_text,
        header_end=parsed.header_end,
        parts=parts,
    )


def attachment_count(message: NewMessage) -> int:
    return sum(1 for p in message.parts if p.record.kind == KIND_ATTACHMENT)
