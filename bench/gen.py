"""Deterministic benchmark messages.

* ``large_message(index)``: a ~37.5 MB multipart/mixed message: a multipart/alternative text + HTML body and five
  base64 attachments (a compressible CSV, a PDF-like file of text streams and random "images", and three random
  blobs: JPEG-like, PNG-like and a zip-like 5th attachment, the one the fetch benchmark downloads).
  Every index gives different attachment bytes (rotations of one deterministic pool), so a store that
  de-duplicates identical attachments gets no unfair advantage, while all messages have the same size and
  compressibility.
* ``small_message(index)``: a ~5 kB text message with a unique Message-ID.

Run as a script to write messages to files: ``python bench/gen.py --out DIR [--large N] [--small N]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SEED = 20261122
LARGE_TARGET_BYTES = 37_500_000
SMALL_TARGET_BYTES = 5_000
ATTACHMENT_COUNT = 5
B64_LINE = 76  # RFC 2045 line length
BOUNDARY_MIXED = "=_bench_mixed_7d3f1c"
BOUNDARY_ALT = "=_bench_alt_51a9e2"
TEXT_BODY_BYTES = 120_000
HTML_BODY_BYTES = 240_000
# Lines starting with "." so that the client's dot-stuffing and the server's unstuffing are exercised.
DOT_LINES = b"\r\n.\r\n..\r\n.leading dot line\r\n...three dots\r\nend of dot lines"
SENDER = "bench-sender@example.test"
RECIPIENTS = ("bench-rcpt@example.test",)

_WORDS = (
    "invoice order shipment customer account balance payment delivery status report quarterly summary "
    "alpha beta gamma delta epsilon zeta theta lambda sigma omega north south east west total amount "
    "product service support ticket priority normal urgent closed open pending review approved rejected"
).split()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class LargeMessage:
    raw: bytes  # CRLF line endings, not dot-stuffed, no terminating "."
    attachments: tuple[Attachment, ...]


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.encodebytes(data)  # 76-char lines, LF endings, fast C implementation
    return encoded.replace(b"\n", b"\r\n")


def _encoded_size(decoded: int) -> int:
    chars = 4 * ((decoded + 2) // 3)
    lines = (chars + B64_LINE - 1) // B64_LINE
    return chars + 2 * lines


def _decoded_for_encoded(encoded: int) -> int:
    """Largest decoded size (a multiple of 57, one full line) whose base64 form fits ``encoded`` bytes."""
    full_lines = encoded // (B64_LINE + 2)
    return full_lines * 57


def _text(rng: random.Random, size: int, line_words: int = 12) -> bytes:
    words = rng.choices(_WORDS, k=size // 6 + 16)
    lines = [" ".join(words[i : i + line_words]) for i in range(0, len(words), line_words)]
    return "\r\n".join(lines).encode("ascii")[:size]


def _csv(rng: random.Random, size: int) -> bytes:
    rows = []
    total = 0
    row_id = 0
    while total < size:
        row = f"{row_id},{rng.choice(_WORDS)},{rng.choice(_WORDS)},{rng.randrange(100000)}.{rng.randrange(100):02d}\r\n"
        rows.append(row)
        total += len(row)
        row_id += 1
    return "".join(rows).encode("ascii")[:size]


def _pdf_like(rng: random.Random, size: int) -> bytes:
    """A PDF-shaped file: text content streams alternating with random (image-like) streams."""
    parts = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
    total = len(parts[0])
    obj = 1
    while total < size:
        if obj % 2:
            body = _text(rng, 64_000)
        else:
            body = rng.randbytes(96_000)
        chunk = b"%d 0 obj\n<< /Length %d >>\nstream\n" % (obj, len(body)) + body + b"\nendstream\nendobj\n"
        parts.append(chunk)
        total += len(chunk)
        obj += 1
    return (b"".join(parts)[: size - 6]) + b"\n%%EOF"


@lru_cache(maxsize=1)
def _pool(attachment_size: int) -> tuple[bytes, ...]:
    rng = random.Random(SEED)
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(attachment_size - 11)
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(attachment_size - 8)
    zipblob = b"PK\x03\x04" + rng.randbytes(attachment_size - 4)
    return (
        _csv(rng, attachment_size),
        _pdf_like(rng, attachment_size),
        jpeg,
        png,
        zipblob,
    )


_ATTACHMENT_META = (
    ("report-{i}.csv", "text/csv"),
    ("document-{i}.pdf", "application/pdf"),
    ("photo-{i}.jpg", "image/jpeg"),
    ("screenshot-{i}.png", "image/png"),
    ("archive-{i}.zip", "application/zip"),
)


def _rotate(data: bytes, index: int, salt: int) -> bytes:
    """Different bytes for each message index; keeps the file's magic header in place."""
    if index == 0:
        return data
    head = 16
    body = data[head:]
    shift = (index * 7_919 + salt * 104_729) % len(body)
    return data[:head] + body[shift:] + body[:shift]


