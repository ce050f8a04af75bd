"""Builders for test messages (the standard library's email package, or hand-made bytes)."""

from __future__ import annotations

import binascii
import email.policy
from email.message import EmailMessage

from mailcapture.mime import ParsedMessage, decode

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def crlf(text: str) -> bytes:
    """Hand-written message text with CRLF line endings."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def base(subject: str = "test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<id-1@example.com>"
    return msg


def alternative_with_attachments() -> EmailMessage:
    msg = base("alternative + attachments")
    msg.set_content("Plain body\nwith two lines\n")
    msg.add_alternative("<p>HTML body</p>", subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="picture.png")
    return msg


def related_with_cid_images() -> EmailMessage:
    msg = base("related")
    msg.set_content("text version")
    msg.add_alternative('<p>see <img src="cid:img1@x"></p>', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(PNG, maintype="image", subtype="png", cid="<img1@x>")
    html.add_related(PNG[::-1], maintype="image", subtype="png", cid="<img2@x>", filename="second.png")
    msg.add_attachment(b"col1,col2\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    return msg


def non_ascii_bodies() -> EmailMessage:
    msg = base("non-ascii")
    msg.set_content("Grüße aus Köln — " * 20, cte="quoted-printable")
    msg.add_alternative("<p>日本語のテキスト</p>" * 10, subtype="html", cte="base64")
    msg.add_attachment("naïve text file\n", filename="naïve.txt")
    return msg


def with_forwarded_message() -> EmailMessage:
    msg = base("forward")
    msg.set_content("see attached")
    inner = base("inner message")
    inner.set_content("inner body")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="inner.pdf")
    msg.add_attachment(inner)
    return msg


ALL_BUILDERS = (alternative_with_attachments, related_with_cid_images, non_ascii_bodies, with_forwarded_message)


def as_crlf(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.SMTP)


def as_lf(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.default)


def part_bytes(raw: bytes, parsed: ParsedMessage, part_id: str) -> bytes:
    """Decoded bytes of one part, whichever parser produced it."""
    for part in parsed.parts:
        if part.part_id == part_id:
            if part.data is not None:
                return part.data
            return decode(raw[part.start : part.end], part.encoding)
    raise KeyError(part_id)


def big_message(attachments: int = 5, encoded_size: int = 7_500_000) -> bytes:
    """A text body, an HTML body and base64 attachments of ``encoded_size`` bytes each."""
    raw_size = encoded_size * 57 // 78
    blob = binascii.b2a_base64(bytes(range(256)) * (raw_size // 256), newline=False)
    lines = b"\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    head = crlf(
        "From: a@example.com\nTo: b@example.com\nSubject: big\n"
        'Content-Type: multipart/mixed; boundary="===mixed==="\n\n'
        '--===mixed===\nContent-Type: multipart/alternative; boundary="===alt==="\n\n'
        "--===alt===\nContent-Type: text/plain; charset=utf-8\n\n" + "text body line\n" * 100 + "--===alt===\n"
        "Content-Type: text/html; charset=utf-8\n\n" + "<p>html body</p>\n" * 100 + "--===alt===--\n"
    )
    parts = [head]
    for index in range(attachments):
        parts.append(
            crlf(
                f'--===mixed===\nContent-Type: application/octet-stream; name="f{index}.bin"\n'
                f'Content-Disposition: attachment; filename="f{index}.bin"\nContent-Transfer-Encoding: base64\n\n'
            )
        )
        parts.append(lines + b"\r\n")
    parts.append(b"--===mixed===--\r\n")
    return b"".join(parts)
