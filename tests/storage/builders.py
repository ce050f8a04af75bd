"""Building NewMessage values by hand, with real MIME bytes and exact part ranges."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from mailcapture.mime.model import KIND_ATTACHMENT, KIND_INLINE, KIND_TEXT, Address
from mailcapture.storage.base import NewMessage, NewPart, PartRecord

BASE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
Inspect = Callable[..., list[tuple[Any, ...]]]  # the inspect_db fixture: query the file directly


@dataclass
class Body:
    """One leaf part to put in a message."""

    payload: bytes
    encoding: str = "base64"
    kind: str = KIND_ATTACHMENT
    content_type: str = "application/octet-stream"
    filename: str = ""
    content_id: str = ""
    fallback: bool = False  # give the part as decoded ``data`` (no range)
    encoded: bytes | None = None  # the body as written in the message (default: ``encode(payload, encoding)``)


def encode(payload: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(payload).replace(b"\n", b"\r\n")
    if encoding == "quoted-printable":
        return binascii.b2a_qp(payload)
    return payload


def record(part_id: str, body: Body) -> PartRecord:
    return PartRecord(
        part_id=part_id, kind=body.kind, content_type=body.content_type, charset="", filename=body.filename,
        content_id=body.content_id, disposition="attachment" if body.kind == KIND_ATTACHMENT else "inline",
        size=len(body.payload), md5=hashlib.md5(body.payload).hexdigest(),
        sha1=hashlib.sha1(body.payload).hexdigest(), sha256=hashlib.sha256(body.payload).hexdigest(),
    )


@dataclass
class Spec:
    subject: str = "hello"
    from_: Address | None = field(default_factory=lambda: Address("Alice", "alice@example.com"))
    to: list[Address] = field(default_factory=lambda: [Address("Bob", "bob@example.com")])
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    message_id: str = "m1@example.com"
    text: str = "plain body"
    bodies: list[Body] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created: datetime = BASE_TIME
    filler: bytes = b""  # extra bytes in a preamble, to make big messages


def build(spec: Spec) -> NewMessage:
    header = (
        f"From: {spec.from_.address if spec.from_ else ''}\r\nSubject: {spec.subject}\r\n"
        f"Message-ID: <{spec.message_id}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n"
    ).encode()
    raw = bytearray(header + spec.filler)
    parts: list[NewPart] = []
    leaves = [Body(spec.text.encode(), "7bit", KIND_TEXT, "text/plain"), *spec.bodies]
    for index, body in enumerate(leaves, start=1):
        raw += (f"\r\n--BOUNDARY\r\nContent-Type: {body.content_type}\r\n"
                f"Content-Transfer-Encoding: {body.encoding}\r\n\r\n").encode()
        start = len(raw)
        raw += encode(body.payload, body.encoding) if body.encoded is None else body.encoded
        rec = record(str(index), body)
        if body.fallback:
            parts.append(NewPart(rec, body.encoding, -1, -1, data=body.payload))
        else:
            parts.append(NewPart(rec, body.encoding, start, len(raw)))
    raw += b"\r\n--BOUNDARY--\r\n"
    addresses = [spec.from_] if spec.from_ else []
    words = " ".join(f"{a.name} {a.address}" for a in addresses + spec.to + spec.cc + spec.bcc + spec.reply_to)
    names = " ".join(b.filename for b in spec.bodies)
    return NewMessage(
        raw=bytes(raw), created=spec.created, message_id=spec.message_id, from_=spec.from_, to=spec.to,
        cc=spec.cc, bcc=spec.bcc, reply_to=spec.reply_to, return_path=spec.from_.address if spec.from_ else "",
        subject=spec.subject, date=spec.created.astimezone(timezone(timedelta(hours=2))), username="",
        tags=spec.tags, snippet=spec.text[:50],
        search_text=f"{words} {spec.subject} {names} {spec.text}".lower(), header_end=len(header), parts=parts,
    )


def attachment(payload: bytes, *, filename: str = "file.bin", encoding: str = "base64",
               kind: str = KIND_ATTACHMENT, fallback: bool = False) -> Body:
    return Body(payload, encoding, kind, "application/octet-stream", filename,
                "cid1" if kind == KIND_INLINE else "", fallback)
