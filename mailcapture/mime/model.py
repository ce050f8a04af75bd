"""What the MIME parser gives: plain data, no I/O. Offsets point into the raw message bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Address:
    name: str
    address: str


# MimePart.kind values
KIND_TEXT = "text"  # the message's text/plain body
KIND_HTML = "html"  # the message's text/html body
KIND_ATTACHMENT = "attachment"  # listed under Mailpit's "Attachments"
KIND_INLINE = "inline"  # listed under Mailpit's "Inline" (e.g. cid: images of the HTML)


@dataclass(slots=True)
class MimePart:
    """One leaf part. Its encoded body is ``raw[start:end]`` (transfer-encoded with ``encoding``),
    except when the parser could not locate it in the raw bytes: then ``data`` holds the decoded
    bytes and ``start == end == -1``."""

    part_id: str  # MIME path, Mailpit style: "1", "2", "2.1"
    kind: str  # one of KIND_*
    content_type: str  # lower-case "type/subtype"; "application/octet-stream" when unknown
    charset: str = ""  # lower-case charset parameter, "" when none
    filename: str = ""  # decoded file name ("" when none)
    content_id: str = ""  # without angle brackets
    disposition: str = ""  # "attachment", "inline" or ""
    encoding: str = "7bit"  # lower-case Content-Transfer-Encoding
    start: int = -1
    end: int = -1
    data: bytes | None = None


@dataclass(slots=True)
class ParsedMessage:
    """Best-effort view of one message. Parsing never raises: problems go to ``defects``."""

    header_end: int  # raw[:header_end] is the top-level header block (with its blank line)
    headers: list[tuple[str, str]]  # (name, decoded value) in order, as received
    message_id: str = ""  # without angle brackets
    subject: str = ""
    date: datetime | None = None
    from_: Address | None = None
    sender: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    return_path: str = ""
    parts: list[MimePart] = field(default_factory=list)  # every leaf, bodies included, in order
    defects: list[str] = field(default_factory=list)
    parser: str = "fast"  # "fast", "stdlib" or "headers" (only headers could be read)

    def first(self, kind: str) -> MimePart | None:
        for part in self.parts:
            if part.kind == kind:
                return part
        return None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None