def _headers(subject: str, index: int, content_type: str) -> bytes:
    return (
        f"From: Bench Sender <{SENDER}>\r\n"
        f"To: Bench Recipient <{RECIPIENTS[0]}>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Sun, 22 Nov 2026 10:00:{index % 60:02d} +0000\r\n"
        f"Message-ID: <bench-{subject.split()[0].lower()}-{index}@mailcapture.bench>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    ).encode("ascii")


def large_message(index: int, target_bytes: int = LARGE_TARGET_BYTES) -> LargeMessage:
    """The ``index``-th large message: about ``target_bytes`` bytes, deterministic."""
    rng = random.Random(SEED + 1)
    text = _text(rng, TEXT_BODY_BYTES) + DOT_LINES
    html_inner = _text(rng, HTML_BODY_BYTES - 200).replace(b"\r\n", b"</p>\r\n<p>")
    html = b"<!DOCTYPE html>\r\n<html><body>\r\n<p>" + html_inner + b"</p>\r\n</body></html>"
    head = _headers(f"Large benchmark message {index}", index, f'multipart/mixed; boundary="{BOUNDARY_MIXED}"')
    body_part = (
        f"--{BOUNDARY_MIXED}\r\n"
        f'Content-Type: multipart/alternative; boundary="{BOUNDARY_ALT}"\r\n\r\n'
        f"--{BOUNDARY_ALT}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + text + (
        f"\r\n--{BOUNDARY_ALT}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + html + f"\r\n--{BOUNDARY_ALT}--\r\n".encode("ascii")
    overhead = len(head) + 2 + len(body_part) + ATTACHMENT_COUNT * 220 + 64
    per_attachment = _decoded_for_encoded((target_bytes - overhead) // ATTACHMENT_COUNT)
    pool = _pool(per_attachment)
    attachments = []
    chunks = [head, b"\r\n", body_part]
    for slot, ((name, ctype), data) in enumerate(zip(_ATTACHMENT_META, pool)):
        att = Attachment(name.format(i=index), ctype, _rotate(data, index, slot))
        attachments.append(att)
        chunks.append(
            (
                f"--{BOUNDARY_MIXED}\r\n"
                f'Content-Type: {ctype}; name="{att.filename}"\r\n'
                f'Content-Disposition: attachment; filename="{att.filename}"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n"
            ).encode("ascii")
        )
        chunks.append(_b64_lines(att.data))
    chunks.append(f"--{BOUNDARY_MIXED}--\r\n".encode("ascii"))
    return LargeMessage(b"".join(chunks), tuple(attachments))


def small_message(index: int, target_bytes: int = SMALL_TARGET_BYTES) -> bytes:
    """The ``index``-th small (~5 kB) plain-text message."""
    head = _headers(f"Small benchmark message {index}", index, "text/plain; charset=utf-8")
    head += b"Content-Transfer-Encoding: 7bit\r\n\r\n"
    rng = random.Random(SEED + 2 + index)
    body = _text(rng, max(0, target_bytes - len(head) - 2))
    return head + body + b"\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory to write .eml files into")
    parser.add_argument("--large", type=int, default=1, help="number of large messages")
    parser.add_argument("--small", type=int, default=1, help="number of small messages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.large):
        msg = large_message(i)
        (args.out / f"large-{i}.eml").write_bytes(msg.raw)
        print(f"large-{i}.eml {len(msg.raw)} bytes; attachments: " + ", ".join(
            f"{a.filename} {len(a.data)} B sha256={a.sha256[:12]}" for a in msg.attachments))
    for i in range(args.small):
        raw = small_message(i)
        (args.out / f"small-{i}.eml").write_bytes(raw)
        print(f"small-{i}.eml {len(raw)} bytes")


if __name__ == "__main__":
    main()
